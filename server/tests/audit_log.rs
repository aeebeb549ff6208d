//! The audit log end to end: every security event of a linking's life
//! writes one JSON line on the `alexa_link::audit` target, in the documented
//! schema, counted in the metrics, and no line ever holds a token, code,
//! secret or password used on the way.
//!
//! One test: the audit layer is installed as the process's global
//! subscriber, so its lines are this scenario's alone.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alexa_link_server::audit::RevokeReason;
use alexa_link_server::partner::custody;
use alexa_link_server::store::GrantId;
use alexa_link_server::testing::lwa::{LWA_CLIENT_SECRET, LwaStandIn};
use alexa_link_server::testing::skill_backend::{accept_grant, skill_event};
use alexa_link_server::testing::{
    Browser, CLIENT_ID, CLIENT_SECRET, ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, Pkce,
    TestServer, USERS, hidden_field, link, obtain_code, partner_token, reciprocal, redirect_uri,
    submit_login, token_request,
};
use alexa_link_server::{routes, telemetry};
use serde_json::{Map, Value};
use tracing_subscriber::layer::SubscriberExt;

/// The audit layer's output, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()).expect("UTF-8")
    }
}

/// Every field an entry may have: the schema of `alexa_link_server::audit`.
const FIELDS: [&str; 12] = [
    "timestamp",
    "level",
    "target",
    "event",
    "outcome",
    "reason",
    "client_id",
    "user_id",
    "partner_id",
    "grant_id",
    "via",
    "remote_addr",
];

/// Parses every line and checks it against the schema.
fn entries(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .map(|line| {
            let Value::Object(entry) = serde_json::from_str(line).expect("a JSON line") else {
                panic!("not an object: {line}")
            };
            for key in entry.keys() {
                assert!(
                    FIELDS.contains(&key.as_str()),
                    "unknown field {key}: {line}"
                );
            }
            for key in ["timestamp", "level", "target", "event", "outcome"] {
                assert!(entry[key].is_string(), "{key} missing: {line}");
            }
            assert_eq!(entry["target"], "alexa_link::audit", "{line}");
            assert!(
                ["success", "failure"].contains(&entry["outcome"].as_str().expect("outcome")),
                "{line}"
            );
            if let Some(grant) = entry.get("grant_id") {
                let grant = grant.as_str().expect("grant_id");
                assert!(GrantId::from_hex(grant).is_some(), "grant_id hex: {line}");
            }
            if let Some(addr) = entry.get("remote_addr") {
                let addr = addr.as_str().expect("remote_addr");
                assert!(addr.parse::<std::net::IpAddr>().is_ok(), "{line}");
            }
            entry
        })
        .collect()
}

/// The one entry of `event` whose fields include `with`.
fn find<'a>(
    entries: &'a [Map<String, Value>],
    event: &str,
    with: &[(&str, &str)],
) -> &'a Map<String, Value> {
    let found: Vec<_> = entries
        .iter()
        .filter(|e| {
            e["event"] == event && with.iter().all(|(k, v)| e.get(*k) == Some(&(*v).into()))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {event} {with:?} expected, found {found:?}"
    );
    found[0]
}

/// The linked-apps page as `browser` sees it.
async fn links_page(server: &TestServer, browser: &Browser) -> String {
    let page = browser.http.get(server.url(routes::LINKS)).send().await;
    page.expect("links").text().await.expect("html")
}

/// Remembers the tokens of a token response as secrets.
fn keep(secrets: &mut Vec<String>, response: &Value) {
    for key in ["access_token", "refresh_token"] {
        if let Some(t) = response.get(key).and_then(Value::as_str) {
            secrets.push(t.to_owned());
        }
    }
}

