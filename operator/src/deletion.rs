//! `deletionPolicy: Delete` with DynamoDB: the link's items go with it.
//!
//! The table may be shared by many links (and by anything else), so the
//! operator cannot drop it. Every item a link's servers write names the
//! link (`store.dynamodb.owner` = `<namespace>/<name>`, the attribute `lk`),
//! and a finalizer holds the deleted resource until exactly those items are
//! gone:
//!
//! 1. the server Deployment is deleted in the foreground and the operator
//!    waits until it is gone, with its pods (a running server could write
//!    behind the purge);
//! 2. a Job (`build/purge_job.rs`) runs `alexa-link-server purge-items` as
//!    the link's ServiceAccount with the link's config: the AWS identity
//!    that can reach the table is the link's, not the operator's;
//! 3. the Job succeeded: the finalizer is removed, garbage collection takes
//!    the rest. The Job failed: it is replaced after a pause, and the new
//!    one deletes what is left (the purge is idempotent).
//!
//! Each step is written to the status (Ready=False with `StoppingServers`,
//! `PurgingItems` or `PurgeFailed`), with an event when the reason changes.
//! `Retain` adds no finalizer: the items stay and a link made again with
//! the same name and table owns them again.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::build::purge_job;
use crate::conditions::reasons;
use crate::controller::{Context, Error};
use crate::crd::{AlexaSkillLink, DeletionPolicy};
use crate::status::Outcome;
use crate::validate::{Storage, storage};

/// The finalizer that holds a deleted link until its DynamoDB items are gone.
pub const FINALIZER: &str = "skilllink.dev/dynamodb-items";

/// How often a deletion in progress is looked at again.
const POLL: Duration = Duration::from_secs(3);
/// The pause before a failed purge Job is replaced.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// Whether `asl` needs the finalizer: DynamoDB storage and `Delete`.
pub fn wants_finalizer(asl: &AlexaSkillLink) -> bool {
    asl.spec.deletion_policy == DeletionPolicy::Delete && asl.spec.storage.dynamodb.is_some()
}

