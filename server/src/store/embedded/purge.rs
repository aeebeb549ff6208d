//! Removing expired items, a slice at a time.
//!
//! A purge looks at every record of the tables whose records expire. As one
//! store operation it held the store thread, and so every request, for the
//! whole scan: 1.4 s for a store of a million access tokens on the bench
//! machine, every five minutes; and the one journal record of its batch
//! named every key it removed. It runs instead as a series of operations
//! ([`slice`]) that each look at no more than [`SLICE`] records and resume
//! after the last key the one before looked at; the requests that arrive
//! meanwhile run between them, in the same batches.
//!
//! A record written behind the cursor while a purge runs waits for the next
//! purge. The tables go in a fixed order, tokens before grants, so that a
//! grant whose tokens have all expired goes in the same purge as they do.
//! A token goes when it expires or its grant has ended (revoked, expired,
//! or already removed): tokens are not indexed by grant, and a grant's end
//! disables them before a purge removes them.

use std::ops::Bound;

use redb::{ReadableMultimapTable, ReadableTable, TableDefinition};

use super::txn::Txn;
use super::{
    ACCESS, APP_LINK_STATES, CODES, COUNTERS, ENDED_SESSIONS, GRANT_LEASES, GRANT_TOKENS, GRANTS,
    KIND_ACCESS, KIND_LEASED, KIND_PARTNER, KIND_REFRESH, PROCESSED_GRANT_CODES, REFRESH,
    USER_GRANTS, active_in, decode, index_entry, lease_of, refresh_live, remove_grant_items,
    unavailable,
};
use crate::store::{
    AccessTokenRecord, AppLinkStateRecord, AuthCodeRecord, Counter, GrantId, GrantRecord,
    ProcessedGrantCode, RefreshTokenRecord, StoreError, UnixTime,
};
use crate::tokens::TokenHash;

/// The most records one slice looks at. A slice of expired access tokens
/// takes about a millisecond on the bench machine.
pub(super) const SLICE: usize = 1024;

/// The tables a purge goes through, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Codes,
    Access,
    Refresh,
    /// After the tokens: a grant left without tokens is removed.
    Grants,
    Counters,
    ProcessedGrantCodes,
    AppLinkStates,
    EndedSessions,
}

const PHASES: [Phase; 8] = [
    Phase::Codes,
    Phase::Access,
    Phase::Refresh,
    Phase::Grants,
    Phase::Counters,
    Phase::ProcessedGrantCodes,
    Phase::AppLinkStates,
    Phase::EndedSessions,
];

/// Where the next slice of a purge resumes.
#[derive(Debug)]
pub(super) struct Cursor {
    /// Index into [`PHASES`].
    phase: usize,
    /// The last key looked at in that phase's table; none: its beginning.
    after: Option<Vec<u8>>,
}

impl Cursor {
    /// The beginning of a purge.
    pub(super) fn start() -> Cursor {
        Cursor {
            phase: 0,
            after: None,
        }
    }
}

