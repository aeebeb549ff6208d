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
# Local) bind the bridge address 10.88.0.1. Everything is stopped on exit,
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
CP_STARTED= NODE_STARTED= LWA_PID= DYNAMO_PID=
source "$ROOT/tests/node/lib.sh"
export KUBECONFIG=$K8S_WORK/run/kubeconfig

cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ] && [ -n "$NODE_STARTED" ]; then diagnose; fi
  [ -n "$LWA_PID" ] && { exec 3>&- 4<&-; kill "$LWA_PID" 2>/dev/null; wait "$LWA_PID" 2>/dev/null; }
  [ -n "$DYNAMO_PID" ] && "$ROOT/scripts/dynamodb-local" stop "$DYNAMO_PID" >/dev/null 2>&1
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
cargo build -q --locked -p alexa-link-server -p alexa-link-operator --bins
cargo build -q --locked -p alexa-link-server --example lwa_standin
IMAGE=${NODE_E2E_IMAGE:-$TMP/alexa-link.tar}
if [ -z "${NODE_E2E_IMAGE:-}" ]; then
  # Also tagged with the name the operator deploys by default, so that links
  # without spec.image find it on the node (IfNotPresent, no pull).
  scripts/image --debug --tag "$IMAGE_TAG" --tag "ghcr.io/alexa-link/alexa-link:$VERSION" --out "$IMAGE" >/dev/null
fi
IMAGE_MB=$(( $(stat -c %s "$IMAGE") / 1048576 ))
ok "image built in $(( $(now_ms) - t0 )) ms: $IMAGE_MB MiB (debug binaries, tags $IMAGE_TAG and ghcr.io/alexa-link/alexa-link:$VERSION)"

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

echo "node suite: $pass passed"
