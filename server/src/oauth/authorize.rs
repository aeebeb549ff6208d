//! Validation of authorization requests (RFC 6749 4.1.1, RFC 7636 4.3).
//!
//! Pure: given the parameters and the clients, decide whether the request is
//! good and, if not, whether the error may be sent to the redirect URI. Until
//! the client and its redirect URI are established, nothing may redirect
//! (RFC 6749 4.1.2.1): such errors are shown to the user instead.

use std::sync::Arc;

use url::Url;

use super::clients::{Client, ClientRegistry};
use super::error::{ErrorCode, OAuthError};
use super::form::Params;
use super::{pkce, scope};
use crate::config::{GrantType, PkcePolicy};

/// Longest `state` accepted; it travels in forms and redirects.
const MAX_STATE_LEN: usize = 2048;

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Arc<Client>,
    /// Where the response goes (registered, exactly matched).
    pub redirect_uri: String,
    /// Whether the request named the redirect URI (then the token request
    /// must repeat it).
    pub redirect_uri_given: bool,
    /// Requested scopes, normalised.
    pub scopes: Vec<String>,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// The S256 challenge, if any.
    pub code_challenge: Option<String>,
}

/// Why a request was refused.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show this message to the
    /// user and never redirect.
    Untrusted(String),
    /// Send the error to the client's redirect URI.
    Redirect {
        /// The redirect URI (already validated).
        redirect_uri: String,
        /// The client's state, echoed.
        state: Option<String>,
        /// The error.
        error: OAuthError,
    },
}

impl AuthorizationRequest {
    /// Validates raw parameters.
    pub fn validate(
        params: &Params,
        clients: &ClientRegistry,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let Some(client_id) = params.get("client_id") else {
            return Err(AuthorizeError::Untrusted(
                "The request does not name a client (client_id is missing).".into(),
            ));
        };
        let Some(client) = clients.get(client_id) else {
            return Err(AuthorizeError::Untrusted(
                "The request names a client this server does not know.".into(),
            ));
        };
        let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
            Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => (uri.to_owned(), true),
            Some(_) => {
                return Err(AuthorizeError::Untrusted(
                    "The redirect URI in the request is not registered for this client.".into(),
                ));
            }
            None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
            None => {
                return Err(AuthorizeError::Untrusted(
                    "The request has no redirect URI and the client has several registered.".into(),
                ));
            }
        };
        let state = params.get("state").map(str::to_owned);
        let fail = |error: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone().filter(|s| s.len() <= MAX_STATE_LEN),
            error,
        };
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(fail(OAuthError::invalid_request("state is too long")));
        }
        match params.get("response_type") {
            None => {
                return Err(fail(OAuthError::invalid_request(
                    "missing parameter response_type",
                )));
            }
            Some("code") => {}
            Some(_) => {
                return Err(fail(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )));
            }
        }
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(fail(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use the authorization code grant",
            )));
        }
        let scopes = scope::resolve(params.get("scope"), &client.config.scopes).map_err(fail)?;
        let code_challenge = match (
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        ) {
            (Some(challenge), Some("S256")) => {
                if !pkce::valid_challenge(challenge) {
                    return Err(fail(OAuthError::invalid_request(
                        "code_challenge must be 43 base64url characters (S256)",
                    )));
                }
                Some(challenge.to_owned())
            }
            // RFC 7636 4.3: a missing method means "plain", which we refuse.
            (Some(_), _) | (None, Some(_)) => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge_method must be S256 (plain is not accepted)",
                )));
            }
            (None, None) if client.config.pkce == PkcePolicy::Required => {
                return Err(fail(OAuthError::invalid_request(
                    "code_challenge is required (PKCE with S256)",
                )));
            }
            (None, None) => None,
        };
        Ok(AuthorizationRequest {
            client: client.clone(),
            redirect_uri,
            redirect_uri_given,
            scopes,
            state,
            code_challenge,
        })
    }

    /// The request as a query string, to carry it through the login and
    /// consent forms. Re-validated whenever it comes back.
    pub fn to_query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code");
        q.append_pair("client_id", self.client.id());
        if self.redirect_uri_given {
            q.append_pair("redirect_uri", &self.redirect_uri);
        }
        q.append_pair("scope", &scope::join(&self.scopes));
        if let Some(state) = &self.state {
            q.append_pair("state", state);
        }
        if let Some(challenge) = &self.code_challenge {
            q.append_pair("code_challenge", challenge);
            q.append_pair("code_challenge_method", "S256");
        }
        q.finish()
    }
}

