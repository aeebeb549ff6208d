//! `loginProtection`: brute-force protection of the password login.

use serde::{Deserialize, Serialize};

use crate::error::Errors;

/// Default `freeFailures`.
pub const DEFAULT_FREE_FAILURES: u32 = 3;
/// Default `maxDelaySeconds`.
pub const DEFAULT_MAX_DELAY_SECONDS: u64 = 30;
/// Default `lockoutFailures`.
pub const DEFAULT_LOCKOUT_FAILURES: u32 = 10;
/// Default `lockoutSeconds`.
pub const DEFAULT_LOCKOUT_SECONDS: u64 = 900;
/// Default `ipLockoutFailures`.
pub const DEFAULT_IP_LOCKOUT_FAILURES: u32 = 200;

/// Brute-force protection of the password login (static and LDAP backends).
///
/// Failed logins are counted per username (whether or not it exists) and
/// per client address. After `freeFailures` failures, each further attempt
/// must wait a delay that doubles per failure, up to `maxDelaySeconds`;
/// after `lockoutFailures` the username is locked for `lockoutSeconds`.
/// Counts are forgotten `lockoutSeconds` after the last failure; a
/// successful login clears its username's count. The counts live in the
/// store, shared by every replica and kept over restarts. Failed client
/// authentications (token, revocation, introspection, partner token) are
/// counted with the same numbers per client id and address.
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
            free_failures: DEFAULT_FREE_FAILURES,
            max_delay_seconds: DEFAULT_MAX_DELAY_SECONDS,
            lockout_failures: DEFAULT_LOCKOUT_FAILURES,
            lockout_seconds: DEFAULT_LOCKOUT_SECONDS,
            ip_lockout_failures: DEFAULT_IP_LOCKOUT_FAILURES,
            trust_forwarded_for: false,
        }
    }
}

fn default_free_failures() -> u32 {
    DEFAULT_FREE_FAILURES
}
fn default_max_delay() -> u64 {
    DEFAULT_MAX_DELAY_SECONDS
}
fn default_lockout_failures() -> u32 {
    DEFAULT_LOCKOUT_FAILURES
}
fn default_lockout_seconds() -> u64 {
    DEFAULT_LOCKOUT_SECONDS
}
fn default_ip_lockout_failures() -> u32 {
    DEFAULT_IP_LOCKOUT_FAILURES
}

impl LoginProtectionConfig {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        if self.free_failures > 100 {
            errors.push(
                "loginProtection.freeFailures",
                format!("must be at most 100, got {}", self.free_failures),
            );
        }
        if !(1..=3600).contains(&self.max_delay_seconds) {
            errors.push(
                "loginProtection.maxDelaySeconds",
                format!("must be between 1 and 3600, got {}", self.max_delay_seconds),
            );
        }
        if !(1..=1000).contains(&self.lockout_failures) {
            errors.push(
                "loginProtection.lockoutFailures",
                format!("must be between 1 and 1000, got {}", self.lockout_failures),
            );
        } else if self.lockout_failures <= self.free_failures {
            errors.push(
                "loginProtection.lockoutFailures",
                "must be greater than freeFailures",
            );
        }
        if !(1..=86_400).contains(&self.lockout_seconds) {
            errors.push(
                "loginProtection.lockoutSeconds",
                format!("must be between 1 and 86400, got {}", self.lockout_seconds),
            );
        }
        if !(1..=100_000).contains(&self.ip_lockout_failures) {
            errors.push(
                "loginProtection.ipLockoutFailures",
                format!(
                    "must be between 1 and 100000, got {}",
                    self.ip_lockout_failures
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{invalid_fields, minimal};

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
}
