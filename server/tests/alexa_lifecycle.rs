//! The Alexa lifecycle end to end, against the LWA stand-in: a skill
//! backend forwards a smart-home AcceptGrant (the partner-token endpoint
//! then serves the Event Gateway token), retries it, forwards bad ones, and
//! forwards skill events (SkillAccountLinked, SkillDisabled, unknown ones).

use alexa_link_server::routes;
use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::skill_backend::{accept_grant, forward, skill_event};
use alexa_link_server::testing::{
    CLIENT_ID, CLIENT_SECRET, ClientAuth, TestServer, USERS, link, partner_token, token_request,
};
use futures::future::join;
use serde_json::{Value, json};

const ANN: &str = "user-ann";
const ALEXA_USER: &str = "amzn1.ask.account.AHXSTANDIN0001";

fn access_token(tokens: &Value) -> &str {
    tokens["access_token"].as_str().expect("access token")
}

#[tokio::test]
async fn a_forwarded_accept_grant_makes_the_event_gateway_token_available() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    assert_eq!(partner_token(&server, ANN).await.0, 404, "nothing yet");

    let (status, body) = accept_grant(&server, &lwa.issue_code(), access_token(&tokens)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"status": "accepted", "user_id": ANN, "partner_id": "amazon"})
    );
    assert_eq!(lwa.code_calls(), 1);

    let (status, gateway) = partner_token(&server, ANN).await;
    assert_eq!(status, 200, "{gateway}");
    assert!(
        gateway["access_token"]
            .as_str()
            .expect("token")
            .starts_with("Atza|"),
        "{gateway}"
    );
    assert!(gateway.get("refresh_token").is_none());

    // A custom skill's Alexa.Authorization.Grant request works the same way.
    let code = lwa.issue_code();
    let request = json!({
        "version": "1.0",
        "context": {"System": {"user": {"userId": ALEXA_USER, "accessToken": access_token(&tokens)}}},
        "request": {"type": "Alexa.Authorization.Grant", "requestId": "r-2",
                    "body": {"grant": {"type": "OAuth2.AuthorizationCode", "code": code}}}
    });
    let (status, body) = forward(&server, routes::ALEXA_ACCEPT_GRANT, &request).await;
    assert_eq!(status, 200, "{body}");
    let (_, replaced) = partner_token(&server, ANN).await;
    assert_ne!(
        replaced["access_token"], gateway["access_token"],
        "the newer grant replaces the older tokens"
    );
}

#[tokio::test]
async fn a_retried_directive_succeeds_again_without_a_second_exchange() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let code = lwa.issue_code();

    let first = accept_grant(&server, &code, access_token(&tokens)).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let (_, stored) = partner_token(&server, ANN).await;
    let retry = accept_grant(&server, &code, access_token(&tokens)).await;
    assert_eq!(retry, first, "the same answer, not LWA's invalid_grant");
    assert_eq!(lwa.code_calls(), 1, "the retry never reached LWA");
    assert_eq!(
        partner_token(&server, ANN).await.1["access_token"],
        stored["access_token"],
        "the stored tokens are untouched"
    );

    // Alexa timed out and retried while the first attempt was still at LWA.
    lwa.set_latency(std::time::Duration::from_millis(300));
    let code = lwa.issue_code();
    let (a, b) = join(
        accept_grant(&server, &code, access_token(&tokens)),
        accept_grant(&server, &code, access_token(&tokens)),
    )
    .await;
    assert_eq!((a.0, b.0), (200, 200), "{} {}", a.1, b.1);
    lwa.set_latency(std::time::Duration::ZERO);

    // The same code for another user is not a retry.
    let bob = link(&server, USERS[1], ClientAuth::Basic).await;
    let (status, body) = accept_grant(&server, &code, access_token(&bob)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(partner_token(&server, "user-bob").await.0, 404);
}

