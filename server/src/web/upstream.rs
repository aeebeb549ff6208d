//! Login delegated to an upstream OpenID Provider (identity backend `oidc`):
//! instead of the login page, `/oauth/authorize` redirects the browser to the
//! provider; `GET /oauth/callback` verifies the answer, starts the login
//! session and resumes the interrupted authorization request.
//!
//! The state, nonce, PKCE verifier and the interrupted request travel in an
//! encrypted, short-lived cookie, so any replica can take the callback.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::PrivateCookieJar;
use subtle::ConstantTimeEq;

use super::pages::{self, Ui};
use super::session::UpstreamLogin;
use crate::app::AppState;
use crate::identity::oidc::{OidcError, UpstreamOidc};
use crate::oauth::authorize::{AuthorizationRequest, redirect_with};
use crate::oauth::form::Params;
use crate::routes;

/// Sends the browser to the provider; `request` is resumed afterwards (or,
/// without one, the linked-apps page is shown).
pub async fn redirect(
    app: &AppState,
    ui: &Ui<'_>,
    oidc: &UpstreamOidc,
    request: Option<&AuthorizationRequest>,
    jar: PrivateCookieJar,
) -> Response {
    match oidc.start().await {
        Ok((url, pending)) => {
            let login = UpstreamLogin {
                pending,
                request: request.map(AuthorizationRequest::to_query),
                expires_at: app
                    .clock
                    .now()
                    .saturating_add(app.config.authorization.form_lifetime_seconds as i64),
            };
            let jar = app.cookies.start_upstream(jar, &login);
            pages::redirect(ui, StatusCode::FOUND, &url, Some(jar))
        }
        Err(e) => unavailable(app, ui, &e),
    }
}

/// `GET /oauth/callback`.
pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ui = app.pages.ui(&headers);
    let crate::app::Login::Upstream(oidc) = &app.login else {
        return pages::error(
            &ui,
            StatusCode::NOT_FOUND,
            "not-found-title",
            "no-upstream-text",
        );
    };
    let params = match Params::parse(query.as_deref().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return pages::invalid_request(&ui, &e.description),
    };
    let now = app.clock.now();
    let (jar, pending) = app.cookies.take_upstream(app.cookies.jar(&headers), now);
    let Some(pending) = pending else {
        app.metrics.login("upstream_expired");
        return expired(&ui);
    };
    let state_ok: bool = params
        .get("state")
        .map(|s| s.as_bytes().ct_eq(pending.pending.state.as_bytes()).into())
        .unwrap_or(false);
    if !state_ok {
        tracing::info!("upstream callback refused: state does not match");
        app.metrics.login("upstream_state");
        // The pending login is spent either way: a forged answer must not
        // leave it for a second try.
        return (jar, expired(&ui)).into_response();
    }
    // Re-validate the interrupted request: client config may have changed.
    let request = match pending.request.as_deref().map(|q| {
        Params::parse(q.as_bytes())
            .map_err(|_| ())
            .and_then(|p| AuthorizationRequest::validate(&p, &app.clients).map_err(|_| ()))
    }) {
        Some(Ok(r)) => Some(r),
        Some(Err(())) => {
            return pages::error(
                &ui,
                StatusCode::BAD_REQUEST,
                "untrusted-title",
                "stale-link-text",
            );
        }
        None => None,
    };
    let ui = match &request {
        Some(r) => ui.for_client(r.client.id()),
        None => ui,
    };
    if let Some(error) = params.get("error") {
        tracing::info!(error, "upstream provider returned an error");
        app.metrics.login("upstream_denied");
        return match &request {
            // The user declined (or the provider failed): tell the client,
            // whose redirect URI was validated again above.
            Some(r) => pages::redirect(
                &ui,
                StatusCode::FOUND,
                &redirect_with(
                    &r.redirect_uri,
                    app.issuer(),
                    &[
                        ("error", "access_denied"),
                        (
                            "error_description",
                            "sign-in at the identity provider did not complete",
                        ),
                    ],
                    r.state.as_deref(),
                ),
                Some(jar),
            ),
            None => pages::error(
                &ui,
                StatusCode::UNAUTHORIZED,
                "upstream-denied-title",
                "upstream-denied-text",
            ),
        };
    }
    let Some(code) = params.get("code") else {
        return pages::error(
            &ui,
            StatusCode::BAD_REQUEST,
            "invalid-request-title",
            "upstream-no-code-text",
        );
    };
    match oidc.finish(code, &pending.pending).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "user logged in upstream");
            let jar = app.cookies.start_session(jar, &user, now);
            let location = match &request {
                Some(r) => format!("{}?{}", routes::AUTHORIZE, r.to_query()),
                None => routes::LINKS.to_owned(),
            };
            pages::redirect(&ui, StatusCode::SEE_OTHER, &location, Some(jar))
        }
        Err(OidcError::Refused(e)) => {
            tracing::warn!(error = %e, "upstream login refused");
            app.metrics.login("upstream_refused");
            pages::error(
                &ui,
                StatusCode::UNAUTHORIZED,
                "upstream-unverified-title",
                "upstream-unverified-text",
            )
        }
        Err(e) => unavailable(&app, &ui, &e),
    }
}

fn expired(ui: &Ui<'_>) -> Response {
    pages::error(
        ui,
        StatusCode::BAD_REQUEST,
        "upstream-expired-title",
        "upstream-expired-text",
    )
}

fn unavailable(app: &AppState, ui: &Ui<'_>, e: &OidcError) -> Response {
    tracing::error!(error = %e, "upstream identity provider unavailable");
    app.metrics.login("unavailable");
    pages::error(
        ui,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable-title",
        "login-unavailable",
    )
}
