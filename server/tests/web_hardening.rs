//! The browser-facing hardening of issue 14: CSRF nonces bound to the login
//! session, signing out, unlinking that forgets consent, and the RFC 9207
//! `iss` parameter on every authorization response.

use alexa_link_server::testing::{
    self, Browser, ClientAuth, OTHER_CLIENT_ID, Pkce, RawBrowser, TestServer, USERS, authorize_url,
    hidden_field, location_params, param, submit_login,
};
use reqwest::header;
use serde_json::Value;

async fn get(browser: &Browser, url: &str) -> reqwest::Response {
    browser.http.get(url).send().await.expect("get")
}

/// Follows a login's redirect back to the authorization endpoint.
async fn after_login(server: &TestServer, browser: &Browser, login: &reqwest::Response) -> String {
    assert_eq!(login.status(), 303, "login succeeds");
    let location = login.headers()[header::LOCATION]
        .to_str()
        .expect("location");
    let page = get(browser, &server.url(location)).await;
    assert_eq!(page.status(), 200, "the consent page");
    page.text().await.expect("html")
}

async fn consent(
    server: &TestServer,
    browser: &Browser,
    html: &str,
    csrf: &str,
) -> reqwest::Response {
    browser
        .post_form(
            &server.url("/oauth/consent"),
            &[
                ("request", &hidden_field(html, "request").expect("request")),
                ("csrf", csrf),
                ("decision", "allow"),
            ],
        )
        .await
}

#[tokio::test]
async fn the_login_forms_nonce_stops_working_once_signed_in() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let login_page = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s", "profile"),
    )
    .await
    .text()
    .await
    .expect("html");
    let before = hidden_field(&login_page, "csrf").expect("csrf");
    let login = submit_login(&server, &browser, &login_page, USERS[0]).await;
    let consent_page = after_login(&server, &browser, &login).await;
    let after = hidden_field(&consent_page, "csrf").expect("csrf");
    assert_ne!(before, after, "a new nonce after login");

    let stale = consent(&server, &browser, &consent_page, &before).await;
    assert_eq!(stale.status(), 403, "the pre-login nonce is refused");
    assert!(stale.headers().get(header::LOCATION).is_none());
    // The page it shows carries a good nonce again.
    let html = stale.text().await.expect("html");
    let fresh = hidden_field(&html, "csrf").expect("csrf");
    let allowed = consent(&server, &browser, &html, &fresh).await;
    assert_eq!(allowed.status(), 303);
    assert!(param(&location_params(&allowed), "code").is_some());
}

#[tokio::test]
async fn a_nonce_planted_with_its_cookie_in_another_session_is_refused() {
    let server = TestServer::start().await;
    let mut attacker = RawBrowser::new();
    let attacker_page = attacker.sign_in(&server, USERS[1]).await;
    let attacker_nonce = hidden_field(&attacker_page, "csrf").expect("csrf");
    let csrf_cookie = attacker
        .cookies
        .keys()
        .find(|k| k.contains("csrf"))
        .expect("a CSRF cookie")
        .clone();

    let mut victim = RawBrowser::new();
    victim.sign_in(&server, USERS[0]).await;
    victim
        .cookies
        .insert(csrf_cookie.clone(), attacker.cookies[&csrf_cookie].clone());
    // Signing the victim out needs nothing but a valid CSRF pair.
    let forged = victim
        .post(&server.url("/oauth/logout"), &[("csrf", &attacker_nonce)])
        .await;
    assert_eq!(forged.status(), 403, "another session's nonce is refused");
    let page = victim
        .get(&server.url("/oauth/links"))
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains("Signed in as"), "still signed in: {page}");
}

