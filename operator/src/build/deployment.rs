//! The Deployment running the server: hardened pod, Secrets mounted as
//! files, probes on the admin port, and a pod-template hash so that a new
//! config or a rotated Secret rolls the pods.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities as LinuxCapabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, HTTPGetAction, PersistentVolumeClaimVolumeSource, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, SeccompProfile, Secret, SecretVolumeSource, SecurityContext,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use super::mounts::{CONFIG_DIR, CONFIG_FILE, DATA_DIR, Mounts, SECRETS_DIR};
use super::service::public_port_name;
use super::{ADMIN_PORT, PUBLIC_PORT};
use crate::crd::{AlexaSkillLinkSpec, PullPolicy};
use crate::labels::{CONFIG_HASH_ANNOTATION, labels, selector_labels};
use crate::secret_refs::referenced_secrets;
use crate::validate::{Storage, ValidatedLink};

/// The image when neither the spec nor the operator's `--server-image`
/// names one.
pub fn default_image() -> String {
    format!(
        "ghcr.io/alexa-link/alexa-link:{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The server image the operator runs when a resource names none: set by
/// `--server-image` / `--server-image-pull-policy`, so a cluster that mirrors
/// or builds its own image needs no `spec.image` on every resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerImage {
    /// Image reference.
    pub image: String,
    /// Pull policy; `None` leaves Kubernetes' own default.
    pub pull_policy: Option<PullPolicy>,
}

impl Default for ServerImage {
    fn default() -> Self {
        Self {
            image: default_image(),
            pull_policy: None,
        }
    }
}

impl ServerImage {
    /// Image and pull policy for `spec`: each of `spec.image` and
    /// `spec.imagePullPolicy` overrides the operator's own, independently.
    pub fn for_spec(&self, spec: &AlexaSkillLinkSpec) -> (String, Option<PullPolicy>) {
        (
            spec.image.clone().unwrap_or_else(|| self.image.clone()),
            spec.image_pull_policy.or(self.pull_policy),
        )
    }
}

/// The UID and GID the server runs as (no root, no fixed user in the image).
const RUN_AS: i64 = 65532;

/// Hash of everything the pods read at start: the config, the keys of
/// referenced Secrets (client secrets, users, the LDAP bind password and CA
/// bundle, the OIDC client secret, partner and AWS credentials, keys) and
/// of referenced ConfigMaps (the branding's logo, style sheet, templates). TLS
/// certificates are left out on purpose: the server reloads them from
/// disk, so a renewal needs no restart.
pub fn config_hash(
    config_map: &ConfigMap,
    link: &ValidatedLink,
    keys_secret: Option<&Secret>,
) -> String {
    let (spec, names, resolved) = (&link.resource.spec, &link.names, &link.secrets);
    let mut h = Sha256::new();
    for (k, v) in config_map.data.iter().flatten() {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    let tls_secret = spec.tls.secret_name.as_deref();
    for (secret, keys) in referenced_secrets(spec) {
        if Some(secret.as_str()) == tls_secret {
            continue;
        }
        let data = resolved
            .secrets
            .get(&secret)
            .cloned()
            .flatten()
            .unwrap_or_default();
        for key in keys {
            h.update(secret.as_bytes());
            h.update([0]);
            h.update(key.as_bytes());
            h.update([0]);
            if let Some(v) = data.get(&key) {
                h.update(v);
            }
            h.update([0]);
        }
    }
    // Referenced ConfigMaps (logo, style sheet, templates): every key, as
    // every key is a file in the pods.
    for (name, data) in &resolved.config_maps {
        for (key, value) in data.iter().flatten() {
            h.update(b"configmap\0");
            h.update(name.as_bytes());
            h.update([0]);
            h.update(key.as_bytes());
            h.update([0]);
            h.update(value);
            h.update([0]);
        }
    }
    if let Some(s) = keys_secret {
        for (k, v) in s.data.iter().flatten() {
            h.update(names.keys.as_bytes());
            h.update(k.as_bytes());
            h.update(&v.0);
            h.update([0]);
        }
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    }
}

/// What every container running the server binary mounts: the rendered
/// config (read-only, from the ConfigMap `config_map`) and a writable
/// `/tmp` (the root filesystem is read-only).
pub(super) fn config_and_tmp(config_map: &str) -> (Vec<Volume>, Vec<VolumeMount>) {
    let volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.to_owned(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mounts = vec![
        VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        },
    ];
    (volumes, mounts)
}

/// The Secret `secret` as volume `name`, mounted read-only where the
/// rendered config names its files (`SECRETS_DIR/<secret>`).
pub(super) fn secret_volume(name: String, secret: &str) -> (Volume, VolumeMount) {
    let volume = Volume {
        name: name.clone(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    };
    let mount = VolumeMount {
        name,
        mount_path: format!("{SECRETS_DIR}/{secret}"),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    (volume, mount)
}

/// The server container's hardening: no root, no privileges, read-only
/// root file system (shared by every pod that runs the server image).
pub fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        capabilities: Some(LinuxCapabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(seccomp()),
        ..SecurityContext::default()
    }
}

/// The pod-level half of [`container_security`].
pub fn pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(seccomp()),
        ..PodSecurityContext::default()
    }
}

/// The Deployment `<name>`.
pub fn build(
    link: &ValidatedLink,
    mounts: &Mounts,
    hash: &str,
    server_image: &ServerImage,
) -> Deployment {
    let (spec, names) = (&link.resource.spec, &link.names);
    let embedded = matches!(link.storage, Storage::Embedded(_));
    let (image, pull_policy) = server_image.for_spec(spec);
    let (mut volumes, mut volume_mounts) = config_and_tmp(&names.config);
    for secret in &mounts.secrets {
        let (volume, mount) = secret_volume(mounts.volume_name(secret), secret);
        volumes.push(volume);
        volume_mounts.push(mount);
    }
    for config_map in &mounts.config_maps {
        let name = mounts.config_map_volume_name(config_map);
        volumes.push(Volume {
            name: name.clone(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        volume_mounts.push(VolumeMount {
            name,
            mount_path: Mounts::config_map_dir(config_map).display().to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    if embedded {
        volumes.push(Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: names.data.clone(),
                read_only: Some(false),
            }),
            ..Volume::default()
        });
        volume_mounts.push(VolumeMount {
            name: "data".into(),
            mount_path: DATA_DIR.into(),
            ..VolumeMount::default()
        });
    }
    let probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("admin".into()),
            scheme: Some("HTTP".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    };
    let container = Container {
        name: "server".into(),
        image: Some(image),
        image_pull_policy: pull_policy.map(|p| p.as_str().to_owned()),
        args: Some(vec!["--config".into(), CONFIG_FILE.into()]),
        ports: Some(vec![
            ContainerPort {
                name: Some(public_port_name(&link.tls).into()),
                container_port: PUBLIC_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("admin".into()),
                container_port: ADMIN_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        startup_probe: Some(probe("/healthz", 2, 30)),
        liveness_probe: Some(probe("/healthz", 10, 3)),
        readiness_probe: Some(probe("/readyz", 5, 2)),
        resources: spec.resources.clone(),
        security_context: Some(container_security()),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    };
    let mut pod_labels = labels(&names.main);
    pod_labels.extend(selector_labels(&names.main));
    Deployment {
        metadata: super::meta(&link.resource, &names.main),
        spec: Some(DeploymentSpec {
            replicas: Some(link.replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&names.main)),
                ..LabelSelector::default()
            },
            // One pod owns the embedded store's volume at a time.
            strategy: embedded.then(|| DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.to_owned(),
                        hash.to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(names.main.clone()),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security()),
                    containers: vec![container],
                    volumes: Some(volumes),
                    node_selector: (!spec.node_selector.is_empty())
                        .then(|| spec.node_selector.clone()),
                    tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
                    affinity: spec.affinity.clone(),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}
