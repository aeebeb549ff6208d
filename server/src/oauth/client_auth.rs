//! Client authentication as the endpoints do it (token, revocation,
//! introspection, partner token): the credentials checked, then the
//! throttle asked ([`crate::identity::throttle`]), so that guessing a
//! client's secret from one address slows down and then locks, across
//! every replica.
//!
//! A public client has no secret to guess: it is neither counted nor
//! throttled, and neither is a request that presents no secret at all.
//!
//! The secret is verified first (a hash comparison, not a password hash):
//! a right secret then costs one store read, a wrong one one write. While
//! a client is throttled at an address, a right secret gets the same
//! answer as a wrong one, so a guess cannot tell it was right.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{Extensions, HeaderMap, StatusCode};

use super::clients::{Client, credentials};
use super::error::{ErrorCode, OAuthError};
use super::form::Params;
use crate::app::AppState;
use crate::identity::throttle::TooEarly;
use crate::peer::client_ip;

/// Authenticates the calling client, throttled per client id and address.
/// A public client passes with its `client_id` alone: callers that need a
/// client able to keep a secret use [`authenticate_confidential`].
pub async fn authenticate(
    app: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Arc<Client>, OAuthError> {
    authenticate_from(app, client_ip(app, extensions, headers), headers, params).await
}

/// [`authenticate`] for a caller that already knows the client's address.
pub async fn authenticate_from(
    app: &AppState,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Arc<Client>, OAuthError> {
    // A malformed request is answered before anything is counted: it
    // proves nothing about any secret.
    let credentials = credentials(headers, params)?;
    let now = app.clock.now_millis();
    match app.clients.verify(&credentials) {
        Ok(client) if client.is_public() => Ok(client),
        Ok(client) => match app
            .throttle
            .client_allowed(&credentials.client_id, ip, now)
            .await?
        {
            Ok(()) => Ok(client),
            Err(early) => Err(throttled(&credentials.client_id, early)),
        },
        Err(failure) if !failure.is_guess() => {
            tracing::info!(client_id = %credentials.client_id, ip = ?ip, %failure, "client authentication failed");
            Err(failure.into())
        }
        Err(failure) => {
            let counted = app
                .throttle
                .client_failed(&credentials.client_id, ip, now)
                .await?;
            tracing::info!(client_id = %credentials.client_id, ip = ?ip, "client authentication failed");
            match counted {
                Ok(()) => Err(failure.into()),
                Err(early) => Err(throttled(&credentials.client_id, early)),
            }
        }
    }
}

fn throttled(client_id: &str, early: TooEarly) -> OAuthError {
    tracing::info!(
        client_id,
        retry_after = early.retry_after,
        "client authentication refused: too many failures"
    );
    OAuthError::invalid_client(format!(
        "too many failed client authentications from this address; retry in {} s",
        early.retry_after
    ))
    .with_status(StatusCode::TOO_MANY_REQUESTS)
    .with_retry_after(early.retry_after)
}

/// [`authenticate`] for endpoints a public client may not call
/// (introspection, RFC 7662 2.1): its id alone proves nothing about who is
/// asking, so it could learn about tokens it merely found.
pub async fn authenticate_confidential(
    app: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Arc<Client>, OAuthError> {
    let client = authenticate(app, extensions, headers, params).await?;
    if client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "a public client may not use this endpoint (it needs client authentication with a secret)",
        )
        .with_status(StatusCode::FORBIDDEN));
    }
    Ok(client)
}
