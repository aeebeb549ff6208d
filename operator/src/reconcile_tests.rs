//! Reconcile scenarios against kube's tower-test mock client: a small
//! in-memory API server answers GET, server-side-apply PATCH, DELETE and
//! event POSTs, and every test asserts the exact calls a scenario makes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use tower_test::mock;

use crate::build::Capabilities;
use crate::build::testing::fixture;
use crate::conditions::reasons;
use crate::controller::{Context, backoff, error_policy, reconcile};
use crate::crd::AlexaSkillLink;
use crate::metrics::Metrics;

const NS: &str = "/api/v1/namespaces/skills";
const APPS: &str = "/apis/apps/v1/namespaces/skills";
const NET: &str = "/apis/networking.k8s.io/v1/namespaces/skills";
const CERTS: &str = "/apis/cert-manager.io/v1/namespaces/skills/certificates";
const PDBS: &str = "/apis/policy/v1/namespaces/skills/poddisruptionbudgets";
const ASL: &str = "/apis/skilllink.dev/v1alpha1/namespaces/skills/alexaskilllinks";

/// The fake API server's state: objects by path, the calls seen, and
/// paths whose writes fail with a 500.
#[derive(Default)]
struct FakeApi {
    objects: BTreeMap<String, Value>,
    calls: Vec<String>,
    failing: Vec<String>,
    /// The last resourceVersion handed out (every write gets a new one).
    version: u64,
    /// The body of the last PATCH of each path.
    patches: BTreeMap<String, Value>,
}

fn status(code: StatusCode, reason: &str) -> Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": reason, "reason": reason, "code": code.as_u16(),
    });
    Response::builder()
        .status(code)
        .body(Body::from(serde_json::to_vec(&body).expect("json")))
        .expect("response")
}

fn ok(v: &Value) -> Response<Body> {
    Response::new(Body::from(serde_json::to_vec(v).expect("json")))
}

async fn serve(mut handle: mock::Handle<Request<Body>, Response<Body>>, api: Arc<Mutex<FakeApi>>) {
    while let Some((req, send)) = handle.next_request().await {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let body = req.into_body().collect_bytes().await.expect("body");
        let mut api = api.lock().expect("lock");
        api.calls.push(format!("{method} {path}"));
        let response = if method != Method::GET && api.failing.contains(&path) {
            status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
        } else if method == Method::GET {
            match api.objects.get(&path) {
                Some(v) => ok(v),
                None => status(StatusCode::NOT_FOUND, "NotFound"),
            }
        } else if method == Method::POST && path.ends_with("/jobs") {
            // A created object is readable at its name.
            let v: Value = serde_json::from_slice(&body).expect("json body");
            let name = v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            api.objects.insert(format!("{path}/{name}"), v.clone());
            ok(&v)
        } else if method == Method::PATCH || method == Method::POST {
            let v: Value = serde_json::from_slice(&body).expect("json body");
            if let Some(main) = path.strip_suffix("/status") {
                // The status subresource answers with the whole object.
                let mut whole = api.objects.get(main).cloned().unwrap_or_default();
                whole["status"] = v["status"].clone();
                api.objects.insert(main.to_owned(), whole.clone());
                ok(&whole)
            } else if path.starts_with(ASL) && api.objects.contains_key(&path) {
                // A merge patch of the resource's metadata (its finalizers).
                api.patches.insert(path.clone(), v.clone());
                let mut whole = api.objects[&path].clone();
                for (k, value) in v["metadata"].as_object().into_iter().flatten() {
                    whole["metadata"][k] = value.clone();
                }
                api.objects.insert(path.clone(), whole.clone());
                ok(&whole)
            } else {
                let mut v = v;
                if method == Method::PATCH {
                    api.version += 1;
                    v["metadata"]["resourceVersion"] = json!(api.version.to_string());
                    api.objects.insert(path.clone(), v.clone());
                }
                ok(&v)
            }
        } else if method == Method::DELETE {
            api.objects.remove(&path);
            ok(&json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}))
        } else {
            status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed")
        };
        send.send_response(response);
    }
}

