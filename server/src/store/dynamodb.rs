//! The DynamoDB store, for any number of replicas.
//!
//! # Table design
//!
//! One table (fewer things to create, grant IAM access to and back up), with
//! a string partition key `pk` whose prefix says what the item is:
//!
//! | item | `pk` | `gk` (index key) |
//! |---|---|---|
//! | authorization code | `c#<hash>` | |
//! | access token | `a#<hash>` | `g#<grant>` |
//! | refresh token | `r#<hash>` | `g#<grant>` |
//! | grant | `g#<grant>` | `u#<user>` |
//! | consent | `n#<user>#<client>` | |
//! | partner (Amazon) link | `l#<user>#<partner>` | `g#<grant>` |
//! | throttle counter | `t#<key digest>` | |
//! | App-to-App state | `s#<hash>` | |
//! | processed AcceptGrant code | `x#<hash>` | |
//! | Alexa user id | `y#<alexa user id>` | |
//! | ended login session | `e#<hash>` | |
//!
//! Hashes and ids are hex; user ids are base64url so that no user id can
//! forge a key. The global secondary index `gk-index` finds a grant's tokens
//! (to delete them on revocation; their grant's state already disables them,
//! so the index's eventual consistency only delays cleanup) and a user's
//! grants (the linked-apps page).
//!
//! Each item keeps the record as first written in `v` (postcard bytes) and
//! its mutable state in separate attributes (`redeemed`, `revoked`,
//! `rotated_at`/`successor`, the link's tokens and lease), so that every
//! once-only change is one conditional `UpdateItem` or one transaction
//! whose conditions read those attributes. `exp` is the logical expiry
//! checked on every read; `ttl` is when DynamoDB may delete the item
//! (cleanup only: TTL deletion is never prompt). Reads that decide security
//! are strongly consistent.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::{
    AccessTokenRecord, AlexaUserRecord, AppLinkStateRecord, AuthCodeRecord, Counter, CounterKey,
    CounterSwap, CounterWrite, GrantId, GrantRecord, Lease, LeaseOutcome, NewGrant,
    PartnerLinkRecord, ProcessedGrantCode, ROTATED_TOKEN_RETENTION_SECONDS, RedeemError,
    RefreshLookup, RefreshState, RefreshTokenRecord, RotateError, Rotation, Store, StoreError,
    UnixTime,
};
use crate::config::DynamoDbStoreConfig;
use crate::tokens::TokenHash;

mod items;
mod purge;
mod table;

pub use purge::PurgeProgress;

use items::{
    Item, access_key, app_link_state_key, b, blob, code_from, code_key, consent_key, decode,
    encode, expired, grant_from, grant_id_of, grant_key, link_from, link_key, n, num, refresh_from,
    refresh_key, s, user_key,
};
use items::{LINK_ATTR, Owned};
use items::{alexa_user_key, counter_from, counter_key, ended_session_key, processed_code_key};

/// The index over `gk`.
pub const GK_INDEX: &str = "gk-index";
/// How long a revoked grant's record is kept (so a replayed code still finds
/// it revoked) before DynamoDB may delete it.
const REVOKED_GRANT_RETENTION_SECONDS: i64 = 24 * 3600;

/// How a transaction ended.
enum Transaction {
    Committed,
    /// Our conditions failed; per item, the old item where it failed.
    ConditionFailed(Vec<Option<Item>>),
    /// It raced another transaction on the same item; nothing was written.
    Conflict,
}

/// The DynamoDB store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// `store.dynamodb.owner`: written as `lk` on every item created.
    owner: Option<AttributeValue>,
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(&e).to_string())
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Corrupt(format!("invalid DynamoDB request: {e}")))
}

impl DynamoStore {
    /// Connects, then creates or verifies the table.
    pub async fn connect(config: &DynamoDbStoreConfig) -> Result<DynamoStore, StoreError> {
        let store = Self::client_only(config).await?;
        store.ensure_table(config.create_table).await?;
        Ok(store)
    }