#[tokio::test]
async fn signing_out_ends_the_session_in_this_browser() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let html = get(&browser, &server.url("/oauth/links"))
        .await
        .text()
        .await
        .expect("html");
    let login = submit_login(&server, &browser, &html, USERS[0]).await;
    assert_eq!(login.status(), 303);
    let links = get(&browser, &server.url("/oauth/links"))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        links.contains("action=\"/oauth/logout\"") && links.contains("Sign out"),
        "the linked-apps page offers signing out: {links}"
    );
    let csrf = hidden_field(&links, "csrf").expect("csrf");

    let refused = browser.post_form(&server.url("/oauth/logout"), &[]).await;
    assert_eq!(refused.status(), 403, "without the nonce nothing happens");
    let still = get(&browser, &server.url("/oauth/links")).await;
    assert!(still.text().await.expect("html").contains("Signed in as"));

    let out = browser
        .post_form(&server.url("/oauth/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 200);
    let removed: Vec<String> = out
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    assert!(
        removed
            .iter()
            .any(|c| c.starts_with("alexa_link_session=;") && c.contains("Max-Age=0")),
        "the session cookie is removed: {removed:?}"
    );
    assert!(out.text().await.expect("html").contains("signed out"));
    let after = get(&browser, &server.url("/oauth/links"))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        after.contains("name=\"password\"") && !after.contains("Signed in as"),
        "the next visit asks to sign in: {after}"
    );
    // Signing out twice is harmless.
    let again = browser
        .post_form(&server.url("/oauth/logout"), &[("csrf", "any")])
        .await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn unlinking_takes_the_consent_back() {
    let server = TestServer::start().await;
    testing::link(&server, USERS[0], ClientAuth::Basic).await;
    let mut browser = RawBrowser::new();
    let links = browser.sign_in(&server, USERS[0]).await;
    let grant = hidden_field(&links, "grant").expect("an Unlink form");
    let csrf = hidden_field(&links, "csrf").expect("csrf");
    // Before unlinking, a signed-in user who consented goes straight back.
    let straight = browser
        .get(&authorize_url(&server, &Pkce::new(), "s1", "profile"))
        .await;
    assert_eq!(straight.status(), 302, "consent is remembered");

    let unlinked = browser
        .post(
            &server.url("/oauth/links"),
            &[("grant", &grant), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(unlinked.status(), 303);
    let again = browser
        .get(&authorize_url(&server, &Pkce::new(), "s2", "profile"))
        .await;
    assert_eq!(again.status(), 200, "linking again asks for consent");
    assert!(
        again
            .text()
            .await
            .expect("html")
            .contains("Allow Alexa test skill?")
    );
}

#[tokio::test]
async fn every_authorization_response_names_the_issuer() {
    let server = TestServer::start().await;
    let issuer = server.base_url.clone();
    let browser = Browser::new();

    // An error redirected to the client.
    let bad = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s-err", "admin"),
    )
    .await;
    assert_eq!(bad.status(), 302);
    let params = location_params(&bad);
    assert_eq!(param(&params, "error"), Some("invalid_scope"));
    assert_eq!(param(&params, "iss"), Some(issuer.as_str()));

    // The user denies.
    let html = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s-deny", "profile"),
    )
    .await
    .text()
    .await
    .expect("html");
    let login = submit_login(&server, &browser, &html, USERS[0]).await;
    let html = after_login(&server, &browser, &login).await;
    let denied = browser
        .post_form(
            &server.url("/oauth/consent"),
            &[
                ("request", &hidden_field(&html, "request").expect("r")),
                ("csrf", &hidden_field(&html, "csrf").expect("c")),
                ("decision", "deny"),
            ],
        )
        .await;
    let params = location_params(&denied);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "iss"), Some(issuer.as_str()));

    // Success, after consent and straight through.
    let allowed = consent(
        &server,
        &browser,
        &html,
        &hidden_field(&html, "csrf").expect("c"),
    )
    .await;
    let params = location_params(&allowed);
    assert!(param(&params, "code").is_some());
    assert_eq!(param(&params, "iss"), Some(issuer.as_str()));
    let straight = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s-ok", "profile"),
    )
    .await;
    let params = location_params(&straight);
    assert!(param(&params, "code").is_some());
    assert_eq!(param(&params, "state"), Some("s-ok"));
    assert_eq!(param(&params, "iss"), Some(issuer.as_str()));
}

