//! `clients`: the OAuth clients (Alexa is one), their grant types, and their
//! refresh-token and PKCE policies.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

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
    /// Limits `partnerTokenAccess` to these partners (`partners[].id`): the
    /// client reads tokens of, and forwards Alexa grants for, only these.
    /// Empty (the default): every partner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner_token_partners: Vec<String>,
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
        for (j, uri) in self.redirect_uris.iter().enumerate() {
            if let Err(message) = check_redirect_uri(uri) {
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

    #[test]
    fn scope_tokens_follow_rfc6749() {
        assert!(is_valid_scope_token("profile:read"));
        assert!(!is_valid_scope_token("two words"));
        assert!(!is_valid_scope_token("quote\""));
        assert!(!is_valid_scope_token(""));
    }
}
