//! The only I/O of this room: Login with Amazon's token endpoint (a
//! refresh-token grant for an access token with the skill-management
//! scopes, cached until shortly before it expires) and SMAPI's two calls
//! on `accountLinkingClient`.
//!
//! Production endpoints are the defaults. The overrides exist for tests
//! and air-gapped setups (a stand-in, an egress proxy); a plain-http
//! override is accepted only on a loopback address. No redirect is ever
//! followed: it would carry the LWA token or client secret elsewhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::drift::{AccountLinkingResponse, GetBody};
use super::request::{AccountLinkingRequest, PutBody};
use super::spec::SkillStage;

/// SMAPI's production endpoint.
pub const SMAPI_ENDPOINT: &str = "https://api.amazonalexa.com";
/// Login with Amazon's token endpoint.
pub const LWA_TOKEN_ENDPOINT: &str = "https://api.amazon.com/auth/o2/token";
/// A token is refreshed this long before LWA says it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// The largest answer read (SMAPI's are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// SMAPI credentials as the ASK CLI produces them.
#[derive(Clone)]
pub struct Credentials {
    /// The LWA security profile's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// A refresh token with `alexa::ask:skills:readwrite`.
    pub refresh_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// A cache key that names the credentials without holding them.
    fn key(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.client_id, &self.client_secret, &self.refresh_token] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One violation in a SMAPI error body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Violation {
    /// SMAPI's code, e.g. `INVALID_URL`.
    #[serde(default)]
    pub code: Option<String>,
    /// What is wrong.
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    violations: Vec<Violation>,
}

#[derive(Debug, Default, Deserialize)]
struct LwaError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct LwaToken {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Why a call failed. Messages carry SMAPI's and LWA's own words, never
/// a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum SmapiError {
    /// LWA refused the credentials (4xx other than 429).
    #[error("Login with Amazon refused the SMAPI credentials ({status}): {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Lwa {
        /// HTTP status.
        status: u16,
        /// LWA's `error`.
        error: String,
        /// LWA's `error_description`.
        description: Option<String>,
    },
    /// SMAPI (or LWA, for 429 and 5xx) answered an error status.
    #[error("{what} answered {status}: {message}")]
    Api {
        /// `SMAPI` or `Login with Amazon`.
        what: &'static str,
        /// HTTP status.
        status: u16,
        /// The body's message (or the status text).
        message: String,
        /// The body's top-level code, if any.
        code: Option<String>,
        /// The body's violations.
        violations: Vec<Violation>,
        /// The Retry-After header, in seconds.
        retry_after: Option<Duration>,
    },
    /// The call did not complete.
    #[error("failed to reach {what}: {source}")]
    Transport {
        /// `SMAPI` or `Login with Amazon`.
        what: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not what the contract says.
    #[error("unreadable answer from {what}: {detail}")]
    Body {
        /// `SMAPI` or `Login with Amazon`.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Where the client calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// SMAPI's base URL.
    pub smapi: Url,
    /// LWA's token endpoint.
    pub lwa_token: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            smapi: Url::parse(SMAPI_ENDPOINT).expect("constant URL"),
            lwa_token: Url::parse(LWA_TOKEN_ENDPOINT).expect("constant URL"),
        }
    }
}

/// A bad endpoint override.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EndpointError(String);

/// Checks an override: https, or http on a loopback address only.
pub fn endpoint(name: &str, value: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(value).map_err(|e| EndpointError(format!("{name}: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(EndpointError(format!(
            "{name} must be an https URL (http only on a loopback address), got {value}"
        ))),
    }
}

struct Cached {
    token: String,
    fresh_until: Instant,
}

/// The SMAPI client with its LWA token cache.
pub struct SmapiClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    tokens: Mutex<HashMap<String, Cached>>,
}