#[tokio::test]
async fn metadata_announces_iss_and_hides_the_internal_scope() {
    let lwa = testing::lwa::LwaStandIn::start().await;
    let server = TestServer::start_with_partner(&lwa).await;
    assert!(
        server.app.config.clients[1]
            .scopes
            .iter()
            .any(|s| s == "partner_token"),
        "the partner's client has the scope, as configured"
    );
    let doc: Value = reqwest::get(server.url("/.well-known/oauth-authorization-server"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["issuer"], server.base_url);
    let scopes = doc["scopes_supported"].as_array().expect("scopes");
    assert!(
        !scopes.iter().any(|s| s == "partner_token"),
        "partner_token is ours, not a user's: {scopes:?}"
    );
    assert!(scopes.iter().any(|s| s == "profile"), "{scopes:?}");
    // It still works for the client that has it.
    let token: Value = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .basic_auth(OTHER_CLIENT_ID, Some(testing::OTHER_CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "partner_token"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(token["scope"], "partner_token", "{token}");
}

/// A copy of the session cookie taken before signing out (from the device,
/// a backup, a shared computer) stops working with the sign-out: every page
/// that uses the session treats it as nobody signed in.
#[tokio::test]
async fn a_cookie_copied_before_signing_out_no_longer_signs_in() {
    let server = TestServer::start().await;
    testing::link(&server, USERS[0], ClientAuth::Basic).await;
    let mut browser = RawBrowser::new();
    let links = browser.sign_in(&server, USERS[0]).await;
    let grant = hidden_field(&links, "grant").expect("an Unlink form");
    let mut copy = browser.clone();
    // The copy works as well as the original until the sign-out: it reaches
    // the consent page of a new authorization request.
    let authorize = authorize_url(&server, &Pkce::new(), "s", "profile baby.activity");
    let consent_page = copy.get(&authorize).await;
    assert_eq!(consent_page.status(), 200);
    let consent_page = consent_page.text().await.expect("html");
    assert!(
        consent_page.contains("name=\"decision\"") && !consent_page.contains("name=\"password\""),
        "signed in, the copy sees the consent page: {consent_page}"
    );
    let copy_links = copy.get(&server.url("/oauth/links")).await;
    let copy_links = copy_links.text().await.expect("html");
    assert!(copy_links.contains("Signed in as"), "{copy_links}");

    let csrf = hidden_field(&links, "csrf").expect("csrf");
    let out = browser
        .post(&server.url("/oauth/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 200, "signed out");

    // Each page below gets its own copy of the cookies as they were.
    let again = copy.clone().get(&authorize).await;
    assert_eq!(again.status(), 200);
    let again = again.text().await.expect("html");
    assert!(
        again.contains("name=\"password\"") && !again.contains("name=\"decision\""),
        "authorize shows the login page again: {again}"
    );
    let mut told = copy.clone();
    let page = told.get(&server.url("/oauth/links")).await;
    let page = page.text().await.expect("html");
    assert!(
        page.contains("name=\"password\"") && !page.contains("Signed in as"),
        "the linked-apps page asks to sign in: {page}"
    );
    assert!(
        !told.cookies.keys().any(|k| k.contains("session")),
        "the browser is told to drop the dead cookie: {:?}",
        told.cookies.keys()
    );
    // The forms the copy was shown before the sign-out do nothing now.
    let consented = copy
        .clone()
        .post(
            &server.url("/oauth/consent"),
            &[
                (
                    "request",
                    &hidden_field(&consent_page, "request").expect("request"),
                ),
                ("csrf", &hidden_field(&consent_page, "csrf").expect("csrf")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(consented.status(), 403, "no code for an ended session");
    assert!(consented.headers().get(header::LOCATION).is_none());
    let unlinked = copy
        .clone()
        .post(
            &server.url("/oauth/links"),
            &[
                ("grant", &grant),
                ("csrf", &hidden_field(&copy_links, "csrf").expect("csrf")),
            ],
        )
        .await;
    assert_eq!(unlinked.status(), 403, "no unlinking for an ended session");
    let relinks = RawBrowser::new().sign_in(&server, USERS[0]).await;
    assert_eq!(
        hidden_field(&relinks, "grant").as_deref(),
        Some(grant.as_str()),
        "the app is still linked"
    );
    // Signing out with the copy is harmless.
    let twice = copy
        .clone()
        .post(&server.url("/oauth/logout"), &[("csrf", "any")])
        .await;
    assert_eq!(twice.status(), 200);
}

/// Replicas share the store, so a sign-out on one ends the session on all.
#[tokio::test]
async fn signing_out_on_one_replica_ends_the_session_on_another() {
    let a = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = testing::test_config(dir.path());
    let b = TestServer::start_sharing(config, dir, a.app.store.clone()).await;
    let mut browser = RawBrowser::new();
    let links = browser.sign_in(&a, USERS[0]).await;
    let copy = browser.clone();
    let before = copy.clone().get(&b.url("/oauth/links")).await;
    let before = before.text().await.expect("html");
    assert!(
        before.contains("Signed in as"),
        "the other replica accepts the session: {before}"
    );

    let csrf = hidden_field(&links, "csrf").expect("csrf");
    let out = browser
        .post(&a.url("/oauth/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 200);

    let after = copy.clone().get(&b.url("/oauth/links")).await;
    let after = after.text().await.expect("html");
    assert!(
        after.contains("name=\"password\"") && !after.contains("Signed in as"),
        "the other replica asks to sign in: {after}"
    );
    let authorize = copy
        .clone()
        .get(&authorize_url(&b, &Pkce::new(), "s", "profile"))
        .await;
    assert_eq!(authorize.status(), 200);
    let authorize = authorize.text().await.expect("html");
    assert!(
        authorize.contains("name=\"password\""),
        "authorize on the other replica shows the login page: {authorize}"
    );
    b.stop().await;
    a.stop().await;
}

/// A browser that still sends a signed-out session cookie (its removal was
/// lost) is not stuck: the login page it is shown works, and signing in
/// gives it a new session.
#[tokio::test]
async fn a_browser_still_sending_a_signed_out_cookie_can_sign_in_again() {
    let server = TestServer::start().await;
    let mut browser = RawBrowser::new();
    let links = browser.sign_in(&server, USERS[0]).await;
    let stale = browser.clone();
    let csrf = hidden_field(&links, "csrf").expect("csrf");
    let out = browser
        .post(&server.url("/oauth/logout"), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), 200);

    let mut copy = stale.clone();
    let login_page = copy
        .get(&authorize_url(&server, &Pkce::new(), "s", "profile"))
        .await
        .text()
        .await
        .expect("html");
    // The removal is lost: the dead session cookie comes back.
    copy.cookies = stale
        .cookies
        .iter()
        .filter(|(name, _)| name.contains("session"))
        .chain(
            copy.cookies
                .iter()
                .filter(|(name, _)| name.contains("csrf")),
        )
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut fields = vec![
        ("csrf", hidden_field(&login_page, "csrf").expect("csrf")),
        ("username", USERS[0].0.to_owned()),
        ("password", USERS[0].1.to_owned()),
    ];
    fields.push((
        "request",
        hidden_field(&login_page, "request").expect("request"),
    ));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let login = copy.post(&server.url("/oauth/login"), &fields).await;
    assert_eq!(login.status(), 303, "the login form of that page works");
    let page = copy
        .get(&server.url("/oauth/links"))
        .await
        .text()
        .await
        .expect("html");
    assert!(page.contains("Signed in as"), "a new session: {page}");
}
