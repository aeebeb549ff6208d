//! Mutual account linking end to end, against the LWA stand-in: Alexa's
//! reciprocal call, the developer app's partner-token calls (cached and
//! refreshed), LWA faults, revocation at Amazon, and unlinking.

use std::sync::atomic::Ordering;
use std::time::Duration;

use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    self, Browser, CLIENT_ID, CLIENT_SECRET, ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET,
    TestServer, USERS, hidden_field, link, partner_token, reciprocal, submit_login,
};
use futures::future::join_all;
use reqwest::header;
use serde_json::Value;

const ANN: &str = "user-ann";

/// Links ann through Alexa and delivers a reciprocal code; returns Alexa's tokens.
async fn mutually_linked(server: &TestServer, lwa: &LwaStandIn) -> Value {
    let tokens = link(server, USERS[0], ClientAuth::Basic).await;
    let (status, body) = reciprocal(
        server,
        tokens["access_token"].as_str().expect("at"),
        &lwa.issue_code(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "linked");
    tokens
}

#[tokio::test]
async fn link_then_cached_then_refreshed_then_revoked_at_amazon() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&server, &lwa).await;
    assert_eq!(lwa.code_calls(), 1);

    // The app asks for ann's Amazon token: served from the store.
    let (status, first) = partner_token(&server, ANN).await;
    assert_eq!(status, 200, "{first}");
    let first_token = first["access_token"].as_str().expect("token");
    assert!(first_token.starts_with("Atza|"));
    assert_eq!(first["token_type"], "bearer");
    assert!(first["expires_in"].as_i64().expect("expires_in") > 3500);
    assert!(
        first.get("refresh_token").is_none(),
        "the Amazon refresh token never leaves the server"
    );
    let (_, again) = partner_token(&server, ANN).await;
    assert_eq!(again["access_token"], first["access_token"]);
    assert_eq!(lwa.refresh_calls(), 0, "cached path: no LWA call");

    // Time passes until less than the 5-minute margin is left: refreshed.
    server.clock().advance(3400);
    let (status, refreshed) = partner_token(&server, ANN).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["access_token"], first["access_token"]);
    assert!(refreshed["expires_in"].as_i64().expect("expires_in") > 3500);
    assert_eq!(lwa.refresh_calls(), 1);
    let (_, cached) = partner_token(&server, ANN).await;
    assert_eq!(cached["access_token"], refreshed["access_token"]);
    assert_eq!(lwa.refresh_calls(), 1);

    // The user removes the skill at Amazon: the next refresh is refused.
    lwa.revoke_all_refresh_tokens();
    server.clock().advance(3400);
    let (status, dead) = partner_token(&server, ANN).await;
    assert_eq!(
        (status, dead["error"].as_str()),
        (400, Some("invalid_grant")),
        "{dead}"
    );
    assert!(
        dead["error_description"]
            .as_str()
            .expect("description")
            .contains("link the skill again")
    );
    let (status, gone) = partner_token(&server, ANN).await;
    assert_eq!(
        (status, gone["error"].as_str()),
        (404, Some("not_linked")),
        "the dead link was deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_at_expiry_cause_one_lwa_refresh() {
    let lwa = LwaStandIn::start().await;
    lwa.set_latency(Duration::from_millis(200));
    let server = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&server, &lwa).await;
    server.clock().advance(3400);
    let results = join_all((0..20).map(|_| partner_token(&server, ANN))).await;
    let first = &results[0].1;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(
            body["access_token"], first["access_token"],
            "everyone gets the one refreshed token"
        );
    }
    assert_eq!(lwa.refresh_calls(), 1, "exactly one refresh at LWA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_sharing_a_store_refresh_once() {
    // Two servers over one embedded file cannot exist (one writer), so two
    // app states share one store: the lease in the store, not the
    // in-process lock, must keep them to one refresh.
    let lwa = LwaStandIn::start().await;
    lwa.set_latency(Duration::from_millis(200));
    let a = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&a, &lwa).await;
    let b = alexa_link_server::app::AppState::new(
        a.app.config.clone(),
        a.app.store.clone(),
        a.app.clock.clone(),
    )
    .expect("second replica");
    let listeners = alexa_link_server::server::Listeners::bind(&b.config.server).expect("bind");
    let running = alexa_link_server::server::serve(b, listeners)
        .await
        .expect("serve");
    let b_url = format!("http://{}", running.public_addr);
    a.clock().advance(3400);
    let http = reqwest::Client::new();
    let calls = (0..20).map(|i| {
        let url = if i % 2 == 0 {
            a.url("/api/partner/token")
        } else {
            format!("{b_url}/api/partner/token")
        };
        let http = http.clone();
        async move {
            let r = http
                .get(url)
                .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
                .query(&[("user_id", ANN)])
                .send()
                .await
                .expect("send");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    });
    let results = join_all(calls).await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["access_token"], results[0].1["access_token"]);
    }
    assert_eq!(lwa.refresh_calls(), 1, "one refresh across both replicas");
}

