// kube's printcolumn(...) attributes repeat their keys by design.
#![allow(clippy::duplicated_attributes)]
//! The `AlexaSkillLink` custom resource (group `skilllink.dev`, version
//! `v1alpha1`): one skill's account-linking service.
//!
//! Every field carries a doc comment because that text is what `kubectl
//! explain` shows. Cross-field rules are CEL (`x-kubernetes-validations`) for
//! clusters that run it; [`crate::validate`] checks the same rules because
//! older API servers ignore them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of the custom resource.
pub const GROUP: &str = "skilllink.dev";

/// Desired state of an account-linking service for one Alexa skill.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "skilllink.dev",
    version = "v1alpha1",
    kind = "AlexaSkillLink",
    namespaced,
    shortname = "asl",
    category = "alexa",
    status = "AlexaSkillLinkStatus",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the linking service serves requests"
    ),
    printcolumn(
        name = "Host",
        type_ = "string",
        json_path = ".spec.host",
        description = "Public DNS name Alexa reaches"
    ),
    printcolumn(
        name = "Replicas",
        type_ = "integer",
        json_path = ".status.availableReplicas",
        description = "Available server replicas"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1,
        description = "Why the resource is (not) ready"
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1,
        description = "Details of the Ready condition"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.storage.embedded) || !has(self.replicas) || self.replicas == 1").message("the embedded store supports exactly one replica"))]
#[x_kube(validation = Rule::new("!has(self.partner) || !has(self.partner.linkedClients) || self.partner.linkedClients.all(c, self.clients.exists(k, k.clientId == c))").message("partner.linkedClients must name clients of this resource"))]
#[x_kube(validation = Rule::new("has(self.accessTokenSigningKeyRef) || !self.clients.exists(c, has(c.accessTokenFormat) && c.accessTokenFormat == 'jwt')").message("clients with accessTokenFormat jwt need accessTokenSigningKeyRef"))]
#[x_kube(validation = Rule::new("has(self.partner) || !self.clients.exists(c, has(c.accessTokenFormat) && c.accessTokenFormat == 'sealed')").message("sealed access tokens use the encryption keys of mutual linking: set partner, or use jwt"))]
pub struct AlexaSkillLinkSpec {
    /// Public DNS name Alexa and browsers reach over HTTPS on port 443, e.g.
    /// `link.example.com`. Every endpoint URL in the status is built from it.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub host: String,
    /// The OAuth clients allowed to use this server. The Alexa skill is one;
    /// the skill developer's backend may be another (with partnerTokenAccess).
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = Rule::new("self.all(c, self.exists_one(d, d.clientId == c.clientId))").message("clientId values must be unique"))]
    pub clients: Vec<ClientSpec>,
    /// Where users log in: exactly one of static, ldap or oidc.
    pub identity: IdentitySpec,
    /// Login with Amazon settings for mutual account linking. Absent: the
    /// reciprocal and partner-token endpoints are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<PartnerSpec>,
    /// How HTTPS is terminated: exactly one of secretName, certManager or ingress.
    pub tls: TlsSpec,
    /// Where grants and tokens are kept: exactly one of embedded or dynamodb.
    pub storage: StorageSpec,
    /// A Secret holding the keys that encrypt stored Amazon tokens. Absent:
    /// the operator generates them into an owned Secret `<name>-keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_ref: Option<EncryptionKeyRef>,
    /// A Secret key holding the PEM (PKCS#8) Ed25519 or P-256 private key
    /// that signs JWT access tokens (clients with `accessTokenFormat: jwt`);
    /// its public half is published at `/oauth/jwks`. Required when a
    /// client uses jwt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_signing_key_ref: Option<SecretKeyRef>,
    /// A Secret key holding at least 32 random bytes that protect login and
    /// consent cookies. Absent: generated into the owned Secret `<name>-keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key_ref: Option<SecretKeyRef>,
    /// Number of server pods. Defaults to 1; must be 1 with the embedded store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,
    /// Container image of the server. Defaults to
    /// `ghcr.io/alexa-link/alexa-link:<operator version>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Image pull policy: Always, IfNotPresent or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,
    /// CPU and memory requests and limits of the server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// The Service in front of the pods.
    #[serde(default)]
    pub service: ServiceSpec,
    /// An Ingress for `host`. Required with `tls.ingress`; optional otherwise
    /// (a TLS-passthrough-capable controller is then needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// A NetworkPolicy that admits only the public and admin ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,
    /// The ServiceAccount the pods run as.
    #[serde(default)]
    pub service_account: ServiceAccountSpec,
    /// Node labels the pods must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Affinity rules of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Server log level, a tracing filter such as `info` or `debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// What happens to stored grants and tokens when this resource is
    /// deleted. `Retain` (default) keeps the embedded store's volume, the
    /// generated keys and, with `storage.dynamodb`, the link's items, which a
    /// link made again with the same name, table and keys serves. `Delete`
    /// removes the volume and keys with the resource and, with
    /// `storage.dynamodb`, first deletes exactly this link's items from the
    /// (possibly shared) table: a finalizer stops the servers and runs a
    /// purge Job as the link's ServiceAccount. Items written before the
    /// operator named their link are left to their TTL.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Configure the skill's account linking in Alexa itself through the
    /// Skill Management API (SMAPI), so nobody pastes console fields.
    /// Absent: the operator never calls SMAPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alexa_skill: Option<crate::smapi::spec::AlexaSkillSpec>,
    /// How the login and consent pages look to the skill's users: product
    /// name, logo, primary color, help and privacy links. Absent: the
    /// built-in look. Checked like the server's `branding` (a bad value
    /// makes the resource Ready=False, InvalidConfig, naming the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<BrandingSpec>,
}

