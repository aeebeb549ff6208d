//! The files in `examples/` work as written.

use alexa_link_server::config::{Config, IdentityConfig, StaticIdentityConfig};
use alexa_link_server::identity::IdentityProvider;
use alexa_link_server::identity::oidc::default_issuer_id;
use alexa_link_server::identity::password::PasswordVerifier;
use alexa_link_server::identity::static_users::StaticUsers;

fn example(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

#[test]
fn the_server_example_parses_and_validates() {
    let text = std::fs::read_to_string(example("server.yaml")).expect("read");
    let config = Config::from_yaml(&text).expect("parses");
    assert_eq!(config.validate(), Ok(()));
    let IdentityConfig::Static(s) = &config.identity else {
        panic!("server.yaml uses the static backend");
    };
    assert!(s.users_file.is_some());
    assert_eq!(config.clients[0].effective_redirect_uris().len(), 3);
}

#[test]
fn the_dynamodb_example_parses_and_validates() {
    let text = std::fs::read_to_string(example("server-dynamodb.yaml")).expect("read");
    let config = Config::from_yaml(&text).expect("parses");
    assert_eq!(config.validate(), Ok(()));
    assert!(
        matches!(config.store, alexa_link_server::config::StoreConfig::Dynamodb(ref d) if d.table_name == "alexa-link" && !d.create_table)
    );
}

#[tokio::test]
async fn the_users_example_logs_in_with_its_documented_password() {
    let config = StaticIdentityConfig {
        users_file: Some(example("users.yaml")),
        users: vec![],
    };
    let users = StaticUsers::load(&config, PasswordVerifier::new(1)).expect("loads");
    let user = users
        .authenticate("user", "password")
        .await
        .expect("documented password works");
    assert_eq!(user.id, "1001");
}

#[test]
fn the_identity_backend_examples_parse_and_validate() {
    for (name, expected) in [
        ("identity-ldap.yaml", "ldap"),
        ("identity-oidc.yaml", "oidc"),
    ] {
        let text = std::fs::read_to_string(example(name)).expect("read");
        let config = Config::from_yaml(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.validate(), Ok(()), "{name}");
        let kind = match &config.identity {
            IdentityConfig::Static(_) => "static",
            IdentityConfig::Ldap(_) => "ldap",
            IdentityConfig::Oidc(o) => {
                assert_eq!(default_issuer_id(o.issuer_url.as_str()).len(), 16);
                "oidc"
            }
        };
        assert_eq!(kind, expected, "{name}");
    }
}
