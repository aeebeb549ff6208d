#!/usr/bin/env bash
# End-to-end test of the operator against a real Kubernetes control plane
# (kube-apiserver + etcd + kube-controller-manager v1.20.2 from ../shared/tools),
# with the operator running as a process. No kubelet runs here, so no pod is
# ever Ready and nothing pretends otherwise: what depends on running pods
# (Ready=True, status.endpoints, availableReplicas) is checked on a real node
# by tests/node/run.sh.
#
# Starts its own control plane on private ports in $K8S_WORK (outside the
# clone) and stops everything it started by PID, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=$(cd "$ROOT/../shared/tools" && pwd)
export K8S_WORK=${K8S_WORK:-/var/tmp/alexa-link-operator-e2e}
export K8S_PORT=${K8S_PORT:-26443} ETCD_PORT=${ETCD_PORT:-22379}
# Fixed ports below Linux's ephemeral range (32768-60999), so that no
# outgoing connection of this machine can be holding one.
ADMIN1=127.0.0.1:${OPERATOR_ADMIN_PORT:-28181}
ADMIN2=127.0.0.1:$(( ${OPERATOR_ADMIN_PORT:-28181} + 1 ))
LOGS=$(mktemp -d)
NS=e2e
OPERATOR_PID= STANDBY_PID=

cleanup() {
  local rc=$?
  for pid in $OPERATOR_PID $STANDBY_PID; do kill "$pid" 2>/dev/null || true; done
  "$TOOLS/stop-k8s-controlplane.sh" || true
  if [ $rc -ne 0 ]; then
    echo "--- operator log (tail)"; tail -40 "$LOGS/operator.log" 2>/dev/null || true
    if [ -s "$LOGS/standby.log" ]; then echo "--- standby log (tail)"; tail -20 "$LOGS/standby.log"; fi
  fi
  rm -rf "$LOGS"
}
trap cleanup EXIT

source "$ROOT/tests/lib/tap.sh"
# Pipes never use grep -q or head: an early exit would kill the writer with
# SIGPIPE, which pipefail reports as a failure.

command -v kubectl >/dev/null || "$TOOLS/install-helm.sh"
"$TOOLS/build-k8s-controlplane.sh"
"$TOOLS/start-k8s-controlplane.sh"
export KUBECONFIG=$K8S_WORK/run/kubeconfig
k() { kubectl -n "$NS" "$@"; }

cargo build -q -p alexa-link-operator -p alexa-link-server --bins
OPERATOR=$ROOT/target/debug/alexa-link-operator

start_operator() { # start_operator ADMIN LOG [IDENTITY]
  KUBECONFIG=$LOGS/operator.kubeconfig RUST_LOG=info,kube=warn "$OPERATOR" run --admin-listen "$1" \
    --identity "${3:-operator-1}" --lease-seconds 6 >>"$2" 2>&1 &
  echo $!
}
writes() { # total API writes reported by an operator's /metrics
  curl -sf "http://$1/metrics" | awk '/^alexa_link_operator_api_writes_total/ {s += $2} END {print s + 0}'
}
reconciles() {
  curl -sf "http://$1/metrics" | awk '/^alexa_link_operator_reconciles_total/ {print $2}'
}

# --- install the CRD (x-kubernetes-validations is unknown to 1.20: --validate=false)
kubectl apply --validate=false -f crds/alexaskilllinks.yaml >/dev/null
crd_established alexaskilllinks.skilllink.dev
kubectl create namespace "$NS" >/dev/null
wait_for 30 "kubectl explain" bash -c "kubectl explain asl.spec.clients.accessTokenLifetimeSeconds | grep '<integer>' >/dev/null"
kubectl explain asl.spec.clients.accessTokenLifetimeSeconds | grep "at least 360 (Alexa's minimum)" >/dev/null || fail "explain lacks the field doc"
kubectl explain asl.spec.tls | grep -E 'secretName\s+<string>' >/dev/null || fail "explain: $(kubectl explain asl.spec.tls)"
kubectl get alexa >/dev/null 2>&1 || fail "category alexa unknown"
ok "CRD installed and established; kubectl explain shows types and docs; category alexa"