    /// Connects without creating or checking the table: for
    /// [`DynamoStore::purge_owner`], which finds nothing in a missing table.
    pub async fn client_only(config: &DynamoDbStoreConfig) -> Result<DynamoStore, StoreError> {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(config.attempt_timeout_millis))
            .operation_attempt_timeout(Duration::from_millis(config.attempt_timeout_millis))
            .build();
        // Standard retries: exponential backoff with full jitter, and a
        // client-side token bucket so a brown-out is not made worse.
        let retries =
            aws_config::retry::RetryConfig::standard().with_max_attempts(config.max_attempts);
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .region(aws_config::Region::new(config.region.clone()))
            .timeout_config(timeouts)
            .retry_config(retries);
        if let Some(files) = &config.credentials {
            let read = |p: &std::path::Path| {
                std::fs::read_to_string(p)
                    .map(|v| v.trim().to_owned())
                    .map_err(|e| {
                        StoreError::Unavailable(format!("failed to read {}: {e}", p.display()))
                    })
            };
            let creds = aws_credential_types::Credentials::new(
                read(&files.access_key_id_file)?,
                read(&files.secret_access_key_file)?,
                None,
                None,
                "alexa-link-credential-files",
            );
            loader = loader.credentials_provider(creds);
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint.as_str().trim_end_matches('/'));
        }
        let sdk = loader.load().await;
        Ok(DynamoStore {
            client: Client::new(&sdk),
            table: config.table_name.clone(),
            owner: config.owner.clone().map(s),
        })
    }

    /// Writes a new item built by [`DynamoStore::token_put`]; `Duplicate` when
    /// its key exists (its condition), never an overwrite.
    async fn put_new(&self, put: Put) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Duplicate)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    fn token_put(
        &self,
        pk: String,
        grant: Option<&GrantId>,
        v: AttributeValue,
        exp: Option<i64>,
        ttl: Option<i64>,
    ) -> Result<Put, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("v", v)
            .owned_by(&self.owner);
        if let Some(g) = grant {
            put = put.item("gk", s(grant_key(g)));
        }
        if let Some(e) = exp {
            put = put.item("exp", n(e));
        }
        if let Some(t) = ttl {
            put = put.item("ttl", n(t));
        }
        built(put.condition_expression("attribute_not_exists(pk)").build())
    }

    fn access_put(&self, hash: &TokenHash, record: &AccessTokenRecord) -> Result<Put, StoreError> {
        self.token_put(
            access_key(hash),
            record.grant_id.as_ref(),
            encode(record)?,
            Some(record.expires_at),
            Some(record.expires_at),
        )
    }

    fn refresh_put(
        &self,
        hash: &TokenHash,
        record: &RefreshTokenRecord,
    ) -> Result<Put, StoreError> {
        self.token_put(
            refresh_key(hash),
            Some(&record.grant_id),
            encode(record)?,
            record.expires_at,
            record.expires_at,
        )
    }

    /// Transaction items that store a new access token and, when given, a
    /// new refresh token (the DynamoDB side of the embedded store's
    /// `insert_tokens`).
    fn token_items(
        &self,
        access: Option<&(TokenHash, AccessTokenRecord)>,
        refresh: Option<&(TokenHash, RefreshTokenRecord)>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::with_capacity(2);
        if let Some((hash, record)) = access {
            items.push(
                TransactWriteItem::builder()
                    .put(self.access_put(hash, record)?)
                    .build(),
            );
        }
        if let Some((hash, record)) = refresh {
            items.push(
                TransactWriteItem::builder()
                    .put(self.refresh_put(hash, record)?)
                    .build(),
            );
        }
        Ok(items)
    }

    /// The grant is unrevoked and unexpired (a transaction condition).
    fn grant_active_check(
        &self,
        grant: &GrantId,
        now: UnixTime,
    ) -> Result<ConditionCheck, StoreError> {
        built(
            ConditionCheck::builder()
                .table_name(&self.table)
                .key("pk", s(grant_key(grant)))
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(revoked) AND (attribute_not_exists(exp) OR exp > :now)")
                .expression_attribute_values(":now", n(now))
                .build(),
        )
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transaction, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Transaction::Committed),
            Err(e) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error() {
                    let reasons = c.cancellation_reasons();
                    // Cancelled by our conditions (not by a conflict with a
                    // concurrent transaction, which the caller may retry).
                    if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) {
                        return Ok(Transaction::ConditionFailed(
                            reasons
                                .iter()
                                .map(|r| (r.code() == Some("ConditionalCheckFailed")).then(|| r.item().cloned().unwrap_or_default()))
                                .collect(),
                        ));
                    }
                    if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                        return Ok(Transaction::Conflict);
                    }
                }
                Err(unavailable(e))
            }
        }
    }

    /// Every item whose index key `gk` is `key`, all pages.
    async fn query_index(&self, key: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GK_INDEX)
                .key_condition_expression("gk = :k")
                .expression_attribute_values(":k", s(key.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Deletes a grant's tokens and the partner links it owns, found through
    /// the index (eventually consistent: cleanup, not enforcement).
    async fn delete_grant_items(&self, grant: &GrantId) -> Result<(), StoreError> {
        for item in self.query_index(grant_key(grant)).await? {
            let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) else {
                continue;
            };
            let mut delete = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()));
            if pk.starts_with("l#") {
                // A relinked user's newer link belongs to another grant.
                delete = delete
                    .condition_expression("gk = :g")
                    .expression_attribute_values(":g", s(grant_key(grant)));
            }
            match delete.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    /// The put of one counter write, conditioned on the counter being as
    /// the write expects (an expired counter counts as absent).
    fn counter_put(&self, write: &CounterWrite, now: UnixTime) -> Result<Put, StoreError> {
        let c = &write.new;
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(counter_key(&write.key)))
            .owned_by(&self.owner)
            .item("failures", n(i64::from(c.failures)))
            .item("last", n(c.last_failure_millis))
            .item("ver", n(i64::try_from(c.version).unwrap_or(i64::MAX)))
            .item("exp", n(c.expires_at))
            .item("ttl", n(c.expires_at))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let put = match &write.expected {
            None => put.condition_expression("attribute_not_exists(pk) OR exp <= :now"),
            Some(old) => put
                .condition_expression("ver = :ver AND exp > :now")
                .expression_attribute_values(
                    ":ver",
                    n(i64::try_from(old.version).unwrap_or(i64::MAX)),
                ),
        };
        built(put.build())
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("ping"))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn put_code(&self, code: &TokenHash, record: &AuthCodeRecord) -> Result<(), StoreError> {
        let put = self.token_put(
            code_key(code),
            None,
            encode(record)?,
            Some(record.expires_at),
            Some(record.expires_at),
        )?;
        self.put_new(put).await
    }

    async fn get_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AuthCodeRecord>, StoreError> {
        match self.get(code_key(code)).await? {
            Some(item) if !expired(&item, now) => code_from(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn redeem_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
        grant: &NewGrant,
    ) -> Result<(), RedeemError> {
        let mark = built(
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(code_key(code)))
                .update_expression("SET redeemed = :g")
                .condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(redeemed) AND exp > :now",
                )
                .expression_attribute_values(":g", b(grant.grant_id.0.to_vec()))
                .expression_attribute_values(":now", n(now))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        let mut grant_put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(grant_key(&grant.grant_id)))
            .item("v", encode(&grant.grant)?)
            .owned_by(&self.owner)
            .condition_expression("attribute_not_exists(pk)");
        if let Some(user) = &grant.grant.user_id {
            grant_put = grant_put.item("gk", s(user_key(user)));
        }
        if let Some(exp) = grant.grant.expires_at {
            grant_put = grant_put.item("exp", n(exp)).item("ttl", n(exp));
        }
        let mut items = vec![
            TransactWriteItem::builder().update(mark).build(),
            TransactWriteItem::builder()
                .put(built(grant_put.build())?)
                .build(),
        ];
        items.extend(self.token_items(grant.access.as_ref(), grant.refresh.as_ref())?);
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(reasons) => match reasons.first() {
                Some(Some(old)) => match blob(old, "redeemed").and_then(grant_id_of) {
                    Some(previous) => Err(RedeemError::AlreadyRedeemed(previous)),
                    None => Err(RedeemError::NotFound),
                },
                // The code's condition held, a new key collided.
                _ => Err(RedeemError::Store(StoreError::Duplicate)),
            },
            // A concurrent redemption of the same code is in flight: by the
            // time the client looks again it has won or lost.
            Transaction::Conflict => Err(RedeemError::Store(StoreError::Unavailable(
                "concurrent redemption; retry".into(),
            ))),
        }
    }

    async fn put_access_token(
        &self,
        token: &TokenHash,
        record: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let put = self.access_put(token, record)?;
        self.put_new(put).await
    }

    async fn get_access_token(
        &self,
        token: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let Some(item) = self.get(access_key(token)).await? else {
            return Ok(None);
        };
        if expired(&item, now) {
            return Ok(None);
        }
        let record: AccessTokenRecord = decode(&item)?;
        if let Some(grant) = &record.grant_id {
            let active = match self.get(grant_key(grant)).await? {
                Some(g) => grant_from(&g)?.is_active(now),
                None => false,
            };
            if !active {
                return Ok(None);
            }
        }
        Ok(Some(record))
    }

    async fn delete_access_token(&self, token: &TokenHash) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(access_key(token)))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get_refresh_token(
        &self,
        token: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<RefreshLookup>, StoreError> {
        let Some(item) = self.get(refresh_key(token)).await? else {
            return Ok(None);
        };
        let record = refresh_from(&item)?;
        let live = match &record.state {
            RefreshState::Active => record.expires_at.is_none_or(|e| now < e),
            RefreshState::Rotated { at, .. } => now < at + ROTATED_TOKEN_RETENTION_SECONDS,
        };
        if !live {
            return Ok(None);
        }
        let grant = match self.get(grant_key(&record.grant_id)).await? {
            Some(g) => Some(grant_from(&g)?),
            None => None,
        };
        Ok(Some(RefreshLookup {
            token: record,
            grant,
        }))
    }

    async fn rotate_refresh_token(
        &self,
        rotation: &Rotation,
        now: UnixTime,
    ) -> Result<(), RotateError> {
        let old_key = refresh_key(&rotation.old);
        let usable = "attribute_exists(pk) AND attribute_not_exists(rotated_at) AND (attribute_not_exists(exp) OR exp > :now)";
        let old = match &rotation.retire_old {
            Some(RefreshState::Rotated {
                at,
                sealed_successor,
            }) => TransactWriteItem::builder()
                .update(built(
                    Update::builder()
                        .table_name(&self.table)
                        .key("pk", s(old_key))
                        // Kept long enough to recognise reuse, then deleted.
                        .update_expression("SET rotated_at = :at, successor = :succ, #ttl = :ttl")
                        .expression_attribute_names("#ttl", "ttl")
                        .condition_expression(usable)
                        .expression_attribute_values(":at", n(*at))
                        .expression_attribute_values(":succ", b(sealed_successor.clone()))
                        .expression_attribute_values(
                            ":ttl",
                            n(at + ROTATED_TOKEN_RETENTION_SECONDS),
                        )
                        .expression_attribute_values(":now", n(now))
                        .build(),
                )?)
                .build(),
            _ => TransactWriteItem::builder()
                .condition_check(built(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .key("pk", s(old_key))
                        .condition_expression(usable)
                        .expression_attribute_values(":now", n(now))
                        .build(),
                )?)
                .build(),
        };
        let grant = rotation.grant_id;
        let mut items = vec![
            old,
            TransactWriteItem::builder()
                .condition_check(self.grant_active_check(&grant, now)?)
                .build(),
        ];
        items.extend(self.token_items(rotation.access.as_ref(), rotation.refresh.as_ref())?);
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_) | Transaction::Conflict => Err(RotateError::Conflict),
        }
    }

    async fn revoke_grant(&self, grant: &GrantId, now: UnixTime) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(grant_key(grant)))
            .update_expression("SET revoked = :now, #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(revoked)")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":ttl", n(now + REVOKED_GRANT_RETENTION_SECONDS))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let was_active = match result {
            Ok(out) => match out.attributes() {
                Some(old) => grant_from(old)?.is_active(now),
                None => false,
            },
            // Unknown, or revoked before: still clean up below.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                false
            }
            Err(e) => return Err(unavailable(e)),
        };
        self.delete_grant_items(grant).await?;
        Ok(was_active)
    }

    async fn get_grant(&self, grant: &GrantId) -> Result<Option<GrantRecord>, StoreError> {
        match self.get(grant_key(grant)).await? {
            Some(item) => grant_from(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        match self.get(consent_key(user_id, client_id)).await? {
            Some(item) => decode(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn put_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(consent_key(user_id, client_id)))
            .item("v", encode(&scopes)?)
            .owned_by(&self.owner)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn list_user_grants(
        &self,
        user_id: &str,
        now: UnixTime,
    ) -> Result<Vec<(GrantId, GrantRecord)>, StoreError> {
        let mut grants = Vec::new();
        for item in self.query_index(user_key(user_id)).await? {
            let Some(id) = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .and_then(|pk| pk.strip_prefix("g#"))
            else {
                continue;
            };
            let Some(id) = GrantId::from_hex(id) else {
                continue;
            };
            let grant = grant_from(&item)?;
            if grant.is_active(now) {
                grants.push((id, grant));
            }
        }
        grants.sort_by_key(|(_, g)| g.created_at);
        Ok(grants)
    }

    async fn put_partner_link(
        &self,
        record: &PartnerLinkRecord,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        // The link ends with its grant: give it the grant's expiry.
        let grant_exp = match self.get(grant_key(&record.grant_id)).await? {
            Some(g) => num(&g, "exp"),
            None => return Ok(false),
        };
        // An update rather than a put: the store owns the revision counter
        // (one more than the replaced link's, 1 for a new one), and the
        // replaced link's refresh lease ends with it.
        let (set_expiry, remove_expiry) = match grant_exp {
            Some(_) => (", exp = :exp, #ttl = :exp", ""),
            None => ("", ", exp, #ttl"),
        };
        // The one item created by an update: it names its owner too.
        let set_owner = match self.owner {
            Some(_) => format!(", {LINK_ATTR} = :lk"),
            None => String::new(),
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(link_key(&record.user_id, &record.partner_id)))
            .update_expression(format!(
                "SET gk = :gk, v = :v, sealed = :s, access_exp = :e, updated = :u{set_expiry}{set_owner} ADD revision :one REMOVE lease_holder, lease_until{remove_expiry}"
            ))
            .set_expression_attribute_values(
                self.owner.clone().map(|o| [(":lk".to_owned(), o)].into()),
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":gk", s(grant_key(&record.grant_id)))
            .expression_attribute_values(":v", encode(record)?)
            .expression_attribute_values(":s", b(record.sealed_tokens.clone()))
            .expression_attribute_values(":e", n(record.access_expires_at))
            .expression_attribute_values(":u", n(record.updated_at))
            .expression_attribute_values(":one", n(1));
        if let Some(exp) = grant_exp {
            update = update.expression_attribute_values(":exp", n(exp));
        }
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(self.grant_active_check(&record.grant_id, now)?)
                .build(),
            TransactWriteItem::builder()
                .update(built(update.build())?)
                .build(),
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(true),
            Transaction::ConditionFailed(_) => Ok(false),
            Transaction::Conflict => Err(StoreError::Unavailable(
                "concurrent link update; retry".into(),
            )),
        }
    }

    async fn get_partner_link(
        &self,
        user_id: &str,
        partner_id: &str,
        now: UnixTime,
    ) -> Result<Option<PartnerLinkRecord>, StoreError> {
        match self.get(link_key(user_id, partner_id)).await? {
            // `exp` is the grant's absolute expiry.
            Some(item) if !expired(&item, now) => link_from(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn acquire_partner_lease(
        &self,
        user_id: &str,
        partner_id: &str,
        lease: Lease,
        now: UnixTime,
    ) -> Result<LeaseOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(link_key(user_id, partner_id)))
            .update_expression("SET lease_holder = :h, lease_until = :u")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until <= :now)")
            .expression_attribute_values(":h", b(lease.holder.to_vec()))
            .expression_attribute_values(":u", n(lease.until))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes() {
                Some(old) => link_from(old).map(LeaseOutcome::Acquired),
                None => Ok(LeaseOutcome::NotFound),
            },
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match c.item() {
                        Some(item) => link_from(item).map(LeaseOutcome::Held),
                        None => Ok(LeaseOutcome::NotFound),
                    }
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn finish_partner_refresh(
        &self,
        user_id: &str,
        partner_id: &str,
        holder: [u8; 16],
        tokens: Option<(Vec<u8>, UnixTime)>,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(link_key(user_id, partner_id)))
            .condition_expression("lease_holder = :h")
            .expression_attribute_values(":h", b(holder.to_vec()));
        update = match tokens {
            Some((sealed, expires_at)) => update
                .update_expression("SET sealed = :s, access_exp = :e, updated = :now ADD revision :one REMOVE lease_holder, lease_until")
                .expression_attribute_values(":s", b(sealed))
                .expression_attribute_values(":e", n(expires_at))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":one", n(1)),
            None => update.update_expression("REMOVE lease_holder, lease_until"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_partner_link(
        &self,
        user_id: &str,
        partner_id: &str,
        grant: Option<GrantId>,
    ) -> Result<bool, StoreError> {
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(link_key(user_id, partner_id)))
            .return_values(ReturnValue::AllOld);
        delete = match grant {
            Some(g) => delete
                .condition_expression("gk = :g")
                .expression_attribute_values(":g", s(grant_key(&g))),
            None => delete.condition_expression("attribute_exists(pk)"),
        };
        match delete.send().await {
            Ok(out) => Ok(out.attributes().is_some()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// DynamoDB's TTL deletes expired items (within days, not promptly);
    /// every read here already ignores items past their expiry, so there is
    /// nothing to sweep.
    async fn purge_expired(&self, _now: UnixTime) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn put_processed_grant_code(
        &self,
        code: &TokenHash,
        record: &ProcessedGrantCode,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(processed_code_key(code)))
            .item("v", encode(record)?)
            .owned_by(&self.owner)
            .item("exp", n(record.expires_at))
            .item("ttl", n(record.expires_at))
            // An expired record (not yet deleted by TTL) may be replaced.
            .condition_expression("attribute_not_exists(pk) OR exp <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_processed_grant_code(
        &self,
        code: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<ProcessedGrantCode>, StoreError> {
        match self.get(processed_code_key(code)).await? {
            Some(item) if !expired(&item, now) => decode(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn put_alexa_user(&self, record: &AlexaUserRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(alexa_user_key(&record.alexa_user_id)))
            .item("v", encode(record)?)
            .owned_by(&self.owner)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get_alexa_user(
        &self,
        alexa_user_id: &str,
    ) -> Result<Option<AlexaUserRecord>, StoreError> {
        match self.get(alexa_user_key(alexa_user_id)).await? {
            Some(item) => decode(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn delete_alexa_user(&self, alexa_user_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(alexa_user_key(alexa_user_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes().is_some())
    }

    async fn put_app_link_state(
        &self,
        key: &TokenHash,
        record: &AppLinkStateRecord,
    ) -> Result<(), StoreError> {
        let put = self.token_put(
            app_link_state_key(key),
            None,
            encode(record)?,
            Some(record.expires_at),
            Some(record.expires_at),
        )?;
        self.put_new(put).await
    }

    /// One conditional `DeleteItem` returning the old item: of concurrent
    /// deletes only one finds the item there (an unconditional delete may
    /// return the old item to several racing callers).
    async fn take_app_link_state(
        &self,
        key: &TokenHash,
        now: UnixTime,
    ) -> Result<Option<AppLinkStateRecord>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(app_link_state_key(key)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let item = match result {
            Ok(out) => out.attributes,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                None
            }
            Err(e) => return Err(unavailable(e)),
        };
        match item {
            Some(item) if !expired(&item, now) => decode(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(consent_key(user_id, client_id)))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get_counters(
        &self,
        keys: &[CounterKey],
        now: UnixTime,
    ) -> Result<Vec<Option<Counter>>, StoreError> {
        // One key on the hot path (a client's check); two only after a
        // transaction conflict.
        let mut counters = Vec::with_capacity(keys.len());
        for key in keys {
            counters.push(match self.get(counter_key(key)).await? {
                Some(item) => counter_from(&item, now)?,
                None => None,
            });
        }
        Ok(counters)
    }

    async fn swap_counters(
        &self,
        writes: &[CounterWrite],
        now: UnixTime,
    ) -> Result<CounterSwap, StoreError> {
        if let [write] = writes {
            // One counter: a conditional put (half a transaction's cost),
            // which hands back the current item when its condition fails.
            let put = self.counter_put(write, now)?;
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_owned))
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            return match result {
                Ok(_) => Ok(CounterSwap::Swapped),
                Err(e) => match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                        let current = match c.item() {
                            Some(item) => counter_from(item, now)?,
                            None => None,
                        };
                        Ok(CounterSwap::Changed(vec![current]))
                    }
                    _ => Err(unavailable(e)),
                },
            };
        }
        let items = writes
            .iter()
            .map(|w| {
                self.counter_put(w, now)
                    .map(|put| TransactWriteItem::builder().put(put).build())
            })
            .collect::<Result<Vec<_>, _>>()?;
        match self.transact(items).await? {
            Transaction::Committed => Ok(CounterSwap::Swapped),
            // A failed condition hands back its item; the other counters
            // are as their writes expected.
            Transaction::ConditionFailed(old) => {
                let mut current = Vec::with_capacity(writes.len());
                for (write, old) in writes.iter().zip(old) {
                    current.push(match old {
                        Some(item) => counter_from(&item, now)?,
                        None => write.expected,
                    });
                }
                Ok(CounterSwap::Changed(current))
            }
            // Another transaction held one of the counters: read them now.
            Transaction::Conflict => {
                let keys: Vec<CounterKey> = writes.iter().map(|w| w.key).collect();
                Ok(CounterSwap::Changed(self.get_counters(&keys, now).await?))
            }
        }
    }

    /// An unconditional put: ending a session twice writes the same item.
    async fn end_session(
        &self,
        session: &TokenHash,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(ended_session_key(session)))
            .owned_by(&self.owner)
            .item("exp", n(expires_at))
            .item("ttl", n(expires_at))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn session_ended(&self, session: &TokenHash, now: UnixTime) -> Result<bool, StoreError> {
        // An item without `exp` (never written so) counts as ended: the
        // safe reading of a damaged record.
        Ok(self
            .get(ended_session_key(session))
            .await?
            .is_some_and(|item| !expired(&item, now)))
    }
}
