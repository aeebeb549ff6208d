//! Issue 19: the three access token formats end to end. Each format links
//! (the Alexa flow), refreshes with rotation, is accepted by introspection,
//! revocation, the reciprocal and partner endpoints, and dies with its grant.

use alexa_link_server::config::AccessTokenFormat;
use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    CLIENT_ID, CLIENT_SECRET, ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, TestServer, USERS,
    link, reciprocal, token_request, use_access_token_format,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

const FORMATS: [AccessTokenFormat; 3] = [
    AccessTokenFormat::Opaque,
    AccessTokenFormat::Sealed,
    AccessTokenFormat::Jwt,
];
const ALEXA: (&str, &str) = (CLIENT_ID, CLIENT_SECRET);
const OTHER: (&str, &str) = (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET);

async fn start(lwa: &LwaStandIn, format: AccessTokenFormat) -> TestServer {
    TestServer::start_with_partner_and(lwa, |config| {
        let dir = config
            .server
            .session_key_file
            .parent()
            .expect("the test dir")
            .to_owned();
        use_access_token_format(config, &dir, format);
    })
    .await
}

async fn post(
    server: &TestServer,
    path: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn active(server: &TestServer, token: &str) -> Value {
    let (status, body) = post(server, "/oauth/introspect", ALEXA, &[("token", token)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn assert_form(format: AccessTokenFormat, token: &str) {
    match format {
        AccessTokenFormat::Opaque => assert!(token.starts_with("ala_"), "{token}"),
        AccessTokenFormat::Sealed => assert!(token.starts_with("als_"), "{token}"),
        AccessTokenFormat::Jwt => assert_eq!(token.split('.').count(), 3, "{token}"),
    }
}

#[tokio::test]
async fn each_format_links_refreshes_and_ends_with_its_grant() {
    let lwa = LwaStandIn::start().await;
    for format in FORMATS {
        let server = start(&lwa, format).await;
        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        let first = tokens["access_token"].as_str().expect("at").to_owned();
        assert_form(format, &first);
        let info = active(&server, &first).await;
        assert_eq!(
            (
                &info["active"],
                &info["sub"],
                &info["client_id"],
                &info["scope"]
            ),
            (
                &Value::Bool(true),
                &"user-ann".into(),
                &CLIENT_ID.into(),
                &"profile".into()
            ),
            "{format:?}"
        );
        assert_eq!(
            active(&server, &first).await,
            info,
            "{format:?}: the same answer twice"
        );

        // Alexa refreshes (rotation); a retry within the grace window gets
        // the very same successor.
        let refresh = tokens["refresh_token"].as_str().expect("rt");
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        let (status, rotated) = token_request(&server, ClientAuth::Basic, &form).await;
        assert_eq!(status, 200, "{format:?}: {rotated}");
        let (_, retried) = token_request(&server, ClientAuth::Basic, &form).await;
        // (expires_in may be one second less if a second ticked meanwhile.)
        for field in ["access_token", "refresh_token", "scope"] {
            assert_eq!(
                retried[field], rotated[field],
                "{format:?}: grace-window retry"
            );
        }
        let second = rotated["access_token"].as_str().expect("at").to_owned();
        assert_form(format, &second);
        assert_eq!(active(&server, &second).await["active"], true);

        // The access token works as a bearer at the reciprocal endpoint.
        let (status, body) = reciprocal(&server, &second, &lwa.issue_code()).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &"linked".into()),
            "{format:?}: {body}"
        );

        // Another client learns nothing of it.
        let (_, other) = post(&server, "/oauth/introspect", OTHER, &[("token", &second)]).await;
        assert_eq!(other, serde_json::json!({"active": false}), "{format:?}");

        // Revoking the refresh token ends the grant: every access token of
        // it, stored or self-contained, is refused at once on this replica.
        let new_refresh = rotated["refresh_token"].as_str().expect("rt");
        let (status, _) = post(&server, "/oauth/revoke", ALEXA, &[("token", new_refresh)]).await;
        assert_eq!(status, 200);
        for token in [&first, &second] {
            assert_eq!(
                active(&server, token).await,
                serde_json::json!({"active": false}),
                "{format:?}: a revoked grant's access token"
            );
        }
        let (status, body) = reciprocal(&server, &second, &lwa.issue_code()).await;
        assert_eq!(
            (status, &body["error"]),
            (401, &"invalid_token".into()),
            "{format:?}"
        );

        // And a token of the format expires on its own.
        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        let third = tokens["access_token"].as_str().expect("at");
        server.clock().advance(3600);
        assert_eq!(active(&server, third).await["active"], false, "{format:?}");
        server.stop().await;
    }
}

#[tokio::test]
async fn revoking_a_self_contained_user_token_ends_its_grant() {
    let lwa = LwaStandIn::start().await;
    for format in [AccessTokenFormat::Sealed, AccessTokenFormat::Jwt] {
        let server = start(&lwa, format).await;
        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        let access = tokens["access_token"].as_str().expect("at");
        let (status, _) = post(&server, "/oauth/revoke", OTHER, &[("token", access)]).await;
        assert_eq!(status, 200, "another client's token: no effect");
        assert_eq!(active(&server, access).await["active"], true);
        let (status, _) = post(&server, "/oauth/revoke", ALEXA, &[("token", access)]).await;
        assert_eq!(status, 200);
        assert_eq!(active(&server, access).await["active"], false, "{format:?}");
        let refresh = tokens["refresh_token"].as_str().expect("rt");
        let (status, body) = token_request(
            &server,
            ClientAuth::Basic,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(
            (status, &body["error"]),
            (400, &"invalid_grant".into()),
            "{format:?}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn client_credentials_tokens_of_each_format_reach_the_partner_endpoint() {
    let lwa = LwaStandIn::start().await;
    for format in FORMATS {
        let server = start(&lwa, format).await;
        // Ann links mutually, so the partner endpoint has her Amazon token.
        let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
        let at = tokens["access_token"].as_str().expect("at");
        let (status, _) = reciprocal(&server, at, &lwa.issue_code()).await;
        assert_eq!(status, 200);

        let (status, cc) = post(
            &server,
            "/oauth/token",
            OTHER,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "partner_token"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{format:?}: {cc}");
        let token = cc["access_token"].as_str().expect("cc token");
        assert_form(format, token);
        let response = reqwest::Client::new()
            .get(server.url("/api/partner/token"))
            .bearer_auth(token)
            .query(&[("user_id", "user-ann")])
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 200, "{format:?}: {body}");
        assert!(
            body["access_token"]
                .as_str()
                .is_some_and(|t| t.starts_with("Atza|"))
        );

        let (status, info) = post(&server, "/oauth/introspect", OTHER, &[("token", token)]).await;
        assert_eq!((status, &info["active"]), (200, &Value::Bool(true)));
        assert_eq!(info["sub"], Value::Null, "{format:?}: no user");

        let (status, body) = post(&server, "/oauth/revoke", OTHER, &[("token", token)]).await;
        if format == AccessTokenFormat::Opaque {
            assert_eq!(status, 200);
        } else {
            assert_eq!(
                (status, &body["error"]),
                (400, &"unsupported_token_type".into()),
                "{format:?}: RFC 7009 2.2.1"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn jwt_tokens_verify_with_the_published_keys_alone() {
    let lwa = LwaStandIn::start().await;
    let server = start(&lwa, AccessTokenFormat::Jwt).await;
    let http = reqwest::Client::new();
    let metadata: Value = http
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    let jwks_uri = metadata["jwks_uri"].as_str().expect("jwks_uri advertised");
    assert_eq!(jwks_uri, server.url("/oauth/jwks"));
    let response = http.get(jwks_uri).send().await.expect("jwks");
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let jwks: Value = response.json().await.expect("json");
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"]),
        (&"OKP".into(), &"Ed25519".into(), &"EdDSA".into())
    );
    assert!(key.get("d").is_none(), "no private part is published");

    // What a skill backend does: check the signature with the JWKS key and
    // read the RFC 9068 claims, without calling this server.
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let token = tokens["access_token"].as_str().expect("at");
    let (signed, signature) = token.rsplit_once('.').expect("jws");
    let public = URL_SAFE_NO_PAD
        .decode(key["x"].as_str().expect("x"))
        .expect("b64");
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
        .verify(
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(signature).expect("b64"),
        )
        .expect("the signature holds under the published key");
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
    };
    let mut parts = signed.split('.');
    let header = decode(parts.next().expect("header"));
    let claims = decode(parts.next().expect("claims"));
    assert_eq!(
        (&header["typ"], &header["kid"]),
        (&"at+jwt".into(), &key["kid"])
    );
    assert_eq!(claims["iss"], server.base_url);
    assert_eq!(claims["aud"], server.base_url, "the default audience");
    assert_eq!(
        (&claims["sub"], &claims["client_id"], &claims["scope"]),
        (&"user-ann".into(), &CLIENT_ID.into(), &"profile".into())
    );
    assert!(claims["exp"].as_i64() > claims["iat"].as_i64());
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    server.stop().await;

    // Without JWT clients, no keys and no jwks_uri.
    let plain = TestServer::start().await;
    let metadata: Value = http
        .get(plain.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert!(metadata.get("jwks_uri").is_none());
    let status = http
        .get(plain.url("/oauth/jwks"))
        .send()
        .await
        .expect("jwks")
        .status();
    assert_eq!(status, 404);
}
