//! `store`: where grants, codes and tokens are kept.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Errors;

/// Default `dynamodb.maxAttempts`.
pub const DEFAULT_DYNAMODB_MAX_ATTEMPTS: u32 = 3;
/// Default `dynamodb.attemptTimeoutMillis`.
pub const DEFAULT_DYNAMODB_ATTEMPT_TIMEOUT_MILLIS: u64 = 1000;

/// Exactly one store backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum StoreConfig {
    /// A single-file store on local disk (one replica only).
    Embedded(EmbeddedStoreConfig),
    /// An Amazon DynamoDB table, shared by any number of replicas.
    Dynamodb(DynamoDbStoreConfig),
}

/// The DynamoDB store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DynamoDbStoreConfig {
    /// The table (3 to 255 characters: letters, digits, `_`, `-`, `.`).
    pub table_name: String,
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// Endpoint override (DynamoDB Local, a VPC endpoint). Absent: the
    /// region's public endpoint.
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// Create the table (with its index and TTL) at start when it is missing.
    /// Otherwise the server only checks that it exists as expected.
    #[serde(default)]
    pub create_table: bool,
    /// Static credentials from files. Absent: the default AWS chain
    /// (environment, web identity / IRSA, ECS and EC2 metadata).
    #[serde(default)]
    pub credentials: Option<AwsCredentialFiles>,
    /// Attempts per request, with jittered exponential backoff, before a
    /// client gets 503 `temporarily_unavailable` (1 to 10).
    #[serde(default = "default_dynamodb_attempts")]
    pub max_attempts: u32,
    /// Timeout of one attempt, in milliseconds (100 to 10000).
    #[serde(default = "default_dynamodb_timeout_ms")]
    pub attempt_timeout_millis: u64,
    /// Whose items these are, in a table several deployments share: written
    /// as the attribute `lk` on every item this server creates, so that
    /// exactly this deployment's items can be found and deleted
    /// (`alexa-link-server purge-items`). The operator sets the
    /// AlexaSkillLink's `<namespace>/<name>`. Absent: items carry no owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Static AWS credentials, one value per file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsCredentialFiles {
    /// File holding the access key id.
    pub access_key_id_file: PathBuf,
    /// File holding the secret access key.
    pub secret_access_key_file: PathBuf,
}

/// The embedded single-file store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbeddedStoreConfig {
    /// The database file; created when absent.
    pub path: PathBuf,
    /// Memory for the store's page cache, in MiB (a tenth of it for pages
    /// written since the last checkpoint); absent:
    /// [`DEFAULT_EMBEDDED_CACHE_MIB`]. The cache grows up to it as the
    /// store does, so it bounds the server's memory: keep a pod's memory
    /// limit above it.
    #[serde(
        default,
        rename = "cacheSizeMiB",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_size_mib: Option<u32>,
}

/// The embedded store's page cache when `cacheSizeMiB` is absent.
pub const DEFAULT_EMBEDDED_CACHE_MIB: u32 = 128;
/// The bounds of `cacheSizeMiB`.
pub const EMBEDDED_CACHE_MIB_RANGE: std::ops::RangeInclusive<u32> = 8..=65_536;

impl EmbeddedStoreConfig {
    /// The store at `path`, with the default cache.
    pub fn at(path: impl Into<PathBuf>) -> EmbeddedStoreConfig {
        EmbeddedStoreConfig {
            path: path.into(),
            cache_size_mib: None,
        }
    }

    /// The page cache's size in bytes.
    pub fn cache_bytes(&self) -> usize {
        self.cache_size_mib.unwrap_or(DEFAULT_EMBEDDED_CACHE_MIB) as usize * (1 << 20)
    }
}

/// Longest `dynamodb.owner` (a namespace and a name with a slash fit).
pub const MAX_OWNER_LEN: usize = 512;

fn default_dynamodb_attempts() -> u32 {
    DEFAULT_DYNAMODB_MAX_ATTEMPTS
}
fn default_dynamodb_timeout_ms() -> u64 {
    DEFAULT_DYNAMODB_ATTEMPT_TIMEOUT_MILLIS
}

