//! The static backend through the login page: a users file (as mounted
//! from a Kubernetes Secret) with bcrypt and argon2id hashes, re-read when
//! it changes.

use alexa_link_server::config::{IdentityConfig, StaticIdentityConfig};
use alexa_link_server::identity::password::hash_argon2_with;
use alexa_link_server::routes;
use alexa_link_server::testing::{
    Browser, CLIENT_ID, CLIENT_SECRET, ClientAuth, Pkce, TestServer, USERS, authorize_url,
    hidden_field, link, token_request,
};
use serde_json::Value;

fn cheap_argon2(password: &str) -> String {
    hash_argon2_with(
        password,
        argon2::Params::new(64, 1, 1, None).expect("argon2 params"),
    )
}

async fn login(server: &TestServer, user: &str, password: &str) -> u16 {
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
    browser
        .post_form(
            &server.url(routes::LOGIN),
            &[
                ("request", &hidden_field(&html, "request").expect("request")),
                ("csrf", &hidden_field(&html, "csrf").expect("csrf")),
                ("username", user),
                ("password", password),
            ],
        )
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn users_file_logins_for_both_hash_kinds_and_reload_on_change() {
    let files = tempfile::tempdir().expect("tempdir");
    let path = files.path().join("users.yaml");
    let write = |users: &[(&str, String)]| {
        let mut text = String::from("users:\n");
        for (name, hash) in users {
            text.push_str(&format!(
                "  - username: {name}\n    passwordHash: \"{hash}\"\n"
            ));
        }
        std::fs::write(&path, text).expect("write users file");
    };
    write(&[
        ("argon", cheap_argon2("argon-pw")),
        ("crypt", bcrypt::hash("crypt-pw", 4).expect("bcrypt")),
    ]);
    let users_file = path.clone();
    let server = TestServer::start_with(move |c| {
        c.identity = IdentityConfig::Static(StaticIdentityConfig {
            users_file: Some(users_file),
            users: vec![],
        });
    })
    .await;
    assert_eq!(login(&server, "argon", "argon-pw").await, 303);
    assert_eq!(login(&server, "argon", "crypt-pw").await, 401);
    assert_eq!(login(&server, "crypt", "crypt-pw").await, 303);
    assert_eq!(login(&server, "crypt", "argon-pw").await, 401);

    // The Secret is updated: argon's password changes, crypt is removed,
    // dora is added. No restart.
    write(&[
        ("argon", cheap_argon2("rotated-pw")),
        ("dora", bcrypt::hash("dora-pw", 4).expect("bcrypt")),
    ]);
    assert_eq!(login(&server, "argon", "argon-pw").await, 401);
    assert_eq!(login(&server, "argon", "rotated-pw").await, 303);
    assert_eq!(login(&server, "crypt", "crypt-pw").await, 401);
    assert_eq!(login(&server, "dora", "dora-pw").await, 303);
    server.stop().await;
}

async fn refresh(server: &TestServer, refresh_token: &str) -> (u16, Value) {
    token_request(
        server,
        ClientAuth::Basic,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn token(body: &Value, name: &str) -> String {
    body[name].as_str().expect(name).to_owned()
}

/// A user removed from the users file (the Secret edited, no restart)
/// loses every link at the next refresh: `invalid_grant`, and the grant is
/// revoked, so its access token stops working at once. Other users keep
/// theirs. (Links used to keep working forever.)
#[tokio::test]
async fn a_user_removed_from_the_users_file_loses_their_links() {
    let files = tempfile::tempdir().expect("tempdir");
    let path = files.path().join("users.yaml");
    let write = |names: &[&str]| {
        let mut text = String::from("users:\n");
        for name in names {
            let hash = cheap_argon2(&format!("{name}-pw"));
            text.push_str(&format!(
                "  - username: {name}\n    passwordHash: \"{hash}\"\n"
            ));
        }
        std::fs::write(&path, text).expect("write users file");
    };
    write(&["ann", "carl"]);
    let users_file = path.clone();
    let server = TestServer::start_with(move |c| {
        c.identity = IdentityConfig::Static(StaticIdentityConfig {
            users_file: Some(users_file),
            users: vec![],
        });
    })
    .await;
    let ann = link(&server, ("ann", "ann-pw"), ClientAuth::Basic).await;
    let carl = link(&server, ("carl", "carl-pw"), ClientAuth::Basic).await;
    let (status, refreshed) = refresh(&server, &token(&carl, "refresh_token")).await;
    assert_eq!(status, 200, "{refreshed}");

    write(&["ann"]);
    let (status, body) = refresh(&server, &token(&refreshed, "refresh_token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (active, _) = introspect(&server, &token(&refreshed, "access_token")).await;
    assert!(!active, "the grant was revoked: its access token is dead");
    let (status, body) = refresh(&server, &token(&ann, "refresh_token")).await;
    assert_eq!(status, 200, "ann is still listed: {body}");
    server.stop().await;
}

/// Whether an access token is active, by introspection.
async fn introspect(server: &TestServer, access_token: &str) -> (bool, Value) {
    let body: Value = reqwest::Client::new()
        .post(server.url(routes::INTROSPECT))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", access_token)])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    (body["active"] == true, body)
}

/// The admin port's `POST /revoke-user` ends every link of a user at once.
#[tokio::test]
async fn the_admin_port_revokes_every_link_of_a_user() {
    let server = TestServer::start().await;
    let first = link(&server, USERS[0], ClientAuth::Basic).await;
    let second = link(&server, USERS[0], ClientAuth::Body).await;
    let other = link(&server, USERS[1], ClientAuth::Basic).await;
    let revoke = |user_id: &str| {
        reqwest::Client::new()
            .post(format!("{}{}", server.admin_url, routes::REVOKE_USER))
            .form(&[("user_id", user_id)])
            .send()
    };
    // The id grants are stored under (the users list names ann "user-ann").
    let ann = "user-ann";
    let grants = server
        .app
        .store
        .list_user_grants(ann, server.clock().now())
        .await;
    assert_eq!(grants.expect("grants").len(), 2, "two links of ann");
    let response = revoke(ann).await.expect("revoke");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["grants_revoked"], 2, "{body}");
    for linked in [&first, &second] {
        let (status, body) = refresh(&server, &token(linked, "refresh_token")).await;
        assert_eq!(status, 400, "{body}");
        assert!(!introspect(&server, &token(linked, "access_token")).await.0);
    }
    assert!(
        introspect(&server, &token(&other, "access_token")).await.0,
        "other users keep theirs"
    );
    let body: Value = revoke(ann)
        .await
        .expect("again")
        .json()
        .await
        .expect("json");
    assert_eq!(body["grants_revoked"], 0, "idempotent: {body}");
    let response = reqwest::Client::new()
        .post(format!("{}{}", server.admin_url, routes::REVOKE_USER))
        .send()
        .await
        .expect("no user");
    assert_eq!(response.status(), 400, "user_id is required");
    server.stop().await;
}