#[tokio::test]
async fn reciprocal_refuses_bad_callers_and_inputs() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let access = tokens["access_token"].as_str().expect("at");
    let http = reqwest::Client::new();
    let url = server.url("/api/reciprocal/authorize");
    let send = |r: reqwest::RequestBuilder| async move {
        let r = r.send().await.expect("send");
        let challenge = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ascii").to_owned());
        (
            r.status().as_u16(),
            challenge,
            r.json::<Value>().await.expect("OAuth error JSON"),
        )
    };
    let form = |grant: &str, client: &str, code: &str| {
        vec![
            ("grant_type", grant.to_owned()),
            ("client_id", client.to_owned()),
            ("code", code.to_owned()),
        ]
    };

    let (status, challenge, body) = send(http.post(&url).form(&form(
        "reciprocal_authorization_code",
        CLIENT_ID,
        "x",
    )))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(challenge.expect("challenge").starts_with("Bearer"));
    let (status, _, body) = send(http.post(&url).bearer_auth("ala_forged").form(&form(
        "reciprocal_authorization_code",
        CLIENT_ID,
        "x",
    )))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, _, body) = send(http.post(&url).bearer_auth(access).form(&form(
        "authorization_code",
        CLIENT_ID,
        "x",
    )))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, _, body) = send(http.post(&url).bearer_auth(access).form(&[
        ("grant_type", "reciprocal_authorization_code"),
        ("client_id", CLIENT_ID),
    ]))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _, body) = send(http.post(&url).bearer_auth(access).form(&form(
        "reciprocal_authorization_code",
        OTHER_CLIENT_ID,
        "x",
    )))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied")),
        "token of another client"
    );
    let (status, _, body) = send(
        http.post(&url)
            .bearer_auth(access)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // A code LWA does not know: invalid_grant, and nothing is stored.
    let (status, _, body) = send(http.post(&url).bearer_auth(access).form(&form(
        "reciprocal_authorization_code",
        CLIENT_ID,
        "ANunknown",
    )))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(partner_token(&server, ANN).await.0, 404);

    // The code in the query (access logs keep URLs): refused, not exchanged.
    let code = lwa.issue_code();
    let calls = lwa.code_calls();
    let (status, _, body) = send(http.post(&url).bearer_auth(access).query(&[
        ("grant_type", "reciprocal_authorization_code"),
        ("client_id", CLIENT_ID),
        ("code", &code),
    ]))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(lwa.code_calls(), calls, "the code never reached LWA");
    assert_eq!(partner_token(&server, ANN).await.0, 404);
}