/// Looks at up to [`SLICE`] records from `cursor` on and removes the expired
/// ones (and what hangs off them). Returns how many items it removed, and
/// where the next slice resumes; `None` once the purge has been through
/// every table.
pub(super) fn slice(
    txn: &Txn,
    now: UnixTime,
    mut cursor: Cursor,
) -> Result<(u64, Option<Cursor>), StoreError> {
    let mut budget = SLICE;
    let mut removed = 0;
    while let Some(&phase) = PHASES.get(cursor.phase) {
        if budget == 0 {
            return Ok((removed, Some(cursor)));
        }
        let after = cursor.after.take();
        let after = after.as_deref();
        let (n, stopped_at) = match phase {
            // Redeemed codes stay until they expire, so that a replay is
            // still recognised.
            Phase::Codes => simple(txn, CODES, after, &mut budget, |v| {
                Ok(now >= decode::<AuthCodeRecord>(v)?.expires_at)
            })?,
            Phase::Access => tokens(txn, ACCESS, KIND_ACCESS, now, after, &mut budget, |v| {
                let record: AccessTokenRecord = decode(v)?;
                Ok((now >= record.expires_at, record.grant_id))
            })?,
            // Past their expiry, or rotated longer ago than reuse is
            // recognised.
            Phase::Refresh => tokens(txn, REFRESH, KIND_REFRESH, now, after, &mut budget, |v| {
                let record: RefreshTokenRecord = decode(v)?;
                Ok((!refresh_live(&record, now), Some(record.grant_id)))
            })?,
            Phase::Grants => grants(txn, now, after, &mut budget)?,
            Phase::Counters => simple(txn, COUNTERS, after, &mut budget, |v| {
                Ok(now >= decode::<Counter>(v)?.expires_at)
            })?,
            Phase::ProcessedGrantCodes => {
                simple(txn, PROCESSED_GRANT_CODES, after, &mut budget, |v| {
                    Ok(now >= decode::<ProcessedGrantCode>(v)?.expires_at)
                })?
            }
            Phase::AppLinkStates => simple(txn, APP_LINK_STATES, after, &mut budget, |v| {
                Ok(now >= decode::<AppLinkStateRecord>(v)?.expires_at)
            })?,
            // The record is the session's own expiry.
            Phase::EndedSessions => simple(txn, ENDED_SESSIONS, after, &mut budget, |v| {
                Ok(now >= decode::<UnixTime>(v)?)
            })?,
        };
        removed += n;
        match stopped_at {
            Some(key) => cursor.after = Some(key),
            None => cursor.phase += 1,
        }
    }
    Ok((removed, None))
}

/// What a phase came to: items removed, and the last key it looked at when
/// the slice's budget ran out before the table's end.
type Progress = (u64, Option<Vec<u8>>);

/// Keys picked from a table, and the last key looked at when the slice's
/// budget ran out before the table's end.
type Picked = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// The keys, among up to `*budget` records of `table` after `after` in key
/// order, that `dead` picks; and the last key looked at if the budget ran
/// out first.
fn scan(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    after: Option<&[u8]>,
    budget: &mut usize,
    mut dead: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
) -> Result<Picked, StoreError> {
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut picked = Vec::new();
    for item in table
        .range::<&[u8]>((lower, Bound::Unbounded))
        .map_err(unavailable)?
    {
        let (key, value) = item.map_err(unavailable)?;
        if dead(key.value(), value.value())? {
            picked.push(key.value().to_vec());
        }
        *budget -= 1;
        if *budget == 0 {
            return Ok((picked, Some(key.value().to_vec())));
        }
    }
    Ok((picked, None))
}

/// A table whose records go once `expired` says so, with nothing hanging
/// off them.
fn simple(
    txn: &Txn,
    def: TableDefinition<'static, &'static [u8], &'static [u8]>,
    after: Option<&[u8]>,
    budget: &mut usize,
    expired: impl Fn(&[u8]) -> Result<bool, StoreError>,
) -> Result<Progress, StoreError> {
    let mut table = txn.open_table(def).map_err(unavailable)?;
    let (dead, stopped_at) = scan(&table, after, budget, |_, value| expired(value))?;
    for key in &dead {
        table.remove(key.as_slice()).map_err(unavailable)?;
    }
    Ok((dead.len() as u64, stopped_at))
}

/// Removes a removed token's entry from its grant's index (a store written
/// before leases has them).
fn unindex(txn: &Txn, entries: &[(GrantId, [u8; 33])]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
    for (grant, entry) in entries {
        index
            .remove(grant.0.as_slice(), entry.as_slice())
            .map_err(unavailable)?;
    }
    Ok(())
}

fn token_hash(key: &[u8]) -> Result<TokenHash, StoreError> {
    key.try_into()
        .map(TokenHash)
        .map_err(|_| StoreError::Corrupt("a token key is not 32 bytes".into()))
}

