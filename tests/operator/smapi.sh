#!/usr/bin/env bash
# The operator configures a skill's account linking through SMAPI
# (spec.alexaSkill), end to end: a real control plane (kube-apiserver + etcd
# v1.20.2 from ../shared/tools), the operator as a process, and the in-repo
# SMAPI + Login with Amazon stand-in (server/examples/smapi_standin.rs), which
# follows the documented contract and records every call it receives.
#
#   configure -> a no-op reconcile sends nothing -> a client-secret rotation
#   re-sends -> a validation error is a condition (and is not retried) ->
#   a console edit is corrected (Enforce) or reported (Observe) -> 429 with
#   Retry-After is waited out.
#
# No kubelet: the link's pods stay Pending, which SMAPI does not care about.
# Ports: SMAPI_K8S_PORT (30443), SMAPI_ETCD_PORT (27379, +2), SMAPI_ADMIN_PORT
# (28381). Stops what it started by PID, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=$(cd "$ROOT/../shared/tools" && pwd)
export K8S_WORK=${SMAPI_K8S_WORK:-/var/tmp/alexa-link-smapi-e2e}
export K8S_PORT=${SMAPI_K8S_PORT:-30443} ETCD_PORT=${SMAPI_ETCD_PORT:-27379} NO_KCM=1
ADMIN=127.0.0.1:${SMAPI_ADMIN_PORT:-28381}
LOGS=$(mktemp -d)
NS=smapi
OPERATOR_PID= STANDIN_PID=

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "--- operator log (tail)"; tail -40 "$LOGS/operator.log" 2>/dev/null || true
    echo "--- SMAPI calls"; cat "$LOGS/received.json" 2>/dev/null || true
    echo "--- status"; kubectl -n "$NS" get asl -o jsonpath='{.items[*].status}' 2>/dev/null || true
  fi
  [ -n "$OPERATOR_PID" ] && kill "$OPERATOR_PID" 2>/dev/null || true
  # Closing its stdin ends the stand-in; kill it too if it lingers.
  exec {STANDIN_IN}>&- 2>/dev/null || true
  [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null || true
  "$TOOLS/stop-k8s-controlplane.sh" || true
  rm -rf "$LOGS"
}
trap cleanup EXIT

source "$ROOT/tests/lib/tap.sh"

command -v kubectl >/dev/null || "$TOOLS/install-helm.sh"
command -v jq >/dev/null || fail "jq is needed (scripts/test installs it)"
"$TOOLS/build-k8s-controlplane.sh"
"$TOOLS/start-k8s-controlplane.sh"
export KUBECONFIG=$K8S_WORK/run/kubeconfig
k() { kubectl -n "$NS" "$@"; }

cargo build -q -p alexa-link-operator --bins
cargo build -q -p alexa-link-server --example smapi_standin

# --- the stand-in: SMAPI and LWA's token endpoint on a loopback port
mkfifo "$LOGS/standin.in"
"$ROOT/target/debug/examples/smapi_standin" 127.0.0.1:0 <"$LOGS/standin.in" >"$LOGS/standin.out" 2>&1 &
STANDIN_PID=$!
exec {STANDIN_IN}>"$LOGS/standin.in"
wait_for 30 "stand-in READY" grep -qx READY "$LOGS/standin.out"
field() { awk -v k="$1" '$1 == k {print $2}' "$LOGS/standin.out"; }
SMAPI_URL=$(field SMAPI_URL) LWA_URL=$(field LWA_TOKEN_URL) SKILL_ID=$(field SKILL_ID) VENDOR_ID=$(field VENDOR_ID)
received() { curl -sf "$SMAPI_URL/_standin/received" | tee "$LOGS/received.json"; }
puts() { received | jq '[.[] | select(.method == "PUT")] | length'; }
last_put() { received | jq -c '[.[] | select(.method == "PUT")] | last'; }
console_edit() { curl -sf -X POST "$SMAPI_URL/_standin/console-edit" -H 'content-type: application/json' -d "$1"; }
condition() { k get asl skill -o jsonpath='{.status.conditions[?(@.type=="SkillConfigured")].status}/{.status.conditions[?(@.type=="SkillConfigured")].reason}'; }
poke() { k annotate asl skill --overwrite "e2e/poke=$RANDOM$RANDOM" >/dev/null; }
ok "SMAPI stand-in on $SMAPI_URL (skill $SKILL_ID)"

