#!/usr/bin/env bash
# Benchmark (not a timed test): on a real control plane from ../shared/tools
# (no node: pods stay Pending, which the operator reports as such), measures
#   1. live: with the operator running, N AlexaSkillLinks (default 1,000) are
#      created by $CREATORS concurrent `kubectl create` processes; the time
#      to create them and the time from the first create until every one has
#      status.observedGeneration == metadata.generation;
#   2. the operator's peak RSS (VmHWM) and its API writes per resource (its
#      own write counter), and what a restart with nothing changed writes
#      (should be 0);
#   3. cold sync: N more links created in a second namespace while no
#      operator watches it, then an operator started on that namespace; the
#      time from its start until all are current.
# Usage: tests/operator/bench.sh [N]    (PROFILE=debug to skip the release build;
#        OPERATOR_BIN=path to run a prebuilt operator, e.g. a before/after pair;
#        OPERATOR_ARGS="--concurrency 64" to try the operator's knobs;
#        CREATORS=8 concurrent kubectl processes; COLD=0 skips the cold sync)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=$(cd "$ROOT/../shared/tools" && pwd)
N=${1:-1000}
export K8S_WORK=${K8S_WORK:-/var/tmp/alexa-link-operator-bench}
export K8S_PORT=${K8S_PORT:-27443} ETCD_PORT=${ETCD_PORT:-23379}
ADMIN=127.0.0.1:${OPERATOR_ADMIN_PORT:-28281}
WORK=$(mktemp -d)
OPERATOR_PID=
cleanup() {
  [ -n "$OPERATOR_PID" ] && kill "$OPERATOR_PID" 2>/dev/null
  "$TOOLS/stop-k8s-controlplane.sh" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v kubectl >/dev/null || "$TOOLS/install-helm.sh"
"$TOOLS/build-k8s-controlplane.sh" >/dev/null
"$TOOLS/start-k8s-controlplane.sh"
export KUBECONFIG=$K8S_WORK/run/kubeconfig
PROFILE=${PROFILE:-release}
if [ -n "${OPERATOR_BIN:-}" ]; then
  PROFILE="prebuilt $OPERATOR_BIN"
elif [ "$PROFILE" = release ]; then
  cargo build -q --release -p alexa-link-operator; OPERATOR_BIN=$ROOT/target/release/alexa-link-operator
else
  cargo build -q -p alexa-link-operator; OPERATOR_BIN=$ROOT/target/$PROFILE/alexa-link-operator
fi
kubectl apply --validate=false -f crds/alexaskilllinks.yaml >/dev/null
source "$ROOT/tests/lib/tap.sh"
crd_established alexaskilllinks.skilllink.dev
kubectl create namespace bench >/dev/null

# Shared Secrets, then N resources in one file.
awk 'BEGIN{RS="---\n"; ORS="---\n"} !/kind: AlexaSkillLink/' examples/minimal-link.yaml > "$WORK/secrets.yaml"
kubectl -n bench apply -f "$WORK/secrets.yaml" >/dev/null
asl=$(awk 'BEGIN{RS="---\n"} /kind: AlexaSkillLink/ {print}' examples/minimal-link.yaml)
CREATORS=${CREATORS:-8}
# N links named PREFIX-0001... in CREATORS files under DIR (round robin).
make_links() { # PREFIX DIR
  mkdir -p "$2"
  for i in $(seq -w 1 "$N"); do
    printf -- '---\n%s\n' "$asl" | sed -e "s/^  name: minimal\$/  name: $1-$i/" -e "s/host: link.example.com/host: $1-$i.example.com/" \
      >> "$2/part-$(( 10#$i % CREATORS )).yaml"
  done
}
# Creates every file of DIR in NAMESPACE, CREATORS kubectl processes at once.
create_all() { # NAMESPACE DIR
  local pids=() f p
  for f in "$2"/part-*.yaml; do kubectl -n "$1" create -f "$f" >/dev/null & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || { echo "kubectl create failed" >&2; exit 1; }; done
}
make_links link "$WORK/live"

writes() { curl -sf "http://$ADMIN/metrics" | awk '/^alexa_link_operator_api_writes_total/ {s += $2} END {print s + 0}'; }
current() { # [NAMESPACE]: resources whose status describes their generation
  kubectl -n "${1:-bench}" get asl -o jsonpath='{range .items[*]}{.metadata.generation} {.status.observedGeneration}{"\n"}{end}' \
    | awk '$1 == $2 {n++} END {print n + 0}'
}

RUST_LOG=warn "$OPERATOR_BIN" run --admin-listen "$ADMIN" --namespace bench \
  --lease-namespace bench ${OPERATOR_ARGS:-} > "$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
for _ in $(seq 100); do curl -sf "http://$ADMIN/readyz" >/dev/null && break; sleep 0.1; done

load_start=$(cut -d' ' -f1 /proc/loadavg)
start=$(date +%s.%N)
create_all bench "$WORK/live"
created=$(date +%s.%N)
while [ "$(current)" -lt "$N" ]; do sleep 1; done
done_at=$(date +%s.%N)
# Let follow-up events settle (the deployment controller updating 1,000
# Deployment statuses, each a real change the operator reports): wait until
# the write counter has not moved for 10 s.
last=-1; quiet=0
while [ "$quiet" -lt 10 ]; do
  now=$(writes); if [ "$now" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; last=$now; fi; sleep 1
done
settled_at=$(date +%s.%N)
total_writes=$(writes)
# Reads the API server answered (all clients; kubectl create and the
# controller manager read little): the operator's share of the load.
api_gets=$(kubectl get --raw /metrics | awk '/^apiserver_request_total\{/ && /verb="GET"/ {s += $2} END {print s + 0}')
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$OPERATOR_PID/status")
# Where the time went: the operator's reconciles (count, mean duration) and
# the API server's mean latency per verb (all clients).
reconciles=$(curl -sf "http://$ADMIN/metrics" | awk '
  /^alexa_link_operator_reconciles_total/ {n = $2}
  /^alexa_link_operator_reconcile_duration_seconds_sum/ {s = $2}
  /^alexa_link_operator_reconcile_duration_seconds_count/ {c = $2}
  END {printf "%d reconciles, mean %.0f ms", n, c ? 1000 * s / c : 0}')
api_latency=$(kubectl get --raw /metrics | awk '
  /^apiserver_request_duration_seconds_sum\{/ { match($0, /verb="[A-Z]+"/); v = substr($0, RSTART + 6, RLENGTH - 7); s[v] += $2 }
  /^apiserver_request_duration_seconds_count\{/ { match($0, /verb="[A-Z]+"/); v = substr($0, RSTART + 6, RLENGTH - 7); c[v] += $2 }
  END { for (v in c) if (v == "GET" || v == "PATCH" || v == "APPLY" || v == "POST" || v == "LIST") printf "%s %.0f ms (%d)  ", v, 1000 * s[v] / c[v], c[v] }')
kill "$OPERATOR_PID"; wait "$OPERATOR_PID" 2>/dev/null || true

# Restart with nothing changed: count its writes.
RUST_LOG=warn "$OPERATOR_BIN" run --admin-listen "$ADMIN" --namespace bench \
  --lease-namespace bench ${OPERATOR_ARGS:-} >> "$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
for _ in $(seq 100); do curl -sf "http://$ADMIN/readyz" >/dev/null && break; sleep 0.1; done
sleep 20
restart_writes=$(writes)
load_end=$(cut -d' ' -f1 /proc/loadavg)
restart_reconciles=$(curl -sf "http://$ADMIN/metrics" | awk '/^alexa_link_operator_reconciles_total/ {print $2}')
kill "$OPERATOR_PID"; wait "$OPERATOR_PID" 2>/dev/null || true; OPERATOR_PID=

# Cold sync: N links that exist before the operator starts.
cold="not run (COLD=0)"; cold_load=-
if [ "${COLD:-1}" != 0 ]; then
  kubectl create namespace bench-cold >/dev/null
  kubectl -n bench-cold apply -f "$WORK/secrets.yaml" >/dev/null
  make_links cold "$WORK/cold"
  create_all bench-cold "$WORK/cold"
  RUST_LOG=warn "$OPERATOR_BIN" run --admin-listen "$ADMIN" --namespace bench-cold \
    --lease-namespace bench-cold ${OPERATOR_ARGS:-} >> "$WORK/operator.log" 2>&1 &
  OPERATOR_PID=$!
  cold_start=$(date +%s.%N)
  while [ "$(current bench-cold)" -lt "$N" ]; do sleep 1; done
  cold="$(awk -v s="$cold_start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s from the operator's start"
  cold_load=$(cut -d' ' -f1 /proc/loadavg)
fi

awk -v n="$N" -v s="$start" -v c="$created" -v d="$done_at" -v w="$total_writes" -v r="$rss_kib" \
    -v q="$settled_at" -v rw="$restart_writes" -v rr="$restart_reconciles" -v p="$PROFILE" \
    -v l0="$load_start" -v l1="$load_end" -v cpus="$(nproc)" -v g="$api_gets" -v k="$CREATORS" \
    -v cold="$cold" -v lc="$cold_load" -v rc="$reconciles" -v al="$api_latency" 'BEGIN {
  printf "resources:                         %d (operator built %s)\n", n, p
  printf "kubectl create of all:             %.1f s (%d concurrent kubectl create)\n", c - s, k
  printf "all observedGeneration current:    %.1f s after the first create\n", d - s
  printf "writes settled (10 s quiet):       %.1f s after the first create\n", q - s - 10
  printf "operator peak RSS:                 %.1f MiB\n", r / 1024
  printf "API writes:                        %d (%.2f per resource)\n", w, w / n
  printf "API server GETs (all clients):     %d (%.1f per resource)\n", g, g / n
  printf "operator reconciles:               %s\n", rc
  printf "API server mean latency:           %s\n", al
  printf "restart, nothing changed:          %d reconciles, %d writes\n", rr, rw
  printf "cold sync, %d existing links:      %s\n", n, cold
  printf "machine load (1 min avg):          %s at start, %s after the restart, %s after the cold sync; %d cores\n", l0, l1, lc, cpus
}'
