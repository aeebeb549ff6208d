//! Storage of codes, grants, tokens and consents.
//!
//! The [`Store`] trait is shaped for DynamoDB-style storage: every state
//! change that must happen once (redeeming a code, rotating a refresh token,
//! revoking a grant) is one atomic, conditional operation of the backend, and
//! every read treats an item past its `expires_at` as absent (TTL-based
//! deletion is only cleanup, never prompt). Tokens and codes are keyed by
//! [`TokenHash`]; their values are never handed to a backend.
//!
//! Backends: [`embedded`] (a single redb file) and [`dynamodb`]. Every backend passes the one
//! suite in `conformance` (feature `test-support`).

pub mod dynamodb;
pub mod embedded;

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::tokens::TokenHash;

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

/// Identifies a grant: one user's authorization of one client, and every
/// refresh and access token descended from it (the token "family").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GrantId(pub [u8; 16]);

impl GrantId {
    /// A new random id.
    pub fn generate() -> GrantId {
        GrantId(crate::tokens::random_id())
    }

    /// Lower-case hex, as used in forms.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`GrantId::to_hex`] output.
    pub fn from_hex(s: &str) -> Option<GrantId> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(GrantId(id))
    }
}

impl std::fmt::Debug for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrantId(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCodeRecord {
    /// The client it was issued to.
    pub client_id: String,
    /// The user who authorized it.
    pub user_id: String,
    /// The redirect URI of the authorization request, if it carried one;
    /// the token request must then repeat it exactly (RFC 6749 4.1.3).
    pub redirect_uri: Option<String>,
    /// Granted scope, space separated.
    pub scope: String,
    /// PKCE S256 challenge, if the request had one.
    pub code_challenge: Option<String>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When the code stops being redeemable.
    pub expires_at: UnixTime,
    /// Set, atomically, to the grant the code was redeemed for.
    pub redeemed_for: Option<GrantId>,
}

/// A grant: the root of a token family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The client.
    pub client_id: String,
    /// The user; `None` for `client_credentials` (the client acts for itself).
    pub user_id: Option<String>,
    /// Granted scope, space separated.
    pub scope: String,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it ends regardless of use; `None`: never.
    pub expires_at: Option<UnixTime>,
    /// Set when the grant was revoked (by RFC 7009, reuse detection or replay).
    pub revoked_at: Option<UnixTime>,
}

impl GrantRecord {
    /// Whether tokens of this grant may still be used at `now`.
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// An issued access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// The client it was issued to.
    pub client_id: String,
    /// The user it acts for; `None` for `client_credentials`.
    pub user_id: Option<String>,
    /// Granted scope, space separated.
    pub scope: String,
    /// The grant it descends from; `None` for `client_credentials`.
    pub grant_id: Option<GrantId>,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When it expires.
    pub expires_at: UnixTime,
}

/// An issued refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    /// The grant it belongs to.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user_id: String,
    /// Granted scope, space separated.
    pub scope: String,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// When it stops being usable (idle lifetime); `None`: never.
    pub expires_at: Option<UnixTime>,
    /// Whether it was already exchanged for a successor.
    pub state: RefreshState,
}

/// Lifecycle of a refresh token under rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefreshState {
    /// Usable.
    Active,
    /// Exchanged at `at`; `sealed_successor` holds that response, encrypted
    /// under a key only the old token's value derives (see
    /// [`crate::tokens::seal_successor`]).
    Rotated {
        /// When the rotation happened.
        at: UnixTime,
        /// The sealed successor.
        #[serde(with = "serde_bytes")]
        sealed_successor: Vec<u8>,
    },
}

/// The Amazon (LWA) tokens kept for one user and partner: mutual linking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerLinkRecord {
    /// Our user.
    pub user_id: String,
    /// The partner (`partner_id`).
    pub partner_id: String,
    /// Our client through which the user linked (the Alexa skill).
    pub client_id: String,
    /// Our grant the link belongs to: when it ends, so does the link.
    pub grant_id: GrantId,
    /// The access and refresh tokens, encrypted with the key ring and bound
    /// to `user_id` and `partner_id`.
    #[serde(with = "serde_bytes")]
    pub sealed_tokens: Vec<u8>,
    /// When the Amazon access token expires.
    pub access_expires_at: UnixTime,
    /// Scope Amazon granted.
    pub scope: String,
    /// When the tokens were last written.
    pub updated_at: UnixTime,
    /// Bumped on every token change, by the store: 1 for a new link, one
    /// more on each replacement or refresh. Ignored when writing.
    pub revision: u64,
    /// Held while one request refreshes the tokens at LWA.
    pub refresh_lease: Option<Lease>,
}