fn secret(data: &[(&str, &str)]) -> Value {
    use base64::Engine;
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data})
}

/// A fake API server holding the minimal fixture's Secrets.
fn fake_with_secrets() -> Arc<Mutex<FakeApi>> {
    let mut api = FakeApi::default();
    api.objects.insert(
        format!("{NS}/secrets/minimal-alexa-client"),
        secret(&[("secret", "s3cret")]),
    );
    api.objects.insert(
        format!("{NS}/secrets/minimal-users"),
        secret(&[("users.yaml", "users: []")]),
    );
    api.objects.insert(
        format!("{ASL}/minimal"),
        serde_json::to_value(fixture("minimal.yaml")).expect("json"),
    );
    Arc::new(Mutex::new(api))
}

fn context(api: &Arc<Mutex<FakeApi>>) -> (Arc<Context>, tokio::task::JoinHandle<()>) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(serve(handle, api.clone()));
    let client = Client::new(service, "default");
    let ctx = Context::new(
        client,
        Arc::new(Metrics::default()),
        Capabilities { pdb_v1: true },
    );
    (Arc::new(ctx), server)
}

fn calls(api: &Arc<Mutex<FakeApi>>) -> Vec<String> {
    std::mem::take(&mut api.lock().expect("lock").calls)
}

/// Every read and write a first reconcile of the minimal fixture makes: no
/// event, since a new link waiting for its pods is no news.
fn first_reconcile_calls() -> Vec<String> {
    [
        format!("GET {NS}/secrets/minimal-alexa-client"),
        format!("GET {NS}/secrets/minimal-users"),
        format!("GET {NS}/secrets/minimal-keys"),
        format!("GET {NS}/serviceaccounts/minimal"),
        format!("PATCH {NS}/serviceaccounts/minimal"),
        format!("GET {NS}/secrets/minimal-keys"),
        format!("PATCH {NS}/secrets/minimal-keys"),
        format!("GET {NS}/configmaps/minimal-config"),
        format!("PATCH {NS}/configmaps/minimal-config"),
        format!("GET {NS}/persistentvolumeclaims/minimal-data"),
        format!("PATCH {NS}/persistentvolumeclaims/minimal-data"),
        format!("GET {CERTS}/minimal-tls"),
        format!("GET {APPS}/deployments/minimal"),
        format!("PATCH {APPS}/deployments/minimal"),
        format!("GET {NS}/services/minimal"),
        format!("PATCH {NS}/services/minimal"),
        format!("GET {PDBS}/minimal"),
        format!("GET {NET}/ingresses/minimal"),
        format!("PATCH {NET}/ingresses/minimal"),
        format!("GET {NET}/networkpolicies/minimal"),
        format!("PATCH {ASL}/minimal/status"),
    ]
    .to_vec()
}

/// The calls in a stable order, for comparing calls made concurrently.
fn sorted(calls: &[String]) -> Vec<String> {
    let mut c = calls.to_vec();
    c.sort();
    c
}

/// Runs one reconcile, capturing the status it wrote into the fake.
async fn run(
    asl: &AlexaSkillLink,
    api: &Arc<Mutex<FakeApi>>,
) -> Result<Action, crate::controller::Error> {
    let (ctx, server) = context(api);
    let result = reconcile(Arc::new(asl.clone()), ctx).await;
    server.abort();
    result
}

