//! `identity.oidc`: login delegated to an upstream OpenID Provider.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Errors;
use crate::is_valid_scope_token;
use crate::rules::{is_simple_id, url_is_loopback};

/// Default `scopes`.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile"];
/// Default `userIdClaim`: the subject, which a provider never reassigns.
pub const DEFAULT_USER_ID_CLAIM: &str = "sub";
/// Default `displayNameClaim`.
pub const DEFAULT_DISPLAY_NAME_CLAIM: &str = "name";
/// Default `requestTimeoutSeconds`.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 5;

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
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID-token claim that identifies a user. Keep `sub` unless the
    /// provider documents another claim as immutable and never reassigned.
    #[serde(default = "default_user_id_claim")]
    pub user_id_claim: String,
    /// The ID-token claim with the name shown on pages.
    #[serde(default = "default_display_name_claim")]
    pub display_name_claim: String,
    /// Short stable name of the issuer in user ids. Absent: the first 16 hex
    /// digits of the SHA-256 of `issuerUrl`. Set it before migrating to a
    /// new issuer URL that keeps the same subjects.
    #[serde(default)]
    pub issuer_id: Option<String>,
    /// Timeout of each request to the provider (1 to 30 seconds).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// PEM file with the CA certificate(s) trusted for the provider's
    /// certificate (discovery, keys and token requests), instead of the
    /// public roots: a provider with a private CA, or an egress proxy that
    /// re-signs TLS. Absent: the public (webpki) roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The provider cannot be asked whether a user still exists without
    /// the user present, so a user deleted upstream keeps their links until
    /// they end. With this set (60 to 31536000 seconds), a link older than
    /// this cannot be refreshed any more: it is revoked and the user links
    /// again, logging in at the provider. Unlike a client's
    /// `refreshToken.absoluteLifetimeSeconds`, it applies to links made
    /// before it was set too. Absent: links never age out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_grant_age_seconds: Option<u64>,
}

fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
}
fn default_user_id_claim() -> String {
    DEFAULT_USER_ID_CLAIM.to_owned()
}
fn default_display_name_claim() -> String {
    DEFAULT_DISPLAY_NAME_CLAIM.to_owned()
}
fn default_request_timeout() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_SECONDS
}

impl OidcIdentityConfig {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        let url = &self.issuer_url;
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
        if self.client_id.is_empty() {
            errors.push("identity.oidc.clientId", "must not be empty");
        }
        for (j, scope) in self.scopes.iter().enumerate() {
            if !is_valid_scope_token(scope) {
                errors.push(
                    format!("identity.oidc.scopes[{j}]"),
                    format!("{scope:?} is not a valid OAuth scope token"),
                );
            }
        }
        if self.user_id_claim.is_empty() {
            errors.push("identity.oidc.userIdClaim", "must not be empty");
        }
        if self.display_name_claim.is_empty() {
            errors.push("identity.oidc.displayNameClaim", "must not be empty");
        }
        if let Some(id) = &self.issuer_id
            && !is_simple_id(id)
        {
            errors.push(
                "identity.oidc.issuerId",
                "must be letters, digits, '-', '_' or '.' (it becomes part of user ids)",
            );
        }
        if let Some(age) = self.max_grant_age_seconds
            && !(60..=31_536_000).contains(&age)
        {
            errors.push(
                "identity.oidc.maxGrantAgeSeconds",
                format!("must be between 60 and 31536000, got {age}"),
            );
        }
        if !(1..=30).contains(&self.request_timeout_seconds) {
            errors.push(
                "identity.oidc.requestTimeoutSeconds",
                format!(
                    "must be between 1 and 30, got {}",
                    self.request_timeout_seconds
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use crate::IdentityConfig;
    use crate::fixture::invalid_fields;
    use crate::identity::with_identity;

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
}