/// A time-limited right to refresh one partner link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it (random per attempt).
    pub holder: [u8; 16],
    /// When it lapses if never released.
    pub until: UnixTime,
}

/// What trying to take a refresh lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// Taken; the record as it was.
    Acquired(PartnerLinkRecord),
    /// Someone else holds an unexpired lease.
    Held(PartnerLinkRecord),
    /// No such link.
    NotFound,
}

/// An LWA authorization code already exchanged through AcceptGrant, kept
/// (under the code's hash) for a short while so that a retried directive
/// succeeds again instead of meeting LWA's `invalid_grant` for a used code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedGrantCode {
    /// The user whose Amazon tokens the code yielded.
    pub user_id: String,
    /// The partner they are kept for.
    pub partner_id: String,
    /// When the record may be forgotten.
    pub expires_at: UnixTime,
}

/// Which of our users an Alexa user id (`amzn1.ask.account...`, one per
/// user and skill enablement) belongs to, learnt from skill events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlexaUserRecord {
    /// Alexa's user id.
    pub alexa_user_id: String,
    /// Our user.
    pub user_id: String,
    /// Our client (the skill) the user linked through.
    pub client_id: String,
    /// The grant of that link.
    pub grant_id: GrantId,
    /// When it was recorded.
    pub updated_at: UnixTime,
}

/// The tokens created when a grant starts (code redemption).
#[derive(Debug, Clone)]
pub struct NewGrant {
    /// The new grant's id.
    pub grant_id: GrantId,
    /// The grant.
    pub grant: GrantRecord,
    /// Its first access token, when it is stored (`opaque`); self-contained
    /// formats write nothing.
    pub access: Option<(TokenHash, AccessTokenRecord)>,
    /// When its first access token expires, stored or not: a self-contained
    /// one is checked against the grant, which must last that long.
    pub access_expires_at: UnixTime,
    /// Its first refresh token, when the client may refresh.
    pub refresh: Option<(TokenHash, RefreshTokenRecord)>,
}

/// A refresh token's exchange for new tokens.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The grant the refresh token belongs to.
    pub grant_id: GrantId,
    /// The refresh token being used.
    pub old: TokenHash,
    /// With rotation: the old token's new state (`Rotated`). Without
    /// rotation: `None`, the old token stays active.
    pub retire_old: Option<RefreshState>,
    /// The new access token, when it is stored (`opaque`).
    pub access: Option<(TokenHash, AccessTokenRecord)>,
    /// When the new access token expires, stored or not (see
    /// [`NewGrant::access_expires_at`]).
    pub access_expires_at: UnixTime,
    /// The new refresh token, with rotation.
    pub refresh: Option<(TokenHash, RefreshTokenRecord)>,
}

/// Why a code could not be redeemed.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// Unknown or expired.
    #[error("authorization code not found or expired")]
    NotFound,
    /// Redeemed before: a replay. The caller revokes that grant.
    #[error("authorization code was already redeemed")]
    AlreadyRedeemed(GrantId),
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a rotation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The token is no longer active or its grant no longer usable: another
    /// request rotated it first, or the grant was revoked. Re-read and decide.
    #[error("refresh token changed concurrently")]
    Conflict,
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A backend failure: the request cannot be answered now (503), but nothing
/// about the client's input was wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend is unreachable, throttled or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be decoded: a bug or corruption.
    #[error("corrupt store item: {0}")]
    Corrupt(String),
    /// An insert collided with an existing key (a duplicate random id).
    #[error("store key already exists")]
    Duplicate,
}

/// A refresh token with the grant it belongs to, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLookup {
    /// The token.
    pub token: RefreshTokenRecord,
    /// Its grant; `None` if the grant was already deleted.
    pub grant: Option<GrantRecord>,
}

