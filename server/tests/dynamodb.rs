//! The DynamoDB store against Amazon's DynamoDB Local.
//!
//! `DYNAMODB_ENDPOINT` names a running DynamoDB Local (scripts/test starts
//! one); the fault test starts its own from `DYNAMODB_LOCAL_JAR_DIR`. Both
//! unset: the tests say so and pass without running.

use std::sync::Arc;
use std::time::Duration;

use alexa_link_server::config::StoreConfig;
use alexa_link_server::store::Store;
use alexa_link_server::store::conformance::{self, Capabilities};
use alexa_link_server::store::dynamodb::DynamoStore;
use alexa_link_server::testing::{
    self, Browser, ClientAuth, Pkce, RawBrowser, TestServer, USERS, dynamodb_store, hidden_field,
    login_attempt, obtain_code, redirect_uri, test_config, token_request, unique_table,
};
use alexa_link_server::tokens::{self, TokenKind};
use futures::future::join_all;
use serde_json::Value;

fn endpoint() -> Option<String> {
    match std::env::var("DYNAMODB_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            eprintln!(
                "skipped: DYNAMODB_ENDPOINT is not set (scripts/test starts DynamoDB Local and sets it)"
            );
            None
        }
    }
}

async fn server_on(endpoint: &str, table: &str) -> TestServer {
    server_with_key(endpoint, table, None).await
}

/// A replica on `table` whose encryption key (so: refresh tokens with
/// claims) is the file `key`, shared by replicas as a Secret would be.
async fn server_with_key(endpoint: &str, table: &str, key: Option<&std::path::Path>) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.store = dynamodb_store(dir.path(), endpoint, table);
    config.encryption_key_files = key.map(std::path::Path::to_owned).into_iter().collect();
    TestServer::start_config(config, dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_store_conformance_suite() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let StoreConfig::Dynamodb(mut config) = dynamodb_store(dir.path(), &endpoint, &unique_table())
    else {
        unreachable!()
    };
    // As the operator runs it: every item names its owner.
    config.owner = Some("conformance/link".into());
    let store = DynamoStore::connect(&config)
        .await
        .expect("connect and create the table");
    conformance::run_all(
        Arc::new(store),
        Capabilities {
            immediate_purge: false,
        },
    )
    .await;
}

/// Issue 19: sealed and JWT access tokens over DynamoDB: linking and
/// rotation write no access token item, and revoking the grant ends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn self_contained_access_tokens_link_refresh_and_end_with_the_grant() {
    let Some(endpoint) = endpoint() else { return };
    for format in [
        alexa_link_server::config::AccessTokenFormat::Sealed,
        alexa_link_server::config::AccessTokenFormat::Jwt,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        config.store = dynamodb_store(dir.path(), &endpoint, &unique_table());
        testing::use_access_token_format(&mut config, dir.path(), format);
        let server = TestServer::start_config(config, dir).await;
        let tokens = testing::link(&server, USERS[0], ClientAuth::Basic).await;
        let refresh = tokens["refresh_token"].as_str().expect("rt");
        let (status, rotated) = token_request(
            &server,
            ClientAuth::Basic,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(status, 200, "{format:?}: {rotated}");
        let introspect = |token: String| {
            let url = server.url("/oauth/introspect");
            async move {
                reqwest::Client::new()
                    .post(url)
                    .basic_auth(testing::CLIENT_ID, Some(testing::CLIENT_SECRET))
                    .form(&[("token", token)])
                    .send()
                    .await
                    .expect("send")
                    .json::<Value>()
                    .await
                    .expect("json")["active"]
                    .clone()
            }
        };
        let access = rotated["access_token"].as_str().expect("at").to_owned();
        assert_eq!(introspect(access.clone()).await, true, "{format:?}");
        let revoked = reqwest::Client::new()
            .post(server.url("/oauth/revoke"))
            .basic_auth(testing::CLIENT_ID, Some(testing::CLIENT_SECRET))
            .form(&[("token", rotated["refresh_token"].as_str().expect("rt"))])
            .send()
            .await
            .expect("revoke");
        assert_eq!(revoked.status(), 200);
        assert_eq!(introspect(access).await, false, "{format:?}");
        server.stop().await;
    }
}