kubectl apply --validate=false -f crds/alexaskilllinks.yaml >/dev/null
crd_established alexaskilllinks.skilllink.dev
kubectl create namespace "$NS" >/dev/null
wait_for 30 "kubectl explain alexaSkill" bash -c "kubectl explain asl.spec.alexaSkill.stage | grep -i certification"
ok "CRD with spec.alexaSkill installed (kubectl explain documents it)"

RUST_LOG=info,kube=warn "$ROOT/target/debug/alexa-link-operator" run --admin-listen "$ADMIN" --leader-elect false \
  --smapi-endpoint "$SMAPI_URL" --lwa-token-endpoint "$LWA_URL" --smapi-drift-check-seconds 2 >"$LOGS/operator.log" 2>&1 &
OPERATOR_PID=$!
wait_for 30 "operator readyz" curl -sf "http://$ADMIN/readyz"

# --- configure
CLIENT_SECRET=first-client-secret-$RANDOM$RANDOM
k create secret generic skill-client --from-literal=secret="$CLIENT_SECRET" >/dev/null
k create secret generic skill-users --from-file=users.yaml=examples/users.yaml >/dev/null
k create secret generic smapi-credentials --from-literal=client-id="$(field CLIENT_ID)" \
  --from-literal=client-secret="$(field CLIENT_SECRET)" --from-literal=refresh-token="$(field REFRESH_TOKEN)" >/dev/null
k apply -f - >/dev/null <<YAML
apiVersion: skilllink.dev/v1alpha1
kind: AlexaSkillLink
metadata: {name: skill}
spec:
  host: link.example.com
  clients:
    - clientId: alexa-skill
      clientSecretRef: {name: skill-client, key: secret}
      # Needed before the first read-back; Alexa's own redirect URLs for
      # the skill (another vendor id here) are added from SMAPI's answer.
      alexaVendorId: M2OLDVENDOR
      scopes: [profile]
      accessTokenLifetimeSeconds: 1800
  identity: {static: {usersSecretRef: {name: skill-users, key: users.yaml}}}
  partner:
    clientIdRef: {name: skill-client, key: secret}
    clientSecretRef: {name: skill-client, key: secret}
  tls: {ingress: {}}
  storage: {embedded: {}}
  alexaSkill:
    skillId: $SKILL_ID
    credentialsSecretName: smapi-credentials
    domains: [cdn.example.com]
    authorizationUrlsByPlatform:
      - {platformType: iOS, platformAuthorizationUrl: "https://app.example.com/link"}
YAML
wait_for 60 "SkillConfigured=True" bash -c "[ \"\$(kubectl -n $NS get asl skill -o jsonpath='{.status.conditions[?(@.type==\"SkillConfigured\")].status}/{.status.conditions[?(@.type==\"SkillConfigured\")].reason}')\" = True/Configured ]"
[ "$(puts)" = 1 ] || fail "expected one PUT: $(received)"
sent=$(last_put)
want='{"type":"AUTH_CODE","authorizationUrl":"https://link.example.com/oauth/authorize","accessTokenUrl":"https://link.example.com/oauth/token","clientId":"alexa-skill","accessTokenScheme":"HTTP_BASIC","scopes":["profile"],"domains":["cdn.example.com"],"defaultTokenExpirationInSeconds":1800,"reciprocalAccessTokenUrl":"https://link.example.com/api/reciprocal/authorize","skipOnEnablement":false,"authorizationUrlsByPlatform":[{"platformType":"iOS","platformAuthorizationUrl":"https://app.example.com/link"}]}'
[ "$(jq -cS '.body.accountLinkingRequest | del(.clientSecret)' <<<"$sent")" = "$(jq -cS . <<<"$want")" ] || fail "request: $sent"
[ "$(jq -r '.status, .path, .body.accountLinkingRequest.clientSecret' <<<"$sent" | paste -sd' ')" = "204 /v1/skills/$SKILL_ID/stages/development/accountLinkingClient $CLIENT_SECRET" ] || fail "PUT: $sent"
ok "configured: one PUT of every field to the development stage (reciprocal URL with partner, App-to-App URLs)"

