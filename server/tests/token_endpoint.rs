//! Every branch of the token endpoint: each malformed or refused request
//! gets the right RFC 6749 5.2 error, status and headers, never a 500.

use alexa_link_server::testing::{
    Browser, CLIENT_ID, CLIENT_SECRET, ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, Pkce,
    TestServer, USERS, obtain_code, redirect_uri, token_request,
};
use reqwest::header;
use serde_json::Value;

async fn raw(
    server: &TestServer,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = build(reqwest::Client::new().post(server.url("/oauth/token")))
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.expect("every answer is JSON");
    (status, headers, body)
}

fn assert_error(result: (u16, Value), status: u16, error: &str) {
    assert_eq!(result.0, status, "{}", result.1);
    assert_eq!(result.1["error"], error, "{}", result.1);
    assert!(
        result.1["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let server = TestServer::start().await;
    // Not a form.
    let (status, headers, body) = raw(&server, |r| {
        r.basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
    })
    .await;
    assert_error((status, body), 400, "invalid_request");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::PRAGMA], "no-cache");
    // No grant type; a repeated parameter; invalid UTF-8 and garbage.
    assert_error(
        token_request(&server, ClientAuth::Basic, &[("code", "x")]).await,
        400,
        "invalid_request",
    );
    let (status, _, body) = raw(&server, |r| {
        r.basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&grant_type=authorization_code")
    })
    .await;
    assert_error((status, body), 400, "invalid_request");
    let (status, _, body) = raw(&server, |r| {
        r.basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(vec![0xff, 0xfe, b'=', b'%', b'%', 0x00])
    })
    .await;
    assert_error((status, body), 400, "invalid_request");
    // Required parameters of each grant.
    assert_error(
        token_request(
            &server,
            ClientAuth::Basic,
            &[("grant_type", "authorization_code")],
        )
        .await,
        400,
        "invalid_request",
    );
    assert_error(
        token_request(
            &server,
            ClientAuth::Basic,
            &[("grant_type", "refresh_token")],
        )
        .await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_without_a_500() {
    let server = TestServer::start().await;
    let big = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(64 * 1024)
    );
    let response = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn unknown_grant_types_are_unsupported() {
    let server = TestServer::start().await;
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        assert_error(
            token_request(&server, ClientAuth::Basic, &[("grant_type", grant)]).await,
            400,
            "unsupported_grant_type",
        );
    }
}

#[tokio::test]
async fn client_authentication_failures_are_invalid_client_with_a_challenge() {
    let server = TestServer::start().await;
    let cases: Vec<Box<dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder>> = vec![
        Box::new(|r| {
            r.basic_auth(CLIENT_ID, Some("wrong-secret-wrong-secret"))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        }),
        Box::new(|r| {
            r.basic_auth("nobody", Some(CLIENT_SECRET))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        }),
        Box::new(|r| r.form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])),
        Box::new(|r| {
            r.form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", CLIENT_ID),
            ])
        }),
        Box::new(|r| {
            r.header(header::AUTHORIZATION, "Basic %%%")
                .form(&[("grant_type", "refresh_token")])
        }),
    ];
    for build in cases {
        let (status, headers, body) = raw(&server, build).await;
        assert_error((status, body), 401, "invalid_client");
        assert!(
            headers[header::WWW_AUTHENTICATE]
                .to_str()
                .expect("ascii")
                .starts_with("Basic")
        );
    }
    // Two methods at once.
    let (status, _, body) = raw(&server, |r| {
        r.basic_auth(CLIENT_ID, Some(CLIENT_SECRET)).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_secret", CLIENT_SECRET),
        ])
    })
    .await;
    assert_error((status, body), 400, "invalid_request");
}

#[tokio::test]
async fn grants_the_client_may_not_use_are_unauthorized_client() {
    let server = TestServer::start().await;
    assert_error(
        token_request(
            &server,
            ClientAuth::Basic,
            &[("grant_type", "client_credentials")],
        )
        .await,
        400,
        "unauthorized_client",
    );
}

#[tokio::test]
async fn client_credentials_issue_a_scoped_access_token_without_refresh() {
    let server = TestServer::start().await;
    let response = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "profile")])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "profile");
    assert!(body.get("refresh_token").is_none());
    let response = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.expect("json")["error"],
        "invalid_scope"
    );
}

async fn fresh_code(server: &TestServer) -> (String, Pkce) {
    let pkce = Pkce::new();
    (
        obtain_code(server, &Browser::new(), USERS[0], &pkce).await,
        pkce,
    )
}

