//! The embedded store: one redb file, for a single replica.
//!
//! redb is a pure-Rust, crash-safe (copy-on-write, checksummed) embedded
//! key-value store with ACID transactions; it needs no C toolchain and no
//! separate process, which is what a developer without a cluster wants.
//!
//! Every operation, read or write, runs on one store thread, in one redb
//! transaction that a checkpoint commits every second or so; the operations
//! waiting at a moment form a batch whose changes are made durable together
//! by one write-ahead journal record (group commit, see [`writer`] and
//! [`journal`]). Each operation still reads, checks its condition and writes
//! on its own, so the semantics are those of separate atomic operations; an
//! operation that declines (a condition fails, a random key collides)
//! decides so before it writes and never disturbs the others.

use std::convert::Infallible;
use std::path::Path;

use async_trait::async_trait;
use redb::{
    Database, MultimapTableDefinition, ReadableMultimapTable, ReadableTable, TableDefinition,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    AccessTokenRecord, AlexaUserRecord, AppLinkStateRecord, AuthCodeRecord, Counter, CounterKey,
    CounterSwap, CounterWrite, GrantId, GrantRecord, Lease, LeaseOutcome, NewGrant,
    PartnerLinkRecord, ProcessedGrantCode, ROTATED_TOKEN_RETENTION_SECONDS, RedeemError,
    RefreshLookup, RefreshState, RefreshTokenRecord, RotateError, Rotation, Store, StoreError,
    UnixTime,
};
use crate::config::EmbeddedStoreConfig;
use crate::tokens::TokenHash;

mod journal;
mod purge;
mod txn;
mod writer;

use journal::Journal;
use txn::{JournaledTable, TableSet, Tables, Txn};
use writer::{OpError, Writer};

const CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("codes");
const ACCESS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("access_tokens");
const REFRESH: TableDefinition<&[u8], &[u8]> = TableDefinition::new("refresh_tokens");
const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grants");
const CONSENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("consents");
/// Throttle counters, by [`CounterKey`].
const COUNTERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("throttle_counters");
/// App-to-App states (issue #15): state hash -> [`AppLinkStateRecord`].
const APP_LINK_STATES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("app_link_states");
const PARTNER_LINKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("partner_links");
/// AcceptGrant codes already exchanged (code hash -> record), for a while.
const PROCESSED_GRANT_CODES: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("processed_grant_codes");
/// Alexa user id -> our user, from skill events.
const ALEXA_USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("alexa_users");
/// Login sessions ended by signing out: session id hash -> the session's
/// expiry (postcard), until which the record counts.
const ENDED_SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("ended_sessions");
/// grant id -> kind byte + key of what must go when the grant ends: its
/// partner links ([`KIND_PARTNER`]), and one [`KIND_LEASED`] entry. Tokens
/// are not indexed: a grant's end disables them, a purge removes them, and
/// [`GRANT_LEASES`] says when a grant has none left. A store written before
/// leases also holds entries of tokens ([`KIND_ACCESS`], [`KIND_REFRESH`]);
/// they are still honoured, and go with their tokens.
const GRANT_TOKENS: MultimapTableDefinition<&[u8], &[u8]> =
    MultimapTableDefinition::new("grant_tokens");
/// grant id -> when the last token issued through it is gone (`i64` LE,
/// [`NEVER`] for a token that never expires): a purge ends an active grant
/// once that has passed. Two multimap entries per rotation (the index of
/// tokens by grant this replaces) cost the rotating refresh a sixth of its
/// throughput; a lease is read, and written only when a token outlives it.
const GRANT_LEASES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grant_leases");
/// user id -> grant id, for listing a user's linked clients.
const USER_GRANTS: MultimapTableDefinition<&[u8], &[u8]> =
    MultimapTableDefinition::new("user_grants");

/// Every table of the store, opened once per store transaction.
static TABLES: [TableDefinition<'static, &[u8], &[u8]>; 12] = [
    CODES,
    ACCESS,
    REFRESH,
    GRANTS,
    CONSENTS,
    PARTNER_LINKS,
    PROCESSED_GRANT_CODES,
    ALEXA_USERS,
    APP_LINK_STATES,
    COUNTERS,
    ENDED_SESSIONS,
    GRANT_LEASES,
];
static MULTIMAPS: [MultimapTableDefinition<'static, &[u8], &[u8]>; 2] = [GRANT_TOKENS, USER_GRANTS];
const TABLE_SET: TableSet = TableSet {
    tables: &TABLES,
    multimaps: &MULTIMAPS,
};

const KIND_ACCESS: u8 = b'a';
const KIND_REFRESH: u8 = b'r';
const KIND_PARTNER: u8 = b'p';
/// The one entry (no key) of a grant that has a lease. It names nothing to
/// delete; it is there for a server older than leases, run on this store
/// after a downgrade: its purge ends an active grant that has no index
/// entry but a partner link's, so without it every grant written since
/// would go at its first purge. With it, such a server keeps a grant until
/// it ends.
const KIND_LEASED: u8 = b'l';

/// A lease's end for a token that never expires.
const NEVER: UnixTime = UnixTime::MAX;
/// How much further than it must an extended lease goes: a refresh token
/// whose idle lifetime moves forward at every rotation then writes its
/// grant's lease about once an hour, not at every rotation. A grant left
/// without tokens may so be kept up to this long before a purge ends it.
const LEASE_SLACK: UnixTime = 3600;

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    writer: Writer,
    stats: writer::Stats,
}