/// Tokens of one kind (`def`, index entries of `kind`) that expired, or
/// whose grant ended; `expired` says of a record whether it expired, and
/// which grant it belongs to.
fn tokens(
    txn: &Txn,
    def: TableDefinition<'static, &'static [u8], &'static [u8]>,
    kind: u8,
    now: UnixTime,
    after: Option<&[u8]>,
    budget: &mut usize,
    expired: impl Fn(&[u8]) -> Result<(bool, Option<GrantId>), StoreError>,
) -> Result<Progress, StoreError> {
    let mut table = txn.open_table(def).map_err(unavailable)?;
    let grants = txn.open_table(GRANTS).map_err(unavailable)?;
    let mut indexed = Vec::new();
    let (dead, stopped_at) = scan(&table, after, budget, |key, value| {
        let (expired, grant) = expired(value)?;
        let dead = expired
            || match &grant {
                Some(grant) => !active_in(&grants, grant, now)?,
                None => false,
            };
        if dead && let Some(grant) = grant {
            indexed.push((grant, index_entry(kind, &token_hash(key)?)));
        }
        Ok(dead)
    })?;
    drop(grants);
    for key in &dead {
        table.remove(key.as_slice()).map_err(unavailable)?;
    }
    drop(table);
    unindex(txn, &indexed)?;
    Ok((dead.len() as u64, stopped_at))
}

/// Grants that ended, or have no tokens left (their lease has passed, and
/// no index entry of a token remains): they can never be used again, and go
/// with everything that hangs off them (their Amazon tokens too).
fn grants(
    txn: &Txn,
    now: UnixTime,
    after: Option<&[u8]>,
    budget: &mut usize,
) -> Result<Progress, StoreError> {
    let mut ended: Vec<(GrantId, Option<String>, Vec<Vec<u8>>)> = Vec::new();
    let stopped_at = {
        let grants = txn.open_table(GRANTS).map_err(unavailable)?;
        let index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
        let leases = txn.open_table(GRANT_LEASES).map_err(unavailable)?;
        let (_, stopped_at) = scan(&grants, after, budget, |key, value| {
            let grant: GrantRecord = decode(value)?;
            let id = key
                .try_into()
                .map(GrantId)
                .map_err(|_| StoreError::Corrupt("a grant key is not 16 bytes".into()))?;
            let mut entries = Vec::new();
            for entry in index.get(key).map_err(unavailable)? {
                entries.push(entry.map_err(unavailable)?.value().to_vec());
            }
            let has_tokens = lease_of(&leases, &id)?.is_some_and(|end| now < end)
                || entries
                    .iter()
                    .any(|e| e[0] != KIND_PARTNER && e[0] != KIND_LEASED);
            if grant.is_active(now) && has_tokens {
                return Ok(false);
            }
            ended.push((id, grant.user_id, entries));
            Ok(true)
        })?;
        stopped_at
    };
    for (id, user, entries) in &ended {
        remove_grant_items(txn, id, entries)?;
        let mut index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
        index.remove_all(id.0.as_slice()).map_err(unavailable)?;
        drop(index);
        let mut leases = txn.open_table(GRANT_LEASES).map_err(unavailable)?;
        leases.remove(id.0.as_slice()).map_err(unavailable)?;
        drop(leases);
        if let Some(user) = user {
            let mut users = txn.open_multimap_table(USER_GRANTS).map_err(unavailable)?;
            users
                .remove(user.as_bytes(), id.0.as_slice())
                .map_err(unavailable)?;
        }
        let mut grants = txn.open_table(GRANTS).map_err(unavailable)?;
        grants.remove(id.0.as_slice()).map_err(unavailable)?;
    }
    Ok((ended.len() as u64, stopped_at))
}

#[cfg(test)]
mod tests {
    use super::super::EmbeddedStore;
    use super::*;
    use crate::store::conformance::{NOW, access, code, new_grant};
    use crate::store::{NewGrant, RefreshState, Rotation, Store};

    const LATER: UnixTime = NOW + 100;

