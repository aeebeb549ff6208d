//! Validate: decide once whether a resource can be realised, into a typed
//! [`ValidatedLink`] that every builder takes as its only input.
//!
//! The checks run as a chain in which the first failing one names the
//! reason (cert-manager's Ready chain): the name, the spec rules (repeating
//! the CRD's CEL rules, because API servers older than 1.25 store resources
//! without running them), the URLs, the referenced Secrets, cert-manager,
//! and last the server's own validation of the config the builders will
//! render. A builder cannot see an invalid spec: there is no other way to
//! get a `ValidatedLink`.

use std::collections::{BTreeMap, BTreeSet};

use alexa_link_config::Config;
use alexa_link_config::branding::{
    MAX_EXTRA_CSS_BYTES, MAX_LOGO_BYTES, TEMPLATE_NAMES, logo_image_type,
};
use kube::ResourceExt;
use url::Url;

pub use crate::conditions::Invalid;
use crate::conditions::reasons;
use crate::crd::{
    AccessTokenFormatSpec, AlexaSkillLink, AlexaSkillLinkSpec, BrandingSpec, ClientSpec,
    EmbeddedStorageSpec, GrantTypeSpec, IssuerRef, LwaRegionSpec, PkceSpec, SecretKeyRef,
};
use crate::labels::Names;
use crate::resolve::Resolved;
use crate::secret_refs::{
    ENCRYPTION_KEY, SESSION_KEY, brandings, ca_bundle_refs, config_map_refs, needs_generated_keys,
    secret_refs,
};

/// A resource that passed every check, with each decision made into a type.
///
/// Fields the operator passes through untouched (resources, placement,
/// Service and Ingress settings, ...) are read from `resource.spec`; every
/// field that needs a decision or a parse is here, decided.
#[derive(Debug, Clone)]
pub struct ValidatedLink {
    /// The resource as read (metadata for the children's owner references).
    pub resource: AlexaSkillLink,
    /// Names of the children.
    pub names: Names,
    /// `https://<host>`.
    pub public_url: Url,
    /// Where users log in.
    pub identity: Identity,
    /// Where grants and tokens are kept.
    pub storage: Storage,
    /// How HTTPS is terminated.
    pub tls: Tls,
    /// Mutual account linking, when on.
    pub partner: Option<Partner>,
    /// The Secret key with the session key (referenced or generated).
    pub session_key: SecretKeyRef,
    /// Whether the operator generates `<name>-keys`.
    pub generates_keys: bool,
    /// Server pods.
    pub replicas: i32,
    /// What resolve read: the referenced Secrets (all present with their
    /// keys) and the existing generated keys.
    pub secrets: Resolved,
    /// `spec.alexaSkill`, decided: the skill the operator configures.
    pub alexa_skill: Option<crate::smapi::skill::Skill>,
    /// Alexa's redirect URLs for that skill, as SMAPI last reported them:
    /// allowed redirect URIs of the published client. Empty until the
    /// SMAPI step fills them in (it runs between validate and build).
    pub alexa_redirect_urls: Vec<String>,
}

/// The identity backend, exactly one.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// Users from a Secret.
    Static {
        /// The users YAML.
        users: SecretKeyRef,
    },
    /// An LDAP directory.
    Ldap(LdapIdentity),
    /// An upstream OpenID Provider.
    Oidc(OidcIdentity),
}

/// How the LDAP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapTransport {
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://` upgraded with StartTLS before binding.
    StartTls,
    /// `ldap://` in the clear (a directory on a trusted network only).
    Plain,
}

/// A validated `identity.ldap`; `None` fields take the server's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LdapIdentity {
    /// The directory.
    pub url: Url,
    /// TLS from the start, StartTLS, or none.
    pub transport: LdapTransport,
    /// PEM CA bundle (only with TLS).
    pub ca_bundle: Option<SecretKeyRef>,
    /// The searching service account.
    pub bind_dn: String,
    /// Its password.
    pub bind_password: SecretKeyRef,
    /// Base of the user search.
    pub base_dn: String,
    /// The search filter.
    pub user_filter: Option<String>,
    /// The immutable id attribute.
    pub id_attribute: Option<String>,
    /// The display-name attribute.
    pub display_name_attribute: Option<String>,
    /// Connections per pod.
    pub pool_size: Option<u32>,
    /// Connect and operation timeout.
    pub timeout_seconds: Option<u64>,
}

/// A validated `identity.oidc`; `None` fields take the server's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcIdentity {
    /// The issuer.
    pub issuer_url: Url,
    /// Our client id at the issuer, as read from its Secret.
    pub client_id: String,
    /// Our client secret at the issuer.
    pub client_secret: SecretKeyRef,
    /// Upstream scopes; empty: the server's default.
    pub scopes: Vec<String>,
    /// The user-id claim.
    pub user_id_claim: Option<String>,
    /// The display-name claim.
    pub display_name_claim: Option<String>,
    /// The issuer's short name in user ids.
    pub issuer_id: Option<String>,
    /// Timeout of each request to the provider.
    pub request_timeout_seconds: Option<u64>,
    /// PEM CA bundle trusted for the issuer instead of the public roots.
    pub ca_bundle: Option<SecretKeyRef>,
}

/// The store, exactly one.
#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    /// A file on the `<name>-data` volume (one replica).
    Embedded(EmbeddedStorageSpec),
    /// A DynamoDB table.
    Dynamodb(DynamoDbStorage),
}

/// A validated `storage.dynamodb`.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoDbStorage {
    /// Table name.
    pub table_name: String,
    /// AWS region.
    pub region: String,
    /// Endpoint override.
    pub endpoint: Option<Url>,
    /// Create the table when missing.
    pub create_table: bool,
    /// Secret with static credentials; `None`: the pod's identity (IRSA).
    pub credentials_secret: Option<String>,
}

/// How HTTPS is terminated, exactly one.
#[derive(Debug, Clone, PartialEq)]
pub enum Tls {
    /// The server presents this `kubernetes.io/tls` Secret.
    Secret {
        /// Secret name.
        name: String,
    },
    /// cert-manager fills `<name>-tls`, which the server presents.
    CertManager {
        /// The signing issuer.
        issuer: IssuerRef,
    },
    /// The Ingress terminates TLS; the server speaks HTTP behind it.
    Ingress {
        /// The Ingress's certificate Secret; `None`: the controller default.
        secret_name: Option<String>,
    },
}

impl Tls {
    /// The Secret the server itself presents, if it terminates TLS.
    pub fn server_secret(&self, names: &Names) -> Option<String> {
        match self {
            Tls::Secret { name } => Some(name.clone()),
            Tls::CertManager { .. } => Some(names.tls.clone()),
            Tls::Ingress { .. } => None,
        }
    }
}

/// Validated mutual account linking.
#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    /// The skill's LWA client id.
    pub client_id: SecretKeyRef,
    /// The skill's LWA client secret.
    pub client_secret: SecretKeyRef,
    /// LWA region.
    pub region: LwaRegionSpec,
    /// Token endpoint override.
    pub token_url: Option<Url>,
    /// Scopes reported with partner tokens.
    pub scopes: Vec<String>,
    /// Clients through which users link (the default resolved).
    pub linked_clients: Vec<String>,
    /// Encryption keys, first encrypts (referenced or generated).
    pub encryption_keys: Vec<SecretKeyRef>,
    /// PEM CA bundle trusted for the token endpoint instead of the public roots.
    pub ca_bundle: Option<SecretKeyRef>,
}

/// The whole chain, ending in the typed link.
pub fn validate(asl: &AlexaSkillLink, resolved: &Resolved) -> Result<ValidatedLink, Invalid> {
    let name = asl.name_any();
    validate_name(&name)?;
    let spec = &asl.spec;
    validate_spec(spec)?;
    secrets_present(spec, resolved)?;
    config_maps_present(spec, resolved)?;
    branding_files_usable(spec, resolved)?;
    ca_bundles_hold_certificates(spec, resolved)?;
    let names = Names::new(&name);
    let link = ValidatedLink {
        public_url: Url::parse(&format!("https://{}", spec.host))
            .map_err(|e| Invalid::spec("host", format!("is not a valid DNS name: {e}")))?,
        identity: identity(spec, resolved)?,
        storage: storage(spec)?,
        tls: tls(spec)?,
        partner: partner(spec, &names)?,
        session_key: spec
            .session_key_ref
            .clone()
            .unwrap_or_else(|| SecretKeyRef {
                name: names.keys.clone(),
                key: SESSION_KEY.to_owned(),
            }),
        generates_keys: needs_generated_keys(spec),
        replicas: if spec.storage.embedded.is_some() {
            1
        } else {
            spec.replicas.unwrap_or(1)
        },
        secrets: resolved.clone(),
        alexa_skill: crate::smapi::skill::validate(spec)?,
        alexa_redirect_urls: Vec::new(),
        names,
        resource: asl.clone(),
    };
    if matches!(link.tls, Tls::CertManager { .. }) && !resolved.cert_manager_installed {
        return Err(Invalid::new(
            reasons::CERT_MANAGER_MISSING,
            "spec.tls.certManager is set but cert-manager's Certificate CRD (certificates.cert-manager.io) is not installed.",
        ));
    }
    server_accepts(&crate::build::config::render(&link))?;
    Ok(link)
}

