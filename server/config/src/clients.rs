//! `clients`: the OAuth clients (Alexa is one), their grant types, and their
//! refresh-token and PKCE policies.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::access_tokens::AccessTokenFormat;
use crate::error::Errors;
use crate::rules::url_is_loopback;

/// Alexa refuses access tokens that live less than six minutes.
pub const ALEXA_MIN_ACCESS_TOKEN_LIFETIME_SECONDS: u64 = 360;
/// The longest `accessTokenLifetimeSeconds` accepted (a day).
pub const MAX_ACCESS_TOKEN_LIFETIME_SECONDS: u64 = 86_400;
/// Default `accessTokenLifetimeSeconds`.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS: u64 = 3600;
/// Default `grantTypes`: what Alexa account linking uses.
pub const DEFAULT_GRANT_TYPES: &[GrantType] =
    &[GrantType::AuthorizationCode, GrantType::RefreshToken];
/// Default `refreshToken.rotation`.
pub const DEFAULT_REFRESH_ROTATION: bool = true;
/// Default `refreshToken.gracePeriodSeconds`.
pub const DEFAULT_GRACE_PERIOD_SECONDS: u64 = 60;
/// The longest `refreshToken.gracePeriodSeconds` accepted.
pub const MAX_GRACE_PERIOD_SECONDS: u64 = 3600;

/// One OAuth client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id, as entered in the Alexa developer console.
    pub client_id: String,
    /// File holding the client secret (trailing newline ignored). Required
    /// for a confidential client; a public client has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// A public client (RFC 6749 2.1): an app on the user's device, which
    /// cannot keep a secret. It authenticates with `client_id` alone
    /// (`token_endpoint_auth_method` `none`, RFC 8252 8.5), so it must use
    /// PKCE, may only use `authorization_code` and `refresh_token` (with
    /// rotation), and may not read partner tokens. Default: confidential.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
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
    /// Limits `partnerTokenAccess` to these partners (`partners[].id`): the
    /// client reads tokens of, and forwards Alexa grants for, only these.
    /// Empty (the default): every partner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner_token_partners: Vec<String>,
    /// What this client's access tokens are: `opaque` (the default, stored),
    /// `sealed` (self-contained, encrypted with `encryptionKeyFiles`) or
    /// `jwt` (RFC 9068, signed with `accessTokenSigningKeyFiles`). Refresh
    /// tokens and codes are always opaque and stored.
    #[serde(default, skip_serializing_if = "AccessTokenFormat::is_opaque")]
    pub access_token_format: AccessTokenFormat,
    /// The `aud` of this client's JWT access tokens: the resource server
    /// (the skill's backend) that accepts them. Default: the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_audience: Option<String>,
    /// This client's look of the pages, over the server's `branding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<crate::BrandingConfig>,
}

impl ClientConfig {
    /// How this client proves itself at the token endpoint, decided from
    /// `public` and `clientSecretFile`. `None` for a combination that
    /// [`Config::validate`](crate::Config::validate) refuses.
    pub fn kind(&self) -> Option<ClientKind<'_>> {
        match (self.public, &self.client_secret_file) {
            (false, Some(file)) => Some(ClientKind::Confidential { secret_file: file }),
            (true, None) => Some(ClientKind::Public),
            _ => None,
        }
    }

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

/// The client type of RFC 6749 2.1, with what each type needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind<'a> {
    /// Authenticates with the secret read from this file (HTTP Basic or
    /// `client_secret` in the body).
    Confidential {
        /// `clientSecretFile`.
        secret_file: &'a Path,
    },
    /// Authenticates with `client_id` alone and proves each code with PKCE.
    Public,
}

/// The grant types a public client may use: it cannot keep the secret that
/// `client_credentials` is (RFC 6749 4.4).
pub const PUBLIC_CLIENT_GRANT_TYPES: &[GrantType] =
    &[GrantType::AuthorizationCode, GrantType::RefreshToken];

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
    #[serde(default = "default_rotation")]
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
            rotation: DEFAULT_REFRESH_ROTATION,
            grace_period_seconds: DEFAULT_GRACE_PERIOD_SECONDS,
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

