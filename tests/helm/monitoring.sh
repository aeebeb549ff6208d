#!/usr/bin/env bash
# The chart's monitoring (values monitoring.dashboards, monitoring.prometheusRule):
#
#   monitoring.sh chart             offline: render both; the dashboard JSON parses
#                                   and every panel queries; the PrometheusRule
#                                   validates against tests/helm/prometheusrule.schema.json
#                                   (written here from the Prometheus Operator's
#                                   documented fields); `promtool check rules` passes
#                                   on its groups; every server metric they query
#                                   exists in /metrics of a running --dev server.
#   monitoring.sh operator ADDR     every operator metric they query exists in
#                                   /metrics of the operator at ADDR (tests/helm/run.sh
#                                   calls this once its operator has reconciled).
#
# promtool comes from Debian's `prometheus` package, unpacked (dpkg-deb -x)
# into $PROMTOOL_DIR rather than installed, so no Prometheus service is ever
# set up or started. Needs helm and python3 with PyYAML and jsonschema
# (tests/helm/run.sh installs kubernetes-validate, which brings both).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CHART=$ROOT/charts/alexa-link-operator
SERVER_BIN=${ALEXA_LINK_SERVER_BIN:-$ROOT/target/debug/alexa-link-server}
PROMTOOL_DIR=${PROMTOOL_DIR:-/var/tmp/alexa-link-promtool}
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

render() { # the dashboards ConfigMap and the PrometheusRule, with both on
  helm template t "$CHART" --namespace monitoring-test \
    --set monitoring.dashboards.enabled=true --set monitoring.prometheusRule.enabled=true \
    --set-string 'monitoring.prometheusRule.labels.release=prometheus' \
    --show-only templates/grafana-dashboard.yaml --show-only templates/prometheusrule.yaml
}

# Splits the render into dashboard JSON files, the rule object (JSON) and the
# rule groups (promtool's format), and lists the metric names queried.
split() {
  python3 - "$TMP" <<'PY'
import json, re, sys, yaml
tmp = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{tmp}/render.yaml")) if d]
kinds = sorted(d["kind"] for d in docs)
assert kinds == ["ConfigMap", "PrometheusRule"], kinds
exprs = []
for d in docs:
    if d["kind"] == "ConfigMap":
        assert d["metadata"]["labels"].get("grafana_dashboard") == "1", "the sidecar label"
        for name, text in d["data"].items():
            dash = json.loads(text)
            assert dash.get("uid") and dash.get("title"), f"{name}: uid and title"
            panels = [p for p in dash["panels"] if p["type"] != "row"]
            assert len(panels) >= 6, f"{name}: {len(panels)} panels"
            for p in panels:
                assert p.get("targets"), f"{name}: panel {p['title']!r} has no query"
                for t in p["targets"]:
                    exprs.append(t["expr"])
                    # Grafana fills {{label}} in a legend from the series:
                    # only a label the query keeps can be named there.
                    legend = t.get("legendFormat", "")
                    assert "{{{" not in legend, f"{name}: legend {legend!r} of {p['title']!r}"
                    kept = {l.strip() for b in re.findall(r"\bby\s*\(([^)]*)\)", t["expr"]) for l in b.split(",")}
                    for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend):
                        assert not kept or label in kept, f"{name}: legend {legend!r} of {p['title']!r} names {label}, which its query drops"
            json.dump(dash, open(f"{tmp}/{name}", "w"))
    else:
        json.dump(d, open(f"{tmp}/rule.json", "w"))
        yaml.safe_dump({"groups": d["spec"]["groups"]}, open(f"{tmp}/groups.yaml", "w"))
        for g in d["spec"]["groups"]:
            for r in g["rules"]:
                exprs.append(r["expr"])
                assert r["annotations"]["runbook_url"].split("#")[1] == r["alert"].lower(), r["alert"]
names = set()
for e in exprs:
    # Metric names, not label names or functions: alexa_link_... outside {...}.
    names.update(re.findall(r"\b(alexa_link_[a-z0-9_]+)\b", re.sub(r"\{[^}]*\}", "{}", e)))
with open(f"{tmp}/metrics.txt", "w") as f:
    for n in sorted(names):
        f.write(n + "\n")
