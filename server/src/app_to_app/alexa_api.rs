//! A client of the two Alexa APIs App-to-App linking calls with a user's
//! Amazon access token: `GET /v1/alexaApiEndpoint` (where the user's
//! account lives) and the skill enablement API
//! (`/v1/users/~current/skills/{skillId}/enablement`: `POST` enables the
//! skill and links the account, `GET` reads the status, `DELETE` disables).
//!
//! Like the LWA client: one pooled HTTPS client, connect and request
//! timeouts, no redirects (the user's Amazon token must not follow one) and
//! a response-size limit. A transient failure (connection error, timeout,
//! 429, 5xx) is retried a bounded number of times with a short backoff.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::SkillStage;

/// The largest Alexa API answer read; a longer one is refused.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The pause before the first retry; it doubles on each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Why an Alexa API call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AlexaApiError {
    /// Alexa refused the request (4xx other than the ones a caller decides on).
    #[error("Alexa answered {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Alexa's `message` (or the raw reason).
        message: String,
    },
    /// Alexa failed, or could not be reached, after every attempt.
    #[error("Alexa failed: {0}")]
    Unavailable(String),
    /// Alexa answered something this client cannot read.
    #[error("Alexa answered nonsense: {0}")]
    BadGateway(String),
}

impl AlexaApiError {
    /// Whether a later attempt could succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, AlexaApiError::Unavailable(_))
    }
}

/// The enablement of a skill for the user, as `GET` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enablement {
    /// `ENABLED`, `ENABLING`, …
    pub status: String,
    /// The account link, when the skill has one.
    #[serde(rename = "accountLink", default)]
    pub account_link: Option<AccountLink>,
}

impl Enablement {
    /// Enabled and its account linked: what App-to-App linking ends in.
    pub fn is_linked(&self) -> bool {
        self.status == "ENABLED"
            && self
                .account_link
                .as_ref()
                .is_some_and(|l| l.status == "LINKED")
    }
}

/// `accountLink` of an enablement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLink {
    /// `LINKED`, …
    pub status: String,
}

/// What `POST …/enablement` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableOutcome {
    /// 201: enabled and linked now.
    Created,
    /// 409: the skill was already enabled for this user.
    AlreadyEnabled,
}

#[derive(Deserialize)]
struct Endpoints {
    endpoints: Vec<String>,
}

#[derive(Deserialize)]
struct AlexaErrorBody {
    #[serde(default)]
    message: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnableRequest<'a> {
    stage: &'static str,
    account_link_request: AccountLinkRequest<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountLinkRequest<'a> {
    redirect_uri: &'a str,
    auth_code: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// One answer of the Alexa API.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// The Alexa API.
#[derive(Debug)]
pub struct AlexaApi {
    http: reqwest::Client,
    base: Url,
    max_attempts: u32,
}

impl AlexaApi {
    /// A client asking `base` for the user's endpoints.
    pub fn new(base: Url, timeout: Duration, max_attempts: u32) -> Result<AlexaApi, String> {
        let http = crate::outbound::client(reqwest::Client::builder(), timeout)
            .build()
            .map_err(|e| format!("failed to build the Alexa API HTTP client: {e}"))?;
        Ok(AlexaApi {
            http,
            base,
            max_attempts: max_attempts.max(1),
        })
    }

    /// `GET /v1/alexaApiEndpoint`: the API endpoints where the user's
    /// account may live, in Alexa's order.
    pub async fn endpoints(&self, amazon_token: &str) -> Result<Vec<Url>, AlexaApiError> {
        let url = join(&self.base, "/v1/alexaApiEndpoint")?;
        let answer = self
            .call(|| self.http.get(url.clone()).bearer_auth(amazon_token))
            .await?;
        if answer.status != 200 {
            return Err(rejected(answer));
        }
        let parsed: Endpoints = serde_json::from_slice(&answer.body)
            .map_err(|e| AlexaApiError::BadGateway(format!("unreadable endpoint list: {e}")))?;
        let endpoints: Vec<Url> = parsed
            .endpoints
            .iter()
            .filter_map(|e| endpoint_url(e, &self.base))
            .collect();
        if endpoints.is_empty() {
            return Err(AlexaApiError::BadGateway(format!(
                "no usable endpoint among {:?}",
                parsed.endpoints
            )));
        }
        Ok(endpoints)
    }

