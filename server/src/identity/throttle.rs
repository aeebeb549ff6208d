//! Brute-force protection for password logins: failed attempts are counted
//! per username and per client address; past a few free failures each
//! further attempt must wait a delay that doubles per failure, and past a
//! threshold the username (or address) is locked for a while.
//!
//! Attempts that arrive too early are refused *before* any password is
//! hashed or any directory is asked, so a guessing run costs us a map
//! lookup, not a hash. An allowed attempt is counted as a failure in the
//! same locked step that allowed it ([`LoginThrottle::reserve`]) and the
//! count is given back only once the password proved right (or the
//! backend could not answer): otherwise many guesses sent at once would
//! all pass the check before the first failure was recorded.
//!
//! IPv6 clients are counted per /64 (one subscriber's usual allocation),
//! so rotating through one's own addresses does not reset the count. Usernames are counted whether or not they exist, and
//! the refusal reads the same either way, so it reveals nothing.
//!
//! The counts live in this process. With several replicas an attacker gets
//! each replica's allowance; the delays still bound the guessing rate to a
//! small multiple of one replica's.
//!
//! Why not a rate-limiting crate such as `governor`: those implement a
//! steady-rate bucket (GCRA), while login protection needs per-key failure
//! counts with growing delays, a lockout, a reset on success and the
//! server's own (test-advanceable) clock. That is this small module.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::config::LoginProtectionConfig;

/// Unix time in milliseconds ([`crate::clock::Clock::now_millis`]): whole
/// seconds would let a one-second delay shrink to a millisecond.
pub type Millis = i64;

/// At most this many usernames and addresses are tracked at once; past it,
/// expired records are dropped first and new usernames are then not
/// tracked (addresses still are), so memory stays bounded under a spray.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Millis,
}

/// Failed-login bookkeeping for the whole server.
pub struct LoginThrottle {
    config: LoginProtectionConfig,
    records: Mutex<HashMap<Key, Record>>,
}

/// An attempt refused because it came too early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooEarly {
    /// Seconds until the next attempt is allowed.
    pub retry_after: u64,
}

