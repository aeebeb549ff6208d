//! `--dev`: a complete demo server with nothing to prepare.
//!
//! Builds an ordinary [`Config`] (so the demo exercises the same code as
//! production), with its secret files in a temporary directory that is
//! removed on exit, and the store in that directory too unless the user
//! names a data directory. Nothing else is written.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

use crate::config::{
    AuthorizationConfig, ClientConfig, Config, EmbeddedStoreConfig, GrantType, IdentityConfig,
    LoggingConfig, LoginProtectionConfig, PkcePolicy, RefreshTokenPolicy, ServerConfig,
    StaticIdentityConfig, StaticUser, StoreConfig,
};
use crate::identity::password::hash_argon2;
use crate::tokens;

/// The demo client's id.
pub const DEMO_CLIENT_ID: &str = "alexa-demo";
/// The demo client's Alexa vendor id (gives the three regional redirect URIs).
pub const DEMO_VENDOR_ID: &str = "M2DEMOVENDOR";
/// The demo logins, from the seed's sample: (username, password, role).
pub const DEMO_USERS: [(&str, &str, &str); 2] = [
    ("admin", "password", "Administrator"),
    ("user", "password", "User"),
];

/// Where and how the demo listens.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Public listener.
    pub listen: SocketAddr,
    /// Admin listener.
    pub admin_listen: SocketAddr,
    /// Keep the store here instead of in the temporary directory.
    pub data_dir: Option<PathBuf>,
    /// Public URL, when the demo sits behind a tunnel; else `http://<listen>`.
    pub public_url: Option<Url>,
}

/// A demo config and what it needs kept alive.
pub struct DevEnvironment {
    /// The config to run.
    pub config: Config,
    /// The demo client's secret (printed once).
    pub client_secret: String,
    /// Holds the secret files; removed on drop.
    pub dir: tempfile::TempDir,
}

/// Creates the demo environment.
pub fn environment(options: &DevOptions) -> std::io::Result<DevEnvironment> {
    let dir = tempfile::Builder::new()
        .prefix("alexa-link-dev-")
        .tempdir()?;
    // Unreserved characters only (base64url): HTTP Basic form-urlencodes
    // the secret (RFC 6749 2.3.1), so a `+` typed raw would arrive as a
    // space, and a `/` or `=` must be escaped; this one needs neither.
    let client_secret = format!("demo-{}", tokens::random_nonce());
    let secret_file = write_private(dir.path(), "client-secret", client_secret.as_bytes())?;
    let session_key_file = write_private(
        dir.path(),
        "session-key",
        &[tokens::random_id(), tokens::random_id()].concat(),
    )?;
    let store_path = match &options.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.join("alexa-link.redb")
        }
        None => dir.path().join("alexa-link.redb"),
    };
    let public_url = match &options.public_url {
        Some(u) => u.clone(),
        None => Url::parse(&format!("http://{}", options.listen))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?,
    };
    let users = DEMO_USERS
        .iter()
        .map(|(name, password, role)| StaticUser {
            username: (*name).to_owned(),
            password_hash: hash_argon2(password),
            id: None,
            display_name: Some(format!("Demo {role}")),
            // Marked so that logs never mistake them for real accounts.
            groups: vec!["demo".to_owned()],
        })
        .collect();
    let config = Config {
        server: ServerConfig {
            listen: options.listen,
            admin_listen: options.admin_listen,
            public_url,
            tls: None,
            // The demo may be reached through a tunnel that ends TLS.
            allow_insecure_http: options.public_url.is_some(),
            session_key_file,
            connections: Default::default(),
        },
        logging: LoggingConfig::default(),
        branding: None,
        authorization: AuthorizationConfig::default(),
        clients: vec![ClientConfig {
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret_file: Some(secret_file),
            public: false,
            display_name: Some("Alexa (demo skill)".to_owned()),
            redirect_uris: vec![],
            alexa_vendor_id: Some(DEMO_VENDOR_ID.to_owned()),
            scopes: vec!["profile".to_owned()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            access_token_lifetime_seconds: 3600,
            refresh_token: RefreshTokenPolicy::default(),
            pkce: PkcePolicy::Required,
            skip_consent: false,
            partner_token_access: false,
            partner_token_partners: vec![],
            access_token_format: Default::default(),
            access_token_audience: None,
            branding: None,
        }],
        identity: IdentityConfig::Static(StaticIdentityConfig {
            users_file: None,
            users,
        }),
        login_protection: LoginProtectionConfig::default(),
        store: StoreConfig::Embedded(EmbeddedStoreConfig::at(store_path)),
        partners: vec![],
        encryption_key_files: vec![],
        access_token_signing_key_files: vec![],
        app_to_app: None,
    };
    Ok(DevEnvironment {
        config,
        client_secret,
        dir,
    })
}

fn write_private(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(&path)?.write_all(contents)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_secret_survives_http_basic_written_by_hand() {
        let env = environment(&DevOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: None,
            public_url: None,
        })
        .expect("environment");
        // RFC 3986 unreserved: what form-urlencoding leaves as it is.
        assert!(
            env.client_secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
            "{}",
            env.client_secret
        );
        let file = env.config.clients[0]
            .client_secret_file
            .as_ref()
            .expect("the demo client is confidential");
        let on_disk = std::fs::read_to_string(file).expect("secret file");
        assert_eq!(on_disk, env.client_secret);
    }
}
