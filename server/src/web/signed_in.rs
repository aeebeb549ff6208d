//! Who is signed in: the login session cookie, unless that session was
//! ended by signing out.
//!
//! The session cookie is stateless (any replica can read it, none keeps
//! it), so removing it from one browser cannot end a copy of it taken
//! earlier. Signing out therefore also leaves a small record in the store,
//! "the session hashed to H ended", kept until the session would have
//! expired anyway; every page that uses a session reads it, so a copied
//! cookie stops working at once, on every replica sharing the store. The
//! token endpoint never looks at sessions and never pays for this read.

use axum_extra::extract::cookie::PrivateCookieJar;

use super::session::LoginSession;
use crate::app::AppState;
use crate::store::StoreError;
use crate::tokens::TokenHash;

/// The signed-in session of a request, if any, and the jar to answer with.
///
/// One store read, and only when the request carries an unexpired session
/// cookie. A session ended by signing out counts as none, and the returned
/// jar tells the browser to drop its cookie. A store failure is an error,
/// never "signed in": the caller answers that it is temporarily
/// unavailable.
pub async fn current(
    app: &AppState,
    jar: PrivateCookieJar,
) -> Result<(PrivateCookieJar, Option<LoginSession>), StoreError> {
    let now = app.clock.now();
    let Some(session) = app.cookies.session_cookie(&jar, now) else {
        return Ok((jar, None));
    };
    if app.store.session_ended(&key(&session), now).await? {
        // A copy of a signed-out cookie in use: worth seeing in the metrics.
        tracing::info!(user_id = %session.user_id, "refused a session ended by signing out");
        app.metrics.login("ended_session");
        return Ok((app.cookies.forget_session(jar), None));
    }
    Ok((jar, Some(session)))
}

/// Ends `session` for every copy of its cookie and on every replica, until
/// its own expiry.
pub async fn end(app: &AppState, session: &LoginSession) -> Result<(), StoreError> {
    app.store
        .end_session(&key(session), session.expires_at)
        .await
}

/// What the store knows a session by: a hash of its random id, as tokens
/// are kept, so the store never holds the id itself.
fn key(session: &LoginSession) -> TokenHash {
    TokenHash::of(&session.session_id)
}