/// The server's own validation of the config the builders render.
fn server_accepts(config: &Config) -> Result<(), Invalid> {
    config.validate().map_err(|errors| {
        let list = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        Invalid::new(
            reasons::INVALID_CONFIG,
            format!("The server rejects the rendered config: {list}."),
        )
    })
}

fn parse_url(field: &str, value: &str) -> Result<Url, Invalid> {
    Url::parse(value).map_err(|e| Invalid::spec(field, format!("is not an absolute URL: {e}")))
}

/// The links of a branding (`spec.branding` or `clients[i].branding`,
/// named by `at`) are absolute URLs.
fn branding_urls_parse(at: &str, b: &BrandingSpec) -> Result<(), Invalid> {
    for (field, url) in [
        ("supportUrl", &b.support_url),
        ("privacyUrl", &b.privacy_url),
    ] {
        if let Some(url) = url {
            parse_url(&format!("{at}.{field}"), url)?;
        }
    }
    Ok(())
}

/// An endpoint the server calls over HTTP: `host:port` parses as a URL of
/// scheme `host`, so the scheme is checked too.
fn parse_http_url(field: &str, value: &str) -> Result<Url, Invalid> {
    let url = parse_url(field, value)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Invalid::spec(
            field,
            format!("must be an http:// or https:// URL with a host, got {value:?}"),
        ));
    }
    Ok(url)
}

fn identity(spec: &AlexaSkillLinkSpec, resolved: &Resolved) -> Result<Identity, Invalid> {
    let id = &spec.identity;
    if let Some(s) = &id.static_ {
        return Ok(Identity::Static {
            users: s.users_secret_ref.clone(),
        });
    }
    if let Some(l) = &id.ldap {
        let url = parse_url("identity.ldap.url", &l.url)?;
        let transport = match (url.scheme(), l.start_tls.unwrap_or(false)) {
            ("ldaps", false) => LdapTransport::Ldaps,
            ("ldap", true) => LdapTransport::StartTls,
            ("ldap", false) => LdapTransport::Plain,
            ("ldaps", true) => {
                return Err(Invalid::spec(
                    "identity.ldap.startTls",
                    "is for ldap:// URLs; ldaps:// is TLS from the start",
                ));
            }
            (other, _) => {
                return Err(Invalid::spec(
                    "identity.ldap.url",
                    format!("must be ldap:// or ldaps://, got {other}://"),
                ));
            }
        };
        if transport == LdapTransport::Plain && l.ca_bundle_ref.is_some() {
            return Err(Invalid::spec(
                "identity.ldap.caBundleRef",
                "is used only with ldaps:// or startTls: true",
            ));
        }
        return Ok(Identity::Ldap(LdapIdentity {
            url,
            transport,
            ca_bundle: l.ca_bundle_ref.clone(),
            bind_dn: l.bind_dn.clone(),
            bind_password: l.bind_password_ref.clone(),
            base_dn: l.user_base_dn.clone(),
            user_filter: l.user_filter.clone(),
            id_attribute: l.id_attribute.clone(),
            display_name_attribute: l.display_name_attribute.clone(),
            pool_size: l.pool_size,
            timeout_seconds: l.timeout_seconds,
        }));
    }
    if let Some(o) = &id.oidc {
        let issuer_url = parse_url("identity.oidc.issuerUrl", &o.issuer_url)?;
        let r = &o.client_id_ref;
        let value = resolved
            .secrets
            .get(&r.name)
            .and_then(Option::as_ref)
            .and_then(|data| data.get(&r.key));
        // Secrets made with `--from-file` end in a newline; it is no part
        // of a client id.
        let client_id = value
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Invalid::new(
                    reasons::SECRET_VALUE_INVALID,
                    format!(
                        "Secret {:?} key {:?} (spec.identity.oidc.clientIdRef) must hold the client id as non-empty UTF-8 text.",
                        r.name, r.key
                    ),
                )
            })?;
        return Ok(Identity::Oidc(OidcIdentity {
            issuer_url,
            client_id: client_id.to_owned(),
            client_secret: o.client_secret_ref.clone(),
            scopes: o.scopes.clone(),
            user_id_claim: o.user_id_claim.clone(),
            display_name_claim: o.display_name_claim.clone(),
            issuer_id: o.issuer_id.clone(),
            request_timeout_seconds: o.request_timeout_seconds,
            ca_bundle: o.ca_bundle_ref.clone(),
        }));
    }
    Err(exactly_one_identity())
}

fn exactly_one_identity() -> Invalid {
    Invalid::spec(
        "identity",
        "must set exactly one identity backend: static, ldap or oidc",
    )
}

/// The storage decision alone: what deleting a link needs, when the rest
/// of its spec may no longer validate (its Secrets deleted with it).
pub fn storage(spec: &AlexaSkillLinkSpec) -> Result<Storage, Invalid> {
    match (&spec.storage.embedded, &spec.storage.dynamodb) {
        (Some(e), None) => Ok(Storage::Embedded(e.clone())),
        (None, Some(d)) => Ok(Storage::Dynamodb(DynamoDbStorage {
            table_name: d.table_name.clone(),
            region: d.region.clone(),
            endpoint: d
                .endpoint
                .as_deref()
                .map(|e| parse_http_url("storage.dynamodb.endpoint", e))
                .transpose()?,
            create_table: d.create_table,
            credentials_secret: d.credentials_secret_name.clone(),
        })),
        _ => Err(Invalid::spec(
            "storage",
            "must set exactly one storage backend: embedded or dynamodb",
        )),
    }
}

fn tls(spec: &AlexaSkillLinkSpec) -> Result<Tls, Invalid> {
    let t = &spec.tls;
    match (&t.secret_name, &t.cert_manager, &t.ingress) {
        (Some(name), None, None) => Ok(Tls::Secret { name: name.clone() }),
        (None, Some(cm), None) => Ok(Tls::CertManager {
            issuer: cm.issuer_ref.clone(),
        }),
        (None, None, Some(i)) => Ok(Tls::Ingress {
            secret_name: i.secret_name.clone(),
        }),
        _ => Err(Invalid::spec(
            "tls",
            "must set exactly one TLS mode: secretName, certManager or ingress",
        )),
    }
}

/// The CRD's client-type CEL rules, for API servers that do not run CEL.
/// A self-contained access token format needs its keys: sealed tokens the
/// key ring of mutual linking, JWTs the signing key. (The CRD's CEL rules
/// say the same for clusters that run them; Kubernetes 1.20 does not.)
fn access_token_format(i: usize, c: &ClientSpec, spec: &AlexaSkillLinkSpec) -> Result<(), Invalid> {
    let field = format!("clients[{i}].accessTokenFormat");
    match c.access_token_format {
        Some(AccessTokenFormatSpec::Sealed) if spec.partner.is_none() => Err(Invalid::spec(
            &field,
            "sealed tokens are encrypted with the keys of mutual linking: set partner (and encryptionKeyRef), or use jwt",
        )),
        Some(AccessTokenFormatSpec::Jwt) if spec.access_token_signing_key_ref.is_none() => {
            Err(Invalid::spec(
                &field,
                "jwt tokens need accessTokenSigningKeyRef (a PEM Ed25519 or P-256 private key)",
            ))
        }
        Some(AccessTokenFormatSpec::Jwt) => Ok(()),
        _ if c.access_token_audience.is_some() => Err(Invalid::spec(
            &format!("clients[{i}].accessTokenAudience"),
            "only jwt access tokens carry an audience (set accessTokenFormat: jwt)",
        )),
        _ => Ok(()),
    }
}