print(f"{len(exprs)} queries, {len(names)} metrics")
PY
}

# Checks that every queried metric of one kind has a `# TYPE` line in $1
# (a /metrics page): the exposed name without _total/_bucket/_sum/_count.
metrics_exist() { # metrics_exist FILE PATTERN WHAT
  local page=$1 pattern=$2 what=$3 missing=() n=0
  while read -r m; do
    [[ $m =~ $pattern ]] || continue
    n=$((n + 1))
    local base=${m%_total}; base=${base%_bucket}; base=${base%_sum}; base=${base%_count}
    grep -q "^# TYPE $base " "$page" || missing+=("$m")
  done < "$TMP/metrics.txt"
  [ ${#missing[@]} -eq 0 ] || fail "queried but not in the $what's /metrics: ${missing[*]}"
  [ "$n" -gt 0 ] || fail "no $what metric is queried"
  echo "ok - the $n $what metrics the dashboard and alerts query exist in its /metrics"
}

promtool_bin() {
  if command -v promtool >/dev/null 2>&1; then command -v promtool; return; fi
  if [ ! -x "$PROMTOOL_DIR/usr/bin/promtool" ]; then
    mkdir -p "$PROMTOOL_DIR"
    ( cd "$PROMTOOL_DIR" && rm -f prometheus_*.deb &&
      { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }; } &&
      dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb ) >&2
  fi
  echo "$PROMTOOL_DIR/usr/bin/promtool"
}

case "${1:-}" in
  chart)
    render >"$TMP/render.yaml"
    split
    echo "ok - the dashboard JSON parses and every panel has a query"
    python3 - "$TMP/rule.json" "$ROOT/tests/helm/prometheusrule.schema.json" <<'PY'
import json, sys, jsonschema
rule, schema = (json.load(open(p)) for p in sys.argv[1:3])
jsonschema.validate(rule, schema)
bad = json.loads(json.dumps(rule)); bad["spec"]["groups"][0]["rules"][0]["fro"] = "5m"
try:
    jsonschema.validate(bad, schema)
except jsonschema.ValidationError:
    pass
else:
    sys.exit("the schema accepts an unknown rule field")
PY
    echo "ok - the PrometheusRule validates against its schema (which refuses a misspelt field)"
    PROMTOOL=$(promtool_bin)
    "$PROMTOOL" check rules "$TMP/groups.yaml" >"$TMP/promtool.log" 2>&1 || { cat "$TMP/promtool.log"; fail "promtool check rules"; }
    printf 'groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: rate(x[5m]\n' >"$TMP/broken.yaml"
    if "$PROMTOOL" check rules "$TMP/broken.yaml" >/dev/null 2>&1; then fail "promtool accepts a broken expression"; fi
    echo "ok - promtool check rules passes on every alert ($(grep -c 'alert' "$TMP/groups.yaml") rules; $("$PROMTOOL" --version 2>&1 | head -1))"
    [ -x "$SERVER_BIN" ] || fail "no server binary at $SERVER_BIN (cargo build -p alexa-link-server)"
    admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$SERVER_BIN" --dev --port 0 --admin-listen "127.0.0.1:$admin" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/metrics" >"$TMP/server-metrics.txt" && break; sleep 0.1; done
    [ -s "$TMP/server-metrics.txt" ] || { cat "$TMP/server.log"; fail "the --dev server's /metrics did not answer"; }
    metrics_exist "$TMP/server-metrics.txt" '^alexa_link_([^o]|o[^p])' 'server' 2>&1 | sed 's/ server / server (--dev) /'
    # The operator's are checked against a running operator (tests/helm/run.sh).
    ;;
  operator)
    addr=${2:?usage: monitoring.sh operator ADDR}
    render >"$TMP/render.yaml"
    split >/dev/null
    curl -sf "http://$addr/metrics" >"$TMP/operator-metrics.txt" || fail "the operator's /metrics at $addr did not answer"
    metrics_exist "$TMP/operator-metrics.txt" '^alexa_link_operator_' 'operator'
    ;;
  *) echo "usage: $0 chart | operator ADDR" >&2; exit 2 ;;
esac
