//! The reconciler: one reconcile is the pipeline
//! resolve -> validate -> build -> apply -> status,
//! each step in its own module, pure where it can be.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use crate::alexa_compat;
use crate::apply::{ApplyError, apply_all};
use crate::build::deployment::ServerImage;
use crate::build::{self, Capabilities, keys_secret::random_key};
use crate::child_cache::ChildCache;
use crate::conditions::reasons;
use crate::crd::{AlexaSkillLink, AlexaSkillLinkStatus};
use crate::deletion;
use crate::labels::{MANAGER, Names};
use crate::metrics::{InvalidLabels, Metrics};
use crate::resolve::resolve;
use crate::secret_refs::{referenced_config_maps, referenced_secrets};
use crate::smapi::{
    self,
    client::{Endpoints, SmapiClient},
    sync::Smapi,
};
use crate::status::{self, Outcome, ready_of};
use crate::validate::validate;

/// Why a reconcile failed; all are transient and retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading referenced objects failed.
    #[error("failed to read referenced objects: {0}")]
    Resolve(#[source] kube::Error),
    /// Applying or deleting a child failed.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// Writing the status failed.
    #[error("failed to write status: {0}")]
    Status(#[source] kube::Error),
    /// A step of deleting the link's DynamoDB items (or of keeping its
    /// finalizer as wanted) failed.
    #[error("failed to delete the link's DynamoDB items: {0}")]
    Delete(#[source] kube::Error),
}

impl Error {
    /// The metric label of this error.
    pub fn stage(&self) -> &'static str {
        match self {
            Error::Resolve(_) => "resolve",
            Error::Apply(_) => "apply",
            Error::Status(_) => "status",
            Error::Delete(_) => "delete",
        }
    }
}

/// Everything a reconcile needs.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Publishes events.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// What the cluster serves.
    pub caps: Capabilities,
    /// Failed attempts in a row, per object, for exponential backoff.
    pub failures: Mutex<HashMap<String, u32>>,
    /// Resync period after a successful reconcile.
    pub resync: Duration,
    /// How many resources are reconciled at once.
    pub concurrency: u16,
    /// The server image for resources that name none.
    pub server_image: ServerImage,
    /// The last status written per object, with the resourceVersion the
    /// object had before: the controller's cache may still hold that
    /// version when the next reconcile starts, and must not make the
    /// operator write the same status (and event) twice.
    pub written: Mutex<HashMap<String, Written>>,
    /// What the children's watches last saw (lets apply skip reads).
    pub children: ChildCache,
    /// The SMAPI client and what it remembers per link (`spec.alexaSkill`).
    pub smapi: Arc<Smapi>,
}

/// A status the operator wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// `metadata.resourceVersion` of the resource the status was computed from.
    pub resource_version: Option<String>,
    /// The status written.
    pub status: AlexaSkillLinkStatus,
}

impl Context {
    /// A context with the default resync (5 minutes).
    pub fn new(client: Client, metrics: Arc<Metrics>, caps: Capabilities) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        );
        Self {
            client,
            recorder,
            metrics,
            caps,
            failures: Mutex::new(HashMap::new()),
            resync: Duration::from_secs(300),
            concurrency: 32,
            server_image: ServerImage::default(),
            written: Mutex::new(HashMap::new()),
            children: ChildCache::default(),
            // Amazon's production endpoints; `run` may override them.
            smapi: Arc::new(Smapi::new(
                SmapiClient::new(Endpoints::default(), None)
                    .expect("an HTTP client with the default TLS settings"),
                Duration::from_secs(300),
            )),
        }
    }
}

fn key(asl: &AlexaSkillLink) -> String {
    format!("{}/{}", asl.namespace().unwrap_or_default(), asl.name_any())
}

/// How long triggers of one resource are gathered before it is reconciled.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// Reconciles one resource.
pub async fn reconcile(asl: Arc<AlexaSkillLink>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&asl, &ctx).await;
    ctx.metrics.reconciled(started.elapsed());
    if result.is_ok()
        && let Ok(mut f) = ctx.failures.lock()
    {
        f.remove(&key(&asl));
    }
    result
}

