//! The server's configuration: one YAML document, parsed into [`Config`].
//!
//! This type is the contract between the server and the operator: the operator
//! renders a `Config` into a ConfigMap and the server parses it back, so both
//! sides share these definitions instead of agreeing on a format by hand.
//! Field names are camelCase, as everywhere else in Kubernetes manifests.
//!
//! Secrets never appear inline: a config names *files* (Kubernetes mounts
//! Secrets as files), and [`crate::app`] reads them at start.
//!
//! Loading is two steps: [`Config::from_yaml`] (syntax, unknown fields, types)
//! and [`Config::validate`] (every rule that involves values or several fields).
//! Both report the offending field by its path, e.g.
//! `clients[0].accessTokenLifetimeSeconds`.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

/// Alexa refuses access tokens that live less than six minutes.
pub const ALEXA_MIN_ACCESS_TOKEN_LIFETIME_SECONDS: u64 = 360;
/// RFC 6749 section 4.1.2 recommends at most ten minutes; we allow two.
pub const MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS: u64 = 120;

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Listeners, public URL and TLS.
    pub server: ServerConfig,
    /// Log format and level.
    #[serde(default)]
    pub logging: LoggingConfig,
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
}

/// A Login with Amazon (LWA) partner for mutual account linking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerConfig {
    /// The `partner_id` callers of `/api/partner/token` name.
    #[serde(default = "default_partner_id")]
    pub id: String,
    /// Our OAuth clients (the Alexa skills) through which users link to this
    /// partner: Alexa calls `/api/reciprocal/authorize` with one of them.
    pub linked_clients: Vec<String>,
    /// File holding the LWA client id (the skill's "Alexa Client Id").
    pub client_id_file: PathBuf,
    /// File holding the LWA client secret.
    pub client_secret_file: PathBuf,
    /// Which LWA token endpoint to use.
    #[serde(default)]
    pub region: LwaRegion,
    /// Overrides the region's token endpoint (for tests and proxies).
    #[serde(default)]
    pub token_url: Option<Url>,
    /// Scopes reported with partner tokens (what the skill was granted).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A stored Amazon access token with less than this left is refreshed
    /// before it is handed out (30 to 1800 seconds).
    #[serde(default = "default_refresh_margin")]
    pub refresh_margin_seconds: u64,
    /// Timeout of one request to LWA (1 to 30 seconds).
    #[serde(default = "default_lwa_timeout")]
    pub request_timeout_seconds: u64,
}

impl PartnerConfig {
    /// The LWA token endpoint this partner uses.
    pub fn effective_token_url(&self) -> Url {
        self.token_url
            .clone()
            .unwrap_or_else(|| self.region.token_url())
    }
}

/// Login with Amazon region, selecting its token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LwaRegion {
    /// North America: `https://api.amazon.com/auth/o2/token`.
    #[default]
    #[serde(rename = "NA")]
    Na,
    /// Europe: `https://api.amazon.co.uk/auth/o2/token`.
    #[serde(rename = "EU")]
    Eu,
    /// Far East: `https://api.amazon.co.jp/auth/o2/token`.
    #[serde(rename = "FE")]
    Fe,
}

impl LwaRegion {
    /// The region's LWA token endpoint.
    pub fn token_url(self) -> Url {
        let url = match self {
            LwaRegion::Na => "https://api.amazon.com/auth/o2/token",
            LwaRegion::Eu => "https://api.amazon.co.uk/auth/o2/token",
            LwaRegion::Fe => "https://api.amazon.co.jp/auth/o2/token",
        };
        Url::parse(url).expect("static URL parses")
    }
}

/// Listeners, public URL and TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the public listener (the OAuth endpoints and pages).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Address of the admin listener (`/healthz`, `/readyz`, `/metrics`).
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// The URL Alexa and browsers reach this server at, e.g.
    /// `https://link.example.com`. It is the OAuth issuer and the base of every
    /// endpoint URL this server advertises.
    pub public_url: Url,
    /// Certificate and key for the public listener. Absent: plain HTTP, which
    /// is allowed only on a loopback address or with `allowInsecureHttp`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Serve plain HTTP on a non-loopback address, for when TLS ends in front
    /// of the server (an Ingress or load balancer). Never expose such a
    /// listener directly.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// File holding at least 32 random bytes that encrypt and authenticate the
    /// login and CSRF cookies. Every replica must read the same key.
    pub session_key_file: PathBuf,
}

/// Certificate and private key files, PEM encoded. Both are re-read when they
/// change on disk (Kubernetes rewrites mounted Secrets in place).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first (`tls.crt` of a `kubernetes.io/tls` Secret).
    pub cert_file: PathBuf,
    /// PEM private key (`tls.key`).
    pub key_file: PathBuf,
}

/// Log format and level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoggingConfig {
    /// `text` for people, `json` for log pipelines.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `info,alexa_link_server=debug`.
    /// `RUST_LOG`, when set, wins.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: default_log_level(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Lifetimes of the browser-facing parts of the authorization flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// How long an authorization code may be redeemed (1 to 120 seconds).
    #[serde(default = "default_code_lifetime")]
    pub code_lifetime_seconds: u64,
    /// How long a login is remembered by its cookie, so that a user who just
    /// logged in is not asked again while linking (60 to 86400 seconds).
    #[serde(default = "default_login_session")]
    pub login_session_seconds: u64,
    /// How long a login or consent form may be submitted after it was shown
    /// (60 to 3600 seconds).
    #[serde(default = "default_form_lifetime")]
    pub form_lifetime_seconds: u64,
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        Self {
            code_lifetime_seconds: default_code_lifetime(),
            login_session_seconds: default_login_session(),
            form_lifetime_seconds: default_form_lifetime(),
        }
    }
}

