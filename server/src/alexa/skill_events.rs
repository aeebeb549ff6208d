//! `POST /api/alexa/skill-events`: a skill backend forwards the skill events
//! Alexa sent it, and our grants follow the skill's enablement.
//!
//! Alexa sends `AlexaSkillEvent.SkillEnabled`, `SkillDisabled`,
//! `SkillAccountLinked`, `SkillPermissionAccepted` and
//! `SkillPermissionChanged` as request envelopes: the Alexa user id in
//! `context.System.user.userId`, and, once the user linked, our access
//! token in `context.System.user.accessToken` (`SkillAccountLinked` also
//! in `request.body.accessToken`). The backend posts the envelope as it
//! is, authenticated as a client with `partnerTokenAccess`.
//!
//! - An event carrying a valid access token records which of our users
//!   (and grant) the Alexa user id belongs to. The Alexa user id changes
//!   when a skill is disabled and enabled again, so the latest event wins.
//! - `SkillDisabled` ends the user's grant: its tokens stop working and the
//!   user's Amazon tokens are deleted ([`custody::end_grant`]). Its user is
//!   found from the access token, or, without one (or with one that
//!   expired), from the recorded Alexa user id.
//! - Any other event type is answered 200 and ignored, so that Alexa does
//!   not retry it for ever; a malformed envelope is `400 invalid_request`.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::envelope::Context;
use crate::app::AppState;
use crate::audit::{Audit, AuditEvent, RevokeReason};
use crate::oauth::error::OAuthError;
use crate::oauth::form::Params;
use crate::partner::caller::{self, PartnerCaller};
use crate::partner::custody;
use crate::peer::client_ip;
use crate::store::{AlexaUserRecord, GrantId};

/// The skill events this server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkillEventKind {
    /// `AlexaSkillEvent.SkillEnabled`.
    Enabled,
    /// `AlexaSkillEvent.SkillDisabled`.
    Disabled,
    /// `AlexaSkillEvent.SkillAccountLinked`.
    AccountLinked,
    /// `AlexaSkillEvent.SkillPermissionAccepted` or `SkillPermissionChanged`.
    PermissionChanged,
    /// Anything else: acknowledged and ignored.
    Other(String),
}

/// A skill event, as forwarded.
#[derive(Debug, PartialEq, Eq)]
pub struct SkillEvent {
    /// What happened.
    pub kind: SkillEventKind,
    /// Alexa's id of the user (`amzn1.ask.account...`).
    pub alexa_user_id: String,
    /// Our access token for the user, when the user had linked.
    pub access_token: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    context: Context,
    request: Request,
}

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    body: Option<RequestBody>,
}

#[derive(Deserialize)]
struct RequestBody {
    #[serde(rename = "accessToken")]
    access_token: Option<String>,
}

impl SkillEvent {
    /// Reads a forwarded skill-event envelope.
    pub fn parse(body: &[u8]) -> Result<SkillEvent, OAuthError> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
            OAuthError::invalid_request(format!(
                "the body must be the JSON envelope of an Alexa skill event: {e}"
            ))
        })?;
        let Envelope { context, request } = envelope;
        let user = context.system.user;
        let Some(alexa_user_id) = user.user_id.filter(|id| !id.is_empty()) else {
            return Err(OAuthError::invalid_request(
                "context.System.user.userId is missing or empty",
            ));
        };
        let kind = match request.kind.as_str() {
            "AlexaSkillEvent.SkillEnabled" => SkillEventKind::Enabled,
            "AlexaSkillEvent.SkillDisabled" => SkillEventKind::Disabled,
            "AlexaSkillEvent.SkillAccountLinked" => SkillEventKind::AccountLinked,
            "AlexaSkillEvent.SkillPermissionAccepted"
            | "AlexaSkillEvent.SkillPermissionChanged" => SkillEventKind::PermissionChanged,
            _ => SkillEventKind::Other(request.kind),
        };
        let access_token = user
            .access_token
            .or(request.body.and_then(|b| b.access_token))
            .filter(|t| !t.is_empty());
        Ok(SkillEvent {
            kind,
            alexa_user_id,
            access_token,
        })
    }
}

