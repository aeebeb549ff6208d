//! `authorization`: lifetimes of the browser-facing parts of the
//! authorization flow (codes, login cookies, forms).

use serde::{Deserialize, Serialize};

use crate::error::Errors;

/// RFC 6749 section 4.1.2 recommends at most ten minutes; we allow two.
pub const MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS: u64 = 120;
/// Default `codeLifetimeSeconds`.
pub const DEFAULT_CODE_LIFETIME_SECONDS: u64 = 60;
/// Default `loginSessionSeconds`.
pub const DEFAULT_LOGIN_SESSION_SECONDS: u64 = 3600;
/// Default `formLifetimeSeconds`.
pub const DEFAULT_FORM_LIFETIME_SECONDS: u64 = 900;

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

fn default_code_lifetime() -> u64 {
    DEFAULT_CODE_LIFETIME_SECONDS
}
fn default_login_session() -> u64 {
    DEFAULT_LOGIN_SESSION_SECONDS
}
fn default_form_lifetime() -> u64 {
    DEFAULT_FORM_LIFETIME_SECONDS
}

impl AuthorizationConfig {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        if !(1..=MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS).contains(&self.code_lifetime_seconds) {
            errors.push(
                "authorization.codeLifetimeSeconds",
                format!(
                    "must be between 1 and {MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS}, got {}",
                    self.code_lifetime_seconds
                ),
            );
        }
        if !(60..=86_400).contains(&self.login_session_seconds) {
            errors.push(
                "authorization.loginSessionSeconds",
                format!(
                    "must be between 60 and 86400, got {}",
                    self.login_session_seconds
                ),
            );
        }
        if !(60..=3600).contains(&self.form_lifetime_seconds) {
            errors.push(
                "authorization.formLifetimeSeconds",
                format!(
                    "must be between 60 and 3600, got {}",
                    self.form_lifetime_seconds
                ),
            );
        }
    }
}