/// One OAuth client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id, as entered in the Alexa developer console.
    pub client_id: String,
    /// File holding the client secret (trailing newline ignored).
    pub client_secret_file: PathBuf,
    /// Name shown on the consent page; defaults to the client id.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Redirect URIs, matched exactly (no prefix or subdomain matching).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Alexa vendor id: adds Alexa's three regional redirect URIs
    /// (`https://pitangui.amazon.com/api/skill/link/<id>`, `layla.amazon.com`,
    /// `alexa.amazon.co.jp`) to `redirectUris`.
    #[serde(default)]
    pub alexa_vendor_id: Option<String>,
    /// Scopes this client may ask for. Empty: the client asks for none.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Grant types this client may use.
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<GrantType>,
    /// Access-token lifetime; at least 360 (Alexa's minimum).
    #[serde(default = "default_access_token_lifetime")]
    pub access_token_lifetime_seconds: u64,
    /// Refresh-token policy.
    #[serde(default)]
    pub refresh_token: RefreshTokenPolicy,
    /// Proof Key for Code Exchange policy. `plain` is never accepted.
    #[serde(default)]
    pub pkce: PkcePolicy,
    /// Skip the consent page for this client (first-party clients only).
    #[serde(default)]
    pub skip_consent: bool,
    /// May call `/api/partner/token` (the skill developer's app), with HTTP
    /// Basic client credentials or a `client_credentials` bearer token that
    /// carries the `partner_token` scope.
    #[serde(default)]
    pub partner_token_access: bool,
}

impl ClientConfig {
    /// Every redirect URI this client may use: `redirectUris` plus the three
    /// regional Alexa URIs derived from `alexaVendorId`, without duplicates.
    pub fn effective_redirect_uris(&self) -> Vec<String> {
        let mut uris = self.redirect_uris.clone();
        if let Some(vendor) = &self.alexa_vendor_id {
            for uri in alexa_redirect_uris(vendor) {
                if !uris.contains(&uri) {
                    uris.push(uri);
                }
            }
        }
        uris
    }
}

/// Alexa's three regional account-linking redirect URIs for a vendor id.
pub fn alexa_redirect_uris(vendor_id: &str) -> [String; 3] {
    [
        format!("https://pitangui.amazon.com/api/skill/link/{vendor_id}"),
        format!("https://layla.amazon.com/api/skill/link/{vendor_id}"),
        format!("https://alexa.amazon.co.jp/api/skill/link/{vendor_id}"),
    ]
}

/// An OAuth 2.0 grant type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 section 4.1, what Alexa account linking uses.
    AuthorizationCode,
    /// RFC 6749 section 6.
    RefreshToken,
    /// RFC 6749 section 4.4, for server-to-server callers.
    ClientCredentials,
}

impl GrantType {
    /// The wire name (`authorization_code`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

/// How refresh tokens behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshTokenPolicy {
    /// Issue a new refresh token on every use and retire the old one.
    #[serde(default = "default_true")]
    pub rotation: bool,
    /// After rotation, the old token still returns the same, already-issued
    /// successor for this long, so a client that lost the response to a
    /// network error can retry (0 to 3600 seconds). Presenting it later
    /// revokes the whole grant: that is refresh-token reuse.
    #[serde(default = "default_grace_period")]
    pub grace_period_seconds: u64,
    /// A refresh token not used for this long expires. Needs `rotation`.
    /// Absent: no idle expiry.
    #[serde(default)]
    pub idle_lifetime_seconds: Option<u64>,
    /// A grant ends this long after the user linked, however it is used.
    /// Absent (the default, as Amazon advises for account linking): never.
    #[serde(default)]
    pub absolute_lifetime_seconds: Option<u64>,
}

impl Default for RefreshTokenPolicy {
    fn default() -> Self {
        Self {
            rotation: true,
            grace_period_seconds: default_grace_period(),
            idle_lifetime_seconds: None,
            absolute_lifetime_seconds: None,
        }
    }
}

/// PKCE (RFC 7636) policy for a client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PkcePolicy {
    /// Every authorization request must carry an S256 code challenge.
    #[default]
    Required,
    /// Requests without a challenge are accepted. A challenge that is sent
    /// is still checked, and `plain` is still refused. The name is long on
    /// purpose: turning PKCE off weakens the client against code theft.
    OptionalInsecure,
}

/// Exactly one identity backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum IdentityConfig {
    /// Users listed in a file or inline, with password hashes.
    Static(StaticIdentityConfig),
    /// Users of an LDAP directory (OpenLDAP, Active Directory, ...): search
    /// with a service account, then bind as the user to check the password.
    Ldap(LdapIdentityConfig),
    /// Login delegated to an upstream OpenID Provider (Okta, Cognito, Auth0,
    /// Keycloak, ...): no password is ever seen by this server.
    Oidc(OidcIdentityConfig),
}

impl IdentityConfig {
    /// Whether users type a password into this server's login page (and so
    /// the brute-force protection applies).
    pub fn uses_passwords(&self) -> bool {
        !matches!(self, IdentityConfig::Oidc(_))
    }
}

