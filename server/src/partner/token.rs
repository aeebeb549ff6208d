//! `GET|POST /api/partner/token`: the skill developer's app asks for a
//! user's valid Amazon access token.
//!
//! The caller is a client with `partnerTokenAccess`, authenticated with HTTP
//! Basic (or body) client credentials, or with a bearer token from its
//! `client_credentials` grant carrying the `partner_token` scope.
//!
//! The stored access token is returned while it has more than the refresh
//! margin left (one store read, one decryption). Otherwise it is refreshed
//! at LWA first, by one request at a time per user and partner: within this
//! process through a lock, across replicas through a lease in the store;
//! everyone else waits for that result. The Amazon refresh token never
//! leaves the server.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Extensions, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::lwa::LwaError;
use super::{AmazonTokens, Partner, lwa_error};
use crate::app::AppState;
use crate::config::PARTNER_TOKEN_SCOPE;
use crate::identity::presence::Presence;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Params;
use crate::oauth::scope;
use crate::oauth::{bearer, client_auth};
use crate::store::{Lease, LeaseOutcome, PartnerLinkRecord, UnixTime};
use crate::tokens;

#[derive(Serialize)]
struct PartnerTokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
}

/// How long a request waits for another's refresh before giving up (503).
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(10);
/// How often a waiter looks at the store again.
const POLL: Duration = Duration::from_millis(50);

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
    match handle(&app, &extensions, &headers, query.as_deref(), body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, OAuthError> {
    // RFC 6749 2.3.1: credentials never travel in the URI (proxies log it).
    if form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, _)| k == "client_secret") {
        return Err(OAuthError::invalid_request(
            "client_secret must not be sent in the URL; use HTTP Basic or the POST body",
        ));
    }
    let params = Params::from_body_and_query(headers, query, body)?;
    authorize_caller(app, extensions, headers, &params).await?;
    let user_id = params.require("user_id")?;
    let partner = app.partners.resolve(params.get("partner_id"))?;
    let partner_id = partner.config.id.as_str();

    let link = app
        .store
        .get_partner_link(user_id, partner_id, app.clock.now())
        .await?
        .ok_or_else(not_linked)?;
    // A user removed from the identity backend keeps no Amazon tokens: the
    // grant they came through ends here, as at Alexa's next refresh.
    if app.users.verdict(user_id, None, app.clock.now()).await == Presence::Gone {
        app.store
            .revoke_grant(&link.grant_id, app.clock.now())
            .await?;
        tracing::info!(
            partner_id,
            "partner token refused and grant revoked: the user is no longer in the identity backend"
        );
        return Err(not_linked());
    }
    let (access_token, expires_at, scope) = if fresh(&link, partner, app.clock.now()) {
        let tokens = app
            .partners
            .open(user_id, partner_id, &link.sealed_tokens)?;
        (tokens.access_token, link.access_expires_at, link.scope)
    } else {
        refresh(app, partner, user_id).await?
    };
    let body = PartnerTokenResponse {
        access_token: &access_token,
        token_type: "bearer",
        expires_in: (expires_at - app.clock.now()).max(0),
        scope: &scope,
    };
    Ok(axum::Json(body).into_response())
}

async fn authorize_caller(
    app: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    params: &crate::oauth::form::Params,
) -> Result<(), OAuthError> {
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
        client_auth::authenticate(app, extensions, headers, params)
            .await?
            .id()
            .to_owned()
    };
    match app.clients.get(&client_id) {
        Some(c) if c.config.partner_token_access => Ok(()),
        _ => Err(denied(
            "this client may not read partner tokens (partnerTokenAccess)",
        )),
    }
}

fn fresh(link: &PartnerLinkRecord, partner: &Partner, now: UnixTime) -> bool {
    link.access_expires_at - now > partner.config.refresh_margin_seconds as i64
}

fn not_linked() -> OAuthError {
    OAuthError::new(
        ErrorCode::NotLinked,
        "this user has no mutual account link with the partner",
    )
    .with_status(StatusCode::NOT_FOUND)
}

fn relink() -> OAuthError {
    OAuthError::invalid_grant(
        "Login with Amazon no longer accepts this user's tokens; the user must link the skill again",
    )
}

