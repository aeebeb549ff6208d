//! Table management of the DynamoDB store: create the table (key, index,
//! TTL, on-demand billing) when allowed, or check that an existing one is
//! shaped as the store needs, naming what is missing.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use aws_sdk_dynamodb::error::DisplayErrorContext;

use super::{DynamoStore, GK_INDEX, built, unavailable};
use crate::store::StoreError;

impl DynamoStore {
    /// Creates the table when allowed and missing; otherwise checks it has
    /// the key, index and TTL this store needs, naming what is missing.
    pub(super) async fn ensure_table(&self, create: bool) -> Result<(), StoreError> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        let table = match described {
            Ok(out) => out.table,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                if !create {
                    return Err(StoreError::Unavailable(format!(
                        "DynamoDB table {} does not exist (set store.dynamodb.createTable to create it)",
                        self.table
                    )));
                }
                self.create_table().await?;
                None
            }
            Err(e) => return Err(unavailable(e)),
        };
        if let Some(table) = table {
            let key_ok = table
                .key_schema()
                .iter()
                .any(|k| k.attribute_name() == "pk" && *k.key_type() == KeyType::Hash)
                && table.key_schema().len() == 1;
            if !key_ok {
                return Err(StoreError::Unavailable(format!(
                    "DynamoDB table {} must have the single partition key pk (string)",
                    self.table
                )));
            }
            if !table
                .global_secondary_indexes()
                .iter()
                .any(|i| i.index_name() == Some(GK_INDEX))
            {
                return Err(StoreError::Unavailable(format!(
                    "DynamoDB table {} lacks the global secondary index {GK_INDEX} on gk (string)",
                    self.table
                )));
            }
        }
        self.wait_active().await?;
        if self.ttl_enabled().await? {
            return Ok(());
        }
        if !create {
            return Err(StoreError::Unavailable(format!(
                "DynamoDB table {} does not have TTL enabled on the attribute ttl",
                self.table
            )));
        }
        let enabled = self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(built(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build(),
            )?)
            .send()
            .await;
        match enabled {
            Ok(_) => Ok(()),
            // Replicas starting together on a new table all see TTL off and
            // all ask to enable it; all but the first are refused ("TimeToLive
            // is already enabled", or a ValidationException about concurrent
            // changes). Whatever the wording, what counts is the table's state
            // now: enabled by another replica is success.
            Err(e) if self.ttl_enabled().await? => {
                tracing::debug!(table = %self.table, error = %DisplayErrorContext(&e), "TTL was enabled by another replica");
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Whether TTL is enabled (or being enabled) on the attribute `ttl`.
    async fn ttl_enabled(&self) -> Result<bool, StoreError> {
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(ttl.time_to_live_description().is_some_and(|d| {
            matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            ) && d.attribute_name() == Some("ttl")
        }))
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            built(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build(),
            )
        };
        let key = |name: &str| {
            built(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(KeyType::Hash)
                    .build(),
            )
        };
        let index = built(
            GlobalSecondaryIndex::builder()
                .index_name(GK_INDEX)
                .key_schema(key("gk")?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build(),
        )?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("gk")?)
            .key_schema(key("pk")?)
            .global_secondary_indexes(index)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {
                tracing::info!(table = %self.table, "created DynamoDB table");
                Ok(())
            }
            // Another replica created it first.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Waits, bounded (60 s), until the table and its index are ACTIVE: a
    /// table another replica is still creating counts as ours once it is.
    async fn wait_active(&self) -> Result<(), StoreError> {
        for _ in 0..120 {
            let out = match self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
            {
                Ok(out) => Some(out),
                // Just created (by us or another replica): DescribeTable is
                // eventually consistent and may not see the table for a moment.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
                {
                    None
                }
                Err(e) => return Err(unavailable(e)),
            };
            let active = out.as_ref().and_then(|o| o.table()).is_some_and(|t| {
                t.table_status() == Some(&TableStatus::Active)
                    && t.global_secondary_indexes().iter().all(|i| {
                        i.index_status()
                            .is_none_or(|s| *s == aws_sdk_dynamodb::types::IndexStatus::Active)
                    })
            });
            if active {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(format!(
            "DynamoDB table {} did not become active",
            self.table
        )))
    }
}
