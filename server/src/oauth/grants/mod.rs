//! The token endpoint's grants. Each module decides one grant type; this one
//! holds what they share: minting tokens and the success response.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use std::net::IpAddr;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::clients::Client;
use super::error::{ErrorCode, OAuthError};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{AccessTokenRecord, GrantId, RefreshState, RefreshTokenRecord, Store, UnixTime};
use crate::tokens::NewToken;
use crate::tokens::access::{AccessTokens, MintedAccess};
use crate::tokens::refresh::RefreshTokens;

/// What a grant needs from the server, and nothing more: the store, the
/// time, and the metrics its audit entries are counted in. A grant can be
/// run against any store and a test clock.
#[derive(Clone, Copy)]
pub struct GrantContext<'a> {
    /// Codes, grants and tokens.
    pub store: &'a dyn Store,
    /// The access-token formats and their keys.
    pub access_tokens: &'a AccessTokens,
    /// Refresh tokens, and the key ring of their claims.
    pub refresh_tokens: &'a RefreshTokens,
    /// Time.
    pub clock: &'a Clock,
    /// Where audit entries are counted.
    pub metrics: &'a Metrics,
    /// The caller's address, for audit entries, when known.
    pub remote_addr: Option<IpAddr>,
}

/// A successful token response (RFC 6749 5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token, when one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// The JSON of a token response without its values: the names, quotes,
/// `Bearer` and a 20-digit `expires_in`.
const TOKEN_RESPONSE_OVERHEAD: usize = 128;

/// JSON; `Cache-Control: no-store` comes from the router's one layer. The
/// body is written once into a buffer sized from the values (the framework's
/// JSON response starts small and grows as it writes) and handed to the
/// response without a copy.
impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let capacity = TOKEN_RESPONSE_OVERHEAD
            + self.access_token.len()
            + self.refresh_token.as_ref().map_or(0, String::len)
            + self.scope.len();
        let mut body = Vec::with_capacity(capacity);
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            // Strings and an integer always serialise; only a bug gets here.
            Err(e) => {
                tracing::error!(error = %e, "a token response could not be serialised");
                OAuthError::new(ErrorCode::ServerError, "internal error").into_response()
            }
        }
    }
}

/// A new access token for `client` in the client's format, with its
/// record (to be stored only when [`MintedAccess::stored`] says so).
pub(crate) fn mint_access(
    ctx: &GrantContext<'_>,
    client: &Client,
    user_id: Option<&str>,
    scope: &str,
    grant_id: Option<GrantId>,
    now: UnixTime,
) -> Result<MintedAccess, OAuthError> {
    let record = AccessTokenRecord {
        client_id: client.id().to_owned(),
        user_id: user_id.map(str::to_owned),
        scope: scope.to_owned(),
        grant_id,
        issued_at: now,
        expires_at: now.saturating_add(client.config.access_token_lifetime_seconds as i64),
    };
    ctx.access_tokens
        .mint(
            client.config.access_token_format,
            client.config.access_token_audience.as_deref(),
            record,
        )
        .map_err(|e| {
            tracing::error!(client_id = %client.id(), "{e}");
            OAuthError::new(
                ErrorCode::ServerError,
                "the access token could not be issued",
            )
        })
}

/// A new refresh token for a grant created at `grant_created_at`, with its
/// record (idle lifetime applied); it carries its claims when the server
/// has keys ([`crate::tokens::refresh`]).
pub(crate) fn mint_refresh(
    ctx: &GrantContext<'_>,
    client: &Client,
    user_id: &str,
    scope: &str,
    grant: (GrantId, UnixTime),
    now: UnixTime,
) -> (NewToken, RefreshTokenRecord) {
    let (grant_id, grant_created_at) = grant;
    let record = RefreshTokenRecord {
        grant_id,
        client_id: client.id().to_owned(),
        user_id: user_id.to_owned(),
        scope: scope.to_owned(),
        issued_at: now,
        expires_at: client
            .config
            .refresh_token
            .idle_lifetime_seconds
            .map(|s| now.saturating_add(s as i64)),
        state: RefreshState::Active,
    };
    (ctx.refresh_tokens.mint(&record, grant_created_at), record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_response_is_its_json_in_one_buffer() {
        let response = TokenResponse {
            access_token: "ala_abc".into(),
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: Some("alr_def".into()),
            scope: "profile devices".into(),
        }
        .into_response();
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static("application/json"))
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        assert_eq!(
            std::str::from_utf8(&body).expect("utf-8"),
            r#"{"access_token":"ala_abc","token_type":"Bearer","expires_in":3600,"refresh_token":"alr_def","scope":"profile devices"}"#
        );

        let bare = TokenResponse {
            access_token: "ala_\"q".into(),
            token_type: "Bearer",
            expires_in: 0,
            refresh_token: None,
            scope: String::new(),
        }
        .into_response();
        let body = axum::body::to_bytes(bare.into_body(), 4096)
            .await
            .expect("body");
        assert_eq!(
            std::str::from_utf8(&body).expect("utf-8"),
            r#"{"access_token":"ala_\"q","token_type":"Bearer","expires_in":0}"#,
            "no refresh token or scope when there is none; values escaped"
        );
    }
}
