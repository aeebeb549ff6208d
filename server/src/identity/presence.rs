//! Whether a user who linked is still allowed to: asked before a refresh
//! and before a partner-token read, so that a user removed from the
//! identity backend loses every link instead of keeping them forever.
//!
//! - static users: the list is looked at every time (a changed users file
//!   is re-read first; otherwise it costs one `stat`);
//! - LDAP: a search as the service account, by the user's id and the user
//!   filter; the answer is reused `identity.ldap.userCheckSeconds`;
//! - upstream OIDC: the provider cannot be asked about a user who is not
//!   present, so only `identity.oidc.maxGrantAgeSeconds` applies: a link
//!   older than that is treated like a departed user's.
//!
//! When the backend cannot answer (a directory outage) the refresh goes
//! ahead and a warning is logged: an outage must not unlink every user,
//! and the check runs again at the next refresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{AuthError, IdentityProvider};
use crate::store::UnixTime;

/// At most this many answers are cached; past it the cache starts over.
const MAX_CACHED: usize = 10_000;

/// The verdict on one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Still there (or the backend could not tell).
    Present,
    /// Gone from the backend, or the link is older than allowed.
    Gone,
}

enum Check {
    /// Ask a password backend, reusing answers for `ttl` seconds.
    Backend {
        backend: Arc<dyn IdentityProvider>,
        ttl: i64,
        answers: Mutex<HashMap<String, (bool, UnixTime)>>,
    },
    /// Nothing to ask (upstream OIDC): only the link's age counts.
    AgeOnly,
}

/// The check, as configured for the server's identity backend.
pub struct UserPresence {
    check: Check,
    max_grant_age: Option<i64>,
}

impl UserPresence {
    /// Checks users with a password backend, reusing an answer for
    /// `ttl_seconds` (0: always ask).
    pub fn backend(backend: Arc<dyn IdentityProvider>, ttl_seconds: u64) -> UserPresence {
        UserPresence {
            check: Check::Backend {
                backend,
                ttl: i64::try_from(ttl_seconds).unwrap_or(i64::MAX),
                answers: Mutex::new(HashMap::new()),
            },
            max_grant_age: None,
        }
    }

    /// For a backend that cannot be asked: links older than
    /// `max_grant_age_seconds` (when set) count as a departed user's.
    pub fn age_only(max_grant_age_seconds: Option<u64>) -> UserPresence {
        UserPresence {
            check: Check::AgeOnly,
            max_grant_age: max_grant_age_seconds.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        }
    }

    /// Whether `user_id`, whose link was made at `linked_at` (when known),
    /// may still use it at `now`.
    pub async fn verdict(
        &self,
        user_id: &str,
        linked_at: Option<UnixTime>,
        now: UnixTime,
    ) -> Presence {
        if let (Some(max), Some(linked_at)) = (self.max_grant_age, linked_at)
            && now.saturating_sub(linked_at) >= max
        {
            return Presence::Gone;
        }
        let Check::Backend {
            backend,
            ttl,
            answers,
        } = &self.check
        else {
            return Presence::Present;
        };
        let cached = lock(answers)
            .get(user_id)
            .filter(|(_, at)| now < at.saturating_add(*ttl))
            .map(|(exists, _)| *exists);
        let exists = match cached {
            Some(exists) => exists,
            None => match backend.exists(user_id).await {
                Ok(exists) => {
                    let mut answers = lock(answers);
                    if answers.len() >= MAX_CACHED {
                        answers.clear();
                    }
                    answers.insert(user_id.to_owned(), (exists, now));
                    exists
                }
                Err(AuthError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "could not check that a user still exists; allowing this refresh");
                    true
                }
                Err(AuthError::InvalidCredentials) => false,
            },
        };
        if exists {
            Presence::Present
        } else {
            Presence::Gone
        }
    }
}

fn lock(
    answers: &Mutex<HashMap<String, (bool, UnixTime)>>,
) -> std::sync::MutexGuard<'_, HashMap<String, (bool, UnixTime)>> {
    // Plain cached answers stay usable after a panic elsewhere.
    answers.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::identity::User;

    /// One user, `u-1`, who can be removed; counts the questions.
    #[derive(Default)]
    struct Directory {
        removed: AtomicBool,
        down: AtomicBool,
        asked: AtomicUsize,
    }

    #[async_trait]
    impl IdentityProvider for Directory {
        async fn authenticate(&self, _: &str, _: &str) -> Result<User, AuthError> {
            Err(AuthError::InvalidCredentials)
        }
        async fn exists(&self, user_id: &str) -> Result<bool, AuthError> {
            self.asked.fetch_add(1, Ordering::Relaxed);
            if self.down.load(Ordering::Relaxed) {
                return Err(AuthError::Unavailable("down".into()));
            }
            Ok(user_id == "u-1" && !self.removed.load(Ordering::Relaxed))
        }
    }

    #[tokio::test]
    async fn a_removed_user_is_gone_once_the_cached_answer_expires() {
        let dir = Arc::new(Directory::default());
        let presence = UserPresence::backend(dir.clone(), 60);
        assert_eq!(presence.verdict("u-1", None, 1000).await, Presence::Present);
        assert_eq!(presence.verdict("nobody", None, 1000).await, Presence::Gone);
        dir.removed.store(true, Ordering::Relaxed);
        assert_eq!(
            presence.verdict("u-1", None, 1059).await,
            Presence::Present,
            "the answer is reused for 60 s"
        );
        assert_eq!(dir.asked.load(Ordering::Relaxed), 2);
        assert_eq!(presence.verdict("u-1", None, 1060).await, Presence::Gone);
    }

    #[tokio::test]
    async fn an_outage_does_not_unlink_anyone() {
        let dir = Arc::new(Directory::default());
        dir.down.store(true, Ordering::Relaxed);
        let presence = UserPresence::backend(dir.clone(), 0);
        assert_eq!(presence.verdict("u-1", None, 1000).await, Presence::Present);
        dir.down.store(false, Ordering::Relaxed);
        dir.removed.store(true, Ordering::Relaxed);
        assert_eq!(
            presence.verdict("u-1", None, 1000).await,
            Presence::Gone,
            "an outage's answer is not cached"
        );
    }

    #[tokio::test]
    async fn without_a_backend_to_ask_only_the_links_age_counts() {
        let presence = UserPresence::age_only(Some(3600));
        assert_eq!(
            presence.verdict("oidc:x:1", Some(0), 3599).await,
            Presence::Present
        );
        assert_eq!(
            presence.verdict("oidc:x:1", Some(0), 3600).await,
            Presence::Gone
        );
        assert_eq!(
            UserPresence::age_only(None)
                .verdict("oidc:x:1", Some(0), i64::MAX)
                .await,
            Presence::Present
        );
    }
}