#[tokio::test]
async fn start_up_names_a_missing_table() {
    let Some(endpoint) = endpoint() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let StoreConfig::Dynamodb(mut config) =
        dynamodb_store(dir.path(), &endpoint, "alexa-link-missing-table")
    else {
        unreachable!()
    };
    config.create_table = false;
    let err = DynamoStore::connect(&config)
        .await
        .expect_err("no such table")
        .to_string();
    assert!(
        err.contains("alexa-link-missing-table") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_one_table() {
    let Some(endpoint) = endpoint() else { return };
    two_replicas(&endpoint, None).await;
}

/// The same with refresh tokens that carry their claims: concurrent
/// refreshes go straight to rotations that race in DynamoDB's transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_one_table_and_one_key() {
    let Some(endpoint) = endpoint() else { return };
    let keys = tempfile::tempdir().expect("tempdir");
    let key = keys.path().join("key-1");
    std::fs::write(&key, [tokens::random_id(), tokens::random_id()].concat()).expect("key");
    two_replicas(&endpoint, Some(&key)).await;
}

async fn two_replicas(endpoint: &str, key: Option<&std::path::Path>) {
    let table = unique_table();
    let a = server_with_key(endpoint, &table, key).await;
    let b = server_with_key(endpoint, &table, key).await;
    // Browsers see one deployment: the session key is per server here, so
    // the whole browser part happens on `a`; the code is redeemed on `b`.
    let pkce = Pkce::new();
    let code = obtain_code(&a, &Browser::new(), USERS[0], &pkce).await;
    let (status, tokens) = token_request(
        &b,
        ClientAuth::Basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri()),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(
        status, 200,
        "a code issued by one replica is redeemed by the other: {tokens}"
    );

    // Concurrent refreshes of one token, spread over both replicas.
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(refresh.contains('.'), key.is_some(), "claims with a key");
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let results: Vec<(u16, Value)> = join_all(
        (0..20)
            .map(|i| token_request(if i % 2 == 0 { &a } else { &b }, ClientAuth::Basic, &fields)),
    )
    .await;
    let first = &results[0].1;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(
            body["refresh_token"], first["refresh_token"],
            "one rotation, one successor for all"
        );
    }
    // The code is spent everywhere.
    let (status, _) = token_request(
        &a,
        ClientAuth::Basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri()),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let ready = reqwest::get(format!("{}/readyz", a.admin_url))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
}

/// A DynamoDB Local owned by one test, persisted on disk so it can be
/// stopped and started again.
struct OwnLocal {
    port: u16,
    data: tempfile::TempDir,
    pid: Option<u32>,
}

impl OwnLocal {
    fn start(port: u16, data: tempfile::TempDir) -> OwnLocal {
        let mut local = OwnLocal {
            port,
            data,
            pid: None,
        };
        local.restart();
        local
    }

    fn restart(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/dynamodb-local");
        let out = std::process::Command::new(script)
            .args([
                "start",
                &self.port.to_string(),
                &self.data.path().display().to_string(),
            ])
            .output()
            .expect("run scripts/dynamodb-local");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.pid = String::from_utf8_lossy(&out.stdout).trim().parse().ok();
    }

    fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            // Wait until the port is closed.
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for OwnLocal {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_gives_503s_and_loses_nothing_acknowledged() {
    if std::env::var("DYNAMODB_LOCAL_JAR_DIR").is_err() && endpoint().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut local = OwnLocal::start(port, tempfile::tempdir().expect("tempdir"));
    let server = Arc::new(server_on(&format!("http://127.0.0.1:{port}"), &unique_table()).await);
    let linked = testing::link(&server, USERS[0], ClientAuth::Basic).await;

    // A bounded load run (4 workers, 6 s) of client_credentials grants,
    // across an outage of DynamoDB Local from 1 s to 3 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut seen = Vec::new();
                while tokio::time::Instant::now() < deadline {
                    let response = http
                        .post(server.url("/oauth/token"))
                        .basic_auth(testing::OTHER_CLIENT_ID, Some(testing::OTHER_CLIENT_SECRET))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                        .expect("the server itself stays up");
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.expect("every answer is JSON");
                    seen.push((status, body));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    local.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ready = reqwest::get(format!("{}/readyz", server.admin_url))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503, "/readyz reflects the outage");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    local.restart();

    let mut issued = Vec::new();
    let mut unavailable = 0;
    for worker in workers {
        for (status, body) in worker.await.expect("worker") {
            match status {
                200 => issued.push(body["access_token"].as_str().expect("token").to_owned()),
                503 => {
                    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                    unavailable += 1;
                }
                other => panic!("unexpected {other} during the outage: {body}"),
            }
        }
    }
    assert!(unavailable > 0, "the outage was seen as 503s");
    assert!(
        !issued.is_empty(),
        "tokens were issued before and after the outage"
    );

    // Every token answered with 200 was persisted: each introspects active.
    let http = reqwest::Client::new();
    for token in &issued {
        let info: Value = http
            .post(server.url("/oauth/introspect"))
            .basic_auth(testing::OTHER_CLIENT_ID, Some(testing::OTHER_CLIENT_SECRET))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .expect("introspect")
            .json()
            .await
            .expect("json");
        assert_eq!(
            info["active"], true,
            "a token was returned that was never stored"
        );
    }
    // And the grant linked before the outage still refreshes.
    let (status, body) = token_request(
        &server,
        ClientAuth::Basic,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                linked["refresh_token"].as_str().expect("rt"),
            ),
        ],
    )
    .await;
    assert_eq!(
        status, 200,
        "an acknowledged grant survived the outage: {body}"
    );
    assert_eq!(
        reqwest::get(format!("{}/readyz", server.admin_url))
            .await
            .expect("readyz")
            .status(),
        200
    );
}

