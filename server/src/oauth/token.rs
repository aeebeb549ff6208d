//! The token endpoint (RFC 6749 3.2): authenticate the client, pick the
//! grant, answer with tokens or an RFC 6749 5.2 error.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use std::time::{Duration, Instant};

use super::client_auth;
use super::clients::basic_credentials;
use super::error::{ErrorCode, OAuthError};
use super::form::Params;
use super::grants::{self, GrantContext, TokenResponse};
use crate::app::AppState;
use crate::config::GrantType;
use crate::flight_recorder::{ClientAuth, Entry, Step};
use crate::peer::client_ip;

/// `POST /oauth/token`.
///
/// Takes the request whole: the framework's `HeaderMap` and `Extensions`
/// extractors each clone theirs (allocations per request), while the
/// headers can be moved out and the extensions read in place. The body is
/// then read as the `Bytes` extractor reads it (the body limit included).
pub async fn token(State(app): State<AppState>, mut request: Request) -> Response {
    let started = Instant::now();
    let headers = std::mem::take(request.headers_mut());
    let remote_addr = client_ip(&app, request.extensions(), &headers);
    let body = match Bytes::from_request(request, &app).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let (grant, result) = handle(&app, &headers, &body, remote_addr).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => e.code.as_str(),
    };
    app.metrics
        .grant(grant.map_or("unknown", GrantType::as_str), outcome);
    // Code exchanges are linking attempts; failures of any grant explain an
    // unlink. Successful refreshes and client_credentials stay off the
    // recorder (and off the hot path).
    if grant == Some(GrantType::AuthorizationCode) || result.is_err() {
        record(&app, &headers, &body, grant, &result, started.elapsed());
    }
    match result {
        Ok(tokens) => tokens.into_response(),
        Err(e) => e.into_response(),
    }
}

/// What the flight recorder keeps of a token request: how the client
/// authenticated and whether a PKCE verifier came, never their values.
fn record(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    grant: Option<GrantType>,
    result: &Result<TokenResponse, OAuthError>,
    latency: Duration,
) {
    let params = Params::from_form(headers, body).ok();
    let param = |name: &str| params.as_ref().and_then(|p| p.get(name));
    let basic = basic_credentials(headers).ok().flatten();
    let (client_id, client_auth) = match (&basic, param("client_secret")) {
        (Some((id, _)), _) => (id.as_str(), ClientAuth::Basic),
        (None, Some(_)) => (param("client_id").unwrap_or_default(), ClientAuth::Body),
        (None, None) => (param("client_id").unwrap_or_default(), ClientAuth::None),
    };
    let mut entry = match result {
        Ok(_) => Entry::new(app.clock.now(), Step::Token, "ok"),
        Err(e) => {
            let mut entry = Entry::new(app.clock.now(), Step::Token, e.code.as_str());
            entry.error_description = Some(Entry::clip(&e.description));
            entry
        }
    };
    entry.grant_type = grant
        .map(|g| g.as_str().to_owned())
        .or_else(|| param("grant_type").map(Entry::clip));
    entry.redirect_uri = param("redirect_uri").map(Entry::clip);
    if grant == Some(GrantType::AuthorizationCode) {
        entry.pkce = Some(param("code_verifier").is_some());
    }
    entry.client_auth = Some(client_auth);
    entry.latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    app.flight_recorder.record(&app.metrics, client_id, entry);
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    remote_addr: Option<IpAddr>,
) -> (Option<GrantType>, Result<TokenResponse, OAuthError>) {
    let params = match Params::from_form(headers, body) {
        Ok(p) => p,
        Err(e) => return (None, Err(e)),
    };
    let grant = match params.get("grant_type") {
        None => {
            return (
                None,
                Err(OAuthError::invalid_request("missing parameter grant_type")),
            );
        }
        Some("authorization_code") => GrantType::AuthorizationCode,
        Some("refresh_token") => GrantType::RefreshToken,
        Some("client_credentials") => GrantType::ClientCredentials,
        Some(_) => {
            return (
                None,
                Err(OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    "the grant_type is not supported",
                )),
            );
        }
    };
    let client = match client_auth::authenticate_from(app, remote_addr, headers, &params).await {
        Ok(c) => c,
        Err(e) => return (Some(grant), Err(e)),
    };
    if !client.allows(grant) {
        return (
            Some(grant),
            Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {} grant", grant.as_str()),
            )),
        );
    }
    let ctx = GrantContext {
        store: app.store.as_ref(),
        access_tokens: &app.access_tokens,
        refresh_tokens: &app.refresh_tokens,
        clock: &app.clock,
        metrics: &app.metrics,
        remote_addr,
    };
    let result = match grant {
        GrantType::AuthorizationCode => {
            grants::authorization_code::exchange(&ctx, &client, &params).await
        }
        GrantType::RefreshToken => {
            grants::refresh_token::exchange(&ctx, &app.users, &client, &params).await
        }
        GrantType::ClientCredentials => {
            grants::client_credentials::exchange(&ctx, &client, &params).await
        }
    };
    (Some(grant), result)
}