    /// `POST …/enablement`: enables the skill and links the account with
    /// our authorization code.
    pub async fn enable(
        &self,
        endpoint: &Url,
        amazon_token: &str,
        skill_id: &str,
        stage: SkillStage,
        redirect_uri: &str,
        auth_code: &str,
    ) -> Result<EnableOutcome, AlexaApiError> {
        let url = enablement_url(endpoint, skill_id)?;
        let body = EnableRequest {
            stage: stage.as_str(),
            account_link_request: AccountLinkRequest {
                redirect_uri,
                auth_code,
                kind: "AUTH_CODE",
            },
        };
        let answer = self
            .call(|| {
                self.http
                    .post(url.clone())
                    .bearer_auth(amazon_token)
                    .json(&body)
            })
            .await?;
        match answer.status {
            200 | 201 => Ok(EnableOutcome::Created),
            409 => Ok(EnableOutcome::AlreadyEnabled),
            _ => Err(rejected(answer)),
        }
    }

    /// `GET …/enablement`: the skill's status for the user; `None` when it
    /// is not enabled (404).
    pub async fn status(
        &self,
        endpoint: &Url,
        amazon_token: &str,
        skill_id: &str,
    ) -> Result<Option<Enablement>, AlexaApiError> {
        let url = enablement_url(endpoint, skill_id)?;
        let answer = self
            .call(|| self.http.get(url.clone()).bearer_auth(amazon_token))
            .await?;
        match answer.status {
            200 => serde_json::from_slice(&answer.body)
                .map(Some)
                .map_err(|e| AlexaApiError::BadGateway(format!("unreadable enablement: {e}"))),
            404 => Ok(None),
            _ => Err(rejected(answer)),
        }
    }

    /// `DELETE …/enablement`: disables the skill. `false` when it was not
    /// enabled (404).
    pub async fn disable(
        &self,
        endpoint: &Url,
        amazon_token: &str,
        skill_id: &str,
    ) -> Result<bool, AlexaApiError> {
        let url = enablement_url(endpoint, skill_id)?;
        let answer = self
            .call(|| self.http.delete(url.clone()).bearer_auth(amazon_token))
            .await?;
        match answer.status {
            200 | 204 => Ok(true),
            404 => Ok(false),
            _ => Err(rejected(answer)),
        }
    }

    /// Sends a request, retrying transient failures; any other answer is
    /// returned for the caller to judge.
    async fn call(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, AlexaApiError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let outcome = self.once(request()).await;
            let failure = match outcome {
                Ok(answer) if !is_transient_status(answer.status) => return Ok(answer),
                Ok(answer) => format!("HTTP {}", answer.status),
                Err(e @ (AlexaApiError::Rejected { .. } | AlexaApiError::BadGateway(_))) => {
                    return Err(e);
                }
                Err(AlexaApiError::Unavailable(detail)) => detail,
            };
            if attempt >= self.max_attempts {
                return Err(AlexaApiError::Unavailable(format!(
                    "{failure} (after {attempt} attempts)"
                )));
            }
            tracing::debug!(attempt, %failure, "Alexa API call failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }

    async fn once(&self, request: reqwest::RequestBuilder) -> Result<Answer, AlexaApiError> {
        let response = request
            .send()
            .await
            .map_err(|e| AlexaApiError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(AlexaApiError::BadGateway(format!(
                "HTTP {} redirect, not followed",
                status.as_u16()
            )));
        }
        let body = crate::outbound::read_limited(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                crate::outbound::BodyError::TooLarge(_) => AlexaApiError::BadGateway(e.to_string()),
                crate::outbound::BodyError::Read(_) => AlexaApiError::Unavailable(e.to_string()),
            })?;
        Ok(Answer {
            status: status.as_u16(),
            body,
        })
    }
}

/// 429 and 5xx may pass; every other status is Alexa's answer.
fn is_transient_status(status: u16) -> bool {
    status == 429 || status >= 500
}

fn rejected(answer: Answer) -> AlexaApiError {
    let message = serde_json::from_slice::<AlexaErrorBody>(&answer.body)
        .ok()
        .and_then(|b| b.message)
        .unwrap_or_else(|| "no message".to_owned());
    AlexaApiError::Rejected {
        status: answer.status,
        message,
    }
}

fn join(base: &Url, path: &str) -> Result<Url, AlexaApiError> {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push_str(path);
    Url::parse(&s).map_err(|e| AlexaApiError::BadGateway(format!("bad URL {s}: {e}")))
}

fn enablement_url(endpoint: &Url, skill_id: &str) -> Result<Url, AlexaApiError> {
    // The skill id was checked at start to be URL-safe.
    join(
        endpoint,
        &format!("/v1/users/~current/skills/{skill_id}/enablement"),
    )
}

/// An endpoint Alexa named, as a base URL. Alexa names hosts
/// (`api.eu.amazonalexa.com`); only Amazon's API hosts over https are
/// trusted with the user's token, and loopback ones only when the
/// configured API itself is on loopback (tests).
pub fn endpoint_url(named: &str, configured: &Url) -> Option<Url> {
    let url = if named.contains("://") {
        Url::parse(named).ok()?
    } else {
        Url::parse(&format!("https://{named}")).ok()?
    };
    let host = url.host_str()?;
    let amazon = url.scheme() == "https"
        && (host.ends_with(".amazonalexa.com") || host.ends_with(".amazon.com"));
    let loopback = |u: &Url| match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    (amazon || (loopback(&url) && loopback(configured))).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;

    async fn serve(app: Router) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Url::parse(&format!("http://{addr}")).expect("url")
    }

