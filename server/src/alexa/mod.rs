//! What a skill's backend forwards to us from Alexa: the event-gateway
//! grant of a smart-home (`Alexa.Authorization.AcceptGrant`) or custom
//! (`Alexa.Authorization.Grant`) skill, and the skill's lifecycle events
//! (`AlexaSkillEvent.*`).
//!
//! Alexa sends both to the skill, not to us; the skill's backend (a client
//! with `partnerTokenAccess`) forwards the JSON it received as it is. The
//! grant is an entry point of [`crate::partner::custody`]; the lifecycle
//! events keep our grants in step with the skill's enablement.

pub mod accept_grant;
mod envelope;
pub mod skill_events;

use axum::Router;
use axum::routing::post;

use crate::app::AppState;
use crate::routes;

/// The endpoints a skill backend forwards Alexa's messages to.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::ALEXA_ACCEPT_GRANT, post(accept_grant::accept_grant))
        .route(routes::ALEXA_SKILL_EVENTS, post(skill_events::skill_event))
}