impl SmapiClient {
    /// A client for `endpoints`, trusting `extra_roots` (PEM) besides the
    /// public roots.
    pub fn new(endpoints: Endpoints, extra_roots: Option<&[u8]>) -> Result<Self, EndpointError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("alexa-link-operator/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = extra_roots {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| EndpointError(format!("CA file: {e}")))?;
            if certs.is_empty() {
                return Err(EndpointError(
                    "CA file: no PEM certificate in it".to_owned(),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| EndpointError(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            endpoints,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    fn url(&self, skill_id: &str, stage: SkillStage) -> Result<Url, SmapiError> {
        let mut url = self.endpoints.smapi.clone();
        url.path_segments_mut()
            .map_err(|()| SmapiError::Body {
                what: "SMAPI",
                detail: "the endpoint cannot have a path".into(),
            })?
            .pop_if_empty()
            .extend([
                "v1",
                "skills",
                skill_id,
                "stages",
                stage.as_str(),
                "accountLinkingClient",
            ]);
        Ok(url)
    }

    /// An LWA access token for `creds`, from the cache while fresh.
    async fn token(&self, creds: &Credentials) -> Result<String, SmapiError> {
        let key = creds.key();
        if let Ok(cache) = self.tokens.lock()
            && let Some(c) = cache.get(&key)
            && c.fresh_until > Instant::now()
        {
            return Ok(c.token.clone());
        }
        const WHAT: &str = "Login with Amazon";
        let started = Instant::now();
        let response = self
            .http
            .post(self.endpoints.lwa_token.clone())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", creds.refresh_token.as_str()),
                ("client_id", creds.client_id.as_str()),
                ("client_secret", creds.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|source| SmapiError::Transport { what: WHAT, source })?;
        let status = response.status();
        let retry_after = retry_after(&response);
        let body = read(response, WHAT).await?;
        if !status.is_success() {
            let e: LwaError = serde_json::from_slice(&body).unwrap_or_default();
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                return Err(SmapiError::Api {
                    what: WHAT,
                    status: status.as_u16(),
                    message: e.error_description.unwrap_or(e.error),
                    code: None,
                    violations: Vec::new(),
                    retry_after,
                });
            }
            return Err(SmapiError::Lwa {
                status: status.as_u16(),
                error: e.error,
                description: e.error_description,
            });
        }
        let t: LwaToken = serde_json::from_slice(&body).map_err(|e| SmapiError::Body {
            what: WHAT,
            detail: e.to_string(),
        })?;
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600));
        if let Ok(mut cache) = self.tokens.lock() {
            cache.insert(
                key,
                Cached {
                    token: t.access_token.clone(),
                    fresh_until: started + lifetime.saturating_sub(REFRESH_MARGIN),
                },
            );
        }
        Ok(t.access_token)
    }

    fn forget(&self, creds: &Credentials) {
        if let Ok(mut cache) = self.tokens.lock() {
            cache.remove(&creds.key());
        }
    }

    /// One SMAPI call with a token; on 401 with a cached token, once more
    /// with a fresh one (LWA may have revoked it early).
    async fn call(
        &self,
        creds: &Credentials,
        request: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, SmapiError> {
        let mut retried = false;
        loop {
            let token = self.token(creds).await?;
            let response =
                request(&token)
                    .send()
                    .await
                    .map_err(|source| SmapiError::Transport {
                        what: "SMAPI",
                        source,
                    })?;
            let status = response.status();
            let retry_after = retry_after(&response);
            let body = read(response, "SMAPI").await?;
            if status.is_success() {
                return Ok(body);
            }
            if status == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                self.forget(creds);
                continue;
            }
            let e: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            return Err(SmapiError::Api {
                what: "SMAPI",
                status: status.as_u16(),
                message: e
                    .message
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned()),
                code: e.code,
                violations: e.violations,
                retry_after,
            });
        }
    }

    /// `GET /v1/skills/{skillId}/stages/{stage}/accountLinkingClient`.
    pub async fn get(
        &self,
        creds: &Credentials,
        skill_id: &str,
        stage: SkillStage,
    ) -> Result<AccountLinkingResponse, SmapiError> {
        let url = self.url(skill_id, stage)?;
        let body = self
            .call(creds, |token| self.http.get(url.clone()).bearer_auth(token))
            .await?;
        let parsed: GetBody = serde_json::from_slice(&body).map_err(|e| SmapiError::Body {
            what: "SMAPI",
            detail: e.to_string(),
        })?;
        Ok(parsed.account_linking_response)
    }

    /// `PUT /v1/skills/{skillId}/stages/{stage}/accountLinkingClient`.
    pub async fn put(
        &self,
        creds: &Credentials,
        skill_id: &str,
        stage: SkillStage,
        request: &AccountLinkingRequest,
    ) -> Result<(), SmapiError> {
        let url = self.url(skill_id, stage)?;
        let body = PutBody {
            account_linking_request: request,
        };
        self.call(creds, |token| {
            self.http.put(url.clone()).bearer_auth(token).json(&body)
        })
        .await
        .map(|_| ())
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

async fn read(mut response: reqwest::Response, what: &'static str) -> Result<Vec<u8>, SmapiError> {
    let too_large = || SmapiError::Body {
        what,
        detail: format!("answer larger than {MAX_BODY} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| SmapiError::Transport { what, source })?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_https_or_loopback_http() {
        assert!(endpoint("x", "https://smapi.proxy.internal").is_ok());
        assert!(endpoint("x", "http://127.0.0.1:8080").is_ok());
        assert!(endpoint("x", "http://[::1]:8080").is_ok());
        assert!(endpoint("x", "http://localhost:8080").is_ok());
        let e =
            endpoint("--smapi-endpoint", "http://smapi.proxy.internal").expect_err("plain http");
        assert!(
            e.to_string()
                .contains("--smapi-endpoint must be an https URL"),
            "{e}"
        );
        assert!(endpoint("x", "ftp://127.0.0.1").is_err());
        assert!(endpoint("x", "not a url").is_err());
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let e = SmapiClient::new(Endpoints::default(), Some(b"not a certificate"))
            .err()
            .expect("rejected");
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let ca = rcgen::generate_simple_self_signed(vec!["smapi.proxy.internal".to_owned()])
            .expect("certificate");
        assert!(SmapiClient::new(Endpoints::default(), Some(ca.cert.pem().as_bytes())).is_ok());
    }

    #[test]
    fn debug_of_credentials_shows_the_client_id_only() {
        let c = Credentials {
            client_id: "amzn1.application-oa2-client.x".into(),
            client_secret: "hidden-secret".into(),
            refresh_token: "Atzr|hidden".into(),
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("amzn1.application-oa2-client.x"));
        assert!(!shown.contains("hidden"), "{shown}");
    }
}
