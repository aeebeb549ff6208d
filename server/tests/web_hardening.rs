//! The browser-facing hardening of issue 14: CSRF nonces bound to the login
//! session, signing out, unlinking that forgets consent, and the RFC 9207
//! `iss` parameter on every authorization response.

use std::collections::BTreeMap;

use alexa_link_server::testing::{
    self, Browser, ClientAuth, OTHER_CLIENT_ID, Pkce, TestServer, USERS, authorize_url,
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

/// A browser whose cookies the test handles itself, so that it can plant
/// one the way a sibling host of the same site could.
#[derive(Default)]
struct RawBrowser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl RawBrowser {
    fn new() -> RawBrowser {
        RawBrowser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().expect("ascii");
            let pair = set.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("get");
        self.keep(&response);
        response
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .post(url)
            .header(header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("post");
        self.keep(&response);
        response
    }

    /// Signs in on the linked-apps page; returns that page.
    async fn sign_in(&mut self, server: &TestServer, user: (&str, &str)) -> String {
        let html = self
            .get(&server.url("/oauth/links"))
            .await
            .text()
            .await
            .expect("html");
        let csrf = hidden_field(&html, "csrf").expect("csrf");
        let login = self
            .post(
                &server.url("/oauth/login"),
                &[("csrf", &csrf), ("username", user.0), ("password", user.1)],
            )
            .await;
        assert_eq!(login.status(), 303);
        self.get(&server.url("/oauth/links"))
            .await
            .text()
            .await
            .expect("html")
    }
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