fn client_type(i: usize, c: &ClientSpec) -> Result<(), Invalid> {
    let field = |name: &str| format!("clients[{i}].{name}");
    match (c.public, &c.client_secret_ref) {
        (false, None) => {
            return Err(Invalid::spec(
                &field("clientSecretRef"),
                "is required for a confidential client (set public: true for an app that cannot keep a secret)",
            ));
        }
        (true, Some(_)) => {
            return Err(Invalid::spec(
                &field("clientSecretRef"),
                "must be absent for a public client: it authenticates with its client id alone",
            ));
        }
        (false, Some(_)) => return Ok(()),
        (true, None) => {}
    }
    if c.pkce == Some(PkceSpec::OptionalInsecure) {
        return Err(Invalid::spec(
            &field("pkce"),
            "must be Required for a public client",
        ));
    }
    if c.grant_types.contains(&GrantTypeSpec::ClientCredentials) {
        return Err(Invalid::spec(
            &field("grantTypes"),
            "may not include client_credentials for a public client (it has no secret)",
        ));
    }
    if c.refresh_token.as_ref().and_then(|r| r.rotation) == Some(false) {
        return Err(Invalid::spec(
            &field("refreshToken.rotation"),
            "must be true for a public client (a stolen refresh token is then detected on reuse)",
        ));
    }
    if c.partner_token_access {
        return Err(Invalid::spec(
            &field("partnerTokenAccess"),
            "must be false for a public client",
        ));
    }
    Ok(())
}

fn partner(spec: &AlexaSkillLinkSpec, names: &Names) -> Result<Option<Partner>, Invalid> {
    let Some(p) = &spec.partner else {
        return Ok(None);
    };
    let linked_clients = if p.linked_clients.is_empty() {
        spec.clients
            .iter()
            // Alexa delivers reciprocal codes as a confidential client; an
            // app's public client never does.
            .filter(|c| {
                !c.public
                    && (c.grant_types.is_empty()
                        || c.grant_types.contains(&GrantTypeSpec::AuthorizationCode))
            })
            .map(|c| c.client_id.clone())
            .collect()
    } else {
        p.linked_clients.clone()
    };
    let encryption_keys = match &spec.encryption_key_ref {
        Some(r) => r
            .keys
            .iter()
            .map(|k| SecretKeyRef {
                name: r.name.clone(),
                key: k.clone(),
            })
            .collect(),
        None => vec![SecretKeyRef {
            name: names.keys.clone(),
            key: ENCRYPTION_KEY.to_owned(),
        }],
    };
    Ok(Some(Partner {
        client_id: p.client_id_ref.clone(),
        client_secret: p.client_secret_ref.clone(),
        region: p.region,
        token_url: p
            .token_url
            .as_deref()
            .map(|u| parse_http_url("partner.tokenUrl", u))
            .transpose()?,
        scopes: p.scopes.clone(),
        linked_clients,
        encryption_keys,
        ca_bundle: p.ca_bundle_ref.clone(),
    }))
}

/// The resource's name becomes a Service name and a label value: a
/// DNS-1035 label of at most 63 characters.
pub fn validate_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            reasons::INVALID_SPEC,
            format!(
                "metadata.name {name:?} must be a DNS-1035 label (lower-case letters, digits and '-', starting with a letter, at most 63 characters): it names the Service."
            ),
        ))
    }
}

/// The rules the CRD states in CEL, plus the schema's bounds.
pub fn validate_spec(spec: &AlexaSkillLinkSpec) -> Result<(), Invalid> {
    if spec.host.is_empty() {
        return Err(Invalid::spec("host", "must not be empty"));
    }
    // The rest of branding (https, colors) is the server's own check of
    // the rendered config; a URL must parse to be rendered at all.
    for (at, b) in brandings(spec) {
        branding_urls_parse(&at, b)?;
        if b.logo_secret_ref.is_some() && b.logo_config_map_ref.is_some() {
            return Err(Invalid::spec(
                &format!("{at}.logoConfigMapRef"),
                "and logoSecretRef are two places for one logo: set one",
            ));
        }
        if at != "branding" && b.templates_config_map_name.is_some() {
            return Err(Invalid::spec(
                &format!("{at}.templatesConfigMapName"),
                "is server-wide: set it in spec.branding, not per client",
            ));
        }
    }
    let identities = [
        spec.identity.static_.is_some(),
        spec.identity.ldap.is_some(),
        spec.identity.oidc.is_some(),
    ];
    if identities.iter().filter(|b| **b).count() != 1 {
        return Err(exactly_one_identity());
    }
    if let Some(l) = &spec.identity.ldap {
        if !(l.url.starts_with("ldap://") || l.url.starts_with("ldaps://")) {
            return Err(Invalid::spec(
                "identity.ldap.url",
                "must start with ldap:// or ldaps://",
            ));
        }
        if l.start_tls == Some(true) && !l.url.starts_with("ldap://") {
            return Err(Invalid::spec(
                "identity.ldap.startTls",
                "is for ldap:// URLs; ldaps:// is TLS from the start",
            ));
        }
    }
    let tls_modes = [
        spec.tls.secret_name.is_some(),
        spec.tls.cert_manager.is_some(),
        spec.tls.ingress.is_some(),
    ];
    if tls_modes.iter().filter(|b| **b).count() != 1 {
        return Err(Invalid::spec(
            "tls",
            "must set exactly one TLS mode: secretName, certManager or ingress",
        ));
    }
    if spec.storage.embedded.is_some() == spec.storage.dynamodb.is_some() {
        return Err(Invalid::spec(
            "storage",
            "must set exactly one storage backend: embedded or dynamodb",
        ));
    }
    if spec.storage.embedded.is_some() && spec.replicas.is_some_and(|r| r != 1) {
        return Err(Invalid::spec(
            "replicas",
            "must be 1 with storage.embedded (the embedded store supports one replica)",
        ));
    }
    if let Some(r) = spec.replicas
        && !(0..=100).contains(&r)
    {
        return Err(Invalid::spec("replicas", "must be between 0 and 100"));
    }
    if spec.clients.is_empty() {
        return Err(Invalid::spec("clients", "must list at least one client"));
    }
    let mut ids = BTreeSet::new();
    for (i, c) in spec.clients.iter().enumerate() {
        if !ids.insert(c.client_id.as_str()) {
            return Err(Invalid::spec(
                &format!("clients[{i}].clientId"),
                format!("duplicates client id {:?}", c.client_id),
            ));
        }
        if let Some(t) = c.access_token_lifetime_seconds
            && !(360..=86_400).contains(&t)
        {
            return Err(Invalid::spec(
                &format!("clients[{i}].accessTokenLifetimeSeconds"),
                format!("must be between 360 (Alexa's minimum) and 86400, got {t}"),
            ));
        }
        let uses_code =
            c.grant_types.is_empty() || c.grant_types.contains(&GrantTypeSpec::AuthorizationCode);
        if uses_code && c.alexa_vendor_id.is_none() && c.redirect_uris.is_empty() {
            return Err(Invalid::spec(
                &format!("clients[{i}]"),
                "uses authorization_code and needs redirectUris or alexaVendorId",
            ));
        }
        if let Some(r) = &c.refresh_token
            && r.idle_lifetime_seconds.is_some()
            && r.rotation == Some(false)
        {
            return Err(Invalid::spec(
                &format!("clients[{i}].refreshToken.idleLifetimeSeconds"),
                "needs rotation",
            ));
        }
        client_type(i, c)?;
        access_token_format(i, c, spec)?;
    }
    if let Some(p) = &spec.partner {
        for (j, linked) in p.linked_clients.iter().enumerate() {
            if !ids.contains(linked.as_str()) {
                return Err(Invalid::spec(
                    &format!("partner.linkedClients[{j}]"),
                    format!("names {linked:?}, which is not a client of this resource"),
                ));
            }
        }
    }
    if let Some(e) = &spec.encryption_key_ref
        && e.keys.is_empty()
    {
        return Err(Invalid::spec(
            "encryptionKeyRef.keys",
            "must name at least one key",
        ));
    }
    Ok(())
}

