//! Registered clients and client authentication: confidential clients by
//! their secret (RFC 6749 2.3.1), public clients by `client_id` alone
//! (RFC 6749 2.1 and 3.2.1, RFC 8252 8.5), their codes then bound by PKCE.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::OAuthError;
use super::form::Params;
use crate::config::{ClientConfig, ClientKind, GrantType};

/// A client as the server uses it: its config plus what was read from files.
#[derive(Debug)]
pub struct Client {
    /// The configuration.
    pub config: ClientConfig,
    /// Every allowed redirect URI (configured plus Alexa-derived).
    pub redirect_uris: Vec<String>,
    /// How the client proves itself.
    auth: ClientAuth,
}

/// How a client proves itself at the token endpoint.
#[derive(Debug)]
enum ClientAuth {
    /// SHA-256 of the secret, compared in constant time.
    Secret([u8; 32]),
    /// `token_endpoint_auth_method` `none`: the client id alone.
    Public,
}

impl Client {
    /// The client id.
    pub fn id(&self) -> &str {
        &self.config.client_id
    }

    /// The name shown to users.
    pub fn display_name(&self) -> &str {
        self.config
            .display_name
            .as_deref()
            .unwrap_or(&self.config.client_id)
    }

    /// Whether this is a public client (no secret; PKCE on every code).
    pub fn is_public(&self) -> bool {
        matches!(self.auth, ClientAuth::Public)
    }

    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.config.grant_types.contains(&grant)
    }
}

/// All clients, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: HashMap<String, Arc<Client>>,
}

impl ClientRegistry {
    /// Builds the registry; `secret_of` reads a confidential client's
    /// secret from its `clientSecretFile`.
    pub fn new(
        configs: &[ClientConfig],
        mut secret_of: impl FnMut(&ClientConfig, &Path) -> Result<String, String>,
    ) -> Result<ClientRegistry, String> {
        let mut clients = HashMap::new();
        for config in configs {
            let auth = match config.kind() {
                Some(ClientKind::Public) => ClientAuth::Public,
                Some(ClientKind::Confidential { secret_file }) => {
                    let secret = secret_of(config, secret_file)?;
                    if secret.len() < 16 {
                        return Err(format!(
                            "client {}: the client secret must be at least 16 characters",
                            config.client_id
                        ));
                    }
                    ClientAuth::Secret(Sha256::digest(secret.as_bytes()).into())
                }
                // `Config::validate` names the field; this is only reached
                // by a caller that skipped it.
                None => {
                    return Err(format!(
                        "client {}: a confidential client needs clientSecretFile, a public one must not have it",
                        config.client_id
                    ));
                }
            };
            let client = Client {
                redirect_uris: config.effective_redirect_uris(),
                auth,
                config: config.clone(),
            };
            clients.insert(config.client_id.clone(), Arc::new(client));
        }
        Ok(ClientRegistry { clients })
    }

    /// A client by id.
    pub fn get(&self, client_id: &str) -> Option<&Arc<Client>> {
        self.clients.get(client_id)
    }

    /// Every client.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Client>> {
        self.clients.values()
    }

    /// Authenticates the calling client from HTTP Basic or from
    /// `client_id`/`client_secret` in the body (Alexa uses either), never
    /// both at once. Without the throttle: endpoints use
    /// [`crate::oauth::client_auth::authenticate`].
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        params: &Params,
    ) -> Result<Arc<Client>, OAuthError> {
        let credentials = credentials(headers, params)?;
        Ok(self.verify(&credentials)?)
    }

    /// The client the credentials prove, or why they prove none.
    pub fn verify(&self, credentials: &Credentials) -> Result<Arc<Client>, AuthFailure> {
        let Some(client) = self.clients.get(&credentials.client_id) else {
            return Err(match credentials.secret {
                Some(_) => AuthFailure::WrongSecret,
                None => AuthFailure::NoClient,
            });
        };
        match (&client.auth, &credentials.secret) {
            (ClientAuth::Public, None) => Ok(client.clone()),
            (ClientAuth::Public, Some(_)) => Err(AuthFailure::SecretFromPublicClient),
            (ClientAuth::Secret(_), None) => Err(AuthFailure::SecretMissing),
            (ClientAuth::Secret(hash), Some(secret)) => {
                let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
                if bool::from(hash.ct_eq(&presented)) {
                    Ok(client.clone())
                } else {
                    Err(AuthFailure::WrongSecret)
                }
            }
        }
    }

    /// Whether any client is public (the metadata then offers `none`).
    pub fn any_public(&self) -> bool {
        self.clients.values().any(|c| c.is_public())
    }
}

