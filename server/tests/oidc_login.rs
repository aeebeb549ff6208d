//! The `oidc` backend against a real OpenID Provider: the npm package
//! `oidc-provider`, started by `tests/oidc/provider.mjs` (scripts/test does
//! it). Skips, saying so, when `ALEXA_LINK_OIDC_ISSUER` is unset.

use alexa_link_server::config::{IdentityConfig, OidcIdentityConfig};
use alexa_link_server::identity::oidc::{OidcError, UpstreamOidc, default_issuer_id};
use alexa_link_server::routes;
use alexa_link_server::testing::{
    Browser, CLIENT_ID, CLIENT_SECRET, ClientAuth, Pkce, TestServer, authorize_url, hidden_field,
    location_params, param, redirect_uri, token_request,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use url::Url;

fn issuer() -> Option<String> {
    match std::env::var("ALEXA_LINK_OIDC_ISSUER") {
        Ok(i) => Some(i),
        Err(_) => {
            eprintln!(
                "skipped: ALEXA_LINK_OIDC_ISSUER is unset (scripts/test starts oidc-provider and sets it)"
            );
            None
        }
    }
}

/// Registers a confidential client at the provider (dynamic registration).
async fn register(issuer: &str, redirect: &str) -> (String, String) {
    let body: Value = reqwest::Client::new()
        .post(format!("{issuer}/reg"))
        .json(&json!({
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("registration json");
    (
        body["client_id"].as_str().expect("client_id").to_owned(),
        body["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    )
}

fn oidc_config(
    issuer: &str,
    client_id: &str,
    secret_file: std::path::PathBuf,
) -> OidcIdentityConfig {
    OidcIdentityConfig {
        issuer_url: Url::parse(issuer).expect("issuer"),
        client_id: client_id.into(),
        client_secret_file: secret_file,
        scopes: vec!["openid".into(), "profile".into()],
        user_id_claim: "sub".into(),
        display_name_claim: "name".into(),
        issuer_id: None,
        request_timeout_seconds: 5,
        ca_file: None,
        max_grant_age_seconds: None,
    }
}

fn location(response: &reqwest::Response) -> Url {
    let base = response.url().clone();
    let raw = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location header");
    base.join(raw).expect("Location resolves")
}

/// Follows the provider's redirects and signs in on its login page as
/// `login`, until the provider redirects to a URL starting with `until`;
/// returns that URL (not fetched).
async fn sign_in_upstream(browser: &Browser, start: Url, login: &str, until: &str) -> Url {
    let mut next = start;
    for _ in 0..10 {
        if next.as_str().starts_with(until) {
            return next;
        }
        let response = browser.http.get(next.clone()).send().await.expect("get");
        if response.status().is_redirection() {
            next = location(&response);
            continue;
        }
        assert_eq!(response.status(), 200, "provider page at {next}");
        let page_url = response.url().clone();
        let html = response.text().await.expect("html");
        let action_start = html.find("action=\"").expect("a form") + 8;
        let action =
            &html[action_start..action_start + html[action_start..].find('"').expect("end")];
        let submitted = browser
            .post_form(
                page_url.join(action).expect("action url").as_str(),
                &[("prompt", "login"), ("login", login), ("password", "any")],
            )
            .await;
        assert!(submitted.status().is_redirection(), "login form accepted");
        next = location(&submitted);
    }
    panic!("the provider never redirected to {until}");
}

/// A free loopback port for a server whose URL must be known beforehand.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn start_server(issuer: &str) -> TestServer {
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}{}", routes::CALLBACK);
    let (client_id, secret) = register(issuer, &callback).await;
    let issuer = issuer.to_owned();
    TestServer::start_with(move |c| {
        let secret_file = c
            .server
            .session_key_file
            .with_file_name("oidc-client-secret");
        std::fs::write(&secret_file, format!("{secret}\n")).expect("write secret");
        c.server.listen.set_port(port);
        c.identity = IdentityConfig::Oidc(oidc_config(&issuer, &client_id, secret_file));
    })
    .await
}

#[tokio::test]
async fn alexa_links_a_user_who_signs_in_upstream() {
    let Some(issuer) = issuer() else { return };
    let server = start_server(&issuer).await;
    let browser = Browser::new();
    let pkce = Pkce::new();

    // Alexa opens the authorization URL: straight to the provider.
    let response = browser
        .http
        .get(authorize_url(&server, &pkce, "alexa-state", "profile"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 302);
    let upstream = location(&response);
    assert!(upstream.as_str().starts_with(&issuer), "{upstream}");
    let query: Vec<(String, String)> = upstream.query_pairs().into_owned().collect();
    for name in ["state", "nonce", "code_challenge"] {
        assert!(param(&query, name).is_some(), "{name} sent upstream");
    }
    assert_eq!(param(&query, "code_challenge_method"), Some("S256"));

    // The user signs in at the provider, which sends the browser back.
    let callback = sign_in_upstream(&browser, upstream, "ann", &server.url(routes::CALLBACK)).await;
    let response = browser.http.get(callback).send().await.expect("callback");
    assert_eq!(response.status(), 303, "callback resumes the request");
    let resumed = location(&response);
    assert_eq!(resumed.path(), routes::AUTHORIZE);

    // Consent, then the code goes to Alexa.
    let page = browser.http.get(resumed).send().await.expect("resume");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("consent");
    assert!(html.contains("Upstream ann"), "the name claim is shown");
    let consent = browser
        .post_form(
            &server.url(routes::CONSENT),
            &[
                ("request", &hidden_field(&html, "request").expect("request")),
                ("csrf", &hidden_field(&html, "csrf").expect("csrf")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(consent.status(), 303);
    let params = location_params(&consent);
    assert_eq!(param(&params, "state"), Some("alexa-state"));
    let code = param(&params, "code").expect("code");
    let (status, tokens) = token_request(
        &server,
        ClientAuth::Body,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri()),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");

    // The grant belongs to oidc:<issuer hash>:<sub>.
    let introspection: Value = reqwest::Client::new()
        .post(server.url(routes::INTROSPECT))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", tokens["access_token"].as_str().expect("token"))])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(
        introspection["sub"],
        format!("oidc:{}:ann", default_issuer_id(&issuer))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_callback_with_a_foreign_state_or_without_the_cookie_is_refused() {
    let Some(issuer) = issuer() else { return };
    let server = start_server(&issuer).await;
    let browser = Browser::new();
    let response = browser
        .http
        .get(authorize_url(&server, &Pkce::new(), "s", "profile"))
        .send()
        .await
        .expect("authorize");
    let upstream = location(&response);
    let callback = sign_in_upstream(&browser, upstream, "ann", &server.url(routes::CALLBACK)).await;
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    forged.query_pairs_mut().clear();
    for (k, v) in &pairs {
        let v = if k == "state" { "attacker-state" } else { v };
        forged.query_pairs_mut().append_pair(k, v);
    }
    let response = browser
        .http
        .get(forged.clone())
        .send()
        .await
        .expect("forged");
    assert_eq!(response.status(), 400, "{forged}");
    // The pending login was single-use: the genuine answer is now refused.
    let response = browser.http.get(callback).send().await.expect("late");
    assert_eq!(response.status(), 400);
    server.stop().await;
}

/// A raw ID token from the provider for `client`, as a plain relying party
/// would obtain it (authorization code flow with PKCE and `nonce`).
async fn id_token_for(
    issuer: &str,
    client: &(String, String),
    redirect: &str,
    nonce: &str,
) -> String {
    let browser = Browser::new();
    let verifier = format!("{}{}", "v".repeat(50), nonce);
    let challenge =
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let mut auth = Url::parse(&format!("{issuer}/auth")).expect("url");
    auth.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.0)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid profile")
        .append_pair("state", "st")
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let back = sign_in_upstream(&browser, auth, "ann", redirect).await;
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    let body: Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    body["id_token"].as_str().expect("id_token").to_owned()
}

#[tokio::test]
async fn tampered_wrong_audience_and_wrong_nonce_id_tokens_are_refused() {
    let Some(issuer) = issuer() else { return };
    let redirect = "http://127.0.0.1:9/cb";
    let ours = register(&issuer, redirect).await;
    let theirs = register(&issuer, redirect).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, &ours.1).expect("write");
    let rp = UpstreamOidc::new(
        &oidc_config(&issuer, &ours.0, secret_file),
        ours.1.clone(),
        "http://127.0.0.1:9/cb",
    )
    .expect("relying party");

    // Control: a genuine token for us verifies.
    let genuine = id_token_for(&issuer, &ours, redirect, "nonce-ours-0001").await;
    let user = rp
        .verify_id_token(&genuine, "nonce-ours-0001")
        .await
        .expect("genuine token verifies");
    assert!(user.id.ends_with(":ann"));

    // Another nonce: a replayed or injected token.
    assert!(matches!(
        rp.verify_id_token(&genuine, "some-other-nonce").await,
        Err(OidcError::Refused(_))
    ));

    // Tampered: same signature, payload says someone else.
    let parts: Vec<&str> = genuine.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    claims["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json")),
        parts[2]
    );
    match rp.verify_id_token(&forged, "nonce-ours-0001").await {
        Err(OidcError::Refused(e)) => assert!(e.contains("ignature"), "{e}"),
        other => panic!("tampered token accepted: {other:?}"),
    }

    // Genuine, but issued to another client.
    let foreign = id_token_for(&issuer, &theirs, redirect, "nonce-theirs-01").await;
    match rp.verify_id_token(&foreign, "nonce-theirs-01").await {
        Err(OidcError::Refused(e)) => assert!(e.contains("audience"), "{e}"),
        other => panic!("wrong-audience token accepted: {other:?}"),
    }
}

#[tokio::test]
async fn a_provider_that_is_down_gives_a_clear_page_not_a_500() {
    // No provider listens here; no environment needed.
    let closed = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "secret").expect("write");
    let issuer = format!("http://127.0.0.1:{closed}");
    let server = TestServer::start_with(move |c| {
        c.identity = IdentityConfig::Oidc(oidc_config(&issuer, "client", secret_file));
    })
    .await;
    let response = Browser::new()
        .http
        .get(authorize_url(&server, &Pkce::new(), "s", "profile"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 503);
    let page = response.text().await.expect("page");
    assert!(page.contains("temporarily unavailable"), "{page}");
    // Password logins do not exist here.
    let response = Browser::new()
        .post_form(
            &server.url(routes::LOGIN),
            &[("username", "a"), ("password", "b")],
        )
        .await;
    assert_eq!(response.status(), 404);
    server.stop().await;
}