/// What was done with an event.
#[derive(Serialize)]
struct Handled {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// Our user behind an Alexa user id.
struct Linked {
    user_id: String,
    client_id: String,
    grant_id: GrantId,
}

/// `POST /api/alexa/skill-events`.
pub async fn skill_event(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let remote_addr = client_ip(&app, &extensions, &headers);
    match handle(&app, &headers, &body, remote_addr).await {
        Ok(handled) => axum::Json(handled).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    remote_addr: Option<IpAddr>,
) -> Result<Handled, OAuthError> {
    let caller = caller::authenticate(app, remote_addr, headers, &Params::default()).await?;
    let event = SkillEvent::parse(body)?;
    let done = |status, reason| Ok(Handled { status, reason });
    match &event.kind {
        SkillEventKind::Other(kind) => {
            tracing::info!(event = %kind, "skill event ignored: this server does not act on it");
            done("ignored", Some("unhandled_event_type"))
        }
        SkillEventKind::Disabled => {
            let linked = match by_token(app, &caller, &event).await? {
                Some(linked) => Some(linked),
                None => by_alexa_user(app, &event.alexa_user_id).await?,
            };
            let Some(linked) = linked else {
                return done("ignored", Some("unknown_user"));
            };
            custody::end_grant(
                app,
                &linked.user_id,
                &linked.client_id,
                linked.grant_id,
                RevokeReason::SkillDisabled,
                remote_addr,
            )
            .await?;
            // A new enablement brings a new Alexa user id.
            app.store.delete_alexa_user(&event.alexa_user_id).await?;
            done("unlinked", None)
        }
        SkillEventKind::Enabled
        | SkillEventKind::AccountLinked
        | SkillEventKind::PermissionChanged => {
            let Some(linked) = by_token(app, &caller, &event).await? else {
                return done("ignored", Some("no_linked_user"));
            };
            remember(app, &event.alexa_user_id, &linked, remote_addr).await?;
            done("recorded", None)
        }
    }
}

/// The user of the event's access token, if it carries a valid one.
async fn by_token(
    app: &AppState,
    caller: &PartnerCaller,
    event: &SkillEvent,
) -> Result<Option<Linked>, OAuthError> {
    let Some(token) = &event.access_token else {
        return Ok(None);
    };
    let Some(record) = app.verify_access_token(token).await? else {
        return Ok(None);
    };
    let (Some(user_id), Some(grant_id)) = (record.user_id, record.grant_id) else {
        return Err(OAuthError::invalid_request(
            "the access token is not a user's token from account linking",
        ));
    };
    // A caller limited to some partners acts only for their skills' users.
    if let Some(partner) = app.partners.for_client(&record.client_id) {
        caller.may_read(partner)?;
    }
    Ok(Some(Linked {
        user_id,
        client_id: record.client_id,
        grant_id,
    }))
}

async fn by_alexa_user(app: &AppState, alexa_user_id: &str) -> Result<Option<Linked>, OAuthError> {
    Ok(app
        .store
        .get_alexa_user(alexa_user_id)
        .await?
        .map(|r| Linked {
            user_id: r.user_id,
            client_id: r.client_id,
            grant_id: r.grant_id,
        }))
}

async fn remember(
    app: &AppState,
    alexa_user_id: &str,
    linked: &Linked,
    remote_addr: Option<IpAddr>,
) -> Result<(), OAuthError> {
    let record = AlexaUserRecord {
        alexa_user_id: alexa_user_id.to_owned(),
        user_id: linked.user_id.clone(),
        client_id: linked.client_id.clone(),
        grant_id: linked.grant_id,
        updated_at: app.clock.now(),
    };
    app.store.put_alexa_user(&record).await?;
    Audit::new(AuditEvent::AlexaUserMapped)
        .client(&linked.client_id)
        .user(&linked.user_id)
        .grant(linked.grant_id)
        .remote(remote_addr)
        .emit(&app.metrics);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(kind: &str, user: &str, body: &str) -> String {
        format!(
            r#"{{"version":"1.0","context":{{"System":{{"application":{{"applicationId":"amzn1.ask.skill.1"}},"user":{user},"apiEndpoint":"https://api.amazonalexa.com","apiAccessToken":"AxThk"}}}},
            "request":{{"type":"{kind}","requestId":"r-1","timestamp":"2026-12-05T11:00:00Z","eventCreationTime":"2026-12-05T11:00:00Z","eventPublishingTime":"2026-12-05T11:00:01Z"{body}}}}}"#
        )
    }

    fn parsed(json: &str) -> Result<SkillEvent, String> {
        SkillEvent::parse(json.as_bytes()).map_err(|e| e.description.into_owned())
    }

    #[test]
    fn the_documented_events_are_read_with_their_user_and_token() {
        let linked = envelope(
            "AlexaSkillEvent.SkillAccountLinked",
            r#"{"userId":"amzn1.ask.account.A","accessToken":"ala_x"}"#,
            r#","body":{"accessToken":"ala_x"}"#,
        );
        assert_eq!(
            parsed(&linked),
            Ok(SkillEvent {
                kind: SkillEventKind::AccountLinked,
                alexa_user_id: "amzn1.ask.account.A".into(),
                access_token: Some("ala_x".into()),
            })
        );
        let disabled = envelope(
            "AlexaSkillEvent.SkillDisabled",
            r#"{"userId":"amzn1.ask.account.A"}"#,
            r#","body":{"userInformationPersistenceStatus":"NOT_PERSISTED"}"#,
        );
        let event = parsed(&disabled).expect("disabled");
        assert_eq!(event.kind, SkillEventKind::Disabled);
        assert_eq!(event.access_token, None);
        let body_only = envelope(
            "AlexaSkillEvent.SkillAccountLinked",
            r#"{"userId":"amzn1.ask.account.A"}"#,
            r#","body":{"accessToken":"ala_y"}"#,
        );
        assert_eq!(
            parsed(&body_only).expect("linked").access_token.as_deref(),
            Some("ala_y")
        );
    }

    #[test]
    fn unknown_types_are_kept_and_malformed_envelopes_refused() {
        let other = envelope(
            "AlexaSkillEvent.ProactiveSubscriptionChanged",
            r#"{"userId":"amzn1.ask.account.A"}"#,
            "",
        );
        assert_eq!(
            parsed(&other).expect("other").kind,
            SkillEventKind::Other("AlexaSkillEvent.ProactiveSubscriptionChanged".into())
        );
        assert!(parsed("not json").expect_err("text").contains("JSON"));
        assert!(
            parsed(r#"{"request":{"type":"AlexaSkillEvent.SkillDisabled"}}"#)
                .expect_err("no context")
                .contains("context")
        );
        let anonymous = envelope("AlexaSkillEvent.SkillDisabled", r#"{"userId":""}"#, "");
        assert!(parsed(&anonymous).expect_err("no user").contains("userId"));
    }
}
