#!/usr/bin/env bash
# The whole product on a real Kubernetes node, as a platform team would use
# it: the image built here (scripts/image), imported into the node's
# containerd (nothing is ever pulled), the Helm chart installed with
# `helm install --wait` so that the operator runs in a pod under the chart's
# ServiceAccount and RBAC, `helm test`, then AlexaSkillLinks whose server
# pods become Ready on their own (kubelet probes; nothing here patches a
# status), driven through their Services' ClusterIPs over TLS.
#
# Control plane (kube-apiserver, etcd, controller manager) and node (kubelet,
# containerd, kube-proxy) v1.20.2 from ../shared/tools, on private ports in
# $K8S_WORK; pods live on the VM-local bridge 10.88.0.0/24 and Services in
# 10.89.0.0/24. Test services the pods call (the LWA stand-in, DynamoDB
# Local, slapd, oidc-provider) bind the bridge address 10.88.0.1, with TLS
# from a test CA that the links trust through their caBundleRef Secrets.
# Everything is stopped on exit,
# by the scripts and by PID. When the node cannot start here (no root, no
# cgroup v1, no containerd), the suite says so and is skipped.
#
# Env: NODE_E2E_IMAGE=FILE uses that image tarball instead of building one
# from target/debug; NODE_E2E_KEEP=1 leaves the cluster running (debugging).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=$(cd "$ROOT/../shared/tools" 2>/dev/null && pwd) || { echo "SKIP: ../shared/tools (the node scripts) is not here"; exit 0; }
export K8S_WORK=${NODE_K8S_WORK:-/var/tmp/alexa-link-node-e2e}
export K8S_PORT=${NODE_K8S_PORT:-29443} ETCD_PORT=${NODE_ETCD_PORT:-25379}
NRUN=$K8S_WORK/node-run
BRIDGE_IP=10.88.0.1
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
IMAGE_TAG=localhost/alexa-link:node-e2e
TMP=$(mktemp -d)
CERTS=$TMP/certs
PV_DIR=$K8S_WORK/pv
CP_STARTED= NODE_STARTED= LWA_PID= DYNAMO_PID= SLAPD_DIR= OIDC_PID= JOBS_PID=
source "$ROOT/tests/node/lib.sh"
export KUBECONFIG=$K8S_WORK/run/kubeconfig

cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ] && [ -n "$NODE_STARTED" ]; then diagnose; fi
  [ -n "$LWA_PID" ] && { exec 3>&- 4<&-; kill "$LWA_PID" 2>/dev/null; wait "$LWA_PID" 2>/dev/null; }
  [ -n "$DYNAMO_PID" ] && "$ROOT/scripts/dynamodb-local" stop "$DYNAMO_PID" >/dev/null 2>&1
  [ -n "$SLAPD_DIR" ] && "$ROOT/tests/ldap/slapd.sh" stop "$SLAPD_DIR" >/dev/null 2>&1
  [ -n "$OIDC_PID" ] && "$ROOT/tests/oidc/provider.sh" stop "$OIDC_PID" >/dev/null 2>&1
  [ -n "$JOBS_PID" ] && { kill "$JOBS_PID" 2>/dev/null; wait "$JOBS_PID" 2>/dev/null; }
  if [ "${NODE_E2E_KEEP:-0}" = 1 ]; then
    echo "NODE_E2E_KEEP=1: left running; KUBECONFIG=$KUBECONFIG; stop with $TOOLS/stop-k8s-node.sh and stop-k8s-controlplane.sh (K8S_WORK=$K8S_WORK)"
  else
    [ -n "$NODE_STARTED" ] && "$TOOLS/stop-k8s-node.sh" >/dev/null 2>&1
    [ -n "$CP_STARTED" ] && "$TOOLS/stop-k8s-controlplane.sh" >/dev/null 2>&1
    rm -rf "$PV_DIR"
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT

# --- can a node run here? ------------------------------------------------------------
skip() { echo "SKIP: the node suite cannot run here: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "it needs root (kubelet, containerd, iptables)"
[ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] || skip "it needs cgroup v1 (the node runs kubelet with cgroupfs)"
command -v kubectl >/dev/null && command -v helm >/dev/null || "$TOOLS/install-helm.sh" >/dev/null
command -v jq >/dev/null || fail "jq is needed (scripts/test installs it)"
"$TOOLS/build-k8s-controlplane.sh" >/dev/null || skip "the control plane binaries could not be built"
"$TOOLS/build-k8s-node.sh" >/dev/null || skip "the node binaries could not be built"
command -v containerd >/dev/null || skip "containerd is not installed"

# --- the image: what the tests already compiled (CI), in the release layout ---------
t0=$(now_ms)
# In CI the binaries the Rust tests just built are newer than every source:
# use them (a plain `cargo build` would rebuild them without the test
# features, minutes on 2 cores); otherwise build.
stale=
for b in alexa-link-server alexa-link-operator examples/lwa_standin; do
  [ -x "target/debug/$b" ] || { stale=1; break; }
  [ -z "$(find server operator Cargo.lock -newer "target/debug/$b" -name '*.rs' -o -newer "target/debug/$b" -name 'Cargo.*' | head -1)" ] || { stale=1; break; }
done
if [ -n "$stale" ]; then
  cargo build -q --locked -p alexa-link-server -p alexa-link-operator --bins
  cargo build -q --locked -p alexa-link-server --example lwa_standin
fi
IMAGE=${NODE_E2E_IMAGE:-$TMP/alexa-link.tar}
BUILD=debug; [ -n "${NODE_E2E_IMAGE:-}" ] && BUILD="image $NODE_E2E_IMAGE"
if [ -z "${NODE_E2E_IMAGE:-}" ]; then
  # Not the release name: the servers find it only if the chart's image
  # values reach the operator (--server-image).
  scripts/image --debug --tag "$IMAGE_TAG" --out "$IMAGE" >/dev/null
fi
IMAGE_MB=$(( $(stat -c %s "$IMAGE") / 1048576 ))
ok "image ready in $(( $(now_ms) - t0 )) ms: $IMAGE_MB MiB ($BUILD, tag $IMAGE_TAG)"

# --- control plane and node --------------------------------------------------------
"$TOOLS/stop-k8s-node.sh" >/dev/null 2>&1 || true   # leftovers of an interrupted run
"$TOOLS/stop-k8s-controlplane.sh" >/dev/null 2>&1 || true
CP_STARTED=1
IN_CLUSTER=1 SERVICE_CIDR=10.89.0.0/24 "$TOOLS/start-k8s-controlplane.sh" >"$TMP/cp.log" 2>&1 \
  || { cat "$TMP/cp.log"; skip "the control plane did not start"; }
NODE_STARTED=1
if ! NODE_IMAGES="$IMAGE" "$TOOLS/start-k8s-node.sh" >"$TMP/node.log" 2>&1; then
  cat "$TMP/node.log"; NODE_STARTED=; "$TOOLS/stop-k8s-node.sh" >/dev/null 2>&1
  skip "the node did not start (see above)"
fi
ok "control plane and node up: $(grep -o 'node .* Ready in [0-9]* ms' "$TMP/node.log")"
# The shared scripts' controller managers run no Job controller; a cluster
# does, and deletionPolicy Delete with DynamoDB runs a Job: one more
# kube-controller-manager (same build) with only that controller.
JOBS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$K8S_WORK/bin/kube-controller-manager" --kubeconfig="$KUBECONFIG" --authentication-kubeconfig="$KUBECONFIG" \
  --authorization-kubeconfig="$KUBECONFIG" --leader-elect=false --bind-address=127.0.0.1 --secure-port="$JOBS_PORT" \
  --port=0 --controllers=job --logtostderr=true --v=1 >"$TMP/kcm-jobs.log" 2>&1 &
JOBS_PID=$!

# --- the chart, with the operator in a pod --------------------------------------------
CHART=$ROOT/charts/alexa-link-operator
OPNS=alexa-link-system
t0=$(now_ms)
helm install alo "$CHART" -n "$OPNS" --create-namespace --wait --timeout 3m \
  --set image.repository="${IMAGE_TAG%:*}" --set image.tag="${IMAGE_TAG#*:}" --set image.pullPolicy=Never >"$TMP/helm.out" \
  || fail "helm install --wait: $(cat "$TMP/helm.out")"
INSTALL_MS=$(( $(now_ms) - t0 ))
OPERATOR_POD=$(k -n "$OPNS" get pods -l app.kubernetes.io/instance=alo -o jsonpath='{.items[0].metadata.name}')
[ "$(k -n "$OPNS" get pod "$OPERATOR_POD" -o jsonpath='{.spec.serviceAccountName}')" = alo-alexa-link-operator ] || fail "operator pod's ServiceAccount"
# The token in the pod is the chart's ServiceAccount's: it may not read pods.
SA=system:serviceaccount:$OPNS:alo-alexa-link-operator
[ "$(k auth can-i list pods --as="$SA" -A)" = no ] || fail "the chart's ServiceAccount may list pods"
[ "$(k auth can-i patch deployments --as="$SA" -n default)" = yes ] || fail "the chart's ServiceAccount may not patch deployments"
wait_for 30 "operator logs its in-cluster connection" bash -c "kubectl -n $OPNS logs $OPERATOR_POD | grep -q 'connected to the API server'"
ok "helm install --wait: operator pod Ready in $INSTALL_MS ms, in-cluster with the chart's ServiceAccount (may patch deployments, may not list pods)"

helm test alo -n "$OPNS" --timeout 2m >"$TMP/helm-test.out" 2>&1 || fail "helm test: $(cat "$TMP/helm-test.out")"
grep -q 'Phase:.*Succeeded' "$TMP/helm-test.out" || fail "helm test: $(cat "$TMP/helm-test.out")"
ok "helm test: the hook pod (our image's alexa-link-healthcheck) got the operator's /readyz through its Service"

OPERATOR_ADMIN=$(svc_ip "$OPNS" alo-alexa-link-operator):8081
metric() { # metric NAME: its value (summed over labels) at the operator's /metrics
  curl -sf --max-time 5 "http://$OPERATOR_ADMIN/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {print s + 0}'
}

# --- the minimal examples, Ready because their pods are ----------------------------------
NS=links
k create namespace "$NS" >/dev/null
tls_ca
tls_cert link link.example.com
# An example's AlexaSkillLink without its placeholder Secrets (as its header says).
example_link() { python3 -c 'import sys,yaml; print(yaml.safe_dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "AlexaSkillLink"][0]))' "$1"; }
k -n "$NS" create secret generic minimal-alexa-client --from-literal=secret="$(openssl rand -hex 32)" >/dev/null
k -n "$NS" create secret generic minimal-users --from-file=users.yaml=examples/users.yaml >/dev/null
TLS_SECRET=$(openssl rand -hex 32)
k -n "$NS" create secret generic minimal-tls-client --from-literal=secret="$TLS_SECRET" >/dev/null
k -n "$NS" create secret generic minimal-tls-users --from-file=users.yaml=examples/users.yaml >/dev/null
k -n "$NS" create secret tls minimal-tls-cert --cert="$CERTS/link.crt" --key="$CERTS/link.key" >/dev/null
pv minimal-data "$NS" minimal-data
pv minimal-tls-data "$NS" minimal-tls-data
t0=$(now_ms)
example_link examples/minimal-link.yaml | k -n "$NS" apply -f - >/dev/null
example_link examples/minimal-tls-link.yaml | k -n "$NS" apply -f - >/dev/null
k -n "$NS" wait --for=condition=Ready asl/minimal asl/minimal-tls --timeout=120s >/dev/null || fail "minimal links not Ready"
LINK_READY_MS=$(( $(now_ms) - t0 ))
for l in minimal minimal-tls; do
  [ "$(k -n "$NS" get deploy "$l" -o jsonpath='{.status.availableReplicas}')" = 1 ] || fail "$l: Deployment not available"
  [ "$(k -n "$NS" get asl "$l" -o jsonpath='{.status.availableReplicas}')" = 1 ] || fail "$l: status.availableReplicas"
  [ "$(k -n "$NS" get pods -l "app.kubernetes.io/instance=$l" -o jsonpath='{.items[0].status.containerStatuses[0].ready}')" = true ] || fail "$l: pod not ready"
done
endpoints=$(k -n "$NS" get asl minimal -o jsonpath='{.status.endpoints.authorization} {.status.endpoints.token} {.status.endpoints.reciprocal} {.status.endpoints.partnerToken}')
[ "$endpoints" = "https://link.example.com/oauth/authorize https://link.example.com/oauth/token https://link.example.com/api/reciprocal/authorize https://link.example.com/api/partner/token" ] \
  || fail "endpoints: $endpoints"
k -n "$NS" get asl -o wide | grep -Eq 'minimal-tls +True +link.example.com +1' || fail "get asl -o wide: $(k -n "$NS" get asl -o wide)"
img=$(k -n "$NS" get deploy minimal-tls -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].imagePullPolicy}')
[ "$img" = "$IMAGE_TAG Never" ] || fail "server image from the chart's values: $img"
ok "examples/minimal-link.yaml and minimal-tls-link.yaml Ready=True in $LINK_READY_MS ms (kubelet probes, no status patching); endpoints and -o wide right; server pods run the chart's image ($IMAGE_TAG, Never) without spec.image"

