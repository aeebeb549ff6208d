//! Who the user is: the identity backends.
//!
//! The password backends ([`static_users`], [`ldap`]) answer one question
//! behind [`IdentityProvider`], "do these credentials name a user, and
//! which?"; [`throttle`] guards them against guessing. The [`oidc`] backend
//! never sees a password: login is delegated to an upstream OpenID Provider
//! (see `web/upstream.rs`). Every backend returns a stable [`User::id`] that
//! grants are stored under: the static user's `id`, `ldap:<entryUUID>`, or
//! `oidc:<issuerId>:<sub>`.

pub mod ldap;
pub mod login;
pub mod oidc;
pub mod password;
pub mod presence;
pub mod static_users;
pub mod throttle;

use async_trait::async_trait;

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id stored with grants; never reused for another person.
    pub id: String,
    /// The name the user logged in with.
    pub username: String,
    /// Name shown on pages.
    pub display_name: String,
    /// Groups the backend reports (informational).
    pub groups: Vec<String>,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password; deliberately not saying which.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The backend could not answer (e.g. a directory is down).
    #[error("identity backend unavailable: {0}")]
    Unavailable(String),
}

/// An identity backend that checks a username and password.
#[async_trait]
pub trait IdentityProvider: Send + Sync + 'static {
    /// Checks the credentials; takes about as long for an unknown user as for
    /// a wrong password, so timing does not reveal which usernames exist.
    async fn authenticate(&self, username: &str, password: &str) -> Result<User, AuthError>;

    /// Whether the user with this [`User::id`] is still allowed to log in
    /// (still listed, still matching the directory's filter): asked before
    /// a refresh, so that removing a user ends their links.
    async fn exists(&self, user_id: &str) -> Result<bool, AuthError>;
}
