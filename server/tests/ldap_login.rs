//! The LDAP backend against a real OpenLDAP `slapd`, started by
//! `tests/ldap/slapd.sh` (scripts/test does it) with the users of
//! `tests/ldap/users.ldif`. Skips, saying so, when `ALEXA_LINK_LDAP_URL` is
//! unset.

use alexa_link_server::config::{IdentityConfig, LdapIdentityConfig};
use alexa_link_server::routes;
use alexa_link_server::testing::{
    Browser, ClientAuth, Pkce, TestServer, authorize_url, hidden_field, link, token_request,
};
use url::Url;

const BIND_DN: &str = "cn=alexa-link,ou=services,dc=example,dc=com";
const BIND_PASSWORD: &str = "service-account-pw";

struct Directory {
    url: String,
    ldaps_url: String,
    ca: String,
    secrets: tempfile::TempDir,
}

fn directory() -> Option<Directory> {
    let Ok(url) = std::env::var("ALEXA_LINK_LDAP_URL") else {
        eprintln!("skipped: ALEXA_LINK_LDAP_URL is unset (scripts/test starts slapd and sets it)");
        return None;
    };
    let secrets = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        secrets.path().join("bind-password"),
        format!("{BIND_PASSWORD}\n"),
    )
    .expect("write");
    Some(Directory {
        url,
        ldaps_url: std::env::var("ALEXA_LINK_LDAPS_URL").expect("ALEXA_LINK_LDAPS_URL"),
        ca: std::env::var("ALEXA_LINK_LDAP_CA").expect("ALEXA_LINK_LDAP_CA"),
        secrets,
    })
}

impl Directory {
    fn config(&self, url: &str) -> LdapIdentityConfig {
        LdapIdentityConfig {
            url: Url::parse(url).expect("url"),
            start_tls: false,
            ca_file: None,
            bind_dn: BIND_DN.into(),
            bind_password_file: self.secrets.path().join("bind-password"),
            base_dn: "ou=people,dc=example,dc=com".into(),
            user_filter: "(&(objectClass=inetOrgPerson)(uid={username}))".into(),
            id_attribute: "entryUUID".into(),
            display_name_attribute: "cn".into(),
            pool_size: 2,
            timeout_seconds: 2,
            user_check_seconds: 0,
        }
    }
}

async fn start(config: LdapIdentityConfig) -> TestServer {
    TestServer::start_with(|c| c.identity = IdentityConfig::Ldap(config)).await
}