/// The store file holds tokens' hashes, grants and sealed Amazon tokens:
/// readable by the server's user only (0600), whether new or existing.
fn restrict_file(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let failed = |e: std::io::Error| {
            StoreError::Unavailable(format!("failed to open {}: {e}", path.display()))
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Opens the journal of the store at `path` and applies the records the
/// store file lacks (a crash before a checkpoint), then makes them durable in
/// the store file: the journal is empty for the store thread.
fn recover(db: &Database, path: &Path) -> Result<Journal, StoreError> {
    let journal_path = journal::path_for(path);
    restrict_file(&journal_path)?;
    let mut journal = Journal::open(&journal_path).map_err(|e| {
        StoreError::Unavailable(format!("failed to open {}: {e}", journal_path.display()))
    })?;
    let txn = db.begin_write().map_err(unavailable)?;
    let records = writer::replay(&txn, &mut journal)?;
    if records > 0 {
        tracing::info!(
            records,
            journal = %journal_path.display(),
            "embedded store: applied the journal records a crash left behind"
        );
    }
    // Durable (the default), whether or not anything was replayed: the
    // journal starts over, so the store file must hold all it did.
    txn.commit().map_err(unavailable)?;
    journal.checkpointed();
    Ok(journal)
}

impl EmbeddedStore {
    /// Opens (or creates) the database file and starts its writer thread.
    /// The page cache has its default size
    /// ([`DEFAULT_EMBEDDED_CACHE_MIB`](crate::config::DEFAULT_EMBEDDED_CACHE_MIB)).
    pub fn open(path: &Path) -> Result<EmbeddedStore, StoreError> {
        Self::open_config(&EmbeddedStoreConfig::at(path))
    }

    /// Opens the store `config` names, with its page cache.
    pub fn open_config(config: &EmbeddedStoreConfig) -> Result<EmbeddedStore, StoreError> {
        Self::open_with(config, None)
    }

    /// [`EmbeddedStore::open_config`], with `sync` in place of `fdatasync`
    /// for the journal when given (tests of a failing disk).
    fn open_with(
        config: &EmbeddedStoreConfig,
        sync: Option<journal::SyncFn>,
    ) -> Result<EmbeddedStore, StoreError> {
        let path = config.path.as_path();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            // Directories created here are ours alone (0700); an existing
            // one (a mounted volume) keeps its mode.
            let mut dirs = std::fs::DirBuilder::new();
            dirs.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
            dirs.create(parent).map_err(|e| {
                StoreError::Unavailable(format!("failed to create {}: {e}", parent.display()))
            })?;
        }
        restrict_file(path)?;
        // redb's page cache grows up to its size as the store does (a
        // tenth of it holds the pages written since the last checkpoint):
        // bounded, so that a pod's memory limit can hold it.
        let db = redb::Builder::new()
            .set_cache_size(config.cache_bytes())
            .create(path)
            .map_err(|e| {
                StoreError::Unavailable(format!("failed to open {}: {e}", path.display()))
            })?;
        // Create every table up front, so that the store thread can open
        // them all at once in each transaction.
        let txn = db.begin_write().map_err(unavailable)?;
        Tables::open(&txn, TABLE_SET).map_err(unavailable)?;
        txn.open_table(writer::JOURNAL_STATE).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;

        let mut journal = recover(&db, path)?;
        if let Some(sync) = sync {
            journal = journal.with_sync(sync);
        }
        let stats = writer::Stats::new();
        let writer = Writer::start(db, journal, TABLE_SET, stats.clone())?;
        Ok(EmbeddedStore { writer, stats })
    }

    /// Runs a write operation that never declines.
    async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Txn) -> Result<T, StoreError> + Send + 'static,
    {
        match self
            .writer
            .write(move |txn| op(txn).map_err(OpError::<Infallible>::Failed))
            .await?
        {
            Ok(value) => Ok(value),
            Err(never) => match never {},
        }
    }

    /// Runs a write operation that may decline with `R` (see [`writer`]).
    async fn write_or_refuse<T, R, F>(&self, op: F) -> Result<Result<T, R>, StoreError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: FnOnce(&Txn) -> Result<T, OpError<R>> + Send + 'static,
    {
        self.writer.write(op).await
    }

    /// Runs a read in the store thread's transaction, after the operations
    /// sent before it: it sees every write that was answered.
    async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Txn) -> Result<T, StoreError> + Send + 'static,
    {
        self.write(op).await
    }
}

fn unavailable(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(e.into().to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    // Sized first: growing the buffer as it goes took several reallocations
    // per record on the store thread (a retired refresh token's is ~500
    // bytes); the counting pass allocates nothing.
    let corrupt = |e: postcard::Error| StoreError::Corrupt(e.to_string());
    let size = postcard::experimental::serialized_size(value).map_err(corrupt)?;
    postcard::to_extend(value, Vec::with_capacity(size)).map_err(corrupt)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match table.get(key).map_err(unavailable)? {
        Some(guard) => decode(guard.value()).map(Some),
        None => Ok(None),
    }
}

fn index_entry(kind: u8, hash: &TokenHash) -> [u8; 33] {
    let mut entry = [0u8; 33];
    entry[0] = kind;
    entry[1..].copy_from_slice(&hash.0);
    entry
}

/// `user \0 other`: NUL cannot occur in a client or partner id (printable
/// ASCII) and that id comes last, so distinct pairs never share a key.
fn pair_key(user_id: &str, client_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(user_id.len() + client_id.len() + 1);
    key.extend_from_slice(user_id.as_bytes());
    key.push(0);
    key.extend_from_slice(client_id.as_bytes());
    key
}

/// Inserts a new code; refuses `Duplicate` rather than overwriting one.
fn put_code_op(
    key: TokenHash,
    value: Vec<u8>,
) -> impl FnOnce(&Txn) -> Result<(), OpError<StoreError>> + Send + 'static {
    move |txn| {
        let mut codes = txn.open_table(CODES).map_err(unavailable)?;
        if codes.get(key.0.as_slice()).map_err(unavailable)?.is_some() {
            return Err(OpError::Refused(StoreError::Duplicate));
        }
        codes
            .insert(key.0.as_slice(), value.as_slice())
            .map_err(unavailable)?;
        Ok(())
    }
}

fn grant_active(txn: &Txn, grant: &GrantId, now: UnixTime) -> Result<bool, StoreError> {
    let grants = txn.open_table(GRANTS).map_err(unavailable)?;
    active_in(&grants, grant, now)
}