# The operator runs with the RBAC of examples/operator-install.yaml: its
# ServiceAccount's token (created by the token controller on 1.20).
kubectl apply -f examples/operator-install.yaml >/dev/null
kubectl -n alexa-link-system scale deployment alexa-link-operator --replicas=0 >/dev/null # no kubelet here
wait_for 30 "operator token" bash -c "kubectl -n alexa-link-system get serviceaccount alexa-link-operator -o jsonpath='{.secrets[0].name}' | grep ."
token_secret=$(kubectl -n alexa-link-system get serviceaccount alexa-link-operator -o jsonpath='{.secrets[0].name}')
token=$(kubectl -n alexa-link-system get secret "$token_secret" -o jsonpath='{.data.token}' | base64 -d)
sed -e "s/token: e2e-token/token: $token/" -e "s/namespace: default/namespace: alexa-link-system/" "$KUBECONFIG" > "$LOGS/operator.kubeconfig"
# Proof that the credentials are the ServiceAccount's: pods are not in its role.
if kubectl --kubeconfig "$LOGS/operator.kubeconfig" get pods -A >/dev/null 2>"$LOGS/err"; then fail "operator credentials are not restricted"; fi
grep Forbidden "$LOGS/err" >/dev/null || fail "expected Forbidden: $(cat "$LOGS/err")"
ok "operator runs with the RBAC of examples/operator-install.yaml (and nothing more)"

OPERATOR_PID=$(start_operator "$ADMIN1" "$LOGS/operator.log")
wait_for 30 "operator readyz" curl -sf "http://$ADMIN1/readyz"
wait_for 30 "operator leads" grep -q leading "$LOGS/operator.log"
# A second replica stands by: it holds no lease and writes nothing.
STANDBY_PID=$(start_operator "$ADMIN2" "$LOGS/standby.log" operator-2)
wait_for 30 "standby readyz" curl -sf "http://$ADMIN2/readyz"
ok "operator running (pid $OPERATOR_PID), standby replica (pid $STANDBY_PID)"

# --- the examples apply and every child appears
k apply -f examples/minimal-link.yaml -f examples/mutual-link.yaml >/dev/null
for kind in deployment service configmap serviceaccount secret persistentvolumeclaim ingress; do
  name=minimal; case $kind in configmap) name=minimal-config;; secret) name=minimal-keys;; persistentvolumeclaim) name=minimal-data;; esac
  wait_for 30 "$kind/$name" k get "$kind" "$name"
done
wait_for 30 "networkpolicy/mutual" k get networkpolicy mutual
ok "all children of the examples exist"