/// Why presented credentials prove no client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// A secret that is not the client's, or a secret for an unknown id:
    /// the one failure that is a guess, and so the one the throttle counts.
    #[error("client authentication failed")]
    WrongSecret,
    /// A `client_id` alone that names no client.
    #[error("client authentication failed")]
    NoClient,
    /// A confidential client that sent no secret.
    #[error("client_secret is required (confidential client)")]
    SecretMissing,
    /// A public client that sent a secret: it has none, so whatever it sent
    /// was not meant for us, and accepting it would blur the client type.
    #[error(
        "this is a public client: send client_id in the body and no client secret or HTTP Basic"
    )]
    SecretFromPublicClient,
}

impl AuthFailure {
    /// Whether this failure was a guess at a secret (counted by the throttle).
    pub fn is_guess(self) -> bool {
        self == AuthFailure::WrongSecret
    }
}

impl From<AuthFailure> for OAuthError {
    fn from(failure: AuthFailure) -> OAuthError {
        OAuthError::invalid_client(failure.to_string())
    }
}

/// The client id and secret a request presents, not yet verified.
pub struct Credentials {
    /// The claimed client id.
    pub client_id: String,
    /// The presented secret: `None` when the body carries `client_id` alone
    /// (a public client, RFC 6749 2.3.1 and 3.2.1).
    pub secret: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Reads the client credentials from HTTP Basic or the body (never both):
/// `client_id` with or without `client_secret`.
pub fn credentials(headers: &HeaderMap, params: &Params) -> Result<Credentials, OAuthError> {
    let basic = basic_credentials(headers)?;
    let (client_id, secret) = match basic {
        Some((id, secret)) => {
            if params.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method: HTTP Basic or client_secret in the body, not both",
                ));
            }
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the HTTP Basic user",
                ));
            }
            (id, Some(secret))
        }
        None => match (params.get("client_id"), params.get("client_secret")) {
            (Some(id), secret) => (id.to_owned(), secret.map(str::to_owned)),
            (None, _) => {
                return Err(OAuthError::invalid_client(
                    "client authentication is required",
                ));
            }
        },
    };
    Ok(Credentials { client_id, secret })
}

/// Decodes `Authorization: Basic` credentials. RFC 6749 2.3.1 says the id and
/// secret are form-urlencoded before base64, so they are decoded after.
pub(crate) fn basic_credentials(
    headers: &HeaderMap,
) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    // The scheme name is case-insensitive (RFC 7235 2.1): `BASIC` too.
    let Some(encoded) = value.to_str().ok().and_then(|v| {
        let (scheme, rest) = v.trim_start().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest)
    }) else {
        // Another scheme (e.g. Bearer) is not client authentication.
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client("malformed HTTP Basic credentials");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((form_unescape(id), form_unescape(secret))))
}

