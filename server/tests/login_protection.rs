//! Brute-force protection of the password login, and the token endpoint's
//! latency while a login storm keeps the password hashing pool busy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alexa_link_server::clock::Clock;
use alexa_link_server::config::{EmbeddedStoreConfig, LoginProtectionConfig, StoreConfig};
use alexa_link_server::identity::password::hash_argon2;
use alexa_link_server::routes;
use alexa_link_server::store::embedded::EmbeddedStore;
use alexa_link_server::testing::{
    Browser, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, Pkce, TestServer, USERS, authorize_url,
    hidden_field, login_attempt,
};

/// One browser with a login form open.
struct Form {
    browser: Browser,
    request: String,
    csrf: String,
}

async fn open_form(server: &TestServer) -> Form {
    let browser = Browser::new();
    let html = browser
        .http
        .get(authorize_url(server, &Pkce::new(), "st", "profile"))
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("html");
    Form {
        request: hidden_field(&html, "request").expect("request"),
        csrf: hidden_field(&html, "csrf").expect("csrf"),
        browser,
    }
}

/// Submits the form: (status, Retry-After, page).
async fn submit(
    server: &TestServer,
    form: &Form,
    user: &str,
    password: &str,
) -> (u16, Option<u64>, String) {
    let response = form
        .browser
        .post_form(
            &server.url(routes::LOGIN),
            &[
                ("request", &form.request),
                ("csrf", &form.csrf),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, response.text().await.expect("body"))
}

fn strict() -> LoginProtectionConfig {
    LoginProtectionConfig {
        free_failures: 2,
        max_delay_seconds: 4,
        lockout_failures: 6,
        lockout_seconds: 300,
        ip_lockout_failures: 1000,
        trust_forwarded_for: false,
    }
}

/// The error message shown on a login page.
fn alert(page: &str) -> &str {
    let start = page.find("role=\"alert\">").map_or(0, |i| i + 13);
    let end = start + page[start..].find('<').unwrap_or(0);
    &page[start..end]
}

/// Eleven wrong passwords for `user`, moving the clock past every delay
/// the server asks for; returns what each attempt got.
async fn eleven_failures(server: &TestServer, user: &str) -> Vec<(u16, Option<u64>, String)> {
    let form = open_form(server).await;
    let mut seen = vec![];
    for _ in 0..11 {
        let (status, retry, page) = submit(server, &form, user, "wrong-password").await;
        if let Some(wait) = retry
            && wait < 300
        {
            server.clock().advance(wait as i64);
        }
        seen.push((status, retry, alert(&page).to_owned()));
    }
    seen
}

#[tokio::test]
async fn repeated_failures_slow_down_then_lock_without_revealing_the_user() {
    let server = TestServer::start_with(|c| c.login_protection = strict()).await;
    // "carl" does not exist, ann does: both get exactly the same answers.
    let carl = eleven_failures(&server, "carl").await;
    let ann = eleven_failures(&server, "ann").await;
    // freeFailures is 2: after two failures the next attempt waits (the
    // README's promise), the delay doubles up to 4 s, the 6th failure locks.
    assert_eq!(
        carl.iter().map(|(s, r, _)| (*s, *r)).collect::<Vec<_>>(),
        vec![
            (401, None),
            (401, None),
            (429, Some(1)),
            (401, None),
            (429, Some(2)),
            (401, None),
            (429, Some(4)),
            (401, None),
            (429, Some(4)),
            (401, None),
            (429, Some(300)),
        ]
    );
    assert_eq!(carl, ann, "an unknown user reads exactly like a known one");
    assert_eq!(carl[0].2, "Incorrect username or password.");
    assert_eq!(
        carl[10].2,
        "Too many failed sign-in attempts. Try again in 5 minutes."
    );

    // Locked: even ann's right password is refused, without being checked.
    let form = open_form(&server).await;
    let (status, retry, _) = submit(&server, &form, "ann", USERS[0].1).await;
    assert_eq!((status, retry), (429, Some(300)));
    // Other users are not affected.
    let (status, _, _) = submit(&server, &form, "bob", USERS[1].1).await;
    assert_eq!(status, 303);
    // After the lockout ann logs in, and her count starts over.
    server.clock().advance(300);
    let form = open_form(&server).await;
    let (status, _, _) = submit(&server, &form, "ann", USERS[0].1).await;
    assert_eq!(status, 303);
    server.stop().await;
}

#[tokio::test]
async fn an_address_that_fails_too_often_is_locked_for_every_username() {
    let server = TestServer::start_with(|c| {
        c.login_protection = LoginProtectionConfig {
            ip_lockout_failures: 5,
            ..strict()
        }
    })
    .await;
    let form = open_form(&server).await;
    for i in 0..5 {
        let (status, _, _) = submit(&server, &form, &format!("spray{i}"), "123456").await;
        assert_eq!(status, 401);
    }
    let (status, retry, _) = submit(&server, &form, "bob", USERS[1].1).await;
    assert_eq!((status, retry), (429, Some(300)));
    server.stop().await;
}

/// Token requests (client_credentials) while `logins` concurrent browsers
/// post wrong passwords for unknown users, each costing a full argon2
/// (OWASP parameters) decoy verification. Returns token-endpoint latencies
/// and how many logins were answered.
async fn storm(server: &TestServer, logins: usize, duration: Duration) -> (Vec<Duration>, usize) {
    let deadline = Instant::now() + duration;
    let mut attackers = vec![];
    for a in 0..logins {
        let form = open_form(server).await;
        let url = server.url(routes::LOGIN);
        attackers.push(tokio::spawn(async move {
            let mut answered = 0;
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let response = form
                    .browser
                    .post_form(
                        &url,
                        &[
                            ("request", &form.request),
                            ("csrf", &form.csrf),
                            ("username", &format!("storm-{a}-{n}")),
                            ("password", "guess"),
                        ],
                    )
                    .await;
                assert_eq!(response.status(), 401, "every storm login is checked");
                answered += 1;
            }
            answered
        }));
    }
    let http = reqwest::Client::new();
    let mut latencies = vec![];
    while Instant::now() < deadline {
        let start = Instant::now();
        let response = http
            .post(server.url(routes::TOKEN))
            .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", "profile")])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200);
        let _ = response.bytes().await;
        latencies.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut answered = 0;
    for a in attackers {
        answered += a.await.expect("attacker");
    }
    (latencies, answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_stays_within_alexas_budget_during_a_login_storm() {
    let server = TestServer::start_with(|c| {
        // Let every storm login reach the hashing pool (no throttling), and
        // make hashes as costly as production ones.
        c.login_protection.ip_lockout_failures = 100_000;
        if let alexa_link_server::config::IdentityConfig::Static(s) = &mut c.identity {
            for (u, (_, password)) in s.users.iter_mut().zip(USERS) {
                u.password_hash = hash_argon2(password);
            }
        }
    })
    .await;
    let (mut latencies, logins) = storm(&server, 32, Duration::from_secs(6)).await;
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let (p50, p99, max) = (pct(0.5), pct(0.99), *latencies.last().expect("some"));
    eprintln!(
        "login storm: 32 concurrent logins, {logins} answered in 6 s; token endpoint: {} requests, p50 {p50:?}, p99 {p99:?}, max {max:?}",
        latencies.len()
    );
    assert!(logins >= 32, "the storm really ran ({logins} logins)");
    assert!(
        max < Duration::from_millis(4500),
        "token endpoint exceeded Alexa's 4.5 s budget: {max:?}"
    );
    // Far below the budget in practice (about 20 ms on 2 idle cores); a
    // regression that lets hashing starve the runtime shows up here first.
    assert!(p99 < Duration::from_millis(1500), "p99 {p99:?}");
    server.stop().await;
}

/// Two replicas on one store: the free failures used on one make the other
/// wait. (Each replica used to count alone, so N replicas gave N budgets.)
#[tokio::test]
async fn replicas_on_one_store_share_one_budget() {
    let a = TestServer::start_with(|c| c.login_protection = strict()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = alexa_link_server::testing::test_config(dir.path());
    config.login_protection = strict();
    let b = TestServer::start_sharing(config, dir, a.app.store.clone()).await;
    assert_eq!(login_attempt(&a, ("ann", "wrong")).await, (401, None));
    assert_eq!(login_attempt(&b, ("ann", "wrong")).await, (401, None));
    assert_eq!(
        login_attempt(&a, ("ann", USERS[0].1)).await,
        (429, Some(1)),
        "the third attempt waits, whichever replica got the first two"
    );
    assert_eq!(login_attempt(&b, ("ann", USERS[0].1)).await, (429, Some(1)));
    b.stop().await;
    a.stop().await;
}

/// A restart forgets nothing: a locked username stays locked when the
/// server reopens its store file.
#[tokio::test]
async fn a_restart_keeps_a_lockout() {
    let volume = tempfile::tempdir().expect("store volume");
    let config_in = |dir: &tempfile::TempDir| {
        let mut config = alexa_link_server::testing::test_config(dir.path());
        config.login_protection = strict();
        config.store =
            StoreConfig::Embedded(EmbeddedStoreConfig::at(volume.path().join("store.redb")));
        config
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_config(config_in(&dir), dir).await;
    let seen = eleven_failures(&server, "ann").await;
    assert_eq!(seen[10].1, Some(300), "locked");
    let advanced = server.clock().now() - Clock::default().now();
    server.stop().await;

    // The writer thread lets go of the file once the last handle is gone.
    let path = volume.path().join("store.redb");
    let store = loop {
        match EmbeddedStore::open(&path) {
            Ok(store) => break store,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let restarted = TestServer::start_sharing(config_in(&dir), dir, Arc::new(store)).await;
    restarted.clock().advance(advanced);
    let (status, retry) = login_attempt(&restarted, ("ann", USERS[0].1)).await;
    assert_eq!(status, 429, "still locked after the restart");
    assert!(retry.is_some_and(|r| r > 200), "{retry:?}");
    restarted.stop().await;
}
