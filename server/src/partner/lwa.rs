//! A client of the Login with Amazon (LWA) token endpoint.
//!
//! Two grants are used: `authorization_code` (the code Alexa hands us at
//! the reciprocal endpoint) and `refresh_token`. Client credentials go in
//! the body, as LWA documents. One pooled HTTPS client (rustls) per partner,
//! with connect and request timeouts, no redirects and a response-size limit.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::outbound::BodyError;

/// Tokens LWA returned.
#[derive(Debug, Clone, Deserialize)]
pub struct LwaTokens {
    /// `Atza|...`.
    pub access_token: String,
    /// `Atzr|...`; LWA may omit it on refresh (then the old one stays valid).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Granted scope, when LWA says.
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LwaErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The longest access-token lifetime believed from LWA (its tokens live an
/// hour). A larger `expires_in` is shortened to this, a negative one is
/// taken as already expired: an upstream bug or a hostile answer must not
/// overflow our time arithmetic or keep a token "valid" for ever.
pub const MAX_EXPIRES_IN_SECONDS: i64 = 24 * 3600;

/// The largest LWA answer read (a token response is well under 4 KiB); a
/// longer one is refused rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The body of `response`, refused past [`MAX_RESPONSE_BYTES`].
async fn read_limited(response: reqwest::Response) -> Result<Vec<u8>, LwaError> {
    crate::outbound::read_limited(response, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => LwaError::BadGateway(e.to_string()),
            BodyError::Read(e) => LwaError::Unreachable(e.to_string()),
        })
}

/// Reads a successful token response, with `expires_in` clamped to
/// `0..=MAX_EXPIRES_IN_SECONDS`.
fn parse_tokens(body: &[u8]) -> Result<LwaTokens, LwaError> {
    let mut tokens: LwaTokens = serde_json::from_slice(body)
        .map_err(|e| LwaError::BadGateway(format!("unreadable token response: {e}")))?;
    tokens.expires_in = tokens.expires_in.clamp(0, MAX_EXPIRES_IN_SECONDS);
    Ok(tokens)
}

/// Why an LWA call failed.
#[derive(Debug, thiserror::Error)]
pub enum LwaError {
    /// The code or refresh token is invalid, used, expired or revoked.
    #[error("LWA rejected the grant: {0}")]
    InvalidGrant(String),
    /// LWA refused our partner credentials: a configuration problem.
    #[error("LWA refused the partner client credentials: {0}")]
    InvalidClient(String),
    /// Any other 4xx answer.
    #[error("LWA answered {status}: {error}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// LWA's error code.
        error: String,
    },
    /// LWA answered 5xx or nonsense.
    #[error("LWA failed: {0}")]
    BadGateway(String),
    /// LWA could not be reached in time.
    #[error("LWA unreachable: {0}")]
    Unreachable(String),
}

/// The LWA token endpoint with one partner's credentials.
pub struct LwaClient {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: String,
}

