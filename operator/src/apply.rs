//! Apply: server-side apply of every wanted child under one field manager,
//! and deletion of the children no longer wanted.
//!
//! Each applied child carries a hash of what was applied. A child whose
//! hash already matches is not applied again, so a reconcile that changes
//! nothing sends no write; and a child the watches show unchanged since the
//! operator last saw that hash on it is not even read ([`ChildCache`]).

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::build::{self, Capabilities, Children};
use crate::child_cache::{self, ChildCache};
use crate::crd::AlexaSkillLink;
use crate::labels::{APPLIED_HASH_ANNOTATION, MANAGER, Names};
use crate::metrics::Metrics;

/// Why applying failed. Always transient from the reconciler's view.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A server-side apply was refused or failed.
    #[error("failed to apply {kind} {name:?}: {source}")]
    Apply {
        /// Child kind.
        kind: &'static str,
        /// Child name.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// Reading a child failed.
    #[error("failed to read {kind} {name:?}: {source}")]
    Read {
        /// Child kind.
        kind: &'static str,
        /// Child name.
        name: String,
        /// The API error.
        source: kube::Error,
    },
    /// Deleting an unwanted child failed.
    #[error("failed to delete {kind} {name:?}: {source}")]
    Delete {
        /// Child kind.
        kind: &'static str,
        /// Child name.
        name: String,
        /// The API error.
        source: kube::Error,
    },
}

/// Applies `children` of `asl`; returns the Deployment as the API server has it.
pub async fn apply_all(
    client: &Client,
    metrics: &Metrics,
    cache: &ChildCache,
    caps: Capabilities,
    asl: &AlexaSkillLink,
    children: &Children,
) -> Result<Deployment, ApplyError> {
    let ns = asl
        .namespace()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let names = Names::new(&asl.name_any());
    let a = Applier {
        client,
        metrics,
        cache,
        ns: &ns,
        instance: asl.name_any(),
    };

    // Exhaustive on purpose (no `..`): a new child kind does not compile
    // until it is applied (and removed when unwanted) here.
    let Children {
        service_account,
        config_map,
        keys_secret,
        pvc,
        deployment,
        service,
        pdb,
        ingress,
        network_policy,
        certificate,
        notes: _, // status only
    } = children;

    // Two waves, each child of a wave written concurrently (the API server,
    // not one link's round trips, should bound a thousand links). First
    // what the pods mount or run as, then the pods and what fronts them,
    // so a new Deployment does not start pods before their config exists.
    let cert_api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &build::certificate::api_resource());
    futures::try_join!(
        a.ensure::<ServiceAccount>("ServiceAccount", service_account.clone()),
        async {
            match keys_secret {
                Some(s) => a.ensure::<Secret>("Secret", s.clone()).await,
                None => a.remove::<Secret>("Secret", &names.keys).await,
            }
        },
        a.ensure::<ConfigMap>("ConfigMap", config_map.clone()),
        async {
            match pvc {
                Some(p) => {
                    a.ensure::<PersistentVolumeClaim>("PersistentVolumeClaim", p.clone())
                        .await
                }
                None => {
                    a.remove::<PersistentVolumeClaim>("PersistentVolumeClaim", &names.data)
                        .await
                }
            }
        },
        async {
            match certificate {
                Some(c) => a.ensure_with(&cert_api, "Certificate", c.clone()).await,
                // Without cert-manager installed the GET answers 404: nothing to do.
                None => a.remove_with(&cert_api, "Certificate", &names.tls).await,
            }
        },
    )?;
    let (deployment, (), (), (), ()) = futures::try_join!(
        // Read even when unchanged: its status is the link's status.
        a.ensure_read::<Deployment>("Deployment", deployment.clone()),
        a.ensure::<Service>("Service", service.clone()),
        async {
            match (caps.pdb_v1, pdb) {
                (false, _) => Ok(()),
                (true, Some(p)) => {
                    a.ensure::<PodDisruptionBudget>("PodDisruptionBudget", p.clone())
                        .await
                }
                (true, None) => {
                    a.remove::<PodDisruptionBudget>("PodDisruptionBudget", &names.main)
                        .await
                }
            }
        },
        async {
            match ingress {
                Some(i) => a.ensure::<Ingress>("Ingress", i.clone()).await,
                None => a.remove::<Ingress>("Ingress", &names.main).await,
            }
        },
        async {
            match network_policy {
                Some(n) => a.ensure::<NetworkPolicy>("NetworkPolicy", n.clone()).await,
                None => {
                    a.remove::<NetworkPolicy>("NetworkPolicy", &names.main)
                        .await
                }
            }
        },
    )?;
    Ok(deployment)
}