    fn api(base: &Url) -> AlexaApi {
        AlexaApi::new(base.clone(), Duration::from_secs(2), 3).expect("client")
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_with_the_users_token() {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let elsewhere = serve(Router::new().route(
            "/steal",
            get(move || {
                counted.fetch_add(1, Ordering::Relaxed);
                async { r#"{"endpoints":["api.amazonalexa.com"]}"# }
            }),
        ))
        .await;
        let target = format!("{elsewhere}steal");
        let base = serve(Router::new().route(
            "/v1/alexaApiEndpoint",
            get(move || async move {
                (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
            }),
        ))
        .await;
        let result = api(&base).endpoints("Atza|x").await;
        assert!(
            matches!(result, Err(AlexaApiError::BadGateway(_))),
            "{result:?}"
        );
        assert_eq!(hits.load(Ordering::Relaxed), 0, "the redirect was followed");
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        let huge = format!(r#"{{"endpoints":["{}"]}}"#, "a".repeat(MAX_RESPONSE_BYTES));
        let base =
            serve(Router::new().route("/v1/alexaApiEndpoint", get(move || async move { huge })))
                .await;
        let result = api(&base).endpoints("Atza|x").await;
        assert!(
            matches!(result, Err(AlexaApiError::BadGateway(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn transient_answers_are_retried_a_bounded_number_of_times() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let base = serve(Router::new().route(
            "/v1/alexaApiEndpoint",
            get(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response()
                    } else {
                        r#"{"endpoints":["http://127.0.0.1:1/eu"]}"#.into_response()
                    }
                }
            }),
        ))
        .await;
        let endpoints = api(&base).endpoints("Atza|x").await.expect("third try");
        assert_eq!(endpoints[0].as_str(), "http://127.0.0.1:1/eu");
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        calls.store(0, Ordering::SeqCst);
        let always = serve(Router::new().route(
            "/v1/alexaApiEndpoint",
            get(|| async { StatusCode::BAD_GATEWAY }),
        ))
        .await;
        let result = api(&always).endpoints("Atza|x").await;
        assert!(
            matches!(result, Err(AlexaApiError::Unavailable(_))),
            "{result:?}"
        );
    }

    #[test]
    fn only_amazon_hosts_or_loopback_for_loopback_tests_are_trusted() {
        let amazon = Url::parse("https://api.amazonalexa.com").expect("url");
        let local = Url::parse("http://127.0.0.1:9").expect("url");
        assert_eq!(
            endpoint_url("api.eu.amazonalexa.com", &amazon).map(String::from),
            Some("https://api.eu.amazonalexa.com/".to_owned())
        );
        assert!(endpoint_url("api.fe.amazon.com", &amazon).is_some());
        assert!(endpoint_url("evil.example.com", &amazon).is_none());
        assert!(endpoint_url("api.amazonalexa.com.evil.example", &amazon).is_none());
        assert!(endpoint_url("http://api.amazonalexa.com", &amazon).is_none());
        assert!(endpoint_url("http://127.0.0.1:5/eu", &amazon).is_none());
        assert!(endpoint_url("http://127.0.0.1:5/eu", &local).is_some());
    }

    #[test]
    fn linked_means_enabled_with_a_linked_account() {
        let read = |json: &str| serde_json::from_str::<Enablement>(json).expect("parses");
        assert!(read(r#"{"status":"ENABLED","accountLink":{"status":"LINKED"}}"#).is_linked());
        assert!(!read(r#"{"status":"ENABLED"}"#).is_linked());
        assert!(!read(r#"{"status":"ENABLING","accountLink":{"status":"LINKED"}}"#).is_linked());
    }

    #[test]
    fn the_enablement_body_is_alexas_shape() {
        let body = EnableRequest {
            stage: SkillStage::Live.as_str(),
            account_link_request: AccountLinkRequest {
                redirect_uri: "https://layla.amazon.com/api/skill/link/M1",
                auth_code: "code",
                kind: "AUTH_CODE",
            },
        };
        assert_eq!(
            serde_json::to_value(&body).expect("json"),
            serde_json::json!({
                "stage": "live",
                "accountLinkRequest": {
                    "redirectUri": "https://layla.amazon.com/api/skill/link/M1",
                    "authCode": "code",
                    "type": "AUTH_CODE"
                }
            })
        );
    }
}