async fn reconcile_inner(asl: &AlexaSkillLink, ctx: &Context) -> Result<Action, Error> {
    // Children carry owner references: garbage collection removes them.
    // With deletionPolicy Delete and DynamoDB, the link's items go first.
    if asl.metadata.deletion_timestamp.is_some() {
        if deletion::has_finalizer(asl) {
            return deletion::finalize(asl, ctx).await;
        }
        forget(ctx, asl);
        return Ok(Action::await_change());
    }
    deletion::sync_finalizer(asl, ctx).await?;
    let asl = &with_current_status(ctx, asl);
    let resolved = resolve(&ctx.client, asl).await.map_err(Error::Resolve)?;
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    // Between validate and build: the skill's account linking in Alexa,
    // whose redirect URLs the published client must allow.
    let mut skill = None;
    let validated = match validate(asl, &resolved) {
        Ok(mut link) => {
            if let Some(wanted) = &link.alexa_skill {
                let previous = asl.status.as_ref().and_then(|s| s.alexa_skill.as_ref());
                let outcome = smapi::sync::sync(
                    &ctx.smapi,
                    &key(asl),
                    wanted,
                    &resolved,
                    previous,
                    now.clone(),
                )
                .await;
                link.alexa_redirect_urls = outcome.status.redirect_urls.clone();
                if let Some(n) = &outcome.notice {
                    publish(
                        ctx,
                        asl,
                        EventType::Warning,
                        n.reason,
                        n.note.clone(),
                        "ConfigureSkill",
                    )
                    .await;
                }
                skill = Some(outcome);
            }
            Ok(link)
        }
        Err(invalid) => Err(invalid),
    };
    let built =
        validated.map(|link| build::children(&link, ctx.caps, &ctx.server_image, &mut random_key));
    let (mut desired, action) = match built {
        Err(invalid) => {
            ctx.metrics
                .invalid
                .get_or_create(&InvalidLabels {
                    reason: invalid.reason.to_owned(),
                })
                .inc();
            let s = status::desired(asl, &Outcome::Invalid(&invalid), now.clone());
            // No requeue: a spec or Secret change triggers the next reconcile.
            // cert-manager's CRDs are not watched, so look again slowly.
            let action = if invalid.reason == reasons::CERT_MANAGER_MISSING {
                Action::requeue(ctx.resync)
            } else {
                Action::await_change()
            };
            (s, action)
        }
        Ok(children) => {
            let deployment = apply_all(
                &ctx.client,
                &ctx.metrics,
                &ctx.children,
                ctx.caps,
                asl,
                &children,
            )
            .await?;
            let alexa = alexa_compat::assess(&asl.spec, &resolved, &[], now.0.as_second());
            let s = status::desired(
                asl,
                &Outcome::Applied {
                    deployment: &deployment,
                    notes: &children.notes,
                    alexa: &alexa,
                },
                now.clone(),
            );
            let retry = skill
                .as_ref()
                .and_then(|o| o.retry_in)
                .unwrap_or(ctx.resync);
            (s, Action::requeue(retry.min(ctx.resync)))
        }
    };
    status::with_skill(&mut desired, asl, skill.as_ref(), &now);
    write_status(asl, ctx, &desired).await?;
    Ok(action)
}

