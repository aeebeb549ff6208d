//! The ConfigMap holding the rendered server config.

use std::collections::BTreeMap;

use alexa_link_config::Config;
use k8s_openapi::api::core::v1::ConfigMap;

use crate::validate::ValidatedLink;

/// Key of the config document in the ConfigMap (the file name in the pod).
pub const CONFIG_KEY: &str = "config.yaml";

/// The ConfigMap `<name>-config`.
pub fn build(link: &ValidatedLink, config: &Config) -> ConfigMap {
    ConfigMap {
        metadata: super::meta(&link.resource, &link.names.config),
        data: Some(BTreeMap::from([(CONFIG_KEY.to_owned(), config.to_yaml())])),
        ..ConfigMap::default()
    }
}