/// Without the store a sign-out is refused, never faked: 503, the browser
/// keeps its session to try again, and no page trusts the cookie meanwhile.
/// Once the store is back the sign-out goes through and ends every copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_out_during_an_outage_is_refused_not_faked() {
    if std::env::var("DYNAMODB_LOCAL_JAR_DIR").is_err() && endpoint().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut local = OwnLocal::start(port, tempfile::tempdir().expect("tempdir"));
    let server = server_on(&format!("http://127.0.0.1:{port}"), &unique_table()).await;
    let mut browser = RawBrowser::new();
    let links = browser.sign_in(&server, USERS[0]).await;
    let csrf = hidden_field(&links, "csrf").expect("csrf");
    let copy = browser.clone();
    let has_session = |b: &RawBrowser| b.cookies.keys().any(|k| k.contains("session"));

    local.stop();
    let refused = browser
        .post(&server.url("/oauth/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status(), 503, "the sign-out could not be recorded");
    let page = refused.text().await.expect("html");
    assert!(page.contains("Not signed out"), "{page}");
    assert!(
        has_session(&browser),
        "the browser keeps its session to retry"
    );
    // Meanwhile whether the session ended cannot be read: the page says it
    // is unavailable instead of showing the user as signed in.
    let meanwhile = copy.clone().get(&server.url("/oauth/links")).await;
    assert_eq!(
        meanwhile.status(),
        503,
        "no page trusts an unchecked session"
    );

    local.restart();
    let out = browser
        .post(&server.url("/oauth/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 200, "the retry signs out");
    assert!(!has_session(&browser));
    let after = copy.clone().get(&server.url("/oauth/links")).await;
    let after = after.text().await.expect("html");
    assert!(
        after.contains("name=\"password\"") && !after.contains("Signed in as"),
        "the copy is signed out too: {after}"
    );
}

/// Three replicas on one table have one login budget: the free failures
/// spent on two of them make every replica ask the next attempt to wait,
/// and concurrent guesses spread over all three verify no more passwords
/// than one replica alone would.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_one_login_budget() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique_table();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(server_on(&endpoint, &table).await);
    }
    // The default policy: 3 free failures.
    for replica in &replicas {
        assert_eq!(login_attempt(replica, ("ann", "wrong")).await, (401, None));
    }
    for (i, replica) in replicas.iter().enumerate() {
        assert_eq!(
            login_attempt(replica, ("ann", USERS[0].1)).await,
            (429, Some(1)),
            "replica {i} makes the fourth attempt wait"
        );
    }
    // Thirty guesses for another user at once, ten per replica: only the
    // three free failures are checked; the rest wait.
    let guesses = (0..30).map(|i| login_attempt(&replicas[i % 3], ("bob", "guess")));
    let answers = join_all(guesses).await;
    let checked = answers.iter().filter(|(status, _)| *status == 401).count();
    let waited = answers.iter().filter(|(status, _)| *status == 429).count();
    assert_eq!((checked, waited), (3, 27), "{answers:?}");
    for replica in replicas {
        replica.stop().await;
    }
}

/// Replicas of a new deployment start together on a table that does not
/// exist yet: every one of them must come up (issue #12: one crashed with
/// "TimeToLive is already enabled" and only recovered on restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_create_one_table() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique_table();
    for round in 0..3 {
        let table = format!("{table}-{round}");
        let dir = tempfile::tempdir().expect("tempdir");
        let StoreConfig::Dynamodb(config) = dynamodb_store(dir.path(), &endpoint, &table) else {
            unreachable!()
        };
        let started = join_all((0..5).map(|_| DynamoStore::connect(&config))).await;
        for (replica, result) in started.iter().enumerate() {
            if let Err(e) = result {
                panic!("round {round}: replica {replica} failed to start: {e}");
            }
        }
        // The table they share works: one writes, another reads.
        let stores: Vec<DynamoStore> = started.into_iter().map(Result::unwrap).collect();
        let session = tokens::generate(TokenKind::AccessToken).hash;
        stores[0]
            .end_session(&session, 4_000_000_000)
            .await
            .expect("write through one replica");
        assert!(
            stores[4]
                .session_ended(&session, 3_999_999_000)
                .await
                .expect("read through another"),
            "round {round}: the replicas share one table"
        );
    }
}