/// The storage a server needs. Implementations must be safe to share among
/// many concurrent requests and, for shared backends, among replicas.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Succeeds when the backend answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Registers the metrics the backend keeps about itself, if any, in
    /// `registry` (the server's, under the `store` prefix).
    fn register_metrics(&self, _registry: &mut prometheus_client::registry::Registry) {}

    /// Stores a new authorization code. Fails with `Duplicate` on a key
    /// collision rather than overwriting.
    async fn put_code(&self, code: &TokenHash, record: &AuthCodeRecord) -> Result<(), StoreError>;

    /// Reads an unexpired code (redeemed or not).
    async fn get_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AuthCodeRecord>, StoreError>;

    /// Atomically marks the code redeemed and creates the grant with its
    /// tokens, only if the code is unexpired and not yet redeemed.
    async fn redeem_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
        grant: &NewGrant,
    ) -> Result<(), RedeemError>;

    /// Stores an access token that belongs to no grant (`client_credentials`).
    async fn put_access_token(
        &self,
        token: &TokenHash,
        record: &AccessTokenRecord,
    ) -> Result<(), StoreError>;

    /// Reads an access token that is unexpired and whose grant is active.
    async fn get_access_token(
        &self,
        token: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AccessTokenRecord>, StoreError>;

    /// Deletes one access token.
    async fn delete_access_token(&self, token: &TokenHash) -> Result<(), StoreError>;

    /// Reads an unexpired refresh token, in any state, with its grant.
    async fn get_refresh_token(
        &self,
        token: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<RefreshLookup>, StoreError>;

    /// Atomically: if the old refresh token is still `Active`, unexpired,
    /// and its grant active, apply `rotation` (retire the old token, store
    /// the new ones). Otherwise `Conflict`.
    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation,
        now: UnixTime,
    ) -> Result<(), RotateError>;

    /// Revokes a grant: marks it revoked (so every token of it stops working
    /// at once) and deletes its tokens and the Amazon tokens linked through
    /// it. Returns whether it was active.
    async fn revoke_grant(&self, grant: &GrantId, now: UnixTime) -> Result<bool, StoreError>;

    /// Reads the grant a token belongs to.
    async fn get_grant(&self, grant: &GrantId) -> Result<Option<GrantRecord>, StoreError>;

    /// The scopes `user_id` already consented to for `client_id`.
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError>;

    /// Records (replaces) a user's consent for a client.
    async fn put_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), StoreError>;

    /// Every active grant of a user (for the "linked apps" page).
    async fn list_user_grants(
        &self,
        user_id: &str,
        now: UnixTime,
    ) -> Result<Vec<(GrantId, GrantRecord)>, StoreError>;

    /// Stores (replaces) the Amazon tokens of a user and partner, only if
    /// `record.grant_id` is an active grant. Returns whether it was stored.
    /// The stored revision is the replaced link's plus one (1 for a new
    /// link), whatever `record.revision` says; any refresh lease ends.
    async fn put_partner_link(
        &self,
        record: &PartnerLinkRecord,
        now: UnixTime,
    ) -> Result<bool, StoreError>;

    /// Reads a user's link to a partner (absent once its grant expired).
    async fn get_partner_link(
        &self,
        user_id: &str,
        partner_id: &str,
        now: UnixTime,
    ) -> Result<Option<PartnerLinkRecord>, StoreError>;

    /// Takes the refresh lease of a link if nobody holds an unexpired one.
    async fn acquire_partner_lease(
        &self,
        user_id: &str,
        partner_id: &str,
        lease: Lease,
        now: UnixTime,
    ) -> Result<LeaseOutcome, StoreError>;

    /// Ends a refresh: if `holder` still holds the lease, writes the new
    /// tokens (when given), bumps the revision and clears the lease.
    /// Returns whether the lease was still held.
    async fn finish_partner_refresh(
        &self,
        user_id: &str,
        partner_id: &str,
        holder: [u8; 16],
        tokens: Option<(Vec<u8>, UnixTime)>,
        now: UnixTime,
    ) -> Result<bool, StoreError>;

    /// Deletes a link (when `grant` is given: only if it still belongs to
    /// that grant). Returns whether something was deleted.
    async fn delete_partner_link(
        &self,
        user_id: &str,
        partner_id: &str,
        grant: Option<GrantId>,
    ) -> Result<bool, StoreError>;

    /// Deletes what has expired by `now`. Returns how many items went.
    async fn purge_expired(&self, now: UnixTime) -> Result<u64, StoreError>;

    // --- Alexa lifecycle (issue 16): AcceptGrant idempotency and the
    // Alexa user id <-> user mapping of skill events. ---

    /// Remembers that the LWA code hashed to `code` was exchanged, until
    /// `record.expires_at`, only if no unexpired record of it exists (one
    /// conditional write). Returns whether it was written.
    async fn put_processed_grant_code(
        &self,
        code: &TokenHash,
        record: &ProcessedGrantCode,
        now: UnixTime,
    ) -> Result<bool, StoreError>;

    /// Reads an unexpired record of a processed LWA code.
    async fn get_processed_grant_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<ProcessedGrantCode>, StoreError>;

    /// Records (replaces) which of our users an Alexa user id belongs to.
    async fn put_alexa_user(&self, record: &AlexaUserRecord) -> Result<(), StoreError>;

    /// Reads the user an Alexa user id belongs to.
    async fn get_alexa_user(
        &self,
        alexa_user_id: &str,
    ) -> Result<Option<AlexaUserRecord>, StoreError>;

    /// Forgets an Alexa user id. Returns whether it was known.
    async fn delete_alexa_user(&self, alexa_user_id: &str) -> Result<bool, StoreError>;

    // --- App-to-App account linking (issue #15): the single-use `state`
    // that binds an Amazon authorization code to the user who asked for it.

    /// Stores a new App-to-App state. Fails with `Duplicate` on a key
    /// collision rather than overwriting.
    async fn put_app_link_state(
        &self,
        key: &TokenHash,
        record: &AppLinkStateRecord,
    ) -> Result<(), StoreError>;

    /// Removes a state and returns it if it was unexpired at `now`, in one
    /// atomic step: of concurrent callers (on any replica), at most one gets
    /// it; every later call gets `None`.
    async fn take_app_link_state(
        &self,
        key: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AppLinkStateRecord>, StoreError>;

    // --- Issue 14 (security hardening, part B): unlinking forgets consent.

    /// Forgets a user's consent for a client (unlinking: the next
    /// authorization asks again). Deleting an absent consent succeeds.
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<(), StoreError>;

    // --- Throttle counters (issue 14: failed logins and failed client
    // authentications counted once for all replicas, kept over restarts) ---

    /// Reads counters (absent, or expired by `now`: `None`), in the order
    /// of `keys`. Strongly consistent.
    async fn get_counters(
        &self,
        keys: &[CounterKey],
        now: UnixTime,
    ) -> Result<Vec<Option<Counter>>, StoreError>;

    /// Atomically, for every write at once: if each counter is still what
    /// the write expects (the same `version`; `None` matches an absent or
    /// expired counter), store the new values. Otherwise write nothing and
    /// return every counter as it is now, so the caller can decide again
    /// without another read.
    async fn swap_counters(
        &self,
        writes: &[CounterWrite],
        now: UnixTime,
    ) -> Result<CounterSwap, StoreError>;

    // --- Signing out (issue 14, finding 10): the login session is a
    // stateless cookie, so ending it before its expiry takes a record that
    // every replica consults. Keyed by a hash of the session id: the store
    // never holds a value that, copied into a cookie, would mean anything.

    /// Records that the login session hashed to `session` ended, until
    /// `expires_at` (the session's own expiry: after it, the cookie is
    /// refused anyway and the record may be deleted). Ending a session
    /// again succeeds.
    async fn end_session(
        &self,
        session: &TokenHash,
        expires_at: UnixTime,
    ) -> Result<(), StoreError>;

    /// Whether the login session hashed to `session` was ended (a record
    /// expired by `now` reads as not ended). Strongly consistent: a sign-out
    /// on one replica counts on every other at once.
    async fn session_ended(&self, session: &TokenHash, now: UnixTime) -> Result<bool, StoreError>;
}