/// The LDAP backend.
///
/// The user id stored with grants is `ldap:<value of idAttribute>`; the
/// default `entryUUID` never changes when an entry is renamed or moved, and a
/// deleted and re-created user gets a new one, so nobody inherits another
/// person's links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LdapIdentityConfig {
    /// The directory: `ldap://host:389` or `ldaps://host:636`.
    pub url: Url,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub start_tls: bool,
    /// PEM file with the CA certificate(s) that sign the directory's
    /// certificate (for `ldaps://` and StartTLS). Absent: the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// DN of the service account that searches for users, e.g.
    /// `cn=alexa-link,ou=services,dc=example,dc=com`.
    pub bind_dn: String,
    /// File holding the service account's password.
    pub bind_password_file: PathBuf,
    /// Where users are searched (subtree), e.g. `ou=people,dc=example,dc=com`.
    pub base_dn: String,
    /// Search filter; `{username}` is replaced by the typed username,
    /// escaped (RFC 4515). Exactly one entry must match.
    #[serde(default = "default_ldap_user_filter")]
    pub user_filter: String,
    /// Immutable attribute that identifies a user across renames
    /// (`entryUUID` on OpenLDAP, `objectGUID` on Active Directory).
    #[serde(default = "default_ldap_id_attribute")]
    pub id_attribute: String,
    /// Attribute with the name shown on pages; the username when absent.
    #[serde(default = "default_ldap_display_name_attribute")]
    pub display_name_attribute: String,
    /// Connections to keep open to the directory (1 to 64).
    #[serde(default = "default_ldap_pool_size")]
    pub pool_size: usize,
    /// Timeout of connecting, and of each LDAP operation (1 to 30 seconds).
    #[serde(default = "default_ldap_timeout")]
    pub timeout_seconds: u64,
}

/// The upstream OpenID Connect backend.
///
/// The user id stored with grants is `oidc:<issuerId>:<value of userIdClaim>`,
/// so users of two issuers never collide and the subject (`sub`, which an
/// OpenID Provider never reassigns) keeps identifying the same person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcIdentityConfig {
    /// The issuer, e.g. `https://example.okta.com`; its discovery document is
    /// read from `<issuerUrl>/.well-known/openid-configuration`.
    pub issuer_url: Url,
    /// The client id registered at the provider for this server. Register
    /// `<publicUrl>/oauth/callback` as its redirect URI.
    pub client_id: String,
    /// File holding the client secret.
    pub client_secret_file: PathBuf,
    /// Scopes asked for; `openid` is always added.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The ID-token claim that identifies a user. Keep `sub` unless the
    /// provider documents another claim as immutable and never reassigned.
    #[serde(default = "default_oidc_user_id_claim")]
    pub user_id_claim: String,
    /// The ID-token claim with the name shown on pages.
    #[serde(default = "default_oidc_display_name_claim")]
    pub display_name_claim: String,
    /// Short stable name of the issuer in user ids. Absent: the first 16 hex
    /// digits of the SHA-256 of `issuerUrl`. Set it before migrating to a
    /// new issuer URL that keeps the same subjects.
    #[serde(default)]
    pub issuer_id: Option<String>,
    /// Timeout of each request to the provider (1 to 30 seconds).
    #[serde(default = "default_oidc_timeout")]
    pub request_timeout_seconds: u64,
}

/// Brute-force protection of the password login (static and LDAP backends).
///
/// Failed logins are counted per username (whether or not it exists) and
/// per client address. After `freeFailures` failures, each further attempt
/// must wait a delay that doubles per failure, up to `maxDelaySeconds`;
/// after `lockoutFailures` the username is locked for `lockoutSeconds`.
/// Counts are forgotten `lockoutSeconds` after the last failure; a
/// successful login clears its username's count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginProtectionConfig {
    /// Failures per username allowed without delay (0 to 100).
    #[serde(default = "default_free_failures")]
    pub free_failures: u32,
    /// Longest delay between attempts before the lockout (1 to 3600 seconds).
    #[serde(default = "default_max_delay")]
    pub max_delay_seconds: u64,
    /// Failures per username that lock it (1 to 1000).
    #[serde(default = "default_lockout_failures")]
    pub lockout_failures: u32,
    /// How long a lockout lasts (1 to 86400 seconds).
    #[serde(default = "default_lockout_seconds")]
    pub lockout_seconds: u64,
    /// Failures per client address that lock the address (1 to 100000).
    /// Higher than per user: many people may share an address (NAT).
    #[serde(default = "default_ip_lockout_failures")]
    pub ip_lockout_failures: u32,
    /// Take the client address from the last `X-Forwarded-For` entry, for a
    /// server behind a proxy or Ingress that appends it. Off by default:
    /// without such a proxy, the header is forged by whoever sends it.
    #[serde(default)]
    pub trust_forwarded_for: bool,
}

impl Default for LoginProtectionConfig {
    fn default() -> Self {
        Self {
            free_failures: default_free_failures(),
            max_delay_seconds: default_max_delay(),
            lockout_failures: default_lockout_failures(),
            lockout_seconds: default_lockout_seconds(),
            ip_lockout_failures: default_ip_lockout_failures(),
            trust_forwarded_for: false,
        }
    }
}

/// Users with bcrypt or argon2 password hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticIdentityConfig {
    /// A YAML file `{users: [...]}` (as mounted from a Secret). Exclusive with `users`.
    #[serde(default)]
    pub users_file: Option<PathBuf>,
    /// Users listed inline. Exclusive with `usersFile`.
    #[serde(default)]
    pub users: Vec<StaticUser>,
}

/// A user of the static backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticUser {
    /// The login name.
    pub username: String,
    /// A PHC argon2 hash (`$argon2id$...`) or a bcrypt hash (`$2b$...`).
    pub password_hash: String,
    /// The stable id stored with this user's grants; defaults to the
    /// username. Set it when usernames may change.
    #[serde(default)]
    pub id: Option<String>,
    /// Name shown on pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Groups the user belongs to (informational; shown in logs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// The contents of a static users file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticUsersFile {
    /// The users.
    pub users: Vec<StaticUser>,
}