fn default_grant_types() -> Vec<GrantType> {
    DEFAULT_GRANT_TYPES.to_vec()
}
fn default_access_token_lifetime() -> u64 {
    DEFAULT_ACCESS_TOKEN_LIFETIME_SECONDS
}
fn default_rotation() -> bool {
    DEFAULT_REFRESH_ROTATION
}
fn default_grace_period() -> u64 {
    DEFAULT_GRACE_PERIOD_SECONDS
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

/// Checks one redirect URI of a public client (a native app, RFC 8252):
/// what [`check_redirect_uri`] accepts, or a private-use scheme in reverse
/// domain name form (`com.example.app:/oauth`, RFC 8252 7.1). The dot is
/// what makes the scheme the app's own rather than one any app may claim.
pub fn check_native_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URL: {e}"))?;
    let scheme = parsed.scheme();
    if matches!(scheme, "https" | "http") {
        return check_redirect_uri(uri);
    }
    if parsed.fragment().is_some() {
        return Err(format!("{uri:?} must not have a fragment"));
    }
    if !scheme.contains('.') {
        return Err(format!(
            "{uri:?}: a private-use scheme must be a reverse domain name the app owns, e.g. com.example.app:/oauth (RFC 8252 7.1)"
        ));
    }
    Ok(())
}

/// RFC 6749 appendix A.4: `scope-token = 1*NQCHAR`.
pub fn is_valid_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Checks the `clients` list: at least one, ids unique, each client valid.
pub(crate) fn validate_all(clients: &[ClientConfig], errors: &mut Errors) {
    if clients.is_empty() {
        errors.push("clients", "at least one client is required");
    }
    let mut seen = HashSet::new();
    for (i, client) in clients.iter().enumerate() {
        let path = format!("clients[{i}]");
        if !seen.insert(client.client_id.as_str()) {
            errors.push(
                format!("{path}.clientId"),
                format!("duplicate client id {:?}", client.client_id),
            );
        }
        client.validate(&path, errors);
    }
}

impl ClientConfig {
    fn validate(&self, path: &str, errors: &mut Errors) {
        if let Some(b) = &self.branding {
            b.validate(&format!("{path}.branding"), false, errors);
        }
        if self.client_id.is_empty()
            || self.client_id.len() > 255
            || !self.client_id.chars().all(|ch| ch.is_ascii_graphic())
        {
            errors.push(
                format!("{path}.clientId"),
                "must be 1 to 255 printable ASCII characters without spaces",
            );
        }
        if self.grant_types.is_empty() {
            errors.push(
                format!("{path}.grantTypes"),
                "must name at least one grant type",
            );
        }
        let mut grants = HashSet::new();
        for (j, g) in self.grant_types.iter().enumerate() {
            if !grants.insert(*g) {
                errors.push(
                    format!("{path}.grantTypes[{j}]"),
                    format!("duplicate grant type {}", g.as_str()),
                );
            }
        }
        if grants.contains(&GrantType::RefreshToken)
            && !grants.contains(&GrantType::AuthorizationCode)
        {
            errors.push(
                format!("{path}.grantTypes"),
                "refresh_token needs authorization_code (refresh tokens are issued only to linked users)",
            );
        }
        if let Some(vendor) = &self.alexa_vendor_id
            && (vendor.is_empty() || !vendor.chars().all(|ch| ch.is_ascii_alphanumeric()))
        {
            errors.push(
                format!("{path}.alexaVendorId"),
                "must be the alphanumeric vendor id shown in the Alexa developer console",
            );
        }
        let check = if self.public {
            check_native_redirect_uri
        } else {
            check_redirect_uri
        };
        for (j, uri) in self.redirect_uris.iter().enumerate() {
            if let Err(message) = check(uri) {
                errors.push(format!("{path}.redirectUris[{j}]"), message);
            }
        }
        if grants.contains(&GrantType::AuthorizationCode)
            && self.effective_redirect_uris().is_empty()
        {
            errors.push(
                format!("{path}.redirectUris"),
                "the authorization_code grant needs redirectUris or alexaVendorId",
            );
        }
        for (j, scope) in self.scopes.iter().enumerate() {
            if !is_valid_scope_token(scope) {
                errors.push(
                    format!("{path}.scopes[{j}]"),
                    format!("{scope:?} is not a valid OAuth scope token"),
                );
            }
        }
        if self.access_token_lifetime_seconds < ALEXA_MIN_ACCESS_TOKEN_LIFETIME_SECONDS {
            errors.push(
                format!("{path}.accessTokenLifetimeSeconds"),
                format!(
                    "must be at least {ALEXA_MIN_ACCESS_TOKEN_LIFETIME_SECONDS} (Alexa's minimum), got {}",
                    self.access_token_lifetime_seconds
                ),
            );
        }
        if self.access_token_lifetime_seconds > MAX_ACCESS_TOKEN_LIFETIME_SECONDS {
            errors.push(
                format!("{path}.accessTokenLifetimeSeconds"),
                format!(
                    "must be at most {MAX_ACCESS_TOKEN_LIFETIME_SECONDS}, got {}",
                    self.access_token_lifetime_seconds
                ),
            );
        }
        self.refresh_token
            .validate(self.access_token_lifetime_seconds, path, errors);
        self.validate_client_type(path, errors);
    }