/// An authorization response (RFC 6749 4.1.2 and 4.1.2.1): the redirect
/// URI with `params`, the client's `state` and our `issuer` added to its
/// query. Every response, success or error, names the issuer (RFC 9207
/// `iss`), so a client talking to several servers can tell which one
/// answered and is not fooled by a mix-up.
pub fn redirect_with(
    redirect_uri: &str,
    issuer: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
                if let Some(state) = state {
                    q.append_pair("state", state);
                }
                q.append_pair("iss", issuer);
            }
            url.into()
        }
        // Registered URIs were validated at start.
        Err(_) => redirect_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "https://layla.amazon.com/api/skill/link/M1";

    fn clients(extra: &str) -> ClientRegistry {
        let config: ClientConfig = serde_yaml::from_str(&format!(
            "clientId: alexa\nclientSecretFile: /x\nalexaVendorId: M1\nscopes: [profile, email]\n{extra}"
        ))
        .expect("client");
        ClientRegistry::new(&[config], |_, _| Ok("0123456789abcdef".into())).expect("registry")
    }

    fn query(extra: &str) -> Params {
        let base = format!(
            "response_type=code&client_id=alexa&redirect_uri={}&state=st&code_challenge={CHALLENGE}&code_challenge_method=S256",
            form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        );
        Params::parse(format!("{base}{extra}").as_bytes()).expect("params")
    }

    fn redirect_error(
        result: Result<AuthorizationRequest, AuthorizeError>,
    ) -> (ErrorCode, Option<String>) {
        match result {
            Err(AuthorizeError::Redirect {
                error,
                state,
                redirect_uri,
            }) => {
                assert_eq!(redirect_uri, REDIRECT);
                (error.code, state)
            }
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_validates_and_round_trips() {
        let r =
            AuthorizationRequest::validate(&query("&scope=email"), &clients("")).expect("valid");
        assert_eq!(r.scopes, vec!["email"]);
        assert_eq!(r.state.as_deref(), Some("st"));
        let again = AuthorizationRequest::validate(
            &Params::parse(r.to_query().as_bytes()).expect("p"),
            &clients(""),
        )
        .expect("round trip");
        assert_eq!(again.to_query(), r.to_query());
    }

    #[test]
    fn a_scope_of_only_spaces_survives_the_trip_through_the_forms() {
        // Found by the authorize_query fuzz target's round-trip property.
        let c = clients("");
        let r = AuthorizationRequest::validate(&query("&scope=+"), &c).expect("valid");
        assert_eq!(r.scopes, vec!["profile", "email"]);
        let again =
            AuthorizationRequest::validate(&Params::parse(r.to_query().as_bytes()).expect("p"), &c)
                .expect("round trip");
        assert_eq!(again.scopes, r.scopes);
    }

    #[test]
    fn unknown_client_or_redirect_never_redirects() {
        let c = clients("");
        for q in [
            "response_type=code&client_id=nobody",
            "response_type=code",
            "response_type=code&client_id=alexa&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            // Prefix and subdomain tricks are not matches.
            "response_type=code&client_id=alexa&redirect_uri=https%3A%2F%2Flayla.amazon.com%2Fapi%2Fskill%2Flink%2FM1x",
            "response_type=code&client_id=alexa&redirect_uri=https%3A%2F%2Flayla.amazon.com.evil.example%2Fapi%2Fskill%2Flink%2FM1",
            // Several registered URIs (the three Alexa regions), none named.
            "response_type=code&client_id=alexa",
        ] {
            let r = AuthorizationRequest::validate(&Params::parse(q.as_bytes()).expect("p"), &c);
            assert!(matches!(r, Err(AuthorizeError::Untrusted(_))), "{q}: {r:?}");
        }
    }

    #[test]
    fn bad_response_type_scope_and_pkce_redirect_with_state() {
        let c = clients("");
        let bad_type = Params::parse(
            query("")
                .to_query_replacing("response_type", "token")
                .as_bytes(),
        )
        .expect("p");
        assert_eq!(
            redirect_error(AuthorizationRequest::validate(&bad_type, &c)),
            (ErrorCode::UnsupportedResponseType, Some("st".into()))
        );
        assert_eq!(
            redirect_error(AuthorizationRequest::validate(&query("&scope=admin"), &c)).0,
            ErrorCode::InvalidScope
        );
        let plain = Params::parse(
            query("")
                .to_query_replacing("code_challenge_method", "plain")
                .as_bytes(),
        )
        .expect("p");
        assert_eq!(
            redirect_error(AuthorizationRequest::validate(&plain, &c)).0,
            ErrorCode::InvalidRequest
        );
        let no_method = Params::parse(
            query("")
                .to_query_replacing("code_challenge_method", "")
                .as_bytes(),
        )
        .expect("p");
        assert_eq!(
            redirect_error(AuthorizationRequest::validate(&no_method, &c)).0,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn pkce_is_required_unless_the_client_opts_out() {
        let without = "response_type=code&client_id=alexa&redirect_uri=https%3A%2F%2Flayla.amazon.com%2Fapi%2Fskill%2Flink%2FM1";
        let p = Params::parse(without.as_bytes()).expect("p");
        assert_eq!(
            redirect_error(AuthorizationRequest::validate(&p, &clients(""))).0,
            ErrorCode::InvalidRequest
        );
        let r = AuthorizationRequest::validate(&p, &clients("pkce: OptionalInsecure\n"))
            .expect("opted out");
        assert_eq!(r.code_challenge, None);
    }

    #[test]
    fn clients_without_the_code_grant_are_unauthorized() {
        let c = clients("grantTypes: [client_credentials]\n");
        assert_eq!(
            redirect_error(AuthorizationRequest::validate(&query(""), &c)).0,
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn redirect_keeps_existing_query_and_names_the_issuer() {
        assert_eq!(
            redirect_with(
                "https://a.example/cb?x=1",
                "https://link.example",
                &[("code", "c d")],
                Some("s&t")
            ),
            "https://a.example/cb?x=1&code=c+d&state=s%26t&iss=https%3A%2F%2Flink.example"
        );
    }

    trait Replace {
        fn to_query_replacing(&self, name: &str, value: &str) -> String;
    }
    impl Replace for Params {
        fn to_query_replacing(&self, name: &str, value: &str) -> String {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for key in [
                "response_type",
                "client_id",
                "redirect_uri",
                "state",
                "code_challenge",
                "code_challenge_method",
            ] {
                let v = if key == name {
                    Some(value)
                } else {
                    self.get(key)
                };
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    q.append_pair(key, v);
                }
            }
            q.finish()
        }
    }
}