/// Exactly one store backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum StoreConfig {
    /// A single-file store on local disk (one replica only).
    Embedded(EmbeddedStoreConfig),
    /// An Amazon DynamoDB table, shared by any number of replicas.
    Dynamodb(DynamoDbStoreConfig),
}

/// The DynamoDB store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DynamoDbStoreConfig {
    /// The table (3 to 255 characters: letters, digits, `_`, `-`, `.`).
    pub table_name: String,
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// Endpoint override (DynamoDB Local, a VPC endpoint). Absent: the
    /// region's public endpoint.
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// Create the table (with its index and TTL) at start when it is missing.
    /// Otherwise the server only checks that it exists as expected.
    #[serde(default)]
    pub create_table: bool,
    /// Static credentials from files. Absent: the default AWS chain
    /// (environment, web identity / IRSA, ECS and EC2 metadata).
    #[serde(default)]
    pub credentials: Option<AwsCredentialFiles>,
    /// Attempts per request, with jittered exponential backoff, before a
    /// client gets 503 `temporarily_unavailable` (1 to 10).
    #[serde(default = "default_dynamodb_attempts")]
    pub max_attempts: u32,
    /// Timeout of one attempt, in milliseconds (100 to 10000).
    #[serde(default = "default_dynamodb_timeout_ms")]
    pub attempt_timeout_millis: u64,
}

/// Static AWS credentials, one value per file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsCredentialFiles {
    /// File holding the access key id.
    pub access_key_id_file: PathBuf,
    /// File holding the secret access key.
    pub secret_access_key_file: PathBuf,
}

fn default_dynamodb_attempts() -> u32 {
    3
}
fn default_dynamodb_timeout_ms() -> u64 {
    1000
}

/// The embedded single-file store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbeddedStoreConfig {
    /// The database file; created when absent.
    pub path: PathBuf,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8443))
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 9090))
}
fn default_log_level() -> String {
    "info".to_owned()
}
fn default_code_lifetime() -> u64 {
    60
}
fn default_login_session() -> u64 {
    3600
}
fn default_form_lifetime() -> u64 {
    900
}
fn default_grant_types() -> Vec<GrantType> {
    vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
}
fn default_access_token_lifetime() -> u64 {
    3600
}
fn default_grace_period() -> u64 {
    60
}
fn default_true() -> bool {
    true
}
fn default_partner_id() -> String {
    "amazon".to_owned()
}
fn default_refresh_margin() -> u64 {
    300
}
fn default_lwa_timeout() -> u64 {
    5
}
fn default_ldap_user_filter() -> String {
    "(uid={username})".to_owned()
}
fn default_ldap_id_attribute() -> String {
    "entryUUID".to_owned()
}
fn default_ldap_display_name_attribute() -> String {
    "cn".to_owned()
}
fn default_ldap_pool_size() -> usize {
    4
}
fn default_ldap_timeout() -> u64 {
    5
}
fn default_oidc_scopes() -> Vec<String> {
    vec!["openid".to_owned(), "profile".to_owned()]
}
fn default_oidc_user_id_claim() -> String {
    "sub".to_owned()
}
fn default_oidc_display_name_claim() -> String {
    "name".to_owned()
}
fn default_oidc_timeout() -> u64 {
    5
}
fn default_free_failures() -> u32 {
    3
}
fn default_max_delay() -> u64 {
    30
}
fn default_lockout_failures() -> u32 {
    10
}
fn default_lockout_seconds() -> u64 {
    900
}
fn default_ip_lockout_failures() -> u32 {
    200
}

/// The scope a `client_credentials` bearer token needs to call
/// `/api/partner/token`.
pub const PARTNER_TOKEN_SCOPE: &str = "partner_token";

