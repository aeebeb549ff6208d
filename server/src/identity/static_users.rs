//! The static backend: users and password hashes from the config or a file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use super::password::PasswordVerifier;
use super::{AuthError, IdentityProvider, User};
use crate::config::{StaticIdentityConfig, StaticUser, StaticUsersFile, check_static_users};

struct Entry {
    user: User,
    hash: Arc<str>,
}

/// Users known from a list.
pub struct StaticUsers {
    users: HashMap<String, Entry>,
    verifier: PasswordVerifier,
}

/// Why a users file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StaticUsersError {
    /// Unreadable.
    #[error("failed to read users file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a valid users document.
    #[error("invalid users file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl StaticUsers {
    /// Loads the users the config names.
    pub fn load(
        config: &StaticIdentityConfig,
        verifier: PasswordVerifier,
    ) -> Result<StaticUsers, StaticUsersError> {
        let users = match &config.users_file {
            Some(path) => read_users_file(path)?,
            None => config.users.clone(),
        };
        Ok(StaticUsers::from_users(users, verifier))
    }

    fn from_users(users: Vec<StaticUser>, verifier: PasswordVerifier) -> StaticUsers {
        let users = users
            .into_iter()
            .map(|u| {
                let user = User {
                    id: u.id.clone().unwrap_or_else(|| u.username.clone()),
                    display_name: u.display_name.clone().unwrap_or_else(|| u.username.clone()),
                    username: u.username.clone(),
                };
                (
                    u.username,
                    Entry {
                        user,
                        hash: u.password_hash.into(),
                    },
                )
            })
            .collect();
        StaticUsers { users, verifier }
    }
}

fn read_users_file(path: &Path) -> Result<Vec<StaticUser>, StaticUsersError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| StaticUsersError::Read {
        path: shown.clone(),
        source,
    })?;
    let file: StaticUsersFile =
        serde_yaml::from_str(&text).map_err(|e| StaticUsersError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
    if let Some((i, problem)) = check_static_users(&file.users).into_iter().next() {
        return Err(StaticUsersError::Invalid {
            path: shown,
            message: format!("users[{i}]{problem}"),
        });
    }
    Ok(file.users)
}

#[async_trait]
impl IdentityProvider for StaticUsers {
    async fn authenticate(&self, username: &str, password: &str) -> Result<User, AuthError> {
        match self.users.get(username) {
            Some(entry) => {
                if self.verifier.verify(entry.hash.clone(), password).await {
                    Ok(entry.user.clone())
                } else {
                    Err(AuthError::InvalidCredentials)
                }
            }
            None => {
                self.verifier.verify_decoy(password).await;
                Err(AuthError::InvalidCredentials)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn users_file_loads_and_authenticates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("users.yaml");
        let hash = bcrypt::hash("pw", 4).expect("hash");
        std::fs::write(
            &path,
            format!("users:\n  - username: ann\n    id: u-1\n    displayName: Ann\n    passwordHash: \"{hash}\"\n"),
        )
        .expect("write");
        let config = StaticIdentityConfig {
            users_file: Some(path),
            users: vec![],
        };
        let users = StaticUsers::load(&config, PasswordVerifier::new(1)).expect("load");
        let ann = users.authenticate("ann", "pw").await.expect("login");
        assert_eq!(ann.id, "u-1");
        assert_eq!(ann.display_name, "Ann");
        assert!(matches!(
            users.authenticate("ann", "nope").await,
            Err(AuthError::InvalidCredentials)
        ));
        assert!(matches!(
            users.authenticate("bob", "pw").await,
            Err(AuthError::InvalidCredentials)
        ));
    }

    #[test]
    fn a_plain_password_in_the_users_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("users.yaml");
        std::fs::write(
            &path,
            "users:\n  - username: ann\n    passwordHash: hunter2\n",
        )
        .expect("write");
        let config = StaticIdentityConfig {
            users_file: Some(path),
            users: vec![],
        };
        let err = StaticUsers::load(&config, PasswordVerifier::new(1))
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("users[0].passwordHash"), "{err}");
    }
}
