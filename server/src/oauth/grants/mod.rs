//! The token endpoint's grants. Each module decides one grant type; this one
//! holds what they share: minting tokens and the success response.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use std::net::IpAddr;

use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::clients::Client;
use super::error::{ErrorCode, OAuthError};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{AccessTokenRecord, GrantId, RefreshState, RefreshTokenRecord, Store, UnixTime};
use crate::tokens::access::{AccessTokens, MintedAccess};
use crate::tokens::{self, NewToken, TokenKind};

/// What a grant needs from the server, and nothing more: the store, the
/// time, and the metrics its audit entries are counted in. A grant can be
/// run against any store and a test clock.
#[derive(Clone, Copy)]
pub struct GrantContext<'a> {
    /// Codes, grants and tokens.
    pub store: &'a dyn Store,
    /// The access-token formats and their keys.
    pub access_tokens: &'a AccessTokens,
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

/// JSON; `Cache-Control: no-store` comes from the router's one layer.
impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
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

/// A new refresh token for a grant, with its record (idle lifetime applied).
pub(crate) fn mint_refresh(
    client: &Client,
    user_id: &str,
    scope: &str,
    grant_id: GrantId,
    now: UnixTime,
) -> (NewToken, RefreshTokenRecord) {
    let token = tokens::generate(TokenKind::RefreshToken);
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
    (token, record)
}
