//! The alexa-link server's configuration: one YAML document, parsed into [`Config`].
//!
//! This crate is the contract between the server and the operator: the
//! operator renders a `Config` into a ConfigMap and the server parses it back,
//! so both sides share these definitions instead of agreeing on a format by
//! hand. It is its own crate so that the operator compiles the format and
//! nothing else of the server (no AWS SDK, store, LDAP or OIDC client).
//! Field names are camelCase, as everywhere else in Kubernetes manifests.
//!
//! Secrets never appear inline: a config names *files* (Kubernetes mounts
//! Secrets as files), and the server reads them at start.
//!
//! One module per top-level section of the document, each holding the
//! section's types, its defaults as public constants (so that the operator
//! imports them instead of re-typing numbers) and its checks:
//!
//! | key | module |
//! |---|---|
//! | `server` | [`server`]: listeners, public URL, TLS; `server.connections`: [`connections`] |
//! | `logging` | [`logging`] |
//! | `branding`, `clients[].branding` | [`branding`]: product name, logo, colors, templates |
//! | `authorization` | [`authorization`]: code and form lifetimes |
//! | `clients` | [`clients`]: OAuth clients, grant types, refresh and PKCE policy |
//! | `clients[].accessTokenFormat`, `accessTokenSigningKeyFiles` | [`access_tokens`]: opaque, sealed or JWT access tokens |
//! | `identity` | [`identity`]: static users, LDAP, upstream OIDC |
//! | `loginProtection` | [`login_protection`]: throttling and lockout |
//! | `store` | [`store`]: embedded or DynamoDB |
//! | `partners`, `encryptionKeyFiles` | [`partners`]: mutual linking with Login with Amazon |
//! | `appToApp` | [`app_to_app`]: App-to-App account linking |
//!
//! Loading is two steps: [`Config::from_yaml`] (syntax, unknown fields, types)
//! and [`Config::validate`] (every rule that involves values or several fields).
//! Both report the offending field by its path, e.g.
//! `clients[0].accessTokenLifetimeSeconds`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod access_tokens;
pub mod app_to_app;
pub mod authorization;
pub mod branding;
pub mod clients;
pub mod connections;
mod error;
pub mod identity;
pub mod logging;
pub mod login_protection;
pub mod partners;
mod rules;
pub mod server;
pub mod store;

pub use access_tokens::AccessTokenFormat;
pub use app_to_app::{APP_TO_APP_SCOPE, AppToAppConfig, AppToAppSkill, SkillStage};
pub use authorization::{AuthorizationConfig, MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS};
pub use branding::BrandingConfig;
pub use clients::{
    ALEXA_MIN_ACCESS_TOKEN_LIFETIME_SECONDS, ClientConfig, ClientKind, GrantType,
    PUBLIC_CLIENT_GRANT_TYPES, PkcePolicy, RefreshTokenPolicy, alexa_redirect_uris,
    check_native_redirect_uri, check_redirect_uri, is_valid_scope_token,
};
pub use connections::ConnectionLimitsConfig;
pub use error::{ConfigError, FieldError};
pub use identity::{
    IdentityConfig, LdapIdentityConfig, OidcIdentityConfig, PasswordHashKind, StaticIdentityConfig,
    StaticUser, StaticUsersFile, check_static_users,
};
pub use logging::{LogFormat, LoggingConfig};
pub use login_protection::LoginProtectionConfig;
pub use partners::{LwaRegion, PARTNER_TOKEN_SCOPE, PartnerConfig};
pub use server::{ServerConfig, TlsConfig};
pub use store::{
    AwsCredentialFiles, DEFAULT_EMBEDDED_CACHE_MIB, DynamoDbStoreConfig, EmbeddedStoreConfig,
    StoreConfig,
};

