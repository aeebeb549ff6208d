//! Registered clients and client authentication (RFC 6749 2.3.1).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::OAuthError;
use super::form::Params;
use crate::config::{ClientConfig, GrantType};

/// A client as the server uses it: its config plus what was read from files.
#[derive(Debug)]
pub struct Client {
    /// The configuration.
    pub config: ClientConfig,
    /// Every allowed redirect URI (configured plus Alexa-derived).
    pub redirect_uris: Vec<String>,
    /// SHA-256 of the secret, compared in constant time.
    secret_hash: [u8; 32],
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
    /// Builds the registry; `secret_of` yields each client's secret.
    pub fn new(
        configs: &[ClientConfig],
        mut secret_of: impl FnMut(&ClientConfig) -> Result<String, String>,
    ) -> Result<ClientRegistry, String> {
        let mut clients = HashMap::new();
        for config in configs {
            let secret = secret_of(config)?;
            if secret.len() < 16 {
                return Err(format!(
                    "client {}: the client secret must be at least 16 characters",
                    config.client_id
                ));
            }
            let client = Client {
                redirect_uris: config.effective_redirect_uris(),
                secret_hash: Sha256::digest(secret.as_bytes()).into(),
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
        self.verify(&credentials).ok_or_else(authentication_failed)
    }

    /// The client the credentials prove, if they do.
    pub fn verify(&self, credentials: &Credentials) -> Option<Arc<Client>> {
        let presented: [u8; 32] = Sha256::digest(credentials.secret.as_bytes()).into();
        match self.clients.get(&credentials.client_id) {
            Some(client) if bool::from(client.secret_hash.ct_eq(&presented)) => {
                Some(client.clone())
            }
            _ => None,
        }
    }
}

/// The `invalid_client` answer to credentials that prove no client.
pub fn authentication_failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

/// The client id and secret a request presents, not yet verified.
pub struct Credentials {
    /// The claimed client id.
    pub client_id: String,
    /// The presented secret.
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Reads the client credentials from HTTP Basic or the body (never both).
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
            (id, secret)
        }
        None => match (params.get("client_id"), params.get("client_secret")) {
            (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
            (Some(_), None) => {
                return Err(OAuthError::invalid_client(
                    "client_secret is required (confidential client)",
                ));
            }
            _ => {
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
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
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
        ClientRegistry::new(&[config], |_| Ok("s3cret:with%special&chars".into()))
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
    fn two_methods_at_once_are_refused() {
        let r = registry();
        let body = Params::parse(b"client_secret=x").expect("p");
        let e = r
            .authenticate(&basic("alexa", "s3cret:with%special&chars"), &body)
            .expect_err("both");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }
}
