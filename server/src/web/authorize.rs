//! `GET /oauth/authorize`: the start of the browser-facing flow, and what
//! its two forms ([`super::login`], [`super::consent`]) share.
//!
//! The flow: validate the request; if nobody is logged in, show the login
//! page; once logged in, show the consent page unless the client skips it or
//! the user already agreed to these scopes; then redirect to the client with
//! a code. Every form carries the original request, which is validated again
//! when it comes back, and a CSRF nonce bound to an encrypted cookie.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::consent::proceed;
use super::login::sign_in;
use super::pages::{self, Ui};
use super::signed_in;
use crate::app::AppState;
use crate::flight_recorder::{Entry, Step};
use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError, redirect_with};
use crate::oauth::form::Params;
use crate::store::StoreError;

/// `GET /oauth/authorize`.
pub async fn authorize(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.as_deref().unwrap_or("").as_bytes();
    // OpenID Connect's ui_locales: the language the client asks for, kept
    // for the rest of the flow.
    let ui_locales = Params::parse(raw).ok();
    let ui_locales = ui_locales.as_ref().and_then(|p| p.get("ui_locales"));
    let ui = app.pages.ui(&headers).prefer(ui_locales);
    let request = match parse_request(&app, &ui, raw) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let ui = ui.for_client(request.client.id());
    let (jar, session) = match signed_in::current(&app, app.cookies.jar(&headers)).await {
        Ok(v) => v,
        Err(e) => return unavailable(&ui, e),
    };
    match session {
        Some(session) => proceed(&app, &ui, &request, &session, jar, StatusCode::FOUND).await,
        None => sign_in(&app, &ui, Some(&request), jar).await,
    }
}

/// What a form shows when its CSRF nonce is missing or stale (a message id).
pub(super) const EXPIRED: &str = "page-expired";

// The error is the finished page to send; it is built once, off the hot path.
#[allow(clippy::result_large_err)]
pub(super) fn parse_request(
    app: &AppState,
    ui: &Ui<'_>,
    raw: &[u8],
) -> Result<AuthorizationRequest, Response> {
    let params = Params::parse(raw).map_err(|e| pages::invalid_request(ui, &e.description))?;
    AuthorizationRequest::validate(&params, &app.clients).map_err(|e| {
        record_refusal(app, &params, &e);
        refuse(app, ui, e)
    })
}

/// What the flight recorder keeps of a refused request: never the state.
fn record_refusal(app: &AppState, params: &Params, error: &AuthorizeError) {
    let (outcome, description) = match error {
        AuthorizeError::Untrusted(message) => ("untrusted_request", message.as_str()),
        AuthorizeError::Redirect { error, .. } => (error.code.as_str(), error.description.as_ref()),
    };
    let mut entry = Entry::new(app.clock.now(), Step::Authorize, outcome);
    entry.error_description = Some(Entry::clip(description));
    entry.redirect_uri = params.get("redirect_uri").map(Entry::clip);
    entry.pkce = Some(params.get("code_challenge").is_some());
    app.flight_recorder.record(
        &app.metrics,
        params.get("client_id").unwrap_or_default(),
        entry,
    );
}

#[allow(clippy::result_large_err)]
pub(super) fn parse_form(
    app: &AppState,
    ui: &Ui<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, AuthorizationRequest), Response> {
    let form =
        Params::from_form(headers, body).map_err(|e| pages::invalid_request(ui, &e.description))?;
    let Some(raw) = form.get("request") else {
        return Err(pages::error(
            ui,
            StatusCode::BAD_REQUEST,
            "invalid-request-title",
            "missing-request-text",
        ));
    };
    let request = parse_request(app, ui, raw.as_bytes())?;
    Ok((form, request))
}

/// RFC 6749 4.1.2.1: redirect the error only to a trusted redirect URI.
fn refuse(app: &AppState, ui: &Ui<'_>, error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Untrusted(message) => {
            app.metrics.authorize_error("untrusted_request");
            pages::error_with_detail(
                ui,
                StatusCode::BAD_REQUEST,
                "untrusted-title",
                "untrusted-text",
                Some(&message),
            )
        }
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        } => {
            app.metrics.authorize_error(error.code.as_str());
            let location = redirect_with(
                &redirect_uri,
                app.issuer(),
                &[
                    ("error", error.code.as_str()),
                    ("error_description", &error.description),
                ],
                state.as_deref(),
            );
            pages::redirect(ui, StatusCode::FOUND, &location, None)
        }
    }
}

/// The page for a store failure in the middle of the flow.
pub(super) fn unavailable(ui: &Ui<'_>, e: StoreError) -> Response {
    tracing::error!(error = %e, "store operation failed during authorization");
    pages::error(
        ui,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable-title",
        "unavailable-text",
    )
}
