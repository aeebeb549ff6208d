//! Access tokens in the three formats a client may be configured with
//! (`accessTokenFormat`): minting them, and reading one back wherever this
//! server accepts access tokens (bearer endpoints, introspection,
//! revocation, AcceptGrant, skill events).
//!
//! An `opaque` token is a store record, read on every use. A `sealed` or
//! `jwt` token carries its record itself: issuing one writes nothing, and
//! verifying one reads nothing but the state of its grant, so that revoking
//! the grant (unlinking, reuse detection, a revoked refresh token) ends its
//! access tokens too. That state is cached for [`GRANT_STATE_CACHE_MILLIS`]:
//! a grant revoked on another replica ends its self-contained access tokens
//! there within that bound (on the replica that revoked it, at once). A
//! `client_credentials` token has no grant: it lives until it expires.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::{AccessTokenFormat, Config};
use crate::keyring::KeyRing;
use crate::store::{AccessTokenRecord, GrantId, Store, StoreError, UnixTime};
use crate::tokens::jwt::SigningKeys;
use crate::tokens::{self, TokenHash, TokenKind, sealed};

/// How long a grant's state read by a token check is trusted (ms): the
/// bound on how late another replica notices a revocation.
pub const GRANT_STATE_CACHE_MILLIS: i64 = 2000;

/// Past this many cached grants, the cache is cleared (a memory bound, not
/// an eviction policy: a clear costs one read per grant in use).
const GRANT_STATE_CACHE_CAPACITY: usize = 100_000;

/// A minted access token.
pub struct MintedAccess {
    /// The value handed to the client.
    pub value: String,
    /// The token's record (for self-contained formats, what it carries).
    pub record: AccessTokenRecord,
    /// Its hash, when the record must be stored (`opaque`); `None`: nothing
    /// to write.
    pub stored: Option<TokenHash>,
}

impl MintedAccess {
    /// The `(hash, record)` a store transaction writes, if any.
    pub fn store_entry(&self) -> Option<(TokenHash, AccessTokenRecord)> {
        self.stored.map(|hash| (hash, self.record.clone()))
    }
}

/// Why no token could be minted: a format without its keys (the config
/// validation refuses that, so only a bug gets here).
#[derive(Debug, thiserror::Error)]
#[error("no key is configured for {0} access tokens")]
pub struct NoKey(pub &'static str);

/// What a presented access token is, by its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// `ala_...`, or anything unrecognised: looked up in the store.
    Opaque,
    /// `als_...`.
    Sealed,
    /// Three dot-separated base64url parts.
    Jwt,
}

impl Presented {
    /// Tells the formats apart without decoding anything.
    pub fn of(token: &str) -> Presented {
        if token.starts_with(sealed::PREFIX) {
            Presented::Sealed
        } else if token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2 {
            Presented::Jwt
        } else {
            Presented::Opaque
        }
    }
}