/// Whether `grant` is in `grants` (an open grants table) and active at
/// `now`: what every token of it is checked against.
fn active_in(
    grants: &impl ReadableTable<&'static [u8], &'static [u8]>,
    grant: &GrantId,
    now: UnixTime,
) -> Result<bool, StoreError> {
    Ok(get::<GrantRecord>(grants, &grant.0)?.is_some_and(|g| g.is_active(now)))
}

/// Writes `hash -> record` into an open table.
fn insert_record<T: Serialize>(
    table: &mut JournaledTable<'_, '_>,
    (hash, record): &(TokenHash, T),
) -> Result<(), StoreError> {
    table
        .insert(hash.0.as_slice(), encode(record)?.as_slice())
        .map_err(unavailable)?;
    Ok(())
}

/// The access token's record, when it is stored.
fn insert_access(
    txn: &Txn,
    access: Option<&(TokenHash, AccessTokenRecord)>,
) -> Result<(), StoreError> {
    if let Some(access) = access {
        let mut access_table = txn.open_table(ACCESS).map_err(unavailable)?;
        insert_record(&mut access_table, access)?;
    }
    Ok(())
}

/// When a token that expires at `expires_at` (`None`: never) is gone.
fn gone_at(expires_at: Option<UnixTime>) -> UnixTime {
    expires_at.unwrap_or(NEVER)
}

/// A lease's end, from its value.
fn lease_end(bytes: &[u8]) -> Result<UnixTime, StoreError> {
    bytes
        .try_into()
        .map(UnixTime::from_le_bytes)
        .map_err(|_| StoreError::Corrupt("a grant lease is not 8 bytes".into()))
}

/// The end of `grant`'s lease; `None` when it has none (a grant of a store
/// written before leases).
fn lease_of(
    leases: &impl ReadableTable<&'static [u8], &'static [u8]>,
    grant: &GrantId,
) -> Result<Option<UnixTime>, StoreError> {
    leases
        .get(grant.0.as_slice())
        .map_err(unavailable)?
        .map(|v| lease_end(v.value()))
        .transpose()
}

