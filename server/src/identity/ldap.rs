//! The LDAP backend: find the user with a service account, then bind as the
//! user to check the password.
//!
//! Connections are pooled: at most `poolSize` are open, idle ones are kept
//! for the next login. A connection that checked a user's password is bound
//! as that user; it is bound as the service account again before its next
//! search. Every connect and operation has the configured timeout, so a
//! directory that hangs makes the login page say "unavailable" instead of
//! holding the request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, ldap_escape};
use tokio::sync::Semaphore;

use super::{AuthError, IdentityProvider, User};
use crate::config::LdapIdentityConfig;

/// LDAP result code of a failed bind (RFC 4511 4.1.9).
const INVALID_CREDENTIALS: u32 = 49;

/// Why the LDAP backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LdapSetupError {
    /// A file could not be read.
    #[error("failed to read {what} {path}: {message}")]
    File {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// What one pooled connection is used for.
enum Op<'a> {
    /// Check a password.
    Login {
        username: &'a str,
        password: &'a str,
    },
    /// Find a user by id (is it still there?).
    Lookup { id: &'a str },
}

/// What an [`Op`] found.
enum Done {
    Login(Result<User, AuthError>),
    Lookup(bool),
}

struct Connection {
    ldap: Ldap,
    /// Bound as the service account (not as a user who just logged in).
    service_bound: bool,
}

/// A directory that users log in against.
pub struct LdapDirectory {
    config: LdapIdentityConfig,
    bind_password: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    timeout: Duration,
}

impl LdapDirectory {
    /// Reads the bind password and CA files the config names. Connects
    /// lazily, on the first login, so that the server starts (and serves
    /// tokens) while the directory is down.
    pub fn new(config: &LdapIdentityConfig) -> Result<LdapDirectory, LdapSetupError> {
        let read = |what, path: &std::path::Path| {
            std::fs::read(path).map_err(|e| LdapSetupError::File {
                what,
                path: path.display().to_string(),
                message: e.to_string(),
            })
        };
        let bind_password = String::from_utf8_lossy(&read(
            "the LDAP bind password file",
            &config.bind_password_file,
        )?)
        .trim_end_matches(['\r', '\n'])
        .to_owned();
        let tls = match &config.ca_file {
            Some(path) => {
                let pem = read("the LDAP CA file", path)?;
                Some(Arc::new(crate::ca_bundle::client_config(&pem).map_err(
                    |message| LdapSetupError::File {
                        what: "the LDAP CA file",
                        path: path.display().to_string(),
                        message,
                    },
                )?))
            }
            None => None,
        };
        Ok(LdapDirectory {
            config: config.clone(),
            bind_password,
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(config.pool_size),
            timeout: Duration::from_secs(config.timeout_seconds),
        })
    }

    async fn connect(&self) -> Result<Connection, LdapError> {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.config.start_tls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, ldap) =
            LdapConnAsync::from_url_with_settings(settings, &self.config.url).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(Connection {
            ldap,
            service_bound: false,
        })
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put_idle(&self, mut conn: Connection) {
        if !conn.ldap.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
    }

    /// Binds as the service account unless the connection already is.
    async fn bind_service(&self, conn: &mut Connection) -> Result<(), LdapError> {
        if !conn.service_bound {
            conn.ldap
                .with_timeout(self.timeout)
                .simple_bind(&self.config.bind_dn, &self.bind_password)
                .await?
                .success()?;
            conn.service_bound = true;
        }
        Ok(())
    }

    /// One login on one connection.
    async fn login_on(
        &self,
        conn: &mut Connection,
        username: &str,
        password: &str,
    ) -> Result<Result<User, AuthError>, LdapError> {
        let c = &self.config;
        self.bind_service(conn).await?;
        let filter = c.user_filter.replace("{username}", &ldap_escape(username));
        let attrs = [c.id_attribute.as_str(), c.display_name_attribute.as_str()];
        let (entries, _) = conn
            .ldap
            .with_timeout(self.timeout)
            .search(&c.base_dn, Scope::Subtree, &filter, attrs)
            .await?
            .success()?;
        let entry = match entries.len() {
            1 => SearchEntry::construct(entries.into_iter().next().expect("one entry")),
            n => {
                if n > 1 {
                    tracing::warn!(
                        matches = n,
                        "LDAP userFilter matched several entries; refusing the login"
                    );
                }
                // Spend one bind round trip, as for an existing user, so
                // timing does not tell which usernames exist.
                let decoy = format!("cn=no-such-user,{}", c.base_dn);
                conn.service_bound = false;
                let _ = conn
                    .ldap
                    .with_timeout(self.timeout)
                    .simple_bind(&decoy, password)
                    .await?;
                return Ok(Err(AuthError::InvalidCredentials));
            }
        };
        let Some(id) = attribute(&entry, &c.id_attribute) else {
            tracing::error!(dn = %entry.dn, attribute = %c.id_attribute, "LDAP user has no id attribute");
            return Ok(Err(AuthError::Unavailable(format!(
                "the directory entry has no {} attribute (identity.ldap.idAttribute)",
                c.id_attribute
            ))));
        };
        conn.service_bound = false;
        let bind = conn
            .ldap
            .with_timeout(self.timeout)
            .simple_bind(&entry.dn, password)
            .await?;
        match bind.rc {
            0 => Ok(Ok(User {
                id: format!("ldap:{id}"),
                display_name: attribute(&entry, &c.display_name_attribute)
                    .unwrap_or_else(|| username.to_owned()),
                username: username.to_owned(),
                groups: vec![],
            })),
            INVALID_CREDENTIALS => Ok(Err(AuthError::InvalidCredentials)),
            _ => Err(LdapError::LdapResult { result: bind }),
        }
    }
}

#[async_trait]
impl IdentityProvider for LdapDirectory {
    async fn authenticate(&self, username: &str, password: &str) -> Result<User, AuthError> {
        // An empty password is an "unauthenticated bind" (RFC 4513 5.1.2),
        // which many directories accept for any DN: never send one.
        if password.is_empty() || username.is_empty() {
            return Err(AuthError::InvalidCredentials);
        }
        match self
            .on_connection(&Op::Login { username, password })
            .await?
        {
            Done::Login(result) => result,
            Done::Lookup(_) => unreachable!("a login answers a login"),
        }
    }

    async fn exists(&self, user_id: &str) -> Result<bool, AuthError> {
        let Some(id) = user_id.strip_prefix("ldap:") else {
            return Ok(false);
        };
        match self.on_connection(&Op::Lookup { id }).await? {
            Done::Lookup(found) => Ok(found),
            Done::Login(_) => unreachable!("a lookup answers a lookup"),
        }
    }
}

impl LdapDirectory {
    /// Runs `op` on one connection.
    async fn run(&self, conn: &mut Connection, op: &Op<'_>) -> Result<Done, LdapError> {
        match op {
            Op::Login { username, password } => self
                .login_on(conn, username, password)
                .await
                .map(Done::Login),
            Op::Lookup { id } => self.lookup_on(conn, id).await.map(Done::Lookup),
        }
    }

    /// Runs `op` on a pooled connection (or a new one), within the pool's
    /// limit. A pooled connection may have been closed by the directory
    /// while idle; then `op` is tried once more on a fresh one.
    async fn on_connection(&self, op: &Op<'_>) -> Result<Done, AuthError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::error!(error = %e, url = %self.config.url, "LDAP directory unavailable");
            AuthError::Unavailable(format!("LDAP: {e}"))
        };
        let Ok(_permit) = tokio::time::timeout(self.timeout, self.permits.acquire()).await else {
            return Err(unavailable(&"every pooled connection is busy"));
        };
        if let Some(mut conn) = self.take_idle() {
            match self.run(&mut conn, op).await {
                Ok(result) => {
                    self.put_idle(conn);
                    return Ok(result);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "pooled LDAP connection failed; reconnecting")
                }
            }
        }
        let mut conn = self.connect().await.map_err(|e| unavailable(&e))?;
        let result = self.run(&mut conn, op).await.map_err(|e| unavailable(&e))?;
        self.put_idle(conn);
        Ok(result)
    }

    /// Whether exactly one entry still has this id and matches the user
    /// filter (with any username), searched as the service account.
    async fn lookup_on(&self, conn: &mut Connection, id: &str) -> Result<bool, LdapError> {
        let c = &self.config;
        self.bind_service(conn).await?;
        let filter = format!(
            "(&{}({}={}))",
            c.user_filter.replace("{username}", "*"),
            c.id_attribute,
            id_assertion(&c.id_attribute, id)
        );
        let (entries, _) = conn
            .ldap
            .with_timeout(self.timeout)
            .search(&c.base_dn, Scope::Subtree, &filter, ["1.1"])
            .await?
            .success()?;
        Ok(entries.len() == 1)
    }
}