#[tokio::test]
async fn first_reconcile_applies_every_child_then_writes_status_once() {
    let api = fake_with_secrets();
    let asl = fixture("minimal.yaml");
    let action = run(&asl, &api).await.expect("reconciles");
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let seen = calls(&api);
    assert_eq!(sorted(&seen), sorted(&first_reconcile_calls()));
    // The children of one wave go concurrently; the order that matters:
    // what the pods mount before the pods, the status last.
    let at = |call: &str| {
        seen.iter()
            .position(|c| c == call)
            .unwrap_or_else(|| panic!("{call} in {seen:?}"))
    };
    let deployment = at(&format!("PATCH {APPS}/deployments/minimal"));
    for mounted in [
        format!("PATCH {NS}/serviceaccounts/minimal"),
        format!("PATCH {NS}/secrets/minimal-keys"),
        format!("PATCH {NS}/configmaps/minimal-config"),
        format!("PATCH {NS}/persistentvolumeclaims/minimal-data"),
    ] {
        assert!(
            at(&mounted) < deployment,
            "{mounted} before the Deployment: {seen:?}"
        );
    }
    assert_eq!(seen.last(), Some(&format!("PATCH {ASL}/minimal/status")));

    let objects = api.lock().expect("lock").objects.clone();
    let deployment = &objects[&format!("{APPS}/deployments/minimal")];
    assert_eq!(
        deployment["metadata"]["ownerReferences"][0]["kind"],
        "AlexaSkillLink"
    );
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "alexa-link-operator"
    );
    assert!(deployment["metadata"]["annotations"]["skilllink.dev/applied-hash"].is_string());
}

#[tokio::test]
async fn unchanged_resource_is_reconciled_with_reads_only() {
    let api = fake_with_secrets();
    let mut asl = fixture("minimal.yaml");
    let (ctx, server) = context(&api);
    reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("first");
    server.abort();
    calls(&api);
    // What the first reconcile wrote is now the resource's status.
    let (ctx2, server2) = context(&api);
    let stored = api.lock().expect("lock").objects[&format!("{ASL}/minimal")].clone();
    let status_patch = serde_json::from_value(stored["status"].clone()).expect("status");
    asl.status = Some(status_patch);
    reconcile(Arc::new(asl.clone()), ctx2.clone())
        .await
        .expect("second");
    server2.abort();
    let seen = calls(&api);
    let writes: Vec<&String> = seen.iter().filter(|c| !c.starts_with("GET ")).collect();
    assert!(writes.is_empty(), "no-op reconcile wrote: {writes:?}");
    let expected_reads: Vec<String> = first_reconcile_calls()
        .into_iter()
        .filter(|c| c.starts_with("GET "))
        .collect();
    assert_eq!(sorted(&seen), sorted(&expected_reads));
    assert_eq!(ctx2.metrics.total_writes(), 0);
    assert!(ctx.metrics.total_writes() >= 8);
}

#[tokio::test]
async fn missing_secret_reports_ready_false_without_requeue_or_children() {
    let api = fake_with_secrets();
    api.lock()
        .expect("lock")
        .objects
        .remove(&format!("{NS}/secrets/minimal-users"));
    let asl = fixture("minimal.yaml");
    let action = run(&asl, &api).await.expect("reconciles");
    assert_eq!(action, Action::await_change());
    assert_eq!(
        calls(&api),
        [
            format!("GET {NS}/secrets/minimal-alexa-client"),
            format!("GET {NS}/secrets/minimal-users"),
            format!("GET {NS}/secrets/minimal-keys"),
            format!("PATCH {ASL}/minimal/status"),
            "POST /apis/events.k8s.io/v1/namespaces/skills/events".to_owned(),
        ]
    );
}

