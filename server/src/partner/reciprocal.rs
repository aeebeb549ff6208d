//! `POST /api/reciprocal/authorize`: Alexa delivers an LWA authorization
//! code for the user it just linked.
//!
//! Alexa authenticates with the access token we issued it for that user
//! (`Authorization: Bearer`); the form (or, as the original sample accepted,
//! the query) carries `grant_type=reciprocal_authorization_code`, `code` and
//! `client_id`. We exchange the code at LWA and store the user's Amazon
//! tokens, replacing older ones. Nothing is stored unless LWA succeeded.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AmazonTokens, lwa_error, not_configured};
use crate::app::AppState;
use crate::oauth::bearer;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Params;
use crate::store::PartnerLinkRecord;

/// `POST /api/reciprocal/authorize`.
pub async fn reciprocal(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match handle(&app, &headers, query.as_deref(), &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let token = bearer::authenticate(app.store.as_ref(), headers, app.clock.now()).await?;
    let params = Params::from_body_and_query(headers, query, body)?;
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

    let lwa = partner.lwa.exchange_code(code).await.map_err(lwa_error)?;
    let Some(refresh_token) = lwa.refresh_token else {
        tracing::warn!(partner_id = %partner.config.id, "Login with Amazon answered a code exchange without a refresh token");
        return Err(OAuthError::new(
            ErrorCode::ServerError,
            "Login with Amazon returned no refresh token",
        )
        .with_status(StatusCode::BAD_GATEWAY));
    };
    let now = app.clock.now();
    let partner_id = &partner.config.id;
    let tokens = AmazonTokens {
        access_token: lwa.access_token,
        refresh_token,
    };
    let scope = lwa.scope.unwrap_or_else(|| partner.config.scopes.join(" "));
    let record = PartnerLinkRecord {
        user_id: user_id.clone(),
        partner_id: partner_id.clone(),
        client_id: client_id.to_owned(),
        grant_id,
        sealed_tokens: app.partners.seal(user_id, partner_id, &tokens)?,
        access_expires_at: now.saturating_add(lwa.expires_in),
        scope,
        updated_at: now,
        // The store sets the revision.
        revision: 0,
        refresh_lease: None,
    };
    if !app.store.put_partner_link(&record, now).await? {
        // The grant was revoked while we talked to LWA.
        return Err(bearer::invalid_token("the access token was revoked"));
    }
    tracing::info!(user_id = %user_id, partner_id = %partner_id, client_id, "mutual account link stored");
    Ok(axum::Json(json!({"status": "linked", "partner_id": partner_id})).into_response())
}
