//! The flight recorder on the admin port: each failed link shows the hint
//! a developer needs, and nothing secret is kept.

use alexa_link_server::testing::{
    Browser, CLIENT_ID, CLIENT_SECRET, ClientAuth, Pkce, TestServer, USERS, link, obtain_code,
    redirect_uri, token_request,
};
use serde_json::Value;

async fn recorder(server: &TestServer) -> Value {
    reqwest::get(format!("{}/flight-recorder", server.admin_url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

/// The newest entry of `client` whose `step` is given.
fn newest<'a>(doc: &'a Value, client: &str, step: &str) -> &'a Value {
    doc["clients"][client]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["step"] == step))
        .unwrap_or_else(|| panic!("no {step} entry for {client} in {doc:#}"))
}

#[tokio::test]
async fn failed_links_show_the_hint_that_fixes_them() {
    let server = TestServer::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // 1. Alexa's console has PKCE off: no code_challenge arrives.
    let url = format!(
        "{}?response_type=code&client_id={CLIENT_ID}&redirect_uri={}&state=s&scope=profile",
        server.url("/oauth/authorize"),
        form_urlencoded::byte_serialize(redirect_uri().as_bytes()).collect::<String>()
    );
    assert_eq!(http.get(&url).send().await.expect("get").status(), 302);
    let doc = recorder(&server).await;
    let entry = newest(&doc, CLIENT_ID, "authorize");
    assert_eq!(entry["outcome"], "invalid_request");
    assert_eq!(entry["pkce"], false);
    assert_eq!(entry["cause"], "pkce_missing");
    assert!(
        entry["hint"]
            .as_str()
            .expect("hint")
            .contains("enable PKCE in the Alexa console")
    );

    // 2. A redirect URI of another vendor id.
    let other = "https%3A%2F%2Flayla.amazon.com%2Fapi%2Fskill%2Flink%2FMOTHER";
    let url = format!(
        "{}?response_type=code&client_id={CLIENT_ID}&redirect_uri={other}&state=s",
        server.url("/oauth/authorize")
    );
    assert_eq!(http.get(&url).send().await.expect("get").status(), 400);
    let doc = recorder(&server).await;
    assert_eq!(
        newest(&doc, CLIENT_ID, "authorize")["cause"],
        "redirect_uri_unregistered"
    );

    // 3. The console's Client Secret is wrong (HTTP Basic).
    let response = http
        .post(server.url("/oauth/token"))
        .basic_auth(CLIENT_ID, Some("not-the-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "alc_whatever"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 401);
    let doc = recorder(&server).await;
    let entry = newest(&doc, CLIENT_ID, "token");
    assert_eq!(entry["client_auth"], "basic");
    assert_eq!(entry["cause"], "client_auth_basic_failed");

    // 4. A code redeemed without its PKCE verifier.
    let browser = Browser::new();
    let pkce = Pkce::new();
    let code = obtain_code(&server, &browser, USERS[0], &pkce).await;
    let doc = recorder(&server).await;
    let issued = newest(&doc, CLIENT_ID, "code_issued");
    assert_eq!(issued["outcome"], "ok");
    assert_eq!(issued["pkce"], true);
    let (status, _) = token_request(
        &server,
        ClientAuth::Body,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let doc = recorder(&server).await;
    let entry = newest(&doc, CLIENT_ID, "token");
    assert_eq!(entry["client_auth"], "body");
    assert_eq!(entry["pkce"], false);
    assert_eq!(entry["cause"], "pkce_verifier_failed", "{entry:#}");

    // 5. A good link, then a refresh token reused after its grace window.
    let tokens = link(&server, USERS[1], ClientAuth::Basic).await;
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (status, _) = token_request(
        &server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200);
    server.clock().advance(3600);
    let (status, _) = token_request(
        &server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 400);
    let doc = recorder(&server).await;
    let entry = newest(&doc, CLIENT_ID, "token");
    assert_eq!(entry["grant_type"], "refresh_token");
    assert_eq!(entry["cause"], "refresh_refused");
    assert!(entry["hint"].as_str().expect("hint").contains("unlink"));
    assert!(entry["latency_ms"].is_u64());

    // Nothing secret is kept: no code, token, secret or password.
    let text = doc.to_string();
    for secret in [
        &code,
        &refresh,
        tokens["access_token"].as_str().expect("at"),
        CLIENT_SECRET,
        USERS[0].1,
        USERS[1].1,
    ] {
        assert!(!text.contains(secret), "the recorder keeps {secret}");
    }

    // Each failure is counted by cause.
    let metrics = server.metrics().await;
    for cause in [
        "pkce_missing",
        "redirect_uri_unregistered",
        "client_auth_basic_failed",
        "pkce_verifier_failed",
        "refresh_refused",
    ] {
        assert!(
            metrics.contains(&format!(
                "alexa_link_linking_failures_total{{cause=\"{cause}\"}} 1"
            )),
            "{cause} not counted in\n{metrics}"
        );
    }

    // A browser gets a page; one client's entries can be asked for alone.
    let page = http
        .get(format!(
            "{}/flight-recorder?client_id={CLIENT_ID}",
            server.admin_url
        ))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
    let html = page.text().await.expect("html");
    assert!(html.contains("enable PKCE in the Alexa console"), "{html}");
    assert!(!html.contains("other-client"), "only the asked client");
    // The recorder is on the admin port only.
    assert_eq!(
        reqwest::get(server.url("/flight-recorder"))
            .await
            .expect("get")
            .status(),
        404
    );
}