struct Applier<'a> {
    client: &'a Client,
    metrics: &'a Metrics,
    cache: &'a ChildCache,
    ns: &'a str,
    instance: String,
}

/// Hash of a child as the operator wants it (without the hash annotation).
pub fn applied_hash<K: Serialize>(obj: &K) -> String {
    let bytes = serde_json::to_vec(obj).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl Applier<'_> {
    /// Applies `desired` unless it is known to be there already.
    async fn ensure<K>(&self, kind: &'static str, desired: K) -> Result<(), ApplyError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Serialize
            + DeserializeOwned
            + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), self.ns);
        self.ensure_with(&api, kind, desired).await
    }

    async fn ensure_with<K>(
        &self,
        api: &Api<K>,
        kind: &'static str,
        desired: K,
    ) -> Result<(), ApplyError>
    where
        K: Resource + Clone + Serialize + DeserializeOwned + Debug,
    {
        let key = child_cache::key(kind, self.ns, &desired.name_any());
        if self.cache.up_to_date(&key, &applied_hash(&desired)) {
            return Ok(());
        }
        self.apply_with(api, kind, desired).await.map(|_| ())
    }

    /// Applies `desired` if it changed; returns the child as the API
    /// server has it (always read).
    async fn ensure_read<K>(&self, kind: &'static str, desired: K) -> Result<K, ApplyError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Serialize
            + DeserializeOwned
            + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), self.ns);
        self.apply_with(&api, kind, desired).await
    }

    /// Reads the child; applies `desired` when its hash differs.
    async fn apply_with<K>(
        &self,
        api: &Api<K>,
        kind: &'static str,
        mut desired: K,
    ) -> Result<K, ApplyError>
    where
        K: Resource + Clone + Serialize + DeserializeOwned + Debug,
    {
        let hash = applied_hash(&desired);
        desired
            .meta_mut()
            .annotations
            .get_or_insert_with(Default::default)
            .insert(APPLIED_HASH_ANNOTATION.to_owned(), hash.clone());
        let name = desired.name_any();
        let key = child_cache::key(kind, self.ns, &name);
        // A child its watch has listed and never seen is new: apply it
        // without reading it first (if it appeared meanwhile, the apply
        // still makes it what is wanted).
        let existing = if self.cache.absent(kind, &key) {
            None
        } else {
            api.get_opt(&name)
                .await
                .map_err(|source| ApplyError::Read {
                    kind,
                    name: name.clone(),
                    source,
                })?
        };
        if let Some(existing) = existing
            && existing.annotations().get(APPLIED_HASH_ANNOTATION) == Some(&hash)
        {
            self.cache
                .know(key, hash, existing.resource_version().unwrap_or_default());
            return Ok(existing);
        }
        let applied = api
            .patch(
                &name,
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&desired),
            )
            .await
            .map_err(|source| ApplyError::Apply {
                kind,
                name: name.clone(),
                source,
            })?;
        self.metrics.api_write(kind, "apply");
        self.cache
            .know(key, hash, applied.resource_version().unwrap_or_default());
        Ok(applied)
    }

    /// Deletes child `name` if it exists and is one of ours.
    async fn remove<K>(&self, kind: &'static str, name: &str) -> Result<(), ApplyError>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), self.ns);
        self.remove_with(&api, kind, name).await
    }

    async fn remove_with<K>(
        &self,
        api: &Api<K>,
        kind: &'static str,
        name: &str,
    ) -> Result<(), ApplyError>
    where
        K: Resource + Clone + DeserializeOwned + Debug,
    {
        if self
            .cache
            .absent(kind, &child_cache::key(kind, self.ns, name))
        {
            return Ok(());
        }
        let existing = match api.get_opt(name).await {
            Ok(e) => e,
            // An API the cluster does not serve (cert-manager not
            // installed) answers a bare 404: nothing of that kind exists.
            Err(kube::Error::Api(e)) if e.code == 404 => None,
            Err(source) => {
                return Err(ApplyError::Read {
                    kind,
                    name: name.to_owned(),
                    source,
                });
            }
        };
        let Some(existing) = existing else {
            return Ok(());
        };
        let labels = existing.labels();
        let ours = labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str)
            == Some(MANAGER)
            && labels.get("app.kubernetes.io/instance") == Some(&self.instance);
        if !ours {
            return Ok(());
        }
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {
                self.metrics.api_write(kind, "delete");
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(source) => Err(ApplyError::Delete {
                kind,
                name: name.to_owned(),
                source,
            }),
        }
    }
}