/// Submits the login form once; returns status and page.
async fn try_login(server: &TestServer, user: &str, password: &str) -> (u16, String) {
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
    let response = browser
        .post_form(
            &server.url(routes::LOGIN),
            &[
                ("request", &hidden_field(&html, "request").expect("request")),
                ("csrf", &hidden_field(&html, "csrf").expect("csrf")),
                ("username", user),
                ("password", password),
            ],
        )
        .await;
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

async fn user_id_of_link(server: &TestServer, user: (&str, &str)) -> String {
    let tokens = link(server, user, ClientAuth::Basic).await;
    let access = tokens["access_token"].as_str().expect("access token");
    let response = reqwest::Client::new()
        .post(server.url(routes::INTROSPECT))
        .basic_auth(
            alexa_link_server::testing::CLIENT_ID,
            Some(alexa_link_server::testing::CLIENT_SECRET),
        )
        .form(&[("token", access)])
        .send()
        .await
        .expect("introspect");
    let body: serde_json::Value = response.json().await.expect("json");
    body["sub"].as_str().expect("sub").to_owned()
}

#[tokio::test]
async fn directory_users_link_with_their_entry_uuid_as_id() {
    let Some(dir) = directory() else { return };
    let server = start(dir.config(&dir.url)).await;
    let ann = user_id_of_link(&server, ("ann", "ann-ldap-pw")).await;
    let bob = user_id_of_link(&server, ("bob", "bob-ldap-pw")).await;
    for id in [&ann, &bob] {
        let uuid = id.strip_prefix("ldap:").expect("ldap: prefix");
        assert_eq!(uuid.len(), 36, "an entryUUID: {id}");
    }
    assert_ne!(ann, bob);
    // The pool reuses connections: a second login of ann (on a connection
    // that was bound as bob) still finds ann.
    assert_eq!(user_id_of_link(&server, ("ann", "ann-ldap-pw")).await, ann);
    server.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_read_the_same() {
    let Some(dir) = directory() else { return };
    let server = start(dir.config(&dir.url)).await;
    let (status, wrong) = try_login(&server, "ann", "not-her-password").await;
    assert_eq!(status, 401);
    assert!(wrong.contains("Incorrect username or password."), "{wrong}");
    let (status, unknown) = try_login(&server, "nobody", "whatever").await;
    assert_eq!(status, 401);
    assert!(unknown.contains("Incorrect username or password."));
    let (status, _) = try_login(&server, "ann", "").await;
    assert_eq!(status, 400, "an empty password never reaches the directory");
    // Filter injection is escaped: "*" is not a wildcard.
    let (status, _) = try_login(&server, "*", "ann-ldap-pw").await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn a_directory_that_is_down_gives_a_clear_page_not_a_500() {
    let Some(dir) = directory() else { return };
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let server = start(dir.config(&format!("ldap://127.0.0.1:{port}"))).await;
    let (status, page) = try_login(&server, "ann", "ann-ldap-pw").await;
    assert_eq!(status, 503);
    assert!(page.contains("temporarily unavailable"), "{page}");
    // A wrong service password is the same from the user's side.
    std::fs::write(dir.secrets.path().join("bind-password"), "wrong").expect("write");
    let server2 = start(dir.config(&dir.url)).await;
    let (status, _) = try_login(&server2, "ann", "ann-ldap-pw").await;
    assert_eq!(status, 503);
    server.stop().await;
    server2.stop().await;
}

#[tokio::test]
async fn ldaps_and_starttls_verify_the_directory_with_the_configured_ca() {
    let Some(dir) = directory() else { return };
    let mut ldaps = dir.config(&dir.ldaps_url);
    ldaps.ca_file = Some(dir.ca.clone().into());
    let server = start(ldaps).await;
    assert!(
        user_id_of_link(&server, ("ann", "ann-ldap-pw"))
            .await
            .starts_with("ldap:")
    );
    server.stop().await;

    let mut starttls = dir.config(&dir.url);
    starttls.start_tls = true;
    starttls.ca_file = Some(dir.ca.clone().into());
    let server = start(starttls).await;
    assert!(
        user_id_of_link(&server, ("bob", "bob-ldap-pw"))
            .await
            .starts_with("ldap:")
    );
    server.stop().await;

    // Without the test CA the certificate is not trusted: no login.
    let server = start(dir.config(&dir.ldaps_url)).await;
    let (status, _) = try_login(&server, "ann", "ann-ldap-pw").await;
    assert_eq!(status, 503);
    server.stop().await;
}

/// Directory-manager operations, as an LDAP administrator would do them.
async fn admin() -> ldap3::Ldap {
    let url = std::env::var("ALEXA_LINK_LDAP_URL").expect("url");
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&url).await.expect("connect");
    ldap3::drive!(conn);
    ldap.simple_bind(
        &std::env::var("ALEXA_LINK_LDAP_ADMIN_DN").expect("ALEXA_LINK_LDAP_ADMIN_DN"),
        &std::env::var("ALEXA_LINK_LDAP_ADMIN_PASSWORD").expect("ALEXA_LINK_LDAP_ADMIN_PASSWORD"),
    )
    .await
    .expect("bind")
    .success()
    .expect("admin bind");
    ldap
}

async fn add_user(ldap: &mut ldap3::Ldap, uid: &str, password: &str) {
    use std::collections::HashSet;
    let dn = format!("uid={uid},ou=people,dc=example,dc=com");
    ldap.add(
        &dn,
        vec![
            ("objectClass", HashSet::from(["inetOrgPerson"])),
            ("uid", HashSet::from([uid])),
            ("cn", HashSet::from([uid])),
            ("sn", HashSet::from(["Test"])),
            ("userPassword", HashSet::from([password])),
        ],
    )
    .await
    .expect("add")
    .success()
    .expect("added");
}

#[tokio::test]
async fn a_renamed_user_keeps_their_links_and_a_recreated_name_does_not_take_them() {
    let Some(dir) = directory() else { return };
    let server = start(dir.config(&dir.url)).await;
    let mut ldap = admin().await;
    // Unique names, so the test can run again against the same directory.
    let suffix = alexa_link_server::tokens::random_nonce()[..8].to_lowercase();
    let (old, new) = (format!("carol-{suffix}"), format!("carol-{suffix}-renamed"));
    add_user(&mut ldap, &old, "carol-pw").await;
    let first = user_id_of_link(&server, (&old, "carol-pw")).await;

    // Renamed in the directory: same person, same id.
    ldap.modifydn(
        &format!("uid={old},ou=people,dc=example,dc=com"),
        &format!("uid={new}"),
        true,
        None,
    )
    .await
    .expect("modrdn")
    .success()
    .expect("renamed");
    assert_eq!(user_id_of_link(&server, (&new, "carol-pw")).await, first);

    // Someone else now gets the old name: a different id.
    add_user(&mut ldap, &old, "other-pw").await;
    let second = user_id_of_link(&server, (&old, "other-pw")).await;
    assert_ne!(second, first, "a re-created username is another user");
    let _ = ldap.unbind().await;
    server.stop().await;
}

/// A user deleted from the directory loses every link at the next refresh
/// (`userCheckSeconds` 0 in these tests: the directory is asked each time),
/// and the grant is revoked; a user still in the directory keeps refreshing.
#[tokio::test]
async fn a_user_deleted_from_the_directory_loses_their_links() {
    let Some(dir) = directory() else { return };
    let server = start(dir.config(&dir.url)).await;
    let mut ldap = admin().await;
    let uid = format!(
        "leaver-{}",
        alexa_link_server::tokens::random_nonce()[..8].to_lowercase()
    );
    add_user(&mut ldap, &uid, "leaver-pw").await;
    let user_id = user_id_of_link(&server, (&uid, "leaver-pw")).await;
    let tokens = link(&server, (&uid, "leaver-pw"), ClientAuth::Basic).await;
    let stays = link(&server, ("ann", "ann-ldap-pw"), ClientAuth::Basic).await;
    let refresh = async |tokens: &serde_json::Value| {
        let token = tokens["refresh_token"].as_str().expect("refresh");
        token_request(
            &server,
            ClientAuth::Basic,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
    };
    let (status, tokens) = refresh(&tokens).await;
    assert_eq!(status, 200, "still in the directory: {tokens}");

    ldap.delete(&format!("uid={uid},ou=people,dc=example,dc=com"))
        .await
        .expect("delete")
        .success()
        .expect("deleted");
    let (status, body) = refresh(&tokens).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let now = server.clock().now();
    let grants = server.app.store.list_user_grants(&user_id, now).await;
    assert_eq!(
        grants.expect("grants").len(),
        1,
        "only the link never refreshed since is left (it ends at its refresh)"
    );
    let (status, body) = refresh(&stays).await;
    assert_eq!(status, 200, "ann is still there: {body}");
    let _ = ldap.unbind().await;
    server.stop().await;
}