impl LoginThrottle {
    /// A throttle with the given policy.
    pub fn new(config: LoginProtectionConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `username` may try a password from `ip` now (a read only;
    /// a login uses [`LoginThrottle::reserve`]).
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now: Millis) -> Result<(), TooEarly> {
        self.wait(&self.lock(), username, ip, now)
    }

    /// Allows an attempt and counts it as a failure at once, in one locked
    /// step, so concurrent attempts each see the ones before them. The
    /// returned [`Reservation`] says how the attempt ended; dropped
    /// unresolved (a cancelled request), the attempt stays counted.
    pub fn reserve(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<Reservation<'_>, TooEarly> {
        let mut records = self.lock();
        self.wait(&records, username, ip, now)?;
        let keys = keys(username, ip);
        let counted = self.record_failure(&mut records, &keys, now);
        Ok(Reservation {
            throttle: self,
            keys: counted,
        })
    }

    /// Records a failed attempt.
    pub fn failed(&self, username: &str, ip: Option<IpAddr>, now: Millis) {
        let mut records = self.lock();
        self.record_failure(&mut records, &keys(username, ip), now);
    }

    fn wait(
        &self,
        records: &HashMap<Key, Record>,
        username: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<(), TooEarly> {
        let mut wait = 0;
        if let Some(r) = records.get(&user_key(username)) {
            wait = wait.max(self.user_wait(r, now));
        }
        if let Some(ip) = ip
            && let Some(r) = records.get(&ip_key(ip))
        {
            wait = wait.max(self.ip_wait(r, now));
        }
        if wait > 0 {
            Err(TooEarly { retry_after: wait })
        } else {
            Ok(())
        }
    }

    /// Counts one failure against each key; returns the keys it counted
    /// (a new username is not tracked when the table is full).
    fn record_failure(
        &self,
        records: &mut HashMap<Key, Record>,
        keys: &[Key],
        now: Millis,
    ) -> Vec<Key> {
        let mut counted = Vec::with_capacity(keys.len());
        for key in keys.iter().cloned() {
            if !records.contains_key(&key) && records.len() >= MAX_TRACKED {
                let forget = self.config.lockout_seconds as i64 * 1000;
                records.retain(|_, r| now < r.last_failure + forget);
                if records.len() >= MAX_TRACKED && matches!(key, Key::User(_)) {
                    tracing::warn!("login throttle is full; not tracking a new username");
                    continue;
                }
            }
            let record = records.entry(key.clone()).or_insert(Record {
                failures: 0,
                last_failure: now,
            });
            if now >= record.last_failure + self.config.lockout_seconds as i64 * 1000 {
                record.failures = 0;
            }
            record.failures = record.failures.saturating_add(1);
            record.last_failure = now;
            counted.push(key);
        }
        counted
    }

    /// Gives back one reserved failure of each key.
    fn give_back(&self, keys: &[Key]) {
        let mut records = self.lock();
        for key in keys {
            if let Some(r) = records.get_mut(key) {
                r.failures = r.failures.saturating_sub(1);
            }
        }
    }

    /// Records a successful login: the username starts afresh. The
    /// address keeps its count, so one known password does not reset a
    /// spray from the same address.
    pub fn succeeded(&self, username: &str) {
        self.lock().remove(&user_key(username));
    }

    fn user_wait(&self, r: &Record, now: Millis) -> u64 {
        let c = &self.config;
        let until = if r.failures >= c.lockout_failures {
            r.last_failure + c.lockout_seconds as i64 * 1000
        } else if r.failures >= c.free_failures && r.failures > 0 {
            // The README's promise: after `freeFailures` failures the next
            // attempt already waits (1 s, then 2, 4...).
            let doublings = (r.failures - c.free_failures).min(31);
            let delay = (1u64 << doublings).min(c.max_delay_seconds);
            r.last_failure + delay as i64 * 1000
        } else {
            return 0;
        };
        seconds_until(until, now)
    }

    fn ip_wait(&self, r: &Record, now: Millis) -> u64 {
        let c = &self.config;
        if r.failures >= c.ip_lockout_failures {
            seconds_until(r.last_failure + c.lockout_seconds as i64 * 1000, now)
        } else {
            0
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Record>> {
        // A panic while holding the lock leaves plain counters behind;
        // they are still usable.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One allowed attempt, already counted as a failure of its username and
/// address until it says otherwise.
#[must_use = "an unresolved reservation stays counted as a failure"]
pub struct Reservation<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<Key>,
}

impl Reservation<'_> {
    /// The password was wrong: the failure stays counted, and its delay
    /// runs from now (verification takes time).
    pub fn failed(self, now: Millis) {
        let mut records = self.throttle.lock();
        for key in self.keys {
            // A concurrent success may have cleared the username meanwhile;
            // this failure still counts.
            let r = records.entry(key).or_insert(Record {
                failures: 1,
                last_failure: now,
            });
            r.last_failure = r.last_failure.max(now);
        }
    }

    /// The password was right: the username starts afresh. The address
    /// gets this attempt back but keeps its other failures, so one known
    /// password does not reset a spray from the same address.
    pub fn succeeded(self) {
        let mut records = self.throttle.lock();
        for key in &self.keys {
            match key {
                Key::User(_) => {
                    records.remove(key);
                }
                Key::Ip(_) => {
                    if let Some(r) = records.get_mut(key) {
                        r.failures = r.failures.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// The backend could not answer: not the user's fault, not counted.
    pub fn abandoned(self) {
        self.throttle.give_back(&self.keys);
    }
}

fn keys(username: &str, ip: Option<IpAddr>) -> Vec<Key> {
    let mut keys = vec![user_key(username)];
    keys.extend(ip.map(ip_key));
    keys
}

/// The address a client is counted under: IPv4 as is (IPv4-mapped IPv6
/// too), IPv6 by its /64 prefix.
fn ip_key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(v4) => Key::Ip(IpAddr::V4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::Ip(IpAddr::V4(v4)),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Key::Ip(IpAddr::V6(std::net::Ipv6Addr::from(prefix)))
            }
        },
    }
}

/// Whole seconds (rounded up) from `now` to `until`.
fn seconds_until(until: Millis, now: Millis) -> u64 {
    ((until - now).max(0) as u64).div_ceil(1000)
}

/// Directories compare usernames case-insensitively; so does the count, so
/// that `Ann` and `ann` share one allowance.
fn user_key(username: &str) -> Key {
    Key::User(username.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(LoginProtectionConfig {
            free_failures: 2,
            max_delay_seconds: 8,
            lockout_failures: 7,
            lockout_seconds: 600,
            ip_lockout_failures: 20,
            trust_forwarded_for: false,
        })
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn delays_grow_then_the_username_locks() {
        let t = throttle();
        let mut now = 1_000_000;
        let mut waits = vec![];
        for _ in 0..7 {
            assert_eq!(t.check("ann", IP, now), Ok(()), "allowed at {now}");
            t.failed("ann", IP, now);
            // A moment later: the delay is counted from the failure.
            let wait = t
                .check("ann", IP, now + 5)
                .err()
                .map_or(0, |e| e.retry_after);
            waits.push(wait);
            now += wait as i64 * 1000;
        }
        assert_eq!(waits, vec![0, 1, 2, 4, 8, 8, 600]);
        assert_eq!(
            t.check("ANN", IP, now - 1500),
            Err(TooEarly { retry_after: 2 }),
            "case does not escape the lock"
        );
        assert_eq!(t.check("ann", IP, now), Ok(()), "the lockout ends");
        t.failed("ann", IP, now);
        assert_eq!(t.check("ann", IP, now), Ok(()), "and the count starts over");
    }

    #[test]
    fn success_clears_the_username_but_not_the_address() {
        let t = throttle();
        for i in 0..19 {
            t.failed(&format!("user{i}"), IP, 1_000_000);
        }
        t.failed("ann", IP, 1_000_000);
        t.failed("ann", IP, 1_000_000);
        t.failed("ann", None, 1_000_000);
        assert!(t.check("ann", None, 1_000_000).is_err());
        t.succeeded("ann");
        assert_eq!(t.check("ann", None, 1_000_000), Ok(()));
        assert_eq!(
            t.check("someone-else", IP, 1_000_000),
            Err(TooEarly { retry_after: 600 }),
            "the address that failed 21 times is locked for everyone"
        );
        let other = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(t.check("someone-else", other, 1_000_000), Ok(()));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let t = throttle();
        let v6 = |s: &str| Some(s.parse::<IpAddr>().expect("address"));
        for i in 0..20 {
            t.failed(
                &format!("user{i}"),
                v6(&format!("2001:db8:1:2::{i:x}")),
                1_000_000,
            );
        }
        assert_eq!(
            t.check("x", v6("2001:db8:1:2:ffff:1:2:3"), 1_000_000),
            Err(TooEarly { retry_after: 600 }),
            "another address of the same /64 is locked too"
        );
        assert_eq!(t.check("x", v6("2001:db8:1:3::1"), 1_000_000), Ok(()));
        for i in 0..20 {
            t.failed(&format!("v4-{i}"), v6("::ffff:192.0.2.1"), 1_000_000);
        }
        let v4 = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
        assert!(
            t.check("y", v4, 1_000_000).is_err(),
            "one client, two spellings"
        );
    }

    #[test]
    fn a_reservation_counts_at_once_and_is_given_back_on_success_or_outage() {
        let t = throttle();
        let now = 1_000_000;
        let first = t.reserve("ann", IP, now).expect("free");
        let second = t.reserve("ann", IP, now).expect("free");
        assert_eq!(
            t.reserve("ann", IP, now).err(),
            Some(TooEarly { retry_after: 1 }),
            "two attempts in flight use up the two free failures"
        );
        second.abandoned();
        let third = t
            .reserve("ann", IP, now)
            .expect("an outage gave its attempt back");
        first.succeeded();
        assert_eq!(
            t.check("ann", IP, now),
            Ok(()),
            "success clears the username"
        );
        third.failed(now + 500);
        t.failed("ann", IP, now + 500);
        assert_eq!(
            t.check("ann", IP, now + 600),
            Err(TooEarly { retry_after: 1 }),
            "the delay runs from when the failure was known"
        );
    }
}
