//! The Job that deletes a deleted link's DynamoDB items
//! (`deletionPolicy: Delete`): the server image running
//! `alexa-link-server purge-items` with the link's own config, as the
//! link's ServiceAccount.
//!
//! Why a Job and not the operator: in production the table is reached
//! with the link's AWS identity (IRSA on its ServiceAccount, or its
//! credentials Secret), which the operator does not and should not hold.
//! The Job needs only what the link's pods already have: the rendered
//! config (the ConfigMap, still there while the finalizer holds the link)
//! and the credentials. Built from the spec alone, not from a validated
//! link: a link is often deleted together with the Secrets it references,
//! and its items must still go.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::deployment::{
    ServerImage, config_and_tmp, container_security, pod_security, secret_volume,
};
use super::mounts::CONFIG_FILE;
use crate::crd::AlexaSkillLink;
use crate::labels::{APP_NAME, MANAGER, Names};
use crate::validate::DynamoDbStorage;

/// Items scanned per request by the purge (the bound on each step).
pub const PAGE_SIZE: u32 = 200;
/// Attempts (pods) before the Job counts as failed; the operator then
/// starts a new one, which continues where the items say.
pub const BACKOFF_LIMIT: i32 = 4;
/// How long one Job may run before it counts as failed.
pub const ACTIVE_DEADLINE_SECONDS: i64 = 3600;
/// Label on the purge pods naming their link (they carry no instance
/// label: they are not server pods, and waiting for the server pods to
/// stop must not wait for them).
pub const PURGE_OF_LABEL: &str = "skilllink.dev/purge-of";

/// The Job's name: `<name>-purge`.
pub fn name(link: &str) -> String {
    format!("{link}-purge")
}

/// The purge Job of `asl`, whose storage is `storage`.
pub fn build(asl: &AlexaSkillLink, storage: &DynamoDbStorage, image: &ServerImage) -> Job {
    let link = asl.name_any();
    let names = Names::new(&link);
    let (image, pull_policy) = image.for_spec(&asl.spec);
    let (mut volumes, mut mounts) = config_and_tmp(&names.config);
    // The config names the credential files where the server pods find
    // them: the same path here.
    if let Some(secret) = &storage.credentials_secret {
        let (volume, mount) = secret_volume("aws".into(), secret);
        volumes.push(volume);
        mounts.push(mount);
    }
    let pod_labels = [
        ("app.kubernetes.io/name", APP_NAME),
        ("app.kubernetes.io/component", "purge"),
        ("app.kubernetes.io/managed-by", MANAGER),
        (PURGE_OF_LABEL, link.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let spec = &asl.spec;
    Job {
        metadata: ObjectMeta {
            // Owned by the link (collected with it once the finalizer is
            // gone); the labels of every child.
            ..super::meta(asl, &name(&link))
        },
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            active_deadline_seconds: Some(ACTIVE_DEADLINE_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    service_account_name: Some(names.main.clone()),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security()),
                    containers: vec![Container {
                        name: "purge".into(),
                        image: Some(image),
                        image_pull_policy: pull_policy.map(|p| p.as_str().to_owned()),
                        args: Some(vec![
                            "--config".into(),
                            CONFIG_FILE.into(),
                            "purge-items".into(),
                            "--page-size".into(),
                            PAGE_SIZE.to_string(),
                        ]),
                        resources: spec.resources.clone(),
                        security_context: Some(container_security()),
                        volume_mounts: Some(mounts),
                        ..Container::default()
                    }],
                    volumes: Some(volumes),
                    node_selector: (!spec.node_selector.is_empty())
                        .then(|| spec.node_selector.clone()),
                    tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::testing::fixture;
    use crate::validate::{Storage, storage};

    fn job_for(asl: &AlexaSkillLink) -> Job {
        let Ok(Storage::Dynamodb(d)) = storage(&asl.spec) else {
            panic!("the fixture uses DynamoDB")
        };
        build(asl, &d, &ServerImage::default())
    }

    #[test]
    fn runs_purge_items_with_the_links_config_and_identity() {
        let asl = fixture("dynamodb.yaml");
        let name = asl.name_any();
        let job = job_for(&asl);
        assert_eq!(job.metadata.name, Some(format!("{name}-purge")));
        let owner = &job.metadata.owner_references.as_ref().expect("owned")[0];
        assert_eq!(Some(&owner.uid), asl.metadata.uid.as_ref());
        let spec = job.spec.expect("spec");
        assert_eq!(spec.backoff_limit, Some(BACKOFF_LIMIT));
        let pod = spec.template.spec.expect("pod");
        // IRSA: the link's ServiceAccount is the AWS identity.
        assert_eq!(pod.service_account_name.as_deref(), Some(name.as_str()));
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let args = pod.containers[0].args.clone().expect("args");
        assert_eq!(args[..3], ["--config", CONFIG_FILE, "purge-items"]);
        let volumes = pod.volumes.expect("volumes");
        assert_eq!(
            volumes[0].config_map.as_ref().map(|c| c.name.clone()),
            Some(format!("{name}-config"))
        );
        assert!(
            volumes.iter().all(|v| v.secret.is_none()),
            "IRSA: no credentials Secret"
        );
        // Not a server pod: the instance label would make it one.
        let labels = spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .expect("labels");
        assert!(!labels.contains_key("app.kubernetes.io/instance"));
        assert_eq!(labels.get(PURGE_OF_LABEL), Some(&name));
    }

    #[test]
    fn mounts_a_credentials_secret_where_the_config_names_its_files() {
        let mut asl = fixture("dynamodb.yaml");
        asl.spec
            .storage
            .dynamodb
            .as_mut()
            .expect("dynamodb")
            .credentials_secret_name = Some("aws-creds".into());
        let pod = job_for(&asl)
            .spec
            .and_then(|s| s.template.spec)
            .expect("pod");
        assert!(pod.volumes.iter().flatten().any(|v| {
            v.secret
                .as_ref()
                .is_some_and(|s| s.secret_name.as_deref() == Some("aws-creds"))
        }));
        let file = crate::build::mounts::Mounts::file("aws-creds", "AWS_ACCESS_KEY_ID");
        assert!(
            pod.containers[0]
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| file.starts_with(&m.mount_path)),
            "{file:?} is mounted"
        );
    }
}
