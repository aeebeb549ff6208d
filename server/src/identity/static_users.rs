//! The static backend: users and password hashes from the config or a file.
//!
//! A users file is re-read when it changes (Kubernetes updates a mounted
//! Secret in place): every login compares the file's modification time and
//! size with those of the last load, which costs one `stat`. A file that
//! turns invalid is reported and the previous users stay in effect.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;

use super::password::PasswordVerifier;
use super::{AuthError, IdentityProvider, User};
use crate::config::{StaticIdentityConfig, StaticUser, StaticUsersFile, check_static_users};

struct Entry {
    user: User,
    hash: Arc<str>,
}

type Users = Arc<HashMap<String, Entry>>;

/// What identifies one version of the users file.
type FileStamp = Option<(SystemTime, u64)>;

struct Source {
    path: PathBuf,
    loaded: FileStamp,
}

/// Users known from a list.
pub struct StaticUsers {
    users: RwLock<Users>,
    source: Option<tokio::sync::Mutex<Source>>,
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
        let (users, source) = match &config.users_file {
            Some(path) => {
                let loaded = stamp(path);
                let users = read_users_file(path)?;
                let source = Source {
                    path: path.clone(),
                    loaded,
                };
                (users, Some(tokio::sync::Mutex::new(source)))
            }
            None => (config.users.clone(), None),
        };
        Ok(StaticUsers {
            users: RwLock::new(index(users)),
            source,
            verifier,
        })
    }

    /// The current users, re-reading the file first if it changed.
    async fn current(&self) -> Users {
        if let Some(source) = &self.source {
            let mut source = source.lock().await;
            let now = stamp(&source.path);
            if now != source.loaded {
                source.loaded = now;
                let path = source.path.clone();
                match tokio::task::spawn_blocking(move || read_users_file(&path)).await {
                    Ok(Ok(users)) => {
                        tracing::info!(path = %source.path.display(), users = users.len(), "users file reloaded");
                        *self.users.write().unwrap_or_else(|e| e.into_inner()) = index(users);
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "users file changed but cannot be used; keeping the previous users");
                    }
                    Err(e) => tracing::error!(error = %e, "users file reload failed"),
                }
            }
        }
        self.users.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn index(users: Vec<StaticUser>) -> Users {
    Arc::new(
        users
            .into_iter()
            .map(|u| {
                let user = User {
                    id: u.id.clone().unwrap_or_else(|| u.username.clone()),
                    display_name: u.display_name.clone().unwrap_or_else(|| u.username.clone()),
                    username: u.username.clone(),
                    groups: u.groups,
                };
                (
                    u.username,
                    Entry {
                        user,
                        hash: u.password_hash.into(),
                    },
                )
            })
            .collect(),
    )
}

fn stamp(path: &Path) -> FileStamp {
    // `metadata` follows symlinks: Kubernetes swaps a `..data` symlink.
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
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
        let users = self.current().await;
        match users.get(username) {
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

    /// Looks in the current list: a users file is re-read first when it
    /// changed (one `stat` otherwise), so an edit counts at once.
    async fn exists(&self, user_id: &str) -> Result<bool, AuthError> {
        let users = self.current().await;
        Ok(users.values().any(|entry| entry.user.id == user_id))
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

    #[tokio::test]
    async fn a_changed_users_file_is_reloaded_and_a_broken_one_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("users.yaml");
        let bcrypt_hash = bcrypt::hash("old-pw", 4).expect("hash");
        std::fs::write(
            &path,
            format!("users:\n  - username: ann\n    passwordHash: \"{bcrypt_hash}\"\n"),
        )
        .expect("write");
        let config = StaticIdentityConfig {
            users_file: Some(path.clone()),
            users: vec![],
        };
        let users = StaticUsers::load(&config, PasswordVerifier::new(1)).expect("load");
        users
            .authenticate("ann", "old-pw")
            .await
            .expect("old password");

        // Rotated: ann gets an argon2 hash, carol is added.
        let cheap = argon2::Params::new(64, 1, 1, None).expect("params");
        let argon = super::super::password::hash_argon2_with("new-pw", cheap);
        let carol = bcrypt::hash("carol-pw", 4).expect("hash");
        std::fs::write(
            &path,
            format!(
                "users:\n  - username: ann\n    passwordHash: \"{argon}\"\n    groups: [admins]\n  - username: carol\n    passwordHash: \"{carol}\"\n"
            ),
        )
        .expect("rewrite");
        assert!(matches!(
            users.authenticate("ann", "old-pw").await,
            Err(AuthError::InvalidCredentials)
        ));
        let ann = users
            .authenticate("ann", "new-pw")
            .await
            .expect("new password");
        assert_eq!(ann.groups, vec!["admins".to_owned()]);
        users
            .authenticate("carol", "carol-pw")
            .await
            .expect("added user");

        // A broken edit keeps the last good users.
        std::fs::write(
            &path,
            "users:\n  - username: ann\n    passwordHash: plain-text-oops\n",
        )
        .expect("break");
        users
            .authenticate("ann", "new-pw")
            .await
            .expect("previous users stay");
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
