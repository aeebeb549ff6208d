//! `GET|POST /api/partner/token`: the skill developer's app asks for a
//! user's valid Amazon access token.
//!
//! The caller is a client with `partnerTokenAccess`, authenticated with HTTP
//! Basic (or body) client credentials, or with a bearer token from its
//! `client_credentials` grant carrying the `partner_token` scope.
//!
//! [`custody`] returns the stored access token while it has more than the
//! refresh margin left (one store read, one decryption), and otherwise
//! refreshes it at LWA first, one request at a time per user and partner.
//! The Amazon refresh token never leaves the server.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Extensions, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::custody::{self, Reader};
use crate::app::AppState;
use crate::config::PARTNER_TOKEN_SCOPE;
use crate::oauth::bearer;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Params;
use crate::oauth::scope;
use crate::web::login::client_ip;

#[derive(Serialize)]
struct PartnerTokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
}

/// `GET|POST /api/partner/token`.
pub async fn partner_token(
    State(app): State<AppState>,
    method: Method,
    extensions: Extensions,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let body: &[u8] = if method == Method::GET { &[] } else { &body };
    let remote_addr = client_ip(&app, &extensions, &headers);
    match handle(&app, &headers, query.as_deref(), body, remote_addr).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
    remote_addr: Option<IpAddr>,
) -> Result<Response, OAuthError> {
    // RFC 6749 2.3.1: credentials never travel in the URI (proxies log it).
    if form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, _)| k == "client_secret") {
        return Err(OAuthError::invalid_request(
            "client_secret must not be sent in the URL; use HTTP Basic or the POST body",
        ));
    }
    let params = Params::from_body_and_query(headers, query, body)?;
    let reader = authorize_caller(app, headers, &params).await?;
    let user_id = params.require("user_id")?;
    let partner = app.partners.resolve(params.get("partner_id"))?;
    let reader = Reader {
        client_id: &reader,
        remote_addr,
    };
    let token = custody::access_token(app, partner, user_id, reader).await?;
    let body = PartnerTokenResponse {
        access_token: &token.access_token,
        token_type: "bearer",
        expires_in: (token.expires_at - app.clock.now()).max(0),
        scope: &token.scope,
    };
    Ok(axum::Json(body).into_response())
}

/// The id of the calling client, once it proved it may read partner tokens.
async fn authorize_caller(
    app: &AppState,
    headers: &HeaderMap,
    params: &crate::oauth::form::Params,
) -> Result<String, OAuthError> {
    let denied = |m: &'static str| {
        OAuthError::new(ErrorCode::UnauthorizedClient, m).with_status(StatusCode::FORBIDDEN)
    };
    let client_id = if bearer::bearer(headers).is_some() {
        let token = bearer::authenticate(app.store.as_ref(), headers, app.clock.now()).await?;
        if token.user_id.is_some()
            || !scope::split(&token.scope)
                .iter()
                .any(|s| s == PARTNER_TOKEN_SCOPE)
        {
            return Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "a client_credentials token with the partner_token scope is required",
            ));
        }
        token.client_id
    } else {
        app.clients.authenticate(headers, params)?.id().to_owned()
    };
    match app.clients.get(&client_id) {
        Some(c) if c.config.partner_token_access => Ok(client_id),
        _ => Err(denied(
            "this client may not read partner tokens (partnerTokenAccess)",
        )),
    }
}
