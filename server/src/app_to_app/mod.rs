//! App-to-App account linking (Amazon's documented flow, both directions).
//!
//! From the developer's app: the app asks [`api::start`] for the Alexa app
//! URL (and the Login with Amazon fallback) carrying a single-use state
//! bound to its signed-in user; Amazon sends the user back to the app with
//! a code; the app hands code and state to [`api::complete`], which links
//! the skill at Alexa ([`flow::complete`]). From the Alexa app: Alexa opens
//! the app with an authorization request, which the app forwards to
//! [`api::authorize`] to get the redirect back to Alexa with our code.
//!
//! | file | room |
//! |---|---|
//! | `setup.rs` | the `appToApp` config resolved at start |
//! | `decide.rs` | pure decisions (URLs, state, outcomes) |
//! | `alexa_api.rs` | the Alexa API client (`alexaApiEndpoint`, enablement) |
//! | `amazon.rs` | the adapter to Amazon-token custody |
//! | `flow.rs` | the server side of each step |
//! | `api.rs` | the app's bearer-authenticated endpoints |
//! | `web.rs` | the web variant: "Link with Alexa" page and callback |
//! | `error.rs` | the errors, mapped to the wire once |

pub mod alexa_api;
pub mod amazon;
pub mod api;
pub mod decide;
pub mod error;
pub mod flow;
pub mod setup;
pub mod web;

use axum::Router;
use axum::routing::{get, post};

pub use setup::AppToApp;

use crate::app::AppState;
use crate::routes;

/// The App-to-App endpoints (they answer 404 when the section is absent).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::APP_TO_APP_START, post(api::start))
        .route(routes::APP_TO_APP_COMPLETE, post(api::complete))
        .route(routes::APP_TO_APP_STATUS, get(api::status))
        .route(routes::APP_TO_APP_UNLINK, post(api::unlink))
        .route(routes::APP_TO_APP_AUTHORIZE, post(api::authorize))
        .route(
            routes::APP_TO_APP_LINK_PAGE,
            get(web::link_page).post(web::start),
        )
        .route(routes::APP_TO_APP_CALLBACK, get(web::callback))
}