/// Whether `asl` carries the finalizer.
pub fn has_finalizer(asl: &AlexaSkillLink) -> bool {
    asl.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds or removes the finalizer so that it is there exactly when wanted
/// (switching to `Retain`, or away from DynamoDB, releases the items).
/// Writes nothing when it already is as wanted.
pub async fn sync_finalizer(asl: &AlexaSkillLink, ctx: &Context) -> Result<(), Error> {
    let (want, have) = (wants_finalizer(asl), has_finalizer(asl));
    if want == have {
        return Ok(());
    }
    let mut finalizers: Vec<String> = asl
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if want {
        finalizers.push(FINALIZER.to_owned());
    }
    patch_finalizers(asl, ctx, finalizers).await
}

/// Writes `metadata.finalizers`, only if the resource is still the version
/// read (a concurrent change makes this fail and the reconcile retry).
async fn patch_finalizers(
    asl: &AlexaSkillLink,
    ctx: &Context,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let api: Api<AlexaSkillLink> =
        Api::namespaced(ctx.client.clone(), &asl.namespace().unwrap_or_default());
    let patch = json!({
        "metadata": {
            "resourceVersion": asl.resource_version(),
            "finalizers": finalizers,
        }
    });
    api.patch(
        &asl.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Error::Delete)?;
    ctx.metrics.api_write("AlexaSkillLink", "patch");
    Ok(())
}

/// One step of deleting a link that carries the finalizer; requeues until
/// the items are gone and the finalizer removed.
pub async fn finalize(asl: &AlexaSkillLink, ctx: &Context) -> Result<Action, Error> {
    let ns = asl.namespace().unwrap_or_default();
    let name = asl.name_any();
    let Ok(Storage::Dynamodb(storage)) = storage(&asl.spec) else {
        // Not DynamoDB after all (an unreadable spec): nothing to purge.
        release(asl, ctx).await?;
        return Ok(Action::await_change());
    };

    // 1. No server may write behind the purge. Foreground deletion: the
    // Deployment object stays until its ReplicaSets and their pods are
    // gone, so "no Deployment" means "no server pod" (without the
    // operator reading pods).
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(d) = deployments.get_opt(&name).await.map_err(Error::Delete)? {
        if d.metadata.deletion_timestamp.is_none() {
            deployments
                .delete(&name, &DeleteParams::foreground())
                .await
                .map_err(Error::Delete)?;
            ctx.metrics.api_write("Deployment", "delete");
        }
        let message = format!(
            "Deleting: waiting for Deployment {name:?} and its server pods to stop before this link's DynamoDB items in table {} are deleted.",
            storage.table_name
        );
        report(asl, ctx, reasons::STOPPING_SERVERS, message, false).await?;
        return Ok(Action::requeue(POLL));
    }

    // 2. The purge Job.
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let job_name = purge_job::name(&name);
    let Some(job) = jobs.get_opt(&job_name).await.map_err(Error::Delete)? else {
        let job = purge_job::build(asl, &storage, &ctx.server_image);
        jobs.create(&PostParams::default(), &job)
            .await
            .map_err(Error::Delete)?;
        ctx.metrics.api_write("Job", "create");
        let message = format!(
            "Deleting: Job {job_name:?} deletes this link's items from DynamoDB table {} (progress: kubectl logs job/{job_name}).",
            storage.table_name
        );
        report(asl, ctx, reasons::PURGING_ITEMS, message, false).await?;
        return Ok(Action::requeue(POLL));
    };
    let status = job.status.clone().unwrap_or_default();
    if status.succeeded.unwrap_or(0) > 0 {
        let note = format!(
            "Every DynamoDB item of this link was deleted from table {} (Job {job_name:?}).",
            storage.table_name
        );
        publish(asl, ctx, EventType::Normal, reasons::ITEMS_PURGED, note).await;
        release(asl, ctx).await?;
        crate::controller::forget(ctx, asl);
        return Ok(Action::await_change());
    }
    let failed = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True");
    if let Some(failed) = failed {
        if job.metadata.deletion_timestamp.is_none() {
            // The items it deleted stay deleted: the next Job continues.
            jobs.delete(&job_name, &DeleteParams::background())
                .await
                .map_err(Error::Delete)?;
            ctx.metrics.api_write("Job", "delete");
        }
        let message = format!(
            "Deleting: Job {job_name:?} failed ({}: {}); a new one continues in {} s. Its pods' logs say why.",
            failed.reason.as_deref().unwrap_or("Failed"),
            failed.message.as_deref().unwrap_or("no message"),
            RETRY_AFTER_FAILURE.as_secs()
        );
        report(asl, ctx, reasons::PURGE_FAILED, message, true).await?;
        return Ok(Action::requeue(RETRY_AFTER_FAILURE));
    }
    let message = format!(
        "Deleting: Job {job_name:?} deletes this link's items from DynamoDB table {} ({} failed attempt(s) of {}; progress: kubectl logs job/{job_name}).",
        storage.table_name,
        status.failed.unwrap_or(0),
        purge_job::BACKOFF_LIMIT + 1
    );
    report(asl, ctx, reasons::PURGING_ITEMS, message, false).await?;
    Ok(Action::requeue(POLL))
}

/// Removes the finalizer: the resource goes, and its children with it.
async fn release(asl: &AlexaSkillLink, ctx: &Context) -> Result<(), Error> {
    let rest = asl
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(asl, ctx, rest).await
}

/// The deletion step in the status (an event when the reason changes).
async fn report(
    asl: &AlexaSkillLink,
    ctx: &Context,
    reason: &'static str,
    message: String,
    failed: bool,
) -> Result<(), Error> {
    let now =
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let asl = crate::controller::with_current_status(ctx, asl);
    let desired = crate::status::desired(
        &asl,
        &Outcome::Deleting {
            reason,
            message,
            failed,
        },
        now,
    );
    crate::controller::write_status(&asl, ctx, &desired).await
}

async fn publish(
    asl: &AlexaSkillLink,
    ctx: &Context,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Delete".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &asl.object_ref(&())).await {
        tracing::warn!(error = %e, "failed to publish event");
    } else {
        ctx.metrics.api_write("Event", "create");
    }
}
