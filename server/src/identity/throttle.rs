//! Brute-force protection: failed password logins are counted per username
//! and per client address, failed client authentications per client and
//! address; past a few free failures each further attempt must wait a delay
//! that doubles per failure, and past a threshold the key is locked for a
//! while.
//!
//! Attempts that arrive too early are refused *before* any password is
//! hashed or any directory is asked, so a guessing run costs a store round
//! trip, not a hash. An allowed login is counted as a failure in the same
//! atomic step that allowed it ([`LoginThrottle::reserve`]) and the count
//! is given back only once the password proved right (or the backend could
//! not answer): otherwise many guesses sent at once would all pass the
//! check before the first failure was recorded.
//!
//! The counters live in the [`Store`], so every replica counts against one
//! budget and a restart forgets nothing. Each change is a compare-and-swap
//! ([`Store::swap_counters`]) from the counters as this replica last saw
//! them: when no other replica wrote since, a reservation is one store
//! round trip; when one did, the refused swap hands back the current
//! counters and the decision is made again from them.
//!
//! IPv6 clients are counted per /64 (one subscriber's usual allocation), so
//! rotating through one's own addresses does not reset the count. Usernames
//! are counted whether or not they exist, and the refusal reads the same
//! either way, so it reveals nothing. The store sees only digests of what
//! is counted, never a username.
//!
//! Why not a rate-limiting crate such as `governor`: those implement a
//! steady-rate bucket (GCRA) in one process, while login protection needs
//! per-key failure counts with growing delays, a lockout, a reset on
//! success, the server's own (test-advanceable) clock and a shared store.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::config::LoginProtectionConfig;
use crate::peer::subscriber;
use crate::store::{Counter, CounterKey, CounterSwap, CounterWrite, Store, StoreError, UnixTime};

/// Unix time in milliseconds ([`crate::clock::Clock::now_millis`]): whole
/// seconds would let a one-second delay shrink to a millisecond.
pub type Millis = i64;

/// How many counters this replica remembers as its guess of the store's
/// state; past it the guesses start over (a wrong guess costs one more
/// round trip, never a wrong decision).
const MAX_SEEN: usize = 10_000;

/// How long a store read that found no failures of a client at an address
/// is trusted, on this replica, before the next successful authentication
/// reads again (ms). Failures counted here are seen at once; failures
/// counted on another replica are seen within this bound.
pub const CLIENT_CLEAR_TRUST_MILLIS: Millis = 1000;

/// Lock stripes for the counters' turns: enough that unrelated usernames
/// rarely wait on each other, few enough to cost nothing.
const STRIPES: usize = 256;

/// How often one change is tried again after other writers got in first.
/// Each retry means another attempt was counted meanwhile (a spray from one
/// address makes the address's counter the contended one until it locks),
/// so a change that keeps losing is refused rather than allowed.
const MAX_SWAPS: usize = 32;

/// What a counter counts, which decides its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A username: delays, then a lockout.
    User,
    /// A client address: only a (higher) lockout, since many people may
    /// share one address.
    Ip,
    /// A client id at one address: like a username. Keyed with the address
    /// so that nobody can lock Alexa out of its own client by failing on
    /// purpose from elsewhere.
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    kind: Kind,
    id: CounterKey,
}

/// Failure bookkeeping for the whole deployment.
pub struct LoginThrottle {
    config: LoginProtectionConfig,
    store: Arc<dyn Store>,
    /// The counters as this replica last wrote or saw them.
    seen: Mutex<HashMap<CounterKey, Counter>>,
    /// Turns of this replica's changes, by [`stripe`] of the counter.
    turns: Vec<tokio::sync::Mutex<()>>,
    /// Client counters the store last reported free of failures, and when:
    /// the successful-authentication fast path (no store read).
    clear: Mutex<HashMap<CounterKey, Millis>>,
    /// The counter keys of authenticated clients at addresses, as
    /// [`client_key`] digests them: the fast path then hashes nothing. Only
    /// ids that proved a client get here, so the inner maps stay as small
    /// as the client list.
    client_keys: Mutex<HashMap<Option<IpAddr>, HashMap<String, CounterKey>>>,
}