#[tokio::test]
async fn failing_write_is_an_error_with_growing_per_object_backoff() {
    let api = fake_with_secrets();
    api.lock()
        .expect("lock")
        .failing
        .push(format!("{APPS}/deployments/minimal"));
    let asl = Arc::new(fixture("minimal.yaml"));
    let (ctx, server) = context(&api);
    let err = reconcile(asl.clone(), ctx.clone())
        .await
        .expect_err("fails");
    assert_eq!(err.stage(), "apply");
    assert!(
        err.to_string()
            .starts_with("failed to apply Deployment \"minimal\""),
        "{err}"
    );
    // The failing write was tried; nothing that comes after the children
    // happened: no status, no event.
    let seen = calls(&api);
    assert!(seen.contains(&format!("PATCH {APPS}/deployments/minimal")));
    assert!(
        !seen
            .iter()
            .any(|c| c.contains("/status") || c.contains("/events")),
        "{seen:?}"
    );
    assert_eq!(
        error_policy(asl.clone(), &err, ctx.clone()),
        Action::requeue(backoff(0))
    );
    assert_eq!(
        error_policy(asl.clone(), &err, ctx.clone()),
        Action::requeue(backoff(1))
    );
    assert!(backoff(1) > backoff(0));
    assert_eq!(backoff(30), Duration::from_secs(300));
    // Success resets the backoff.
    api.lock().expect("lock").failing.clear();
    reconcile(asl.clone(), ctx.clone()).await.expect("recovers");
    assert_eq!(error_policy(asl, &err, ctx), Action::requeue(backoff(0)));
    server.abort();
}

#[tokio::test]
async fn first_reconcile_reports_endpoints_and_not_ready_until_available() {
    let api = fake_with_secrets();
    run(&fixture("minimal.yaml"), &api)
        .await
        .expect("reconciles");
    let stored = api.lock().expect("lock").objects[&format!("{ASL}/minimal")].clone();
    let status: crate::crd::AlexaSkillLinkStatus =
        serde_json::from_value(stored["status"].clone()).expect("status");
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "DeploymentNotAvailable")
    );
    assert_eq!(status.observed_generation, Some(1));
    let e = status.endpoints.expect("endpoints");
    assert_eq!(e.authorization, "https://link.example.com/oauth/authorize");
    assert_eq!(
        e.reciprocal,
        "https://link.example.com/api/reciprocal/authorize"
    );
}

#[tokio::test]
async fn unwanted_children_of_ours_are_deleted_and_others_left_alone() {
    let api = fake_with_secrets();
    let ours = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "minimal", "labels": {
            "app.kubernetes.io/managed-by": "alexa-link-operator",
            "app.kubernetes.io/instance": "minimal"}},
    });
    let foreign = json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "minimal", "labels": {"team": "other"}},
    });
    {
        let mut a = api.lock().expect("lock");
        a.objects
            .insert(format!("{NET}/networkpolicies/minimal"), ours);
        a.objects.insert(format!("{PDBS}/minimal"), foreign);
    }
    run(&fixture("minimal.yaml"), &api)
        .await
        .expect("reconciles");
    let seen = calls(&api);
    assert!(
        seen.contains(&format!("DELETE {NET}/networkpolicies/minimal")),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|c| c.starts_with("DELETE") && c.contains("poddisruptionbudgets"))
    );
    assert!(
        api.lock()
            .expect("lock")
            .objects
            .contains_key(&format!("{PDBS}/minimal"))
    );
}

#[tokio::test]
async fn unreadable_resource_gets_a_warning_event_and_no_requeue() {
    use crate::controller::{Guarded, reconcile_guarded};
    let mut v = serde_json::to_value(fixture("minimal.yaml")).expect("json");
    // What a newer CRD might allow and this operator cannot read.
    v["spec"]["clients"][0]["pkce"] = json!("S512Only");
    let guarded: Guarded = serde_json::from_value(v).expect("the guard always deserializes");
    assert!(guarded.0.is_err());
    let api = fake_with_secrets();
    let (ctx, server) = context(&api);
    let action = reconcile_guarded(Arc::new(guarded), ctx.clone())
        .await
        .expect("handled");
    server.abort();
    assert_eq!(action, Action::await_change());
    assert_eq!(
        calls(&api),
        ["POST /apis/events.k8s.io/v1/namespaces/skills/events".to_owned()]
    );
}

