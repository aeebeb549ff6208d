//! What a bad config reports: one [`FieldError`] per problem, and the
//! [`ConfigError`] that loading returns.

use std::fmt;
use std::path::PathBuf;

/// One invalid value, named by its path in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `clients[0].redirectUris[1]`.
    pub field: String,
    /// What is wrong with it, as a sentence fragment.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not YAML of the right shape: syntax, an unknown field, a wrong type.
    /// serde_yaml's message names the field path and the line.
    #[error("invalid config: {0}")]
    Parse(#[from] serde_yaml::Error),
    /// Well-formed, but values break the rules.
    #[error("invalid config:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FieldError>),
}

/// The problems found so far; every section's checks push into one of these
/// so that a bad config is reported whole, not one problem per restart.
#[derive(Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    /// Records that `field` is wrong because of `message`.
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// `Ok` when nothing was pushed.
    pub(crate) fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}