/// Makes `grant`'s lease last at least until `until`: exactly, for a new
/// lease; [`LEASE_SLACK`] further, for an extension.
fn extend_lease(txn: &Txn, grant: &GrantId, until: UnixTime) -> Result<(), StoreError> {
    let mut leases = txn.open_table(GRANT_LEASES).map_err(unavailable)?;
    let end = match lease_of(&leases, grant)? {
        Some(end) if end >= until => return Ok(()),
        Some(_) => until.saturating_add(LEASE_SLACK),
        None => until,
    };
    leases
        .insert(grant.0.as_slice(), end.to_le_bytes().as_slice())
        .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl Store for EmbeddedStore {
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.stats.register(registry);
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if let Some(broken) = self.writer.broken() {
            return Err(broken.clone());
        }
        self.read(|txn| {
            txn.open_table(GRANTS).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn put_code(&self, code: &TokenHash, record: &AuthCodeRecord) -> Result<(), StoreError> {
        self.write_or_refuse(put_code_op(*code, encode(record)?))
            .await?
    }

    async fn get_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AuthCodeRecord>, StoreError> {
        let key = code.0;
        self.read(move |txn| {
            let codes = txn.open_table(CODES).map_err(unavailable)?;
            Ok(get::<AuthCodeRecord>(&codes, &key)?.filter(|c| now < c.expires_at))
        })
        .await
    }

    async fn redeem_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
        grant: &NewGrant,
    ) -> Result<(), RedeemError> {
        let key = code.0;
        let grant = grant.clone();
        self.write_or_refuse(move |txn| {
            let mut codes = txn.open_table(CODES).map_err(unavailable)?;
            let Some(mut record) = get::<AuthCodeRecord>(&codes, &key)? else {
                return Err(OpError::Refused(RedeemError::NotFound));
            };
            if let Some(previous) = record.redeemed_for {
                return Err(OpError::Refused(RedeemError::AlreadyRedeemed(previous)));
            }
            if now >= record.expires_at {
                return Err(OpError::Refused(RedeemError::NotFound));
            }
            // Every refusal is decided before the first write (see `writer`).
            let mut grants = txn.open_table(GRANTS).map_err(unavailable)?;
            if grants
                .get(grant.grant_id.0.as_slice())
                .map_err(unavailable)?
                .is_some()
            {
                return Err(OpError::Refused(RedeemError::Store(StoreError::Duplicate)));
            }
            record.redeemed_for = Some(grant.grant_id);
            codes
                .insert(key.as_slice(), encode(&record)?.as_slice())
                .map_err(unavailable)?;
            drop(codes);
            grants
                .insert(
                    grant.grant_id.0.as_slice(),
                    encode(&grant.grant)?.as_slice(),
                )
                .map_err(unavailable)?;
            drop(grants);
            if let Some(user) = &grant.grant.user_id {
                let mut users = txn.open_multimap_table(USER_GRANTS).map_err(unavailable)?;
                users
                    .insert(user.as_bytes(), grant.grant_id.0.as_slice())
                    .map_err(unavailable)?;
            }
            let mut until = grant.access_expires_at;
            if let Some(refresh) = &grant.refresh {
                let mut refresh_table = txn.open_table(REFRESH).map_err(unavailable)?;
                insert_record(&mut refresh_table, refresh)?;
                until = until.max(gone_at(refresh.1.expires_at));
            }
            insert_access(txn, grant.access.as_ref())?;
            extend_lease(txn, &grant.grant_id, until)?;
            let mut index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
            index
                .insert(grant.grant_id.0.as_slice(), [KIND_LEASED].as_slice())
                .map_err(unavailable)?;
            Ok(())
        })
        .await?
    }

    async fn put_access_token(
        &self,
        token: &TokenHash,
        record: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let access = (*token, record.clone());
        self.write(move |txn| {
            insert_access(txn, Some(&access))?;
            match &access.1.grant_id {
                Some(grant) => extend_lease(txn, grant, access.1.expires_at),
                None => Ok(()),
            }
        })
        .await
    }

    async fn get_access_token(
        &self,
        token: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let key = token.0;
        self.read(move |txn| {
            let access = txn.open_table(ACCESS).map_err(unavailable)?;
            let Some(record) = get::<AccessTokenRecord>(&access, &key)? else {
                return Ok(None);
            };
            if now >= record.expires_at {
                return Ok(None);
            }
            if let Some(grant_id) = &record.grant_id
                && !grant_active(txn, grant_id, now)?
            {
                return Ok(None);
            }
            Ok(Some(record))
        })
        .await
    }

    async fn delete_access_token(&self, token: &TokenHash) -> Result<(), StoreError> {
        let key = token.0;
        self.write(move |txn| {
            let mut access = txn.open_table(ACCESS).map_err(unavailable)?;
            access.remove(key.as_slice()).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn get_refresh_token(
        &self,
        token: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<RefreshLookup>, StoreError> {
        let key = token.0;
        self.read(move |txn| {
            let refresh = txn.open_table(REFRESH).map_err(unavailable)?;
            let Some(record) = get::<RefreshTokenRecord>(&refresh, &key)? else {
                return Ok(None);
            };
            if !refresh_live(&record, now) {
                return Ok(None);
            }
            let grants = txn.open_table(GRANTS).map_err(unavailable)?;
            let grant = get::<GrantRecord>(&grants, &record.grant_id.0)?;
            Ok(Some(RefreshLookup {
                token: record,
                grant,
            }))
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation,
        now: UnixTime,
    ) -> Result<(), RotateError> {
        let rotation = rotation.clone();
        self.write_or_refuse(move |txn| {
            let mut refresh = txn.open_table(REFRESH).map_err(unavailable)?;
            let Some(mut old) = get::<RefreshTokenRecord>(&refresh, &rotation.old.0)? else {
                return Err(OpError::Refused(RotateError::Conflict));
            };
            if old.state != RefreshState::Active || old.expires_at.is_some_and(|e| now >= e) {
                return Err(OpError::Refused(RotateError::Conflict));
            }
            if !grant_active(txn, &old.grant_id, now)? {
                return Err(OpError::Refused(RotateError::Conflict));
            }
            // The grant lasts as long as what this issues, and the retired
            // token's retention.
            let mut until = rotation.access_expires_at;
            if let Some(state) = &rotation.retire_old {
                old.state = state.clone();
                refresh
                    .insert(rotation.old.0.as_slice(), encode(&old)?.as_slice())
                    .map_err(unavailable)?;
                until = until.max(now.saturating_add(ROTATED_TOKEN_RETENTION_SECONDS));
            }
            // The successor goes into the table already open: opening a
            // table costs about as much as an insert.
            if let Some(successor) = &rotation.refresh {
                insert_record(&mut refresh, successor)?;
                until = until.max(gone_at(successor.1.expires_at));
            }
            drop(refresh);
            insert_access(txn, rotation.access.as_ref())?;
            extend_lease(txn, &old.grant_id, until)?;
            Ok(())
        })
        .await?
    }

    async fn revoke_grant(&self, grant: &GrantId, now: UnixTime) -> Result<bool, StoreError> {
        let id = *grant;
        self.write(move |txn| {
            let mut grants = txn.open_table(GRANTS).map_err(unavailable)?;
            let Some(mut record) = get::<GrantRecord>(&grants, &id.0)? else {
                return Ok(false);
            };
            let was_active = record.is_active(now);
            if record.revoked_at.is_none() {
                record.revoked_at = Some(now);
                grants
                    .insert(id.0.as_slice(), encode(&record)?.as_slice())
                    .map_err(unavailable)?;
            }
            drop(grants);
            // The grant mark already disables every token; deleting them is
            // cleanup. Keep the grant record itself until purge so that a
            // replayed code still finds it revoked.
            let mut index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
            let mut entries = Vec::new();
            for entry in index.remove_all(id.0.as_slice()).map_err(unavailable)? {
                entries.push(entry.map_err(unavailable)?.value().to_vec());
            }
            drop(index);
            remove_grant_items(txn, &id, &entries)?;
            Ok(was_active)
        })
        .await
    }

    async fn get_grant(&self, grant: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        let id = *grant;
        self.read(move |txn| {
            let grants = txn.open_table(GRANTS).map_err(unavailable)?;
            get(&grants, &id.0)
        })
        .await
    }

    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let key = pair_key(user_id, client_id);
        self.read(move |txn| {
            let consents = txn.open_table(CONSENTS).map_err(unavailable)?;
            get(&consents, &key)
        })
        .await
    }

    async fn put_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), StoreError> {
        let key = pair_key(user_id, client_id);
        let value = encode(&scopes)?;
        self.write(move |txn| {
            let mut consents = txn.open_table(CONSENTS).map_err(unavailable)?;
            consents
                .insert(key.as_slice(), value.as_slice())
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn list_user_grants(
        &self,
        user_id: &str,
        now: UnixTime,
    ) -> Result<Vec<(GrantId, GrantRecord)>, StoreError> {
        let user = user_id.to_owned();
        self.read(move |txn| {
            let users = txn.open_multimap_table(USER_GRANTS).map_err(unavailable)?;
            let grants = txn.open_table(GRANTS).map_err(unavailable)?;
            let mut out = Vec::new();
            for id in users.get(user.as_bytes()).map_err(unavailable)? {
                let id = id.map_err(unavailable)?;
                let mut grant_id = [0u8; 16];
                grant_id.copy_from_slice(id.value());
                if let Some(g) = get::<GrantRecord>(&grants, &grant_id)?
                    && g.is_active(now)
                {
                    out.push((GrantId(grant_id), g));
                }
            }
            out.sort_by_key(|(_, g)| g.created_at);
            Ok(out)
        })
        .await
    }

    async fn put_partner_link(
        &self,
        record: &PartnerLinkRecord,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let record = record.clone();
        self.write(move |txn| {
            if !grant_active(txn, &record.grant_id, now)? {
                return Ok(false);
            }
            let key = pair_key(&record.user_id, &record.partner_id);
            let mut links = txn.open_table(PARTNER_LINKS).map_err(unavailable)?;
            let previous = get::<PartnerLinkRecord>(&links, &key)?;
            // The store owns the counter; the replaced link's lease ends.
            let mut record = record;
            record.revision = previous.map_or(1, |p| p.revision + 1);
            record.refresh_lease = None;
            links
                .insert(key.as_slice(), encode(&record)?.as_slice())
                .map_err(unavailable)?;
            drop(links);
            let mut entry = vec![KIND_PARTNER];
            entry.extend_from_slice(&key);
            let mut index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
            index
                .insert(record.grant_id.0.as_slice(), entry.as_slice())
                .map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn get_partner_link(
        &self,
        user_id: &str,
        partner_id: &str,
        _now: UnixTime,
    ) -> Result<Option<PartnerLinkRecord>, StoreError> {
        // Links of ended grants are removed with the grant (revocation or
        // purge), so what is here is current.
        let key = pair_key(user_id, partner_id);
        self.read(move |txn| {
            let links = txn.open_table(PARTNER_LINKS).map_err(unavailable)?;
            get(&links, &key)
        })
        .await
    }

    async fn acquire_partner_lease(
        &self,
        user_id: &str,
        partner_id: &str,
        lease: Lease,
        now: UnixTime,
    ) -> Result<LeaseOutcome, StoreError> {
        let key = pair_key(user_id, partner_id);
        self.write(move |txn| {
            let mut links = txn.open_table(PARTNER_LINKS).map_err(unavailable)?;
            let Some(mut record) = get::<PartnerLinkRecord>(&links, &key)? else {
                return Ok(LeaseOutcome::NotFound);
            };
            if record.refresh_lease.is_some_and(|l| now < l.until) {
                return Ok(LeaseOutcome::Held(record));
            }
            let before = record.clone();
            record.refresh_lease = Some(lease);
            links
                .insert(key.as_slice(), encode(&record)?.as_slice())
                .map_err(unavailable)?;
            Ok(LeaseOutcome::Acquired(before))
        })
        .await
    }

    async fn finish_partner_refresh(
        &self,
        user_id: &str,
        partner_id: &str,
        holder: [u8; 16],
        tokens: Option<(Vec<u8>, UnixTime)>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let key = pair_key(user_id, partner_id);
        self.write(move |txn| {
            let mut links = txn.open_table(PARTNER_LINKS).map_err(unavailable)?;
            let Some(mut record) = get::<PartnerLinkRecord>(&links, &key)? else {
                return Ok(false);
            };
            if record.refresh_lease.is_none_or(|l| l.holder != holder) {
                return Ok(false);
            }
            record.refresh_lease = None;
            if let Some((sealed, expires_at)) = tokens {
                record.sealed_tokens = sealed;
                record.access_expires_at = expires_at;
                record.updated_at = now;
                record.revision += 1;
            }
            links
                .insert(key.as_slice(), encode(&record)?.as_slice())
                .map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn delete_partner_link(
        &self,
        user_id: &str,
        partner_id: &str,
        grant: Option<GrantId>,
    ) -> Result<bool, StoreError> {
        let key = pair_key(user_id, partner_id);
        self.write(move |txn| {
            let mut links = txn.open_table(PARTNER_LINKS).map_err(unavailable)?;
            let Some(record) = get::<PartnerLinkRecord>(&links, &key)? else {
                return Ok(false);
            };
            if grant.is_some_and(|g| g != record.grant_id) {
                return Ok(false);
            }
            links.remove(key.as_slice()).map_err(unavailable)?;
            drop(links);
            let mut entry = vec![KIND_PARTNER];
            entry.extend_from_slice(&key);
            let mut index = txn.open_multimap_table(GRANT_TOKENS).map_err(unavailable)?;
            index
                .remove(record.grant_id.0.as_slice(), entry.as_slice())
                .map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> Result<u64, StoreError> {
        // A slice at a time: requests run between the slices.
        let mut removed = 0;
        let mut cursor = Some(purge::Cursor::start());
        while let Some(at) = cursor {
            let (n, next) = self.write(move |txn| purge::slice(txn, now, at)).await?;
            removed += n;
            cursor = next;
        }
        Ok(removed)
    }

    async fn put_processed_grant_code(
        &self,
        code: &TokenHash,
        record: &ProcessedGrantCode,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let key = code.0;
        let value = encode(record)?;
        self.write(move |txn| {
            let mut codes = txn.open_table(PROCESSED_GRANT_CODES).map_err(unavailable)?;
            if let Some(old) = get::<ProcessedGrantCode>(&codes, &key)?
                && now < old.expires_at
            {
                return Ok(false);
            }
            codes
                .insert(key.as_slice(), value.as_slice())
                .map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn get_processed_grant_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<ProcessedGrantCode>, StoreError> {
        let key = code.0;
        self.read(move |txn| {
            let codes = txn.open_table(PROCESSED_GRANT_CODES).map_err(unavailable)?;
            Ok(get::<ProcessedGrantCode>(&codes, &key)?.filter(|r| now < r.expires_at))
        })
        .await
    }

    async fn put_alexa_user(&self, record: &AlexaUserRecord) -> Result<(), StoreError> {
        let key = record.alexa_user_id.clone();
        let value = encode(record)?;
        self.write(move |txn| {
            let mut users = txn.open_table(ALEXA_USERS).map_err(unavailable)?;
            users
                .insert(key.as_bytes(), value.as_slice())
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn get_alexa_user(
        &self,
        alexa_user_id: &str,
    ) -> Result<Option<AlexaUserRecord>, StoreError> {
        let key = alexa_user_id.to_owned();
        self.read(move |txn| {
            let users = txn.open_table(ALEXA_USERS).map_err(unavailable)?;
            get(&users, key.as_bytes())
        })
        .await
    }

    async fn delete_alexa_user(&self, alexa_user_id: &str) -> Result<bool, StoreError> {
        let key = alexa_user_id.to_owned();
        self.write(move |txn| {
            let mut users = txn.open_table(ALEXA_USERS).map_err(unavailable)?;
            let removed = users.remove(key.as_bytes()).map_err(unavailable)?;
            Ok(removed.is_some())
        })
        .await
    }

    async fn put_app_link_state(
        &self,
        key: &TokenHash,
        record: &AppLinkStateRecord,
    ) -> Result<(), StoreError> {
        let key = key.0;
        let value = encode(record)?;
        self.write_or_refuse(move |txn| {
            let mut states = txn.open_table(APP_LINK_STATES).map_err(unavailable)?;
            if states.get(key.as_slice()).map_err(unavailable)?.is_some() {
                return Err(OpError::Refused(StoreError::Duplicate));
            }
            states
                .insert(key.as_slice(), value.as_slice())
                .map_err(unavailable)?;
            Ok(())
        })
        .await?
    }

    async fn take_app_link_state(
        &self,
        key: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AppLinkStateRecord>, StoreError> {
        let key = key.0;
        self.write(move |txn| {
            let mut states = txn.open_table(APP_LINK_STATES).map_err(unavailable)?;
            let Some(record) = get::<AppLinkStateRecord>(&states, &key)? else {
                return Ok(None);
            };
            states.remove(key.as_slice()).map_err(unavailable)?;
            Ok(Some(record).filter(|r| now < r.expires_at))
        })
        .await
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<(), StoreError> {
        let key = pair_key(user_id, client_id);
        self.write(move |txn| {
            let mut consents = txn.open_table(CONSENTS).map_err(unavailable)?;
            consents.remove(key.as_slice()).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn get_counters(
        &self,
        keys: &[CounterKey],
        now: UnixTime,
    ) -> Result<Vec<Option<Counter>>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |txn| {
            let counters = txn.open_table(COUNTERS).map_err(unavailable)?;
            keys.iter()
                .map(|k| live_counter(&counters, k, now))
                .collect()
        })
        .await
    }

    async fn swap_counters(
        &self,
        writes: &[CounterWrite],
        now: UnixTime,
    ) -> Result<CounterSwap, StoreError> {
        let writes = writes.to_vec();
        let swapped = self
            .write_or_refuse(move |txn| {
                let mut counters = txn.open_table(COUNTERS).map_err(unavailable)?;
                let current = writes
                    .iter()
                    .map(|w| live_counter(&counters, &w.key, now))
                    .collect::<Result<Vec<_>, _>>()?;
                // Every refusal is decided before the first write (`writer`).
                if writes.iter().zip(&current).any(|(w, c)| w.expected != *c) {
                    return Err(OpError::Refused(current));
                }
                for w in &writes {
                    counters
                        .insert(w.key.0.as_slice(), encode(&w.new)?.as_slice())
                        .map_err(unavailable)?;
                }
                Ok(())
            })
            .await?;
        Ok(match swapped {
            Ok(()) => CounterSwap::Swapped,
            Err(current) => CounterSwap::Changed(current),
        })
    }

    async fn end_session(
        &self,
        session: &TokenHash,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        let key = session.0;
        let value = encode(&expires_at)?;
        self.write(move |txn| {
            let mut ended = txn.open_table(ENDED_SESSIONS).map_err(unavailable)?;
            ended
                .insert(key.as_slice(), value.as_slice())
                .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn session_ended(&self, session: &TokenHash, now: UnixTime) -> Result<bool, StoreError> {
        let key = session.0;
        self.read(move |txn| {
            let ended = txn.open_table(ENDED_SESSIONS).map_err(unavailable)?;
            Ok(get::<UnixTime>(&ended, &key)?.is_some_and(|expires_at| now < expires_at))
        })
        .await
    }
}

/// A counter unless absent or expired.
fn live_counter(
    counters: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &CounterKey,
    now: UnixTime,
) -> Result<Option<Counter>, StoreError> {
    Ok(get::<Counter>(counters, &key.0)?.filter(|c| now < c.expires_at))
}

/// Deletes the tokens and partner links named by a grant's index entries.
fn remove_grant_items(txn: &Txn, grant: &GrantId, entries: &[Vec<u8>]) -> Result<(), StoreError> {
    let mut access = txn.open_table(ACCESS).map_err(unavailable)?;
    let mut refresh = txn.open_table(REFRESH).map_err(unavailable)?;
    let mut links = txn.open_table(PARTNER_LINKS).map_err(unavailable)?;
    for entry in entries {
        let (kind, key) = entry.split_at(1);
        match kind[0] {
            KIND_ACCESS => {
                access.remove(key).map_err(unavailable)?;
            }
            KIND_REFRESH => {
                refresh.remove(key).map_err(unavailable)?;
            }
            KIND_LEASED => {}
            _ => {
                // A newer linking may have replaced the link: only delete
                // it while it still belongs to this grant.
                let owned =
                    get::<PartnerLinkRecord>(&links, key)?.is_some_and(|l| l.grant_id == *grant);
                if owned {
                    links.remove(key).map_err(unavailable)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether a refresh token is still worth returning from a read: active and
/// unexpired, or rotated recently enough to recognise its reuse.
fn refresh_live(record: &RefreshTokenRecord, now: UnixTime) -> bool {
    match &record.state {
        RefreshState::Active => record.expires_at.is_none_or(|e| now < e),
        RefreshState::Rotated { at, .. } => now < at + ROTATED_TOKEN_RETENTION_SECONDS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn open() -> (tempfile::TempDir, EmbeddedStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("store.redb")).expect("open");
        (dir, store)
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_store_file_and_its_new_directory_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data").join("store.redb");
        let store = EmbeddedStore::open(&path).expect("open");
        drop(store);
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "store file");
        assert_eq!(mode(&journal::path_for(&path)), 0o600, "journal file");
        assert_eq!(mode(&dir.path().join("data")), 0o700, "store directory");
        // An existing world-readable file is tightened before it is opened.
        let old = dir.path().join("old.redb");
        std::fs::write(&old, b"").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        restrict_file(&old).expect("restrict");
        assert_eq!(mode(&old), 0o600, "existing store file");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn passes_the_store_conformance_suite() {
        let (_dir, store) = open();
        conformance::run_all(
            std::sync::Arc::new(store),
            conformance::Capabilities {
                immediate_purge: true,
            },
        )
        .await;
    }

    fn code(now: UnixTime) -> AuthCodeRecord {
        AuthCodeRecord {
            client_id: "alexa".into(),
            user_id: "user".into(),
            redirect_uri: None,
            scope: "profile".into(),
            code_challenge: None,
            auth_time: now,
            expires_at: now + 60,
            redeemed_for: None,
        }
    }

    /// The stored byte fields are written as byte strings (`serde_bytes`):
    /// postcard encodes those exactly as the sequences of `u8` that stores
    /// written before hold, so records read back either way.
    #[test]
    fn byte_fields_encode_as_the_sequences_stored_before() {
        #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
        enum Before {
            Active,
            Rotated {
                at: UnixTime,
                sealed_successor: Vec<u8>,
            },
        }
        let bytes: Vec<u8> = (0..=255u8).chain(0..200).collect();
        let before = encode(&Before::Rotated {
            at: 1_700_000_000,
            sealed_successor: bytes.clone(),
        })
        .expect("encode");
        let now = RefreshState::Rotated {
            at: 1_700_000_000,
            sealed_successor: bytes.clone(),
        };
        assert_eq!(encode(&now).expect("encode"), before);
        assert_eq!(decode::<RefreshState>(&before).expect("decode"), now);
        assert_eq!(
            decode::<Before>(&encode(&now).expect("encode")).expect("decode"),
            Before::Rotated {
                at: 1_700_000_000,
                sealed_successor: bytes,
            }
        );
        assert_eq!(
            encode(&RefreshState::Active).expect("encode"),
            encode(&Before::Active).expect("encode")
        );
    }

    /// A random key that collides (one `put_code` in a thousand batches
    /// might) is that operation's refusal; the other operations committed in
    /// the same transaction still happen. It used to abort the whole batch.
    #[tokio::test]
    async fn a_colliding_code_does_not_abort_the_rest_of_its_batch() {
        let (_dir, store) = open();
        let now = 1_000;
        let taken = TokenHash([1; 32]);
        let fresh = TokenHash([2; 32]);
        store
            .put_code(&taken, &code(now))
            .await
            .expect("first code");

        let value = encode(&code(now)).expect("encode");
        let consent = encode(&vec!["profile".to_owned()]).expect("encode");
        let (before, before_rx) = writer::Job::new(move |txn| {
            let mut consents = txn.open_table(CONSENTS).map_err(unavailable)?;
            consents
                .insert(pair_key("user", "alexa").as_slice(), consent.as_slice())
                .map_err(unavailable)?;
            Ok::<(), OpError<Infallible>>(())
        });
        let (colliding, colliding_rx) = writer::Job::new(put_code_op(taken, value.clone()));
        let (after, after_rx) = writer::Job::new(put_code_op(fresh, value));
        // One batch, in this order.
        store
            .writer
            .write_together(vec![before, colliding, after])
            .await;

        assert!(matches!(
            writer::answer::<(), Infallible>(before_rx).await,
            Ok(Ok(()))
        ));
        assert!(matches!(
            writer::answer::<(), StoreError>(colliding_rx).await,
            Ok(Err(StoreError::Duplicate))
        ));
        assert!(matches!(
            writer::answer::<(), StoreError>(after_rx).await,
            Ok(Ok(()))
        ));
        assert_eq!(
            store.get_consent("user", "alexa").await.expect("read"),
            Some(vec!["profile".to_owned()]),
            "the write before the collision was committed"
        );
        assert!(
            store.get_code(&fresh, now).await.expect("read").is_some(),
            "the write after the collision was committed"
        );
    }

    /// A storage failure in a batch takes back that batch's writes, and
    /// only those: the open transaction is rebuilt from the journal, which
    /// still holds the batches answered before it.
    #[tokio::test]
    async fn a_failed_batch_loses_itself_and_nothing_before_it() {
        let (_dir, store) = open();
        let scopes = vec!["profile".to_owned()];
        store
            .put_consent("user", "earlier", &scopes)
            .await
            .expect("an earlier batch");
        let consent = encode(&scopes).expect("encode");
        let (writes, writes_rx) = writer::Job::new(move |txn| {
            let mut consents = txn.open_table(CONSENTS).map_err(unavailable)?;
            consents
                .insert(pair_key("user", "doomed").as_slice(), consent.as_slice())
                .map_err(unavailable)?;
            Ok::<(), OpError<Infallible>>(())
        });
        let (fails, fails_rx) = writer::Job::new(|_txn| {
            Err::<(), OpError<Infallible>>(OpError::Failed(StoreError::Unavailable(
                "disk on fire".into(),
            )))
        });
        store.writer.write_together(vec![writes, fails]).await;
        assert!(writer::answer::<(), Infallible>(writes_rx).await.is_err());
        assert!(writer::answer::<(), Infallible>(fails_rx).await.is_err());

        assert_eq!(
            store.get_consent("user", "earlier").await.expect("read"),
            Some(scopes.clone()),
            "the batch answered before the failure stays"
        );
        assert_eq!(
            store.get_consent("user", "doomed").await.expect("read"),
            None,
            "the failed batch's write is gone"
        );
        store
            .put_consent("user", "later", &scopes)
            .await
            .expect("the store goes on");
        store.ping().await.expect("and is ready");
        assert_eq!(sample(&store, "alexa_link_store_failed_batches_total"), 1.0);
    }

    /// An `fdatasync` of the journal that fails loses the batch it was to
    /// make durable, whose callers are told, and nothing answered: the
    /// record is cut off, so neither the rebuild that follows nor a crash
    /// afterwards brings the lost batch back. The store goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failed_journal_sync_loses_only_what_it_was_to_make_durable() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        let syncs = Arc::new(AtomicU32::new(0));
        let counted = syncs.clone();
        let store = EmbeddedStore::open_with(
            &EmbeddedStoreConfig::at(&path),
            Some(Box::new(move |file: &std::fs::File| {
                match counted.fetch_add(1, Ordering::SeqCst) + 1 {
                    3 | 7 => Err(std::io::Error::other("disk on fire")),
                    _ => file.sync_data(),
                }
            })),
        )
        .expect("open");
        let scopes = vec!["profile".to_owned()];
        let mut writes = Vec::new();
        for round in 0..20 {
            let mut tasks = Vec::new();
            for n in 0..10 {
                let (store, scopes) = (store.clone(), scopes.clone());
                let client = format!("c{round}-{n}");
                tasks.push(tokio::spawn(async move {
                    let answer = store.put_consent("user", &client, &scopes).await;
                    (client, answer.is_ok())
                }));
            }
            for task in tasks {
                writes.push(task.await.expect("join"));
            }
        }
        assert!(syncs.load(Ordering::SeqCst) > 7, "both failures happened");
        let lost = writes.iter().filter(|(_, ok)| !ok).count();
        assert!(
            lost > 0 && lost < writes.len(),
            "{lost} of {} lost",
            writes.len()
        );

        let holds = |store: EmbeddedStore, writes: Vec<(String, bool)>, when: &'static str| async move {
            for (client, answered) in &writes {
                let found = store
                    .get_consent("user", client)
                    .await
                    .expect("read")
                    .is_some();
                assert_eq!(found, *answered, "{client} {when}");
            }
        };
        holds(store.clone(), writes.clone(), "while running").await;
        assert_eq!(sample(&store, "alexa_link_store_failed_batches_total"), 2.0);
        store
            .put_consent("user", "after", &scopes)
            .await
            .expect("the store goes on");
        store.ping().await.expect("and is ready");

        // A crash now: the store file holds the last checkpoint, the journal
        // the rest; what was lost stays lost.
        store.writer.halt().await;
        drop(store);
        let store = EmbeddedStore::open(&path).expect("reopen");
        writes.push(("after".to_owned(), true));
        holds(store, writes, "after a crash").await;
    }

    /// The value of the sample `name` in the store's metrics.
    fn sample(store: &EmbeddedStore, name: &str) -> f64 {
        let mut registry = prometheus_client::registry::Registry::with_prefix("alexa_link");
        store.register_metrics(registry.sub_registry_with_prefix("store"));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    }

    /// The store reports its batches, its journal writes (what an answered
    /// write waited for), its checkpoints (what every operation arriving
    /// meanwhile waited for) and how busy its thread was.
    #[tokio::test]
    async fn the_store_reports_its_batches_journal_writes_and_checkpoints() {
        let (_dir, store) = open();
        let scopes = vec!["profile".to_owned()];
        store
            .put_consent("user", "a", &scopes)
            .await
            .expect("write");
        // A checkpoint is due a second after the last one once something
        // was written; it runs right after the next batch is answered, so
        // the read after that batch comes after it.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        store
            .put_consent("user", "b", &scopes)
            .await
            .expect("write");
        store.get_consent("user", "b").await.expect("read");
        assert_eq!(
            sample(&store, "alexa_link_store_batch_operations_count"),
            3.0
        );
        assert_eq!(
            sample(&store, "alexa_link_store_journal_write_seconds_count"),
            2.0
        );
        assert_eq!(
            sample(&store, "alexa_link_store_checkpoint_seconds_count"),
            1.0
        );
        assert_eq!(sample(&store, "alexa_link_store_failed_batches_total"), 0.0);
        // Busy through both journal writes and the checkpoint (the last
        // batch's time may still be on its way), not through the wait.
        let busy = sample(&store, "alexa_link_store_busy_seconds_total");
        let waited_for = sample(&store, "alexa_link_store_journal_write_seconds_sum")
            + sample(&store, "alexa_link_store_checkpoint_seconds_sum");
        assert!(busy >= waited_for && busy < 1.0, "busy {busy} s");
    }

    /// A grant id that collides refuses the redemption before it marks the
    /// code redeemed: the code stays redeemable and nothing else is lost.
    #[tokio::test]
    async fn a_colliding_grant_id_leaves_the_code_redeemable() {
        let (_dir, store) = open();
        let now = 1_000;
        let (first, second) = (TokenHash([3; 32]), TokenHash([4; 32]));
        store.put_code(&first, &code(now)).await.expect("code");
        store.put_code(&second, &code(now)).await.expect("code");
        let grant = NewGrant {
            grant_id: GrantId([9; 16]),
            grant: GrantRecord {
                client_id: "alexa".into(),
                user_id: Some("user".into()),
                scope: "profile".into(),
                created_at: now,
                expires_at: None,
                revoked_at: None,
            },
            access: Some((
                TokenHash([5; 32]),
                AccessTokenRecord {
                    client_id: "alexa".into(),
                    user_id: Some("user".into()),
                    scope: "profile".into(),
                    grant_id: Some(GrantId([9; 16])),
                    issued_at: now,
                    expires_at: now + 3600,
                },
            )),
            access_expires_at: now + 3600,
            refresh: None,
        };
        store
            .redeem_code(&first, now, &grant)
            .await
            .expect("redeem");
        let again = store.redeem_code(&second, now, &grant).await;
        assert!(
            matches!(again, Err(RedeemError::Store(StoreError::Duplicate))),
            "{again:?}"
        );
        let second_code = store.get_code(&second, now).await.expect("read");
        assert_eq!(second_code.and_then(|c| c.redeemed_for), None);
    }

    #[tokio::test]
    async fn data_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        {
            let store = EmbeddedStore::open(&path).expect("open");
            store
                .put_consent("user", "alexa", &["profile".to_owned()])
                .await
                .expect("put");
        }
        // The writer thread holds the database until its channel closes.
        let store = loop {
            match EmbeddedStore::open(&path) {
                Ok(s) => break s,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        assert_eq!(
            store.get_consent("user", "alexa").await.expect("get"),
            Some(vec!["profile".to_owned()])
        );
    }
}