#[tokio::test]
async fn code_exchange_checks_redirect_uri_verifier_client_and_expiry() {
    let server = TestServer::start().await;
    let redirect = redirect_uri();
    let exchange = |code: String, redirect: String, verifier: Option<String>| {
        let server = &server;
        async move {
            let mut fields = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", redirect),
            ];
            if let Some(v) = verifier {
                fields.push(("code_verifier", v));
            }
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token_request(server, ClientAuth::Basic, &fields).await
        }
    };

    let (code, pkce) = fresh_code(&server).await;
    let other_region = "https://layla.amazon.com/api/skill/link/MTESTVENDOR".to_owned();
    assert_error(
        exchange(code.clone(), other_region, Some(pkce.verifier.clone())).await,
        400,
        "invalid_grant",
    );

    let (code, _) = fresh_code(&server).await;
    assert_error(
        exchange(code, redirect.clone(), Some(Pkce::new().verifier)).await,
        400,
        "invalid_grant",
    );

    let (code, _) = fresh_code(&server).await;
    assert_error(
        exchange(code, redirect.clone(), None).await,
        400,
        "invalid_grant",
    );

    let (code, pkce) = fresh_code(&server).await;
    assert_error(
        exchange(
            "alc_not-a-real-code".into(),
            redirect.clone(),
            Some(pkce.verifier.clone()),
        )
        .await,
        400,
        "invalid_grant",
    );
    // Another client cannot redeem it.
    let response = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &pkce.verifier),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);

    // Codes expire (60 s by default, never more than 120).
    server.clock().advance(61);
    assert_error(
        exchange(code, redirect.clone(), Some(pkce.verifier)).await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let server = TestServer::start().await;
    let (code, pkce) = fresh_code(&server).await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", &redirect_uri()),
        ("code_verifier", &pkce.verifier),
    ];
    let (status, first) = token_request(&server, ClientAuth::Basic, &fields).await;
    assert_eq!(status, 200);
    assert_error(
        token_request(&server, ClientAuth::Basic, &fields).await,
        400,
        "invalid_grant",
    );
    let refresh = first["refresh_token"].as_str().expect("refresh");
    assert_error(
        token_request(
            &server,
            ClientAuth::Basic,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await,
        400,
        "invalid_grant",
    );
}

#[tokio::test]
async fn refresh_scope_may_narrow_but_never_widen() {
    let server = TestServer::start().await;
    let tokens = alexa_link_server::testing::link(&server, USERS[0], ClientAuth::Basic).await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    assert_error(
        token_request(
            &server,
            ClientAuth::Basic,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("scope", "profile baby.activity"),
            ],
        )
        .await,
        400,
        "invalid_scope",
    );
    let (status, body) = token_request(
        &server,
        ClientAuth::Basic,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn another_clients_refresh_token_is_invalid_grant() {
    let server = TestServer::start().await;
    let tokens = alexa_link_server::testing::link(&server, USERS[0], ClientAuth::Basic).await;
    let response = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().expect("rt"),
            ),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.expect("json")["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_do_not_500() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let response = http.get(server.url("/nope")).send().await.expect("send");
    assert_eq!(response.status(), 404);
    let response = http
        .get(server.url("/oauth/token"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 405);
}

/// The framework's own refusals (a wrong method, a body over the limit)
/// come as the same OAuth JSON as every other error, and are not cached.
#[tokio::test]
async fn wrong_method_and_oversized_body_are_oauth_json() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let response = client
        .get(server.url("/oauth/token"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 405);
    assert!(
        response.headers().contains_key(header::ALLOW),
        "a 405 names the allowed methods"
    );
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.expect("a 405 is JSON");
    assert_error((405, body), 405, "invalid_request");

    let oversized = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(64 * 1024)
    );
    let response = client
        .post(server.url("/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(oversized)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.expect("a 413 is JSON");
    assert_error((413, body), 413, "invalid_request");
}

/// Guessing a client's secret slows down per client and address, at every
/// endpoint that authenticates clients; even the right secret is refused
/// from that address while it waits, and the client calling from another
/// address (Alexa from Amazon's) is not disturbed.
#[tokio::test]
async fn failed_client_authentication_is_throttled_per_client_and_address() {
    let server = TestServer::start().await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .expect("client")
    };
    let (attacker, alexa) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let request = |http: &reqwest::Client, path: &str, secret: &str| {
        http.post(server.url(path))
            .basic_auth(OTHER_CLIENT_ID, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "profile"),
                ("token", "x"),
            ])
            .send()
    };
    // The default policy: three free failures, then each attempt waits.
    for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect"] {
        let response = request(&attacker, path, "wrong-secret-guess")
            .await
            .expect("send");
        assert_eq!(response.status(), 401, "{path}");
    }
    let response = request(&attacker, "/oauth/token", "another-guess-xx")
        .await
        .expect("send");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let response = request(&attacker, "/oauth/token", OTHER_CLIENT_SECRET)
        .await
        .expect("send");
    assert_eq!(
        response.status(),
        429,
        "the right secret reads like a wrong one while throttled"
    );
    let response = request(&alexa, "/oauth/token", OTHER_CLIENT_SECRET)
        .await
        .expect("send");
    assert_eq!(response.status(), 200, "another address is not affected");
    server.clock().advance(1);
    let response = request(&attacker, "/oauth/token", OTHER_CLIENT_SECRET)
        .await
        .expect("send");
    assert_eq!(
        response.status(),
        200,
        "after the delay the right secret works"
    );
    server.stop().await;
}
