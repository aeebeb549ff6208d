//! Token introspection (RFC 7662). A client learns about its own tokens
//! only: another client's token is reported inactive, as an unknown one is.
//! Public clients may not introspect: RFC 7662 2.1 asks for the caller to be
//! authorized, and a client id alone authorizes nobody.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::client_auth;
use super::error::OAuthError;
use super::form::Params;
use super::refresh_policy;
use crate::app::AppState;
use crate::tokens::TokenHash;
use crate::tokens::access::Presented;

#[derive(Serialize, Default)]
struct Introspection<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
}

/// `POST /oauth/introspect`.
pub async fn introspect(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, &extensions, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let params = Params::from_form(headers, body)?;
    let client = client_auth::authenticate_confidential(app, extensions, headers, &params).await?;
    let token = params.require("token")?;
    let now = app.clock.now();
    let issuer = app.issuer();
    // Sealed and JWT tokens are access tokens by their form: no refresh
    // token lookup for them.
    let self_contained = Presented::of(token) != Presented::Opaque;
    let refresh_first = !self_contained && params.get("token_type_hint") == Some("refresh_token");
    let mut result = Introspection::default();
    for round in 0..2 {
        if (round == 0) != refresh_first {
            if let Some(t) = app.verify_access_token(token).await?
                && t.client_id == client.id()
            {
                result = Introspection {
                    active: true,
                    scope: Some(t.scope),
                    client_id: Some(t.client_id),
                    sub: t.user_id,
                    token_type: Some("Bearer"),
                    exp: Some(t.expires_at),
                    iat: Some(t.issued_at),
                    iss: Some(issuer),
                };
                break;
            }
        } else if self_contained {
            break;
        } else if let Some(l) = app
            .store
            .get_refresh_token(&TokenHash::of(token), now)
            .await?
            && refresh_policy::assess(
                Some(&l),
                client.id(),
                client.config.refresh_token.grace_period_seconds,
                now,
            )
            .is_active()
        {
            result = Introspection {
                active: true,
                scope: Some(l.token.scope),
                client_id: Some(l.token.client_id),
                sub: Some(l.token.user_id),
                token_type: Some("refresh_token"),
                exp: l.token.expires_at,
                iat: Some(l.token.issued_at),
                iss: Some(issuer),
            };
            break;
        }
    }
    Ok(Json(result).into_response())
}
