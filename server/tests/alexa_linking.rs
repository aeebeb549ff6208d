//! Account linking as Alexa does it, end to end over HTTP: authorize, login,
//! consent, code exchange, refresh; with both client authentication styles,
//! and under the concurrency Alexa's retries produce.

use alexa_link_server::config::Config;
use alexa_link_server::testing::{
    self, Browser, ClientAuth, Pkce, TestServer, USERS, link, obtain_code, redirect_uri,
    token_request,
};
use futures::future::join_all;
use serde_json::Value;

/// Whether the server has an encryption key: with one, its refresh tokens
/// carry their claims and an exchange goes straight to the rotation; without,
/// every exchange reads the token first. Both must behave the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    Plain,
    WithClaims,
}

/// A test server whose config `adjust` changed, with refresh tokens of `kind`.
async fn start(kind: Refresh, adjust: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_with(|c| {
        adjust(c);
        if kind == Refresh::WithClaims {
            let dir = c.server.session_key_file.parent().expect("dir").to_owned();
            testing::use_encryption_key(c, &dir);
        }
    })
    .await
}

/// Exchanges `token` with the linked client (HTTP Basic).
async fn refresh(server: &TestServer, token: &str) -> (u16, Value) {
    token_request(
        server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

fn str_field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} missing in {v}"))
}