/// One invalid value, named by its path in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `clients[0].redirectUris[1]`.
    pub field: String,
    /// What is wrong with it, as a sentence fragment.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not YAML of the right shape: syntax, an unknown field, a wrong type.
    /// serde_yaml's message names the field path and the line.
    #[error("invalid config: {0}")]
    Parse(#[from] serde_yaml::Error),
    /// Well-formed, but values break the rules.
    #[error("invalid config:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FieldError>),
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
    /// problems at once, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        self.validate_server(&mut errors);
        self.validate_authorization(&mut errors);
        if self.clients.is_empty() {
            errors.push("clients", "at least one client is required");
        }
        let mut seen = HashSet::new();
        for (i, client) in self.clients.iter().enumerate() {
            let path = format!("clients[{i}]");
            if !seen.insert(client.client_id.as_str()) {
                errors.push(
                    format!("{path}.clientId"),
                    format!("duplicate client id {:?}", client.client_id),
                );
            }
            validate_client(client, &path, &mut errors);
        }
        match &self.identity {
            IdentityConfig::Static(s) => validate_static_identity(s, &mut errors),
            IdentityConfig::Ldap(l) => validate_ldap_identity(l, &mut errors),
            IdentityConfig::Oidc(o) => validate_oidc_identity(o, &mut errors),
        }
        validate_login_protection(&self.login_protection, &mut errors);
        self.validate_partners(&mut errors);
        if let StoreConfig::Dynamodb(d) = &self.store {
            validate_dynamodb(d, &mut errors);
        }
        if errors.0.is_empty() {
            Ok(())
        } else {
            Err(errors.0)
        }
    }

    fn validate_server(&self, errors: &mut Errors) {
        let s = &self.server;
        let url = &s.public_url;
        if url.scheme() != "https" && url.scheme() != "http" {
            errors.push("server.publicUrl", "must be an https:// URL");
        } else if url.scheme() == "http" && !s.allow_insecure_http && !url_is_loopback(url) {
            errors.push(
                "server.publicUrl",
                "must be https:// (http:// is allowed only for loopback hosts or with server.allowInsecureHttp)",
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            errors.push("server.publicUrl", "must not have a query or fragment");
        }
        if url.cannot_be_a_base() || url.host_str().is_none() {
            errors.push("server.publicUrl", "must be an absolute URL with a host");
        }
        if s.tls.is_none() && !s.allow_insecure_http && !s.listen.ip().is_loopback() {
            errors.push(
                "server.tls",
                format!(
                    "is required when listening on the non-loopback address {} (or set server.allowInsecureHttp when TLS ends in front of the server)",
                    s.listen
                ),
            );
        }
        if s.listen == s.admin_listen && s.listen.port() != 0 {
            errors.push("server.adminListen", "must differ from server.listen");
        }
    }

    fn validate_partners(&self, errors: &mut Errors) {
        if !self.partners.is_empty() && self.encryption_key_files.is_empty() {
            errors.push(
                "encryptionKeyFiles",
                "at least one key file is required to encrypt stored Amazon tokens",
            );
        }
        let mut ids = HashSet::new();
        let mut linked = HashSet::new();
        for (i, p) in self.partners.iter().enumerate() {
            let path = format!("partners[{i}]");
            if p.id.is_empty()
                || !p
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                errors.push(
                    format!("{path}.id"),
                    "must be letters, digits, '-', '_' or '.'",
                );
            }
            if !ids.insert(p.id.as_str()) {
                errors.push(
                    format!("{path}.id"),
                    format!("duplicate partner id {:?}", p.id),
                );
            }
            if p.linked_clients.is_empty() {
                errors.push(format!("{path}.linkedClients"), "name at least one client");
            }
            for (j, c) in p.linked_clients.iter().enumerate() {
                if !self.clients.iter().any(|k| &k.client_id == c) {
                    errors.push(
                        format!("{path}.linkedClients[{j}]"),
                        format!("no client {c:?} is configured"),
                    );
                }
                if !linked.insert(c.as_str()) {
                    errors.push(
                        format!("{path}.linkedClients[{j}]"),
                        format!("client {c:?} is already linked to another partner"),
                    );
                }
            }
            if let Some(url) = &p.token_url
                && url.scheme() != "https"
                && !url_is_loopback(url)
            {
                errors.push(
                    format!("{path}.tokenUrl"),
                    "must be https:// (http:// only for loopback hosts)",
                );
            }
            if !(30..=1800).contains(&p.refresh_margin_seconds) {
                errors.push(
                    format!("{path}.refreshMarginSeconds"),
                    format!(
                        "must be between 30 and 1800, got {}",
                        p.refresh_margin_seconds
                    ),
                );
            }
            if !(1..=30).contains(&p.request_timeout_seconds) {
                errors.push(
                    format!("{path}.requestTimeoutSeconds"),
                    format!(
                        "must be between 1 and 30, got {}",
                        p.request_timeout_seconds
                    ),
                );
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            if c.partner_token_access && self.partners.is_empty() {
                errors.push(
                    format!("clients[{i}].partnerTokenAccess"),
                    "needs at least one entry in partners",
                );
            }
        }
    }

    fn validate_authorization(&self, errors: &mut Errors) {
        let a = &self.authorization;
        if !(1..=MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS).contains(&a.code_lifetime_seconds) {
            errors.push(
                "authorization.codeLifetimeSeconds",
                format!(
                    "must be between 1 and {MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS}, got {}",
                    a.code_lifetime_seconds
                ),
            );
        }
        if !(60..=86_400).contains(&a.login_session_seconds) {
            errors.push(
                "authorization.loginSessionSeconds",
                format!(
                    "must be between 60 and 86400, got {}",
                    a.login_session_seconds
                ),
            );
        }
        if !(60..=3600).contains(&a.form_lifetime_seconds) {
            errors.push(
                "authorization.formLifetimeSeconds",
                format!(
                    "must be between 60 and 3600, got {}",
                    a.form_lifetime_seconds
                ),
            );
        }
    }
}

