//! Where the pods find what the server config names: every Secret and
//! ConfigMap the server reads is mounted as a directory of files.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::secret_refs::{referenced_config_maps, referenced_secrets};
use crate::validate::{Tls, ValidatedLink};

/// Directory of the rendered config.
pub const CONFIG_DIR: &str = "/etc/alexa-link";
/// The config file the server is started with.
pub const CONFIG_FILE: &str = "/etc/alexa-link/config.yaml";
/// Secrets are mounted at `<SECRETS_DIR>/<secret name>/<key>`.
pub const SECRETS_DIR: &str = "/var/run/secrets/alexa-link";
/// User ConfigMaps (branding) are mounted at `<CONFIG_MAPS_DIR>/<name>/<key>`.
pub const CONFIG_MAPS_DIR: &str = "/var/run/configmaps/alexa-link";
/// The embedded store's volume.
pub const DATA_DIR: &str = "/var/lib/alexa-link";

/// The Secrets mounted into the server pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounts {
    /// Names of the mounted Secrets, in volume order.
    pub secrets: BTreeSet<String>,
    /// Names of the mounted user ConfigMaps, in volume order.
    pub config_maps: BTreeSet<String>,
}

impl Mounts {
    /// Every Secret the server of `spec` reads (the referenced ones, the
    /// generated keys, and the cert-manager certificate) and every
    /// referenced ConfigMap.
    pub fn for_link(link: &ValidatedLink) -> Self {
        let mut secrets: BTreeSet<String> = referenced_secrets(&link.resource.spec)
            .into_keys()
            .collect();
        if link.generates_keys {
            secrets.insert(link.names.keys.clone());
        }
        if matches!(link.tls, Tls::CertManager { .. }) {
            secrets.insert(link.names.tls.clone());
        }
        Self {
            secrets,
            config_maps: referenced_config_maps(&link.resource.spec),
        }
    }

    /// The file holding `key` of Secret `secret`.
    pub fn file(secret: &str, key: &str) -> PathBuf {
        PathBuf::from(format!("{SECRETS_DIR}/{secret}/{key}"))
    }

    /// The directory of mounted ConfigMap `name`.
    pub fn config_map_dir(name: &str) -> PathBuf {
        PathBuf::from(format!("{CONFIG_MAPS_DIR}/{name}"))
    }

    /// The file holding `key` of ConfigMap `name`.
    pub fn config_map_file(name: &str, key: &str) -> PathBuf {
        Self::config_map_dir(name).join(key)
    }

    /// Volume name of a mounted ConfigMap, by index like a Secret's.
    pub fn config_map_volume_name(&self, name: &str) -> String {
        let index = self.config_maps.iter().position(|c| c == name).unwrap_or(0);
        format!("config-map-{index}")
    }

    /// Volume name of a mounted Secret: an index, because Secret names may
    /// be longer than a volume name can be.
    pub fn volume_name(&self, secret: &str) -> String {
        let index = self.secrets.iter().position(|s| s == secret).unwrap_or(0);
        format!("secret-{index}")
    }
}