/// The pages' branding (the server's `branding`; per client, its
/// `clients[].branding`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.logoSecretRef) && has(self.logoConfigMapRef))").message("set the logo from one place: logoSecretRef or logoConfigMapRef"))]
pub struct BrandingSpec {
    /// The product's name, in page titles and above the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 60))]
    pub product_name: Option<String>,
    /// The logo: a key of a Secret holding a PNG, JPEG, GIF, WebP or SVG
    /// image of at most 64 KiB (mounted as a file; a change rolls the pods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_secret_ref: Option<SecretKeyRef>,
    /// The logo from a key of a ConfigMap instead (`binaryData` or `data`;
    /// `kubectl create configmap acme-brand --from-file=logo.png`). Same
    /// image types and size; at most one of the two logo fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_config_map_ref: Option<ConfigMapKeyRef>,
    /// Buttons and links: `#rgb` or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"))]
    pub primary_color: Option<String>,
    /// A help page linked under the card (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://"))]
    pub support_url: Option<String>,
    /// The privacy policy linked under the card (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://"))]
    pub privacy_url: Option<String>,
    /// A style sheet from a key of a ConfigMap, served after the built-in
    /// styles (at most 64 KiB; a change rolls the pods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_css_config_map_ref: Option<ConfigMapKeyRef>,
    /// A ConfigMap whose keys are template file names (`layout.html`,
    /// `login.html`, `consent.html`, `links.html`, `signed_out.html`,
    /// `error.html`, `app_to_app.html`), each replacing the built-in
    /// template of its name; any other key is refused. Mounted as the
    /// server's `templatesDir`; a change rolls the pods. `spec.branding`
    /// only, not per client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub templates_config_map_name: Option<String>,
}

