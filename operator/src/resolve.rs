//! Resolve: read what a resource references (its Secrets and ConfigMaps,
//! the generated keys, whether cert-manager is installed). The only step before apply
//! that talks to the API server; everything after it is pure until apply.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client, ResourceExt};

use crate::crd::AlexaSkillLink;
use crate::labels::Names;
use crate::secret_refs::{needs_generated_keys, referenced_config_maps, referenced_secrets};

/// What resolve read. Secret values stay in memory for hashing only; they
/// are never logged nor put into events or status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// Referenced Secrets by name: `None` when the Secret does not exist.
    pub secrets: BTreeMap<String, Option<BTreeMap<String, Vec<u8>>>>,
    /// Referenced ConfigMaps by name (`data` and `binaryData` together):
    /// `None` when the ConfigMap does not exist.
    pub config_maps: BTreeMap<String, Option<BTreeMap<String, Vec<u8>>>>,
    /// The data of the existing generated `<name>-keys` Secret.
    pub generated_keys: Option<BTreeMap<String, Vec<u8>>>,
    /// cert-manager's Certificate CRD exists.
    pub cert_manager_installed: bool,
    /// The data of `spec.alexaSkill.credentialsSecretName` (`None` when
    /// absent or not asked for). Read for the operator's own SMAPI calls:
    /// never mounted, never hashed into the pod template.
    pub smapi_credentials: Option<BTreeMap<String, Vec<u8>>>,
}

/// The name of cert-manager's Certificate CRD.
pub const CERT_MANAGER_CRD: &str = "certificates.cert-manager.io";

/// Reads everything `asl` references.
pub async fn resolve(client: &Client, asl: &AlexaSkillLink) -> Result<Resolved, kube::Error> {
    let ns = asl
        .namespace()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut resolved = Resolved::default();
    // Concurrently: one link's latency is its slowest read, not their sum.
    let reads = referenced_secrets(&asl.spec).into_keys().map(|name| {
        let secrets = secrets.clone();
        async move {
            let data = secrets.get_opt(&name).await?.map(secret_data);
            Ok::<_, kube::Error>((name, data))
        }
    });
    resolved.secrets = futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let reads = referenced_config_maps(&asl.spec).into_iter().map(|name| {
        let config_maps = config_maps.clone();
        async move {
            let data = config_maps.get_opt(&name).await?.map(config_map_data);
            Ok::<_, kube::Error>((name, data))
        }
    });
    resolved.config_maps = futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect();
    if needs_generated_keys(&asl.spec) {
        let names = Names::new(&asl.name_any());
        resolved.generated_keys = secrets.get_opt(&names.keys).await?.map(secret_data);
    }
    if let Some(skill) = &asl.spec.alexa_skill {
        resolved.smapi_credentials = secrets
            .get_opt(&skill.credentials_secret_name)
            .await?
            .map(secret_data);
    }
    if asl.spec.tls.cert_manager.is_some() {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        resolved.cert_manager_installed = crds.get_opt(CERT_MANAGER_CRD).await?.is_some();
    }
    Ok(resolved)
}

fn secret_data(s: Secret) -> BTreeMap<String, Vec<u8>> {
    s.data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

/// A ConfigMap's `data` (as bytes) and `binaryData`, by key: both become
/// files of the same kind when mounted.
fn config_map_data(c: ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let text = c
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()));
    let binary = c
        .binary_data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0));
    text.chain(binary).collect()
}