#[tokio::test]
async fn bad_grantee_tokens_and_callers_are_refused_and_nothing_is_stored() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;

    // Not a token of ours.
    let (status, body) = accept_grant(&server, &lwa.issue_code(), "ala_not-a-token").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    // A revoked one.
    let response = reqwest::Client::new()
        .post(server.url(routes::REVOKE))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", tokens["refresh_token"].as_str().expect("rt"))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), 200);
    let (status, body) = accept_grant(&server, &lwa.issue_code(), access_token(&tokens)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(lwa.code_calls(), 0, "no code reached LWA");

    // A caller without partner-token access (Alexa's own client).
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let response = reqwest::Client::new()
        .post(server.url(routes::ALEXA_ACCEPT_GRANT))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(
            &alexa_link_server::testing::skill_backend::accept_grant_directive(
                &lwa.issue_code(),
                access_token(&tokens),
            ),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
    // No caller credentials at all.
    let response = reqwest::Client::new()
        .post(server.url(routes::ALEXA_ACCEPT_GRANT))
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    // A directive that is not AcceptGrant.
    let (status, body) = forward(
        &server,
        routes::ALEXA_ACCEPT_GRANT,
        &json!({"directive": {"header": {"namespace": "Alexa", "name": "ReportState"}, "payload": {}}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    // LWA refuses an unknown code: the skill's ACCEPT_GRANT_FAILED.
    let (status, body) = accept_grant(&server, "ANcode-never-issued", access_token(&tokens)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(partner_token(&server, ANN).await.0, 404, "nothing stored");
}

#[tokio::test]
async fn skill_disabled_revokes_the_grant_and_deletes_the_amazon_tokens() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let (status, _) = accept_grant(&server, &lwa.issue_code(), access_token(&tokens)).await;
    assert_eq!(status, 200);
    assert_eq!(partner_token(&server, ANN).await.0, 200);

    // Alexa reports the link with the user's Alexa id, then the disable
    // without any access token: the recorded id finds the user.
    let (status, body) = skill_event(
        &server,
        "SkillAccountLinked",
        ALEXA_USER,
        Some(access_token(&tokens)),
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("recorded")),
        "{body}"
    );
    let (status, body) = skill_event(&server, "SkillDisabled", ALEXA_USER, None).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("unlinked")),
        "{body}"
    );

    let (status, body) = partner_token(&server, ANN).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "not_linked");
    let (status, body) = token_request(
        &server,
        ClientAuth::Basic,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("rt"),
            ),
        ],
    )
    .await;
    assert_eq!(status, 400, "the grant is revoked: {body}");
    let (status, _) = accept_grant(&server, &lwa.issue_code(), access_token(&tokens)).await;
    assert_eq!(status, 400, "its access token is dead too");

    // The same Alexa id again: already handled, acknowledged and ignored.
    let (status, body) = skill_event(&server, "SkillDisabled", ALEXA_USER, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ignored");

    // Re-enabled and relinked: a new Alexa id; a disable carrying the
    // access token needs no recorded id.
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    accept_grant(&server, &lwa.issue_code(), access_token(&tokens)).await;
    assert_eq!(partner_token(&server, ANN).await.0, 200);
    let (status, body) = skill_event(
        &server,
        "SkillDisabled",
        "amzn1.ask.account.AHXSTANDIN0002",
        Some(access_token(&tokens)),
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("unlinked")),
        "{body}"
    );
    assert_eq!(partner_token(&server, ANN).await.0, 404);
}

#[tokio::test]
async fn unknown_events_are_acknowledged_and_malformed_ones_refused() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    accept_grant(&server, &lwa.issue_code(), access_token(&tokens)).await;

    let (status, body) = skill_event(
        &server,
        "ProactiveSubscriptionChanged",
        ALEXA_USER,
        Some(access_token(&tokens)),
    )
    .await;
    assert_eq!(status, 200, "Alexa must not retry it: {body}");
    assert_eq!(body["status"], "ignored");
    let (status, body) = skill_event(&server, "SkillEnabled", ALEXA_USER, None).await;
    assert_eq!((status, &body["status"]), (200, &json!("ignored")));
    assert_eq!(partner_token(&server, ANN).await.0, 200, "nothing ended");

    let (status, body) = forward(
        &server,
        routes::ALEXA_SKILL_EVENTS,
        &json!({"request": {"type": "AlexaSkillEvent.SkillDisabled"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    let response = reqwest::Client::new()
        .post(server.url(routes::ALEXA_SKILL_EVENTS))
        .basic_auth(
            alexa_link_server::testing::OTHER_CLIENT_ID,
            Some(alexa_link_server::testing::OTHER_CLIENT_SECRET),
        )
        .body("not json")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("OAuth JSON");
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn a_caller_limited_to_other_partners_reads_and_forwards_nothing_of_this_one() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner_and(&lwa, |config| {
        let mut eu = config.partners[0].clone();
        eu.id = "amazon-eu".into();
        eu.linked_clients = vec![alexa_link_server::testing::OTHER_CLIENT_ID.into()];
        config.partners.push(eu);
        config.clients[1].partner_token_partners = vec!["amazon-eu".into()];
    })
    .await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;

    let (status, body) = accept_grant(&server, &lwa.issue_code(), access_token(&tokens)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(lwa.code_calls(), 0);

    let read = |partner: &'static str| {
        reqwest::Client::new()
            .get(server.url(routes::PARTNER_TOKEN))
            .basic_auth(
                alexa_link_server::testing::OTHER_CLIENT_ID,
                Some(alexa_link_server::testing::OTHER_CLIENT_SECRET),
            )
            .query(&[("user_id", ANN), ("partner_id", partner)])
            .send()
    };
    let response = read("amazon").await.expect("read");
    assert_eq!(response.status(), 403);
    let response = read("amazon-eu").await.expect("read");
    assert_eq!(response.status(), 404, "allowed, but nothing stored there");
}
