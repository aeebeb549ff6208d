//! `identity.ldap`: users of an LDAP directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Errors;

/// Default `userFilter`.
pub const DEFAULT_USER_FILTER: &str = "(uid={username})";
/// Default `idAttribute` (OpenLDAP's; Active Directory's is `objectGUID`).
pub const DEFAULT_ID_ATTRIBUTE: &str = "entryUUID";
/// Default `displayNameAttribute`.
pub const DEFAULT_DISPLAY_NAME_ATTRIBUTE: &str = "cn";
/// Default `poolSize`.
pub const DEFAULT_POOL_SIZE: usize = 4;
/// Default `timeoutSeconds`.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 5;
/// Default `userCheckSeconds`.
pub const DEFAULT_USER_CHECK_SECONDS: u64 = 300;

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
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Immutable attribute that identifies a user across renames
    /// (`entryUUID` on OpenLDAP, `objectGUID` on Active Directory).
    #[serde(default = "default_id_attribute")]
    pub id_attribute: String,
    /// Attribute with the name shown on pages; the username when absent.
    #[serde(default = "default_display_name_attribute")]
    pub display_name_attribute: String,
    /// Connections to keep open to the directory (1 to 64).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Timeout of connecting, and of each LDAP operation (1 to 30 seconds).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// A refresh (and a partner-token read) first checks that the user is
    /// still in the directory (matching `userFilter`, found by
    /// `idAttribute`); the answer is reused this long (0 to 86400 seconds;
    /// 0: ask on every refresh). A user deleted from the directory loses
    /// every link at the next refresh after this.
    // Left out of rendered configs at the default, so that an upgrade does
    // not change (and roll) every LDAP deployment's config.
    #[serde(
        default = "default_user_check_seconds",
        skip_serializing_if = "is_default_user_check"
    )]
    pub user_check_seconds: u64,
}

fn default_user_filter() -> String {
    DEFAULT_USER_FILTER.to_owned()
}
fn default_id_attribute() -> String {
    DEFAULT_ID_ATTRIBUTE.to_owned()
}
fn default_display_name_attribute() -> String {
    DEFAULT_DISPLAY_NAME_ATTRIBUTE.to_owned()
}
fn default_pool_size() -> usize {
    DEFAULT_POOL_SIZE
}
fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}
fn default_user_check_seconds() -> u64 {
    DEFAULT_USER_CHECK_SECONDS
}
fn is_default_user_check(seconds: &u64) -> bool {
    *seconds == DEFAULT_USER_CHECK_SECONDS
}

impl LdapIdentityConfig {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        match self.url.scheme() {
            "ldap" => {}
            "ldaps" if self.start_tls => errors.push(
                "identity.ldap.startTls",
                "is for ldap:// URLs; ldaps:// is TLS from the start",
            ),
            "ldaps" => {}
            other => errors.push(
                "identity.ldap.url",
                format!("must be ldap:// or ldaps://, got {other}://"),
            ),
        }
        if self.url.host_str().is_none() {
            errors.push("identity.ldap.url", "must name a host");
        }
        if self.ca_file.is_some() && self.url.scheme() == "ldap" && !self.start_tls {
            errors.push(
                "identity.ldap.caFile",
                "is used only with ldaps:// or startTls: true",
            );
        }
        if self.bind_dn.trim().is_empty() {
            errors.push("identity.ldap.bindDn", "must not be empty");
        }
        if self.base_dn.trim().is_empty() {
            errors.push("identity.ldap.baseDn", "must not be empty");
        }
        if !self.user_filter.contains("{username}") {
            errors.push("identity.ldap.userFilter", "must contain {username}");
        }
        if !(self.user_filter.starts_with('(') && self.user_filter.ends_with(')')) {
            errors.push(
                "identity.ldap.userFilter",
                "must be an LDAP filter in parentheses, e.g. (uid={username})",
            );
        }
        for (field, value) in [
            ("idAttribute", &self.id_attribute),
            ("displayNameAttribute", &self.display_name_attribute),
        ] {
            if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                errors.push(
                    format!("identity.ldap.{field}"),
                    "must be an attribute name (letters, digits, '-')",
                );
            }
        }
        if !(1..=64).contains(&self.pool_size) {
            errors.push(
                "identity.ldap.poolSize",
                format!("must be between 1 and 64, got {}", self.pool_size),
            );
        }
        if !(1..=30).contains(&self.timeout_seconds) {
            errors.push(
                "identity.ldap.timeoutSeconds",
                format!("must be between 1 and 30, got {}", self.timeout_seconds),
            );
        }
        if self.user_check_seconds > 86_400 {
            errors.push(
                "identity.ldap.userCheckSeconds",
                format!(
                    "must be between 0 and 86400, got {}",
                    self.user_check_seconds
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use crate::fixture::invalid_fields;
    use crate::identity::with_identity;
    use crate::{Config, IdentityConfig};

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
}
