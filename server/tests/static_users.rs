//! The static backend through the login page: a users file (as mounted
//! from a Kubernetes Secret) with bcrypt and argon2id hashes, re-read when
//! it changes.

use alexa_link_server::config::{IdentityConfig, StaticIdentityConfig};
use alexa_link_server::identity::password::hash_argon2_with;
use alexa_link_server::routes;
use alexa_link_server::testing::{Browser, Pkce, TestServer, authorize_url, hidden_field};

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
