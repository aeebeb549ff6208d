//! The upstream OpenID Connect backend: this server is a relying party of
//! the skill developer's OpenID Provider.
//!
//! [`UpstreamOidc::start`] builds the authentication request (authorization
//! code flow with PKCE S256, `state` and `nonce`); the browser comes back to
//! `/oauth/callback`, where [`UpstreamOidc::finish`] redeems the code and
//! verifies the ID token (issuer, audience, signature against the
//! provider's JWKS, expiry, nonce) with the `openidconnect` crate.
//!
//! The provider's discovery document and keys are fetched on first use and
//! cached for [`METADATA_TTL`]; an ID token whose signature does not verify
//! against a cached key set older than [`KEYS_MIN_AGE`] is checked once more
//! against freshly fetched keys, so a key rotation upstream costs no logins.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use super::User;
use crate::config::OidcIdentityConfig;
use crate::outbound::{BodyError, read_limited};

/// How long discovery metadata and keys are reused.
pub const METADATA_TTL: Duration = Duration::from_secs(900);
/// Keys younger than this are not refetched after a failed signature check
/// (bounds the refetches a stream of forged tokens can cause).
pub const KEYS_MIN_AGE: Duration = Duration::from_secs(30);
/// The largest answer read from the provider (discovery documents and key
/// sets are a few KiB); a longer one is refused rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What the callback needs to finish a login, kept in an encrypted cookie
/// between the redirect to the provider and the callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    /// `state` sent to the provider.
    pub state: String,
    /// `nonce` the ID token must carry.
    pub nonce: String,
    /// PKCE verifier for the code exchange.
    pub pkce_verifier: String,
}

/// Why an upstream login failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense.
    #[error("OpenID Provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code, or the ID token failed verification.
    #[error("upstream login refused: {0}")]
    Refused(String),
}

struct Cached {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

/// An upstream OpenID Provider.
pub struct UpstreamOidc {
    config: OidcIdentityConfig,
    client_secret: String,
    redirect_url: RedirectUrl,
    issuer_id: String,
    http: LimitedHttp,
    cached: RwLock<Option<Cached>>,
}

impl UpstreamOidc {
    /// Prepares the relying party; nothing is fetched until the first login.
    pub fn new(
        config: &OidcIdentityConfig,
        client_secret: String,
        callback_url: &str,
    ) -> Result<UpstreamOidc, String> {
        let redirect_url = RedirectUrl::new(callback_url.to_owned()).map_err(|e| e.to_string())?;
        let builder = crate::ca_bundle::trust(
            openidconnect::reqwest::ClientBuilder::new(),
            config.ca_file.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        let http = builder
            // Following redirects would let the provider's endpoints send
            // our requests elsewhere (SSRF); openidconnect requires this.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.request_timeout_seconds))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(UpstreamOidc {
            issuer_id: config
                .issuer_id
                .clone()
                .unwrap_or_else(|| default_issuer_id(config.issuer_url.as_str())),
            config: config.clone(),
            client_secret,
            redirect_url,
            http: LimitedHttp(http),
            cached: RwLock::new(None),
        })
    }

    async fn metadata(&self, refresh: bool) -> Result<(CoreProviderMetadata, Instant), OidcError> {
        if !refresh
            && let Some(c) = &*self.cached.read().await
            && c.fetched.elapsed() < METADATA_TTL
        {
            return Ok((c.metadata.clone(), c.fetched));
        }
        let mut cached = self.cached.write().await;
        if let Some(c) = &*cached
            && c.fetched.elapsed() < if refresh { KEYS_MIN_AGE } else { METADATA_TTL }
        {
            return Ok((c.metadata.clone(), c.fetched));
        }
        let issuer = IssuerUrl::new(self.config.issuer_url.as_str().trim_end_matches('/').into())
            .map_err(|e| OidcError::Unavailable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unavailable(format!("discovery failed: {}", chain(&e))))?;
        let fetched = Instant::now();
        *cached = Some(Cached {
            metadata: metadata.clone(),
            fetched,
        });
        Ok((metadata, fetched))
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect_url.clone())
    }

    /// The provider URL to send the browser to, and what the callback will
    /// need to check the answer.
    pub async fn start(&self) -> Result<(String, PendingLogin), OidcError> {
        let (metadata, _) = self.metadata(false).await?;
        let client = self.client(metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope.clone()));
            }
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            PendingLogin {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Redeems `code` and verifies the ID token; returns the local user.
    pub async fn finish(&self, code: &str, pending: &PendingLogin) -> Result<User, OidcError> {
        let (metadata, _) = self.metadata(false).await?;
        let client = self.client(metadata);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    OidcError::Refused(format!("token endpoint: {}", r.error()))
                }
                other => OidcError::Unavailable(format!("token endpoint: {}", chain(&other))),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Refused("the token response has no id_token".into()))?;
        self.verify_id_token(&id_token.to_string(), &pending.nonce)
            .await
    }

    /// Verifies a compact ID token (issuer, audience, signature, expiry,
    /// nonce) and maps it to the local user.
    pub async fn verify_id_token(&self, raw: &str, nonce: &str) -> Result<User, OidcError> {
        let token: openidconnect::core::CoreIdToken = raw
            .parse()
            .map_err(|e| OidcError::Refused(format!("malformed ID token: {e}")))?;
        let nonce = Nonce::new(nonce.to_owned());
        let (metadata, fetched) = self.metadata(false).await?;
        let first = {
            let client = self.client(metadata);
            token
                .claims(&client.id_token_verifier(), &nonce)
                .map(|_| ())
        };
        if let Err(e) = first {
            let signature = matches!(
                e,
                openidconnect::ClaimsVerificationError::SignatureVerification(_)
            );
            if !(signature && fetched.elapsed() >= KEYS_MIN_AGE) {
                return Err(OidcError::Refused(format!("ID token: {e}")));
            }
            // Maybe the provider rotated its keys: fetch them and retry once.
            let (metadata, _) = self.metadata(true).await?;
            let client = self.client(metadata);
            token
                .claims(&client.id_token_verifier(), &nonce)
                .map_err(|e| OidcError::Refused(format!("ID token: {e}")))?;
        }
        // The signature over these exact bytes verified: read any claim
        // from the payload, including ones the library does not model.
        let claims = payload(raw)?;
        let Some(subject) = claim_text(&claims, &self.config.user_id_claim) else {
            return Err(OidcError::Refused(format!(
                "the ID token has no {} claim (identity.oidc.userIdClaim)",
                self.config.user_id_claim
            )));
        };
        let display_name =
            claim_text(&claims, &self.config.display_name_claim).unwrap_or_else(|| subject.clone());
        Ok(User {
            id: format!("oidc:{}:{subject}", self.issuer_id),
            username: subject,
            display_name,
            groups: vec![],
        })
    }
}