impl StoreConfig {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        match self {
            StoreConfig::Embedded(e) => {
                if let Some(mib) = e.cache_size_mib
                    && !EMBEDDED_CACHE_MIB_RANGE.contains(&mib)
                {
                    errors.push(
                        "store.embedded.cacheSizeMiB",
                        format!(
                            "must be {} to {} (MiB) when set",
                            EMBEDDED_CACHE_MIB_RANGE.start(),
                            EMBEDDED_CACHE_MIB_RANGE.end()
                        ),
                    );
                }
            }
            StoreConfig::Dynamodb(d) => d.validate(errors),
        }
    }
}

impl DynamoDbStoreConfig {
    fn validate(&self, errors: &mut Errors) {
        let name_ok = (3..=255).contains(&self.table_name.len())
            && self
                .table_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !name_ok {
            errors.push(
                "store.dynamodb.tableName",
                "must be 3 to 255 characters of letters, digits, '_', '-' or '.'",
            );
        }
        if self.region.is_empty() {
            errors.push("store.dynamodb.region", "is required (e.g. us-east-1)");
        }
        if let Some(owner) = &self.owner
            && !(1..=MAX_OWNER_LEN).contains(&owner.len())
        {
            errors.push(
                "store.dynamodb.owner",
                format!("must be 1 to {MAX_OWNER_LEN} bytes when set"),
            );
        }
        if !(1..=10).contains(&self.max_attempts) {
            errors.push(
                "store.dynamodb.maxAttempts",
                format!("must be between 1 and 10, got {}", self.max_attempts),
            );
        }
        if !(100..=10_000).contains(&self.attempt_timeout_millis) {
            errors.push(
                "store.dynamodb.attemptTimeoutMillis",
                format!(
                    "must be between 100 and 10000, got {}",
                    self.attempt_timeout_millis
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::fixture::{MINIMAL, invalid_fields};

    fn dynamodb() -> Config {
        let text = MINIMAL.replace(
            "  embedded:\n    path: /data/store.redb\n",
            "  dynamodb:\n    tableName: alexa-link\n    region: eu-west-1\n",
        );
        Config::from_yaml(&text).expect("parses")
    }

    #[test]
    fn dynamodb_store_fills_defaults_and_checks_limits() {
        let mut c = dynamodb();
        assert_eq!(c.validate(), Ok(()));
        let StoreConfig::Dynamodb(d) = &mut c.store else {
            panic!("dynamodb")
        };
        assert_eq!(d.max_attempts, DEFAULT_DYNAMODB_MAX_ATTEMPTS);
        assert_eq!(d.attempt_timeout_millis, 1000);
        d.table_name = "ab".into();
        d.region = String::new();
        d.max_attempts = 0;
        d.attempt_timeout_millis = 50;
        d.owner = Some(String::new());
        assert_eq!(
            invalid_fields(&c),
            vec![
                "store.dynamodb.tableName",
                "store.dynamodb.region",
                "store.dynamodb.owner",
                "store.dynamodb.maxAttempts",
                "store.dynamodb.attemptTimeoutMillis",
            ]
        );
    }

    #[test]
    fn embedded_store_cache_has_a_default_and_bounds() {
        let mut c = Config::from_yaml(MINIMAL).expect("parses");
        let StoreConfig::Embedded(e) = &c.store else {
            panic!("embedded")
        };
        assert_eq!(e.cache_size_mib, None);
        assert_eq!(e.cache_bytes(), 128 << 20);
        let text = MINIMAL.replace(
            "    path: /data/store.redb\n",
            "    path: /data/store.redb\n    cacheSizeMiB: 64\n",
        );
        let c64 = Config::from_yaml(&text).expect("parses");
        assert_eq!(c64.validate(), Ok(()));
        let StoreConfig::Embedded(e) = &c64.store else {
            panic!("embedded")
        };
        assert_eq!(e.cache_bytes(), 64 << 20);
        for bad in [0, 7, 65_537] {
            let StoreConfig::Embedded(e) = &mut c.store else {
                panic!("embedded")
            };
            e.cache_size_mib = Some(bad);
            assert_eq!(
                invalid_fields(&c),
                vec!["store.embedded.cacheSizeMiB"],
                "{bad}"
            );
        }
    }
}