#[tokio::test]
async fn a_stale_cache_does_not_write_the_same_status_or_event_twice() {
    let api = fake_with_secrets();
    let asl = Arc::new(fixture("minimal.yaml"));
    let (ctx, server) = context(&api);
    reconcile(asl.clone(), ctx.clone()).await.expect("first");
    calls(&api);
    let after_first = ctx.metrics.total_writes();
    // The controller's cache has not seen our status write yet: the same
    // object (same resourceVersion, no status) is reconciled again.
    reconcile(asl.clone(), ctx.clone()).await.expect("second");
    server.abort();
    let writes: Vec<String> = calls(&api)
        .into_iter()
        .filter(|c| !c.starts_with("GET "))
        .collect();
    assert!(writes.is_empty(), "stale cache caused writes: {writes:?}");
    assert_eq!(ctx.metrics.total_writes(), after_first);
}

#[test]
fn events_mark_flips_and_problems_but_not_a_new_link_waiting_for_pods() {
    use crate::controller::announces;
    let r = |s: &str, reason: &str| Some((s.to_owned(), reason.to_owned()));
    let waiting = r("False", reasons::DEPLOYMENT_NOT_AVAILABLE);
    assert!(!announces(None, waiting.clone()), "a new link: no event");
    assert!(
        announces(None, r("False", reasons::SECRET_MISSING)),
        "a new invalid link"
    );
    assert!(
        announces(waiting.clone(), r("True", reasons::AVAILABLE)),
        "first Ready"
    );
    assert!(
        announces(r("True", reasons::AVAILABLE), waiting.clone()),
        "lost its pods"
    );
    assert!(!announces(waiting.clone(), waiting), "no change");
}

/// What the children's watches would deliver: every child the fake holds,
/// and every watched kind listed.
fn watches_show(ctx: &Context, api: &Arc<Mutex<FakeApi>>) {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{
        ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
    };
    use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use kube::Resource;
    use kube::runtime::watcher::Event;
    fn show<K: Resource<DynamicType = ()> + serde::de::DeserializeOwned>(
        ctx: &Context,
        objects: &BTreeMap<String, Value>,
        path: &str,
    ) {
        let kind = K::kind(&());
        ctx.children.observe::<K>(&kind, &Event::Init);
        for (p, v) in objects.range(path.to_owned()..) {
            if !p.starts_with(path) {
                break;
            }
            let o: K = serde_json::from_value(v.clone()).expect("child");
            ctx.children.observe(&kind, &Event::InitApply(o));
        }
        ctx.children.observe::<K>(&kind, &Event::InitDone);
    }
    let objects = api.lock().expect("lock").objects.clone();
    show::<ServiceAccount>(ctx, &objects, &format!("{NS}/serviceaccounts/"));
    show::<Secret>(ctx, &objects, &format!("{NS}/secrets/"));
    show::<ConfigMap>(ctx, &objects, &format!("{NS}/configmaps/"));
    show::<PersistentVolumeClaim>(ctx, &objects, &format!("{NS}/persistentvolumeclaims/"));
    show::<Deployment>(ctx, &objects, &format!("{APPS}/deployments/"));
    show::<Service>(ctx, &objects, &format!("{NS}/services/"));
    show::<PodDisruptionBudget>(ctx, &objects, &format!("{PDBS}/"));
    show::<Ingress>(ctx, &objects, &format!("{NET}/ingresses/"));
    show::<NetworkPolicy>(ctx, &objects, &format!("{NET}/networkpolicies/"));
}