use error::Errors;

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Listeners, public URL and TLS.
    pub server: ServerConfig,
    /// Log format and level.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// The look of the login, consent and linked-apps pages. Absent: the
    /// built-in look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<BrandingConfig>,
    /// Lifetimes of the browser-facing parts of the authorization flow.
    #[serde(default)]
    pub authorization: AuthorizationConfig,
    /// The OAuth clients allowed to use this server (Alexa is one).
    pub clients: Vec<ClientConfig>,
    /// Where users log in: exactly one identity backend.
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub identity: IdentityConfig,
    /// Throttling and lockout of failed password logins.
    #[serde(default)]
    pub login_protection: LoginProtectionConfig,
    /// Where grants, codes and tokens are kept.
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub store: StoreConfig,
    /// Mutual account linking: the Login with Amazon partners whose tokens
    /// this server keeps for its users. Empty: mutual linking is off.
    #[serde(default)]
    pub partners: Vec<PartnerConfig>,
    /// Files holding the keys that encrypt stored Amazon tokens, at least 32
    /// bytes each. The first encrypts; all decrypt, so a new key is rolled
    /// in by putting it first and the old one removed once nothing uses it.
    /// Required when `partners` is set.
    #[serde(default)]
    pub encryption_key_files: Vec<PathBuf>,
    /// PEM files (PKCS#8 Ed25519 or P-256 private keys) that sign JWT access
    /// tokens (`clients[].accessTokenFormat: jwt`). The first signs; every
    /// key's public half is published at the JWKS endpoint, so a new key is
    /// rolled in second, moved first once resource servers have fetched it,
    /// and removed after the last token it signed expired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_token_signing_key_files: Vec<PathBuf>,
    /// App-to-App account linking from the developer's app and from the
    /// Alexa app. Absent: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_to_app: Option<AppToAppConfig>,
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Config::from_yaml(&text)?;
        config.validate().map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// Parses YAML without validating values (see [`Config::validate`]).
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        Ok(serde_yaml::from_str(text)?)
    }

    /// Renders the config as YAML (what the operator writes into a ConfigMap).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| {
            // Serializing these plain data types cannot fail; keep the message
            // if it somehow does rather than panicking in a reconcile loop.
            format!("# failed to render config: {e}\n")
        })
    }

    /// Checks every rule that serde's types cannot express. Returns all
    /// problems at once, each naming its field, in document order of the
    /// sections (the order people read the file in).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        self.server.validate(&mut errors);
        if let Some(b) = &self.branding {
            b.validate("branding", true, &mut errors);
        }
        self.authorization.validate(&mut errors);
        clients::validate_all(&self.clients, &mut errors);
        self.identity.validate(&mut errors);
        self.login_protection.validate(&mut errors);
        partners::validate(
            &self.partners,
            &self.encryption_key_files,
            &self.clients,
            &mut errors,
        );
        access_tokens::validate(
            &self.clients,
            &self.encryption_key_files,
            &self.access_token_signing_key_files,
            &mut errors,
        );
        app_to_app::validate(
            self.app_to_app.as_ref(),
            &self.clients,
            &self.partners,
            &mut errors,
        );
        self.store.validate(&mut errors);
        errors.into_result()
    }
}

/// The fixture every section's tests start from.
#[cfg(test)]
pub(crate) mod fixture {
    use super::{Config, FieldError};

    /// A small valid config: one Alexa client, one static user, the embedded store.
    pub const MINIMAL: &str = r#"
server:
  listen: 127.0.0.1:8443
  adminListen: 127.0.0.1:9090
  publicUrl: https://link.example.com
  sessionKeyFile: /keys/session
clients:
  - clientId: alexa
    clientSecretFile: /secrets/alexa
    alexaVendorId: M2ABCDEF
    scopes: [profile]
identity:
  static:
    users:
      - username: user
        passwordHash: "$2b$04$KxvVQ1mqU3TjSeR9lZ6dpe7qXUWqZfYZCaqC5xJ/sn1J0Ccvm/V6u"
store:
  embedded:
    path: /data/store.redb
"#;

    /// [`MINIMAL`], parsed.
    pub fn minimal() -> Config {
        Config::from_yaml(MINIMAL).expect("minimal config parses")
    }

    /// The fields `validate` names, in its order.
    pub fn invalid_fields(c: &Config) -> Vec<String> {
        c.validate()
            .expect_err("should be invalid")
            .into_iter()
            .map(|e: FieldError| e.field)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{MINIMAL, invalid_fields, minimal};
    use super::*;

    #[test]
    fn minimal_config_is_valid_and_fills_defaults() {
        let c = minimal();
        assert_eq!(c.validate(), Ok(()));
        let client = &c.clients[0];
        assert_eq!(client.access_token_lifetime_seconds, 3600);
        assert_eq!(client.pkce, PkcePolicy::Required);
        assert!(client.refresh_token.rotation);
        assert_eq!(client.refresh_token.absolute_lifetime_seconds, None);
        assert_eq!(
            client.grant_types,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(c.authorization.code_lifetime_seconds, 60);
    }

    #[test]
    fn yaml_round_trips() {
        let c = minimal();
        assert_eq!(Config::from_yaml(&c.to_yaml()).expect("reparses"), c);
    }

    #[test]
    fn unknown_field_is_rejected_with_its_path() {
        let text = MINIMAL.replace("scopes: [profile]", "scopes: [profile]\n    colour: blue");
        let err = Config::from_yaml(&text)
            .expect_err("unknown field")
            .to_string();
        assert!(err.contains("clients[0]"), "{err}");
        assert!(err.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let text = MINIMAL.replace(
            "scopes: [profile]",
            "scopes: [profile]\n    skipConsent: maybe",
        );
        let err = Config::from_yaml(&text).expect_err("bad bool").to_string();
        assert!(err.contains("clients[0].skipConsent"), "{err}");
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let mut c = minimal();
        c.authorization.code_lifetime_seconds = 600;
        c.clients.push(c.clients[0].clone());
        c.clients[1].scopes = vec!["bad scope".into()];
        c.clients[1].grant_types = vec![GrantType::RefreshToken];
        assert_eq!(
            invalid_fields(&c),
            vec![
                "authorization.codeLifetimeSeconds",
                "clients[1].clientId",
                "clients[1].grantTypes",
                "clients[1].scopes[0]",
            ]
        );
    }

    #[test]
    fn invalid_config_lists_every_problem_on_its_own_line() {
        let mut c = minimal();
        c.clients[0].access_token_lifetime_seconds = 60;
        let errors = c.validate().expect_err("too short");
        assert_eq!(
            ConfigError::Invalid(errors).to_string(),
            "invalid config:\n  - clients[0].accessTokenLifetimeSeconds: must be at least 360 (Alexa's minimum), got 60"
        );
    }
}
