//! The authorization endpoint and its pages: which errors redirect and
//! which stay on our page, login failures, CSRF, consent and its memory.

use alexa_link_server::testing::{
    self, Browser, CLIENT_ID, OTHER_CLIENT_ID, Pkce, TestServer, USERS, authorize_url,
    hidden_field, location_params, obtain_code, param, redirect_uri, submit_login,
};
use reqwest::header;

async fn get(browser: &Browser, url: &str) -> reqwest::Response {
    browser.http.get(url).send().await.expect("get")
}

#[tokio::test]
async fn untrusted_clients_and_redirect_uris_get_an_error_page_never_a_redirect() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let pkce = Pkce::new();
    let good = authorize_url(&server, &pkce, "st", "profile");
    for bad in [
        good.replace(CLIENT_ID, "unknown-client"),
        good.replace("pitangui.amazon.com", "evil.example.com"),
        good.replace("MTESTVENDOR", "MTESTVENDOR%2F.."),
        good.replace("client_id=", "x="),
        format!("{good}&client_id={CLIENT_ID}"),
    ] {
        let response = get(&browser, &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert!(
            response.headers().get(header::LOCATION).is_none(),
            "{bad} must not redirect"
        );
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .expect("ct")
                .starts_with("text/html")
        );
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}

#[tokio::test]
async fn request_errors_redirect_to_alexa_with_the_state() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let pkce = Pkce::new();
    let good = authorize_url(&server, &pkce, "st-42", "profile");
    for (bad, error) in [
        (
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (good.replace("response_type=code", ""), "invalid_request"),
        (
            good.replace("scope=profile", "scope=profile+admin"),
            "invalid_scope",
        ),
        (
            good.replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            good.replace("&code_challenge_method=S256", ""),
            "invalid_request",
        ),
        (
            good.replace(
                &format!("code_challenge={}", pkce.challenge),
                "code_challenge=short",
            ),
            "invalid_request",
        ),
        (
            good.replace(
                &format!(
                    "&code_challenge={}&code_challenge_method=S256",
                    pkce.challenge
                ),
                "",
            ),
            "invalid_request",
        ),
    ] {
        let response = get(&browser, &bad).await;
        assert_eq!(response.status(), 302, "{bad}");
        let location = response.headers()[header::LOCATION]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(location.starts_with(&redirect_uri()), "{location}");
        let params = location_params(&response);
        assert_eq!(param(&params, "error"), Some(error), "{bad}");
        assert_eq!(param(&params, "state"), Some("st-42"));
        assert!(param(&params, "code").is_none());
    }
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_get_the_same_answer() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let html = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s", "profile"),
    )
    .await
    .text()
    .await
    .expect("html");
    let request = hidden_field(&html, "request").expect("request");
    let csrf = hidden_field(&html, "csrf").expect("csrf");
    let mut bodies = Vec::new();
    for (user, password) in [(USERS[0].0, "wrong"), ("nobody", "wrong")] {
        let response = browser
            .post_form(
                &server.url("/oauth/login"),
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(response.status(), 401);
        let body = response.text().await.expect("html");
        assert!(body.contains("Incorrect username or password."));
        bodies.push(body.replace(user, "USER"));
    }
    assert_eq!(
        bodies[0], bodies[1],
        "the page does not reveal whether the user exists"
    );
    let response = browser
        .post_form(
            &server.url("/oauth/login"),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", USERS[0].0),
            ],
        )
        .await;
    assert_eq!(response.status(), 400, "missing password");
}

