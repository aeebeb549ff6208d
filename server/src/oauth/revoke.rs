//! Token revocation (RFC 7009). Revoking a refresh token ends its whole
//! grant (every access and refresh token descended from the same linking);
//! revoking an opaque access token ends that token. A sealed or JWT access
//! token has no record to delete: revoking one of a user's ends its grant
//! (RFC 7009 2.1 lets the server revoke the refresh token too), and a
//! `client_credentials` one is answered `unsupported_token_type` (it only
//! expires). Unknown tokens, and tokens of
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
use super::clients::Client;
use super::error::ErrorCode;
use super::error::OAuthError;
use super::form::Params;
use crate::app::AppState;
use crate::audit::RevokeReason;
use crate::partner::custody;
use crate::peer::client_ip;
use crate::tokens::TokenHash;
use crate::tokens::access::Presented;

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
    let presented = params.require("token")?;
    if Presented::of(presented) != Presented::Opaque {
        return revoke_self_contained(app, &client, presented, remote_addr).await;
    }
    let hash = TokenHash::of(presented);
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

async fn revoke_self_contained(
    app: &AppState,
    client: &Client,
    token: &str,
    remote_addr: Option<IpAddr>,
) -> Result<(), OAuthError> {
    let Some(record) = app.verify_access_token(token).await? else {
        return Ok(());
    };
    if record.client_id != client.id() {
        return Ok(());
    }
    match (&record.user_id, record.grant_id) {
        (Some(user_id), Some(grant)) => {
            custody::end_grant(
                app,
                user_id,
                client.id(),
                grant,
                RevokeReason::ClientRevocation,
                remote_addr,
            )
            .await?;
            Ok(())
        }
        _ => Err(OAuthError::new(
            ErrorCode::UnsupportedTokenType,
            "a sealed or JWT client_credentials access token cannot be revoked: it expires on its own",
        )),
    }
}