/// One item of every kind a server writes, through `store`; the reads
/// that find each again (true: found).
mod owned_items {
    use alexa_link_server::store::{
        AccessTokenRecord, AlexaUserRecord, AuthCodeRecord, GrantId, GrantRecord, NewGrant,
        PartnerLinkRecord, RefreshState, RefreshTokenRecord, Store,
    };
    use alexa_link_server::tokens::{self, TokenHash, TokenKind};

    const NOW: i64 = 4_000_000_000;

    fn hash() -> TokenHash {
        tokens::generate(TokenKind::AccessToken).hash
    }

    /// What one deployment wrote: a redeemed code (with its grant, access
    /// and refresh token), a partner link, a consent, an Alexa user id and
    /// an ended session.
    pub struct Written {
        code: TokenHash,
        grant: GrantId,
        access: TokenHash,
        user: String,
        alexa_user: String,
        session: TokenHash,
    }

    pub async fn write(store: &dyn Store) -> Written {
        let user = format!("user-{}", tokens::random_nonce());
        let code = hash();
        store
            .put_code(
                &code,
                &AuthCodeRecord {
                    client_id: "alexa".into(),
                    user_id: user.clone(),
                    redirect_uri: None,
                    scope: "profile".into(),
                    code_challenge: None,
                    auth_time: NOW,
                    expires_at: NOW + 60,
                    redeemed_for: None,
                },
            )
            .await
            .expect("put code");
        let grant = GrantId::generate();
        let access = hash();
        store
            .redeem_code(
                &code,
                NOW,
                &NewGrant {
                    grant_id: grant,
                    grant: GrantRecord {
                        client_id: "alexa".into(),
                        user_id: Some(user.clone()),
                        scope: "profile".into(),
                        created_at: NOW,
                        expires_at: None,
                        revoked_at: None,
                    },
                    access: Some((
                        access,
                        AccessTokenRecord {
                            client_id: "alexa".into(),
                            user_id: Some(user.clone()),
                            scope: "profile".into(),
                            grant_id: Some(grant),
                            issued_at: NOW,
                            expires_at: NOW + 3600,
                        },
                    )),
                    access_expires_at: NOW + 3600,
                    refresh: Some((
                        hash(),
                        RefreshTokenRecord {
                            grant_id: grant,
                            client_id: "alexa".into(),
                            user_id: user.clone(),
                            scope: "profile".into(),
                            issued_at: NOW,
                            expires_at: None,
                            state: RefreshState::Active,
                        },
                    )),
                },
            )
            .await
            .expect("redeem");
        assert!(
            store
                .put_partner_link(
                    &PartnerLinkRecord {
                        user_id: user.clone(),
                        partner_id: "amazon".into(),
                        client_id: "alexa".into(),
                        grant_id: grant,
                        sealed_tokens: vec![1, 2, 3],
                        access_expires_at: NOW + 3600,
                        scope: "alexa::health".into(),
                        updated_at: NOW,
                        revision: 1,
                        refresh_lease: None,
                    },
                    NOW,
                )
                .await
                .expect("put partner link")
        );
        store
            .put_consent(&user, "alexa", &["profile".to_owned()])
            .await
            .expect("consent");
        let alexa_user = format!("amzn1.ask.account.{}", tokens::random_nonce());
        store
            .put_alexa_user(&AlexaUserRecord {
                alexa_user_id: alexa_user.clone(),
                user_id: user.clone(),
                client_id: "alexa".into(),
                grant_id: grant,
                updated_at: NOW,
            })
            .await
            .expect("alexa user");
        let session = hash();
        store
            .end_session(&session, NOW + 600)
            .await
            .expect("end session");
        Written {
            code,
            grant,
            access,
            user,
            alexa_user,
            session,
        }
    }

