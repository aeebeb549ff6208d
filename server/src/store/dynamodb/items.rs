//! Item and key helpers of the DynamoDB store: the `pk` of each kind of
//! item (see the table design in the parent module), attribute values, and
//! records read back from items.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::keyring::hex;
use crate::store::{
    AuthCodeRecord, Counter, CounterKey, GrantId, GrantRecord, Lease, PartnerLinkRecord,
    RefreshState, RefreshTokenRecord, StoreError, UnixTime,
};
use crate::tokens::TokenHash;

/// One DynamoDB item.
pub(super) type Item = HashMap<String, AttributeValue>;

/// The attribute naming the deployment that created an item
/// (`store.dynamodb.owner`): what `purge-items` looks for.
pub(super) const LINK_ATTR: &str = "lk";

/// Builders of items this store creates: each gets its owner, when the
/// store has one. One place, so that no kind of item is created unowned.
pub(super) trait Owned: Sized {
    /// Adds `lk = owner` when there is an owner.
    fn owned_by(self, owner: &Option<AttributeValue>) -> Self;
}

impl Owned for aws_sdk_dynamodb::types::builders::PutBuilder {
    fn owned_by(self, owner: &Option<AttributeValue>) -> Self {
        match owner {
            Some(o) => self.item(LINK_ATTR, o.clone()),
            None => self,
        }
    }
}

impl Owned for aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
    fn owned_by(self, owner: &Option<AttributeValue>) -> Self {
        match owner {
            Some(o) => self.item(LINK_ATTR, o.clone()),
            None => self,
        }
    }
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s.as_bytes())
}

pub(super) fn code_key(h: &TokenHash) -> String {
    format!("c#{}", hex(&h.0))
}
pub(super) fn access_key(h: &TokenHash) -> String {
    format!("a#{}", hex(&h.0))
}
pub(super) fn refresh_key(h: &TokenHash) -> String {
    format!("r#{}", hex(&h.0))
}
pub(super) fn grant_key(g: &GrantId) -> String {
    format!("g#{}", hex(&g.0))
}
pub(super) fn user_key(user: &str) -> String {
    format!("u#{}", b64(user))
}
pub(super) fn consent_key(user: &str, client: &str) -> String {
    format!("n#{}#{client}", b64(user))
}
pub(super) fn link_key(user: &str, partner: &str) -> String {
    format!("l#{}#{partner}", b64(user))
}

pub(super) fn processed_code_key(h: &TokenHash) -> String {
    format!("x#{}", hex(&h.0))
}
pub(super) fn alexa_user_key(alexa_user_id: &str) -> String {
    format!("y#{}", b64(alexa_user_id))
}

/// An App-to-App state (issue #15).
pub(super) fn app_link_state_key(h: &TokenHash) -> String {
    format!("s#{}", hex(&h.0))
}

/// A login session ended by signing out (issue 14): a hash of its id.
pub(super) fn ended_session_key(h: &TokenHash) -> String {
    format!("e#{}", hex(&h.0))
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(super) fn b(v: impl Into<Vec<u8>>) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}

pub(super) fn encode<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    postcard::to_stdvec(value)
        .map(b)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let bytes =
        blob(item, "v").ok_or_else(|| StoreError::Corrupt("item without a value".into()))?;
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn num(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub(super) fn blob<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    item.get(name)?.as_b().ok().map(Blob::as_ref)
}

pub(super) fn grant_id_of(bytes: &[u8]) -> Option<GrantId> {
    bytes.try_into().ok().map(GrantId)
}

/// The code with its `redeemed` attribute merged in.
pub(super) fn code_from(item: &Item) -> Result<AuthCodeRecord, StoreError> {
    let mut record: AuthCodeRecord = decode(item)?;
    record.redeemed_for = blob(item, "redeemed").and_then(grant_id_of);
    Ok(record)
}

/// The grant with its `revoked` attribute merged in.
pub(super) fn grant_from(item: &Item) -> Result<GrantRecord, StoreError> {
    let mut record: GrantRecord = decode(item)?;
    record.revoked_at = num(item, "revoked");
    Ok(record)
}

/// The refresh token with its rotation state merged in.
pub(super) fn refresh_from(item: &Item) -> Result<RefreshTokenRecord, StoreError> {
    let mut record: RefreshTokenRecord = decode(item)?;
    if let Some(at) = num(item, "rotated_at") {
        record.state = RefreshState::Rotated {
            at,
            sealed_successor: blob(item, "successor")
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
        };
    }
    Ok(record)
}

/// The partner link with its mutable state merged in.
pub(super) fn link_from(item: &Item) -> Result<PartnerLinkRecord, StoreError> {
    let mut record: PartnerLinkRecord = decode(item)?;
    if let Some(sealed) = blob(item, "sealed") {
        record.sealed_tokens = sealed.to_vec();
    }
    if let Some(v) = num(item, "access_exp") {
        record.access_expires_at = v;
    }
    if let Some(v) = num(item, "updated") {
        record.updated_at = v;
    }
    if let Some(v) = num(item, "revision") {
        record.revision = v as u64;
    }
    record.refresh_lease = match (blob(item, "lease_holder"), num(item, "lease_until")) {
        (Some(holder), Some(until)) => holder.try_into().ok().map(|holder| Lease { holder, until }),
        _ => None,
    };
    Ok(record)
}

pub(super) fn expired(item: &Item, now: UnixTime) -> bool {
    num(item, "exp").is_some_and(|e| now >= e)
}

/// A throttle counter (issue 14).
pub(super) fn counter_key(k: &CounterKey) -> String {
    format!("t#{}", hex(&k.0))
}

/// A throttle counter from its attributes; `None` when absent or expired.
pub(super) fn counter_from(item: &Item, now: UnixTime) -> Result<Option<Counter>, StoreError> {
    if item.is_empty() || expired(item, now) {
        return Ok(None);
    }
    let field = |name: &str| {
        num(item, name)
            .ok_or_else(|| StoreError::Corrupt(format!("throttle counter without {name}")))
    };
    Ok(Some(Counter {
        failures: u32::try_from(field("failures")?).unwrap_or(u32::MAX),
        last_failure_millis: field("last")?,
        version: u64::try_from(field("ver")?).unwrap_or_default(),
        expires_at: field("exp")?,
    }))
}