/// The provider's HTTP client: redirects are not followed (see
/// [`UpstreamOidc::new`]) and answers past [`MAX_RESPONSE_BYTES`] are
/// refused while they are read.
struct LimitedHttp(openidconnect::reqwest::Client);

type HttpError = openidconnect::HttpClientError<openidconnect::reqwest::Error>;

impl<'c> openidconnect::AsyncHttpClient<'c> for LimitedHttp {
    type Error = HttpError;
    type Future = Pin<
        Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + Sync + 'c>,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = request.try_into().map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut answer = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let body = read_limited(response, MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| match e {
                    BodyError::Read(e) => HttpError::Reqwest(Box::new(e)),
                    too_large => HttpError::Other(too_large.to_string()),
                })?;
            answer.body(body).map_err(HttpError::Http)
        })
    }
}

/// `oidc:<this>:<sub>`: 16 hex digits of the issuer URL's SHA-256.
pub fn default_issuer_id(issuer_url: &str) -> String {
    let digest = Sha256::digest(issuer_url.trim_end_matches('/').as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn payload(raw: &str) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    let part = raw
        .split('.')
        .nth(1)
        .ok_or_else(|| OidcError::Refused("malformed ID token".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| OidcError::Refused(format!("malformed ID token payload: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| OidcError::Refused(format!("malformed ID token payload: {e}")))
}

fn claim_text(claims: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_ids_are_short_stable_and_ignore_a_trailing_slash() {
        let a = default_issuer_id("https://example.okta.com");
        assert_eq!(a.len(), 16);
        assert_eq!(a, default_issuer_id("https://example.okta.com/"));
        assert_ne!(a, default_issuer_id("https://other.okta.com"));
    }

    #[test]
    fn claims_are_read_as_text() {
        let claims = serde_json::json!({"sub": "abc", "num": 42, "empty": "", "obj": {}});
        let claims = claims.as_object().expect("object");
        assert_eq!(claim_text(claims, "sub"), Some("abc".into()));
        assert_eq!(claim_text(claims, "num"), Some("42".into()));
        assert_eq!(claim_text(claims, "empty"), None);
        assert_eq!(claim_text(claims, "obj"), None);
    }

    /// A provider on loopback whose discovery answer is too large, or a
    /// redirect to one; the counter sees whether the target was fetched.
    async fn hostile_provider() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let fetched = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = fetched.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let big = "x".repeat(MAX_RESPONSE_BYTES + 1);
        let app = axum::Router::new()
            .route(
                "/big/.well-known/openid-configuration",
                axum::routing::get(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let big = big.clone();
                    async move { big }
                }),
            )
            .route(
                "/moved/.well-known/openid-configuration",
                axum::routing::get(|| async {
                    axum::response::Redirect::temporary("/big/.well-known/openid-configuration")
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, fetched)
    }

    fn upstream(issuer: &str) -> UpstreamOidc {
        let config: OidcIdentityConfig = serde_yaml::from_str(&format!(
            "issuerUrl: {issuer}\nclientId: alexa-link\nclientSecretFile: /dev/null\n"
        ))
        .expect("config");
        UpstreamOidc::new(&config, "secret".into(), "http://127.0.0.1/oauth/callback")
            .expect("relying party")
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused_and_a_redirect_not_followed() {
        let (base, fetched) = hostile_provider().await;
        let err = upstream(&format!("{base}/big"))
            .start()
            .await
            .expect_err("too large");
        assert!(
            matches!(&err, OidcError::Unavailable(m) if m.contains(&format!("larger than {MAX_RESPONSE_BYTES} bytes"))),
            "{err}"
        );
        assert_eq!(fetched.load(std::sync::atomic::Ordering::Relaxed), 1);
        let err = upstream(&format!("{base}/moved"))
            .start()
            .await
            .expect_err("a redirect is not a discovery document");
        assert!(matches!(err, OidcError::Unavailable(_)), "{err}");
        assert_eq!(
            fetched.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "the redirect was not followed"
        );
    }
}