    /// Which of the items are still there, by kind.
    pub async fn present(store: &dyn Store, w: &Written) -> Vec<(&'static str, bool)> {
        vec![
            (
                "code",
                store.get_code(&w.code, NOW).await.expect("read").is_some(),
            ),
            (
                "grant",
                store.get_grant(&w.grant).await.expect("read").is_some(),
            ),
            (
                "access token",
                store
                    .get_access_token(&w.access, NOW)
                    .await
                    .expect("read")
                    .is_some(),
            ),
            (
                "partner link",
                store
                    .get_partner_link(&w.user, "amazon", NOW)
                    .await
                    .expect("read")
                    .is_some(),
            ),
            (
                "consent",
                store
                    .get_consent(&w.user, "alexa")
                    .await
                    .expect("read")
                    .is_some(),
            ),
            (
                "alexa user",
                store
                    .get_alexa_user(&w.alexa_user)
                    .await
                    .expect("read")
                    .is_some(),
            ),
            (
                "ended session",
                store.session_ended(&w.session, NOW).await.expect("read"),
            ),
        ]
    }
}

/// `deletionPolicy: Delete` with a shared table: the purge deletes exactly
/// one owner's items, page by page, and a bounded run that stopped early
/// is continued by the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_deletes_exactly_one_owners_items_and_resumes() {
    let Some(endpoint) = endpoint() else { return };
    let table = unique_table();
    let dir = tempfile::tempdir().expect("tempdir");
    let StoreConfig::Dynamodb(base) = dynamodb_store(dir.path(), &endpoint, &table) else {
        unreachable!()
    };
    let with_owner = |owner: Option<&str>| {
        let mut c = base.clone();
        c.owner = owner.map(str::to_owned);
        c
    };
    let doomed = DynamoStore::connect(&with_owner(Some("shop/skill-a")))
        .await
        .expect("connect");
    // A name that starts like the doomed one: exact match only.
    let neighbour = DynamoStore::connect(&with_owner(Some("shop/skill-a-2")))
        .await
        .expect("connect");
    let unowned = DynamoStore::connect(&with_owner(None))
        .await
        .expect("connect");
    let mut doomed_items = Vec::new();
    let mut kept_items = Vec::new();
    for _ in 0..3 {
        doomed_items.push(owned_items::write(&doomed).await);
        kept_items.push((owned_items::write(&neighbour).await, "neighbour"));
        kept_items.push((owned_items::write(&unowned).await, "unowned"));
    }
    // 3 x 8 items per owner: code, grant, access and refresh token,
    // partner link, consent, Alexa user id, ended session.
    let mut pages = Vec::new();
    let first = doomed
        .purge_owner("shop/skill-a", 4, Some(2), |p| pages.push(*p))
        .await
        .expect("bounded purge");
    assert!(!first.complete, "two pages of four cannot cover 72 items");
    assert_eq!(first.pages, 2);
    assert_eq!(first.scanned, 8, "a page is bounded by its size");
    assert_eq!(pages.len(), 2, "progress after each page");

    let rest = doomed
        .purge_owner("shop/skill-a", 4, None, |_| {})
        .await
        .expect("purge");
    assert!(rest.complete);
    assert_eq!(
        first.deleted + rest.deleted,
        24,
        "every item the owner wrote, once (first run {first:?}, second {rest:?})"
    );
    assert_eq!(
        rest.unowned, 24,
        "items without an owner are counted, not deleted"
    );
    for w in &doomed_items {
        for (kind, there) in owned_items::present(&unowned, w).await {
            assert!(!there, "the purged owner's {kind} is gone");
        }
    }
    for (w, whose) in &kept_items {
        for (kind, there) in owned_items::present(&unowned, w).await {
            assert!(there, "the {whose} {kind} is untouched");
        }
    }
    let again = doomed
        .purge_owner("shop/skill-a", 100, None, |_| {})
        .await
        .expect("purge again");
    assert_eq!((again.deleted, again.complete), (0, true), "idempotent");
}
