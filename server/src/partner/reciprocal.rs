//! `POST /api/reciprocal/authorize`: Alexa delivers an LWA authorization
//! code for the user it just linked.
//!
//! Alexa authenticates with the access token we issued it for that user
//! (`Authorization: Bearer`); the form body carries
//! `grant_type=reciprocal_authorization_code`, `code` and `client_id`. The
//! query never does: URLs end up in access logs, and a code seen there is
//! refused rather than exchanged. This endpoint decides whose code it is (the bearer token's
//! user, through the client's partner); [`custody`] exchanges it at LWA and
//! stores the tokens, replacing older ones.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::custody::{self, LinkOwner, Via};
use super::not_configured;
use crate::app::AppState;
use crate::oauth::bearer;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Params;
use crate::peer::client_ip;

/// `POST /api/reciprocal/authorize`.
pub async fn reciprocal(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let remote_addr = client_ip(&app, &extensions, &headers);
    match handle(&app, &headers, query.as_deref(), &body, remote_addr).await {
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
    let token = bearer::authenticate(app, headers).await?;
    if form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, _)| k == "code") {
        return Err(OAuthError::invalid_request(
            "the code must be sent in the POST body, never in the URL (URLs end up in access logs)",
        ));
    }
    let params = Params::from_form(headers, body)?;
    match params.require("grant_type")? {
        "reciprocal_authorization_code" => {}
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "grant_type must be reciprocal_authorization_code",
            ));
        }
    }
    let client_id = params.require("client_id")?;
    let forbidden = |m: &'static str| {
        OAuthError::new(ErrorCode::AccessDenied, m).with_status(StatusCode::FORBIDDEN)
    };
    if token.client_id != client_id {
        return Err(forbidden("the access token was not issued to client_id"));
    }
    let (Some(user_id), Some(grant_id)) = (&token.user_id, token.grant_id) else {
        return Err(forbidden(
            "the access token must be a user's token from account linking",
        ));
    };
    if app.partners.is_empty() {
        return Err(not_configured());
    }
    let Some(partner) = app.partners.for_client(client_id) else {
        return Err(OAuthError::invalid_request(
            "no partner is linked to this client",
        ));
    };
    let code = params.require("code")?;
    let owner = LinkOwner {
        user_id,
        client_id,
        grant_id,
    };
    custody::store_code(app, partner, owner, code, Via::Reciprocal, remote_addr).await?;
    let partner_id = &partner.config.id;
    Ok(axum::Json(json!({"status": "linked", "partner_id": partner_id})).into_response())
}