/// A key of a ConfigMap in the resource's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the ConfigMap's `data` or `binaryData`.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A key of a Secret in the resource's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// One OAuth client.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.alexaVendorId) || (has(self.redirectUris) && size(self.redirectUris) > 0) || (has(self.grantTypes) && !self.grantTypes.exists(g, g == 'authorization_code'))").message("a client using authorization_code needs redirectUris or alexaVendorId"))]
#[x_kube(validation = Rule::new("(has(self.public) && self.public) != has(self.clientSecretRef)").message("a confidential client needs clientSecretRef; a public client (public: true) must not have one"))]
#[x_kube(validation = Rule::new("!has(self.branding) || !has(self.branding.templatesConfigMapName)").message("templatesConfigMapName is server-wide: set it in spec.branding, not per client"))]
#[x_kube(validation = Rule::new("!has(self.public) || !self.public || ((!has(self.pkce) || self.pkce == 'Required') && (!has(self.grantTypes) || self.grantTypes.all(g, g != 'client_credentials')) && (!has(self.refreshToken) || !has(self.refreshToken.rotation) || self.refreshToken.rotation) && (!has(self.partnerTokenAccess) || !self.partnerTokenAccess))").message("a public client needs pkce Required and refresh-token rotation, and may not use client_credentials or partnerTokenAccess"))]
pub struct ClientSpec {
    /// The client id, as entered in the Alexa developer console.
    #[schemars(length(min = 1, max = 255))]
    pub client_id: String,
    /// The Secret key holding the client secret. Required unless `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<SecretKeyRef>,
    /// A public client: an app on the user's device (the skill's mobile app
    /// for App-to-App linking), which cannot keep a secret. It has no
    /// `clientSecretRef`, authenticates with its client id alone and proves
    /// every code with PKCE; it needs `pkce: Required` and refresh-token
    /// rotation, and may not use `client_credentials` or
    /// `partnerTokenAccess`. Defaults to false (confidential).
    #[serde(default)]
    pub public: bool,
    /// Name shown on the consent page; defaults to the client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Redirect URIs, matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Alexa vendor id: adds Alexa's three regional redirect URIs
    /// (pitangui.amazon.com, layla.amazon.com, alexa.amazon.co.jp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9]+$"))]
    pub alexa_vendor_id: Option<String>,
    /// Scopes this client may ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Grant types: authorization_code, refresh_token, client_credentials.
    /// Defaults to authorization_code and refresh_token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    pub grant_types: Vec<GrantTypeSpec>,
    /// Access-token lifetime in seconds; at least 360 (Alexa's minimum).
    /// Defaults to 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 360, max = 86400))]
    pub access_token_lifetime_seconds: Option<u64>,
    /// Refresh-token policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshTokenSpec>,
    /// PKCE policy: `Required` (S256, the default) or `OptionalInsecure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce: Option<PkceSpec>,
    /// Skip the consent page (first-party clients only).
    #[serde(default)]
    pub skip_consent: bool,
    /// May call `/api/partner/token` (the skill developer's backend).
    #[serde(default)]
    pub partner_token_access: bool,
    /// What this client's access tokens are: `opaque` (the default: stored,
    /// one durable write each), `sealed` (self-contained and encrypted with
    /// the encryption keys of mutual linking, so it needs `partner`) or
    /// `jwt` (RFC 9068, signed with `accessTokenSigningKeyRef`; resource
    /// servers verify it with the published JWKS). Refresh tokens and codes
    /// are always stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_format: Option<AccessTokenFormatSpec>,
    /// The `aud` claim of this client's JWT access tokens (the skill
    /// backend's URL). Defaults to the server's public URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub access_token_audience: Option<String>,
    /// This client's look where it differs from `spec.branding`: each field
    /// set here replaces the link's one on the pages this client's users
    /// see (the server's `clients[].branding`). Checked like
    /// `spec.branding`, named `clients[i].branding.<field>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<BrandingSpec>,
}

/// An access token format.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenFormatSpec {
    /// A random string the store keeps.
    Opaque,
    /// Encrypted and authenticated with the server's key ring; not stored.
    Sealed,
    /// An RFC 9068 JWT; not stored.
    Jwt,
}

/// An OAuth 2.0 grant type.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GrantTypeSpec {
    /// RFC 6749 section 4.1, what Alexa account linking uses.
    AuthorizationCode,
    /// RFC 6749 section 6.
    RefreshToken,
    /// RFC 6749 section 4.4, for server-to-server callers.
    ClientCredentials,
}