/// Refreshes the user's Amazon tokens, or waits for whoever is doing it.
async fn refresh(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
) -> Result<(String, UnixTime, String), OAuthError> {
    let partner_id = partner.config.id.as_str();
    let flight = app.partners.flight(user_id, partner_id);
    let result = {
        let _turn = flight.lock().await;
        refresh_once(app, partner, user_id).await
    };
    app.partners.land(user_id, partner_id, flight);
    result
}

async fn refresh_once(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
) -> Result<(String, UnixTime, String), OAuthError> {
    let partner_id = partner.config.id.as_str();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_REFRESH;
    let lease_seconds = 2 * partner.config.request_timeout_seconds as i64 + 5;
    loop {
        let now = app.clock.now();
        let lease = Lease {
            holder: tokens::random_id(),
            until: now.saturating_add(lease_seconds),
        };
        match app
            .store
            .acquire_partner_lease(user_id, partner_id, lease, now)
            .await?
        {
            LeaseOutcome::NotFound => return Err(not_linked()),
            LeaseOutcome::Acquired(link) if fresh(&link, partner, now) => {
                // Refreshed by another replica between our read and the lease.
                release(app, user_id, partner_id, lease).await;
                let tokens = app
                    .partners
                    .open(user_id, partner_id, &link.sealed_tokens)?;
                return Ok((tokens.access_token, link.access_expires_at, link.scope));
            }
            LeaseOutcome::Acquired(link) => {
                return refresh_with_lease(app, partner, link, lease).await;
            }
            LeaseOutcome::Held(link) if fresh(&link, partner, now) => {
                let tokens = app
                    .partners
                    .open(user_id, partner_id, &link.sealed_tokens)?;
                return Ok((tokens.access_token, link.access_expires_at, link.scope));
            }
            LeaseOutcome::Held(_) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(OAuthError::new(
                        ErrorCode::TemporarilyUnavailable,
                        "another refresh of this user's Amazon token is taking too long; retry later",
                    ));
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn release(app: &AppState, user_id: &str, partner_id: &str, lease: Lease) {
    if let Err(e) = app
        .store
        .finish_partner_refresh(user_id, partner_id, lease.holder, None, app.clock.now())
        .await
    {
        tracing::warn!(error = %e, "failed to release a partner refresh lease; it will lapse");
    }
}

async fn refresh_with_lease(
    app: &AppState,
    partner: &Partner,
    link: PartnerLinkRecord,
    lease: Lease,
) -> Result<(String, UnixTime, String), OAuthError> {
    let user_id = link.user_id.as_str();
    let partner_id = partner.config.id.as_str();
    let old = match app.partners.open(user_id, partner_id, &link.sealed_tokens) {
        Ok(t) => t,
        Err(e) => {
            release(app, user_id, partner_id, lease).await;
            return Err(e);
        }
    };
    match partner.lwa.refresh(&old.refresh_token).await {
        Ok(new) => {
            let now = app.clock.now();
            let tokens = AmazonTokens {
                // LWA may keep the refresh token; then the old one stays.
                refresh_token: new.refresh_token.unwrap_or(old.refresh_token),
                access_token: new.access_token,
            };
            let expires_at = now.saturating_add(new.expires_in);
            let sealed = app.partners.seal(user_id, partner_id, &tokens)?;
            let stored = app
                .store
                .finish_partner_refresh(
                    user_id,
                    partner_id,
                    lease.holder,
                    Some((sealed, expires_at)),
                    now,
                )
                .await?;
            if !stored {
                // Our lease lapsed (LWA was very slow) and someone else took
                // over; what we got is still a valid token to hand out.
                tracing::warn!(
                    partner_id,
                    "partner refresh finished after its lease lapsed"
                );
            }
            tracing::info!(partner_id, user_id, "Amazon access token refreshed");
            Ok((
                tokens.access_token,
                expires_at,
                new.scope.unwrap_or(link.scope),
            ))
        }
        Err(LwaError::InvalidGrant(detail)) => {
            tracing::warn!(partner_id, user_id, %detail, "Amazon refresh token rejected; deleting the link");
            app.store
                .delete_partner_link(user_id, partner_id, Some(link.grant_id))
                .await?;
            Err(relink())
        }
        Err(e) => {
            release(app, user_id, partner_id, lease).await;
            Err(lwa_error(e))
        }
    }
}