fn validate_client(c: &ClientConfig, path: &str, errors: &mut Errors) {
    if c.client_id.is_empty()
        || c.client_id.len() > 255
        || !c.client_id.chars().all(|ch| ch.is_ascii_graphic())
    {
        errors.push(
            format!("{path}.clientId"),
            "must be 1 to 255 printable ASCII characters without spaces",
        );
    }
    if c.grant_types.is_empty() {
        errors.push(
            format!("{path}.grantTypes"),
            "must name at least one grant type",
        );
    }
    let mut grants = HashSet::new();
    for (j, g) in c.grant_types.iter().enumerate() {
        if !grants.insert(*g) {
            errors.push(
                format!("{path}.grantTypes[{j}]"),
                format!("duplicate grant type {}", g.as_str()),
            );
        }
    }
    if grants.contains(&GrantType::RefreshToken) && !grants.contains(&GrantType::AuthorizationCode)
    {
        errors.push(
            format!("{path}.grantTypes"),
            "refresh_token needs authorization_code (refresh tokens are issued only to linked users)",
        );
    }
    if let Some(vendor) = &c.alexa_vendor_id
        && (vendor.is_empty() || !vendor.chars().all(|ch| ch.is_ascii_alphanumeric()))
    {
        errors.push(
            format!("{path}.alexaVendorId"),
            "must be the alphanumeric vendor id shown in the Alexa developer console",
        );
    }
    for (j, uri) in c.redirect_uris.iter().enumerate() {
        if let Err(message) = check_redirect_uri(uri) {
            errors.push(format!("{path}.redirectUris[{j}]"), message);
        }
    }
    if grants.contains(&GrantType::AuthorizationCode) && c.effective_redirect_uris().is_empty() {
        errors.push(
            format!("{path}.redirectUris"),
            "the authorization_code grant needs redirectUris or alexaVendorId",
        );
    }
    for (j, scope) in c.scopes.iter().enumerate() {
        if !is_valid_scope_token(scope) {
            errors.push(
                format!("{path}.scopes[{j}]"),
                format!("{scope:?} is not a valid OAuth scope token"),
            );
        }
    }
    if c.access_token_lifetime_seconds < ALEXA_MIN_ACCESS_TOKEN_LIFETIME_SECONDS {
        errors.push(
            format!("{path}.accessTokenLifetimeSeconds"),
            format!(
                "must be at least {ALEXA_MIN_ACCESS_TOKEN_LIFETIME_SECONDS} (Alexa's minimum), got {}",
                c.access_token_lifetime_seconds
            ),
        );
    }
    if c.access_token_lifetime_seconds > 86_400 {
        errors.push(
            format!("{path}.accessTokenLifetimeSeconds"),
            format!(
                "must be at most 86400, got {}",
                c.access_token_lifetime_seconds
            ),
        );
    }
    let r = &c.refresh_token;
    if r.grace_period_seconds > 3600 {
        errors.push(
            format!("{path}.refreshToken.gracePeriodSeconds"),
            format!("must be at most 3600, got {}", r.grace_period_seconds),
        );
    }
    if let Some(idle) = r.idle_lifetime_seconds {
        if !r.rotation {
            errors.push(
                format!("{path}.refreshToken.idleLifetimeSeconds"),
                "needs rotation: true (an idle lifetime is renewed by rotating the token)",
            );
        }
        if idle < c.access_token_lifetime_seconds {
            errors.push(
                format!("{path}.refreshToken.idleLifetimeSeconds"),
                "must be at least accessTokenLifetimeSeconds",
            );
        }
    }
    if let Some(abs) = r.absolute_lifetime_seconds
        && abs < c.access_token_lifetime_seconds
    {
        errors.push(
            format!("{path}.refreshToken.absoluteLifetimeSeconds"),
            "must be at least accessTokenLifetimeSeconds",
        );
    }
}

fn validate_dynamodb(d: &DynamoDbStoreConfig, errors: &mut Errors) {
    let name_ok = (3..=255).contains(&d.table_name.len())
        && d.table_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !name_ok {
        errors.push(
            "store.dynamodb.tableName",
            "must be 3 to 255 characters of letters, digits, '_', '-' or '.'",
        );
    }
    if d.region.is_empty() {
        errors.push("store.dynamodb.region", "is required (e.g. us-east-1)");
    }
    if !(1..=10).contains(&d.max_attempts) {
        errors.push(
            "store.dynamodb.maxAttempts",
            format!("must be between 1 and 10, got {}", d.max_attempts),
        );
    }
    if !(100..=10_000).contains(&d.attempt_timeout_millis) {
        errors.push(
            "store.dynamodb.attemptTimeoutMillis",
            format!(
                "must be between 100 and 10000, got {}",
                d.attempt_timeout_millis
            ),
        );
    }
}

fn validate_static_identity(s: &StaticIdentityConfig, errors: &mut Errors) {
    match (&s.users_file, s.users.is_empty()) {
        (Some(_), false) => {
            errors.push("identity.static", "set either usersFile or users, not both")
        }
        (None, true) => errors.push("identity.static", "set usersFile or users"),
        _ => {}
    }
    for (i, problem) in check_static_users(&s.users) {
        errors.push(
            format!("identity.static.users[{i}]{problem}"),
            String::new(),
        );
    }
}

fn validate_ldap_identity(l: &LdapIdentityConfig, errors: &mut Errors) {
    match l.url.scheme() {
        "ldap" => {}
        "ldaps" if l.start_tls => errors.push(
            "identity.ldap.startTls",
            "is for ldap:// URLs; ldaps:// is TLS from the start",
        ),
        "ldaps" => {}
        other => errors.push(
            "identity.ldap.url",
            format!("must be ldap:// or ldaps://, got {other}://"),
        ),
    }
    if l.url.host_str().is_none() {
        errors.push("identity.ldap.url", "must name a host");
    }
    if l.ca_file.is_some() && l.url.scheme() == "ldap" && !l.start_tls {
        errors.push(
            "identity.ldap.caFile",
            "is used only with ldaps:// or startTls: true",
        );
    }
    if l.bind_dn.trim().is_empty() {
        errors.push("identity.ldap.bindDn", "must not be empty");
    }
    if l.base_dn.trim().is_empty() {
        errors.push("identity.ldap.baseDn", "must not be empty");
    }
    if !l.user_filter.contains("{username}") {
        errors.push("identity.ldap.userFilter", "must contain {username}");
    }
    if !(l.user_filter.starts_with('(') && l.user_filter.ends_with(')')) {
        errors.push(
            "identity.ldap.userFilter",
            "must be an LDAP filter in parentheses, e.g. (uid={username})",
        );
    }
    for (field, value) in [
        ("idAttribute", &l.id_attribute),
        ("displayNameAttribute", &l.display_name_attribute),
    ] {
        if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            errors.push(
                format!("identity.ldap.{field}"),
                "must be an attribute name (letters, digits, '-')",
            );
        }
    }
    if !(1..=64).contains(&l.pool_size) {
        errors.push(
            "identity.ldap.poolSize",
            format!("must be between 1 and 64, got {}", l.pool_size),
        );
    }
    if !(1..=30).contains(&l.timeout_seconds) {
        errors.push(
            "identity.ldap.timeoutSeconds",
            format!("must be between 1 and 30, got {}", l.timeout_seconds),
        );
    }
}

