//! What a skill backend forwards from Alexa, for tests: the messages as
//! Alexa documents them (an `AcceptGrant` directive, skill-event
//! envelopes), and the backend's calls to our endpoints (HTTP Basic as
//! [`OTHER_CLIENT_ID`], the test client with partner-token access).

use serde_json::{Value, json};

use super::{OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, TestServer};
use crate::routes;

/// A smart-home `Alexa.Authorization.AcceptGrant` directive carrying an LWA
/// `code` and the user's access token (`grantee`).
pub fn accept_grant_directive(code: &str, grantee: &str) -> Value {
    json!({
        "directive": {
            "header": {
                "namespace": "Alexa.Authorization",
                "name": "AcceptGrant",
                "messageId": "5f8a426e-01e4-4cc9-8b79-65f8bd0fd8a4",
                "payloadVersion": "3"
            },
            "payload": {
                "grant": {"type": "OAuth2.AuthorizationCode", "code": code},
                "grantee": {"type": "BearerToken", "token": grantee}
            }
        }
    })
}

/// An `AlexaSkillEvent.<kind>` envelope for `alexa_user_id`, with the
/// user's access token in `context.System.user` when given.
pub fn skill_event_envelope(kind: &str, alexa_user_id: &str, access_token: Option<&str>) -> Value {
    let mut user = json!({"userId": alexa_user_id});
    if let Some(token) = access_token {
        user["accessToken"] = json!(token);
    }
    let mut request = json!({
        "type": format!("AlexaSkillEvent.{kind}"),
        "requestId": "amzn1.echo-api.request.1",
        "timestamp": "2026-12-05T11:00:00Z",
        "eventCreationTime": "2026-12-05T11:00:00Z",
        "eventPublishingTime": "2026-12-05T11:00:01Z"
    });
    match kind {
        "SkillDisabled" => {
            request["body"] = json!({"userInformationPersistenceStatus": "NOT_PERSISTED"});
        }
        "SkillAccountLinked" => {
            request["body"] = json!({"accessToken": access_token});
        }
        _ => {}
    }
    json!({
        "version": "1.0",
        "context": {"System": {
            "application": {"applicationId": "amzn1.ask.skill.00000000-0000-0000-0000-000000000000"},
            "user": user,
            "apiEndpoint": "https://api.amazonalexa.com",
            "apiAccessToken": "AxThk.stand-in"
        }},
        "request": request
    })
}

/// The skill backend posts `body` to `path` as JSON.
pub async fn forward(server: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .json(body)
        .send()
        .await
        .expect("forwarded request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// Forwards an AcceptGrant directive.
pub async fn accept_grant(server: &TestServer, code: &str, grantee: &str) -> (u16, Value) {
    forward(
        server,
        routes::ALEXA_ACCEPT_GRANT,
        &accept_grant_directive(code, grantee),
    )
    .await
}

/// Forwards a skill event.
pub async fn skill_event(
    server: &TestServer,
    kind: &str,
    alexa_user_id: &str,
    access_token: Option<&str>,
) -> (u16, Value) {
    forward(
        server,
        routes::ALEXA_SKILL_EVENTS,
        &skill_event_envelope(kind, alexa_user_id, access_token),
    )
    .await
}