/// One form-urlencoded value decoded, as a form's `x=<s>` would be. Almost
/// every id and secret has nothing encoded: then it is copied as it is,
/// without parsing a form built for it.
fn form_unescape(s: &str) -> String {
    if !s.bytes().any(|b| matches!(b, b'%' | b'+' | b'&')) {
        return s.to_owned();
    }
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    fn registry() -> ClientRegistry {
        let config: ClientConfig = serde_yaml::from_str(
            "clientId: alexa\nclientSecretFile: /x\nredirectUris: [\"https://a.example/cb\"]\n",
        )
        .expect("client");
        let app: ClientConfig = serde_yaml::from_str(
            "clientId: app\npublic: true\nredirectUris: [\"https://app.example/cb\"]\n",
        )
        .expect("public client");
        ClientRegistry::new(&[config, app], |c, _| {
            assert_ne!(c.client_id, "app", "a public client's secret is never read");
            Ok("s3cret:with%special&chars".into())
        })
        .expect("registry")
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let mut h = HeaderMap::new();
        let v = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        );
        h.insert(header::AUTHORIZATION, v.parse().expect("hv"));
        h
    }

    #[test]
    fn the_basic_scheme_name_is_case_insensitive() {
        let r = registry();
        for scheme in ["basic", "BASIC", "bAsIc"] {
            let mut h = basic("alexa", "s3cret:with%special&chars");
            let value = h
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .expect("value")
                .replacen("Basic", scheme, 1);
            h.insert(header::AUTHORIZATION, value.parse().expect("hv"));
            let c = r.authenticate(&h, &Params::default()).expect(scheme);
            assert_eq!(c.id(), "alexa", "{scheme}");
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded_whether_or_not_anything_is_encoded() {
        let decoded = |raw: &str| {
            let mut h = HeaderMap::new();
            let v = format!("Basic {}", STANDARD.encode(raw));
            h.insert(header::AUTHORIZATION, v.parse().expect("hv"));
            basic_credentials(&h).expect("well formed").expect("basic")
        };
        for (raw, id, secret) in [
            ("plain-id:plain=secret", "plain-id", "plain=secret"),
            ("a%3Ab:s%25c+d", "a:b", "s%c d"),
            // As a form would read `x=<value>`: an `&` ends the value.
            ("id:left&right", "id", "left"),
            ("id:", "id", ""),
        ] {
            assert_eq!(decoded(raw), (id.to_owned(), secret.to_owned()), "{raw}");
        }
    }

    #[test]
    fn basic_and_body_credentials_both_authenticate() {
        let r = registry();
        let c = r
            .authenticate(
                &basic("alexa", "s3cret:with%special&chars"),
                &Params::default(),
            )
            .expect("basic");
        assert_eq!(c.id(), "alexa");
        let body = Params::parse(b"client_id=alexa&client_secret=s3cret%3Awith%25special%26chars")
            .expect("p");
        assert_eq!(
            r.authenticate(&HeaderMap::new(), &body).expect("body").id(),
            "alexa"
        );
    }

    #[test]
    fn wrong_or_missing_credentials_are_invalid_client() {
        let r = registry();
        for (headers, body) in [
            (basic("alexa", "wrong"), ""),
            (basic("nobody", "s3cret:with%special&chars"), ""),
            (HeaderMap::new(), "client_id=alexa"),
            (HeaderMap::new(), ""),
        ] {
            let e = r
                .authenticate(&headers, &Params::parse(body.as_bytes()).expect("p"))
                .expect_err("must fail");
            assert_eq!(e.code, ErrorCode::InvalidClient, "{headers:?} {body}");
            assert!(e.challenge.is_some());
        }
        let mut garbage = HeaderMap::new();
        garbage.insert(header::AUTHORIZATION, "Basic !!!".parse().expect("hv"));
        assert_eq!(
            r.authenticate(&garbage, &Params::default())
                .expect_err("bad")
                .code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn a_public_client_authenticates_with_its_id_alone_and_never_with_a_secret() {
        let r = registry();
        let id_only = Params::parse(b"client_id=app").expect("p");
        let c = r.authenticate(&HeaderMap::new(), &id_only).expect("public");
        assert_eq!(c.id(), "app");
        assert!(c.is_public());
        assert!(r.any_public());
        for (headers, body) in [
            (
                HeaderMap::new(),
                "client_id=app&client_secret=s3cret%3Awith%25special%26chars",
            ),
            (basic("app", ""), ""),
            (basic("app", "anything"), "client_id=app"),
        ] {
            let e = r
                .authenticate(&headers, &Params::parse(body.as_bytes()).expect("p"))
                .expect_err("a secret from a public client");
            assert_eq!(e.code, ErrorCode::InvalidClient, "{body}");
            assert!(e.description.contains("public client"), "{}", e.description);
        }
        // A confidential client cannot pass as public by leaving out its secret.
        let e = r
            .authenticate(
                &HeaderMap::new(),
                &Params::parse(b"client_id=alexa").expect("p"),
            )
            .expect_err("confidential without secret");
        assert_eq!(e.code, ErrorCode::InvalidClient);
        assert!(
            e.description.contains("client_secret is required"),
            "{}",
            e.description
        );
    }

    #[test]
    fn only_a_wrong_secret_counts_as_a_guess() {
        let r = registry();
        let creds = |id: &str, secret: Option<&str>| Credentials {
            client_id: id.into(),
            secret: secret.map(Into::into),
        };
        let failure = |c: Credentials| r.verify(&c).expect_err("fails");
        assert!(failure(creds("alexa", Some("wrong"))).is_guess());
        assert!(failure(creds("nobody", Some("wrong"))).is_guess());
        assert!(!failure(creds("nobody", None)).is_guess());
        assert!(!failure(creds("alexa", None)).is_guess());
        assert!(!failure(creds("app", Some("x"))).is_guess());
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let r = registry();
        let body = Params::parse(b"client_secret=x").expect("p");
        let e = r
            .authenticate(&basic("alexa", "s3cret:with%special&chars"), &body)
            .expect_err("both");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }
}
