//! `POST /oauth/logout`: signing out.
//!
//! The login session is a stateless encrypted cookie, so signing out does
//! two things: it records in the store that the session ended (every copy
//! of the cookie, on every replica, stops working: [`super::signed_in`]),
//! then removes the cookie, with the CSRF nonce bound to it and any pending
//! upstream login, from the browser. The form is CSRF-protected: another
//! site cannot sign a user out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::authorize::EXPIRED;
use super::pages::{self, SignedOutPage, Ui};
use super::signed_in;
use crate::app::AppState;
use crate::oauth::form::Params;
use crate::routes;
use crate::store::StoreError;

/// `POST /oauth/logout`.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let ui = app.pages.ui(&headers);
    let form = match Params::from_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::invalid_request(&ui, &e.description),
    };
    let now = app.clock.now();
    let (jar, session) = match signed_in::current(&app, app.cookies.jar(&headers)).await {
        Ok(v) => v,
        Err(e) => return unavailable(&ui, e),
    };
    match session {
        // Nobody to sign out (or the session already ended): say so all
        // the same, and tidy the cookies.
        None => {}
        Some(_) if !app.cookies.check_csrf(&jar, form.get("csrf"), now) => {
            app.metrics.login("csrf");
            return pages::error(&ui, StatusCode::FORBIDDEN, "not-signed-out-title", EXPIRED);
        }
        Some(session) => {
            // Before the cookie goes: if the record cannot be written, the
            // browser keeps its session and the user can try again, rather
            // than being told "signed out" while copies still work.
            if let Err(e) = signed_in::end(&app, &session).await {
                return unavailable(&ui, e);
            }
            tracing::info!(user_id = %session.user_id, "user signed out");
            app.metrics.login("signed_out");
        }
    }
    let page = SignedOutPage {
        links: routes::LINKS,
    };
    pages::render(
        &ui,
        StatusCode::OK,
        &page,
        Some(app.cookies.end_session(jar)),
    )
}

fn unavailable(ui: &Ui<'_>, e: StoreError) -> Response {
    tracing::error!(error = %e, "store operation failed while signing out");
    pages::error(
        ui,
        StatusCode::SERVICE_UNAVAILABLE,
        "not-signed-out-title",
        "sign-out-unavailable-text",
    )
}