/// An attempt refused because it came too early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooEarly {
    /// Seconds until the next attempt is allowed.
    pub retry_after: u64,
}

/// What a change of counters decided.
enum Decision {
    /// Write these counters (one per key; `None`: leave that key alone).
    Write(Vec<Option<Counter>>),
    /// Nothing to change.
    Keep,
    /// Refuse the attempt.
    Refuse(TooEarly),
}

impl LoginThrottle {
    /// A throttle with the given policy, counting in `store`.
    pub fn new(config: LoginProtectionConfig, store: Arc<dyn Store>) -> LoginThrottle {
        LoginThrottle {
            config,
            store,
            seen: Mutex::new(HashMap::new()),
            turns: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            clear: Mutex::new(HashMap::new()),
            client_keys: Mutex::new(HashMap::new()),
        }
    }

    /// Allows a login attempt and counts it as a failure at once, in one
    /// atomic step, so concurrent attempts (on any replica) each see the
    /// ones before them. The returned [`Reservation`] says how the attempt
    /// ended; dropped unresolved (a cancelled request), it stays counted.
    pub async fn reserve(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<Result<Reservation<'_>, TooEarly>, StoreError> {
        let keys = login_keys(username, ip);
        let decided = self
            .change(&keys, now, |current| {
                let wait = self.wait(&keys, current, now);
                if wait > 0 {
                    return Decision::Refuse(TooEarly { retry_after: wait });
                }
                Decision::Write(
                    current
                        .iter()
                        .map(|c| Some(self.counted(*c, now)))
                        .collect(),
                )
            })
            .await?;
        Ok(decided.map(|()| Reservation {
            throttle: self,
            keys,
        }))
    }

