//! Deleting one owner's items from a table that several deployments may
//! share (`alexa-link-server purge-items`, run by the operator for a link
//! with `deletionPolicy: Delete`).
//!
//! Every item a server creates carries its `store.dynamodb.owner` in the
//! attribute `lk`. The purge scans the table a page at a time (a `Scan`
//! `Limit` bounds each request, whatever the table's size), keeps the items
//! whose `lk` is exactly the owner, and deletes them in `BatchWriteItem`s of
//! 25 (the service's limit), retrying unprocessed ones with backoff. It is
//! idempotent: run again after a crash, it deletes what is left, so a
//! restarted Job continues where the items say it stopped. It is complete
//! when one whole pass over the table has deleted every match; with the
//! owner's servers stopped first, nothing new appears behind it.
//!
//! No index on `lk`: adding one would change every existing table, and a
//! purge is rare. Items written before the owner was configured carry no
//! `lk`; they are counted (`unowned`), never deleted, and expire by TTL
//! where they have one.

use std::time::Duration;

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use serde::Serialize;

use super::items::{Item, LINK_ATTR, s};
use super::{DynamoStore, built, unavailable};
use crate::store::StoreError;

/// Items per `BatchWriteItem` (DynamoDB's maximum).
const BATCH: usize = 25;
/// Attempts at one batch's unprocessed items before the purge gives up
/// (and, run as a Job, is restarted to continue).
const BATCH_ATTEMPTS: u32 = 8;

/// How far a purge got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PurgeProgress {
    /// Scan pages read.
    pub pages: u64,
    /// Items the scan looked at (all owners).
    pub scanned: u64,
    /// This owner's items deleted.
    pub deleted: u64,
    /// Items with no owner (written before `owner` was set): left alone.
    pub unowned: u64,
    /// The whole table was scanned: none of the owner's items is left.
    pub complete: bool,
}

impl DynamoStore {
    /// Deletes every item whose `lk` is `owner`, `page_size` items scanned
    /// per request, stopping after `max_pages` pages when given (`complete`
    /// false: run it again to continue); `on_page` sees the progress after
    /// each page.
    pub async fn purge_owner(
        &self,
        owner: &str,
        page_size: i32,
        max_pages: Option<u64>,
        mut on_page: impl FnMut(&PurgeProgress),
    ) -> Result<PurgeProgress, StoreError> {
        if owner.is_empty() {
            return Err(StoreError::Corrupt("purge: the owner is empty".into()));
        }
        let mut progress = PurgeProgress::default();
        let mut start: Option<Item> = None;
        loop {
            let scanned = self
                .client
                .scan()
                .table_name(&self.table)
                .limit(page_size.max(1))
                .projection_expression("pk, #lk")
                .filter_expression("#lk = :lk OR attribute_not_exists(#lk)")
                .expression_attribute_names("#lk", LINK_ATTR)
                .expression_attribute_values(":lk", s(owner))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await;
            let out = match scanned {
                Ok(out) => out,
                // No table, no items: done.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
                {
                    progress.complete = true;
                    on_page(&progress);
                    return Ok(progress);
                }
                Err(e) => return Err(unavailable(e)),
            };
            progress.pages += 1;
            progress.scanned += u64::try_from(out.scanned_count()).unwrap_or_default();
            let mut doomed = Vec::new();
            for item in out.items() {
                match item.get(LINK_ATTR) {
                    Some(_) => doomed.push(item.get("pk").cloned()),
                    None => progress.unowned += 1,
                }
            }
            for chunk in doomed
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .chunks(BATCH)
            {
                self.delete_batch(chunk).await?;
                progress.deleted += chunk.len() as u64;
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => {
                    progress.complete = true;
                    on_page(&progress);
                    return Ok(progress);
                }
            }
            on_page(&progress);
            if max_pages.is_some_and(|m| progress.pages >= m) {
                return Ok(progress);
            }
        }
    }

    /// Deletes up to 25 items by key, retrying what DynamoDB leaves
    /// unprocessed (throttling) with exponential backoff.
    async fn delete_batch(
        &self,
        keys: &[aws_sdk_dynamodb::types::AttributeValue],
    ) -> Result<(), StoreError> {
        let mut requests = keys
            .iter()
            .map(|pk| {
                Ok(WriteRequest::builder()
                    .delete_request(built(
                        DeleteRequest::builder().key("pk", pk.clone()).build(),
                    )?)
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for attempt in 0..BATCH_ATTEMPTS {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(unavailable)?;
            requests = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        Err(StoreError::Unavailable(format!(
            "DynamoDB left {} deletes unprocessed after {BATCH_ATTEMPTS} attempts",
            requests.len()
        )))
    }
}