/// PKCE policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkceSpec {
    /// Every authorization request must carry an S256 challenge.
    Required,
    /// Requests without a challenge are accepted (weakens the client).
    OptionalInsecure,
}

/// Refresh-token policy. Defaults: rotation on, 60 s grace, no expiry.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.idleLifetimeSeconds) || !has(self.rotation) || self.rotation").message("idleLifetimeSeconds needs rotation"))]
pub struct RefreshTokenSpec {
    /// Issue a new refresh token on every use. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<bool>,
    /// How long a rotated token still returns its successor (0 to 3600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub grace_period_seconds: Option<u64>,
    /// A refresh token unused for this long expires. Absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 360))]
    pub idle_lifetime_seconds: Option<u64>,
    /// A grant ends this long after linking. Absent (as Amazon advises): never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 360))]
    pub absolute_lifetime_seconds: Option<u64>,
}

/// Exactly one identity backend.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.static) ? 1 : 0) + (has(self.ldap) ? 1 : 0) + (has(self.oidc) ? 1 : 0) == 1").message("set exactly one identity backend: static, ldap or oidc"))]
pub struct IdentitySpec {
    /// Users from a Secret: a YAML document `{users: [{username, passwordHash}]}`
    /// with bcrypt or argon2 hashes.
    #[serde(default, rename = "static", skip_serializing_if = "Option::is_none")]
    pub static_: Option<StaticIdentitySpec>,
    /// An LDAP directory: bind, then search for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ldap: Option<LdapIdentitySpec>,
    /// An upstream OpenID Connect issuer that users log in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcIdentitySpec>,
}

/// Users listed in a Secret.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StaticIdentitySpec {
    /// The Secret key holding the users YAML.
    pub users_secret_ref: SecretKeyRef,
}

/// LDAP login: bind as a service account, search for the user, bind as the user.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.startTls) || !self.startTls || self.url.startsWith('ldap://')").message("startTls is for ldap:// URLs; ldaps:// is TLS from the start"))]
pub struct LdapIdentitySpec {
    /// Server URL, `ldaps://host:636` or `ldap://host:389` (with `startTls`
    /// to upgrade the connection before the password is sent).
    #[schemars(length(min = 1), regex(pattern = r"^ldaps?://"))]
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_tls: Option<bool>,
    /// The Secret key holding the PEM CA bundle that signs the directory's
    /// certificate (for `ldaps://` and StartTLS). Absent: the system roots.
    /// Mounted as a file; rotating it rolls the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<SecretKeyRef>,
    /// DN the server binds as to search, e.g.
    /// `cn=alexa-link,ou=services,dc=example,dc=com`.
    #[schemars(length(min = 1))]
    pub bind_dn: String,
    /// The Secret key holding the bind password. Mounted as a file;
    /// rotating it rolls the pods.
    pub bind_password_ref: SecretKeyRef,
    /// Base DN of the (subtree) user search, e.g. `ou=people,dc=example,dc=com`.
    #[schemars(length(min = 1))]
    pub user_base_dn: String,
    /// Search filter in parentheses; `{username}` is replaced by the escaped
    /// login name and exactly one entry must match. Defaults to the
    /// server's `(uid={username})`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_filter: Option<String>,
    /// Immutable attribute identifying a user across renames: `entryUUID`
    /// (the server's default, OpenLDAP) or `objectGUID` (Active Directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_attribute: Option<String>,
    /// Attribute with the name shown on pages. Defaults to the server's `cn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name_attribute: Option<String>,
    /// Connections each pod keeps open to the directory (1 to 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub pool_size: Option<u32>,
    /// Timeout of connecting and of each LDAP operation (1 to 30 seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 30))]
    pub timeout_seconds: Option<u64>,
}

