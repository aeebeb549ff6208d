#!/usr/bin/env bash
# The Helm chart, the examples and the README's cluster quickstart, checked
# with real helm (../shared/tools/install-helm.sh), kubernetes-validate (pip)
# and a real kube-apiserver v1.20.2 (../shared/tools), started here on
# private ports in $K8S_WORK and stopped by PID, also on failure. The
# operator runs as a local process with the chart's ServiceAccount. No
# kubelet runs and no status is patched: what needs running pods (helm
# install --wait, helm test, Ready=True, the quickstart's end) is in
# tests/node/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=$(cd "$ROOT/../shared/tools" && pwd)
CHART=$ROOT/charts/alexa-link-operator
export K8S_WORK=${K8S_WORK:-/var/tmp/alexa-link-helm-e2e}
export K8S_PORT=${HELM_K8S_PORT:-28443} ETCD_PORT=${HELM_ETCD_PORT:-24379}
ADMIN=127.0.0.1:${HELM_OPERATOR_ADMIN_PORT:-28282}
TMP=$(mktemp -d)
OPERATOR_PID= STARTED=

cleanup() {
  local rc=$?
  [ -n "$OPERATOR_PID" ] && kill "$OPERATOR_PID" 2>/dev/null || true
  [ -n "$STARTED" ] && { "$TOOLS/stop-k8s-controlplane.sh" >/dev/null 2>&1 || true; }
  if [ $rc -ne 0 ] && [ -f "$TMP/operator.log" ]; then
    echo "--- operator log (tail)"; tail -30 "$TMP/operator.log"
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$ROOT/tests/lib/tap.sh"

"$TOOLS/install-helm.sh" >/dev/null
command -v kubernetes-validate >/dev/null || python3 -m pip install -q kubernetes-validate 2>/dev/null
command -v openssl >/dev/null || fail "openssl is needed (scripts/test installs it)"
NONDEFAULT=$ROOT/tests/helm/values-nondefault.yaml

# --- offline checks ----------------------------------------------------------
diff -u crds/alexaskilllinks.yaml "$CHART/crds/alexaskilllinks.yaml" \
  || fail "the chart's CRD differs from crds/alexaskilllinks.yaml: cp crds/alexaskilllinks.yaml $CHART/crds/"
ok "the chart's crds/ copy equals crds/alexaskilllinks.yaml"

helm lint --strict "$CHART" >/dev/null || { helm lint --strict "$CHART"; fail "helm lint (defaults)"; }
helm lint --strict "$CHART" -f "$NONDEFAULT" >/dev/null || { helm lint --strict "$CHART" -f "$NONDEFAULT"; fail "helm lint (non-default)"; }
ok "helm lint --strict with default and non-default values"

for bad in replicaCount=-1 replicaCount=two watch.scope=everywhere image.pullPolicy=Sometimes \
           leaderElection.leaseSeconds=1 adminPort=80 unknownKey=1 serviceMonitor.interval=soon \
           podDisruptionBudget.minAvailable=half leaderElection.enabled=maybe \
           replicaCount=2,leaderElection.enabled=false monitoring.prometheusRule.tokenP99Seconds=9 \
           monitoring.dashboards.labelValue='not a label' monitoring.prometheusRule.severity.lwa=page; do
  if helm template t "$CHART" --set "$bad" >/dev/null 2>"$TMP/err"; then fail "values.schema.json accepts $bad"; fi
  grep -q "values don't meet the specifications of the schema" "$TMP/err" || fail "$bad rejected, not by the schema: $(cat "$TMP/err")"
done
ok "values.schema.json rejects 14 bad values (two replicas without leader election among them)"

# Dashboards and alerts: off by default; rendered, parsed, schema-checked,
# promtool-checked, and every metric they query served (tests/helm/monitoring.sh).
if helm template t "$CHART" | grep -Eq '^kind: PrometheusRule|grafana_dashboard'; then fail "monitoring is on by default"; fi
tests/helm/monitoring.sh chart || fail "the chart's dashboards and alerts (tests/helm/monitoring.sh chart)"
ok "dashboards and alerts: off by default; JSON, PrometheusRule schema, promtool check rules, the server's metrics exist"

helm template alo "$CHART" -n alexa-link-system > "$TMP/default.yaml"
helm template alo "$CHART" -n alexa-link-system -f "$NONDEFAULT" > "$TMP/nondefault.yaml"
helm template alo "$CHART" -n alexa-link-system --include-crds > "$TMP/with-crds.yaml"
# The rendered manifests, checked by a small Python script.
python3 - "$TMP" "$ROOT/examples/operator-install.yaml" <<'PY'
import sys, yaml
tmp, install = sys.argv[1], sys.argv[2]
def docs(p): return [d for d in yaml.safe_load_all(open(p)) if d]
def one(ds, kind, name=None):
    m = [d for d in ds if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(m) == 1, f"{kind} {name}: {len(m)} found"
    return m[0]
def triples(rules):
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
# The chart adds update on /finalizers (for blockOwnerDeletion under
# OwnerReferencesPermissionEnforcement); everything else is the same.
want = triples(one(docs(install), "ClusterRole")["rules"]) | {("skilllink.dev", "alexaskilllinks/finalizers", "update")}
leases = {t for t in want if t[1] == "leases"}
d = docs(f"{tmp}/default.yaml")
# One replica (the default): no leader election, so no Lease permission.
got = triples(one(d, "ClusterRole")["rules"])
assert got == want - leases, f"chart RBAC differs from examples/operator-install.yaml: extra {got - want}, missing {want - leases - got}"
assert not [x for x in d if x["kind"] == "Role"], "a Role without leader election"
dep = one(d, "Deployment")
pod = dep["spec"]["template"]["spec"]; c = pod["containers"][0]
assert c["image"] == "ghcr.io/alexa-link/alexa-link:0.1.0", c["image"]
assert dep["spec"]["replicas"] == 1
assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
sc = c["securityContext"]
assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"], sc
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert "requests" in c["resources"] and "limits" in c["resources"]
assert "--leader-elect=false" in c["args"] and not any(a.startswith("--namespace") for a in c["args"]), c["args"]
# The servers it deploys run the chart's image, with its pull policy.
assert "--server-image=ghcr.io/alexa-link/alexa-link:0.1.0" in c["args"] and "--server-image-pull-policy=IfNotPresent" in c["args"], c["args"]
assert dep["spec"]["strategy"]["type"] == "Recreate", dep["spec"]
kinds = {x["kind"] for x in d}
assert not kinds & {"PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"}, kinds
# Non-default: namespace scope (Roles in `links`, no ClusterRole but the CRD reader), 3 replicas, extras.
n = docs(f"{tmp}/nondefault.yaml")
kinds = {x["kind"] for x in n}
assert {"PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"} <= kinds, kinds
crs = [x for x in n if x["kind"] == "ClusterRole"]
assert [x["metadata"]["name"] for x in crs] == ["alo-alexa-link-operator-crd-reader"], crs
assert triples(crs[0]["rules"]) == {("apiextensions.k8s.io", "customresourcedefinitions", "get")}
role = one(n, "Role", "alo-alexa-link-operator")
assert role["metadata"]["namespace"] == "links"
# Three replicas: leader election, with a Lease Role in the release namespace.
lease = one(n, "Role", "alo-alexa-link-operator-leader-election")
assert triples(role["rules"]) | triples(crs[0]["rules"]) | triples(lease["rules"]) == want
assert lease["metadata"]["namespace"] == "alexa-link-system"
assert any(r.get("resourceNames") == ["alo-alexa-link-operator"] and set(r["verbs"]) == {"get", "update"} for r in lease["rules"]), lease
dep = one(n, "Deployment"); c = dep["spec"]["template"]["spec"]["containers"][0]
assert dep["spec"]["replicas"] == 3 and "--namespace=links" in c["args"] and "--lease-seconds=20" in c["args"], c["args"]
assert "--leader-elect=true" in c["args"] and "--lease-name=alo-alexa-link-operator" in c["args"] and "strategy" not in dep["spec"], c["args"]
assert c["image"] == "registry.example.com/mirror/alexa-link:0.1.0-custom" and c["imagePullPolicy"] == "Always"
assert "--server-image=registry.example.com/mirror/alexa-link:0.1.0-custom" in c["args"] and "--server-image-pull-policy=Always" in c["args"], c["args"]
t = one(d, "Pod")
assert t["metadata"]["annotations"]["helm.sh/hook"] == "test", t["metadata"]
# No shell, no wget, no DNS assumed: our image's healthcheck, at the address
# the kubelet puts in the Service's environment variables.
tc = t["spec"]["containers"][0]
assert tc["command"] == ["/usr/local/bin/alexa-link-healthcheck",
    "http://$(ALO_ALEXA_LINK_OPERATOR_SERVICE_HOST):$(ALO_ALEXA_LINK_OPERATOR_SERVICE_PORT_ADMIN)/readyz"], t["spec"]
assert tc["image"] == "ghcr.io/alexa-link/alexa-link:0.1.0" and t["spec"]["enableServiceLinks"], t["spec"]
assert one(d, "Service")["spec"]["ports"][0]["protocol"] == "TCP"
w = docs(f"{tmp}/with-crds.yaml")
assert one(w, "CustomResourceDefinition")["metadata"]["name"] == "alexaskilllinks.skilllink.dev"
print("  rendered: RBAC equals examples/operator-install.yaml's (leases only with leader election); hardened pod; namespace scope uses Roles")
PY
ok "rendered manifests: RBAC matches examples/operator-install.yaml, leader election only above one replica, hardened Deployment, namespace mode"


# kubernetes-validate knows built-in kinds only: CRD-defined kinds are skipped, with a note.
validate() { # validate K8S_VERSION FILE
  local out="$TMP/split-$1" n=0
  rm -rf "$out"; mkdir -p "$out"
  python3 - "$2" "$out" <<'PY'
import sys, yaml
src, out = sys.argv[1], sys.argv[2]
for i, d in enumerate(x for x in yaml.safe_load_all(open(src)) if x):
    if d["kind"] in ("ServiceMonitor", "AlexaSkillLink"):
        print(f"  note: skipping {d['kind']}/{d['metadata']['name']}: a CRD-defined kind kubernetes-validate cannot know")
        continue
    yaml.safe_dump(d, open(f"{out}/{i:02d}-{d['kind']}.yaml", "w"))
PY
  n=$(ls "$out" | wc -l)
  kubernetes-validate --strict -k "$1" "$out"/*.yaml > "$TMP/kv.out" 2>&1 || { cat "$TMP/kv.out"; fail "kubernetes-validate $1 $(basename "$2")"; }
  echo "  kubernetes-validate $1: $n documents of $(basename "$2") valid"
}
for v in 1.28.0 1.32.0; do
  validate "$v" "$TMP/with-crds.yaml"
  validate "$v" "$TMP/nondefault.yaml"
done
ok "rendered manifests pass kubernetes-validate --strict for Kubernetes 1.28 and 1.32"

# --- against a real API server -------------------------------------------------
"$TOOLS/build-k8s-controlplane.sh" >/dev/null
STARTED=1
"$TOOLS/start-k8s-controlplane.sh" >/dev/null
export KUBECONFIG=$K8S_WORK/run/kubeconfig
wait_for 30 "API server" kubectl get --raw /readyz

# The CRD first (as helm install would), for the dry-run of resources in watch namespaces.
kubectl apply --validate=false -f "$CHART/crds/alexaskilllinks.yaml" >/dev/null
crd_established alexaskilllinks.skilllink.dev
kubectl create namespace alexa-link-system >/dev/null
kubectl create namespace links >/dev/null
helm template alo "$CHART" -n alexa-link-system | kubectl apply --dry-run=server -f - > "$TMP/dry.out" \
  || fail "dry-run (defaults): $(cat "$TMP/dry.out")"
# ServiceMonitor needs the Prometheus Operator's CRD, absent here; PDB is policy/v1beta1 on 1.20.
# --validate: helm reads the server's API versions (so the PDB is policy/v1beta1 here).
helm template alo "$CHART" -n alexa-link-system -f "$NONDEFAULT" --set serviceMonitor.enabled=false --validate \
  | kubectl apply --dry-run=server -f - > "$TMP/dry.out" || fail "dry-run (non-default): $(cat "$TMP/dry.out")"
grep -q "poddisruptionbudget.policy/alo-alexa-link-operator created (server dry run)" "$TMP/dry.out" || fail "no PDB: $(cat "$TMP/dry.out")"
ok "helm template | kubectl apply --dry-run=server (default and non-default values; serviceMonitor off: no Prometheus CRDs)"
kubectl delete crd alexaskilllinks.skilllink.dev >/dev/null
kubectl delete namespace links alexa-link-system --timeout=120s >/dev/null

# install, upgrade, test hook rendering, uninstall (no --wait: no pods run here)
kubectl create namespace alo-system >/dev/null
helm install alo "$CHART" -n alo-system > "$TMP/install.out" || fail "helm install: $(cat "$TMP/install.out")"
kubectl get crd alexaskilllinks.skilllink.dev >/dev/null || fail "helm install did not install the CRD"
kubectl -n alo-system get deployment,serviceaccount,service alo-alexa-link-operator >/dev/null
kubectl get clusterrole,clusterrolebinding alo-alexa-link-operator >/dev/null
if kubectl -n alo-system get role alo-alexa-link-operator-leader-election >/dev/null 2>&1; then fail "Lease Role with one replica"; fi
[ "$(kubectl -n alo-system get deployment alo-alexa-link-operator -o jsonpath='{.spec.replicas}')" = 1 ] || fail "replicas"
for want in "kubectl -n default apply -f examples/minimal-link.yaml" "kubectl -n default wait --for=condition=Ready asl/minimal" "kubectl -n default get asl -o wide"; do
  grep -qF -- "$want" "$TMP/install.out" || fail "NOTES.txt lacks '$want': $(cat "$TMP/install.out")"
done
ok "helm install: CRD, Deployment, ServiceAccount, Service, ClusterRole(Binding); NOTES print apply, wait, get asl -o wide"

kubectl create namespace links >/dev/null
helm upgrade alo "$CHART" -n alo-system --set replicaCount=2,watch.scope=namespace,watch.namespace=links,podDisruptionBudget.enabled=true,networkPolicy.enabled=true >/dev/null
[ "$(kubectl -n alo-system get deployment alo-alexa-link-operator -o jsonpath='{.spec.replicas}')" = 2 ] || fail "upgrade: replicas"
kubectl -n alo-system get deployment alo-alexa-link-operator -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q -- '--namespace=links' || fail "upgrade: args"
kubectl -n links get role,rolebinding alo-alexa-link-operator >/dev/null
if kubectl get clusterrole alo-alexa-link-operator >/dev/null 2>&1; then fail "upgrade kept the cluster-wide ClusterRole"; fi
kubectl -n alo-system get role,rolebinding alo-alexa-link-operator-leader-election >/dev/null
kubectl -n alo-system get deployment alo-alexa-link-operator -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q -- '--leader-elect=true' || fail "upgrade: leader election"
kubectl -n alo-system get poddisruptionbudget.v1beta1.policy,networkpolicy alo-alexa-link-operator >/dev/null
[ "$(helm -n alo-system history alo -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] || fail "history"
ok "helm upgrade with changed values: 2 replicas with leader election (Lease Role), namespace scope (Role in links, no ClusterRole), PDB (policy/v1beta1 on 1.20), NetworkPolicy"

helm uninstall alo -n alo-system >/dev/null
if kubectl -n alo-system get deployment alo-alexa-link-operator >/dev/null 2>&1; then fail "uninstall left the Deployment"; fi
kubectl get crd alexaskilllinks.skilllink.dev >/dev/null || fail "uninstall removed the CRD"
ok "helm uninstall removes the release and keeps the CRD"

# --- every Kubernetes file in examples/ applies (the CRD is installed) ----------
kubectl create namespace examples >/dev/null
for f in examples/*.yaml; do
  if ! grep -q '^apiVersion:' "$f"; then
    echo "  note: $f is not a Kubernetes manifest (server config or users file; server/tests/examples.rs checks it)"
    continue
  fi
  if grep -q '^  namespace:' "$f"; then ns=(); else ns=(-n examples); fi
  kubectl "${ns[@]}" apply -f "$f" > "$TMP/apply.out" 2>&1 || fail "kubectl apply -f $f: $(cat "$TMP/apply.out")"
  echo "  applied $f: $(wc -l < "$TMP/apply.out") objects"
done
[ "$(kubectl -n examples get asl -o name | wc -l)" -ge 4 ] || fail "examples: $(kubectl -n examples get asl)"
kubectl delete -f examples/operator-install.yaml --wait=false >/dev/null
kubectl delete namespace examples --wait=false >/dev/null
# The quickstart installs into alexa-link-system again: let the namespace controller finish.
kubectl wait --for=delete namespace/alexa-link-system --timeout=120s >/dev/null 2>&1 || true
kubectl get namespace alexa-link-system >/dev/null 2>&1 && fail "namespace alexa-link-system still terminating"
ok "every Kubernetes file in examples/ applies cleanly"

# --- the README's cluster quickstart, as it stands ---------------------------------
python3 - README.md "$TMP" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("<!-- quickstart:")
block = text[text.index("```sh\n", start) + 6:]
block = block[:block.index("\n```")]
# From the helm install on: the image steps before it need a node
# (tests/node/run.sh runs the whole block there).
start = block.index("\nhelm install ")
before, sep, after = block[start:].partition("kubectl -n alexa wait")
assert sep, "the quickstart has no kubectl wait"
open(f"{sys.argv[2]}/quickstart-1.sh", "w").write(before)
PY
(cd "$ROOT" && bash -euo pipefail "$TMP/quickstart-1.sh") > "$TMP/qs1.out" 2>&1 || fail "quickstart part 1: $(cat "$TMP/qs1.out")"
grep -q "alexaskilllink.skilllink.dev/minimal created" "$TMP/qs1.out" || fail "$(cat "$TMP/qs1.out")"
ok "README quickstart up to the apply: helm install, Secrets, AlexaSkillLink"

# No kubelet: the chart's Deployment never runs a pod. Run the operator
# locally instead, with the chart's ServiceAccount (its RBAC, nothing more).
kubectl -n alexa-link-system scale deployment alexa-link-operator --replicas=0 >/dev/null
wait_for 30 "operator token" bash -c "kubectl -n alexa-link-system get serviceaccount alexa-link-operator -o jsonpath='{.secrets[0].name}' | grep ."
token=$(kubectl -n alexa-link-system get secret "$(kubectl -n alexa-link-system get serviceaccount alexa-link-operator -o jsonpath='{.secrets[0].name}')" -o jsonpath='{.data.token}' | base64 -d)
python3 - "$KUBECONFIG" "$TMP/operator.kubeconfig" "$token" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
for u in c["users"]: u["user"] = {"token": sys.argv[3]}
for x in c["contexts"]: x["context"]["namespace"] = "alexa-link-system"
yaml.safe_dump(c, open(sys.argv[2], "w"))
PY
if kubectl --kubeconfig "$TMP/operator.kubeconfig" get pods -A >/dev/null 2>&1; then fail "the chart's ServiceAccount may list pods"; fi
[ -x target/debug/alexa-link-operator ] || cargo build -q -p alexa-link-operator --bins
# The arguments of the chart's Deployment, but for the admin address.
mapfile -t args < <(kubectl -n alexa-link-system get deployment alexa-link-operator \
  -o go-template='{{range (index .spec.template.spec.containers 0).args}}{{.}}{{"\n"}}{{end}}' | grep -v -- --admin-listen)
echo "  operator args from the chart: ${args[*]}"
[[ " ${args[*]} " == *" --leader-elect=false "* ]] || fail "one replica should run without leader election: ${args[*]}"
KUBECONFIG=$TMP/operator.kubeconfig RUST_LOG=info,kube=warn target/debug/alexa-link-operator "${args[@]}" \
  --admin-listen "$ADMIN" --identity helm-e2e >"$TMP/operator.log" 2>&1 &
OPERATOR_PID=$!
wait_for 30 "operator reconciles" grep -q "leader election off" "$TMP/operator.log"
for obj in deployment/minimal service/minimal configmap/minimal-config serviceaccount/minimal secret/minimal-keys persistentvolumeclaim/minimal-data ingress/minimal; do
  wait_for 30 "$obj" kubectl -n alexa get "$obj"
done
if kubectl -n alexa-link-system get lease alexa-link-operator >/dev/null 2>&1; then fail "a Lease without leader election"; fi
ok "the operator with the chart's args and RBAC (one replica: no Lease) creates every child of the quickstart's link"
tests/helm/monitoring.sh operator "$ADMIN" || fail "the operator's metrics queried by the dashboards and alerts"
ok "every operator metric the dashboard and alerts query is in the running operator's /metrics"

# No kubelet here, so no pod ever runs: the rest of the quickstart (wait
# for Ready, get asl -o wide, status.endpoints) runs on a real node in
# tests/node/run.sh. Here the link says why it waits.
wait_for 30 "minimal DeploymentNotAvailable" bash -c "kubectl -n alexa get asl minimal -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -x DeploymentNotAvailable"
ok "README quickstart without a node: the link is Ready=False DeploymentNotAvailable (Ready=True: tests/node/run.sh)"

# The production example is schema-valid and its OIDC identity and DynamoDB
# store render; this control plane has no cert-manager, and the operator says so.
kubectl -n alexa apply -f examples/production-secrets.yaml -f examples/production-link.yaml >/dev/null
wait_for 30 "production status" bash -c "kubectl -n alexa get asl production -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -x CertManagerMissing"
echo "  production: $(kubectl -n alexa get asl production -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}')"
ok "examples/production-link.yaml is accepted and reported Ready=False CertManagerMissing (no cert-manager here)"

echo "helm: $pass checks passed"