fn text_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[tokio::test]
async fn every_security_event_is_one_schema_line_without_secrets() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber =
        tracing_subscriber::registry().with(telemetry::audit_layer(move || sink.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let lwa = LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    // Every value that must never reach the log.
    let mut secrets: Vec<String> = vec![
        CLIENT_SECRET.into(),
        OTHER_CLIENT_SECRET.into(),
        LWA_CLIENT_SECRET.into(),
        USERS[0].1.into(),
        USERS[1].1.into(),
    ];

    // Ann links (link_created, code_redeemed) and mutual linking stores her
    // Amazon tokens (amazon_tokens_stored via reciprocal).
    let ann = link(&server, USERS[0], ClientAuth::Basic).await;
    keep(&mut secrets, &ann);
    let code = lwa.issue_code();
    secrets.push(code.clone());
    let (status, _) = reciprocal(&server, text_of(&ann, "access_token"), &code).await;
    assert_eq!(status, 200);
    // The skill developer's app reads it, cached then refreshed, and asks
    // for a user without a link (partner_token_read, amazon_tokens_refreshed).
    let (_, read) = partner_token(&server, "user-ann").await;
    keep(&mut secrets, &read);
    server.clock().advance(3400);
    let (_, read) = partner_token(&server, "user-ann").await;
    keep(&mut secrets, &read);
    assert_eq!(partner_token(&server, "user-bob").await.0, 404);
    // A smart-home AcceptGrant, then Alexa's skill events.
    let code = lwa.issue_code();
    secrets.push(code.clone());
    assert_eq!(
        accept_grant(&server, &code, text_of(&ann, "access_token"))
            .await
            .0,
        200
    );
    let alexa_user = "amzn1.ask.account.AUDITSTANDIN";
    let token = text_of(&ann, "access_token");
    assert_eq!(
        skill_event(&server, "SkillAccountLinked", alexa_user, Some(token))
            .await
            .0,
        200
    );
    assert_eq!(
        skill_event(&server, "SkillDisabled", alexa_user, None)
            .await
            .0,
        200
    );

    // Bob refreshes, and the rotated token is replayed after its grace
    // period (refresh_reuse_detected, grant_revoked refresh_reuse).
    let bob = link(&server, USERS[1], ClientAuth::Basic).await;
    keep(&mut secrets, &bob);
    let old = text_of(&bob, "refresh_token");
    let (status, rotated) = token_request(
        &server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", old)],
    )
    .await;
    assert_eq!(status, 200);
    keep(&mut secrets, &rotated);
    server.clock().advance(3600);
    let (status, _) = token_request(
        &server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", old)],
    )
    .await;
    assert_eq!(status, 400);

    // An authorization code presented twice (grant_revoked code_replay).
    let pkce = Pkce::new();
    let code = obtain_code(&server, &Browser::new(), USERS[1], &pkce).await;
    secrets.push(code.clone());
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", &redirect_uri()),
        ("code_verifier", &pkce.verifier),
    ];
    let (status, first) = token_request(&server, ClientAuth::Basic, &redeem).await;
    assert_eq!(status, 200);
    keep(&mut secrets, &first);
    assert_eq!(
        token_request(&server, ClientAuth::Basic, &redeem).await.0,
        400
    );

    // Alexa revokes a refresh token (grant_revoked client_revocation).
    let again = link(&server, USERS[1], ClientAuth::Basic).await;
    keep(&mut secrets, &again);
    let revoked = reqwest::Client::new()
        .post(server.url(routes::REVOKE))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", text_of(&again, "refresh_token"))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);

    // Ann links again and unlinks on the linked-apps page (user_unlinked,
    // grant_revoked and amazon_tokens_deleted for user_unlink).
    let ann = link(&server, USERS[0], ClientAuth::Basic).await;
    keep(&mut secrets, &ann);
    let code = lwa.issue_code();
    secrets.push(code.clone());
    assert_eq!(
        reciprocal(&server, text_of(&ann, "access_token"), &code)
            .await
            .0,
        200
    );
    let browser = Browser::new();
    let html = links_page(&server, &browser).await;
    assert_eq!(
        submit_login(&server, &browser, &html, USERS[0])
            .await
            .status(),
        303
    );
    let html = links_page(&server, &browser).await;
    let grant = hidden_field(&html, "grant").expect("an Unlink form");
    let csrf = hidden_field(&html, "csrf").expect("csrf");
    let unlinked = browser
        .post_form(
            &server.url(routes::LINKS),
            &[("grant", &grant), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(unlinked.status(), 303);

    // An administrator's revocation, as the admin command calls it.
    let ann = link(&server, USERS[0], ClientAuth::Basic).await;
    keep(&mut secrets, &ann);
    let grants = server
        .app
        .store
        .list_user_grants("user-ann", server.clock().now())
        .await
        .expect("grants");
    let (admin_grant, _) = grants.last().expect("ann's grant");
    custody::end_grant(
        &server.app,
        "user-ann",
        CLIENT_ID,
        *admin_grant,
        RevokeReason::AdminRevokeUser,
        None,
    )
    .await
    .expect("revoked");

    tokio::time::sleep(Duration::from_millis(50)).await;
    let text = captured.text();
    let entries = entries(&text);
    let ann_user = [("user_id", "user-ann")];

    for event in ["link_created", "code_redeemed"] {
        let all: Vec<_> = entries.iter().filter(|e| e["event"] == event).collect();
        assert_eq!(all.len(), 6, "{event}: one per linking");
        assert!(
            all.iter()
                .all(|e| e["client_id"] == CLIENT_ID && e.contains_key("user_id"))
        );
    }
    let stored = find(&entries, "amazon_tokens_stored", &[("via", "accept_grant")]);
    assert_eq!(stored["user_id"], "user-ann");
    assert_eq!(stored["partner_id"], "amazon");
    assert_eq!(stored["client_id"], CLIENT_ID);
    assert!(stored.contains_key("grant_id"));
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["event"] == "amazon_tokens_stored" && e["via"] == "reciprocal")
            .count(),
        2
    );
    find(&entries, "amazon_tokens_refreshed", &ann_user);
    let reads: Vec<_> = entries
        .iter()
        .filter(|e| e["event"] == "partner_token_read" && e["outcome"] == "success")
        .collect();
    assert_eq!(reads.len(), 2);
    for read in reads {
        assert_eq!(read["client_id"], OTHER_CLIENT_ID, "who read");
        assert_eq!(read["user_id"], "user-ann", "whose token");
        assert_eq!(read["remote_addr"], "127.0.0.1");
    }
    let refused = find(&entries, "partner_token_read", &[("user_id", "user-bob")]);
    assert_eq!(refused["outcome"], "failure");
    assert_eq!(refused["reason"], "not_linked");
    find(&entries, "alexa_user_mapped", &ann_user);
    find(
        &entries,
        "amazon_tokens_deleted",
        &[("reason", "skill_disabled")],
    );
    find(&entries, "grant_revoked", &[("reason", "skill_disabled")]);
    let reuse = find(&entries, "refresh_reuse_detected", &[]);
    assert_eq!(reuse["user_id"], "user-bob");
    assert_eq!(
        reuse["remote_addr"], "127.0.0.1",
        "where the replay came from"
    );
    assert_eq!(reuse["level"], "WARN");
    let revoked = find(&entries, "grant_revoked", &[("reason", "refresh_reuse")]);
    assert_eq!(revoked["grant_id"], reuse["grant_id"]);
    find(&entries, "grant_revoked", &[("reason", "code_replay")]);
    let by_client = find(
        &entries,
        "grant_revoked",
        &[("reason", "client_revocation")],
    );
    assert_eq!(by_client["client_id"], CLIENT_ID);
    let unlink = find(&entries, "user_unlinked", &ann_user);
    assert_eq!(unlink["remote_addr"], "127.0.0.1");
    let ended = find(&entries, "grant_revoked", &[("reason", "user_unlink")]);
    assert_eq!(ended["grant_id"], unlink["grant_id"]);
    find(
        &entries,
        "amazon_tokens_deleted",
        &[("reason", "user_unlink")],
    );
    let admin = find(
        &entries,
        "grant_revoked",
        &[("reason", "admin_revoke_user")],
    );
    assert_eq!(admin["grant_id"], admin_grant.to_hex().as_str());

    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the audit log: {secret}"
        );
    }
    for prefix in ["Atza|", "Atzr|"] {
        assert!(!text.contains(prefix), "an Amazon token in the audit log");
    }

    let metrics = reqwest::get(format!("{}{}", server.admin_url, routes::METRICS))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        r#"alexa_link_audit_events_total{event="amazon_tokens_stored",outcome="success"} 3"#,
        r#"alexa_link_audit_events_total{event="partner_token_read",outcome="failure"} 1"#,
        r#"alexa_link_audit_events_total{event="refresh_reuse_detected",outcome="success"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}