/// Writes the status if it changed, and publishes an event when the Ready
/// condition flipped or changed its reason.
pub(crate) async fn write_status(
    asl: &AlexaSkillLink,
    ctx: &Context,
    desired: &AlexaSkillLinkStatus,
) -> Result<(), Error> {
    let current = asl.status.as_ref();
    if current == Some(desired) {
        return Ok(());
    }
    let api: Api<AlexaSkillLink> =
        Api::namespaced(ctx.client.clone(), &asl.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": AlexaSkillLink::api_version(&()),
        "kind": AlexaSkillLink::kind(&()),
        "status": desired,
    });
    api.patch_status(
        &asl.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::Status)?;
    ctx.metrics.api_write("AlexaSkillLink", "status");
    if let Ok(mut w) = ctx.written.lock() {
        w.insert(
            key(asl),
            Written {
                resource_version: asl.metadata.resource_version.clone(),
                status: desired.clone(),
            },
        );
    }
    if announces(ready_of(current), ready_of(Some(desired)))
        && let Some(ready) = desired.conditions.iter().find(|c| c.type_ == "Ready")
    {
        let normal = [
            reasons::DEPLOYMENT_NOT_AVAILABLE,
            reasons::STOPPING_SERVERS,
            reasons::PURGING_ITEMS,
        ];
        let type_ = if ready.status == "True" || normal.contains(&ready.reason.as_str()) {
            EventType::Normal
        } else {
            EventType::Warning
        };
        publish(
            ctx,
            asl,
            type_,
            &ready.reason,
            ready.message.clone(),
            "Reconcile",
        )
        .await;
    }
    let skill = status::skill_configured_of(Some(desired));
    if skill.is_some()
        && skill != status::skill_configured_of(current)
        && let Some(c) = desired
            .conditions
            .iter()
            .find(|c| c.type_ == smapi::SKILL_CONFIGURED)
    {
        let type_ = if c.status == "True" {
            EventType::Normal
        } else {
            EventType::Warning
        };
        publish(
            ctx,
            asl,
            type_,
            &c.reason,
            c.message.clone(),
            "ConfigureSkill",
        )
        .await;
    }
    Ok(())
}

/// Publishes an event about `asl`. An event is a courtesy: failing to
/// publish it is logged and fails nothing.
async fn publish(
    ctx: &Context,
    asl: &AlexaSkillLink,
    type_: EventType,
    reason: &str,
    note: String,
    action: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &asl.object_ref(&())).await {
        tracing::warn!(error = %e, "failed to publish event");
    } else {
        ctx.metrics.api_write("Event", "create");
    }
}

/// Whether a change of the Ready condition's (status, reason) is worth an
/// event: every flip and every new reason, except a new link starting to
/// wait for its pods. That first status is no news (the Deployment's own
/// events tell the rollout), and at a thousand links it would be a
/// thousand writes; a new link that is invalid still gets its Warning.
pub fn announces(before: Option<(String, String)>, after: Option<(String, String)>) -> bool {
    match (&before, &after) {
        _ if before == after => false,
        (None, Some((status, reason))) => {
            !(status == "False" && reason == reasons::DEPLOYMENT_NOT_AVAILABLE)
        }
        _ => true,
    }
}

/// The resource with its status as it is now: the one we last wrote, when
/// the cache still shows the version we computed that write from (so the
/// next status keeps its transition times and no event repeats).
pub(crate) fn with_current_status<'a>(
    ctx: &Context,
    asl: &'a AlexaSkillLink,
) -> Cow<'a, AlexaSkillLink> {
    let remembered = ctx
        .written
        .lock()
        .ok()
        .and_then(|w| w.get(&key(asl)).cloned());
    match remembered {
        Some(w) if w.resource_version == asl.metadata.resource_version => {
            let mut fresh = asl.clone();
            fresh.status = Some(w.status);
            Cow::Owned(fresh)
        }
        _ => Cow::Borrowed(asl),
    }
}

/// Drops what is remembered about a resource being deleted.
pub(crate) fn forget(ctx: &Context, asl: &AlexaSkillLink) {
    let k = key(asl);
    if let Ok(mut w) = ctx.written.lock() {
        w.remove(&k);
    }
    ctx.smapi.forget(&k);
}

/// Backoff after a failed reconcile: 2 s doubling to 5 minutes, per object.
pub fn backoff(failures: u32) -> Duration {
    let secs = 2u64.saturating_pow(failures.min(16) + 1).min(300);
    Duration::from_secs(secs)
}

