//! The browser-facing authorization flow: login and consent pages, in the
//! user's language ([`i18n`]) and the skill's look ([`branding`]).
//!
//! No server-side session: who is logged in, and the CSRF nonce, live in
//! short-lived cookies encrypted and authenticated with the session key
//! (AES-256-GCM), so any replica can serve any step without sticky sessions.
//! The store only remembers sessions ended early by signing out
//! ([`signed_in`]).

pub mod authorize;
pub mod branding;
pub mod consent;
pub mod i18n;
pub mod links;
pub mod login;
pub mod logout;
pub mod pages;
pub mod session;
pub mod signed_in;
pub mod upstream;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::routes;

/// The browser-facing routes: authorization, login, consent, the upstream
/// callback, the linked-apps page, signing out, and the branding style sheet.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::AUTHORIZE, get(authorize::authorize))
        .route(routes::LOGIN, post(login::login))
        .route(routes::CALLBACK, get(upstream::callback))
        .route(routes::CONSENT, post(consent::consent))
        .route(routes::LINKS, get(links::page).post(links::unlink))
        .route(routes::LOGOUT, post(logout::logout))
        .route(branding::STYLE_ROUTE, get(branding::style))
}