fn validate_oidc_identity(o: &OidcIdentityConfig, errors: &mut Errors) {
    let url = &o.issuer_url;
    if url.scheme() != "https" && !(url.scheme() == "http" && url_is_loopback(url)) {
        errors.push(
            "identity.oidc.issuerUrl",
            "must be https:// (http:// only for loopback hosts)",
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        errors.push(
            "identity.oidc.issuerUrl",
            "must not have a query or fragment",
        );
    }
    if o.client_id.is_empty() {
        errors.push("identity.oidc.clientId", "must not be empty");
    }
    for (j, scope) in o.scopes.iter().enumerate() {
        if !is_valid_scope_token(scope) {
            errors.push(
                format!("identity.oidc.scopes[{j}]"),
                format!("{scope:?} is not a valid OAuth scope token"),
            );
        }
    }
    if o.user_id_claim.is_empty() {
        errors.push("identity.oidc.userIdClaim", "must not be empty");
    }
    if o.display_name_claim.is_empty() {
        errors.push("identity.oidc.displayNameClaim", "must not be empty");
    }
    if let Some(id) = &o.issuer_id
        && (id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        errors.push(
            "identity.oidc.issuerId",
            "must be letters, digits, '-', '_' or '.' (it becomes part of user ids)",
        );
    }
    if !(1..=30).contains(&o.request_timeout_seconds) {
        errors.push(
            "identity.oidc.requestTimeoutSeconds",
            format!(
                "must be between 1 and 30, got {}",
                o.request_timeout_seconds
            ),
        );
    }
}

fn validate_login_protection(p: &LoginProtectionConfig, errors: &mut Errors) {
    if p.free_failures > 100 {
        errors.push(
            "loginProtection.freeFailures",
            format!("must be at most 100, got {}", p.free_failures),
        );
    }
    if !(1..=3600).contains(&p.max_delay_seconds) {
        errors.push(
            "loginProtection.maxDelaySeconds",
            format!("must be between 1 and 3600, got {}", p.max_delay_seconds),
        );
    }
    if !(1..=1000).contains(&p.lockout_failures) {
        errors.push(
            "loginProtection.lockoutFailures",
            format!("must be between 1 and 1000, got {}", p.lockout_failures),
        );
    } else if p.lockout_failures <= p.free_failures {
        errors.push(
            "loginProtection.lockoutFailures",
            "must be greater than freeFailures",
        );
    }
    if !(1..=86_400).contains(&p.lockout_seconds) {
        errors.push(
            "loginProtection.lockoutSeconds",
            format!("must be between 1 and 86400, got {}", p.lockout_seconds),
        );
    }
    if !(1..=100_000).contains(&p.ip_lockout_failures) {
        errors.push(
            "loginProtection.ipLockoutFailures",
            format!(
                "must be between 1 and 100000, got {}",
                p.ip_lockout_failures
            ),
        );
    }
}

/// Problems in a list of static users, as `(index, ".field: message")`.
/// Shared by the inline list and the users file.
pub fn check_static_users(users: &[StaticUser]) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (i, u) in users.iter().enumerate() {
        if u.username.is_empty() || u.username.len() > 255 {
            problems.push((i, ".username: must be 1 to 255 characters".to_owned()));
        }
        if !names.insert(u.username.as_str()) {
            problems.push((i, format!(".username: duplicate user {:?}", u.username)));
        }
        let id = u.id.as_deref().unwrap_or(&u.username);
        if !ids.insert(id) {
            problems.push((i, format!(".id: duplicate user id {id:?}")));
        }
        if let Err(e) = crate::identity::password::PasswordHashKind::detect(&u.password_hash) {
            problems.push((i, format!(".passwordHash: {e}")));
        }
    }
    problems
}

/// Checks one configured redirect URI: absolute, no fragment, https unless
/// it points at the loopback interface (native-app style, RFC 8252).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URL: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("{uri:?} must not have a fragment"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if url_is_loopback(&parsed) => Ok(()),
        _ => Err(format!(
            "{uri:?} must use https:// (http:// only for loopback hosts)"
        )),
    }
}

/// RFC 6749 appendix A.4: `scope-token = 1*NQCHAR`.
pub fn is_valid_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

