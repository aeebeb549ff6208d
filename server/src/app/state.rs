//! The application state: configuration resolved into running parts
//! (clients with their secrets, identity backend, store, cookie keys), and
//! why that can fail at start.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum_extra::extract::cookie::Key;
use sha2::Sha256;

use crate::app_to_app::AppToApp;
use crate::clock::Clock;
use crate::config::{Config, IdentityConfig, StoreConfig};
use crate::flight_recorder::{self, FlightRecorder};
use crate::identity::IdentityProvider;
use crate::identity::ldap::{LdapDirectory, LdapSetupError};
use crate::identity::oidc::UpstreamOidc;
use crate::identity::password::PasswordVerifier;
use crate::identity::presence::UserPresence;
use crate::identity::static_users::{StaticUsers, StaticUsersError};
use crate::identity::throttle::LoginThrottle;
use crate::metrics::Metrics;
use crate::oauth::clients::ClientRegistry;
use crate::oauth::metadata;
use crate::partner::Partners;
use crate::routes;
use crate::store::embedded::EmbeddedStore;
use crate::store::{AccessTokenRecord, Store, StoreError};
use crate::tokens::access::AccessTokens;
use crate::tokens::refresh::RefreshTokens;
use crate::web::pages::{Pages, PagesError};
use crate::web::session::CookieSettings;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A secret file could not be used.
    #[error("failed to read {what} from {path}: {message}")]
    Secret {
        /// What the file holds.
        what: String,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A client could not be set up.
    #[error("invalid client: {0}")]
    Client(String),
    /// Mutual-linking partners could not be set up.
    #[error("invalid mutual-linking setup: {0}")]
    Partner(String),
    /// The keys of sealed or JWT access tokens, or of refresh-token
    /// claims, could not be loaded.
    #[error("invalid token setup: {0}")]
    Tokens(String),
    /// The pages' branding or templates could not be set up.
    #[error(transparent)]
    Pages(#[from] PagesError),
    /// The store could not be opened.
    #[error("failed to open the store: {0}")]
    Store(#[from] StoreError),
    /// The static identity backend could not be set up.
    #[error(transparent)]
    Identity(#[from] StaticUsersError),
    /// The LDAP identity backend could not be set up.
    #[error(transparent)]
    Ldap(#[from] LdapSetupError),
    /// The upstream OpenID Connect backend could not be set up.
    #[error("failed to set up identity.oidc: {0}")]
    Oidc(String),
    /// TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A listener could not be bound.
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Everything a request handler needs.
pub struct Shared {
    /// The configuration the server runs with.
    pub config: Config,
    /// The clients, with their secrets.
    pub clients: ClientRegistry,
    /// Where users log in.
    pub login: Login,
    /// Whether a linked user is still in the identity backend.
    pub users: UserPresence,
    /// Failed-login and failed-client-authentication counts (in the store).
    pub throttle: LoginThrottle,
    /// Codes, grants and tokens.
    pub store: Arc<dyn Store>,
    /// The access-token formats (opaque, sealed, JWT) and their keys.
    pub access_tokens: AccessTokens,
    /// Refresh tokens, and the key ring of their claims.
    pub refresh_tokens: RefreshTokens,
    /// Login and CSRF cookies.
    pub cookies: CookieSettings,
    /// The pages: templates, languages, branding.
    pub pages: Pages,
    /// Mutual-linking partners and the key ring for their tokens.
    pub partners: Partners,
    /// App-to-App account linking; `None` when not configured.
    pub app_to_app: Option<AppToApp>,
    /// Time.
    pub clock: Clock,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The last linking attempts per client, for the admin port.
    pub flight_recorder: FlightRecorder,
    /// The RFC 8414 metadata document, rendered once.
    pub(crate) metadata: Bytes,
    /// The JWKS document of the JWT signing keys, rendered once.
    pub(crate) jwks: Option<Bytes>,
    issuer: String,
}

impl Shared {
    /// The issuer identifier (the public URL without a trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The record of an access token this server issued (any format), if
    /// unexpired and of an active grant.
    pub async fn verify_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.access_tokens
            .verify(
                self.store.as_ref(),
                token,
                self.clock.now(),
                self.clock.now_millis(),
            )
            .await
    }
}

/// How users log in: a password checked by a backend, or delegated upstream.
pub enum Login {
    /// The login page; a static or LDAP backend checks the password.
    Password(Arc<dyn IdentityProvider>),
    /// A redirect to the upstream OpenID Provider.
    Upstream(Arc<UpstreamOidc>),
}

/// Shared application state. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Opens the store a config names (for DynamoDB: connects and creates or
/// verifies the table).
pub async fn open_store(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    match config {
        StoreConfig::Embedded(e) => Ok(Arc::new(EmbeddedStore::open_config(e)?)),
        StoreConfig::Dynamodb(d) => Ok(Arc::new(
            crate::store::dynamodb::DynamoStore::connect(d).await?,
        )),
    }
}

impl AppState {
    /// Resolves a validated config: reads secret files, loads users.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<AppState, StartupError> {
        let clients = ClientRegistry::new(&config.clients, |c, file| {
            read_secret_text(file).map_err(|m| {
                format!(
                    "client {}: failed to read clientSecretFile {}: {m}",
                    c.client_id,
                    file.display()
                )
            })
        })
        .map_err(StartupError::Client)?;
        let verifier = PasswordVerifier::new(password_concurrency());
        let login = match &config.identity {
            IdentityConfig::Static(s) => Login::Password(Arc::new(StaticUsers::load(s, verifier)?)),
            IdentityConfig::Ldap(l) => Login::Password(Arc::new(LdapDirectory::new(l)?)),
            IdentityConfig::Oidc(o) => {
                let secret = read_secret_text(&o.client_secret_file).map_err(|message| {
                    StartupError::Secret {
                        what: "the OIDC client secret".into(),
                        path: o.client_secret_file.clone(),
                        message,
                    }
                })?;
                let callback = routes::url(&config.server.public_url, routes::CALLBACK);
                let oidc = UpstreamOidc::new(o, secret, &callback).map_err(StartupError::Oidc)?;
                Login::Upstream(Arc::new(oidc))
            }
        };
        let users = match (&login, &config.identity) {
            (Login::Password(backend), IdentityConfig::Ldap(l)) => {
                UserPresence::backend(backend.clone(), l.user_check_seconds)
            }
            // The static list is looked at every time: a stat, or a re-read.
            (Login::Password(backend), _) => UserPresence::backend(backend.clone(), 0),
            (Login::Upstream(_), IdentityConfig::Oidc(o)) => {
                UserPresence::age_only(o.max_grant_age_seconds)
            }
            (Login::Upstream(_), _) => UserPresence::age_only(None),
        };
        let throttle = LoginThrottle::new(config.login_protection.clone(), store.clone());
        let partners = Partners::new(&config, read_secret_text).map_err(StartupError::Partner)?;
        let app_to_app =
            AppToApp::new(&config, &clients, read_secret_text).map_err(StartupError::Partner)?;
        let pages = Pages::new(&config)?;
        let cookies = CookieSettings {
            key: session_key(&config.server.session_key_file)?,
            secure: config.server.public_url.scheme() == "https",
            session_seconds: config.authorization.login_session_seconds as i64,
            form_seconds: config.authorization.form_lifetime_seconds as i64,
        };
        let issuer = config
            .server
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let access_tokens = AccessTokens::new(&config, &issuer).map_err(StartupError::Tokens)?;
        let refresh_tokens = RefreshTokens::load(&config.encryption_key_files)
            .map_err(|e| StartupError::Tokens(e.to_string()))?;
        let jwks = access_tokens
            .jwks()
            .map(|doc| Bytes::from(serde_json::to_vec(&doc).unwrap_or_default()));
        let metadata = serde_json::to_vec(&metadata::document(
            &config.server.public_url,
            &clients,
            jwks.is_some(),
        ))
        .unwrap_or_default()
        .into();
        let flight_recorder = FlightRecorder::new(
            config.clients.iter().map(|c| c.client_id.as_str()),
            flight_recorder::DEFAULT_CAPACITY,
        );
        let metrics = Metrics::with_store(Some(store.as_ref()));
        Ok(AppState(Arc::new(Shared {
            config,
            clients,
            login,
            users,
            throttle,
            store,
            access_tokens,
            refresh_tokens,
            cookies,
            pages,
            partners,
            app_to_app,
            clock,
            metrics,
            flight_recorder,
            metadata,
            jwks,
            issuer,
        })))
    }
}

/// Hashing is CPU-bound: one hash at a time per core but one keeps a core
/// free for the token endpoint (which never hashes passwords) during a login
/// storm; Alexa gives the token endpoint 4.5 seconds.
fn password_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

fn read_secret_text(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    // Secrets created with `echo` or `kubectl create secret --from-file`
    // often end in a newline that is not part of the secret.
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn session_key(path: &Path) -> Result<Key, StartupError> {
    let bytes = std::fs::read(path).map_err(|e| StartupError::Secret {
        what: "the session key".into(),
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if bytes.len() < 32 {
        return Err(StartupError::Secret {
            what: "the session key".into(),
            path: path.to_owned(),
            message: format!(
                "it holds {} bytes; at least 32 random bytes are needed",
                bytes.len()
            ),
        });
    }
    // Derive the 64 bytes the cookie jar wants (encryption and signing)
    // from whatever length the operator provided.
    let mut okm = [0u8; 64];
    let _ = hkdf::Hkdf::<Sha256>::new(Some(b"alexa-link session cookies v1"), &bytes)
        .expand(b"cookie key", &mut okm);
    Ok(Key::from(&okm))
}