    /// What being public or confidential asks of the rest of the client.
    fn validate_client_type(&self, path: &str, errors: &mut Errors) {
        if !self.public {
            if self.client_secret_file.is_none() {
                errors.push(
                    format!("{path}.clientSecretFile"),
                    "is required for a confidential client (set public: true for an app that cannot keep a secret)",
                );
            }
            return;
        }
        if self.client_secret_file.is_some() {
            errors.push(
                format!("{path}.clientSecretFile"),
                "must be absent for a public client: it authenticates with client_id alone",
            );
        }
        if self.pkce != PkcePolicy::Required {
            errors.push(
                format!("{path}.pkce"),
                "must be Required for a public client: PKCE is what binds its codes to it (RFC 9700 2.1.1)",
            );
        }
        for (j, g) in self.grant_types.iter().enumerate() {
            if !PUBLIC_CLIENT_GRANT_TYPES.contains(g) {
                errors.push(
                    format!("{path}.grantTypes[{j}]"),
                    format!(
                        "a public client may not use {} (it has no secret to prove)",
                        g.as_str()
                    ),
                );
            }
        }
        // RFC 9700 4.14.2: a public client's refresh tokens must be
        // sender-constrained or rotated, so that a stolen one is detected.
        if self.grant_types.contains(&GrantType::RefreshToken) && !self.refresh_token.rotation {
            errors.push(
                format!("{path}.refreshToken.rotation"),
                "must be true for a public client (RFC 9700 4.14.2: reuse of a stolen refresh token is then detected)",
            );
        }
        if self.partner_token_access {
            errors.push(
                format!("{path}.partnerTokenAccess"),
                "must be false for a public client: Amazon tokens are served only to a client that can authenticate",
            );
        }
    }
}

