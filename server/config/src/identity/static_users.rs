//! `identity.static`: users with password hashes, inline or in a file.

use std::collections::HashSet;
use std::path::PathBuf;

use password_hash::PasswordHash;
use serde::{Deserialize, Serialize};

use crate::error::Errors;

/// Users with bcrypt or argon2 password hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticIdentityConfig {
    /// A YAML file `{users: [...]}` (as mounted from a Secret). Exclusive with `users`.
    #[serde(default)]
    pub users_file: Option<PathBuf>,
    /// Users listed inline. Exclusive with `usersFile`.
    #[serde(default)]
    pub users: Vec<StaticUser>,
}

/// A user of the static backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticUser {
    /// The login name.
    pub username: String,
    /// A PHC argon2 hash (`$argon2id$...`) or a bcrypt hash (`$2b$...`).
    pub password_hash: String,
    /// The stable id stored with this user's grants; defaults to the
    /// username. Set it when usernames may change.
    #[serde(default)]
    pub id: Option<String>,
    /// Name shown on pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Groups the user belongs to (informational; shown in logs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// The contents of a static users file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticUsersFile {
    /// The users.
    pub users: Vec<StaticUser>,
}

/// Which algorithm a stored hash uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordHashKind {
    /// `$argon2id$...` (also argon2i/argon2d).
    Argon2,
    /// `$2a$`, `$2b$`, `$2y$`.
    Bcrypt,
}

impl PasswordHashKind {
    /// Recognises and checks the syntax of a stored hash. The config's
    /// checks use it, so a hash that could never match is refused at start
    /// rather than at the user's first login.
    pub fn detect(hash: &str) -> Result<PasswordHashKind, String> {
        if hash.starts_with("$argon2") {
            match PasswordHash::new(hash) {
                Ok(parsed) if parsed.salt.is_some() && parsed.hash.is_some() => {
                    Ok(PasswordHashKind::Argon2)
                }
                Ok(_) => Err("not a valid argon2 PHC string: the salt or hash is missing".into()),
                Err(e) => Err(format!("not a valid argon2 PHC string: {e}")),
            }
        } else if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
            if hash.len() == 60 {
                Ok(PasswordHashKind::Bcrypt)
            } else {
                Err("not a valid bcrypt hash (expected 60 characters)".into())
            }
        } else {
            Err("must be an argon2 ($argon2id$...) or bcrypt ($2b$...) hash, never a plain password".into())
        }
    }
}

/// Problems in a list of static users, as `(index, ".field: message")`.
/// Shared by the inline list and the users file.
pub fn check_static_users(users: &[StaticUser]) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (i, u) in users.iter().enumerate() {
        if u.username.is_empty() || u.username.len() > 255 {
            problems.push((i, ".username: must be 1 to 255 characters".to_owned()));
        }
        if !names.insert(u.username.as_str()) {
            problems.push((i, format!(".username: duplicate user {:?}", u.username)));
        }
        let id = u.id.as_deref().unwrap_or(&u.username);
        if !ids.insert(id) {
            problems.push((i, format!(".id: duplicate user id {id:?}")));
        }
        if let Err(e) = PasswordHashKind::detect(&u.password_hash) {
            problems.push((i, format!(".passwordHash: {e}")));
        }
    }
    problems
}

impl StaticIdentityConfig {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        match (&self.users_file, self.users.is_empty()) {
            (Some(_), false) => {
                errors.push("identity.static", "set either usersFile or users, not both")
            }
            (None, true) => errors.push("identity.static", "set usersFile or users"),
            _ => {}
        }
        for (i, problem) in check_static_users(&self.users) {
            // `problem` is ".field: message"; the field joins the path.
            let (field, message) = problem.split_once(": ").unwrap_or((&problem, ""));
            errors.push(format!("identity.static.users[{i}]{field}"), message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentityConfig;
    use crate::fixture::{invalid_fields, minimal};

    #[test]
    fn static_identity_needs_exactly_one_source_and_valid_hashes() {
        let mut c = minimal();
        let IdentityConfig::Static(s) = &mut c.identity else {
            unreachable!("minimal config is static")
        };
        s.users_file = Some("/users.yaml".into());
        assert_eq!(invalid_fields(&c), vec!["identity.static"]);

        let mut c = minimal();
        let IdentityConfig::Static(s) = &mut c.identity else {
            unreachable!("minimal config is static")
        };
        s.users.push(StaticUser {
            username: "user".into(),
            password_hash: "plaintext".into(),
            id: None,
            display_name: None,
            groups: vec![],
        });
        assert_eq!(
            invalid_fields(&c),
            vec![
                "identity.static.users[1].username",
                "identity.static.users[1].id",
                "identity.static.users[1].passwordHash",
            ]
        );
        let errors = c.validate().expect_err("invalid");
        assert_eq!(
            errors[0].to_string(),
            "identity.static.users[1].username: duplicate user \"user\""
        );
    }

    #[test]
    fn hash_kinds_are_recognised() {
        assert_eq!(
            PasswordHashKind::detect(
                "$2b$04$KxvVQ1mqU3TjSeR9lZ6dpe7qXUWqZfYZCaqC5xJ/sn1J0Ccvm/V6u"
            ),
            Ok(PasswordHashKind::Bcrypt)
        );
        assert!(PasswordHashKind::detect("$argon2id$v=19$m=19456,t=2,p=1").is_err());
        assert!(PasswordHashKind::detect("hunter2").is_err());
    }
}