/// The assertion value that matches a stored id: escaped text, or for
/// Active Directory's binary `objectGUID` (kept as hex) its bytes escaped
/// one by one (RFC 4515).
fn id_assertion(attribute: &str, id: &str) -> String {
    let is_hex = id.len().is_multiple_of(2) && id.bytes().all(|b| b.is_ascii_hexdigit());
    if attribute.eq_ignore_ascii_case("objectGUID") && is_hex {
        id.as_bytes()
            .chunks(2)
            .map(|pair| format!("\\{}", String::from_utf8_lossy(pair)))
            .collect()
    } else {
        ldap_escape(id).into_owned()
    }
}

/// The first value of `name` (case-insensitive); binary values (such as
/// Active Directory's `objectGUID`) as lowercase hex.
fn attribute(entry: &SearchEntry, name: &str) -> Option<String> {
    let text = entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned());
    text.or_else(|| {
        entry
            .bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect())
    })
    .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_ids_become_hex_and_names_match_any_case() {
        let entry = SearchEntry {
            dn: "cn=x".into(),
            attrs: [("cn".to_owned(), vec!["Ann".to_owned()])].into(),
            bin_attrs: [("objectGUID".to_owned(), vec![vec![0xab, 0x01]])].into(),
        };
        assert_eq!(attribute(&entry, "CN"), Some("Ann".into()));
        assert_eq!(attribute(&entry, "objectguid"), Some("ab01".into()));
        assert_eq!(attribute(&entry, "mail"), None);
    }

    #[test]
    fn ids_are_looked_up_by_an_escaped_assertion() {
        assert_eq!(id_assertion("entryUUID", "a*b)"), "a\\2ab\\29");
        assert_eq!(id_assertion("objectGUID", "ab01"), "\\ab\\01");
        assert_eq!(
            id_assertion("objectGUID", "not-hex"),
            "not-hex",
            "a text id stays text"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        assert!(crate::ca_bundle::client_config(b"not a pem").is_err());
    }
}
