//! The token endpoint (RFC 6749 3.2): authenticate the client, pick the
//! grant, answer with tokens or an RFC 6749 5.2 error.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::error::{ErrorCode, OAuthError};
use super::form::Params;
use super::grants::{self, GrantContext, TokenResponse};
use crate::app::AppState;
use crate::config::GrantType;

/// `POST /oauth/token`.
pub async fn token(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (grant, result) = handle(&app, &extensions, &headers, &body).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => e.code.as_str(),
    };
    app.metrics
        .grant(grant.map_or("unknown", GrantType::as_str), outcome);
    match result {
        Ok(tokens) => tokens.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    body: &[u8],
) -> (Option<GrantType>, Result<TokenResponse, OAuthError>) {
    let params = match Params::from_form(headers, body) {
        Ok(p) => p,
        Err(e) => return (None, Err(e)),
    };
    let grant = match params.get("grant_type") {
        None => {
            return (
                None,
                Err(OAuthError::invalid_request("missing parameter grant_type")),
            );
        }
        Some("authorization_code") => GrantType::AuthorizationCode,
        Some("refresh_token") => GrantType::RefreshToken,
        Some("client_credentials") => GrantType::ClientCredentials,
        Some(_) => {
            return (
                None,
                Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    "the grant_type is not supported",
                )),
            );
        }
    };
    let client = match client_auth::authenticate(app, extensions, headers, &params).await {
        Ok(c) => c,
        Err(e) => return (Some(grant), Err(e)),
    };
    if !client.allows(grant) {
        return (
            Some(grant),
            Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {} grant", grant.as_str()),
            )),
        );
    }
    let ctx = GrantContext {
        store: app.store.as_ref(),
        clock: &app.clock,
    };
    let result = match grant {
        GrantType::AuthorizationCode => {
            grants::authorization_code::exchange(&ctx, &client, &params).await
        }
        GrantType::RefreshToken => {
            grants::refresh_token::exchange(&ctx, &app.users, &client, &params).await
        }
        GrantType::ClientCredentials => {
            grants::client_credentials::exchange(&ctx, &client, &params).await
        }
    };
    (Some(grant), result)
}