/// The access-token formats of this server, with their keys.
pub struct AccessTokens {
    issuer: String,
    sealing: Option<KeyRing>,
    signing: Option<SigningKeys>,
    grants: GrantStates,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("sealing", &self.sealing)
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

impl AccessTokens {
    /// Loads the keys the configured formats need (only those: a server
    /// whose clients all use opaque tokens reads no key file here).
    pub fn new(config: &Config, issuer: &str) -> Result<AccessTokens, String> {
        let uses = |f| config.clients.iter().any(|c| c.access_token_format == f);
        let sealing = if uses(AccessTokenFormat::Sealed) {
            Some(
                KeyRing::load_for(&config.encryption_key_files, sealed::PURPOSE)
                    .map_err(|e| e.to_string())?,
            )
        } else {
            None
        };
        let signing = if config.access_token_signing_key_files.is_empty() {
            None
        } else {
            Some(
                SigningKeys::load(&config.access_token_signing_key_files)
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(AccessTokens {
            issuer: issuer.to_owned(),
            sealing,
            signing,
            grants: GrantStates::default(),
        })
    }

    /// Opaque tokens only (no keys): for tools and tests that run a grant
    /// without a configuration.
    pub fn opaque_only(issuer: &str) -> AccessTokens {
        AccessTokens {
            issuer: issuer.to_owned(),
            sealing: None,
            signing: None,
            grants: GrantStates::default(),
        }
    }

    /// The JWKS document, when JWT signing keys are configured.
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.signing.as_ref().map(SigningKeys::jwks)
    }

    /// Mints a token in `format` for `record`; `audience` is a JWT's `aud`
    /// (default: the issuer).
    pub fn mint(
        &self,
        format: AccessTokenFormat,
        audience: Option<&str>,
        record: AccessTokenRecord,
    ) -> Result<MintedAccess, NoKey> {
        let (value, stored) = match format {
            AccessTokenFormat::Opaque => {
                let token = tokens::generate(TokenKind::AccessToken);
                (token.value, Some(token.hash))
            }
            AccessTokenFormat::Sealed => {
                let ring = self.sealing.as_ref().ok_or(NoKey("sealed"))?;
                (sealed::seal(ring, &record).ok_or(NoKey("sealed"))?, None)
            }
            AccessTokenFormat::Jwt => {
                let keys = self.signing.as_ref().ok_or(NoKey("jwt"))?;
                let aud = audience.unwrap_or(&self.issuer);
                (
                    keys.sign(&self.issuer, aud, &record).ok_or(NoKey("jwt"))?,
                    None,
                )
            }
        };
        Ok(MintedAccess {
            value,
            record,
            stored,
        })
    }

    /// The record of an access token this server issued, if it is unexpired
    /// and its grant (if any) active at `now`; `None` otherwise.
    pub async fn verify(
        &self,
        store: &dyn Store,
        token: &str,
        now: UnixTime,
        now_millis: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let record = match Presented::of(token) {
            Presented::Opaque => return store.get_access_token(&TokenHash::of(token), now).await,
            Presented::Sealed => self.sealing.as_ref().and_then(|r| sealed::open(r, token)),
            Presented::Jwt => self
                .signing
                .as_ref()
                .and_then(|k| k.verify(&self.issuer, token)),
        };
        let Some(record) = record.filter(|r| now < r.expires_at) else {
            return Ok(None);
        };
        match record.grant_id {
            Some(grant) if !self.grant_active(store, grant, now, now_millis).await? => Ok(None),
            _ => Ok(Some(record)),
        }
    }

    /// Forgets what is cached of a grant: call after revoking it, so that
    /// this replica refuses its tokens at once.
    pub fn forget_grant(&self, grant: &GrantId) {
        self.grants.forget(grant);
    }

    async fn grant_active(
        &self,
        store: &dyn Store,
        grant: GrantId,
        now: UnixTime,
        now_millis: i64,
    ) -> Result<bool, StoreError> {
        if let Some(active) = self.grants.get(&grant, now, now_millis) {
            return Ok(active);
        }
        let record = store.get_grant(&grant).await?;
        let state = match record {
            Some(g) if g.revoked_at.is_none() => GrantState::Active {
                until: g.expires_at,
            },
            _ => GrantState::Ended,
        };
        self.grants.put(grant, state, now_millis);
        Ok(state.active_at(now))
    }
}

#[derive(Debug, Clone, Copy)]
enum GrantState {
    Active { until: Option<UnixTime> },
    Ended,
}

impl GrantState {
    fn active_at(self, now: UnixTime) -> bool {
        match self {
            GrantState::Active { until } => until.is_none_or(|u| now < u),
            GrantState::Ended => false,
        }
    }
}

/// Grant states read by token checks, each trusted for
/// [`GRANT_STATE_CACHE_MILLIS`].
#[derive(Default)]
struct GrantStates {
    entries: Mutex<HashMap<GrantId, (GrantState, i64)>>,
}

impl GrantStates {
    fn get(&self, grant: &GrantId, now: UnixTime, now_millis: i64) -> Option<bool> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (state, read_at) = entries.get(grant)?;
        (now_millis - read_at < GRANT_STATE_CACHE_MILLIS && now_millis >= *read_at)
            .then(|| state.active_at(now))
    }

    fn put(&self, grant: GrantId, state: GrantState, now_millis: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= GRANT_STATE_CACHE_CAPACITY {
            entries.retain(|_, (_, at)| now_millis - *at < GRANT_STATE_CACHE_MILLIS);
            if entries.len() >= GRANT_STATE_CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(grant, (state, now_millis));
    }

    fn forget(&self, grant: &GrantId) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(grant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_form() {
        assert_eq!(Presented::of("ala_abc"), Presented::Opaque);
        assert_eq!(Presented::of("als_abc"), Presented::Sealed);
        assert_eq!(Presented::of("eyJh.eyJi.c2ln"), Presented::Jwt);
        assert_eq!(Presented::of("eyJh.eyJi"), Presented::Opaque);
        assert_eq!(Presented::of(""), Presented::Opaque);
    }

    #[test]
    fn a_cached_grant_state_is_trusted_for_the_bound_only() {
        let states = GrantStates::default();
        let g = GrantId([1; 16]);
        states.put(g, GrantState::Active { until: Some(100) }, 10_000);
        assert_eq!(
            states.get(&g, 50, 10_000 + GRANT_STATE_CACHE_MILLIS - 1),
            Some(true)
        );
        assert_eq!(
            states.get(&g, 100, 10_001),
            Some(false),
            "the grant's own expiry"
        );
        assert_eq!(states.get(&g, 50, 10_000 + GRANT_STATE_CACHE_MILLIS), None);
        states.forget(&g);
        assert_eq!(states.get(&g, 50, 10_001), None);
        states.put(g, GrantState::Ended, 10_000);
        assert_eq!(states.get(&g, 50, 10_001), Some(false));
    }
}