#[tokio::test]
async fn lwa_faults_during_the_code_exchange_leave_no_state() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let access = tokens["access_token"].as_str().expect("at");

    lwa.switches.fail_5xx.store(true, Ordering::SeqCst);
    let (status, body) = reciprocal(&server, access, &lwa.issue_code()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("temporarily_unavailable")),
        "{body}"
    );
    lwa.switches.fail_5xx.store(false, Ordering::SeqCst);

    lwa.switches.reset.store(true, Ordering::SeqCst);
    let (status, body) = reciprocal(&server, access, &lwa.issue_code()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    lwa.switches.reset.store(false, Ordering::SeqCst);

    lwa.set_latency(Duration::from_secs(3)); // the partner's timeout is 2 s
    let (status, body) = reciprocal(&server, access, &lwa.issue_code()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    lwa.set_latency(Duration::ZERO);

    assert_eq!(
        partner_token(&server, ANN).await.0,
        404,
        "no partial state after LWA faults"
    );
    let (status, _) = reciprocal(&server, access, &lwa.issue_code()).await;
    assert_eq!(status, 200, "works again once LWA recovers");
}

#[tokio::test]
async fn wrong_partner_credentials_are_a_502_not_the_callers_fault() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner_and(&lwa, |c| {
        std::fs::write(&c.partners[0].client_secret_file, "wrong-secret").expect("write");
    })
    .await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let (status, body) = reciprocal(
        &server,
        tokens["access_token"].as_str().expect("at"),
        &lwa.issue_code(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("server_error")),
        "{body}"
    );
}

#[tokio::test]
async fn lwa_faults_during_refresh_keep_the_link() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&server, &lwa).await;
    server.clock().advance(3400);
    lwa.switches.fail_5xx.store(true, Ordering::SeqCst);
    let (status, body) = partner_token(&server, ANN).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("temporarily_unavailable")),
        "{body}"
    );
    lwa.switches.fail_5xx.store(false, Ordering::SeqCst);
    let (status, body) = partner_token(&server, ANN).await;
    assert_eq!(
        status, 200,
        "the lease was released and the link kept: {body}"
    );
}

#[tokio::test]
async fn rotated_lwa_refresh_tokens_are_kept() {
    let lwa = LwaStandIn::start().await;
    lwa.switches.rotate_refresh.store(true, Ordering::SeqCst);
    let server = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&server, &lwa).await;
    for round in 1..=3 {
        server.clock().advance(3400);
        let (status, body) = partner_token(&server, ANN).await;
        assert_eq!(status, 200, "round {round}: {body}");
    }
    assert_eq!(
        lwa.refresh_calls(),
        3,
        "each refresh used the newest refresh token"
    );
}

#[tokio::test]
async fn a_new_reciprocal_code_replaces_the_stored_tokens() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = mutually_linked(&server, &lwa).await;
    let (_, before) = partner_token(&server, ANN).await;
    let (status, _) = reciprocal(
        &server,
        tokens["access_token"].as_str().expect("at"),
        &lwa.issue_code(),
    )
    .await;
    assert_eq!(status, 200);
    let (_, after) = partner_token(&server, ANN).await;
    assert_ne!(before["access_token"], after["access_token"]);
}