/// The controller's error policy: count the error, back off per object.
pub fn error_policy(asl: Arc<AlexaSkillLink>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.error(error.stage());
    let n = match ctx.failures.lock() {
        Ok(mut f) => {
            let n = f.entry(key(&asl)).or_insert(0);
            *n += 1;
            *n - 1
        }
        Err(_) => 0,
    };
    let delay = backoff(n);
    tracing::warn!(resource = %key(&asl), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// What the controller watches: a resource that failed to deserialize (say,
/// written against a newer CRD) arrives as an error of its own instead of
/// failing the whole list and stalling every other resource.
pub type Guarded = DeserializeGuard<AlexaSkillLink>;

/// Reconciles a guarded resource: a readable one normally, an unreadable
/// one by a Warning event and no requeue.
pub async fn reconcile_guarded(obj: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    match &obj.0 {
        Ok(asl) => reconcile(Arc::new(asl.clone()), ctx).await,
        Err(invalid) => {
            ctx.metrics
                .invalid
                .get_or_create(&InvalidLabels {
                    reason: reasons::UNREADABLE_RESOURCE.to_owned(),
                })
                .inc();
            let m = &invalid.metadata;
            tracing::warn!(namespace = ?m.namespace, name = ?m.name, error = %invalid.error, "cannot read resource");
            let reference = ObjectReference {
                api_version: Some(AlexaSkillLink::api_version(&()).into_owned()),
                kind: Some(AlexaSkillLink::kind(&()).into_owned()),
                name: m.name.clone(),
                namespace: m.namespace.clone(),
                uid: m.uid.clone(),
                ..ObjectReference::default()
            };
            let event = Event {
                type_: EventType::Warning,
                reason: reasons::UNREADABLE_RESOURCE.into(),
                note: Some(format!(
                    "The operator cannot read this resource ({}); is the operator older than the CRD?",
                    invalid.error
                )),
                action: "Reconcile".into(),
                secondary: None,
            };
            if let Err(e) = ctx.recorder.publish(&event, &reference).await {
                tracing::warn!(error = %e, "failed to publish event");
            }
            Ok(Action::await_change())
        }
    }
}

/// [`error_policy`] for guarded resources.
pub fn error_policy_guarded(obj: Arc<Guarded>, error: &Error, ctx: Arc<Context>) -> Action {
    match &obj.0 {
        Ok(asl) => error_policy(Arc::new(asl.clone()), error, ctx),
        Err(_) => Action::await_change(),
    }
}

/// The resources in `namespace` for which `refers` holds.
fn links_where(
    store: &Store<Guarded>,
    namespace: &str,
    refers: impl Fn(&AlexaSkillLink) -> bool,
) -> Vec<ObjectRef<Guarded>> {
    store
        .state()
        .into_iter()
        .filter(|g| {
            g.0.as_ref()
                .is_ok_and(|asl| asl.namespace().as_deref() == Some(namespace) && refers(asl))
        })
        .map(|g| ObjectRef::from_obj(g.as_ref()))
        .collect()
}

/// The resources whose references include Secret `name` in `namespace`.
pub fn referencing(store: &Store<Guarded>, namespace: &str, name: &str) -> Vec<ObjectRef<Guarded>> {
    links_where(store, namespace, |asl| {
        let names = Names::new(&asl.name_any());
        name == names.keys
            || name == names.tls
            || referenced_secrets(&asl.spec).contains_key(name)
            || asl
                .spec
                .alexa_skill
                .as_ref()
                .is_some_and(|s| s.credentials_secret_name == name)
    })
}

/// The resources whose branding reads ConfigMap `name` in `namespace`.
pub fn referencing_config_map(
    store: &Store<Guarded>,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<Guarded>> {
    links_where(store, namespace, |asl| {
        referenced_config_maps(&asl.spec).contains(name)
    })
}

/// The watch of one child kind (ours only, by label), feeding the child
/// cache before it triggers the owners' reconciles.
fn owned<K>(
    ctx: &Arc<Context>,
    client: &Client,
    namespace: &Option<String>,
    ours: &watcher::Config,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api = match namespace {
        Some(ns) => Api::<K>::namespaced(client.clone(), ns),
        None => Api::<K>::all(client.clone()),
    };
    let cache = ctx.clone();
    let echo = ctx.clone();
    watcher::watcher(api, ours.clone())
        .default_backoff()
        .inspect(move |e| {
            if let Ok(e) = e {
                cache.children.observe(&K::kind(&()), e);
            }
        })
        .touched_objects()
        // The echo of the operator's own apply triggers nothing: at a
        // thousand new links it was a second reconcile of each.
        .try_filter(move |o| futures::future::ready(!own_write(&echo, &K::kind(&()), o)))
}

/// Whether `o` is, as its watch delivers it, the version the operator
/// itself last wrote or read.
fn own_write<K: Resource>(ctx: &Context, kind: &str, o: &K) -> bool {
    let key = crate::child_cache::key(kind, &o.namespace().unwrap_or_default(), &o.name_any());
    o.resource_version()
        .is_some_and(|v| ctx.children.is_own_version(&key, &v))
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let ours =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
    // The resources themselves: the cache sees every change, but only a
    // new generation (a spec change, a deletion) or new annotations or
    // labels (`kubectl annotate` to ask for a reconcile now) trigger one. A
    // status write, ours above all, changes nothing to reconcile: without
    // the filter each one came back as a reconcile of a dozen reads.
    let (reader, writer) = kube::runtime::reflector::store::<Guarded>();
    let links = watcher::watcher(
        api::<Guarded>(&client, &namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(writer)
    .applied_objects()
    .predicate_filter(
        predicates::generation
            .combine(predicates::annotations)
            .combine(predicates::labels),
        Default::default(),
    );
    let controller = Controller::for_stream(links, reader);
    let store = controller.store();
    let mut controller = controller
        .with_config(
            kube::runtime::controller::Config::default()
                .concurrency(ctx.concurrency)
                // A new link's children announce themselves one by one as
                // they are applied: gathered, they cost one more reconcile
                // instead of several.
                .debounce(DEBOUNCE),
        )
        .owns_stream(owned::<Deployment>(&ctx, &client, &namespace, &ours))
        .owns_stream(owned::<Service>(&ctx, &client, &namespace, &ours))
        .owns_stream(owned::<ServiceAccount>(&ctx, &client, &namespace, &ours))
        .owns_stream(owned::<ConfigMap>(&ctx, &client, &namespace, &ours))
        .owns_stream(owned::<PersistentVolumeClaim>(
            &ctx, &client, &namespace, &ours,
        ))
        .owns_stream(owned::<Ingress>(&ctx, &client, &namespace, &ours))
        .owns_stream(owned::<NetworkPolicy>(&ctx, &client, &namespace, &ours));
    if ctx.caps.pdb_v1 {
        controller = controller.owns_stream(owned::<PodDisruptionBudget>(
            &ctx, &client, &namespace, &ours,
        ));
    }
    // Referenced Secrets: metadata only, so Secret values are never cached.
    // (The generated `<name>-keys` Secrets are among them: the same watch
    // feeds the child cache.)
    let cache = ctx.clone();
    let secrets = watcher::watcher(
        api::<PartialObjectMeta<Secret>>(&client, &namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .inspect(move |e| {
        if let Ok(e) = e {
            cache.children.observe("Secret", e);
        }
    })
    .touched_objects()
    .try_filter({
        let echo = ctx.clone();
        move |s| futures::future::ready(!own_write(&echo, "Secret", s))
    });
    // Referenced ConfigMaps (the branding's logo, style sheet, templates):
    // metadata only too; a change re-reconciles the links that read them.
    let config_maps = watcher::watcher(
        api::<PartialObjectMeta<ConfigMap>>(&client, &namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects()
    .try_filter({
        let echo = ctx.clone();
        move |c| futures::future::ready(!own_write(&echo, "ConfigMap", c))
    });
    let config_map_store = store.clone();
    controller
        .watches_stream(secrets, move |secret: PartialObjectMeta<Secret>| {
            let ns = secret.namespace().unwrap_or_default();
            referencing(&store, &ns, &secret.name_any())
        })
        .watches_stream(config_maps, move |c: PartialObjectMeta<ConfigMap>| {
            let ns = c.namespace().unwrap_or_default();
            referencing_config_map(&config_map_store, &ns, &c.name_any())
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile_guarded, error_policy_guarded, ctx)
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(resource = %obj, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile not run"),
            }
        })
        .await;
}
