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
use axum::http::{Extensions, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::caller;
use super::custody::{self, Reader};
use crate::app::AppState;
use crate::audit::RevokeReason;
use crate::identity::presence::Presence;
use crate::oauth::error::OAuthError;
use crate::oauth::form::Params;
use crate::peer::client_ip;

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
    let caller = caller::authenticate(app, remote_addr, headers, &params).await?;
    let user_id = params.require("user_id")?;
    let partner = app.partners.resolve(params.get("partner_id"))?;
    caller.may_read(partner)?;
    // A user removed from the identity backend keeps no Amazon tokens: the
    // grant they came through ends here, as at Alexa's next refresh.
    if app.users.verdict(user_id, None, app.clock.now()).await == Presence::Gone {
        let now = app.clock.now();
        if let Some(link) = app
            .store
            .get_partner_link(user_id, &partner.config.id, now)
            .await?
        {
            let reason = RevokeReason::UserDeprovisioned;
            custody::end_grant(
                app,
                user_id,
                &link.client_id,
                link.grant_id,
                reason,
                remote_addr,
            )
            .await?;
        }
        tracing::info!(
            partner_id = %partner.config.id,
            "partner token refused and grant revoked: the user is no longer in the identity backend"
        );
        return Err(custody::CustodyError::NotLinked.into());
    }
    let reader = Reader {
        client_id: &caller.client_id,
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