async fn alexa_flow(auth: ClientAuth, kind: Refresh) {
    let server = start(kind, |_| {}).await;
    let tokens = link(&server, USERS[0], auth).await;
    assert!(str_field(&tokens, "access_token").starts_with("ala_"));
    assert!(str_field(&tokens, "refresh_token").starts_with("alr_"));
    assert_eq!(
        str_field(&tokens, "refresh_token").contains('.'),
        kind == Refresh::WithClaims
    );
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "profile");

    // An hour later Alexa refreshes.
    server.clock().advance(3500);
    let (status, refreshed) = token_request(
        &server,
        auth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_field(&tokens, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    assert_ne!(
        refreshed["refresh_token"], tokens["refresh_token"],
        "refresh tokens rotate"
    );
    assert_eq!(refreshed["scope"], "profile");

    // The new refresh token works in turn; the first one's grace has passed.
    server.clock().advance(3500);
    let (status, again) = token_request(
        &server,
        auth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_field(&refreshed, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{again}");
    server.stop().await;
}

#[tokio::test]
async fn alexa_links_with_http_basic_client_authentication() {
    alexa_flow(ClientAuth::Basic, Refresh::Plain).await;
}

#[tokio::test]
async fn alexa_links_with_client_credentials_in_the_body() {
    alexa_flow(ClientAuth::Body, Refresh::Plain).await;
}

#[tokio::test]
async fn alexa_links_with_refresh_tokens_that_carry_their_claims() {
    alexa_flow(ClientAuth::Basic, Refresh::WithClaims).await;
    alexa_flow(ClientAuth::Body, Refresh::WithClaims).await;
}

#[tokio::test]
async fn bcrypt_users_link_too() {
    let server = TestServer::start().await;
    let tokens = link(&server, USERS[1], ClientAuth::Basic).await;
    let introspected = introspect(&server, str_field(&tokens, "access_token")).await;
    assert_eq!(introspected["sub"], "user-bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_redemptions_of_one_code_yield_one_token() {
    let server = TestServer::start().await;
    let pkce = Pkce::new();
    let code = obtain_code(&server, &Browser::new(), USERS[0], &pkce).await;
    let redirect = redirect_uri();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let attempts = (0..50).map(|_| token_request(&server, ClientAuth::Basic, &fields));
    let results = join_all(attempts).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one redemption succeeds");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }
    // The replays revoked what the code issued (RFC 6749 4.1.2).
    let introspected = introspect(&server, str_field(winners[0], "access_token")).await;
    assert_eq!(introspected["active"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_refreshes_rotate_once_and_agree_on_the_successor() {
    twenty_simultaneous_refreshes(Refresh::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_refreshes_with_claims_rotate_once_and_agree_on_the_successor() {
    twenty_simultaneous_refreshes(Refresh::WithClaims).await;
}

async fn twenty_simultaneous_refreshes(kind: Refresh) {
    let server = start(kind, |_| {}).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let refresh = str_field(&tokens, "refresh_token").to_owned();
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let attempts = (0..20).map(|_| token_request(&server, ClientAuth::Basic, &fields));
    let results = join_all(attempts).await;
    let first = &results[0].1;
    for (status, body) in &results {
        assert_eq!(
            *status, 200,
            "every retry within the grace window succeeds: {body}"
        );
        assert_eq!(
            body["refresh_token"], first["refresh_token"],
            "one successor for all"
        );
        assert_eq!(body["access_token"], first["access_token"]);
    }
    assert_ne!(first["refresh_token"].as_str(), Some(refresh.as_str()));
    // The successor is live and the old token is retired.
    let (status, _) = token_request(
        &server,
        ClientAuth::Basic,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", str_field(first, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_retry_within_the_grace_window_gets_the_same_successor_and_reuse_after_it_revokes_the_grant()
 {
    grace_and_reuse(Refresh::Plain).await;
}

#[tokio::test]
async fn with_claims_a_retry_within_the_grace_window_gets_the_same_successor_and_reuse_after_it_revokes_the_grant()
 {
    grace_and_reuse(Refresh::WithClaims).await;
}

async fn grace_and_reuse(kind: Refresh) {
    let server = start(kind, |_| {}).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let old = str_field(&tokens, "refresh_token").to_owned();
    let (_, first) = refresh(&server, &old).await;
    server.clock().advance(30);
    let (status, retry) = refresh(&server, &old).await;
    assert_eq!(status, 200);
    assert_eq!(retry["refresh_token"], first["refresh_token"]);
    assert_eq!(retry["access_token"], first["access_token"]);
    assert!(retry["expires_in"].as_i64().expect("expires_in") <= 3600 - 30);

    // Past the 60 s grace window the old token is a reuse: the whole grant goes.
    server.clock().advance(31);
    let (status, reuse) = refresh(&server, &old).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(&server, str_field(&first, "refresh_token")).await;
    assert_eq!(status, 400, "the successor died with its grant");
    assert_eq!(
        introspect(&server, str_field(&first, "access_token")).await["active"],
        false
    );
}

#[tokio::test]
async fn without_rotation_the_refresh_token_stays_and_is_returned() {
    for kind in [Refresh::Plain, Refresh::WithClaims] {
        let server = start(kind, |c| c.clients[0].refresh_token.rotation = false).await;
        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        let token = str_field(&tokens, "refresh_token");
        for _ in 0..3 {
            let (status, body) = refresh(&server, token).await;
            assert_eq!(status, 200, "{kind:?}: {body}");
            assert_eq!(body["refresh_token"], token);
        }
    }
}

#[tokio::test]
async fn absolute_and_idle_lifetimes_end_refresh_tokens() {
    for kind in [Refresh::Plain, Refresh::WithClaims] {
        let server = start(kind, |c| {
            c.clients[0].refresh_token.absolute_lifetime_seconds = Some(10_000);
            c.clients[0].refresh_token.idle_lifetime_seconds = Some(5_000);
        })
        .await;
        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        server.clock().advance(5_001);
        let (status, _) = refresh(&server, str_field(&tokens, "refresh_token")).await;
        assert_eq!(status, 400, "{kind:?}: idle lifetime passed");

        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        let mut token = str_field(&tokens, "refresh_token").to_owned();
        let mut ended = false;
        for _ in 0..3 {
            server.clock().advance(4_000);
            let (status, body) = refresh(&server, &token).await;
            if status != 200 {
                assert_eq!(body["error"], "invalid_grant");
                ended = true;
                break;
            }
            token = str_field(&body, "refresh_token").to_owned();
        }
        assert!(
            ended,
            "{kind:?}: the grant outlived its 10 000 s absolute lifetime"
        );
    }
}

/// What the embedded store has run so far: the sum of its batches' sizes.
async fn store_operations(server: &TestServer) -> f64 {
    let metrics = server.metrics().await;
    testing::metric(&metrics, "alexa_link_store_batch_operations_sum")
        .unwrap_or_else(|| panic!("no batch_operations_sum in {metrics}"))
}

#[tokio::test]
async fn a_refresh_token_with_claims_is_exchanged_with_one_store_operation_less() {
    let mut cost = Vec::new();
    for kind in [Refresh::Plain, Refresh::WithClaims] {
        let server = start(kind, |_| {}).await;
        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        let mut token = str_field(&tokens, "refresh_token").to_owned();
        let before = store_operations(&server).await;
        for _ in 0..5 {
            let (status, body) = refresh(&server, &token).await;
            assert_eq!(status, 200, "{kind:?}: {body}");
            token = str_field(&body, "refresh_token").to_owned();
        }
        cost.push(store_operations(&server).await - before);
    }
    assert_eq!(
        cost[0] - cost[1],
        5.0,
        "operations for five refreshes: {cost:?}"
    );
}

#[tokio::test]
async fn a_refresh_token_with_claims_of_a_revoked_grant_is_refused() {
    let server = start(Refresh::WithClaims, |_| {}).await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let token = str_field(&tokens, "refresh_token");
    let revoked = reqwest::Client::new()
        .post(server.url("/oauth/revoke"))
        .basic_auth(testing::CLIENT_ID, Some(testing::CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    let (status, body) = refresh(&server, token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    server.stop().await;
}

#[tokio::test]
async fn another_key_only_costs_the_shortcut_and_tampered_claims_are_refused() {
    let first = start(Refresh::WithClaims, |_| {}).await;
    let tokens = link(&first, USERS[0], ClientAuth::Basic).await;
    let token = str_field(&tokens, "refresh_token").to_owned();

    // A replica of the same store whose ring has lost the key that sealed
    // the claims: they no longer open, the token is read and exchanged.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = first.app.config.clone();
    config.encryption_key_files.clear();
    testing::use_encryption_key(&mut config, dir.path());
    let other = TestServer::start_sharing(config, dir, first.app.store.clone()).await;
    let (status, body) = refresh(&other, &token).await;
    assert_eq!(status, 200, "{body}");
    let successor = str_field(&body, "refresh_token").to_owned();

    // Claims are part of the token: changed ones make another token.
    let (random, claims) = successor.split_once('.').expect("claims");
    let mut changed = claims.as_bytes().to_vec();
    changed[10] = if changed[10] == b'A' { b'B' } else { b'A' };
    let changed = format!("{random}.{}", String::from_utf8(changed).expect("ascii"));
    for presented in [random.to_owned(), changed] {
        let (status, body) = refresh(&first, &presented).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    let (status, body) = refresh(&first, &successor).await;
    assert_eq!(status, 200, "untouched, it is still the live token: {body}");
}

async fn introspect(server: &TestServer, token: &str) -> Value {
    reqwest::Client::new()
        .post(server.url("/oauth/introspect"))
        .basic_auth(testing::CLIENT_ID, Some(testing::CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json")
}