/// Names one throttle counter: an opaque digest of what is counted (a
/// username, an address, a client at an address), so that the store never
/// holds a username and every key has the same short length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterKey(pub [u8; 32]);

/// A count of recent failures (the throttle's state for one key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Failures counted.
    pub failures: u32,
    /// When the last one happened, in Unix milliseconds.
    pub last_failure_millis: i64,
    /// Bumped by every write; what a [`CounterWrite`] compares.
    pub version: u64,
    /// When the counter stops mattering and may be deleted.
    pub expires_at: UnixTime,
}

/// One conditional write of [`Store::swap_counters`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterWrite {
    /// The counter.
    pub key: CounterKey,
    /// What the writer last saw: the write applies only if it is still so.
    pub expected: Option<Counter>,
    /// The new value (its `version` one more than the expected one's).
    pub new: Counter,
}

/// How a [`Store::swap_counters`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterSwap {
    /// Every write applied.
    Swapped,
    /// Some counter had changed; nothing was written. Every counter as it
    /// is now, in the order of the writes.
    Changed(Vec<Option<Counter>>),
}

/// An App-to-App linking in progress: the user who started it, waiting for
/// the Amazon authorization code that comes back with its `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLinkStateRecord {
    /// Our user who started the linking.
    pub user_id: String,
    /// The `appToApp.skills[].id` being linked.
    pub skill: String,
    /// The redirect URI Amazon was given; the LWA code exchange repeats it.
    pub redirect_uri: String,
    /// When the state stops being accepted.
    pub expires_at: UnixTime,
}

/// How long a rotated refresh token is kept after its rotation, so that its
/// reuse is recognised (and the grant revoked) rather than answered with a
/// plain "unknown token". Bounded so that an hourly-refreshing Alexa does not
/// grow the store forever.
pub const ROTATED_TOKEN_RETENTION_SECONDS: i64 = 30 * 24 * 3600;