    /// A new store in a directory of its own (kept while the store is).
    fn open() -> (tempfile::TempDir, EmbeddedStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("store.redb")).expect("open");
        (dir, store)
    }

    /// A grant through a redeemed code, whose tokens both expire at
    /// `expires_at`.
    async fn grant(store: &EmbeddedStore, expires_at: UnixTime) -> NewGrant {
        let mut grant = new_grant("user", None);
        if let Some((_, token)) = &mut grant.access {
            token.expires_at = expires_at;
        }
        grant.access_expires_at = expires_at;
        if let Some((_, token)) = &mut grant.refresh {
            token.expires_at = Some(expires_at);
        }
        redeem(store, grant).await
    }

    /// `grant`, started by redeeming a code at NOW.
    async fn redeem(store: &EmbeddedStore, grant: NewGrant) -> NewGrant {
        let redeemed = TokenHash::of(&crate::tokens::random_nonce());
        store
            .put_code(&redeemed, &code(NOW + 60))
            .await
            .expect("put code");
        store
            .redeem_code(&redeemed, NOW, &grant)
            .await
            .expect("redeem");
        grant
    }

    #[tokio::test]
    async fn a_purge_goes_a_bounded_slice_at_a_time_and_misses_nothing() {
        let (_dir, store) = open();
        // Three slices' worth of client_credentials tokens, every other one
        // expired by LATER.
        let tokens: Vec<(TokenHash, bool)> = (0..3 * SLICE + 10)
            .map(|i| (TokenHash::of(&format!("token-{i}")), i % 2 == 0))
            .collect();
        for (hash, expired) in &tokens {
            let expires_at = if *expired { NOW + 10 } else { NOW + 3600 };
            store
                .put_access_token(hash, &access(None, expires_at))
                .await
                .expect("put");
        }
        // A grant whose tokens expire goes with them, in the same purge;
        // one whose tokens live stays.
        let ending = grant(&store, NOW + 10).await;
        let staying = grant(&store, NOW + 3600).await;

        // One slice: the two codes (redeemed codes stay until they expire,
        // at NOW + 60), then the access tokens in key order, up to the
        // budget.
        let (removed, next) = store
            .write(|txn| slice(txn, LATER, Cursor::start()))
            .await
            .expect("slice");
        let next = next.expect("a slice stops at its budget");
        assert_eq!(next.phase, 1, "it stopped among the access tokens");
        let mut sorted = tokens.clone();
        sorted.push((ending.access.as_ref().expect("stored").0, true));
        sorted.push((staying.access.as_ref().expect("stored").0, false));
        sorted.sort_by_key(|(hash, _)| hash.0);
        let looked_at = &sorted[..SLICE - 2];
        assert_eq!(
            next.after.as_deref(),
            Some(looked_at.last().expect("some").0.0.as_slice()),
            "it resumes after the last record it looked at"
        );
        let expired_first = looked_at.iter().filter(|(_, expired)| *expired).count() as u64;
        assert_eq!(
            removed,
            2 + expired_first,
            "it removed exactly the expired ones it looked at"
        );

        // The whole purge: the rest of the tokens, the ended grant's two
        // tokens, and the grant itself.
        let expired = tokens.iter().filter(|(_, expired)| *expired).count() as u64;
        let rest = store.purge_expired(LATER).await.expect("purge");
        assert_eq!(removed + rest, 2 + expired + 2 + 1);
        for (hash, expired) in &tokens {
            // Read at NOW, before any expiry: only a removal hides a token.
            let found = store.get_access_token(hash, NOW).await.expect("get");
            assert_eq!(found.is_none(), *expired, "token expired: {expired}");
        }
        assert!(
            store
                .get_grant(&ending.grant_id)
                .await
                .expect("get")
                .is_none()
        );
        let refresh = &ending.refresh.as_ref().expect("stored").0;
        assert!(
            store
                .get_refresh_token(refresh, NOW)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            store
                .get_grant(&staying.grant_id)
                .await
                .expect("get")
                .is_some()
        );
        let access = &staying.access.as_ref().expect("stored").0;
        assert!(
            store
                .get_access_token(access, NOW)
                .await
                .expect("get")
                .is_some()
        );
        assert_eq!(store.purge_expired(LATER).await.expect("purge again"), 0);
    }

    /// Whether the store holds grant `id`.
    async fn has_grant(store: &EmbeddedStore, id: &GrantId) -> bool {
        store.get_grant(id).await.expect("get").is_some()
    }

    /// Whether a record is still in `def`, whatever its state (the store's
    /// reads hide what expired or whose grant ended; a purge removes it).
    async fn held(
        store: &EmbeddedStore,
        def: TableDefinition<'static, &'static [u8], &'static [u8]>,
        key: Vec<u8>,
    ) -> bool {
        store
            .write(move |txn| {
                let table = txn.open_table(def).map_err(unavailable)?;
                Ok(table.get(key.as_slice()).map_err(unavailable)?.is_some())
            })
            .await
            .expect("read")
    }

    /// A grant whose access token is self-contained (nothing stored) and
    /// that has no refresh token is kept until that token expires: the
    /// token is checked against it. (With the index of stored tokens, the
    /// first purge took it, and the token was refused from then on.)
    #[tokio::test]
    async fn a_grant_lasts_as_long_as_its_self_contained_access_token() {
        let (_dir, store) = open();
        let mut sealed = new_grant("user", None);
        sealed.access = None;
        sealed.refresh = None;
        sealed.access_expires_at = NOW + 3600;
        let sealed = redeem(&store, sealed).await;

        store.purge_expired(LATER).await.expect("purge");
        assert!(
            has_grant(&store, &sealed.grant_id).await,
            "kept while its access token lives"
        );
        store.purge_expired(NOW + 3600).await.expect("purge");
        assert!(
            !has_grant(&store, &sealed.grant_id).await,
            "ended once nothing issued through it is left"
        );
        assert!(!held(&store, GRANT_LEASES, sealed.grant_id.0.to_vec()).await);
    }

    /// A rotation extends its grant's lease over the successor and the
    /// retired token's retention; the grant then outlives the tokens it
    /// started with, and goes once all of that is over.
    #[tokio::test]
    async fn a_rotation_extends_its_grants_lease() {
        let (_dir, store) = open();
        let first = grant(&store, NOW + 10).await;
        let (old, _) = first.refresh.clone().expect("refresh");
        let mut successor = first.refresh.clone().expect("refresh").1;
        successor.expires_at = Some(NOW + 5000);
        let next = TokenHash::of("successor");
        store
            .rotate_refresh_token(
                &Rotation {
                    grant_id: first.grant_id,
                    old,
                    retire_old: Some(RefreshState::Rotated {
                        at: NOW,
                        sealed_successor: vec![1],
                    }),
                    access: None,
                    access_expires_at: NOW + 300,
                    refresh: Some((next, successor)),
                },
                NOW,
            )
            .await
            .expect("rotate");

        store.purge_expired(NOW + 4000).await.expect("purge");
        assert!(has_grant(&store, &first.grant_id).await);
        assert!(
            held(&store, REFRESH, next.0.to_vec()).await,
            "the successor lives"
        );
        assert!(
            held(&store, REFRESH, old.0.to_vec()).await,
            "the retired token is kept to recognise its reuse"
        );

        // After the successor's expiry and the retired token's retention
        // (and the slack of an extended lease), nothing is left.
        let over = NOW + crate::store::ROTATED_TOKEN_RETENTION_SECONDS + super::super::LEASE_SLACK;
        store.purge_expired(over).await.expect("purge");
        assert!(!has_grant(&store, &first.grant_id).await);
        assert!(!held(&store, REFRESH, next.0.to_vec()).await);
        assert!(!held(&store, REFRESH, old.0.to_vec()).await);
        assert!(!held(&store, GRANT_LEASES, first.grant_id.0.to_vec()).await);
    }

    /// Revoking a grant disables its tokens at once; the next purge removes
    /// them, and the grant, though none has expired.
    #[tokio::test]
    async fn the_purge_removes_a_revoked_grants_tokens() {
        let (_dir, store) = open();
        let revoked = grant(&store, NOW + 3600).await;
        let kept = grant(&store, NOW + 3600).await;
        let (access, _) = revoked.access.clone().expect("stored");
        let (refresh, _) = revoked.refresh.clone().expect("stored");
        assert!(
            store
                .revoke_grant(&revoked.grant_id, NOW)
                .await
                .expect("revoke")
        );
        assert!(
            store
                .get_access_token(&access, NOW)
                .await
                .expect("get")
                .is_none()
        );

        store.purge_expired(NOW + 1).await.expect("purge");
        assert!(!held(&store, ACCESS, access.0.to_vec()).await);
        assert!(!held(&store, REFRESH, refresh.0.to_vec()).await);
        assert!(!has_grant(&store, &revoked.grant_id).await);
        let (kept_access, _) = kept.access.clone().expect("stored");
        assert!(
            store
                .get_access_token(&kept_access, NOW + 1)
                .await
                .expect("get")
                .is_some(),
            "another grant's tokens stay"
        );
    }

    /// A store written before leases indexed every token under its grant
    /// and has no lease: such a grant is kept while an indexed token is
    /// left, and goes with the last of them.
    #[tokio::test]
    async fn a_grant_of_a_store_from_before_leases_lasts_as_long_as_its_indexed_tokens() {
        let (_dir, store) = open();
        let legacy = grant(&store, NOW + 3600).await;
        let id = legacy.grant_id;
        let (access, _) = legacy.access.clone().expect("stored");
        let (refresh, _) = legacy.refresh.clone().expect("stored");
        // Make it what the store held before: index entries, no lease.
        store
            .write(move |txn| {
                let mut leases = txn.open_table(GRANT_LEASES).map_err(unavailable)?;
                leases.remove(id.0.as_slice()).map_err(unavailable)?;
                drop(leases);
                let mut index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
                for entry in [
                    index_entry(KIND_ACCESS, &access),
                    index_entry(KIND_REFRESH, &refresh),
                ] {
                    index
                        .insert(id.0.as_slice(), entry.as_slice())
                        .map_err(unavailable)?;
                }
                Ok(())
            })
            .await
            .expect("the old layout");

        store.purge_expired(LATER).await.expect("purge");
        assert!(has_grant(&store, &id).await, "its tokens live");
        store.purge_expired(NOW + 3600).await.expect("purge");
        assert!(!has_grant(&store, &id).await, "they expired");
        let left = store
            .write(move |txn| {
                let index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
                Ok(index.get(id.0.as_slice()).map_err(unavailable)?.count())
            })
            .await
            .expect("read");
        assert_eq!(left, 0, "and their index entries went with them");
    }

    /// A server older than leases, run on this store after a downgrade,
    /// ends an active grant at its first purge unless the grant has an
    /// index entry other than a partner link's. Every grant written now has
    /// one ([`KIND_LEASED`]), naming nothing: that server's revocation
    /// looks for a partner link under an empty key and finds none.
    #[tokio::test]
    async fn a_grant_keeps_an_index_entry_for_a_server_before_leases() {
        let (_dir, store) = open();
        let id = grant(&store, NOW + 3600).await.grant_id;
        let entries = move |store: EmbeddedStore| async move {
            store
                .write(move |txn| {
                    let index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
                    let mut entries = Vec::new();
                    for entry in index.get(id.0.as_slice()).map_err(unavailable)? {
                        entries.push(entry.map_err(unavailable)?.value().to_vec());
                    }
                    Ok(entries)
                })
                .await
                .expect("read")
        };
        let found = entries(store.clone()).await;
        assert_eq!(found, vec![vec![KIND_LEASED]]);
        // That server's rule: an active grant stays while it has an entry
        // that is not a partner link's.
        assert!(found.iter().any(|e| e[0] != KIND_PARTNER));

        assert!(store.revoke_grant(&id, NOW).await.expect("revoke"));
        store.purge_expired(NOW + 1).await.expect("purge");
        assert!(!has_grant(&store, &id).await);
        assert!(entries(store.clone()).await.is_empty());
    }
}