fn secrets_present(spec: &AlexaSkillLinkSpec, resolved: &Resolved) -> Result<(), Invalid> {
    for r in secret_refs(spec) {
        match resolved.secrets.get(&r.name) {
            Some(Some(data)) => {
                if !data.contains_key(&r.key) {
                    return Err(Invalid::new(
                        reasons::SECRET_KEY_MISSING,
                        format!(
                            "Secret {:?} has no key {:?} (referenced by spec.{}).",
                            r.name, r.key, r.field
                        ),
                    ));
                }
            }
            _ => {
                return Err(Invalid::new(
                    reasons::SECRET_MISSING,
                    format!(
                        "Secret {:?} does not exist (referenced by spec.{}).",
                        r.name, r.field
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn config_maps_present(spec: &AlexaSkillLinkSpec, resolved: &Resolved) -> Result<(), Invalid> {
    for r in config_map_refs(spec) {
        let Some(Some(data)) = resolved.config_maps.get(&r.name) else {
            return Err(Invalid::new(
                reasons::SECRET_MISSING,
                format!(
                    "ConfigMap {:?} does not exist (referenced by spec.{}).",
                    r.name, r.field
                ),
            ));
        };
        if let Some(key) = r.key.filter(|k| !data.contains_key(k)) {
            return Err(Invalid::new(
                reasons::SECRET_KEY_MISSING,
                format!(
                    "ConfigMap {:?} has no key {key:?} (referenced by spec.{}).",
                    r.name, r.field
                ),
            ));
        }
    }
    Ok(())
}

/// The value of `key` of the read Secret or ConfigMap `name` (empty when
/// absent: its presence is checked before).
fn value<'a>(
    read: &'a BTreeMap<String, Option<BTreeMap<String, Vec<u8>>>>,
    name: &str,
    key: &str,
) -> &'a [u8] {
    read.get(name)
        .and_then(Option::as_ref)
        .and_then(|d| d.get(key))
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// What the server would refuse at start in the branding's files (a crash
/// loop of new pods), refused here first, naming the field: a logo that is
/// no image or too large, a style sheet too large or not text, a templates
/// ConfigMap key that names no template.
fn branding_files_usable(spec: &AlexaSkillLinkSpec, resolved: &Resolved) -> Result<(), Invalid> {
    let invalid = |field: String, message: String| {
        Invalid::new(reasons::INVALID_CONFIG, format!("spec.{field} {message}."))
    };
    for (at, b) in brandings(spec) {
        let logo = b
            .logo_secret_ref
            .as_ref()
            .map(|r| {
                (
                    "logoSecretRef",
                    "Secret",
                    value(&resolved.secrets, &r.name, &r.key),
                    &r.name,
                    &r.key,
                )
            })
            .or_else(|| {
                b.logo_config_map_ref.as_ref().map(|r| {
                    (
                        "logoConfigMapRef",
                        "ConfigMap",
                        value(&resolved.config_maps, &r.name, &r.key),
                        &r.name,
                        &r.key,
                    )
                })
            });
        if let Some((field, kind, bytes, name, key)) = logo {
            if bytes.len() > MAX_LOGO_BYTES {
                return Err(invalid(
                    format!("{at}.{field}"),
                    format!(
                        "({kind} {name:?} key {key:?}) holds {} bytes; a logo may have at most {MAX_LOGO_BYTES}",
                        bytes.len()
                    ),
                ));
            }
            if logo_image_type(bytes).is_none() {
                return Err(invalid(
                    format!("{at}.{field}"),
                    format!(
                        "({kind} {name:?} key {key:?}) is not a PNG, JPEG, GIF, WebP or SVG image"
                    ),
                ));
            }
        }
        if let Some(r) = &b.extra_css_config_map_ref {
            let css = value(&resolved.config_maps, &r.name, &r.key);
            let field = format!("{at}.extraCssConfigMapRef");
            if css.len() > MAX_EXTRA_CSS_BYTES {
                return Err(invalid(
                    field,
                    format!(
                        "(ConfigMap {:?} key {:?}) holds {} bytes; a style sheet may have at most {MAX_EXTRA_CSS_BYTES}",
                        r.name,
                        r.key,
                        css.len()
                    ),
                ));
            }
            if std::str::from_utf8(css).is_err() {
                return Err(invalid(
                    field,
                    format!("(ConfigMap {:?} key {:?}) is not UTF-8 text", r.name, r.key),
                ));
            }
        }
        if let Some(name) = &b.templates_config_map_name {
            let templates = resolved.config_maps.get(name).and_then(Option::as_ref);
            for (key, source) in templates.into_iter().flatten() {
                let field = format!("{at}.templatesConfigMapName");
                if !TEMPLATE_NAMES.contains(&key.as_str()) {
                    return Err(invalid(
                        field,
                        format!(
                            "(ConfigMap {name:?}) has key {key:?}, which names no template (one of {})",
                            TEMPLATE_NAMES.join(", ")
                        ),
                    ));
                }
                if std::str::from_utf8(source).is_err() {
                    return Err(invalid(
                        field,
                        format!("(ConfigMap {name:?} key {key:?}) is not UTF-8 text"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A CA bundle without a PEM certificate would stop the server at start-up
/// (a crash loop); say so here, naming the field.
fn ca_bundles_hold_certificates(
    spec: &AlexaSkillLinkSpec,
    resolved: &Resolved,
) -> Result<(), Invalid> {
    for r in ca_bundle_refs(spec) {
        let value = resolved
            .secrets
            .get(&r.name)
            .and_then(Option::as_ref)
            .and_then(|data| data.get(&r.key));
        let pem = value.is_some_and(|v| {
            std::str::from_utf8(v).is_ok_and(|t| t.contains("-----BEGIN CERTIFICATE-----"))
        });
        if !pem {
            return Err(Invalid::new(
                reasons::SECRET_VALUE_INVALID,
                format!(
                    "Secret {:?} key {:?} (spec.{}) must hold PEM CA certificates (-----BEGIN CERTIFICATE-----).",
                    r.name, r.key, r.field
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::{fixture, resolved_for};
    use crate::crd::{DynamoDbStorageSpec, LdapIdentitySpec, RefreshTokenSpec, SecretKeyRef};
    use crate::secret_refs::{AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, referenced_secrets};

    fn minimal() -> AlexaSkillLinkSpec {
        fixture("minimal.yaml").spec
    }

    fn ldap_spec() -> LdapIdentitySpec {
        LdapIdentitySpec {
            url: "ldaps://ldap:636".into(),
            start_tls: None,
            ca_bundle_ref: None,
            bind_dn: "cn=svc".into(),
            bind_password_ref: SecretKeyRef {
                name: "l".into(),
                key: "p".into(),
            },
            user_base_dn: "ou=people".into(),
            user_filter: None,
            id_attribute: None,
            display_name_attribute: None,
            pool_size: None,
            timeout_seconds: None,
        }
    }

    fn spec_error(spec: &AlexaSkillLinkSpec) -> Invalid {
        validate_spec(spec).expect_err("invalid")
    }

    #[test]
    fn fixtures_are_valid() {
        for name in ["minimal.yaml", "full.yaml"] {
            let asl = fixture(name);
            let mut resolved = resolved_for(&asl);
            resolved.cert_manager_installed = true;
            assert_eq!(validate(&asl, &resolved).map(|_| ()), Ok(()), "{name}");
        }
    }

    #[test]
    fn exactly_one_identity_backend() {
        let mut s = minimal();
        s.identity.ldap = Some(ldap_spec());
        let e = spec_error(&s);
        assert_eq!(e.reason, reasons::INVALID_SPEC);
        assert!(e.message.starts_with("spec.identity "), "{}", e.message);
        s.identity.static_ = None;
        assert_eq!(validate_spec(&s), Ok(()));
        s.identity.ldap = None;
        assert!(
            spec_error(&s)
                .message
                .contains("exactly one identity backend")
        );
    }

    #[test]
    fn self_contained_access_token_formats_need_their_keys() {
        let mut s = minimal();
        s.clients[0].access_token_format = Some(AccessTokenFormatSpec::Jwt);
        let e = spec_error(&s);
        assert!(
            e.message.contains("clients[0].accessTokenFormat")
                && e.message.contains("accessTokenSigningKeyRef"),
            "{}",
            e.message
        );
        s.access_token_signing_key_ref = Some(SecretKeyRef {
            name: "jwt".into(),
            key: "key.pem".into(),
        });
        s.clients[0].access_token_audience = Some("https://skill.example.com".into());
        assert_eq!(validate_spec(&s), Ok(()));
        assert!(
            referenced_secrets(&s)
                .get("jwt")
                .is_some_and(|keys| keys.contains("key.pem")),
            "the signing key is mounted"
        );
        s.clients[0].access_token_format = Some(AccessTokenFormatSpec::Sealed);
        assert!(
            spec_error(&s).message.contains("set partner"),
            "sealed needs the key ring"
        );
        s.clients[0].access_token_format = None;
        assert!(spec_error(&s).message.contains("accessTokenAudience"));
    }

    #[test]
    fn names_must_fit_a_service_name() {
        assert_eq!(validate_name("minimal"), Ok(()));
        assert_eq!(validate_name(&"a".repeat(63)), Ok(()));
        for bad in [
            "",
            "9lives",
            "Upper",
            "trailing-",
            "dot.ted",
            &"a".repeat(64),
        ] {
            let e = validate_name(bad).expect_err(bad);
            assert_eq!(e.reason, reasons::INVALID_SPEC);
            assert!(e.message.starts_with("metadata.name"), "{}", e.message);
        }
    }

    #[test]
    fn exactly_one_tls_mode() {
        let mut s = minimal();
        s.tls.secret_name = Some("tls".into());
        assert!(spec_error(&s).message.starts_with("spec.tls "));
        s.tls.secret_name = None;
        s.tls.ingress = None;
        assert!(spec_error(&s).message.starts_with("spec.tls "));
    }

    #[test]
    fn access_token_lifetime_has_alexas_minimum() {
        let mut s = minimal();
        s.clients[0].access_token_lifetime_seconds = Some(300);
        let e = spec_error(&s);
        assert_eq!(
            e.message,
            "spec.clients[0].accessTokenLifetimeSeconds must be between 360 (Alexa's minimum) and 86400, got 300."
        );
        s.clients[0].access_token_lifetime_seconds = Some(360);
        assert_eq!(validate_spec(&s), Ok(()));
    }

    #[test]
    fn embedded_store_means_one_replica() {
        let mut s = minimal();
        s.replicas = Some(2);
        assert!(spec_error(&s).message.starts_with("spec.replicas "));
        s.replicas = Some(1);
        assert_eq!(validate_spec(&s), Ok(()));
    }

    #[test]
    fn client_rules() {
        let mut s = minimal();
        s.clients.push(s.clients[0].clone());
        assert!(
            spec_error(&s)
                .message
                .starts_with("spec.clients[1].clientId duplicates")
        );
        let mut s = minimal();
        s.clients[0].alexa_vendor_id = None;
        assert!(
            spec_error(&s)
                .message
                .contains("needs redirectUris or alexaVendorId")
        );
        let mut s = minimal();
        s.clients[0].refresh_token = Some(RefreshTokenSpec {
            rotation: Some(false),
            grace_period_seconds: None,
            idle_lifetime_seconds: Some(3600),
            absolute_lifetime_seconds: None,
        });
        assert!(
            spec_error(&s)
                .message
                .contains("idleLifetimeSeconds needs rotation")
        );
    }

    #[test]
    fn linked_clients_must_exist() {
        let mut s = fixture("full.yaml").spec;
        s.partner.as_mut().expect("partner").linked_clients = vec!["nobody".into()];
        assert!(
            spec_error(&s)
                .message
                .starts_with("spec.partner.linkedClients[0] names \"nobody\"")
        );
    }

    #[test]
    fn dynamodb_with_several_replicas_is_valid_and_its_credentials_are_required() {
        let asl = fixture("minimal.yaml");
        let mut s = asl.spec.clone();
        s.storage.embedded = None;
        s.replicas = Some(3);
        s.storage.dynamodb = Some(DynamoDbStorageSpec {
            table_name: "alexa-link".into(),
            region: "eu-west-1".into(),
            endpoint: None,
            create_table: false,
            credentials_secret_name: Some("aws-keys".into()),
        });
        let mut resolved = resolved_for(&asl);
        let mut asl = asl.clone();
        asl.spec = s;
        let e = validate(&asl, &resolved).expect_err("the credentials Secret is missing");
        assert_eq!(e.reason, reasons::SECRET_MISSING);
        assert!(e.message.contains("aws-keys"), "{}", e.message);
        resolved.secrets.insert(
            "aws-keys".into(),
            Some(
                [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]
                    .into_iter()
                    .map(|k| (k.to_owned(), Default::default()))
                    .collect(),
            ),
        );
        let link = validate(&asl, &resolved).expect("valid with DynamoDB and 3 replicas");
        assert_eq!(link.replicas, 3);
    }

    #[test]
    fn branding_renders_with_its_logo_mounted_and_bad_values_are_named() {
        let mut asl = fixture("minimal.yaml");
        asl.spec.branding = Some(crate::crd::BrandingSpec {
            product_name: Some("Acme Home".into()),
            logo_secret_ref: Some(SecretKeyRef {
                name: "brand".into(),
                key: "logo.png".into(),
            }),
            primary_color: Some("#c2410c".into()),
            support_url: Some("https://acme.example/help".into()),
            ..Default::default()
        });
        // The logo's Secret is a referenced Secret like any other.
        let e =
            validate(&asl, &resolved_for(&fixture("minimal.yaml"))).expect_err("no logo Secret");
        assert_eq!(e.reason, reasons::SECRET_MISSING);
        assert!(
            e.message.contains("spec.branding.logoSecretRef"),
            "{}",
            e.message
        );
        let link = validate(&asl, &resolved_for(&asl)).expect("valid");
        let config = crate::build::config::render(&link);
        let b = config.branding.expect("rendered");
        assert_eq!(b.product_name.as_deref(), Some("Acme Home"));
        assert_eq!(
            b.logo.as_deref(),
            Some("/var/run/secrets/alexa-link/brand/logo.png"),
            "the Secret's mounted file"
        );
        assert_eq!(
            b.support_url.map(|u| u.to_string()).as_deref(),
            Some("https://acme.example/help")
        );
        assert!(
            crate::build::mounts::Mounts::for_link(&link)
                .secrets
                .contains("brand")
        );
        // What the API server's schema would refuse is refused here too,
        // named by field, for clusters without the schema (or an old copy).
        let mut bad = asl.clone();
        if let Some(b) = bad.spec.branding.as_mut() {
            b.primary_color = Some("blue".into());
        }
        let e = validate(&bad, &resolved_for(&bad)).expect_err("bad color");
        assert_eq!(e.reason, reasons::INVALID_CONFIG);
        assert!(e.message.contains("branding.primaryColor"), "{}", e.message);
        if let Some(b) = bad.spec.branding.as_mut() {
            b.primary_color = None;
            b.privacy_url = Some("not a url".into());
        }
        let e = validate(&bad, &resolved_for(&bad)).expect_err("bad URL");
        assert!(e.message.contains("branding.privacyUrl"), "{}", e.message);
    }

    #[test]
    fn a_clients_branding_renders_over_the_links_and_its_errors_name_the_client() {
        let mut asl = fixture("minimal.yaml");
        asl.spec.branding = Some(BrandingSpec {
            product_name: Some("Acme Home".into()),
            primary_color: Some("#c2410c".into()),
            ..Default::default()
        });
        asl.spec.clients[0].branding = Some(BrandingSpec {
            logo_secret_ref: Some(SecretKeyRef {
                name: "garden-brand".into(),
                key: "logo.svg".into(),
            }),
            primary_color: Some("#15803d".into()),
            privacy_url: Some("https://garden.example/privacy".into()),
            ..Default::default()
        });
        // The client's logo Secret is referenced, named by the client.
        let e = validate(&asl, &resolved_for(&fixture("minimal.yaml")))
            .expect_err("no client logo Secret");
        assert_eq!(e.reason, reasons::SECRET_MISSING);
        assert!(
            e.message.contains("spec.clients[0].branding.logoSecretRef"),
            "{}",
            e.message
        );
        let link = validate(&asl, &resolved_for(&asl)).expect("valid");
        let config = crate::build::config::render(&link);
        let server = config.branding.as_ref().expect("server-wide branding");
        assert_eq!(server.primary_color.as_deref(), Some("#c2410c"));
        let client = config.clients[0]
            .branding
            .as_ref()
            .expect("client branding");
        assert_eq!(client.primary_color.as_deref(), Some("#15803d"));
        assert_eq!(client.product_name, None, "unset: the link's name applies");
        assert_eq!(
            client.logo.as_deref(),
            Some("/var/run/secrets/alexa-link/garden-brand/logo.svg")
        );
        assert_eq!(
            client.privacy_url.as_ref().map(|u| u.as_str()),
            Some("https://garden.example/privacy")
        );
        assert!(
            crate::build::mounts::Mounts::for_link(&link)
                .secrets
                .contains("garden-brand")
        );
        // The merged look of the client's pages: its fields over the link's.
        let merged = server.merged(client);
        assert_eq!(merged.product_name.as_deref(), Some("Acme Home"));
        assert_eq!(merged.primary_color.as_deref(), Some("#15803d"));

        let mut bad = asl.clone();
        if let Some(b) = bad.spec.clients[0].branding.as_mut() {
            b.primary_color = Some("green".into());
        }
        let e = validate(&bad, &resolved_for(&bad)).expect_err("bad client color");
        assert_eq!(e.reason, reasons::INVALID_CONFIG);
        assert!(
            e.message.contains("clients[0].branding.primaryColor"),
            "{}",
            e.message
        );
        if let Some(b) = bad.spec.clients[0].branding.as_mut() {
            b.primary_color = None;
            b.support_url = Some("help".into());
        }
        let e = validate(&bad, &resolved_for(&bad)).expect_err("bad client URL");
        assert!(
            e.message.contains("clients[0].branding.supportUrl"),
            "{}",
            e.message
        );
        if let Some(b) = bad.spec.clients[0].branding.as_mut() {
            b.support_url = Some("http://garden.example/help".into());
        }
        let e = validate(&bad, &resolved_for(&bad)).expect_err("plain http");
        assert_eq!(e.reason, reasons::INVALID_CONFIG);
        assert!(
            e.message.contains("clients[0].branding.supportUrl"),
            "{}",
            e.message
        );
    }

    /// `minimal.yaml` with a logo, style sheet and templates from
    /// ConfigMaps, and a client logo from a ConfigMap.
    fn config_map_branded() -> AlexaSkillLink {
        let mut asl = fixture("minimal.yaml");
        let r = |name: &str, key: &str| crate::crd::ConfigMapKeyRef {
            name: name.into(),
            key: key.into(),
        };
        asl.spec.branding = Some(BrandingSpec {
            logo_config_map_ref: Some(r("brand", "logo.png")),
            extra_css_config_map_ref: Some(r("brand", "extra.css")),
            templates_config_map_name: Some("brand-templates".into()),
            ..Default::default()
        });
        asl.spec.clients[0].branding = Some(BrandingSpec {
            logo_config_map_ref: Some(r("garden", "logo.png")),
            primary_color: Some("#15803d".into()),
            ..Default::default()
        });
        asl
    }

    #[test]
    fn config_map_logo_style_sheet_and_templates_are_mounted_and_rendered() {
        let asl = config_map_branded();
        let link = validate(&asl, &resolved_for(&asl)).expect("valid");
        let config = crate::build::config::render(&link);
        let b = config.branding.as_ref().expect("branding");
        assert_eq!(
            b.logo.as_deref(),
            Some("/var/run/configmaps/alexa-link/brand/logo.png")
        );
        assert_eq!(
            b.extra_css_file.as_deref(),
            Some(std::path::Path::new(
                "/var/run/configmaps/alexa-link/brand/extra.css"
            ))
        );
        assert_eq!(
            b.templates_dir.as_deref(),
            Some(std::path::Path::new(
                "/var/run/configmaps/alexa-link/brand-templates"
            ))
        );
        let c = config.clients[0]
            .branding
            .as_ref()
            .expect("client branding");
        assert_eq!(
            c.logo.as_deref(),
            Some("/var/run/configmaps/alexa-link/garden/logo.png")
        );
        let mounts = crate::build::mounts::Mounts::for_link(&link);
        assert_eq!(
            mounts
                .config_maps
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["brand", "brand-templates", "garden"]
        );
    }

    #[test]
    fn config_map_branding_errors_name_the_field() {
        let asl = config_map_branded();
        let with = |f: fn(&mut Resolved)| {
            let mut r = resolved_for(&asl);
            f(&mut r);
            validate(&asl, &r).expect_err("refused")
        };
        fn data<'a>(r: &'a mut Resolved, name: &str) -> &'a mut BTreeMap<String, Vec<u8>> {
            r.config_maps
                .get_mut(name)
                .and_then(Option::as_mut)
                .expect("read")
        }
        type Case = (&'static str, fn(&mut Resolved), &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (
                "missing ConfigMap",
                |r| {
                    r.config_maps.insert("brand-templates".into(), None);
                },
                reasons::SECRET_MISSING,
                "ConfigMap \"brand-templates\" does not exist (referenced by spec.branding.templatesConfigMapName)",
            ),
            (
                "missing key",
                |r| {
                    data(r, "garden").remove("logo.png");
                },
                reasons::SECRET_KEY_MISSING,
                "spec.clients[0].branding.logoConfigMapRef",
            ),
            (
                "not an image",
                |r| {
                    data(r, "brand").insert("logo.png".into(), b"GIF? no".to_vec());
                },
                reasons::INVALID_CONFIG,
                "spec.branding.logoConfigMapRef (ConfigMap \"brand\" key \"logo.png\") is not a PNG",
            ),
            (
                "logo too large",
                |r| {
                    let mut big = crate::build::testing::TEST_PNG.to_vec();
                    big.resize(MAX_LOGO_BYTES + 1, 0);
                    data(r, "garden").insert("logo.png".into(), big);
                },
                reasons::INVALID_CONFIG,
                "spec.clients[0].branding.logoConfigMapRef (ConfigMap \"garden\" key \"logo.png\") holds 65537 bytes",
            ),
            (
                "style sheet too large",
                |r| {
                    data(r, "brand")
                        .insert("extra.css".into(), vec![b' '; MAX_EXTRA_CSS_BYTES + 1]);
                },
                reasons::INVALID_CONFIG,
                "spec.branding.extraCssConfigMapRef",
            ),
            (
                "unknown template",
                |r| {
                    data(r, "brand-templates").insert("footer.html".into(), b"x".to_vec());
                },
                reasons::INVALID_CONFIG,
                "has key \"footer.html\", which names no template (one of layout.html, login.html",
            ),
        ];
        for (what, f, reason, message) in cases {
            let e = with(f);
            assert_eq!(e.reason, reason, "{what}: {}", e.message);
            assert!(e.message.contains(message), "{what}: {}", e.message);
        }
        // A logo Secret key is checked the same way.
        let mut asl = fixture("minimal.yaml");
        asl.spec.branding = Some(BrandingSpec {
            logo_secret_ref: Some(SecretKeyRef {
                name: "brand".into(),
                key: "logo.png".into(),
            }),
            ..Default::default()
        });
        let mut r = resolved_for(&asl);
        r.secrets
            .get_mut("brand")
            .and_then(Option::as_mut)
            .expect("read")
            .insert("logo.png".into(), b"plain text".to_vec());
        let e = validate(&asl, &r).expect_err("not an image");
        assert_eq!(e.reason, reasons::INVALID_CONFIG);
        assert!(
            e.message.contains("spec.branding.logoSecretRef (Secret"),
            "{}",
            e.message
        );
        // Two logos, or templates per client: refused by field.
        let mut s = config_map_branded().spec;
        if let Some(b) = s.branding.as_mut() {
            b.logo_secret_ref = Some(SecretKeyRef {
                name: "x".into(),
                key: "y".into(),
            });
        }
        let e = spec_error(&s);
        assert!(
            e.message.contains("spec.branding.logoConfigMapRef"),
            "{}",
            e.message
        );
        let mut s = config_map_branded().spec;
        if let Some(b) = s.clients[0].branding.as_mut() {
            b.templates_config_map_name = Some("t".into());
        }
        let e = spec_error(&s);
        assert!(
            e.message
                .contains("spec.clients[0].branding.templatesConfigMapName"),
            "{}",
            e.message
        );
    }

    #[test]
    fn missing_secrets_and_keys_are_named() {
        let asl = fixture("minimal.yaml");
        let mut resolved = resolved_for(&asl);
        resolved.secrets.insert("minimal-users".into(), None);
        let e = validate(&asl, &resolved).expect_err("missing");
        assert_eq!(e.reason, reasons::SECRET_MISSING);
        assert_eq!(
            e.message,
            "Secret \"minimal-users\" does not exist (referenced by spec.identity.static.usersSecretRef)."
        );
        let mut resolved = resolved_for(&asl);
        resolved
            .secrets
            .insert("minimal-users".into(), Some(Default::default()));
        let e = validate(&asl, &resolved).expect_err("missing key");
        assert_eq!(e.reason, reasons::SECRET_KEY_MISSING);
        assert!(
            e.message.contains("has no key \"users.yaml\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn cert_manager_must_be_installed() {
        let asl = fixture("full.yaml");
        let resolved = resolved_for(&asl);
        let e = validate(&asl, &resolved).expect_err("no cert-manager");
        assert_eq!(e.reason, reasons::CERT_MANAGER_MISSING);
    }

    #[test]
    fn referenced_secrets_cover_every_ref_and_tls() {
        let refs = referenced_secrets(&fixture("full.yaml").spec);
        let names: Vec<&str> = refs.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "egress-proxy-ca",
                "full-app-brand",
                "full-clients",
                "full-enc",
                "full-lwa",
                "full-users"
            ]
        );
        assert_eq!(
            refs["full-enc"]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["k1", "k2", "session"]
        );
        let config_maps = crate::secret_refs::config_map_refs(&fixture("full.yaml").spec);
        assert_eq!(
            config_maps
                .iter()
                .map(|r| (r.field.as_str(), r.name.as_str(), r.key.as_deref()))
                .collect::<Vec<_>>(),
            [
                ("branding.logoConfigMapRef", "full-brand", Some("logo.png")),
                (
                    "branding.extraCssConfigMapRef",
                    "full-brand",
                    Some("extra.css")
                ),
                ("branding.templatesConfigMapName", "full-templates", None),
            ]
        );
    }

    /// The skill's mobile app as a public client.
    fn public_app() -> ClientSpec {
        serde_yaml::from_str(
            "clientId: app\npublic: true\nredirectUris: [\"https://app.example.com/oauth\"]\nscopes: [alexa_app_link]\n",
        )
        .expect("public client spec")
    }

    #[test]
    fn a_public_client_is_checked_by_field_and_rendered_without_a_secret() {
        let mut s = fixture("minimal.yaml").spec;
        s.clients.push(public_app());
        validate_spec(&s).expect("a public client is valid");
        assert!(
            secret_refs(&s)
                .iter()
                .all(|r| !r.field.starts_with("clients[1]")),
            "no Secret is read for a public client"
        );
        s.clients[1].partner_token_access = true;
        let e = spec_error(&s);
        assert!(
            e.message.contains("spec.clients[1].partnerTokenAccess"),
            "{}",
            e.message
        );
        let mut s = fixture("minimal.yaml").spec;
        s.clients[0].client_secret_ref = None;
        let e = spec_error(&s);
        assert!(
            e.message
                .contains("spec.clients[0].clientSecretRef is required"),
            "{}",
            e.message
        );
    }

    /// The CRD's CEL rules (evaluated client-side by kube's CEL engine, as
    /// an API server >= 1.25 would) and [`validate_spec`] agree: each
    /// mutation is refused by both or accepted by both.
    #[test]
    fn cel_rules_and_validate_spec_agree() {
        use crate::crd::{AlexaSkillLink, IngressTlsSpec};
        type Mutation = (&'static str, fn(&mut AlexaSkillLinkSpec));
        let mutations: &[Mutation] = &[
            ("unchanged", |_| {}),
            ("two identity backends", |s| {
                s.identity.ldap = Some(ldap_spec())
            }),
            ("no identity backend", |s| s.identity.static_ = None),
            ("ldap instead of static", |s| {
                s.identity.static_ = None;
                s.identity.ldap = Some(ldap_spec())
            }),
            ("ldaps with startTls", |s| {
                s.identity.static_ = None;
                let mut l = ldap_spec();
                l.start_tls = Some(true);
                s.identity.ldap = Some(l)
            }),
            ("ldap with startTls", |s| {
                s.identity.static_ = None;
                let mut l = ldap_spec();
                l.url = "ldap://ldap:389".into();
                l.start_tls = Some(true);
                s.identity.ldap = Some(l)
            }),
            ("two tls modes", |s| s.tls.secret_name = Some("tls".into())),
            ("no tls mode", |s| s.tls.ingress = None),
            ("secretName tls", |s| {
                s.tls.ingress = None;
                s.tls.secret_name = Some("tls".into())
            }),
            ("ingress tls with a secret", |s| {
                s.tls.ingress = Some(IngressTlsSpec {
                    secret_name: Some("t".into()),
                })
            }),
            ("no storage", |s| s.storage.embedded = None),
            ("embedded with two replicas", |s| s.replicas = Some(2)),
            ("embedded with one replica", |s| s.replicas = Some(1)),
            ("duplicate client id", |s| {
                s.clients.push(s.clients[0].clone())
            }),
            ("second client", |s| {
                let mut c = s.clients[0].clone();
                c.client_id = "other".into();
                s.clients.push(c)
            }),
            ("code grant without redirect", |s| {
                s.clients[0].alexa_vendor_id = None
            }),
            ("public app client", |s| s.clients.push(public_app())),
            ("branding from ConfigMaps", |s| {
                *s = config_map_branded().spec;
            }),
            ("two logos", |s| {
                *s = config_map_branded().spec;
                if let Some(b) = s.branding.as_mut() {
                    b.logo_secret_ref = Some(SecretKeyRef {
                        name: "x".into(),
                        key: "y".into(),
                    });
                }
            }),
            ("templates per client", |s| {
                *s = config_map_branded().spec;
                if let Some(b) = s.clients[0].branding.as_mut() {
                    b.templates_config_map_name = Some("t".into());
                }
            }),
            ("confidential client without a secret", |s| {
                s.clients[0].client_secret_ref = None
            }),
            ("public client with a secret", |s| {
                let mut c = public_app();
                c.client_secret_ref = s.clients[0].client_secret_ref.clone();
                s.clients.push(c)
            }),
            ("public client without PKCE", |s| {
                let mut c = public_app();
                c.pkce = Some(PkceSpec::OptionalInsecure);
                s.clients.push(c)
            }),
            ("public client with client_credentials", |s| {
                let mut c = public_app();
                c.grant_types = vec![
                    GrantTypeSpec::AuthorizationCode,
                    GrantTypeSpec::ClientCredentials,
                ];
                s.clients.push(c)
            }),
            ("public client without rotation", |s| {
                let mut c = public_app();
                c.refresh_token = Some(crate::crd::RefreshTokenSpec {
                    rotation: Some(false),
                    grace_period_seconds: None,
                    idle_lifetime_seconds: None,
                    absolute_lifetime_seconds: None,
                });
                s.clients.push(c)
            }),
            ("public client with partner-token access", |s| {
                let mut c = public_app();
                c.partner_token_access = true;
                s.clients.push(c)
            }),
            ("client credentials without redirect", |s| {
                s.clients[0].alexa_vendor_id = None;
                s.clients[0].grant_types = vec![GrantTypeSpec::ClientCredentials];
            }),
            ("redirect uris instead of vendor", |s| {
                s.clients[0].alexa_vendor_id = None;
                s.clients[0].redirect_uris = vec!["https://app.example.com/cb".into()];
            }),
            ("idle lifetime without rotation", |s| {
                s.clients[0].refresh_token = Some(RefreshTokenSpec {
                    rotation: Some(false),
                    grace_period_seconds: None,
                    idle_lifetime_seconds: Some(3600),
                    absolute_lifetime_seconds: None,
                })
            }),
            ("idle lifetime with rotation", |s| {
                s.clients[0].refresh_token = Some(RefreshTokenSpec {
                    rotation: Some(true),
                    grace_period_seconds: None,
                    idle_lifetime_seconds: Some(3600),
                    absolute_lifetime_seconds: None,
                })
            }),
        ];
        for (what, mutate) in mutations {
            let mut asl: AlexaSkillLink = fixture("minimal.yaml");
            mutate(&mut asl.spec);
            let cel = kube::core::cel::validate_cel(&asl);
            let ours = validate_spec(&asl.spec);
            assert_eq!(
                cel.is_ok(),
                ours.is_ok(),
                "{what}: CEL says {cel:?}, validate_spec says {ours:?}"
            );
        }

        // The partner rule lives on the full fixture.
        let mut asl: AlexaSkillLink = fixture("full.yaml");
        assert!(kube::core::cel::validate_cel(&asl).is_ok());
        asl.spec.partner.as_mut().expect("partner").linked_clients = vec!["nobody".into()];
        assert!(kube::core::cel::validate_cel(&asl).is_err());
        assert!(validate_spec(&asl.spec).is_err());
    }

    /// One row per reason `validate` can give (and per rule behind it):
    /// a mutation of a valid fixture and the reason and message it must
    /// produce.
    #[test]
    fn every_reason_from_a_table() {
        type Mutation = fn(&mut AlexaSkillLink, &mut Resolved);
        let rows: &[(&str, &str, Mutation, &str, &str)] = &[
            (
                "minimal.yaml",
                "bad name",
                |a, _| a.metadata.name = Some("Bad_Name".into()),
                reasons::INVALID_SPEC,
                "metadata.name \"Bad_Name\" must be a DNS-1035 label",
            ),
            (
                "minimal.yaml",
                "empty host",
                |a, _| a.spec.host.clear(),
                reasons::INVALID_SPEC,
                "spec.host must not be empty.",
            ),
            (
                "minimal.yaml",
                "host with a space",
                |a, _| a.spec.host = "bad host".into(),
                reasons::INVALID_SPEC,
                "spec.host is not a valid DNS name",
            ),
            (
                "ldap.yaml",
                "ldap url of another scheme",
                |a, _| {
                    a.spec.identity.ldap.as_mut().expect("ldap").url = "http://directory:389".into()
                },
                reasons::INVALID_SPEC,
                "spec.identity.ldap.url must start with ldap:// or ldaps://.",
            ),
            (
                "ldap.yaml",
                "startTls on ldaps",
                |a, _| {
                    a.spec.identity.ldap.as_mut().expect("ldap").url =
                        "ldaps://directory:636".into()
                },
                reasons::INVALID_SPEC,
                "spec.identity.ldap.startTls is for ldap:// URLs",
            ),
            (
                "ldap.yaml",
                "unparseable ldap url",
                |a, _| {
                    a.spec.identity.ldap.as_mut().expect("ldap").url = "ldap://exa mple:389".into()
                },
                reasons::INVALID_SPEC,
                "spec.identity.ldap.url is not an absolute URL",
            ),
            (
                "ldap.yaml",
                "CA bundle in the clear",
                |a, _| a.spec.identity.ldap.as_mut().expect("ldap").start_tls = Some(false),
                reasons::INVALID_SPEC,
                "spec.identity.ldap.caBundleRef is used only with ldaps:// or startTls: true.",
            ),
            (
                "ldap.yaml",
                "bind password Secret missing",
                |_, r| {
                    r.secrets.insert("ldap-bind".into(), None);
                },
                reasons::SECRET_MISSING,
                "Secret \"ldap-bind\" does not exist (referenced by spec.identity.ldap.bindPasswordRef).",
            ),
            (
                "ldap.yaml",
                "CA bundle key missing",
                |_, r| {
                    r.secrets
                        .insert("ldap-directory-ca".into(), Some(Default::default()));
                },
                reasons::SECRET_KEY_MISSING,
                "Secret \"ldap-directory-ca\" has no key \"ca.crt\" (referenced by spec.identity.ldap.caBundleRef).",
            ),
            (
                "ldap.yaml",
                "CA bundle without a certificate",
                |_, r| {
                    r.secrets.insert(
                        "ldap-directory-ca".into(),
                        Some([("ca.crt".to_owned(), b"not PEM".to_vec())].into()),
                    );
                },
                reasons::SECRET_VALUE_INVALID,
                "Secret \"ldap-directory-ca\" key \"ca.crt\" (spec.identity.ldap.caBundleRef) must hold PEM CA certificates",
            ),
            (
                "oidc.yaml",
                "OIDC CA bundle key missing",
                |_, r| {
                    if let Some(Some(data)) = r.secrets.get_mut("oidc-upstream") {
                        data.remove("ca.crt");
                    }
                },
                reasons::SECRET_KEY_MISSING,
                "Secret \"oidc-upstream\" has no key \"ca.crt\" (referenced by spec.identity.oidc.caBundleRef).",
            ),
            (
                "full.yaml",
                "LWA CA bundle without a certificate",
                |_, r| {
                    r.secrets.insert(
                        "egress-proxy-ca".into(),
                        Some([("ca.crt".to_owned(), b"".to_vec())].into()),
                    );
                },
                reasons::SECRET_VALUE_INVALID,
                "(spec.partner.caBundleRef) must hold PEM CA certificates",
            ),
            (
                "ldap.yaml",
                "filter without {username}",
                |a, _| {
                    a.spec.identity.ldap.as_mut().expect("ldap").user_filter =
                        Some("(uid=admin)".into())
                },
                reasons::INVALID_CONFIG,
                "identity.ldap.userFilter",
            ),
            (
                "oidc.yaml",
                "issuer over plain http",
                |a, _| {
                    a.spec.identity.oidc.as_mut().expect("oidc").issuer_url =
                        "http://login.example.com".into()
                },
                reasons::INVALID_CONFIG,
                "identity.oidc.issuerUrl",
            ),
            (
                "oidc.yaml",
                "issuer not a URL",
                |a, _| {
                    a.spec.identity.oidc.as_mut().expect("oidc").issuer_url =
                        "login.example.com".into()
                },
                reasons::INVALID_SPEC,
                "spec.identity.oidc.issuerUrl is not an absolute URL",
            ),
            (
                "oidc.yaml",
                "empty client id",
                |_, r| {
                    r.secrets
                        .get_mut("oidc-upstream")
                        .and_then(Option::as_mut)
                        .expect("secret")
                        .insert("client-id".into(), b" \n".to_vec());
                },
                reasons::SECRET_VALUE_INVALID,
                "Secret \"oidc-upstream\" key \"client-id\" (spec.identity.oidc.clientIdRef) must hold the client id as non-empty UTF-8 text.",
            ),
            (
                "oidc.yaml",
                "client id not UTF-8",
                |_, r| {
                    r.secrets
                        .get_mut("oidc-upstream")
                        .and_then(Option::as_mut)
                        .expect("secret")
                        .insert("client-id".into(), vec![0xff, 0xfe]);
                },
                reasons::SECRET_VALUE_INVALID,
                "must hold the client id as non-empty UTF-8 text",
            ),
            (
                "oidc.yaml",
                "client secret Secret missing",
                |_, r| {
                    r.secrets.remove("oidc-upstream");
                },
                reasons::SECRET_MISSING,
                "Secret \"oidc-upstream\" does not exist (referenced by spec.identity.oidc.clientIdRef).",
            ),
            (
                "oidc.yaml",
                "bad scope",
                |a, _| {
                    a.spec.identity.oidc.as_mut().expect("oidc").scopes = vec!["two words".into()]
                },
                reasons::INVALID_CONFIG,
                "identity.oidc.scopes[0]",
            ),
            (
                "oidc.yaml",
                "cert-manager absent",
                |_, r| r.cert_manager_installed = false,
                reasons::CERT_MANAGER_MISSING,
                "spec.tls.certManager is set but cert-manager",
            ),
            (
                "dynamodb.yaml",
                "endpoint without a scheme",
                |a, _| {
                    a.spec.storage.dynamodb.as_mut().expect("dynamodb").endpoint =
                        Some("localhost:8000".into())
                },
                reasons::INVALID_SPEC,
                "spec.storage.dynamodb.endpoint must be an http:// or https:// URL with a host, got \"localhost:8000\".",
            ),
            (
                "dynamodb.yaml",
                "endpoint not a URL",
                |a, _| {
                    a.spec.storage.dynamodb.as_mut().expect("dynamodb").endpoint =
                        Some("/dynamodb".into())
                },
                reasons::INVALID_SPEC,
                "spec.storage.dynamodb.endpoint is not an absolute URL",
            ),
            (
                "dynamodb.yaml",
                "table name too short",
                |a, _| {
                    a.spec
                        .storage
                        .dynamodb
                        .as_mut()
                        .expect("dynamodb")
                        .table_name = "ab".into()
                },
                reasons::INVALID_CONFIG,
                "store.dynamodb.tableName",
            ),
            (
                "full.yaml",
                "token URL not a URL",
                |a, _| {
                    a.spec.partner.as_mut().expect("partner").token_url =
                        Some("/auth/o2/token".into())
                },
                reasons::INVALID_SPEC,
                "spec.partner.tokenUrl is not an absolute URL",
            ),
            (
                "full.yaml",
                "two storage backends",
                |a, _| {
                    a.spec.storage.dynamodb = Some(DynamoDbStorageSpec {
                        table_name: "t".into(),
                        region: "r".into(),
                        endpoint: None,
                        create_table: false,
                        credentials_secret_name: None,
                    })
                },
                reasons::INVALID_SPEC,
                "spec.storage must set exactly one storage backend",
            ),
        ];
        for (file, what, mutate, reason, message) in rows {
            let mut asl = fixture(file);
            let mut resolved = resolved_for(&asl);
            resolved.cert_manager_installed = true;
            validate(&asl, &resolved).unwrap_or_else(|e| panic!("{file} is valid: {e}"));
            mutate(&mut asl, &mut resolved);
            let e = validate(&asl, &resolved).expect_err(what);
            assert_eq!(e.reason, *reason, "{what}: {}", e.message);
            assert!(
                e.message.contains(message),
                "{what}: {:?} does not contain {message:?}",
                e.message
            );
        }
    }

    #[test]
    fn a_validated_link_carries_every_decision() {
        let asl = fixture("ldap.yaml");
        let link = validate(&asl, &resolved_for(&asl)).expect("valid");
        let Identity::Ldap(l) = &link.identity else {
            panic!("ldap")
        };
        assert_eq!(l.transport, LdapTransport::StartTls);
        assert_eq!(
            link.tls,
            Tls::Secret {
                name: "ldap-tls".into()
            }
        );
        assert!(matches!(link.storage, Storage::Embedded(_)));
        assert_eq!(link.public_url.as_str(), "https://ldap-link.example.com/");
        assert_eq!((link.replicas, link.generates_keys), (1, false));

        let asl = fixture("full.yaml");
        let mut resolved = resolved_for(&asl);
        resolved.cert_manager_installed = true;
        let link = validate(&asl, &resolved).expect("valid");
        let p = link.partner.expect("partner");
        assert_eq!(
            p.token_url.map(String::from).as_deref(),
            Some("https://lwa-proxy.internal/auth/o2/token")
        );
        // encryptionKeyRef.keys in order: the first encrypts.
        let keys: Vec<&str> = p.encryption_keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["k2", "k1"]);
        // No linkedClients: every client using authorization_code.
        assert_eq!(p.linked_clients, ["alexa-skill"]);
    }
}
