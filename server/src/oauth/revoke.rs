//! Token revocation (RFC 7009). Revoking a refresh token ends its whole
//! grant (every access and refresh token descended from the same linking);
//! revoking an access token ends that token. Unknown tokens, and tokens of
//! other clients, are answered 200 without effect, so the endpoint cannot
//! be used to probe for valid tokens. A public client revokes its own
//! tokens with its `client_id` alone (RFC 7009 2.1 authenticates only a
//! confidential client).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::error::OAuthError;
use super::form::Params;
use crate::app::AppState;
use crate::audit::RevokeReason;
use crate::partner::custody;
use crate::peer::client_ip;
use crate::tokens::TokenHash;

/// `POST /oauth/revoke`.
pub async fn revoke(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let remote_addr = client_ip(&app, &extensions, &headers);
    match handle(&app, &headers, &body, remote_addr).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    remote_addr: Option<IpAddr>,
) -> Result<(), OAuthError> {
    let params = Params::from_form(headers, body)?;
    let client = client_auth::authenticate_from(app, remote_addr, headers, &params).await?;
    let hash = TokenHash::of(params.require("token")?);
    let now = app.clock.now();
    if let Some(lookup) = app.store.get_refresh_token(&hash, now).await? {
        let token = &lookup.token;
        if token.client_id == client.id() {
            let reason = RevokeReason::ClientRevocation;
            custody::end_grant(
                app,
                &token.user_id,
                client.id(),
                token.grant_id,
                reason,
                remote_addr,
            )
            .await?;
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