uid=$(k get asl minimal -o jsonpath='{.metadata.uid}')
for kind in deployment service configmap/minimal-config serviceaccount ingress; do
  obj=$kind; [[ $kind == */* ]] || obj=$kind/minimal
  owner=$(k get "$obj" -o jsonpath='{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}/{.metadata.labels.app\.kubernetes\.io/managed-by}')
  [ "$owner" = "$uid/true/alexa-link-operator" ] || fail "$obj owner/labels: $owner"
done
# Retain (the default): stored state is not owned, so it outlives the resource.
[ -z "$(k get pvc minimal-data -o jsonpath='{.metadata.ownerReferences}')" ] || fail "minimal-data is owned under Retain"
[ -n "$(k get pvc mutual-data -o jsonpath='{.metadata.ownerReferences}')" ] || fail "mutual-data is not owned under Delete"
ok "children carry controller owner references and app.kubernetes.io labels"

k get configmap minimal-config -o jsonpath='{.data.config\.yaml}' > "$LOGS/config.yaml"
grep -q 'publicUrl: https://link.example.com/' "$LOGS/config.yaml" || fail "publicUrl not rendered"
"$ROOT/target/debug/alexa-link-server" --config "$LOGS/config.yaml" --check >/dev/null \
  || fail "the server rejects the rendered config"
ok "the server binary accepts the rendered config (--check)"

sc=$(k get deployment minimal -o jsonpath='{.spec.template.spec.containers[0].securityContext}')
for want in '"readOnlyRootFilesystem":true' '"allowPrivilegeEscalation":false' '"runAsNonRoot":true' '"drop":["ALL"]' '"type":"RuntimeDefault"'; do
  [[ $sc == *"$want"* ]] || fail "securityContext lacks $want: $sc"
done
[ "$(k get service minimal -o jsonpath='{.spec.ports[*].protocol}')" = "TCP TCP" ] || fail "service ports not TCP"
ok "hardened pod template, TCP service ports"

# --- printer columns
wait_for 30 "status written" bash -c "kubectl -n $NS get asl minimal -o jsonpath='{.status.observedGeneration}' | grep >/dev/null 1"
header=$(k get asl -o wide | awk 'NR == 1')
for col in NAME READY HOST REPLICAS REASON MESSAGE AGE; do [[ $header == *$col* ]] || fail "no $col column: $header"; done
k get asl -o wide | grep >/dev/null 'minimal.*False.*link.example.com.*DeploymentNotAvailable' || fail "$(k get asl -o wide)"
ok "kubectl get asl -o wide shows Ready, Host, Replicas, Reason, Message, Age"

# --- Ready=True needs pods that really run: tests/node/run.sh (kubelet probes).
# Here the pod exists (the ReplicaSet made it) and the link says why it waits.
wait_for 30 "pod of minimal" bash -c "kubectl -n $NS get pods -l app.kubernetes.io/instance=minimal -o name | grep >/dev/null pod"
k get asl minimal -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}' | grep -x >/dev/null 'False/DeploymentNotAvailable' \
  || fail "minimal without running pods: $(k get asl minimal -o jsonpath='{.status.conditions}')"
ok "without a kubelet the pod stays Pending and the link Ready=False DeploymentNotAvailable (Ready=True: tests/node/run.sh)"

# --- rotating a referenced Secret rolls the pods
hash() { k get deployment minimal -o jsonpath='{.spec.template.metadata.annotations.skilllink\.dev/config-hash}'; }
before=$(hash)
k patch secret minimal-alexa-client --type=merge -p '{"stringData":{"secret":"rotated-client-secret"}}' >/dev/null
wait_for 30 "pod-template hash change" bash -c "[ \"\$(kubectl -n $NS get deployment minimal -o jsonpath='{.spec.template.metadata.annotations.skilllink\.dev/config-hash}')\" != '$before' ]"
ok "rotating a referenced Secret changes the pod-template hash ($before -> $(hash))"

# --- branding from ConfigMaps: a logo, template overrides, a client's color
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' > "$LOGS/logo.png"
k create configmap acme-brand --from-file=logo.png="$LOGS/logo.png" >/dev/null
k create configmap acme-templates --save-config --from-file=login.html=server/templates/login.html >/dev/null
sed -e 's/^  name: minimal$/  name: branded/' examples/minimal-link.yaml | awk 'BEGIN{RS="---\n"} /kind: AlexaSkillLink/ {print}' \
  | sed -e 's/^      scopes: \[profile\]$/      scopes: [profile]\n      branding: {primaryColor: "#15803d"}/' \
        -e 's/^  host: link.example.com$/  host: link.example.com\n  branding:\n    productName: Acme Home\n    logoConfigMapRef: {name: acme-brand, key: logo.png}\n    templatesConfigMapName: acme-templates/' \
  | k apply -f - >/dev/null
wait_for 30 "configmap/branded-config" k get configmap branded-config
k get configmap branded-config -o jsonpath='{.data.config\.yaml}' > "$LOGS/branded.yaml"
for want in 'logo: /var/run/configmaps/alexa-link/acme-brand/logo.png' 'templatesDir: /var/run/configmaps/alexa-link/acme-templates' "primaryColor: .#15803d"; do
  grep -E "$want" "$LOGS/branded.yaml" >/dev/null || fail "rendered config lacks $want: $(cat "$LOGS/branded.yaml")"
done
"$ROOT/target/debug/alexa-link-server" --config "$LOGS/branded.yaml" --check >/dev/null \
  || fail "the server rejects the branded config"
mounted=$(k get deployment branded -o jsonpath='{.spec.template.spec.volumes[*].configMap.name}')
[[ $mounted == *acme-brand* && $mounted == *acme-templates* ]] || fail "branding ConfigMaps not mounted: $mounted"
bhash() { k get deployment branded -o jsonpath='{.spec.template.metadata.annotations.skilllink\.dev/config-hash}'; }
before=$(bhash)
{ cat server/templates/login.html; echo '{# changed by the e2e test #}'; } > "$LOGS/login.html"
k create configmap acme-templates --from-file=login.html="$LOGS/login.html" --dry-run=client -o yaml | k apply -f - >/dev/null
wait_for 30 "branded pod-template hash change" bash -c "[ \"\$(kubectl -n $NS get deployment branded -o jsonpath='{.spec.template.metadata.annotations.skilllink\.dev/config-hash}')\" != '$before' ]"
ok "branding from ConfigMaps (logo, templates) and a client's color render a config the server accepts; a template change rolls the pods ($before -> $(bhash))"
# An unknown template name is refused before the pods roll, naming the field.
k create configmap acme-templates --from-file=footer.html="$LOGS/login.html" --dry-run=client -o yaml | k apply -f - >/dev/null
wait_for 30 "branded InvalidConfig" bash -c "kubectl -n $NS get asl branded -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -x >/dev/null InvalidConfig"
msg=$(k get asl branded -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
[[ $msg == *'spec.branding.templatesConfigMapName'*'"footer.html"'* ]] || fail "message: $msg"
k create configmap acme-templates --from-file=login.html="$LOGS/login.html" --dry-run=client -o yaml | k apply -f - >/dev/null
ok "a templates ConfigMap key that names no template is Ready=False InvalidConfig naming the field"

# --- invalid resources: rejected by the schema, or Ready=False with a reason
bad() { sed -e "s/^  name: minimal$/  name: $1/" examples/minimal-link.yaml | awk 'BEGIN{RS="---\n"} /kind: AlexaSkillLink/ {print}'; }
if bad short-token | sed 's/scopes: \[profile\]/scopes: [profile]\n      accessTokenLifetimeSeconds: 300/' | k apply -f - 2>"$LOGS/err"; then
  fail "accessTokenLifetimeSeconds: 300 was accepted"
fi
grep -q 'accessTokenLifetimeSeconds' "$LOGS/err" || fail "schema error does not name the field: $(cat "$LOGS/err")"
ok "schema rejects accessTokenLifetimeSeconds < 360"

bad two-tls | sed 's/    ingress: {}/    ingress: {}\n    secretName: some-tls/' | k apply -f - >/dev/null
wait_for 30 "two-tls InvalidSpec" bash -c "kubectl -n $NS get asl two-tls -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -x >/dev/null InvalidSpec"
k get asl two-tls -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}' | grep >/dev/null 'spec.tls must set exactly one TLS mode' || fail "message"
k get deployment two-tls >/dev/null 2>&1 && fail "an invalid resource got a Deployment"
ok "a rule CEL would check on newer clusters is reported Ready=False InvalidSpec"

bad no-users | sed 's/name: minimal-users, key/name: missing-users, key/' | k apply -f - >/dev/null
wait_for 30 "no-users SecretMissing" bash -c "kubectl -n $NS get asl no-users -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -x >/dev/null SecretMissing"
msg=$(k get asl no-users -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
[[ $msg == *'"missing-users" does not exist'* ]] || fail "message: $msg"
wait_for 30 "Warning event" bash -c "kubectl -n $NS get events --field-selector reason=SecretMissing,type=Warning -o name | grep >/dev/null ."
k get events -o yaml | grep >/dev/null 'rotated-client-secret' && fail "an event contains a secret value"
# The Secret watch notices when it appears.
k create secret generic missing-users --from-file=users.yaml=examples/users.yaml >/dev/null
wait_for 30 "no-users recovers" bash -c "kubectl -n $NS get asl no-users -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -x >/dev/null DeploymentNotAvailable"
ok "a missing Secret is Ready=False SecretMissing with a Warning event; creating it recovers"

# --- cert-manager: a clear condition without its CRDs, a Certificate with them
bad cm-tls | sed 's/    ingress: {}/    certManager: {issuerRef: {name: letsencrypt, kind: ClusterIssuer}}/' | k apply -f - >/dev/null
wait_for 30 "cm-tls CertManagerMissing" bash -c "kubectl -n $NS get asl cm-tls -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].reason}' | grep -x CertManagerMissing >/dev/null"
kubectl apply -f - >/dev/null <<'CRD'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: certificates.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {plural: certificates, singular: certificate, kind: Certificate}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
CRD
crd_established certificates.cert-manager.io
k annotate asl cm-tls e2e/poke=1 >/dev/null # CRDs are not watched: the resync would find it later
wait_for 30 "Certificate cm-tls-tls" k get certificates.cert-manager.io cm-tls-tls
[ "$(k get certificates.cert-manager.io cm-tls-tls -o jsonpath='{.spec.dnsNames[0]} {.spec.secretName} {.spec.issuerRef.kind}')" = "link.example.com cm-tls-tls ClusterIssuer" ] \
  || fail "certificate: $(k get certificates.cert-manager.io cm-tls-tls -o yaml)"
k get deployment cm-tls -o jsonpath='{.spec.template.spec.volumes[*].secret.secretName}' | grep -w cm-tls-tls >/dev/null || fail "certificate Secret not mounted"
ok "tls.certManager: CertManagerMissing without cert-manager; with its CRD a Certificate for the host, mounted"

# --- restart: no writes on unchanged resources; the standby took over nothing
[ "$(writes "$ADMIN2")" = 0 ] && [ "$(reconciles "$ADMIN2")" = 0 ] || fail "the standby replica reconciled or wrote"
sleep 2
versions() { k get asl,deployment,service,configmap,secret,serviceaccount,ingress,networkpolicy,pvc -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}' | grep -v '^Deployment/' | sort; }
v1=$(versions)
kill "$OPERATOR_PID"; wait "$OPERATOR_PID" 2>/dev/null || true; OPERATOR_PID=
# The standby takes the released lease and reconciles everything: no writes.
wait_for 30 "standby leads" grep -q leading "$LOGS/standby.log"
count=$(k get asl -o name | wc -l)
wait_for 30 "standby reconciled all $count" bash -c "[ \"\$(curl -sf http://$ADMIN2/metrics | awk '/^alexa_link_operator_reconciles_total/ {print \$2}')\" -ge $count ]"
sleep 2
[ "$(writes "$ADMIN2")" = 0 ] || fail "restart wrote $(writes "$ADMIN2") times: $(curl -s "http://$ADMIN2/metrics" | grep writes_total)"
[ "$(versions)" = "$v1" ] || fail "resourceVersions changed: $(diff <(echo "$v1") <(versions))"
ok "after a restart (standby takeover) $(reconciles "$ADMIN2") reconciles sent 0 writes"

# --- deletion: garbage collection and deletionPolicy
k delete asl minimal mutual --wait=false >/dev/null
wait_for 120 "GC of minimal's Deployment" bash -c "! kubectl -n $NS get deployment minimal"
wait_for 60 "GC of minimal's Service/ConfigMap" bash -c "! kubectl -n $NS get service minimal && ! kubectl -n $NS get configmap minimal-config"
wait_for 60 "GC of mutual's Deployment" bash -c "! kubectl -n $NS get deployment mutual"
k get pvc minimal-data >/dev/null || fail "Retain: minimal-data was deleted"
k get secret minimal-keys >/dev/null || fail "Retain: minimal-keys was deleted"
# Delete: the PVC is collected (it may linger Terminating behind pvc-protection).
wait_for 60 "GC of mutual-data" bash -c "! kubectl -n $NS get pvc mutual-data || [ -n \"\$(kubectl -n $NS get pvc mutual-data -o jsonpath='{.metadata.deletionTimestamp}')\" ]"
ok "deleting removes the children; Retain keeps the store volume and keys, Delete removes them"

echo "operator e2e: $pass passed, 0 failed"