fn url_is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let mut field = field.into();
        let mut message = message.into();
        // check_static_users reports "path: message" in one string.
        if message.is_empty()
            && let Some((f, m)) = field.split_once(": ")
        {
            (field, message) = (f.to_owned(), m.to_owned());
        }
        self.0.push(FieldError { field, message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
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

    fn minimal() -> Config {
        Config::from_yaml(MINIMAL).expect("minimal config parses")
    }

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
    fn vendor_id_derives_the_three_regional_alexa_redirect_uris() {
        let uris = minimal().clients[0].effective_redirect_uris();
        assert_eq!(
            uris,
            vec![
                "https://pitangui.amazon.com/api/skill/link/M2ABCDEF",
                "https://layla.amazon.com/api/skill/link/M2ABCDEF",
                "https://alexa.amazon.co.jp/api/skill/link/M2ABCDEF",
            ]
        );
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

    fn invalid_fields(c: &Config) -> Vec<String> {
        c.validate()
            .expect_err("should be invalid")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn access_token_lifetime_below_alexa_minimum_is_rejected() {
        let mut c = minimal();
        c.clients[0].access_token_lifetime_seconds = 300;
        let errors = c.validate().expect_err("too short");
        assert_eq!(errors[0].field, "clients[0].accessTokenLifetimeSeconds");
        assert!(errors[0].message.contains("360"), "{}", errors[0]);
    }

    #[test]
    fn plain_http_needs_loopback_or_explicit_flag() {
        let mut c = minimal();
        c.server.listen = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(invalid_fields(&c), vec!["server.tls"]);
        c.server.allow_insecure_http = true;
        assert_eq!(c.validate(), Ok(()));

        let mut c = minimal();
        c.server.public_url = Url::parse("http://link.example.com").expect("url");
        assert_eq!(invalid_fields(&c), vec!["server.publicUrl"]);
        c.server.public_url = Url::parse("http://127.0.0.1:8443").expect("url");
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn redirect_uris_must_be_https_without_fragment() {
        let mut c = minimal();
        c.clients[0].redirect_uris = vec![
            "http://evil.example.com/cb".into(),
            "https://ok.example.com/cb#frag".into(),
            "not a url".into(),
            "http://127.0.0.1:9000/cb".into(),
        ];
        assert_eq!(
            invalid_fields(&c),
            vec![
                "clients[0].redirectUris[0]",
                "clients[0].redirectUris[1]",
                "clients[0].redirectUris[2]",
            ]
        );
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
    fn static_identity_needs_exactly_one_source_and_valid_hashes() {
        let mut c = minimal();
        let IdentityConfig::Static(s) = &mut c.identity else {
            unreachable!("minimal config is static")
        };
        s.users_file = Some("/users.yaml".into());
        assert_eq!(invalid_fields(&c), vec!["identity.static"]);

        let mut c = minimal();
        let IdentityConfig::Static(s) = &mut c.identity else {
            unreachable!("minimal config is static")
        };
        s.users.push(StaticUser {
            username: "user".into(),
            password_hash: "plaintext".into(),
            id: None,
            display_name: None,
            groups: vec![],
        });
        assert_eq!(
            invalid_fields(&c),
            vec![
                "identity.static.users[1].username",
                "identity.static.users[1].id",
                "identity.static.users[1].passwordHash",
            ]
        );
    }

    fn with_identity(yaml: &str) -> Config {
        let start = MINIMAL.find("identity:").expect("identity");
        let end = MINIMAL.find("store:").expect("store");
        let text = format!("{}{yaml}{}", &MINIMAL[..start], &MINIMAL[end..]);
        Config::from_yaml(&text).expect("parses")
    }

    #[test]
    fn ldap_identity_parses_with_defaults_and_validates() {
        let c = with_identity(
            "identity:\n  ldap:\n    url: ldaps://ldap.example.com\n    bindDn: cn=svc,dc=example,dc=com\n    bindPasswordFile: /secrets/ldap\n    baseDn: ou=people,dc=example,dc=com\n",
        );
        assert_eq!(c.validate(), Ok(()));
        let IdentityConfig::Ldap(l) = &c.identity else {
            panic!("ldap")
        };
        assert_eq!(l.user_filter, "(uid={username})");
        assert_eq!(l.id_attribute, "entryUUID");
        assert!(c.identity.uses_passwords());
        assert_eq!(Config::from_yaml(&c.to_yaml()).expect("reparses"), c);

        let mut bad = c.clone();
        let IdentityConfig::Ldap(l) = &mut bad.identity else {
            panic!("ldap")
        };
        l.url = Url::parse("http://ldap.example.com").expect("url");
        l.user_filter = "uid=x".into();
        l.pool_size = 0;
        l.start_tls = true;
        assert_eq!(
            invalid_fields(&bad),
            vec![
                "identity.ldap.url",
                "identity.ldap.userFilter",
                "identity.ldap.userFilter",
                "identity.ldap.poolSize",
            ]
        );
        let mut bad = c;
        let IdentityConfig::Ldap(l) = &mut bad.identity else {
            panic!("ldap")
        };
        l.start_tls = true;
        assert_eq!(invalid_fields(&bad), vec!["identity.ldap.startTls"]);
    }

    #[test]
    fn oidc_identity_parses_with_defaults_and_validates() {
        let c = with_identity(
            "identity:\n  oidc:\n    issuerUrl: https://example.okta.com\n    clientId: alexa-link\n    clientSecretFile: /secrets/oidc\n",
        );
        assert_eq!(c.validate(), Ok(()));
        let IdentityConfig::Oidc(o) = &c.identity else {
            panic!("oidc")
        };
        assert_eq!(o.user_id_claim, "sub");
        assert_eq!(o.scopes, vec!["openid", "profile"]);
        assert!(!c.identity.uses_passwords());

        let mut bad = c;
        let IdentityConfig::Oidc(o) = &mut bad.identity else {
            panic!("oidc")
        };
        o.issuer_url = Url::parse("http://idp.example.com").expect("url");
        o.issuer_id = Some("has space".into());
        assert_eq!(
            invalid_fields(&bad),
            vec!["identity.oidc.issuerUrl", "identity.oidc.issuerId"]
        );
    }

    #[test]
    fn two_identity_backends_at_once_are_refused() {
        let text = MINIMAL.replace(
            "identity:\n  static:",
            "identity:\n  oidc: {issuerUrl: https://x.example.com, clientId: a, clientSecretFile: /s}\n  static:",
        );
        assert!(Config::from_yaml(&text).is_err());
    }

    #[test]
    fn login_protection_limits_are_checked() {
        let mut c = minimal();
        assert_eq!(c.login_protection, LoginProtectionConfig::default());
        c.login_protection.lockout_failures = 2;
        c.login_protection.free_failures = 3;
        c.login_protection.max_delay_seconds = 0;
        assert_eq!(
            invalid_fields(&c),
            vec![
                "loginProtection.maxDelaySeconds",
                "loginProtection.lockoutFailures",
            ]
        );
    }

    #[test]
    fn scope_tokens_follow_rfc6749() {
        assert!(is_valid_scope_token("profile:read"));
        assert!(!is_valid_scope_token("two words"));
        assert!(!is_valid_scope_token("quote\""));
        assert!(!is_valid_scope_token(""));
    }
}
