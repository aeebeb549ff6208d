//! `identity`: where users log in, exactly one backend.

use serde::{Deserialize, Serialize};

use crate::error::Errors;

pub mod ldap;
pub mod oidc;
pub mod static_users;

pub use ldap::LdapIdentityConfig;
pub use oidc::OidcIdentityConfig;
pub use static_users::{
    PasswordHashKind, StaticIdentityConfig, StaticUser, StaticUsersFile, check_static_users,
};

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

    pub(crate) fn validate(&self, errors: &mut Errors) {
        match self {
            IdentityConfig::Static(s) => s.validate(errors),
            IdentityConfig::Ldap(l) => l.validate(errors),
            IdentityConfig::Oidc(o) => o.validate(errors),
        }
    }
}

/// A config whose identity section is `yaml`, the rest [`crate::fixture::MINIMAL`].
#[cfg(test)]
pub(crate) fn with_identity(yaml: &str) -> crate::Config {
    use crate::fixture::MINIMAL;
    let start = MINIMAL.find("identity:").expect("identity");
    let end = MINIMAL.find("store:").expect("store");
    let text = format!("{}{yaml}{}", &MINIMAL[..start], &MINIMAL[end..]);
    crate::Config::from_yaml(&text).expect("parses")
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use crate::fixture::MINIMAL;

    #[test]
    fn two_identity_backends_at_once_are_refused() {
        let text = MINIMAL.replace(
            "identity:\n  static:",
            "identity:\n  oidc: {issuerUrl: https://x.example.com, clientId: a, clientSecretFile: /s}\n  static:",
        );
        assert!(Config::from_yaml(&text).is_err());
    }
}