[ "$(k get asl skill -o jsonpath='{.status.alexaSkill.vendorId}')" = "$VENDOR_ID" ] || fail "vendorId: $(k get asl skill -o jsonpath='{.status.alexaSkill}')"
[ "$(k get asl skill -o jsonpath='{.status.alexaSkill.redirectUrls[*]}' | wc -w)" = 3 ] || fail "redirectUrls"
wait_for 30 "redirect URLs in the server config" bash -c "kubectl -n $NS get configmap skill-config -o jsonpath='{.data.config\.yaml}' | grep -F 'https://pitangui.amazon.com/api/skill/link/$VENDOR_ID'"
k get configmap skill-config -o jsonpath='{.data.config\.yaml}' >"$LOGS/config.yaml"
"$ROOT/target/debug/alexa-link-server" --config "$LOGS/config.yaml" --check >/dev/null 2>&1 || cargo build -q -p alexa-link-server --bin alexa-link-server
"$ROOT/target/debug/alexa-link-server" --config "$LOGS/config.yaml" --check >/dev/null || fail "the server rejects the rendered config"
ok "Alexa's redirect URLs read back (vendor $VENDOR_ID) are allowed redirect URIs of the client; the server accepts the config"

# --- a no-op reconcile sends nothing and writes nothing
writes() { curl -sf "http://$ADMIN/metrics" | awk '/^alexa_link_operator_api_writes_total/ {s += $2} END {print s + 0}'; }
sleep 2
w0=$(writes) n0=$(received | jq length)
poke; sleep 3
[ "$(puts)" = 1 ] || fail "a no-op reconcile sent a PUT"
[ "$(received | jq "[.[$n0:][] | select(.method == \"GET\")] | length")" -ge 1 ] || fail "no read-back on the no-op reconcile"
[ "$(writes)" = "$w0" ] || fail "a no-op reconcile wrote $(( $(writes) - w0 )) times"
ok "a no-op reconcile reads the skill back (drift check), sends no PUT and writes nothing to the API server"

# --- client-secret rotation re-sends
hash1=$(k get asl skill -o jsonpath='{.status.alexaSkill.lastSyncedHash}')
ROTATED=rotated-client-secret-$RANDOM$RANDOM
k patch secret skill-client --type=merge -p "{\"stringData\":{\"secret\":\"$ROTATED\"}}" >/dev/null
wait_for 30 "PUT after rotation" bash -c "[ \"\$(curl -sf $SMAPI_URL/_standin/received | jq '[.[] | select(.method == \"PUT\")] | length')\" = 2 ]"
[ "$(last_put | jq -r .body.accountLinkingRequest.clientSecret)" = "$ROTATED" ] || fail "rotation sent $(last_put)"
wait_for 30 "new revision" bash -c "[ \"\$(kubectl -n $NS get asl skill -o jsonpath='{.status.alexaSkill.lastSyncedHash}')\" != '$hash1' ]"
ok "rotating the client secret re-sends the account linking (revision $hash1 -> $(k get asl skill -o jsonpath='{.status.alexaSkill.lastSyncedHash}'))"

# --- a validation error is a condition with SMAPI's reason, and is not retried
k patch asl skill --type=merge -p '{"spec":{"alexaSkill":{"domains":["intranet"]}}}' >/dev/null
wait_for 30 "SkillConfigured=False InvalidDomain" bash -c "[ \"\$(kubectl -n $NS get asl skill -o jsonpath='{.status.conditions[?(@.type==\"SkillConfigured\")].status}/{.status.conditions[?(@.type==\"SkillConfigured\")].reason}')\" = False/InvalidDomain ]"
msg=$(k get asl skill -o jsonpath='{.status.conditions[?(@.type=="SkillConfigured")].message}')
[[ $msg == *"not a fully qualified domain name"* ]] || fail "message: $msg"
n=$(puts); poke; sleep 3
[ "$(puts)" = "$n" ] || fail "a rejected request was sent again"
[ "$(last_put | jq .status)" = 400 ] || fail "expected the 400: $(last_put)"
k get asl skill -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}' | grep -x DeploymentNotAvailable >/dev/null || fail "Ready changed"
wait_for 30 "Warning event" bash -c "kubectl -n $NS get events --field-selector reason=InvalidDomain,type=Warning -o name | grep ."
k patch asl skill --type=merge -p '{"spec":{"alexaSkill":{"domains":["cdn.example.com"]}}}' >/dev/null
wait_for 30 "Configured again" bash -c "[ \"\$(kubectl -n $NS get asl skill -o jsonpath='{.status.conditions[?(@.type==\"SkillConfigured\")].reason}')\" = Configured ]"
ok "SMAPI's 400 is SkillConfigured=False InvalidDomain (\"$msg\"), not re-sent, Ready untouched; fixing the spec recovers"

# --- console drift: corrected under Enforce
n=$(puts)
console_edit '{"fields":{"accessTokenScheme":"REQUEST_BODY_CREDENTIALS","scopes":["profile","email"]}}'
poke
wait_for 30 "correcting PUT" bash -c "[ \"\$(curl -sf $SMAPI_URL/_standin/received | jq '[.[] | select(.method == \"PUT\")] | length')\" = $((n + 1)) ]"
[ "$(last_put | jq -c '[.body.accountLinkingRequest.accessTokenScheme, .body.accountLinkingRequest.scopes]')" = '["HTTP_BASIC",["profile"]]' ] || fail "correction: $(last_put)"
wait_for 30 "DriftCorrected event" bash -c "kubectl -n $NS get events --field-selector reason=DriftCorrected -o jsonpath='{.items[*].message}' | grep accessTokenScheme"
[ "$(condition)" = True/Configured ] || fail "after correction: $(condition)"
ok "a console edit (scheme, scopes) is detected on read-back and corrected, with a DriftCorrected event"

# --- console drift: reported, not corrected, under Observe
k patch asl skill --type=merge -p '{"spec":{"alexaSkill":{"mode":"Observe"}}}' >/dev/null
wait_for 30 "Observe InSync" bash -c "[ \"\$(kubectl -n $NS get asl skill -o jsonpath='{.status.conditions[?(@.type==\"SkillConfigured\")].reason}')\" = InSync ]"
n=$(puts)
console_edit '{"fields":{"authorizationUrl":"https://old.example.com/authorize"}}'
poke
wait_for 30 "SkillConfigured=False Drifted" bash -c "[ \"\$(kubectl -n $NS get asl skill -o jsonpath='{.status.conditions[?(@.type==\"SkillConfigured\")].status}/{.status.conditions[?(@.type==\"SkillConfigured\")].reason}')\" = False/Drifted ]"
[ "$(k get asl skill -o jsonpath='{.status.alexaSkill.driftedFields[*]}')" = authorizationUrl ] || fail "driftedFields: $(k get asl skill -o jsonpath='{.status.alexaSkill}')"
sleep 2
[ "$(puts)" = "$n" ] || fail "Observe wrote to SMAPI"
ok "mode Observe reports the edit (SkillConfigured=False Drifted, driftedFields) and sends nothing"

# --- 429 with Retry-After: waited out, then the correction goes through
curl -sf -X POST "$SMAPI_URL/_standin/throttle" -H 'content-type: application/json' -d '{"count":2,"retryAfter":1}'
k patch asl skill --type=merge -p '{"spec":{"alexaSkill":{"mode":"Enforce"}}}' >/dev/null
wait_for 60 "Configured after throttling" bash -c "[ \"\$(kubectl -n $NS get asl skill -o jsonpath='{.status.conditions[?(@.type==\"SkillConfigured\")].reason}')\" = Configured ]"
[ "$(received | jq '[.[] | select(.status == 429)] | length')" = 2 ] || fail "expected two 429s"
[ "$(last_put | jq -r '.status, .body.accountLinkingRequest.authorizationUrl' | paste -sd' ')" = "204 https://link.example.com/oauth/authorize" ] || fail "after 429: $(last_put)"
ok "two 429s with Retry-After: 1 are waited out, then the drift is corrected"

# --- nothing secret left the operator
for s in "$CLIENT_SECRET" "$ROTATED" "$(field CLIENT_SECRET)" "$(field REFRESH_TOKEN)" 'Atza|'; do
  grep -F -- "$s" "$LOGS/operator.log" >/dev/null && fail "the operator log holds a secret"
  k get events -o yaml | grep -F -- "$s" >/dev/null && fail "an event holds a secret"
  k get asl skill -o yaml | grep -F -- "$s" >/dev/null && fail "the status holds a secret"
done
ok "no client secret, SMAPI credential or LWA token in the log, events or status"

echo "operator SMAPI e2e: $pass passed, 0 failed"