    /// Whether `username` may try a password from `ip` now: a read only (a
    /// login uses [`LoginThrottle::reserve`]).
    pub async fn check(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<Result<(), TooEarly>, StoreError> {
        let keys = login_keys(username, ip);
        let ids: Vec<CounterKey> = keys.iter().map(|k| k.id).collect();
        let current = self.store.get_counters(&ids, seconds(now)).await?;
        self.remember(&keys, &current);
        Ok(match self.wait(&keys, &current, now) {
            0 => Ok(()),
            wait => Err(TooEarly { retry_after: wait }),
        })
    }

    /// Whether client `client_id` may authenticate from `ip` now: a read
    /// only. A secret that proved right is refused too while the client is
    /// throttled at this address, so a guess cannot tell it was right.
    /// Clears earlier failures once allowed.
    ///
    /// The token endpoint's hot path: when the store said less than
    /// [`CLIENT_CLEAR_TRUST_MILLIS`] ago that this client had no failures at
    /// this address, and no failure was counted here since, the answer is
    /// yes without a read. Failures are always counted in the store (by
    /// [`LoginThrottle::client_failed`], a compare-and-swap), so the delays
    /// and the lockout hold across replicas as before; what the fast path
    /// gives up is only that, for at most that bound after failures counted
    /// on *another* replica, a right secret here is not yet refused.
    pub async fn client_allowed(
        &self,
        client_id: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<Result<(), TooEarly>, StoreError> {
        let keys = [self.authenticated_client_key(client_id, ip)];
        if self.recently_clear(&keys[0].id, now) {
            return Ok(Ok(()));
        }
        let current = self.store.get_counters(&[keys[0].id], seconds(now)).await?;
        self.remember(&keys, &current);
        if current[0].is_none_or(|c| c.failures == 0) {
            self.mark_clear(keys[0].id, now);
        }
        let wait = self.wait(&keys, &current, now);
        if wait > 0 {
            return Ok(Err(TooEarly { retry_after: wait }));
        }
        if current[0].is_some_and(|c| c.failures > 0) {
            self.settle(&keys, now, |_, c| Counter { failures: 0, ..c })
                .await;
        }
        Ok(Ok(()))
    }

    /// Counts a failed client authentication, unless it came too early
    /// (then it is refused without counting, like a throttled login).
    /// Client secrets are checked first because the check is a hash
    /// comparison, not a password hash: the success path then costs one
    /// store read rather than two writes.
    pub async fn client_failed(
        &self,
        client_id: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<Result<(), TooEarly>, StoreError> {
        let keys = [client_key(client_id, ip)];
        self.change(&keys, now, |current| {
            let wait = self.wait(&keys, current, now);
            if wait > 0 {
                return Decision::Refuse(TooEarly { retry_after: wait });
            }
            Decision::Write(vec![Some(self.counted(current[0], now))])
        })
        .await
    }

    /// Applies `decide` to the current counters of `keys` atomically:
    /// decided from what this replica saw last, and again from the store's
    /// answer when another writer got in first.
    ///
    /// Within this replica, changes of one counter take turns (a striped
    /// lock), so that concurrent logins from one address (a NAT, a spray)
    /// queue for one round trip each instead of racing and retrying; only
    /// other replicas' writes make a swap fail.
    async fn change(
        &self,
        keys: &[Key],
        now: Millis,
        mut decide: impl FnMut(&[Option<Counter>]) -> Decision,
    ) -> Result<Result<(), TooEarly>, StoreError> {
        let mut stripes: Vec<usize> = keys.iter().map(|k| stripe(&k.id)).collect();
        // Always in ascending order, so two changes never wait on each other.
        stripes.sort_unstable();
        stripes.dedup();
        let mut _turns = Vec::with_capacity(stripes.len());
        for i in stripes {
            _turns.push(self.turns[i].lock().await);
        }
        let mut current = self.guess(keys, now);
        for _ in 0..MAX_SWAPS {
            let new = match decide(&current) {
                Decision::Refuse(early) => return Ok(Err(early)),
                Decision::Keep => return Ok(Ok(())),
                Decision::Write(new) => new,
            };
            let writes: Vec<CounterWrite> = keys
                .iter()
                .zip(&current)
                .zip(&new)
                .filter_map(|((key, expected), new)| {
                    new.map(|new| CounterWrite {
                        key: key.id,
                        expected: *expected,
                        new,
                    })
                })
                .collect();
            let written: Vec<Key> = keys
                .iter()
                .zip(&new)
                .filter(|(_, n)| n.is_some())
                .map(|(k, _)| *k)
                .collect();
            match self.store.swap_counters(&writes, seconds(now)).await? {
                CounterSwap::Swapped => {
                    self.remember(
                        &written,
                        &new.into_iter().flatten().map(Some).collect::<Vec<_>>(),
                    );
                    return Ok(Ok(()));
                }
                CounterSwap::Changed(stored) => {
                    self.remember(&written, &stored);
                    for (slot, c) in keys
                        .iter()
                        .zip(current.iter_mut())
                        .filter(|(k, _)| written.contains(k))
                        .map(|(_, slot)| slot)
                        .zip(stored)
                    {
                        *slot = c;
                    }
                }
            }
        }
        tracing::warn!("throttle counters kept changing under this attempt; refusing it");
        Ok(Err(TooEarly { retry_after: 1 }))
    }

    /// Settles a reservation: changes each counter that still exists by
    /// `f`, logging (not failing) when the store cannot be reached, since
    /// the attempt itself is over.
    async fn settle(&self, keys: &[Key], now: Millis, f: impl Fn(Kind, Counter) -> Counter) {
        let result = self
            .change(keys, now, |current| {
                let new: Vec<Option<Counter>> = keys
                    .iter()
                    .zip(current)
                    .map(|(key, c)| {
                        // A counter that expired meanwhile has nothing to settle.
                        let c = (*c)?;
                        let next = f(key.kind, c);
                        (next != c).then_some(Counter {
                            version: c.version + 1,
                            ..next
                        })
                    })
                    .collect();
                if new.iter().any(Option::is_some) {
                    Decision::Write(new)
                } else {
                    Decision::Keep
                }
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "failed to settle a throttle counter");
        }
    }

    /// This replica's guess of the counters, dropping expired ones.
    fn guess(&self, keys: &[Key], now: Millis) -> Vec<Option<Counter>> {
        let seen = self.lock();
        keys.iter()
            .map(|k| {
                seen.get(&k.id)
                    .copied()
                    .filter(|c| seconds(now) < c.expires_at)
            })
            .collect()
    }

    /// [`client_key`] of a client that proved itself, digested once per
    /// client and address.
    fn authenticated_client_key(&self, client_id: &str, ip: Option<IpAddr>) -> Key {
        let mut keys = self.client_keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = keys.get(&ip).and_then(|k| k.get(client_id)) {
            return Key {
                kind: Kind::Client,
                id: *id,
            };
        }
        let key = client_key(client_id, ip);
        if keys.len() >= MAX_SEEN {
            keys.clear();
        }
        keys.entry(ip)
            .or_default()
            .insert(client_id.to_owned(), key.id);
        key
    }

    fn recently_clear(&self, key: &CounterKey, now: Millis) -> bool {
        let clear = self.clear.lock().unwrap_or_else(|e| e.into_inner());
        clear
            .get(key)
            .is_some_and(|at| (0..CLIENT_CLEAR_TRUST_MILLIS).contains(&(now - at)))
    }

    fn mark_clear(&self, key: CounterKey, now: Millis) {
        let mut clear = self.clear.lock().unwrap_or_else(|e| e.into_inner());
        if clear.len() >= MAX_SEEN {
            clear.clear();
        }
        clear.insert(key, now);
    }

    fn remember(&self, keys: &[Key], counters: &[Option<Counter>]) {
        // A failure seen here ends the fast path of its counter at once.
        if counters.iter().flatten().any(|c| c.failures > 0) {
            let mut clear = self.clear.lock().unwrap_or_else(|e| e.into_inner());
            for (key, c) in keys.iter().zip(counters) {
                if c.is_some_and(|c| c.failures > 0) {
                    clear.remove(&key.id);
                }
            }
        }
        let mut seen = self.lock();
        if seen.len() >= MAX_SEEN {
            seen.clear();
        }
        for (key, counter) in keys.iter().zip(counters) {
            match counter {
                Some(c) => seen.insert(key.id, *c),
                None => seen.remove(&key.id),
            };
        }
    }

    /// The longest wait any of the counters imposes, in whole seconds.
    fn wait(&self, keys: &[Key], counters: &[Option<Counter>], now: Millis) -> u64 {
        keys.iter()
            .zip(counters)
            .filter_map(|(key, c)| c.as_ref().map(|c| self.wait_one(key.kind, c, now)))
            .max()
            .unwrap_or(0)
    }

    fn wait_one(&self, kind: Kind, r: &Counter, now: Millis) -> u64 {
        let c = &self.config;
        let lockout_end = r
            .last_failure_millis
            .saturating_add(millis(c.lockout_seconds));
        let until = match kind {
            Kind::Ip if r.failures >= c.ip_lockout_failures => lockout_end,
            Kind::Ip => return 0,
            _ if r.failures >= c.lockout_failures => lockout_end,
            _ if r.failures >= c.free_failures && r.failures > 0 => {
                // The README's promise: after `freeFailures` failures the
                // next attempt already waits (1 s, then 2, 4...).
                let doublings = (r.failures - c.free_failures).min(31);
                let delay = (1u64 << doublings).min(c.max_delay_seconds);
                r.last_failure_millis.saturating_add(millis(delay))
            }
            _ => return 0,
        };
        seconds_until(until, now)
    }

    /// `c` with one more failure at `now`; a count older than the lockout
    /// starts over.
    fn counted(&self, c: Option<Counter>, now: Millis) -> Counter {
        let forget = millis(self.config.lockout_seconds);
        let (failures, version) = match c {
            Some(c) if now < c.last_failure_millis.saturating_add(forget) => {
                (c.failures.saturating_add(1), c.version + 1)
            }
            Some(c) => (1, c.version + 1),
            None => (1, 1),
        };
        let last = c.map_or(now, |c| c.last_failure_millis.max(now));
        Counter {
            failures,
            last_failure_millis: last,
            version,
            expires_at: self.expiry(last),
        }
    }

    /// When a counter last changed at `last` stops mattering: the count is
    /// forgotten `lockoutSeconds` after the last failure.
    fn expiry(&self, last: Millis) -> UnixTime {
        seconds(
            last.saturating_add(millis(self.config.lockout_seconds))
                .saturating_add(999),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CounterKey, Counter>> {
        // A panic while holding the lock leaves plain guesses behind; they
        // are still usable (a wrong one costs a round trip).
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One allowed login attempt, already counted as a failure of its username
/// and address until it says otherwise.
#[must_use = "an unresolved reservation stays counted as a failure"]
pub struct Reservation<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<Key>,
}

impl Reservation<'_> {
    /// The password was wrong: the failure stays counted, and its delay
    /// runs from now (verification takes time).
    pub async fn failed(self, now: Millis) {
        let expiry = |last| self.throttle.expiry(last);
        self.throttle
            .settle(&self.keys, now, |_, c| {
                let last = c.last_failure_millis.max(now);
                Counter {
                    // A concurrent success may have cleared the username
                    // meanwhile; this failure still counts.
                    failures: c.failures.max(1),
                    last_failure_millis: last,
                    expires_at: expiry(last),
                    ..c
                }
            })
            .await;
    }

    /// The password was right: the username starts afresh. The address
    /// gets this attempt back but keeps its other failures, so one known
    /// password does not reset a spray from the same address.
    pub async fn succeeded(self, now: Millis) {
        self.throttle
            .settle(&self.keys, now, |kind, c| match kind {
                Kind::Ip => Counter {
                    failures: c.failures.saturating_sub(1),
                    ..c
                },
                Kind::User | Kind::Client => Counter { failures: 0, ..c },
            })
            .await;
    }

    /// The backend could not answer: not the user's fault, not counted.
    pub async fn abandoned(self, now: Millis) {
        self.throttle
            .settle(&self.keys, now, |_, c| Counter {
                failures: c.failures.saturating_sub(1),
                ..c
            })
            .await;
    }
}

fn login_keys(username: &str, ip: Option<IpAddr>) -> Vec<Key> {
    // Directories compare usernames case-insensitively; so does the count,
    // so that `Ann` and `ann` share one allowance.
    let mut keys = vec![key(
        Kind::User,
        &[username.trim().to_lowercase().as_bytes()],
    )];
    keys.extend(ip.map(|ip| key(Kind::Ip, &[counted_address(ip).as_bytes()])));
    keys
}

fn client_key(client_id: &str, ip: Option<IpAddr>) -> Key {
    let address = ip.map(counted_address).unwrap_or_default();
    key(Kind::Client, &[client_id.as_bytes(), address.as_bytes()])
}

/// The digest a counter is stored under: the kind and the parts, each
/// length-prefixed so that no two different inputs share a key.
fn key(kind: Kind, parts: &[&[u8]]) -> Key {
    let mut digest = Sha256::new();
    digest.update(b"alexa-link throttle v1");
    digest.update([match kind {
        Kind::User => b'u',
        Kind::Ip => b'i',
        Kind::Client => b'c',
    }]);
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part);
    }
    Key {
        kind,
        id: CounterKey(digest.finalize().into()),
    }
}

/// The address a client is counted under ([`subscriber`]), as text.
fn counted_address(ip: IpAddr) -> String {
    match subscriber(ip) {
        IpAddr::V6(prefix) => format!("{prefix}/64"),
        v4 => v4.to_string(),
    }
}

/// The stripe of a counter (its key is already a uniform digest).
fn stripe(key: &CounterKey) -> usize {
    usize::from(key.0[0]) % STRIPES
}

fn millis(seconds: u64) -> Millis {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
}

fn seconds(millis: Millis) -> UnixTime {
    millis.div_euclid(1000)
}

/// Whole seconds (rounded up) from `now` to `until`.
fn seconds_until(until: Millis, now: Millis) -> u64 {
    (until.saturating_sub(now).max(0) as u64).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;

    fn policy() -> LoginProtectionConfig {
        LoginProtectionConfig {
            free_failures: 2,
            max_delay_seconds: 8,
            lockout_failures: 7,
            lockout_seconds: 600,
            ip_lockout_failures: 20,
            trust_forwarded_for: false,
        }
    }

    fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("store.redb")).expect("open");
        (dir, Arc::new(store))
    }

    fn throttle() -> (tempfile::TempDir, LoginThrottle) {
        let (dir, store) = store();
        (dir, LoginThrottle::new(policy(), store))
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    /// A login attempt that fails: `Err` when it was refused unchecked.
    async fn fail(
        t: &LoginThrottle,
        user: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<(), TooEarly> {
        let reservation = t.reserve(user, ip, now).await.expect("store")?;
        reservation.failed(now).await;
        Ok(())
    }

    /// Whether a login attempt would be allowed now.
    async fn check(
        t: &LoginThrottle,
        user: &str,
        ip: Option<IpAddr>,
        now: Millis,
    ) -> Result<(), TooEarly> {
        t.check(user, ip, now).await.expect("store")
    }

    #[tokio::test]
    async fn delays_grow_then_the_username_locks() {
        let (_dir, t) = throttle();
        let mut now = 1_000_000_000;
        let mut waits = vec![];
        for _ in 0..7 {
            assert_eq!(fail(&t, "ann", IP, now).await, Ok(()), "allowed at {now}");
            // A moment later: the delay is counted from the failure.
            let wait = check(&t, "ann", IP, now + 5)
                .await
                .err()
                .map_or(0, |e| e.retry_after);
            waits.push(wait);
            now += wait as i64 * 1000;
        }
        assert_eq!(waits, vec![0, 1, 2, 4, 8, 8, 600]);
        assert_eq!(
            check(&t, "ANN", IP, now - 1500).await,
            Err(TooEarly { retry_after: 2 }),
            "case does not escape the lock"
        );
        assert_eq!(check(&t, "ann", IP, now).await, Ok(()), "the lockout ends");
        fail(&t, "ann", IP, now).await.expect("allowed");
        assert_eq!(
            check(&t, "ann", IP, now).await,
            Ok(()),
            "and the count starts over"
        );
    }

    #[tokio::test]
    async fn success_clears_the_username_but_not_the_address() {
        let (_dir, t) = throttle();
        let now = 1_000_000_000;
        for i in 0..19 {
            fail(&t, &format!("user{i}"), IP, now)
                .await
                .expect("allowed");
        }
        fail(&t, "ann", IP, now).await.expect("allowed");
        fail(&t, "ann", None, now).await.expect("allowed");
        assert!(check(&t, "ann", None, now).await.is_err());
        let reservation = t.reserve("ann", None, now + 1000).await.expect("store");
        reservation
            .expect("the delay passed")
            .succeeded(now + 1000)
            .await;
        assert_eq!(check(&t, "ann", None, now + 1000).await, Ok(()));
        assert_eq!(
            check(&t, "someone-else", IP, now).await,
            Err(TooEarly { retry_after: 600 }),
            "the address that failed 20 times is locked for everyone"
        );
        let other = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(check(&t, "someone-else", other, now).await, Ok(()));
    }

    #[tokio::test]
    async fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let (_dir, t) = throttle();
        let now = 1_000_000_000;
        let v6 = |s: &str| Some(s.parse::<IpAddr>().expect("address"));
        for i in 0..20 {
            let ip = v6(&format!("2001:db8:1:2::{i:x}"));
            fail(&t, &format!("user{i}"), ip, now)
                .await
                .expect("allowed");
        }
        assert_eq!(
            check(&t, "x", v6("2001:db8:1:2:ffff:1:2:3"), now).await,
            Err(TooEarly { retry_after: 600 }),
            "another address of the same /64 is locked too"
        );
        assert_eq!(check(&t, "x", v6("2001:db8:1:3::1"), now).await, Ok(()));
        for i in 0..20 {
            fail(&t, &format!("v4-{i}"), v6("::ffff:192.0.2.1"), now)
                .await
                .expect("allowed");
        }
        let v4 = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
        assert!(
            check(&t, "y", v4, now).await.is_err(),
            "one client, two spellings"
        );
    }

    #[tokio::test]
    async fn a_reservation_counts_at_once_and_is_given_back_on_success_or_outage() {
        let (_dir, t) = throttle();
        let now = 1_000_000_000;
        let first = t
            .reserve("ann", IP, now)
            .await
            .expect("store")
            .expect("free");
        let second = t
            .reserve("ann", IP, now)
            .await
            .expect("store")
            .expect("free");
        assert_eq!(
            t.reserve("ann", IP, now).await.expect("store").err(),
            Some(TooEarly { retry_after: 1 }),
            "two attempts in flight use up the two free failures"
        );
        second.abandoned(now).await;
        let third = t
            .reserve("ann", IP, now)
            .await
            .expect("store")
            .expect("an outage gave its attempt back");
        first.succeeded(now).await;
        assert_eq!(
            check(&t, "ann", IP, now).await,
            Ok(()),
            "success clears the username"
        );
        third.failed(now + 500).await;
        fail(&t, "ann", IP, now + 500).await.expect("allowed");
        assert_eq!(
            check(&t, "ann", IP, now + 600).await,
            Err(TooEarly { retry_after: 1 }),
            "the delay runs from when the failure was known"
        );
    }

    /// Three replicas on one store have one budget, not three: each
    /// replica's guess of the counters is stale, and the swap corrects it.
    #[tokio::test]
    async fn replicas_sharing_a_store_share_one_budget() {
        let (_dir, store) = store();
        let replicas: Vec<LoginThrottle> = (0..3)
            .map(|_| LoginThrottle::new(policy(), store.clone()))
            .collect();
        let now = 1_000_000_000;
        // The two free failures, on two replicas...
        fail(&replicas[0], "ann", IP, now).await.expect("free");
        fail(&replicas[1], "ann", IP, now).await.expect("free");
        // ...and every replica now makes the third attempt wait.
        for (i, replica) in replicas.iter().enumerate() {
            assert_eq!(
                check(replica, "ann", IP, now).await,
                Err(TooEarly { retry_after: 1 }),
                "replica {i}"
            );
        }
    }

    #[test]
    fn an_authenticated_clients_key_is_its_digest_per_client_and_address() {
        let (_dir, store) = store();
        let throttle = LoginThrottle::new(policy(), store);
        let a = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)));
        let b = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 8)));
        for _ in 0..2 {
            for (client, ip) in [("alexa", a), ("alexa", b), ("app", a), ("alexa", None)] {
                assert_eq!(
                    throttle.authenticated_client_key(client, ip),
                    client_key(client, ip),
                    "{client} {ip:?}"
                );
            }
        }
        assert_ne!(client_key("alexa", a), client_key("alexa", b));
        assert_ne!(client_key("alexa", a), client_key("app", a));
    }

    /// The successful-authentication fast path: a clean client skips the
    /// store read, failures counted on this replica end that at once, and
    /// failures counted on another replica within the trust bound.
    #[tokio::test]
    async fn a_clean_client_skips_the_read_until_failures_are_seen() {
        let (_dir, store) = store();
        let here = LoginThrottle::new(policy(), store.clone());
        let there = LoginThrottle::new(policy(), store.clone());
        let ip = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7)));
        let now = 1_000_000_000;
        assert_eq!(
            here.client_allowed("alexa", ip, now).await.expect("store"),
            Ok(())
        );
        assert!(here.recently_clear(&client_key("alexa", ip).id, now + 10));

        // Failures on this replica: the next right secret is refused at once.
        for _ in 0..3 {
            let _ = here
                .client_failed("alexa", ip, now + 10)
                .await
                .expect("store");
        }
        assert!(!here.recently_clear(&client_key("alexa", ip).id, now + 10));
        assert!(
            here.client_allowed("alexa", ip, now + 20)
                .await
                .expect("store")
                .is_err(),
            "throttled here"
        );

        // Another replica that saw the client clean trusts that for the
        // bound only, then reads the failures from the store.
        let other_ip = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 8)));
        assert_eq!(
            there
                .client_allowed("alexa", other_ip, now)
                .await
                .expect("store"),
            Ok(())
        );
        for _ in 0..3 {
            let _ = here
                .client_failed("alexa", other_ip, now + 10)
                .await
                .expect("store");
        }
        assert_eq!(
            there
                .client_allowed("alexa", other_ip, now + 20)
                .await
                .expect("store"),
            Ok(()),
            "within the bound: not yet seen"
        );
        assert!(
            there
                .client_allowed("alexa", other_ip, now + CLIENT_CLEAR_TRUST_MILLIS)
                .await
                .expect("store")
                .is_err(),
            "past the bound the store's count applies"
        );
        // Guesses are counted through the store wherever they land.
        assert!(
            there
                .client_failed("alexa", other_ip, now + CLIENT_CLEAR_TRUST_MILLIS)
                .await
                .expect("store")
                .is_err(),
            "a guess on the other replica waits too"
        );
    }

    /// A restart forgets nothing: the counters are in the store file.
    #[tokio::test]
    async fn a_restart_keeps_the_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        let now = 1_000_000_000;
        {
            let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&path).expect("open"));
            let t = LoginThrottle::new(policy(), store);
            for _ in 0..7 {
                // Past each delay: the seventh failure locks the username.
                let _ = fail(&t, "ann", None, now + 10_000_000).await;
            }
        }
        // The writer thread holds the database until its channel closes.
        let store = loop {
            match EmbeddedStore::open(&path) {
                Ok(s) => break s,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let t = LoginThrottle::new(policy(), Arc::new(store));
        assert!(
            check(&t, "ann", None, now + 10_000_000).await.is_err(),
            "still throttled after a restart"
        );
    }

    #[tokio::test]
    async fn failed_client_authentication_is_throttled_per_client_and_address() {
        let (_dir, t) = throttle();
        let now = 1_000_000_000;
        let attacker = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9)));
        let amazon = Some(IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1)));
        for _ in 0..2 {
            assert_eq!(
                t.client_failed("alexa", attacker, now)
                    .await
                    .expect("store"),
                Ok(())
            );
        }
        assert_eq!(
            t.client_failed("alexa", attacker, now)
                .await
                .expect("store"),
            Err(TooEarly { retry_after: 1 }),
            "past the free failures the next guess waits, uncounted"
        );
        assert_eq!(
            t.client_allowed("alexa", attacker, now)
                .await
                .expect("store"),
            Err(TooEarly { retry_after: 1 }),
            "even the right secret is refused while throttled"
        );
        assert_eq!(
            t.client_allowed("alexa", amazon, now).await.expect("store"),
            Ok(()),
            "the client from another address is unaffected"
        );
        assert_eq!(
            t.client_allowed("alexa", attacker, now + 1000)
                .await
                .expect("store"),
            Ok(()),
            "after the delay"
        );
        assert_eq!(
            t.client_failed("alexa", attacker, now + 1000)
                .await
                .expect("store"),
            Ok(()),
            "a success cleared the count: failures are free again"
        );
    }
}
