//! Revocation (RFC 7009), introspection (RFC 7662) and metadata (RFC 8414).

use alexa_link_server::testing::{
    CLIENT_ID, CLIENT_SECRET, ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, TestServer, USERS,
    link, token_request,
};
use serde_json::Value;

async fn post(
    server: &TestServer,
    path: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .expect("send");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

async fn introspect(server: &TestServer, client: (&str, &str), token: &str) -> Value {
    let (status, body) = post(server, "/oauth/introspect", client, &[("token", token)]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

const ALEXA: (&str, &str) = (CLIENT_ID, CLIENT_SECRET);
const OTHER: (&str, &str) = (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET);

#[tokio::test]
async fn introspection_describes_own_active_tokens_only() {
    let server = TestServer::start().await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let access = tokens["access_token"].as_str().expect("at");
    let refresh = tokens["refresh_token"].as_str().expect("rt");

    let info = introspect(&server, ALEXA, access).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], CLIENT_ID);
    assert_eq!(info["sub"], "user-ann");
    assert_eq!(info["scope"], "profile");
    assert_eq!(info["token_type"], "Bearer");
    assert!(info["exp"].as_i64().expect("exp") > info["iat"].as_i64().expect("iat"));
    assert_eq!(info["iss"], server.base_url);

    let info = introspect(&server, ALEXA, refresh).await;
    assert_eq!(
        (info["active"].as_bool(), info["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );

    // Other clients, unknown and expired tokens: just inactive.
    assert_eq!(
        introspect(&server, OTHER, access).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&server, ALEXA, "ala_unknown").await,
        serde_json::json!({"active": false})
    );
    server.clock().advance(3600);
    assert_eq!(introspect(&server, ALEXA, access).await["active"], false);

    // It is client-authenticated and needs a token.
    let (status, _) = post(
        &server,
        "/oauth/introspect",
        (CLIENT_ID, "wrong-wrong-wrong-wrong"),
        &[("token", access)],
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = post(&server, "/oauth/introspect", ALEXA, &[]).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_the_whole_grant() {
    let server = TestServer::start().await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let access = tokens["access_token"].as_str().expect("at");
    let refresh = tokens["refresh_token"].as_str().expect("rt");
    let (status, _) = post(
        &server,
        "/oauth/revoke",
        ALEXA,
        &[("token", refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        introspect(&server, ALEXA, access).await["active"],
        false,
        "its access token went too"
    );
    let (status, body) = token_request(
        &server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Revoking again, or an unknown token, is still 200.
    assert_eq!(
        post(&server, "/oauth/revoke", ALEXA, &[("token", refresh)])
            .await
            .0,
        200
    );
    assert_eq!(
        post(&server, "/oauth/revoke", ALEXA, &[("token", "alr_unknown")])
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn revoking_an_access_token_leaves_the_grant() {
    let server = TestServer::start().await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let access = tokens["access_token"].as_str().expect("at");
    assert_eq!(
        post(&server, "/oauth/revoke", ALEXA, &[("token", access)])
            .await
            .0,
        200
    );
    assert_eq!(introspect(&server, ALEXA, access).await["active"], false);
    let refresh = tokens["refresh_token"].as_str().expect("rt");
    let (status, _) = token_request(
        &server,
        ClientAuth::Basic,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn another_client_cannot_revoke_alexas_tokens() {
    let server = TestServer::start().await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let refresh = tokens["refresh_token"].as_str().expect("rt");
    assert_eq!(
        post(&server, "/oauth/revoke", OTHER, &[("token", refresh)])
            .await
            .0,
        200
    );
    assert_eq!(
        introspect(&server, ALEXA, refresh).await["active"],
        true,
        "untouched"
    );
    let (status, body) = post(
        &server,
        "/oauth/revoke",
        (OTHER_CLIENT_ID, "bad-bad-bad-bad-bad"),
        &[("token", refresh)],
    )
    .await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn metadata_advertises_exactly_what_is_served() {
    let server = TestServer::start().await;
    let doc: Value = reqwest::get(server.url("/.well-known/oauth-authorization-server"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["issuer"], server.base_url);
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["authorization_code", "client_credentials", "refresh_token"])
    );
    // Every advertised endpoint exists (none answers 404).
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = doc[key].as_str().expect(key);
        assert!(url.starts_with(&server.base_url), "{key}: {url}");
        let status = if key == "authorization_endpoint" {
            reqwest::get(url).await.expect("get").status()
        } else {
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .expect("post")
                .status()
        };
        assert_ne!(status, 404, "{key} is advertised but not served");
    }
}

/// One layer sets `Cache-Control: no-store` on every public response, so an
/// endpoint cannot forget it; the metadata document keeps its own policy.
#[tokio::test]
async fn every_public_response_is_no_store_except_the_metadata() {
    let server = TestServer::start().await;
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let access = tokens["access_token"].as_str().expect("at");
    let client = reqwest::Client::new();
    let cache_control = |r: &reqwest::Response| {
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let form = |path: &str, fields: &[(&str, &str)]| {
        client
            .post(server.url(path))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(fields)
            .send()
    };
    let responses = [
        (
            "introspect",
            form("/oauth/introspect", &[("token", access)]).await,
        ),
        (
            "revoke",
            form("/oauth/revoke", &[("token", "unknown")]).await,
        ),
        (
            "token error",
            form("/oauth/token", &[("grant_type", "password")]).await,
        ),
        ("unknown path", client.get(server.url("/nope")).send().await),
        (
            "reciprocal without bearer",
            client
                .post(server.url("/api/reciprocal/authorize"))
                .send()
                .await,
        ),
    ];
    for (what, response) in responses {
        let response = response.expect("send");
        assert_eq!(
            cache_control(&response).as_deref(),
            Some("no-store"),
            "{what}"
        );
        assert_eq!(response.headers()["pragma"], "no-cache", "{what}");
    }
    let metadata = client
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        cache_control(&metadata).as_deref(),
        Some("public, max-age=300")
    );
    assert!(metadata.headers().get("pragma").is_none());
}