impl std::fmt::Debug for LwaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LwaClient")
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl LwaClient {
    /// A client for `token_url`; with `ca_file`, it trusts exactly the CAs
    /// in that PEM file instead of the public roots.
    pub fn new(
        token_url: Url,
        client_id: String,
        client_secret: String,
        timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<LwaClient, String> {
        let builder = crate::ca_bundle::trust(reqwest::Client::builder(), ca_file)
            .map_err(|e| format!("failed to build the LWA HTTP client: {e}"))?;
        let http = crate::outbound::client(builder, timeout)
            .build()
            .map_err(|e| format!("failed to build the LWA HTTP client: {e}"))?;
        Ok(LwaClient {
            http,
            token_url,
            client_id,
            client_secret,
        })
    }

    /// Exchanges an LWA authorization code.
    pub async fn exchange_code(&self, code: &str) -> Result<LwaTokens, LwaError> {
        self.call(&[("grant_type", "authorization_code"), ("code", code)])
            .await
    }

    /// Exchanges an LWA authorization code whose authorization request named
    /// `redirect_uri` (App-to-App): LWA wants the same redirect URI again.
    pub async fn exchange_code_for(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<LwaTokens, LwaError> {
        self.call(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ])
        .await
    }

    /// Refreshes with an LWA refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<LwaTokens, LwaError> {
        self.call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn call(&self, grant: &[(&str, &str)]) -> Result<LwaTokens, LwaError> {
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        form.push(("client_id", &self.client_id));
        form.push(("client_secret", &self.client_secret));
        let response = self
            .http
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            // Display of a reqwest error names the URL, never the body.
            .map_err(|e| LwaError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(LwaError::BadGateway(format!(
                "HTTP {} redirect, not followed",
                status.as_u16()
            )));
        }
        let body = read_limited(response).await?;
        if status.is_success() {
            return parse_tokens(&body);
        }
        if status.is_server_error() {
            return Err(LwaError::BadGateway(format!("HTTP {}", status.as_u16())));
        }
        let error: LwaErrorBody = serde_json::from_slice(&body).map_err(|_| {
            LwaError::BadGateway(format!(
                "HTTP {} without an OAuth error body",
                status.as_u16()
            ))
        })?;
        let described = match error.error_description {
            Some(d) => format!("{}: {d}", error.error),
            None => error.error.clone(),
        };
        Err(match error.error.as_str() {
            "invalid_grant" => LwaError::InvalidGrant(described),
            "invalid_client" | "unauthorized_client" => LwaError::InvalidClient(described),
            _ => LwaError::Rejected {
                status: status.as_u16(),
                error: described,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(expires_in: &str) -> i64 {
        let body = format!(r#"{{"access_token":"Atza|x","expires_in":{expires_in}}}"#);
        parse_tokens(body.as_bytes()).expect("parses").expires_in
    }

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::post;

    /// Serves `app` on a loopback port; returns its base URL.
    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn client(url: &str) -> LwaClient {
        LwaClient::new(
            Url::parse(url).expect("url"),
            "partner".into(),
            "partner-secret".into(),
            Duration::from_secs(5),
            None,
        )
        .expect("client")
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_the_secret_stays_here() {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let elsewhere = serve(Router::new().route(
            "/steal",
            post(move || {
                counted.fetch_add(1, Ordering::Relaxed);
                async { r#"{"access_token":"a","expires_in":3600}"# }
            }),
        ))
        .await;
        let target = format!("{elsewhere}/steal");
        let lwa = serve(Router::new().route(
            "/auth/o2/token",
            post(move || async move {
                (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
            }),
        ))
        .await;
        let result = client(&format!("{lwa}/auth/o2/token"))
            .exchange_code("code")
            .await;
        assert!(matches!(result, Err(LwaError::BadGateway(_))), "{result:?}");
        assert_eq!(hits.load(Ordering::Relaxed), 0, "the redirect was followed");
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        let huge = format!(
            r#"{{"access_token":"{}","expires_in":3600}}"#,
            "a".repeat(MAX_RESPONSE_BYTES)
        );
        let lwa =
            serve(Router::new().route("/auth/o2/token", post(move || async move { huge }))).await;
        let result = client(&format!("{lwa}/auth/o2/token"))
            .refresh("Atzr|x")
            .await;
        assert!(matches!(result, Err(LwaError::BadGateway(_))), "{result:?}");
    }

    /// Serves `app` over TLS on a loopback port with a certificate for
    /// 127.0.0.1 signed by a fresh test CA; returns the base URL and the
    /// CA's PEM.
    async fn serve_tls(app: Router) -> (String, String) {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("params")
            .signed_by(&key, &ca, &ca_key)
            .expect("cert");
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
        tokio::spawn(async move {
            axum_server::from_tcp_rustls(listener, config)
                .serve(app.into_make_service())
                .await
        });
        (format!("https://{addr}"), ca.pem())
    }

    #[tokio::test]
    async fn a_ca_file_makes_a_private_ca_trusted_and_only_it() {
        let app = || {
            Router::new().route(
                "/auth/o2/token",
                post(|| async { r#"{"access_token":"Atza|tls","expires_in":3600}"# }),
            )
        };
        let (url, ca_pem) = serve_tls(app()).await;
        let token_url = Url::parse(&format!("{url}/auth/o2/token")).expect("url");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).expect("write ca");
        let with_ca = |ca: &std::path::Path| {
            LwaClient::new(
                token_url.clone(),
                "partner".into(),
                "partner-secret".into(),
                Duration::from_secs(5),
                Some(ca),
            )
            .expect("client")
        };

        let tokens = with_ca(&ca_file)
            .exchange_code("code")
            .await
            .expect("trusted");
        assert_eq!(tokens.access_token, "Atza|tls");
        // The public roots do not know the test CA.
        let result = client(token_url.as_str()).exchange_code("code").await;
        assert!(
            matches!(result, Err(LwaError::Unreachable(_))),
            "{result:?}"
        );
        // The bundle replaces the roots: another CA's server is refused.
        let (other, _) = serve_tls(app()).await;
        let result = LwaClient::new(
            Url::parse(&format!("{other}/auth/o2/token")).expect("url"),
            "partner".into(),
            "partner-secret".into(),
            Duration::from_secs(5),
            Some(&ca_file),
        )
        .expect("client")
        .exchange_code("code")
        .await;
        assert!(
            matches!(result, Err(LwaError::Unreachable(_))),
            "{result:?}"
        );
        // An unusable bundle fails at start-up, naming the file.
        std::fs::write(&ca_file, "no certificate").expect("write");
        let err = LwaClient::new(
            token_url.clone(),
            "partner".into(),
            "partner-secret".into(),
            Duration::from_secs(5),
            Some(&ca_file),
        )
        .expect_err("invalid bundle");
        assert!(err.contains("ca.pem"), "{err}");
    }

    #[test]
    fn expires_in_is_clamped_to_a_day_and_never_negative() {
        assert_eq!(parsed("3600"), 3600);
        assert_eq!(parsed("9223372036854775807"), MAX_EXPIRES_IN_SECONDS);
        assert_eq!(parsed("-9223372036854775808"), 0);
        assert!(matches!(
            parse_tokens(br#"{"access_token":"a","expires_in":1e400}"#),
            Err(LwaError::BadGateway(_))
        ));
    }
}