#[tokio::test]
async fn forms_without_the_csrf_nonce_are_refused() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let html = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s", "profile"),
    )
    .await
    .text()
    .await
    .expect("html");
    let request = hidden_field(&html, "request").expect("request");
    let (user, password) = USERS[0];
    for csrf in ["", "forged-nonce"] {
        let response = browser
            .post_form(
                &server.url("/oauth/login"),
                &[
                    ("request", &request),
                    ("csrf", csrf),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(response.status(), 403);
        assert!(response.headers().get(header::LOCATION).is_none());
    }
    // A cross-site attacker has the form but not the victim's cookie.
    let csrf = hidden_field(&html, "csrf").expect("csrf");
    let attacker = Browser::new();
    let response = attacker
        .post_form(
            &server.url("/oauth/login"),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_tampered_request_in_the_form_is_validated_again() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let html = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s", "profile"),
    )
    .await
    .text()
    .await
    .expect("html");
    let request = hidden_field(&html, "request")
        .expect("request")
        .replace("pitangui.amazon.com", "evil.example.com");
    let csrf = hidden_field(&html, "csrf").expect("csrf");
    let (user, password) = USERS[0];
    let response = browser
        .post_form(
            &server.url("/oauth/login"),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn denying_consent_redirects_access_denied() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let html = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "s-deny", "profile"),
    )
    .await
    .text()
    .await
    .expect("html");
    let (user, password) = USERS[0];
    let login = submit_login(&server, &browser, &html, (user, password)).await;
    let consent_page = get(
        &browser,
        &server.url(login.headers()[header::LOCATION].to_str().expect("loc")),
    )
    .await;
    let html = consent_page.text().await.expect("html");
    assert!(html.contains("Allow Alexa test skill?"), "{html}");
    assert!(html.contains("<li>profile</li>"));
    let response = browser
        .post_form(
            &server.url("/oauth/consent"),
            &[
                ("request", &hidden_field(&html, "request").expect("r")),
                ("csrf", &hidden_field(&html, "csrf").expect("c")),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let params = location_params(&response);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("s-deny"));
}

#[tokio::test]
async fn consent_is_remembered_and_a_logged_in_user_goes_straight_through() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    obtain_code(&server, &browser, USERS[0], &Pkce::new()).await;
    // Same browser, same scopes: no login, no consent, straight to Alexa.
    let response = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "again", "profile"),
    )
    .await;
    assert_eq!(response.status(), 302);
    let params = location_params(&response);
    assert!(param(&params, "code").is_some_and(|c| c.starts_with("alc_")));
    assert_eq!(param(&params, "state"), Some("again"));
    // A wider scope asks again.
    let response = get(
        &browser,
        &authorize_url(&server, &Pkce::new(), "wider", "profile baby.activity"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .expect("html")
            .contains("<li>baby.activity</li>")
    );
}

#[tokio::test]
async fn skip_consent_clients_get_a_code_right_after_login() {
    let server = TestServer::start().await;
    let browser = Browser::new();
    let pkce = Pkce::new();
    let mut url = url::Url::parse(&server.url("/oauth/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", OTHER_CLIENT_ID)
        .append_pair("state", "s")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    // One registered redirect URI: it may be omitted.
    let html = get(&browser, url.as_str())
        .await
        .text()
        .await
        .expect("html");
    let (user, password) = USERS[0];
    let login = submit_login(&server, &browser, &html, (user, password)).await;
    let response = get(
        &browser,
        &server.url(login.headers()[header::LOCATION].to_str().expect("loc")),
    )
    .await;
    assert_eq!(response.status(), 302);
    let location = response.headers()[header::LOCATION].to_str().expect("loc");
    assert!(
        location.starts_with("https://app.example.com/callback?code=alc_"),
        "{location}"
    );
}

#[tokio::test]
async fn pages_are_mobile_friendly_and_hardened() {
    let server = TestServer::start().await;
    let response = get(
        &Browser::new(),
        &authorize_url(&server, &Pkce::new(), "s", "profile"),
    )
    .await;
    let headers = response.headers().clone();
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    let cookies: Vec<_> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("cookie"))
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "{cookies:?}"
    );
    let html = response.text().await.expect("html");
    assert!(
        html.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#)
    );
    assert!(!html.contains("<script"), "no JavaScript needed");
    let _ = testing::CLIENT_SECRET;
}

#[tokio::test]
async fn the_flow_works_across_replicas_sharing_only_the_session_key() {
    // Two servers with the same session key file and store config: the login
    // page from one, the form post to the other (no sticky sessions).
    let a = TestServer::start().await;
    let key = a.dir.path().join("session-key");
    let b = TestServer::start_with(|c| c.server.session_key_file = key.clone()).await;
    let browser = Browser::new();
    let html = get(&browser, &authorize_url(&a, &Pkce::new(), "s", "profile"))
        .await
        .text()
        .await
        .expect("html");
    let (user, password) = USERS[0];
    let response = submit_login(&b, &browser, &html, (user, password)).await;
    assert_eq!(
        response.status(),
        303,
        "replica b accepts replica a's CSRF cookie"
    );
}
