//! `POST /oauth/logout`: signing out.
//!
//! The login session is a stateless encrypted cookie (any replica can read
//! it, none keeps it), so signing out means removing it, with the CSRF
//! nonce bound to it and any pending upstream login, from the browser. The
//! form is CSRF-protected: another site cannot sign a user out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::authorize::EXPIRED;
use super::pages::{self, SignedOutPage};
use crate::app::AppState;
use crate::oauth::form::Params;
use crate::routes;

/// `POST /oauth/logout`.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match Params::from_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, "Invalid request", &e.description),
    };
    let jar = app.cookies.jar(&headers);
    let now = app.clock.now();
    match app.cookies.session(&jar, now) {
        // Nobody to sign out: say so all the same, and tidy the cookies.
        None => {}
        Some(_) if !app.cookies.check_csrf(&jar, form.get("csrf"), now) => {
            app.metrics.login("csrf");
            return pages::error(StatusCode::FORBIDDEN, "Not signed out", EXPIRED);
        }
        Some(session) => {
            tracing::info!(user_id = %session.user_id, "user signed out");
            app.metrics.login("signed_out");
        }
    }
    let page = SignedOutPage {
        links: routes::LINKS,
    };
    pages::render(StatusCode::OK, &page, Some(app.cookies.end_session(jar)))
}