# TLS at an Ingress (none runs here): the Service speaks plain HTTP on 80.
MIN_IP=$(svc_ip "$NS" minimal)
wait_for 10 "minimal's Service answers" curl -sf --max-time 3 --resolve "link.example.com:80:$MIN_IP" http://link.example.com/.well-known/oauth-authorization-server
meta=$(curl -sf --max-time 5 --resolve "link.example.com:80:$MIN_IP" http://link.example.com/.well-known/oauth-authorization-server)
[ "$(jq -r .token_endpoint <<<"$meta")" = https://link.example.com/oauth/token ] || fail "minimal metadata: $meta"
ok "minimal (TLS at the Ingress): its Service answers the metadata document over HTTP on port 80"

# The server presents the certificate from the Secret: the whole Alexa flow over it.
FLOW_HOST=link.example.com FLOW_ADDR=$(svc_ip "$NS" minimal-tls)
wait_for 10 "minimal-tls answers over TLS" fcurl -f https://link.example.com/.well-known/oauth-authorization-server
[ "$(served_serial link.example.com "$FLOW_ADDR" 443)" = "$(cert_serial "$CERTS/link.crt")" ] || fail "minimal-tls serves another certificate"
alexa_code alexa-skill user password "$TMP/tls"
alexa_token alexa-skill "$TLS_SECRET" "$TMP/tls"
[ "$(alexa_refresh alexa-skill "$TLS_SECRET" "$TMP/tls")" = 200 ] || fail "refresh: $(cat "$TMP/tls.refreshed.json")"
[ "$(introspect_active alexa-skill "$TLS_SECRET" "$(cat "$TMP/tls.access")")" = true ] || fail "the refreshed access token is not active"
ok "minimal-tls through its ClusterIP over TLS (the Secret's certificate): authorize, login, consent, code, token, refresh, introspect"

# Rotate the certificate now (the kubelet refreshes Secret volumes on its
# sync period, up to a minute or so); checked after the mutual link.
TLS_POD=$(k -n "$NS" get pods -l app.kubernetes.io/instance=minimal-tls -o jsonpath='{.items[0].metadata.name}')
tls_cert link2 link.example.com
k -n "$NS" create secret tls minimal-tls-cert --cert="$CERTS/link2.crt" --key="$CERTS/link2.key" --dry-run=client -o yaml | k apply -f - >/dev/null
TLS_ROTATED_AT=$SECONDS

# --- mutual linking against the LWA stand-in ----------------------------------------------
# The stand-in serves https on the bridge with the test CA's certificate;
# the links trust that CA through partner.caBundleRef (the server accepts
# plain HTTP for LWA only on loopback).
bridge_port() { python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$BRIDGE_IP"; }
container_pid() { # NAMESPACE POD: the host PID of the pod's first container
  local id
  id=$(k -n "$1" get pod "$2" -o jsonpath='{.status.containerStatuses[0].containerID}')
  ctr --address "$NRUN/containerd/containerd.sock" -n k8s.io tasks ls | awk -v id="${id#containerd://}" '$1 == id {print $2}'
}
lwa_read() { local line; IFS= read -r -t 10 line <&4 || fail "the LWA stand-in did not answer"; echo "$line"; }
lwa_code() { echo code >&3; local l; l=$(lwa_read); echo "${l#CODE }"; }
lwa_calls() { echo calls >&3; local l; l=$(lwa_read); echo "${l#CALLS }"; }
tls_cert lwa "$BRIDGE_IP"
coproc LWA { exec "$ROOT/target/debug/examples/lwa_standin" "$BRIDGE_IP:$(bridge_port)" --tls "$CERTS/lwa.crt" "$CERTS/lwa.key"; }
LWA_PID=$LWA_PID
exec 3>&"${LWA[1]}" 4<&"${LWA[0]}"
LWA_URL= LWA_ID= LWA_SECRET=
while line=$(lwa_read); [ "$line" != READY ]; do
  case $line in TOKEN_URL*) LWA_URL=${line#* };; CLIENT_ID*) LWA_ID=${line#* };; CLIENT_SECRET*) LWA_SECRET=${line#* };; esac
done
[[ $LWA_URL == https://$BRIDGE_IP:* ]] && [ -n "$LWA_ID" ] && [ -n "$LWA_SECRET" ] || fail "lwa_standin: $LWA_URL"
tls_cert mutual mutual.example.com
k -n "$NS" create secret tls mutual-tls --cert="$CERTS/mutual.crt" --key="$CERTS/mutual.key" >/dev/null
ALEXA_SECRET=$(openssl rand -hex 32) BACKEND_SECRET=$(openssl rand -hex 32)
k -n "$NS" create secret generic mutual-clients --from-literal=alexa="$ALEXA_SECRET" --from-literal=backend="$BACKEND_SECRET" >/dev/null
k -n "$NS" create secret generic mutual-lwa --from-literal=client-id="$LWA_ID" --from-literal=client-secret="$LWA_SECRET" --from-file=ca.crt="$CERTS/ca.crt" >/dev/null
k -n "$NS" create secret generic mutual-users --from-file=users.yaml=<(python3 -c 'import sys,yaml; d=[x for x in yaml.safe_load_all(open(sys.argv[1])) if x and x["metadata"]["name"] == "mutual-users"][0]; print(d["stringData"]["users.yaml"])' examples/mutual-link.yaml) >/dev/null
pv mutual-data "$NS" mutual-data
# The example as it stands, but for where this node can reach: LWA at the
# stand-in, TLS by the server itself (no Ingress controller runs here).
example_link examples/mutual-link.yaml | python3 -c '
import sys, yaml
d = yaml.safe_load(sys.stdin)
d["spec"]["partner"]["tokenUrl"] = sys.argv[1]
d["spec"]["partner"]["caBundleRef"] = {"name": "mutual-lwa", "key": "ca.crt"}
d["spec"]["tls"] = {"secretName": "mutual-tls"}
d["spec"].pop("ingress", None)
print(yaml.safe_dump(d))' "$LWA_URL" | k -n "$NS" apply -f - >/dev/null
k -n "$NS" wait --for=condition=Ready asl/mutual --timeout=120s >/dev/null || fail "mutual not Ready"
FLOW_HOST=mutual.example.com FLOW_ADDR=$(svc_ip "$NS" mutual)
wait_for 10 "mutual answers over TLS" fcurl -f https://mutual.example.com/.well-known/oauth-authorization-server
alexa_code alexa-skill user password "$TMP/mutual"
alexa_token alexa-skill "$ALEXA_SECRET" "$TMP/mutual"
reciprocal=$(fcurl -w ' %{http_code}' -H "Authorization: Bearer $(cat "$TMP/mutual.access")" https://mutual.example.com/api/reciprocal/authorize \
  -d grant_type=reciprocal_authorization_code -d "code=$(lwa_code)" -d client_id=alexa-skill)
[[ $reciprocal == *'"status":"linked"'*' 200' ]] || fail "reciprocal: $reciprocal"
[ "$(lwa_calls)" = "1 0" ] || fail "LWA calls after the reciprocal exchange: $(lwa_calls)"
backend=$(fcurl -f -u "skill-backend:$BACKEND_SECRET" https://mutual.example.com/oauth/token -d grant_type=client_credentials -d scope=partner_token | jq -r .access_token)
partner=$(fcurl -w ' %{http_code}' -H "Authorization: Bearer $backend" "https://mutual.example.com/api/partner/token?user_id=user&partner_id=amazon")
[[ $partner == *'"access_token":"Atza|'*' 200' ]] || fail "partner token: $partner"
ok "mutual linking through the Service over TLS: link, reciprocal code exchanged by the pod at the LWA stand-in (https on the bridge, trusted through partner.caBundleRef), partner token (Atza|) for the backend"

# --- the operator pod is killed: the new one writes nothing for unchanged links ----------------
links=$(k get asl -A -o name | wc -l)
wait_for 60 "the operator settled" bash -c "[ \"\$(curl -sf --max-time 5 http://$OPERATOR_ADMIN/metrics | awk '/^alexa_link_operator_reconciles_total/ {s += \$2} END {print s + 0}')\" -ge $links ]"
versions() { k get asl,deployment,service,configmap,secret,serviceaccount,networkpolicy,pvc -A -o jsonpath='{range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}' | grep -v -e '^Deployment/' -e '/alexa-link-system/' -e '/kube-system/' -e 'kubernetes.io/service-account-token' | sort; }
sleep 2
v1=$(versions)
old_op=$OPERATOR_POD
k -n "$OPNS" delete pod "$old_op" --grace-period=0 --force >/dev/null 2>&1
wait_for 60 "a new operator pod" bash -c "kubectl -n $OPNS get pods -l app.kubernetes.io/instance=alo -o jsonpath='{.items[*].metadata.name}' | grep -v $old_op | grep -q ."
OPERATOR_POD=$(k -n "$OPNS" get pods -l app.kubernetes.io/instance=alo -o jsonpath='{.items[0].metadata.name}')
k -n "$OPNS" wait --for=condition=Ready "pod/$OPERATOR_POD" --timeout=60s >/dev/null || fail "the new operator pod is not Ready"
wait_for 60 "the new operator reconciled all $links links" bash -c "[ \"\$(curl -sf --max-time 5 http://$OPERATOR_ADMIN/metrics | awk '/^alexa_link_operator_reconciles_total/ {s += \$2} END {print s + 0}')\" -ge $links ]"
sleep 3
writes=$(metric alexa_link_operator_api_writes_total)
[ "$writes" = 0 ] || fail "the new operator wrote $writes times: $(curl -s "http://$OPERATOR_ADMIN/metrics" | grep writes_total)"
[ "$(versions)" = "$v1" ] || fail "resourceVersions changed after the restart: $(diff <(echo "$v1") <(versions))"
# ... and it keeps reconciling: a child deleted by hand comes back.
k -n "$NS" delete configmap minimal-config >/dev/null
wait_for 30 "minimal-config recreated" k -n "$NS" get configmap minimal-config
ok "operator pod killed: the new one ($OPERATOR_POD) reconciled $links links with 0 writes (resourceVersions unchanged), then recreated a deleted ConfigMap"

# --- DynamoDB Local on the bridge, 3 replicas serving one table -------------------------------------
DYNAMO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("10.88.0.1", 0)); print(s.getsockname()[1])')
DYNAMO_PID=$("$ROOT/scripts/dynamodb-local" start "$DYNAMO_PORT") || fail "DynamoDB Local did not start"
tls_cert dynamodb dynamodb.example.com
DYN_SECRET=$(openssl rand -hex 32)
k -n "$NS" create secret generic dynamodb-alexa-client --from-literal=secret="$DYN_SECRET" >/dev/null
k -n "$NS" create secret generic dynamodb-users --from-file=users.yaml=examples/users.yaml >/dev/null
k -n "$NS" create secret generic dynamodb-aws --from-literal=AWS_ACCESS_KEY_ID=nodee2e --from-literal=AWS_SECRET_ACCESS_KEY=nodee2esecret >/dev/null
k -n "$NS" create secret tls dynamodb-tls --cert="$CERTS/dynamodb.crt" --key="$CERTS/dynamodb.key" >/dev/null
t0=$(now_ms)
example_link examples/dynamodb-link.yaml | python3 -c '
import sys, yaml
d = yaml.safe_load(sys.stdin)
d["spec"]["host"] = "dynamodb.example.com"
d["spec"]["storage"]["dynamodb"].update(endpoint=sys.argv[1], tableName="alexa-link-node-e2e")
d["spec"]["replicas"] = 1   # scaled to 3 below, as in the example
print(yaml.safe_dump(d))' "http://$BRIDGE_IP:$DYNAMO_PORT" >"$TMP/dynamodb.yaml"
k -n "$NS" apply -f "$TMP/dynamodb.yaml" >/dev/null
k -n "$NS" wait --for=condition=Ready asl/dynamodb --timeout=180s >/dev/null || fail "dynamodb link not Ready"
DYN_READY_MS=$(( $(now_ms) - t0 ))
t0=$(now_ms)
k -n "$NS" patch asl dynamodb --type=merge -p '{"spec":{"replicas":3}}' >/dev/null
wait_for 120 "dynamodb scaled to 3 available" bash -c "[ \"\$(kubectl -n $NS get asl dynamodb -o jsonpath='{.status.availableReplicas}/{.status.conditions[?(@.type==\"Ready\")].status}')\" = 3/True ]"
DYN_SCALE_MS=$(( $(now_ms) - t0 ))
[ "$(k -n "$NS" get asl dynamodb -o jsonpath='{.status.availableReplicas}')" = 3 ] || fail "dynamodb: $(k -n "$NS" get asl dynamodb -o wide)"
mapfile -t pods < <(k -n "$NS" get pods -l app.kubernetes.io/instance=dynamodb -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}')
[ ${#pods[@]} = 3 ] || fail "dynamodb pods: ${pods[*]}"
# The code from pod 1, exchanged at pod 2, refreshed at pod 3, introspected at pod 1.
FLOW_HOST=dynamodb.example.com FLOW_PORT=8443
FLOW_ADDR=${pods[0]}; alexa_code alexa-skill user password "$TMP/dyn"
FLOW_ADDR=${pods[1]}; alexa_token alexa-skill "$DYN_SECRET" "$TMP/dyn"
FLOW_ADDR=${pods[2]}; [ "$(alexa_refresh alexa-skill "$DYN_SECRET" "$TMP/dyn")" = 200 ] || fail "refresh at pod 3: $(cat "$TMP/dyn.refreshed.json")"
FLOW_ADDR=${pods[0]}; [ "$(introspect_active alexa-skill "$DYN_SECRET" "$(cat "$TMP/dyn.access")")" = true ] || fail "introspection at pod 1"
FLOW_PORT=443 FLOW_ADDR=$(svc_ip "$NS" dynamodb)
for _ in 1 2 3 4 5 6; do [ "$(alexa_refresh alexa-skill "$DYN_SECRET" "$TMP/dyn")" = 200 ] || fail "refresh through the Service"; done
ok "DynamoDB link (examples/dynamodb-link.yaml, DynamoDB Local on $BRIDGE_IP) Ready in $DYN_READY_MS ms, scaled to 3 replicas in $DYN_SCALE_MS ms: code at pod 1, token at pod 2, refresh at pod 3, introspection at pod 1; 6 refreshes through the Service"

# --- examples/production-link.yaml on this node: OIDC, and its LDAP variant -------------------------
# The example as written, with only what this machine lacks swapped:
#  - cert-manager: tls.secretName (a test CA's certificate) instead of tls.certManager;
#  - IRSA: a credentials Secret and DynamoDB Local (createTable) instead of the IAM role;
#  - login.example.com: oidc-provider on the bridge, https with the test CA (identity.oidc.caBundleRef);
#  - Amazon: the LWA stand-in on the bridge (partner.tokenUrl, partner.caBundleRef).
# Everything else is the example's: 3 replicas, both clients, mutual linking, the referenced
# encryption and session keys, resources, anti-affinity, NetworkPolicy (not enforced by this CNI).
# The LDAP variant is the example's commented ldap block, pointed at slapd on the bridge (ldaps,
# slapd's own test CA in identity.ldap.caBundleRef), with 1 replica to spare the 2 cores.
PNS=production
k create namespace "$PNS" >/dev/null
tls_cert oidc-provider "$BRIDGE_IP"
eval "$(OIDC_HOST=$BRIDGE_IP OIDC_TLS_CERT=$CERTS/oidc-provider.crt OIDC_TLS_KEY=$CERTS/oidc-provider.key "$ROOT/tests/oidc/provider.sh" start)"
OIDC_PID=$ALEXA_LINK_OIDC_PID ISSUER=$ALEXA_LINK_OIDC_ISSUER
eval "$(SLAPD_HOST=$BRIDGE_IP "$ROOT/tests/ldap/slapd.sh" start)"
SLAPD_DIR=$ALEXA_LINK_LDAP_DIR
upstream=$(curl -sSf --max-time 10 --cacert "$CERTS/ca.crt" "$ISSUER/reg" -H 'content-type: application/json' \
  -d '{"redirect_uris":["https://link.example.com/oauth/callback"],"token_endpoint_auth_method":"client_secret_basic"}') \
  || fail "client registration at $ISSUER"
PROD_ALEXA=$(openssl rand -hex 32) PROD_BACKEND=$(openssl rand -hex 32)
tls_cert production link.example.com
k -n "$PNS" create secret tls prod-tls --cert="$CERTS/production.crt" --key="$CERTS/production.key" >/dev/null
k -n "$PNS" create secret generic prod-alexa-clients --from-literal=alexa="$PROD_ALEXA" --from-literal=backend="$PROD_BACKEND" >/dev/null
k -n "$PNS" create secret generic prod-oidc --from-literal=client-id="$(jq -r .client_id <<<"$upstream")" \
  --from-literal=client-secret="$(jq -r .client_secret <<<"$upstream")" --from-file=ca.crt="$CERTS/ca.crt" >/dev/null
k -n "$PNS" create secret generic prod-lwa --from-literal=client-id="$LWA_ID" --from-literal=client-secret="$LWA_SECRET" --from-file=ca.crt="$CERTS/ca.crt" >/dev/null
k -n "$PNS" create secret generic prod-ldap --from-literal=bind-password=service-account-pw --from-file=ca.crt="$ALEXA_LINK_LDAP_CA" >/dev/null
k -n "$PNS" create secret generic prod-token-keys --from-literal=key-2026-01="$(openssl rand -base64 32)" >/dev/null
k -n "$PNS" create secret generic prod-session --from-literal=key="$(openssl rand -base64 48)" >/dev/null
k -n "$PNS" create secret generic prod-aws --from-literal=AWS_ACCESS_KEY_ID=nodee2e --from-literal=AWS_SECRET_ACCESS_KEY=nodee2esecret >/dev/null
t0=$(now_ms)
python3 - examples/production-link.yaml "$ISSUER" "$LWA_URL" "http://$BRIDGE_IP:$DYNAMO_PORT" "$ALEXA_LINK_LDAPS_URL" >"$TMP/production.yaml" <<'PY'
import sys, yaml
path, issuer, lwa, dynamo, ldaps = sys.argv[1:]
text = open(path).read()
base = yaml.safe_load(text)
assert base["spec"]["tls"].get("certManager") and "credentialsSecretName" not in base["spec"]["storage"]["dynamodb"]
def swapped(d, table):
    s = d["spec"]
    s["tls"] = {"secretName": "prod-tls"}
    s["storage"]["dynamodb"].update(endpoint=dynamo, tableName=table, createTable=True, credentialsSecretName="prod-aws")
    s["partner"].update(tokenUrl=lwa, caBundleRef={"name": "prod-lwa", "key": "ca.crt"})
    return d
oidc = swapped(yaml.safe_load(text), "alexa-link-production")
oidc["spec"]["identity"]["oidc"].update(issuerUrl=issuer, caBundleRef={"name": "prod-oidc", "key": "ca.crt"})
# The example's commented LDAP block, uncommented.
lines = text.splitlines()
start = next(i for i, l in enumerate(lines) if l.strip() == "# ldap:")
block = []
for l in lines[start:]:
    if not l.strip().startswith("#"):
        break
    block.append(l.replace("# ", "", 1))
ldap = yaml.safe_load("\n".join(block))["ldap"]
ldap.update(url=ldaps, caBundleRef={"name": "prod-ldap", "key": "ca.crt"})
variant = swapped(yaml.safe_load(text), "alexa-link-production-ldap")
variant["metadata"]["name"] = "production-ldap"
variant["spec"]["identity"] = {"ldap": ldap}
variant["spec"]["replicas"] = 1
variant["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] = "production-ldap"
print(yaml.safe_dump_all([oidc, variant]))
PY
k -n "$PNS" apply -f "$TMP/production.yaml" >/dev/null
k -n "$PNS" wait --for=condition=Ready asl/production asl/production-ldap --timeout=180s >/dev/null || fail "production links not Ready"
PROD_READY_MS=$(( $(now_ms) - t0 ))
[ "$(k -n "$PNS" get asl production -o jsonpath='{.status.availableReplicas}')" = 3 ] || fail "production: $(k -n "$PNS" get asl production -o wide)"
# OIDC: the pods fetch discovery, keys and tokens from the provider over https (test CA).
FLOW_HOST=link.example.com FLOW_ADDR=$(svc_ip "$PNS" production) FLOW_PORT=443
wait_for 20 "production answers over TLS" fcurl -f https://link.example.com/.well-known/oauth-authorization-server
alexa_code_upstream alexa-skill olivia "$TMP/prod"
grep -q 'Upstream olivia' "$TMP/prod.consent.html" || fail "the consent page does not show the ID token's name claim"
alexa_token alexa-skill "$PROD_ALEXA" "$TMP/prod"
calls_before=$(lwa_calls)
reciprocal=$(fcurl -w ' %{http_code}' -H "Authorization: Bearer $(cat "$TMP/prod.access")" https://link.example.com/api/reciprocal/authorize \
  -d grant_type=reciprocal_authorization_code -d "code=$(lwa_code)" -d client_id=alexa-skill)
[[ $reciprocal == *'"status":"linked"'*' 200' ]] || fail "production reciprocal: $reciprocal"
[ "$(lwa_calls | cut -d' ' -f1)" = $(( ${calls_before%% *} + 1 )) ] || fail "LWA code exchanges: $calls_before -> $(lwa_calls)"
backend=$(fcurl -f -u "skill-backend:$PROD_BACKEND" https://link.example.com/oauth/token -d grant_type=client_credentials -d scope=partner_token | jq -r .access_token)
user_id=$(fcurl -f -u "alexa-skill:$PROD_ALEXA" https://link.example.com/oauth/introspect --data-urlencode "token=$(cat "$TMP/prod.access")" | jq -r .sub)
[[ $user_id == oidc:*:olivia ]] || fail "production: the grant's user is $user_id"
partner=$(fcurl -w ' %{http_code}' -H "Authorization: Bearer $backend" --get "https://link.example.com/api/partner/token" --data-urlencode "user_id=$user_id" -d partner_id=amazon)
[[ $partner == *'"access_token":"Atza|'*' 200' ]] || fail "production partner token: $partner"
[ "$(alexa_refresh alexa-skill "$PROD_ALEXA" "$TMP/prod")" = 200 ] || fail "production refresh: $(cat "$TMP/prod.refreshed.json")"
ok "examples/production-link.yaml (OIDC; tls, storage, issuer and LWA swapped for this machine's) Ready=True with 3 replicas in $PROD_READY_MS ms: upstream sign-in at oidc-provider (https on the bridge, identity.oidc.caBundleRef), consent shows the ID token's name, token ($user_id), reciprocal code at the LWA stand-in (partner.caBundleRef), partner token Atza|, refresh"
# LDAP: the pod binds over ldaps to slapd on the bridge (slapd's CA), then as the user.
FLOW_ADDR=$(svc_ip "$PNS" production-ldap)
wait_for 20 "production-ldap answers over TLS" fcurl -f https://link.example.com/.well-known/oauth-authorization-server
alexa_code alexa-skill ann ann-ldap-pw "$TMP/ldap"
grep -q 'Ann Example' "$TMP/ldap.consent.html" || fail "the consent page does not show the directory's cn"
alexa_token alexa-skill "$PROD_ALEXA" "$TMP/ldap"
[ "$(alexa_refresh alexa-skill "$PROD_ALEXA" "$TMP/ldap")" = 200 ] || fail "production-ldap refresh: $(cat "$TMP/ldap.refreshed.json")"
ok "its LDAP variant (the example's ldap block, ldaps to slapd on the bridge, identity.ldap.caBundleRef) Ready=True: ann logs in with her directory password, consent shows her cn, token, refresh"

# --- TLS Secret rotation: picked up by the running pod ----------------------------------------
wait_for 150 "the new certificate served" bash -c "[ \"\$(openssl s_client -connect $(svc_ip "$NS" minimal-tls):443 -servername link.example.com </dev/null 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2)\" = $(cert_serial "$CERTS/link2.crt") ]"
TLS_ROTATION_S=$((SECONDS - TLS_ROTATED_AT))
[ "$(k -n "$NS" get pods -l app.kubernetes.io/instance=minimal-tls -o jsonpath='{.items[*].metadata.name} {.items[*].status.containerStatuses[0].restartCount}')" = "$TLS_POD 0" ] \
  || fail "the TLS rotation restarted or replaced the pod"
FLOW_HOST=link.example.com FLOW_ADDR=$(svc_ip "$NS" minimal-tls)
[ "$(alexa_refresh alexa-skill "$TLS_SECRET" "$TMP/tls")" = 200 ] || fail "refresh after the TLS rotation"
ok "TLS Secret rotated: the same pod ($TLS_POD, no restart) serves the new certificate after ${TLS_ROTATION_S}s"

# --- client-secret rotation: a new ReplicaSet; the old secret stops working -------------------
old_rs=$(k -n "$NS" get pods -l app.kubernetes.io/instance=minimal-tls -o jsonpath='{.items[0].metadata.labels.pod-template-hash}')
NEW_SECRET=$(openssl rand -hex 32)
k -n "$NS" create secret generic minimal-tls-client --from-literal=secret="$NEW_SECRET" --dry-run=client -o yaml | k apply -f - >/dev/null
wait_for 150 "a new ReplicaSet for minimal-tls (Recreate: after the old pod is gone)" bash -c "kubectl -n $NS get rs -l app.kubernetes.io/instance=minimal-tls -o name 2>/dev/null | wc -l | grep -qx 2"
k -n "$NS" rollout status deploy/minimal-tls --timeout=120s >/dev/null || fail "rollout after the client-secret rotation"
wait_for 60 "only the new pod" bash -c "[ \"\$(kubectl -n $NS get pods -l app.kubernetes.io/instance=minimal-tls -o jsonpath='{.items[*].metadata.labels.pod-template-hash}')\" != $old_rs ] && [ \$(kubectl -n $NS get pods -l app.kubernetes.io/instance=minimal-tls -o name | wc -l) = 1 ]"
k -n "$NS" wait --for=condition=Ready asl/minimal-tls --timeout=60s >/dev/null || fail "minimal-tls not Ready after the rotation"
wait_for 20 "minimal-tls answers" fcurl -f https://link.example.com/.well-known/oauth-authorization-server
old=$(fcurl -o /dev/null -w '%{http_code}' -u "alexa-skill:$TLS_SECRET" https://link.example.com/oauth/token -d grant_type=refresh_token --data-urlencode "refresh_token=$(cat "$TMP/tls.refresh")")
[ "$old" = 401 ] || fail "the old client secret answered $old"
[ "$(alexa_refresh alexa-skill "$NEW_SECRET" "$TMP/tls")" = 200 ] || fail "refresh with the new secret: $(cat "$TMP/tls.refreshed.json")"
TLS_SECRET=$NEW_SECRET
ok "client secret rotated: new ReplicaSet ($old_rs -> $(k -n "$NS" get pods -l app.kubernetes.io/instance=minimal-tls -o jsonpath='{.items[0].metadata.labels.pod-template-hash}')), the old secret gets 401, the new one refreshes the grant made before (kept on the volume)"

# --- the embedded store on the test's PersistentVolume ------------------------------------------
FLOW_HOST=link.example.com FLOW_ADDR=$(svc_ip "$NS" minimal-tls)
tls_pod() { k -n "$NS" get pods -l app.kubernetes.io/instance=minimal-tls -o jsonpath='{.items[0].metadata.name}'; }
before=$(tls_pod)
k -n "$NS" delete pod "$before" --wait=false >/dev/null
wait_for 120 "a new minimal-tls pod, Ready" bash -c "p=\$(kubectl -n $NS get pods -l app.kubernetes.io/instance=minimal-tls -o jsonpath='{range .items[*]}{.metadata.name}/{.status.containerStatuses[0].ready}{\"\n\"}{end}'); [ \"\$p\" != \"$before/true\" ] && [ \"\${p#*/}\" = true ] && [ \$(echo \"\$p\" | wc -l) = 1 ]"
wait_for 30 "minimal-tls answers" fcurl -f https://link.example.com/.well-known/oauth-authorization-server
[ "$(alexa_refresh alexa-skill "$TLS_SECRET" "$TMP/tls")" = 200 ] || fail "the grant did not survive the pod's deletion: $(cat "$TMP/tls.refreshed.json")"
ok "embedded store on the test's PersistentVolume: pod $before deleted, $(tls_pod) refreshes the grant made before"

# A pod killed (SIGKILL) in the middle of a stream of refreshes: every
# refresh token a client got an answer for must still work afterwards.
pod=$(tls_pod)
cid=$(k -n "$NS" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}'); cid=${cid#containerd://}
rm -f "$TMP/acked"
( n=0; while [ "$(alexa_refresh alexa-skill "$TLS_SECRET" "$TMP/tls")" = 200 ]; do n=$((n + 1)); echo "$n" >"$TMP/acked"; done ) &
loop=$!
sleep 2
ctr --address "$NRUN/containerd/containerd.sock" -n k8s.io tasks kill -s SIGKILL "$cid" >/dev/null
wait "$loop" || true
acked=$(cat "$TMP/acked" 2>/dev/null || echo 0)
[ "$acked" -ge 3 ] || fail "only $acked refreshes before the kill"
wait_for 120 "minimal-tls restarted and Ready" bash -c "[ \"\$(kubectl -n $NS get pod $pod -o jsonpath='{.status.containerStatuses[0].restartCount}/{.status.containerStatuses[0].ready}')\" = 1/true ]"
wait_for 30 "minimal-tls answers" fcurl -f https://link.example.com/.well-known/oauth-authorization-server
code=$(alexa_refresh alexa-skill "$TLS_SECRET" "$TMP/tls")
[ "$code" = 200 ] || fail "the last acknowledged refresh token was lost in the kill: $code $(cat "$TMP/tls.refreshed.json")"
[ "$(introspect_active alexa-skill "$TLS_SECRET" "$(cat "$TMP/tls.access")")" = true ] || fail "access token after the kill not active"
ok "SIGKILL of the server after $acked acknowledged refreshes: the container restarted and the last acknowledged refresh token still refreshes"

# --- what it costs: RSS of the running processes ---------------------------------------------------
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$(container_pid "$1" "$2")/status"; }
SERVER_RSS=$(rss "$NS" "$(tls_pod)")
DYN_RSS=$(rss "$NS" "$(k -n "$NS" get pods -l app.kubernetes.io/instance=dynamodb -o jsonpath='{.items[0].metadata.name}')")
OPERATOR_RSS=$(rss "$OPNS" "$OPERATOR_POD")
ok "RSS (VmRSS of the container processes, $BUILD): server (embedded store) $SERVER_RSS MiB, server (DynamoDB) $DYN_RSS MiB, operator $OPERATOR_RSS MiB"

# --- deleting links: pods and children go; deletionPolicy decides about the store ---------------
k -n "$NS" delete asl minimal mutual dynamodb --wait=false >/dev/null
wait_for 120 "pods of minimal, mutual and dynamodb gone" bash -c "[ -z \"\$(kubectl -n $NS get pods -l 'app.kubernetes.io/instance in (minimal,mutual,dynamodb)' -o name)\" ]"
for obj in deployment/minimal service/minimal configmap/minimal-config serviceaccount/minimal deployment/mutual service/mutual networkpolicy/mutual; do
  wait_for 60 "$obj collected" bash -c "! kubectl -n $NS get $obj"
done
k -n "$NS" get pvc minimal-data >/dev/null || fail "Retain: minimal-data was deleted"
k -n "$NS" get secret minimal-keys >/dev/null || fail "Retain: minimal-keys was deleted"
wait_for 60 "Delete: mutual-data collected" bash -c "! kubectl -n $NS get pvc mutual-data"
ok "deleting links removes their pods and children; Retain (minimal) keeps the claim and keys, Delete (mutual) removes the claim"

# Retain with DynamoDB: the table's items outlive the link, and the same
# link made again (same table, its kept keys Secret) serves the grants made
# before: the refresh token issued by the deleted link still refreshes.
k -n "$NS" get secret dynamodb-keys >/dev/null || fail "Retain: dynamodb-keys was deleted"
k -n "$NS" apply -f "$TMP/dynamodb.yaml" >/dev/null
k -n "$NS" wait --for=condition=Ready asl/dynamodb --timeout=120s >/dev/null || fail "re-created dynamodb link not Ready"
FLOW_HOST=dynamodb.example.com FLOW_PORT=443 FLOW_ADDR=$(svc_ip "$NS" dynamodb)
wait_for 20 "the re-created dynamodb link answers" fcurl -f https://dynamodb.example.com/.well-known/oauth-authorization-server
[ "$(alexa_refresh alexa-skill "$DYN_SECRET" "$TMP/dyn")" = 200 ] || fail "Retain: the re-created link cannot refresh the old grant: $(cat "$TMP/dyn.refreshed.json")"
[ "$(introspect_active alexa-skill "$DYN_SECRET" "$(cat "$TMP/dyn.access")")" = true ] || fail "Retain: introspection after re-creation"
ok "Retain with DynamoDB: the link deleted and made again (same table, kept keys) refreshes the grant the deleted one issued"

# Delete with DynamoDB: a second link on the same table, deletionPolicy
# Delete. Deleting it deletes exactly its items (a finalizer stops its
# servers, then a purge Job runs as its ServiceAccount); the items of the
# link sharing the table stay, and that link still refreshes its grant.
ddb_count() { # OWNER: items in the shared table whose lk is OWNER (DynamoDB Local, raw Scan)
  python3 - "http://$BRIDGE_IP:$DYNAMO_PORT" alexa-link-node-e2e "$1" <<'PY'
import json, sys, urllib.request
url, table, owner = sys.argv[1:]
count, start = 0, None
while True:
    body = {"TableName": table, "Select": "COUNT", "FilterExpression": "lk = :o",
            "ExpressionAttributeValues": {":o": {"S": owner}}}
    if start: body["ExclusiveStartKey"] = start
    req = urllib.request.Request(url, json.dumps(body).encode(), {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.Scan",
        "Authorization": "AWS4-HMAC-SHA256 Credential=nodee2e/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
    out = json.load(urllib.request.urlopen(req, timeout=10))
    count += out["Count"]
    start = out.get("LastEvaluatedKey")
    if not start: break
print(count)
PY
}
python3 - "$TMP/dynamodb.yaml" >"$TMP/doomed.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["metadata"]["name"] = "dynamodb-doomed"
# Keys are not per link: the same user and client in one table share their
# consent item. A client of its own keeps this link's consent its own.
d["spec"]["clients"][0]["clientId"] = "doomed-skill"
d["spec"]["deletionPolicy"] = "Delete"
d["spec"]["replicas"] = 1
print(yaml.safe_dump(d))
PY
k -n "$NS" apply -f "$TMP/doomed.yaml" >/dev/null
k -n "$NS" wait --for=condition=Ready asl/dynamodb-doomed --timeout=120s >/dev/null || fail "dynamodb-doomed not Ready: $(k -n "$NS" get asl dynamodb-doomed -o wide)"
[[ " $(k -n "$NS" get asl dynamodb-doomed -o jsonpath='{.metadata.finalizers}') " == *skilllink.dev/dynamodb-items* ]] || fail "Delete with DynamoDB: no finalizer"
[ -z "$(k -n "$NS" get asl dynamodb -o jsonpath='{.metadata.finalizers}')" ] || fail "Retain: a finalizer"
FLOW_HOST=dynamodb.example.com FLOW_PORT=443 FLOW_ADDR=$(svc_ip "$NS" dynamodb-doomed)
wait_for 20 "dynamodb-doomed answers" fcurl -f https://dynamodb.example.com/.well-known/oauth-authorization-server
alexa_code doomed-skill user password "$TMP/doomed"
alexa_token doomed-skill "$DYN_SECRET" "$TMP/doomed"
[ "$(alexa_refresh doomed-skill "$DYN_SECRET" "$TMP/doomed")" = 200 ] || fail "dynamodb-doomed refresh"
doomed_before=$(ddb_count "$NS/dynamodb-doomed") kept_before=$(ddb_count "$NS/dynamodb")
[ "$doomed_before" -ge 5 ] && [ "$kept_before" -ge 3 ] || fail "items per link before the delete: doomed $doomed_before, kept $kept_before"
t0=$(now_ms)
k -n "$NS" delete asl dynamodb-doomed --wait=false >/dev/null
wait_for 180 "dynamodb-doomed deleted (finalizer released)" bash -c "! kubectl -n $NS get asl dynamodb-doomed >/dev/null 2>&1"
PURGE_MS=$(( $(now_ms) - t0 ))
doomed_after=$(ddb_count "$NS/dynamodb-doomed") kept_after=$(ddb_count "$NS/dynamodb")
[ "$doomed_after" = 0 ] || fail "Delete: $doomed_after of $doomed_before items of dynamodb-doomed left"
[ "$kept_after" = "$kept_before" ] || fail "Delete touched the other link's items: $kept_before -> $kept_after"
k -n "$NS" get events -o json | jq -r '.items[] | select(.involvedObject.name == "dynamodb-doomed") | .reason' | sort -u >"$TMP/doomed.events"
grep -qx ItemsPurged "$TMP/doomed.events" || fail "no ItemsPurged event: $(tr '\n' ' ' <"$TMP/doomed.events")"
FLOW_ADDR=$(svc_ip "$NS" dynamodb)
[ "$(alexa_refresh alexa-skill "$DYN_SECRET" "$TMP/dyn")" = 200 ] || fail "Delete of the neighbour broke the kept link's refresh: $(cat "$TMP/dyn.refreshed.json")"
ok "Delete with DynamoDB: kubectl delete removed all $doomed_before items of dynamodb-doomed from the shared table in $PURGE_MS ms (events: $(tr '\n' ' ' <"$TMP/doomed.events")); the $kept_before items of dynamodb stay and it still refreshes"

# --- the README's cluster quickstart, as it stands, image import included ------------------------
# One operator at a time: the suite's release goes first.
helm uninstall alo -n "$OPNS" >/dev/null
# (the kubelet here takes a while to delete a stopped pod: wait for its process to stop)
wait_for 90 "the suite's operator stopped" bash -c "[ -z \"\$(kubectl -n $OPNS get pods -o jsonpath='{.items[*].status.containerStatuses[*].state.running}')\" ]"
pv quickstart-data alexa minimal-data   # a cloud cluster's provisioner would make it
python3 - README.md "$TMP/quickstart.sh" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("<!-- quickstart:")
block = text[text.index("```sh\n", start) + 6:]
open(sys.argv[2], "w").write(block[:block.index("\n```")] + "\n")
PY
grep -q '^ctr -n k8s.io images import ' "$TMP/quickstart.sh" || fail "the quickstart has no image import step"
t0=$(now_ms)
# As written, with the debug binaries (a release build takes ~8 minutes here)
# and ctr pointed at this node's containerd socket.
(cd "$ROOT" && ALEXA_LINK_IMAGE_PROFILE=debug CONTAINERD_ADDRESS="$NRUN/containerd/containerd.sock" \
  bash -euo pipefail "$TMP/quickstart.sh") >"$TMP/qs.out" 2>&1 || fail "README quickstart: $(cat "$TMP/qs.out")"
QS_MS=$(( $(now_ms) - t0 ))
sed 's/^/  | /' "$TMP/qs.out" | grep -v -e 'Warning: ' -e 'version difference' | tail -12
grep -q "alexaskilllink.skilllink.dev/minimal created" "$TMP/qs.out" || fail "quickstart: no link created"
grep -Eq 'minimal +True +link.example.com' "$TMP/qs.out" || fail "quickstart: get asl -o wide"
grep -q '"authorization":"https://link.example.com/oauth/authorize"' "$TMP/qs.out" || fail "quickstart: no authorization endpoint"
grep -q '"token":"https://link.example.com/oauth/token"' "$TMP/qs.out" || fail "quickstart: no token endpoint"
[ "$(k -n alexa get deploy minimal -o jsonpath='{.spec.template.spec.containers[0].image}')" = "ghcr.io/alexa-link/alexa-link:$VERSION" ] || fail "quickstart server image"
ok "README quickstart as written (scripts/image, ctr import, helm install, Secrets, link, wait, get asl, endpoints) on the node in $QS_MS ms"

echo "figures ($BUILD): image $IMAGE_MB MiB; helm install -> operator Ready ${INSTALL_MS} ms; kubectl apply -> Ready: minimal+minimal-tls ${LINK_READY_MS} ms, dynamodb ${DYN_READY_MS} ms, production (OIDC, 3 replicas) + LDAP variant ${PROD_READY_MS} ms, scaled 1 -> 3 in ${DYN_SCALE_MS} ms; TLS rotation seen after ${TLS_ROTATION_S} s; RSS server ${SERVER_RSS} MiB (DynamoDB ${DYN_RSS} MiB), operator ${OPERATOR_RSS} MiB"
echo "node suite: $pass passed"