/// Delegated login at an upstream OpenID Connect provider. Register
/// `https://<host>/oauth/callback` as the redirect URI of our client there.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcIdentitySpec {
    /// Issuer URL (https); discovery is read from
    /// `<issuerUrl>/.well-known/openid-configuration`.
    #[schemars(length(min = 1))]
    pub issuer_url: String,
    /// The Secret key holding our client id at the issuer. The client id is
    /// not a secret: it is written into the server config, so changing it
    /// rolls the pods.
    pub client_id_ref: SecretKeyRef,
    /// The Secret key holding our client secret at the issuer. Mounted as a
    /// file; rotating it rolls the pods.
    pub client_secret_ref: SecretKeyRef,
    /// Scopes requested upstream (`openid` is always added). Defaults to
    /// the server's `openid profile`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The ID-token claim identifying a user. Defaults to the server's
    /// `sub`; change it only to a claim the provider documents as immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id_claim: Option<String>,
    /// The ID-token claim with the name shown on pages. Defaults to the
    /// server's `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name_claim: Option<String>,
    /// Short stable name of the issuer in stored user ids (letters, digits,
    /// `-`, `_`, `.`). Absent: derived from `issuerUrl`; set it before moving
    /// to a new issuer URL that keeps the same subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_id: Option<String>,
    /// Timeout of each request to the provider (1 to 30 seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 30))]
    pub request_timeout_seconds: Option<u64>,
    /// The Secret key holding the PEM CA bundle trusted for the issuer's
    /// certificate (discovery, keys and token requests) instead of the
    /// public roots: a provider with a private CA, or an egress proxy that
    /// re-signs TLS. Absent: the public roots. Mounted as a file; rotating
    /// it rolls the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<SecretKeyRef>,
}

/// Login with Amazon settings for mutual account linking.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PartnerSpec {
    /// The Secret key holding the skill's LWA client id ("Alexa Client Id").
    pub client_id_ref: SecretKeyRef,
    /// The Secret key holding the skill's LWA client secret.
    pub client_secret_ref: SecretKeyRef,
    /// LWA region selecting the token endpoint: NA, EU or FE. Defaults to NA.
    #[serde(default)]
    pub region: LwaRegionSpec,
    /// Overrides the region's LWA token endpoint (tests, egress proxies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The Secret key holding the PEM CA bundle trusted for the token
    /// endpoint's certificate instead of the public roots: an egress proxy
    /// that re-signs TLS, or a `tokenUrl` with a private CA. Absent: the
    /// public roots, which Amazon's endpoints chain to. Mounted as a file;
    /// rotating it rolls the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<SecretKeyRef>,
    /// Scopes granted to the skill, reported with partner tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Client ids through which users link to Amazon. Defaults to every
    /// client that uses authorization_code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub linked_clients: Vec<String>,
}

/// Login with Amazon region.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LwaRegionSpec {
    /// North America.
    #[default]
    NA,
    /// Europe.
    EU,
    /// Far East.
    FE,
}

/// How HTTPS is terminated; exactly one field is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.secretName) ? 1 : 0) + (has(self.certManager) ? 1 : 0) + (has(self.ingress) ? 1 : 0) == 1").message("set exactly one TLS mode: secretName, certManager or ingress"))]
pub struct TlsSpec {
    /// A `kubernetes.io/tls` Secret the server presents itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The operator requests a certificate for `host` from cert-manager and
    /// the server presents it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_manager: Option<CertManagerTlsSpec>,
    /// TLS ends at the Ingress the operator creates; the server behind it
    /// speaks plain HTTP inside the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressTlsSpec>,
}

/// A cert-manager issued certificate.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertManagerTlsSpec {
    /// The cert-manager issuer that signs the certificate.
    pub issuer_ref: IssuerRef,
}

/// A cert-manager Issuer or ClusterIssuer.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the issuer.
    pub name: String,
    /// `Issuer` (default) or `ClusterIssuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API group of the issuer; defaults to `cert-manager.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// TLS at the Ingress.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressTlsSpec {
    /// The `kubernetes.io/tls` Secret the Ingress controller presents.
    /// Absent: the controller's default certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// Where grants and tokens are kept; exactly one field is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.embedded) ? 1 : 0) + (has(self.dynamodb) ? 1 : 0) == 1").message("set exactly one storage backend: embedded or dynamodb"))]
