//! One password login attempt, decided without HTTP: reserve the attempt
//! with the throttle, verify with the backend, settle the reservation.
//!
//! The login page ([`crate::web::login`]) only turns the [`LoginOutcome`]
//! into a page, so the order that protects users (the throttle is asked
//! before any password is checked, a failure is counted whether or not the
//! user exists, a backend outage is not counted) is stated once, here.

use std::net::IpAddr;

use super::throttle::LoginThrottle;
use super::{AuthError, IdentityProvider, User};
use crate::clock::Clock;

/// What one login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Too many recent failures for this username or address: refused
    /// before the password was checked. Same answer for unknown users.
    Throttled {
        /// Seconds until the next attempt is allowed.
        retry_after: u64,
    },
    /// The credentials name this user; the username's failures are cleared.
    LoggedIn(User),
    /// Unknown user or wrong password; counted against username and address.
    InvalidCredentials,
    /// The backend could not answer; not counted (it is not the user's fault).
    Unavailable(String),
}

/// Tries `username` / `password` from `ip` against `identity`.
pub async fn attempt(
    throttle: &LoginThrottle,
    identity: &dyn IdentityProvider,
    clock: &Clock,
    username: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> LoginOutcome {
    // Counted as a failure from here on, so that guesses sent at once
    // cannot all pass the check before the first failure is recorded.
    let reservation = match throttle.reserve(username, ip, clock.now_millis()).await {
        Ok(Ok(reservation)) => reservation,
        Ok(Err(early)) => {
            return LoginOutcome::Throttled {
                retry_after: early.retry_after,
            };
        }
        // Without its counters the throttle cannot let anyone guess.
        Err(e) => return LoginOutcome::Unavailable(e.to_string()),
    };
    match identity.authenticate(username, password).await {
        Ok(user) => {
            reservation.succeeded(clock.now_millis()).await;
            LoginOutcome::LoggedIn(user)
        }
        Err(AuthError::InvalidCredentials) => {
            // Verification takes time: the delay runs from its end.
            reservation.failed(clock.now_millis()).await;
            LoginOutcome::InvalidCredentials
        }
        Err(AuthError::Unavailable(e)) => {
            reservation.abandoned(clock.now_millis()).await;
            LoginOutcome::Unavailable(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::config::LoginProtectionConfig;
    use crate::store::embedded::EmbeddedStore;

    /// One user `ann` with password `right`; can be switched to "down".
    /// Counts the passwords it was asked to check.
    #[derive(Default)]
    struct Directory {
        checked: AtomicUsize,
        down: Mutex<bool>,
        /// How long one verification takes (a password hash, an LDAP bind).
        slow: Option<std::time::Duration>,
    }

    #[async_trait]
    impl IdentityProvider for Directory {
        async fn authenticate(&self, username: &str, password: &str) -> Result<User, AuthError> {
            self.checked.fetch_add(1, Ordering::Relaxed);
            if let Some(slow) = self.slow {
                tokio::time::sleep(slow).await;
            }
            if *self.down.lock().expect("lock") {
                return Err(AuthError::Unavailable("directory down".into()));
            }
            if username == "ann" && password == "right" {
                Ok(User {
                    id: "user-ann".into(),
                    username: "ann".into(),
                    display_name: "Ann".into(),
                    groups: vec![],
                })
            } else {
                Err(AuthError::InvalidCredentials)
            }
        }

        async fn exists(&self, user_id: &str) -> Result<bool, AuthError> {
            Ok(user_id == "user-ann")
        }
    }

    /// A throttle counting in its own embedded store, in a directory that
    /// lives as long as the throttle.
    struct Throttle {
        throttle: LoginThrottle,
        _dir: tempfile::TempDir,
    }

    impl std::ops::Deref for Throttle {
        type Target = LoginThrottle;
        fn deref(&self) -> &LoginThrottle {
            &self.throttle
        }
    }

    fn throttle_with(config: LoginProtectionConfig) -> Throttle {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("store.redb")).expect("open");
        Throttle {
            throttle: LoginThrottle::new(config, std::sync::Arc::new(store)),
            _dir: dir,
        }
    }

    fn throttle() -> Throttle {
        throttle_with(LoginProtectionConfig {
            free_failures: 2,
            lockout_failures: 5,
            ..LoginProtectionConfig::default()
        })
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7)));

    #[tokio::test]
    async fn the_right_password_logs_in_and_clears_the_failures() {
        let (t, dir, clock) = (throttle(), Directory::default(), Clock::default());
        for _ in 0..2 {
            let outcome = attempt(&t, &dir, &clock, "ann", "wrong", IP).await;
            assert!(
                matches!(outcome, LoginOutcome::InvalidCredentials),
                "{outcome:?}"
            );
        }
        // The two free failures are used up: the next attempt waits 1 s.
        clock.advance(1);
        let outcome = attempt(&t, &dir, &clock, "ann", "right", IP).await;
        let LoginOutcome::LoggedIn(user) = outcome else {
            panic!("expected a login, got {outcome:?}")
        };
        assert_eq!(user.id, "user-ann");
        // Cleared: two more failures are again free (no delay).
        for _ in 0..2 {
            let outcome = attempt(&t, &dir, &clock, "ann", "wrong", IP).await;
            assert!(
                matches!(outcome, LoginOutcome::InvalidCredentials),
                "{outcome:?}"
            );
        }
    }

    /// The free failures: from then on each attempt must wait.
    const FAILURES_BEFORE_A_DELAY: usize = 2;

    #[tokio::test]
    async fn past_the_free_failures_the_next_attempt_waits_without_a_password_check() {
        let (t, dir, clock) = (throttle(), Directory::default(), Clock::default());
        for _ in 0..FAILURES_BEFORE_A_DELAY {
            attempt(&t, &dir, &clock, "ann", "wrong", IP).await;
        }
        assert_eq!(dir.checked.load(Ordering::Relaxed), FAILURES_BEFORE_A_DELAY);
        let outcome = attempt(&t, &dir, &clock, "ann", "right", IP).await;
        let LoginOutcome::Throttled { retry_after } = outcome else {
            panic!("expected throttling, got {outcome:?}")
        };
        assert!(retry_after >= 1, "{retry_after}");
        assert_eq!(
            dir.checked.load(Ordering::Relaxed),
            FAILURES_BEFORE_A_DELAY,
            "a throttled attempt never reaches the backend, even with the right password"
        );
        // Once the delay has passed, the right password works again.
        clock.advance(retry_after as i64);
        let outcome = attempt(&t, &dir, &clock, "ann", "right", IP).await;
        assert!(matches!(outcome, LoginOutcome::LoggedIn(_)), "{outcome:?}");
    }

    /// 150 wrong guesses sent at once, then the right password while they
    /// are all still being verified: only the free failures reach the
    /// backend, the right password among the rest is refused unchecked.
    #[tokio::test]
    async fn guesses_sent_at_once_cannot_outrun_the_throttle() {
        let t = throttle();
        let clock = Clock::default();
        let dir = Directory {
            slow: Some(std::time::Duration::from_millis(50)),
            ..Directory::default()
        };
        let mut attempts = vec![];
        for i in 0..150 {
            let password = if i == 149 { "right" } else { "wrong" };
            attempts.push(attempt(&t, &dir, &clock, "ann", password, IP));
        }
        let outcomes = futures::future::join_all(attempts).await;
        assert_eq!(
            dir.checked.load(Ordering::Relaxed),
            FAILURES_BEFORE_A_DELAY,
            "only the free failures were verified"
        );
        let logged_in = outcomes
            .iter()
            .filter(|o| matches!(o, LoginOutcome::LoggedIn(_)))
            .count();
        assert_eq!(logged_in, 0, "the right guess among 150 is throttled");
        assert!(
            matches!(outcomes[149], LoginOutcome::Throttled { .. }),
            "{:?}",
            outcomes[149]
        );
    }

    /// The same from one address spraying many usernames: the address's
    /// lockout is not outrun either.
    #[tokio::test]
    async fn a_concurrent_spray_from_one_address_stops_at_its_lockout() {
        let t = throttle_with(LoginProtectionConfig {
            ip_lockout_failures: 10,
            ..LoginProtectionConfig::default()
        });
        let clock = Clock::default();
        let dir = Directory {
            slow: Some(std::time::Duration::from_millis(50)),
            ..Directory::default()
        };
        let names: Vec<String> = (0..100).map(|i| format!("spray{i}")).collect();
        let attempts = names
            .iter()
            .map(|name| attempt(&t, &dir, &clock, name, "123456", IP));
        futures::future::join_all(attempts).await;
        assert_eq!(dir.checked.load(Ordering::Relaxed), 10);
    }

    #[tokio::test]
    async fn unknown_users_are_counted_like_known_ones() {
        let (t, dir, clock) = (throttle(), Directory::default(), Clock::default());
        for _ in 0..FAILURES_BEFORE_A_DELAY {
            let outcome = attempt(&t, &dir, &clock, "nobody", "x", IP).await;
            assert!(
                matches!(outcome, LoginOutcome::InvalidCredentials),
                "{outcome:?}"
            );
        }
        let outcome = attempt(&t, &dir, &clock, "nobody", "x", IP).await;
        assert!(
            matches!(outcome, LoginOutcome::Throttled { .. }),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn a_backend_outage_is_not_counted_as_a_failure() {
        let (t, dir, clock) = (throttle(), Directory::default(), Clock::default());
        *dir.down.lock().expect("lock") = true;
        for _ in 0..5 {
            let outcome = attempt(&t, &dir, &clock, "ann", "right", IP).await;
            assert!(
                matches!(outcome, LoginOutcome::Unavailable(_)),
                "{outcome:?}"
            );
        }
        *dir.down.lock().expect("lock") = false;
        let outcome = attempt(&t, &dir, &clock, "ann", "right", IP).await;
        assert!(matches!(outcome, LoginOutcome::LoggedIn(_)), "{outcome:?}");
    }
}