#[tokio::test]
async fn children_the_watches_show_unchanged_are_not_read_again() {
    let api = fake_with_secrets();
    let mut asl = fixture("minimal.yaml");
    let (ctx, server) = context(&api);
    reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("first");
    calls(&api);
    let stored = api.lock().expect("lock").objects[&format!("{ASL}/minimal")].clone();
    asl.status = Some(serde_json::from_value(stored["status"].clone()).expect("status"));
    watches_show(&ctx, &api);

    // Only the referenced Secrets, the Deployment (its status is the
    // link's) and the unwatched cert-manager kind are read.
    reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("second");
    assert_eq!(
        sorted(&calls(&api)),
        sorted(&[
            format!("GET {NS}/secrets/minimal-alexa-client"),
            format!("GET {NS}/secrets/minimal-users"),
            format!("GET {NS}/secrets/minimal-keys"),
            format!("GET {CERTS}/minimal-tls"),
            format!("GET {APPS}/deployments/minimal"),
        ])
    );

    // A child deleted by hand is seen by its watch and made again, without
    // a read first (its watch has listed and no longer shows it).
    api.lock()
        .expect("lock")
        .objects
        .remove(&format!("{NS}/configmaps/minimal-config"));
    watches_show(&ctx, &api);
    reconcile(Arc::new(asl), ctx.clone()).await.expect("third");
    server.abort();
    let seen = calls(&api);
    assert!(
        !seen.contains(&format!("GET {NS}/configmaps/minimal-config"))
            && seen.contains(&format!("PATCH {NS}/configmaps/minimal-config")),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|c| !c.starts_with("GET ")).count(),
        1,
        "only the ConfigMap is written: {seen:?}"
    );
}

