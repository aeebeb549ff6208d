//! OAuth 2.0 protocol logic: request validation, grants, client
//! authentication and the wire format of errors. Handlers here are thin:
//! parse, call the decision functions, map the outcome.

pub mod authorize;
pub mod bearer;
pub mod client_auth;
pub mod clients;
pub mod error;
pub mod form;
pub mod grants;
pub mod introspect;
pub mod metadata;
pub mod pkce;
pub mod refresh_policy;
pub mod revoke;
pub mod scope;
pub mod token;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;
use crate::routes;

/// The OAuth protocol endpoints (the authorization endpoint's pages are
/// [`crate::web`]'s).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::TOKEN, post(token::token))
        .route(routes::REVOKE, post(revoke::revoke))
        .route(routes::INTROSPECT, post(introspect::introspect))
        .route(routes::METADATA, get(metadata::metadata_document))
        .route(routes::JWKS, get(metadata::jwks_document))
}