impl RefreshTokenPolicy {
    fn validate(&self, access_token_lifetime_seconds: u64, path: &str, errors: &mut Errors) {
        if self.grace_period_seconds > MAX_GRACE_PERIOD_SECONDS {
            errors.push(
                format!("{path}.refreshToken.gracePeriodSeconds"),
                format!(
                    "must be at most {MAX_GRACE_PERIOD_SECONDS}, got {}",
                    self.grace_period_seconds
                ),
            );
        }
        if let Some(idle) = self.idle_lifetime_seconds {
            if !self.rotation {
                errors.push(
                    format!("{path}.refreshToken.idleLifetimeSeconds"),
                    "needs rotation: true (an idle lifetime is renewed by rotating the token)",
                );
            }
            if idle < access_token_lifetime_seconds {
                errors.push(
                    format!("{path}.refreshToken.idleLifetimeSeconds"),
                    "must be at least accessTokenLifetimeSeconds",
                );
            }
        }
        if let Some(abs) = self.absolute_lifetime_seconds
            && abs < access_token_lifetime_seconds
        {
            errors.push(
                format!("{path}.refreshToken.absoluteLifetimeSeconds"),
                "must be at least accessTokenLifetimeSeconds",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{invalid_fields, minimal};

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
    fn access_token_lifetime_below_alexa_minimum_is_rejected() {
        let mut c = minimal();
        c.clients[0].access_token_lifetime_seconds = 300;
        let errors = c.validate().expect_err("too short");
        assert_eq!(errors[0].field, "clients[0].accessTokenLifetimeSeconds");
        assert!(errors[0].message.contains("360"), "{}", errors[0]);
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
    fn refresh_policy_limits_are_checked() {
        let mut c = minimal();
        let r = &mut c.clients[0].refresh_token;
        r.grace_period_seconds = MAX_GRACE_PERIOD_SECONDS + 1;
        r.rotation = false;
        r.idle_lifetime_seconds = Some(10);
        r.absolute_lifetime_seconds = Some(10);
        assert_eq!(
            invalid_fields(&c),
            vec![
                "clients[0].refreshToken.gracePeriodSeconds",
                "clients[0].refreshToken.idleLifetimeSeconds",
                "clients[0].refreshToken.idleLifetimeSeconds",
                "clients[0].refreshToken.absoluteLifetimeSeconds",
            ]
        );
    }

    /// A public app client as the README shows it.
    fn public_app() -> ClientConfig {
        serde_yaml::from_str(
            "clientId: app\npublic: true\nredirectUris: [\"https://app.example.com/oauth\"]\n",
        )
        .expect("public client parses")
    }

    #[test]
    fn existing_configs_stay_confidential_and_a_public_client_needs_no_secret() {
        let c = minimal();
        assert!(!c.clients[0].public);
        assert_eq!(
            c.clients[0].kind(),
            Some(ClientKind::Confidential {
                secret_file: Path::new("/secrets/alexa")
            })
        );
        let mut c = minimal();
        c.clients.push(public_app());
        c.validate()
            .expect("a public client without a secret is valid");
        assert_eq!(c.clients[1].kind(), Some(ClientKind::Public));
        let mut both = public_app();
        both.client_secret_file = Some("/secrets/app".into());
        assert_eq!(
            both.kind(),
            None,
            "a public client with a secret is neither"
        );
        // Serializing keeps a confidential client's YAML as it was.
        let yaml = serde_yaml::to_string(&minimal().clients[0]).expect("yaml");
        assert!(!yaml.contains("public"), "{yaml}");
    }

    #[test]
    fn client_type_rules_name_the_field() {
        type Edit = fn(&mut ClientConfig);
        let cases: [(&str, Edit, &[&str]); 7] = [
            (
                "confidential without a secret",
                |c| {
                    c.public = false;
                    c.client_secret_file = None;
                },
                &["clients[1].clientSecretFile"],
            ),
            (
                "public with a secret",
                |c| c.client_secret_file = Some("/secrets/app".into()),
                &["clients[1].clientSecretFile"],
            ),
            (
                "public without PKCE",
                |c| c.pkce = PkcePolicy::OptionalInsecure,
                &["clients[1].pkce"],
            ),
            (
                "public with client_credentials",
                |c| c.grant_types.push(GrantType::ClientCredentials),
                &["clients[1].grantTypes[2]"],
            ),
            (
                "public refresh tokens without rotation",
                |c| c.refresh_token.rotation = false,
                &["clients[1].refreshToken.rotation"],
            ),
            (
                "public with partner-token access",
                |c| c.partner_token_access = true,
                &["clients[1].partnerTokenAccess"],
            ),
            (
                "public, authorization_code only",
                |c| c.grant_types = vec![GrantType::AuthorizationCode],
                &[],
            ),
        ];
        for (name, edit, expected) in cases {
            let mut c = minimal();
            let mut app = public_app();
            edit(&mut app);
            c.clients.push(app);
            let mut fields = match c.validate() {
                Ok(()) => vec![],
                Err(errors) => errors.into_iter().map(|e| e.field).collect::<Vec<_>>(),
            };
            // A field may be named twice (partnerTokenAccess also needs a
            // partner, which `minimal` lacks): which fields, not how often.
            fields.dedup();
            assert_eq!(fields, expected, "{name}");
        }
    }

    #[test]
    fn a_public_client_may_use_its_own_reverse_domain_scheme() {
        let mut c = minimal();
        let mut app = public_app();
        app.redirect_uris = vec![
            "com.example.app:/oauth".into(),
            "https://app.example.com/oauth".into(),
            "myapp:/oauth".into(),
            "com.example.app:/oauth#frag".into(),
            "http://app.example.com/oauth".into(),
        ];
        c.clients.push(app);
        assert_eq!(
            invalid_fields(&c),
            vec![
                "clients[1].redirectUris[2]",
                "clients[1].redirectUris[3]",
                "clients[1].redirectUris[4]",
            ]
        );
        // A confidential client keeps https (or loopback http) only.
        let mut c = minimal();
        c.clients[0].redirect_uris = vec!["com.example.app:/oauth".into()];
        assert_eq!(invalid_fields(&c), vec!["clients[0].redirectUris[0]"]);
    }

    #[test]
    fn scope_tokens_follow_rfc6749() {
        assert!(is_valid_scope_token("profile:read"));
        assert!(!is_valid_scope_token("two words"));
        assert!(!is_valid_scope_token("quote\""));
        assert!(!is_valid_scope_token(""));
    }
}