#[tokio::test]
async fn partner_token_callers_must_be_allowed_clients() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&server, &lwa).await;
    let http = reqwest::Client::new();
    let url = server.url("/api/partner/token");
    let send = |r: reqwest::RequestBuilder| async move {
        let r = r.send().await.expect("send");
        (
            r.status().as_u16(),
            r.json::<Value>().await.expect("OAuth error JSON"),
        )
    };
    let (status, body) = send(http.get(&url).query(&[("user_id", ANN)])).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = send(
        http.get(&url)
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .query(&[("user_id", ANN)]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("unauthorized_client")),
        "Alexa's client has no partner access"
    );
    let (status, body) = send(
        http.get(&url)
            .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "user_id missing"
    );
    let (status, body) = send(
        http.get(&url)
            .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
            .query(&[("user_id", ANN), ("partner_id", "nope")]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = send(
        http.get(&url)
            .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
            .query(&[("user_id", "user-bob")]),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_linked")));

    // Credentials in the URL are refused, even when correct.
    let (status, body) = send(http.get(&url).query(&[
        ("user_id", ANN),
        ("client_id", OTHER_CLIENT_ID),
        ("client_secret", OTHER_CLIENT_SECRET),
    ]))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // POST with a form and the partner id named works too.
    let (status, body) = send(
        http.post(&url)
            .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
            .form(&[("user_id", ANN), ("partner_id", testing::PARTNER_ID)]),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A client_credentials bearer token with the partner_token scope.
    let cc = |scope: &'static str| {
        let http = http.clone();
        let token_url = server.url("/oauth/token");
        async move {
            let r: Value = http
                .post(token_url)
                .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
                .form(&[("grant_type", "client_credentials"), ("scope", scope)])
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            r["access_token"].as_str().expect("cc token").to_owned()
        }
    };
    let scoped = cc("partner_token").await;
    let (status, body) = send(
        http.get(&url)
            .bearer_auth(&scoped)
            .query(&[("user_id", ANN)]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let unscoped = cc("profile").await;
    let (status, body) = send(
        http.get(&url)
            .bearer_auth(&unscoped)
            .query(&[("user_id", ANN)]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
}

#[tokio::test]
async fn stored_amazon_tokens_are_not_readable_in_the_store_file() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&server, &lwa).await;
    let (_, token) = partner_token(&server, ANN).await;
    let access = token["access_token"].as_str().expect("token").to_owned();
    server.clock().advance(3400);
    partner_token(&server, ANN).await;
    let raw = std::fs::read(server.dir.path().join("store.redb")).expect("read store file");
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(b"Atza|"),
        "an Amazon access token is stored in the clear"
    );
    assert!(
        !contains(b"Atzr|"),
        "an Amazon refresh token is stored in the clear"
    );
    assert!(!contains(access.as_bytes()));
}

#[tokio::test]
async fn revoking_alexas_grant_deletes_the_amazon_tokens() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = mutually_linked(&server, &lwa).await;
    let response = reqwest::Client::new()
        .post(server.url("/oauth/revoke"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", tokens["refresh_token"].as_str().expect("rt"))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), 200);
    assert_eq!(partner_token(&server, ANN).await.0, 404);
}

#[tokio::test]
async fn users_unlink_from_the_linked_apps_page() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    let tokens = mutually_linked(&server, &lwa).await;
    let browser = Browser::new();
    let page = browser
        .http
        .get(server.url("/oauth/links"))
        .send()
        .await
        .expect("get");
    let html = page.text().await.expect("html");
    assert!(
        html.contains("see the apps linked to your account"),
        "login first: {html}"
    );
    let (user, password) = USERS[0];
    let login = submit_login(&server, &browser, &html, (user, password)).await;
    assert_eq!(login.status(), 303);
    assert_eq!(login.headers()[header::LOCATION], "/oauth/links");
    let html = browser
        .http
        .get(server.url("/oauth/links"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Alexa test skill"), "{html}");
    let grant = hidden_field(&html, "grant").expect("an Unlink form");
    let csrf = hidden_field(&html, "csrf").expect("csrf");

    // Without the CSRF nonce, nothing happens.
    let refused = browser
        .post_form(&server.url("/oauth/links"), &[("grant", &grant)])
        .await;
    assert_eq!(refused.status(), 403);
    // Bob cannot unlink Ann's grant.
    let bob = Browser::new();
    let html_bob = bob
        .http
        .get(server.url("/oauth/links"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    let bob_csrf = hidden_field(&html_bob, "csrf").expect("csrf");
    bob.post_form(
        &server.url("/oauth/login"),
        &[
            ("csrf", &bob_csrf),
            ("username", USERS[1].0),
            ("password", USERS[1].1),
        ],
    )
    .await;
    let html_bob = bob
        .http
        .get(server.url("/oauth/links"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(html_bob.contains("No apps are linked"), "{html_bob}");
    // Signing in gave Bob a new nonce; the one of his login form is spent.
    let bob_csrf = hidden_field(&html_bob, "csrf").expect("csrf");
    let other = bob
        .post_form(
            &server.url("/oauth/links"),
            &[("grant", &grant), ("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(other.status(), 404);
    assert_eq!(partner_token(&server, ANN).await.0, 200, "still linked");

    let unlinked = browser
        .post_form(
            &server.url("/oauth/links"),
            &[("grant", &grant), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(unlinked.status(), 303);
    let html = browser
        .http
        .get(server.url("/oauth/links?unlinked=1"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("The app was unlinked.") && html.contains("No apps are linked"),
        "{html}"
    );
    assert_eq!(
        partner_token(&server, ANN).await.0,
        404,
        "Amazon tokens deleted"
    );
    let (status, _) = testing::token_request(
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
    assert_eq!(status, 400, "Alexa's grant is gone");
}

#[tokio::test]
async fn without_partners_the_mutual_endpoints_say_so() {
    let server = TestServer::start().await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let (status, body) = reciprocal(
        &server,
        tokens["access_token"].as_str().expect("at"),
        "ANcode",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("invalid_request")),
        "{body}"
    );
}

/// A user removed from the users file keeps no Amazon tokens: the next
/// partner-token read finds them gone, answers `not_linked` and ends the
/// grant (Alexa's next refresh fails too).
#[tokio::test]
async fn a_user_removed_from_the_identity_backend_loses_their_amazon_tokens() {
    let lwa = LwaStandIn::start().await;
    let files = tempfile::tempdir().expect("tempdir");
    let users_file = files.path().join("users.yaml");
    let write = |users: &[(&str, &str, &str)]| {
        let mut text = String::from("users:\n");
        for (name, id, password) in users {
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            text.push_str(&format!(
                "  - username: {name}\n    id: {id}\n    passwordHash: \"{hash}\"\n"
            ));
        }
        std::fs::write(&users_file, text).expect("write users file");
    };
    write(&[
        (USERS[0].0, ANN, USERS[0].1),
        (USERS[1].0, "user-bob", USERS[1].1),
    ]);
    let file = users_file.clone();
    let server = TestServer::start_with_partner_and(&lwa, move |c| {
        c.identity = alexa_link_server::config::IdentityConfig::Static(
            alexa_link_server::config::StaticIdentityConfig {
                users_file: Some(file),
                users: vec![],
            },
        );
    })
    .await;
    let tokens = mutually_linked(&server, &lwa).await;
    assert_eq!(partner_token(&server, ANN).await.0, 200);

    write(&[(USERS[1].0, "user-bob", USERS[1].1)]);
    let (status, body) = partner_token(&server, ANN).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_linked")),
        "{body}"
    );
    let (status, body) = testing::token_request(
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
    assert_eq!(
        status, 400,
        "the grant ended with the Amazon tokens: {body}"
    );
    server.stop().await;
}

/// `POST /revoke-user` on the admin port deletes the user's Amazon tokens
/// with their grants.
#[tokio::test]
async fn revoking_a_user_on_the_admin_port_deletes_their_amazon_tokens() {
    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    mutually_linked(&server, &lwa).await;
    assert_eq!(partner_token(&server, ANN).await.0, 200);
    let body: Value = reqwest::Client::new()
        .post(format!(
            "{}{}",
            server.admin_url,
            alexa_link_server::routes::REVOKE_USER
        ))
        .form(&[("user_id", ANN)])
        .send()
        .await
        .expect("revoke-user")
        .json()
        .await
        .expect("json");
    assert_eq!(body["grants_revoked"], 1, "{body}");
    assert_eq!(partner_token(&server, ANN).await.0, 404);
    server.stop().await;
}