/// `deletionPolicy: Delete` with DynamoDB: the finalizer is added, and a
/// deletion stops the servers, runs the purge Job, then releases the link.
#[tokio::test]
async fn delete_with_dynamodb_purges_the_links_items_before_the_link_goes() {
    use crate::deletion::FINALIZER;
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let mut asl = fixture("dynamodb.yaml");
    asl.spec.deletion_policy = crate::crd::DeletionPolicy::Delete;
    asl.metadata.resource_version = Some("7".into());
    api.lock().expect("lock").objects.insert(
        format!("{ASL}/shared"),
        serde_json::to_value(&asl).expect("json"),
    );
    let (ctx, server) = context(&api);

    // Not yet carrying the finalizer: the first write adds it, guarded by
    // the version read. (The Secrets are missing here: Ready=False, but the
    // finalizer is there before anything else.)
    reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("reconciles");
    let seen = calls(&api);
    assert_eq!(seen[0], format!("PATCH {ASL}/shared"), "{seen:?}");
    let patch = api.lock().expect("lock").patches[&format!("{ASL}/shared")].clone();
    assert_eq!(patch["metadata"]["finalizers"], json!([FINALIZER]));
    assert_eq!(patch["metadata"]["resourceVersion"], "7");

    // Deleted, with the Deployment still there: it goes first (foreground,
    // so it is gone only with its pods), and nothing else happens yet.
    asl.metadata.finalizers = Some(vec![FINALIZER.into()]);
    asl.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    api.lock().expect("lock").objects.insert(
        format!("{APPS}/deployments/shared"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shared"}}),
    );
    let action = reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("stops the servers");
    assert_eq!(action, Action::requeue(Duration::from_secs(3)));
    let seen = calls(&api);
    assert_eq!(
        seen[..3],
        [
            format!("GET {APPS}/deployments/shared"),
            format!("DELETE {APPS}/deployments/shared"),
            format!("PATCH {ASL}/shared/status"),
        ],
        "{seen:?}"
    );
    let status = api.lock().expect("lock").objects[&format!("{ASL}/shared")]["status"].clone();
    assert_eq!(status["conditions"][0]["reason"], reasons::STOPPING_SERVERS);

    // The Deployment is gone: the purge Job starts, as the link's
    // ServiceAccount with the link's config.
    let action = reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("starts the purge");
    assert_eq!(action, Action::requeue(Duration::from_secs(3)));
    let jobs = "/apis/batch/v1/namespaces/skills/jobs";
    let seen = calls(&api);
    assert_eq!(
        seen[..4],
        [
            format!("GET {APPS}/deployments/shared"),
            format!("GET {jobs}/shared-purge"),
            format!("POST {jobs}"),
            format!("PATCH {ASL}/shared/status"),
        ],
        "{seen:?}"
    );
    let job = api.lock().expect("lock").objects[&format!("{jobs}/shared-purge")].clone();
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["args"][2],
        "purge-items"
    );
    let status = api.lock().expect("lock").objects[&format!("{ASL}/shared")]["status"].clone();
    assert_eq!(status["conditions"][0]["reason"], reasons::PURGING_ITEMS);
    assert!(
        api.lock().expect("lock").objects[&format!("{ASL}/shared")]["metadata"]
            .get("finalizers")
            .is_none_or(|f| f == &json!([FINALIZER])),
        "the finalizer holds while the Job runs"
    );

    // The Job failed: it is replaced after a pause (the purge continues).
    api.lock()
        .expect("lock")
        .objects
        .get_mut(&format!("{jobs}/shared-purge"))
        .expect("job")["status"] = json!({"failed": 5, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
    let action = reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("replaces the Job");
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let seen = calls(&api);
    assert!(
        seen.contains(&format!("DELETE {jobs}/shared-purge")),
        "{seen:?}"
    );
    let status = api.lock().expect("lock").objects[&format!("{ASL}/shared")]["status"].clone();
    assert_eq!(status["conditions"][0]["reason"], reasons::PURGE_FAILED);
    assert!(
        seen.iter().any(|c| c.contains("/events")),
        "a Warning event for the failure: {seen:?}"
    );
    reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("a new Job");
    assert!(calls(&api).contains(&format!("POST {jobs}")));

    // The Job succeeded: an event, then the finalizer goes (and only it).
    asl.metadata.finalizers = Some(vec!["other.example/keep".into(), FINALIZER.into()]);
    api.lock()
        .expect("lock")
        .objects
        .get_mut(&format!("{jobs}/shared-purge"))
        .expect("job")["status"] = json!({"succeeded": 1});
    let action = reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("releases the link");
    assert_eq!(action, Action::await_change());
    let seen = calls(&api);
    assert_eq!(
        seen.last(),
        Some(&format!("PATCH {ASL}/shared")),
        "{seen:?}"
    );
    let patch = api.lock().expect("lock").objects[&format!("{ASL}/shared")].clone();
    assert_eq!(
        patch["metadata"]["finalizers"],
        json!(["other.example/keep"])
    );
    server.abort();
}

/// `Retain` (the default) with DynamoDB: no finalizer, nothing written for it.
#[tokio::test]
async fn retain_with_dynamodb_adds_no_finalizer() {
    let api = Arc::new(Mutex::new(FakeApi::default()));
    let asl = fixture("dynamodb.yaml");
    api.lock().expect("lock").objects.insert(
        format!("{ASL}/shared"),
        serde_json::to_value(&asl).expect("json"),
    );
    let (ctx, server) = context(&api);
    reconcile(Arc::new(asl), ctx).await.expect("reconciles");
    server.abort();
    let seen = calls(&api);
    assert!(!seen.contains(&format!("PATCH {ASL}/shared")), "{seen:?}");
}

/// A link with `spec.alexaSkill` against the SMAPI stand-in: the
/// credentials Secret is read after the referenced ones, SMAPI is called
/// before the children are built (its redirect URLs reach the config), and
/// a second reconcile with nothing changed neither calls SMAPI nor writes.
#[tokio::test]
async fn alexa_skill_is_configured_before_the_children_are_built() {
    use alexa_link_server::testing::smapi as standin;

    let smapi = standin::SmapiStandIn::start().await;
    let api = fake_with_secrets();
    api.lock().expect("lock").objects.insert(
        format!("{NS}/secrets/smapi-credentials"),
        secret(&[
            ("client-id", standin::SMAPI_CLIENT_ID),
            ("client-secret", standin::SMAPI_CLIENT_SECRET),
            ("refresh-token", standin::SMAPI_REFRESH_TOKEN),
        ]),
    );
    let mut asl = fixture("minimal.yaml");
    asl.spec.alexa_skill = Some(
        serde_yaml::from_str(&format!(
            "{{skillId: {}, credentialsSecretName: smapi-credentials}}",
            standin::SKILL_ID
        ))
        .expect("alexaSkill"),
    );
    // One SMAPI side for both reconciles, as in the operator: it remembers
    // when it last read the skill back.
    let shared = Arc::new(crate::smapi::sync::Smapi::new(
        crate::smapi::client::SmapiClient::new(
            crate::smapi::client::Endpoints {
                smapi: smapi.base_url.clone(),
                lwa_token: smapi.token_url.clone(),
            },
            None,
        )
        .expect("client"),
        Duration::from_secs(60),
    ));
    let context = |api: &Arc<Mutex<FakeApi>>| {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(serve(handle, api.clone()));
        let mut ctx = Context::new(
            Client::new(service, "default"),
            Arc::new(Metrics::default()),
            Capabilities { pdb_v1: true },
        );
        ctx.smapi = shared.clone();
        (Arc::new(ctx), server)
    };
    let (ctx, server) = context(&api);
    let action = reconcile(Arc::new(asl.clone()), ctx.clone())
        .await
        .expect("reconciles");
    assert_eq!(
        action,
        Action::requeue(Duration::from_secs(60)),
        "the next read-back"
    );
    let mut expected = first_reconcile_calls();
    expected.insert(3, format!("GET {NS}/secrets/smapi-credentials"));
    expected.push("POST /apis/events.k8s.io/v1/namespaces/skills/events".to_owned());
    // The children are applied concurrently (in waves): compare as sets,
    // then check what must come in order.
    let seen = calls(&api);
    assert_eq!(
        sorted(&seen),
        sorted(&expected),
        "a SkillConfigured event, no Ready event"
    );
    let position = |call: &str| seen.iter().position(|c| c == call).expect(call);
    let first_write = seen
        .iter()
        .position(|c| c.starts_with("PATCH"))
        .expect("a write");
    assert!(
        position(&format!("GET {NS}/secrets/smapi-credentials")) < first_write,
        "SMAPI's credentials are read before any child is built: {seen:?}"
    );
    assert_eq!(
        seen.last().map(String::as_str),
        Some("POST /apis/events.k8s.io/v1/namespaces/skills/events"),
        "the event comes last"
    );
    let methods: Vec<String> = smapi.received().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["PUT", "GET"]);

    let objects = api.lock().expect("lock").objects.clone();
    let config = objects[&format!("{NS}/configmaps/minimal-config")]["data"]["config.yaml"]
        .as_str()
        .expect("config")
        .to_owned();
    assert!(
        config.contains(&format!(
            "https://pitangui.amazon.com/api/skill/link/{}",
            standin::VENDOR_ID
        )),
        "{config}"
    );
    let status = &objects[&format!("{ASL}/minimal")]["status"];
    assert_eq!(status["alexaSkill"]["vendorId"], standin::VENDOR_ID);
    let skill = status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "SkillConfigured")
        .expect("SkillConfigured");
    assert_eq!(
        (skill["status"].as_str(), skill["reason"].as_str()),
        (Some("True"), Some("Configured"))
    );
    let text = serde_json::to_string(status).expect("json");
    assert!(!text.contains("s3cret") && !text.contains(standin::SMAPI_REFRESH_TOKEN));
    server.abort();

    // Nothing changed and the read-back is not due: reads only, no SMAPI call.
    asl.status = Some(serde_json::from_value(status.clone()).expect("status"));
    let before = smapi.received().len();
    let (ctx2, server2) = context(&api);
    reconcile(Arc::new(asl), ctx2.clone())
        .await
        .expect("second");
    server2.abort();
    assert_eq!(smapi.received().len(), before, "no SMAPI call");
    assert_eq!(ctx2.metrics.total_writes(), 0);
}
