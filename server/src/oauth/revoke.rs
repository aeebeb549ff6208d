//! Token revocation (RFC 7009). Revoking a refresh token ends its whole
//! grant (every access and refresh token descended from the same linking);
//! revoking an access token ends that token. Unknown tokens, and tokens of
//! other clients, are answered 200 without effect, so the endpoint cannot
//! be used to probe for valid tokens.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::error::OAuthError;
use super::form::Params;
use crate::app::AppState;
use crate::tokens::TokenHash;

/// `POST /oauth/revoke`.
pub async fn revoke(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, &extensions, &headers, &body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthError> {
    let params = Params::from_form(headers, body)?;
    let client = client_auth::authenticate(app, extensions, headers, &params).await?;
    let hash = TokenHash::of(params.require("token")?);
    let now = app.clock.now();
    if let Some(lookup) = app.store.get_refresh_token(&hash, now).await? {
        if lookup.token.client_id == client.id() {
            app.store.revoke_grant(&lookup.token.grant_id, now).await?;
            tracing::info!(client_id = %client.id(), "grant revoked by its client");
        }
        return Ok(());
    }
    if let Some(token) = app.store.get_access_token(&hash, now).await?
        && token.client_id == client.id()
    {
        app.store.delete_access_token(&hash).await?;
    }
    Ok(())
}