pub struct StorageSpec {
    /// A single-file store on a PersistentVolumeClaim (one replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded: Option<EmbeddedStorageSpec>,
    /// An Amazon DynamoDB table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamodb: Option<DynamoDbStorageSpec>,
}

/// The embedded store's volume.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedStorageSpec {
    /// Size of the volume, e.g. `1Gi` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// StorageClass of the volume; absent: the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// A DynamoDB table.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DynamoDbStorageSpec {
    /// Table name.
    pub table_name: String,
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// Endpoint override (DynamoDB Local, VPC endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Create the table when it is missing.
    #[serde(default)]
    pub create_table: bool,
    /// A Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    /// Absent: credentials from the pod's service account (IRSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_name: Option<String>,
}

/// A Secret with the keys that encrypt stored Amazon tokens.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionKeyRef {
    /// Name of the Secret.
    pub name: String,
    /// Keys of the Secret, each at least 32 bytes. The first encrypts, all
    /// decrypt: rotate by putting a new key first.
    #[schemars(length(min = 1))]
    pub keys: Vec<String>,
}

/// Image pull policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    /// Always pull.
    Always,
    /// Pull when missing.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// A pull policy name that is none of Always, IfNotPresent, Never.
#[derive(Debug, thiserror::Error)]
#[error("unknown image pull policy {0:?} (expected Always, IfNotPresent or Never)")]
pub struct UnknownPullPolicy(String);

impl std::str::FromStr for PullPolicy {
    type Err = UnknownPullPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Always" => Ok(PullPolicy::Always),
            "IfNotPresent" => Ok(PullPolicy::IfNotPresent),
            "Never" => Ok(PullPolicy::Never),
            other => Err(UnknownPullPolicy(other.to_owned())),
        }
    }
}

/// The Service in front of the pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service type: ClusterIP (default), NodePort or LoadBalancer.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Service port of the public listener; defaults to 443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Annotations of the Service (e.g. for a cloud load balancer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The Ingress for `host`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// IngressClass name; absent: the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Annotations of the Ingress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The NetworkPolicy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Create it.
    #[serde(default)]
    pub enabled: bool,
}

/// The ServiceAccount the pods run as.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountSpec {
    /// Annotations, e.g. `eks.amazonaws.com/role-arn` for IRSA.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What happens to stored state when the resource is deleted.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Keep the store's volume and the generated keys.
    #[default]
    Retain,
    /// Delete them with the resource.
    Delete,
}

/// Observed state.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlexaSkillLinkStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the summary), `Progressing` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The URLs to paste into the Alexa developer console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
    /// Desired server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Ready server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Available server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// The skill's account linking in Alexa (with `spec.alexaSkill`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alexa_skill: Option<crate::smapi::spec::AlexaSkillStatus>,
}

/// Endpoint URLs of the linking service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// "Your Web Authorization URI" in the Alexa developer console.
    pub authorization: String,
    /// "Access Token URI".
    pub token: String,
    /// "Reciprocal Access Token URL" (mutual account linking).
    pub reciprocal: String,
    /// Where the skill developer's backend gets users' LWA tokens.
    pub partner_token: String,
    /// RFC 8414 authorization server metadata.
    pub metadata: String,
}

fn conditions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "`Ready` (the summary), `Progressing` and `Degraded`.",
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["type", "status", "lastTransitionTime", "reason", "message"],
            "properties": {
                "type": {"type": "string", "description": "Condition type: Ready, Progressing or Degraded."},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"], "description": "True, False or Unknown."},
                "observedGeneration": {"type": "integer", "format": "int64", "description": "The generation this condition describes."},
                "lastTransitionTime": {"type": "string", "format": "date-time", "description": "When the status last changed."},
                "reason": {"type": "string", "description": "One CamelCase word saying why."},
                "message": {"type": "string", "description": "A sentence with the details."}
            }
        }
    })
}
