//! Bearer-token authentication (RFC 6750) with the access tokens this
//! server issued, in any format: the reciprocal endpoint (Alexa, for a
//! user), the partner-token endpoint (a backend's `client_credentials`
//! token) and App-to-App use it.

use axum::http::{HeaderMap, header};

use super::error::{ErrorCode, OAuthError};
use crate::app::AppState;
use crate::store::AccessTokenRecord;

/// The `WWW-Authenticate` challenge for a missing or bad bearer token.
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"alexa-link\", error=\"invalid_token\"";

/// The bearer token of a request, if it uses the Bearer scheme.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `invalid_token` (401) with the Bearer challenge.
pub fn invalid_token(message: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, message).with_challenge(BEARER_CHALLENGE)
}

/// The record of the request's bearer token: one we issued, unexpired, of
/// an active grant.
pub async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<AccessTokenRecord, OAuthError> {
    let token = bearer(headers)
        .ok_or_else(|| invalid_token("an access token is required (Authorization: Bearer)"))?;
    app.verify_access_token(token)
        .await?
        .ok_or_else(|| invalid_token("the access token is invalid, expired or revoked"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer(&with_authorization("Bearer ala_x")), Some("ala_x"));
        assert_eq!(bearer(&with_authorization("bearer  ala_x ")), Some("ala_x"));
        assert_eq!(bearer(&with_authorization("Basic YTpi")), None);
        assert_eq!(bearer(&with_authorization("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
