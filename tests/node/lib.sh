# Helpers of tests/node/run.sh (sourced): waiting, diagnostics, test
# certificates and PersistentVolumes, and the Alexa account-linking flow
# driven with curl through a Service's ClusterIP (the host name mapped to
# that IP inside curl, never through DNS).

# k: kubectl without the 1.20-server version-skew warnings.
k() { kubectl "$@" 2> >(grep -v -e '^Warning: ' -e 'version difference' >&2); }

source "$ROOT/tests/lib/tap.sh"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Every failure ends here: what a user would look at first.
diagnose() {
  echo "=== diagnostics"
  k get nodes -o wide 2>&1 | sed 's/^/  /'
  k get asl -A -o wide 2>&1 | sed 's/^/  /'
  k get deploy,rs,pods,svc,pvc -A -o wide 2>&1 | grep -v kube-system | sed 's/^/  /'
  k get pv 2>&1 | sed 's/^/  /'
  for p in $(k get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>/dev/null); do
    local ns=${p%%/*} name=${p#*/}
    echo "--- logs of $p (tail)"
    k -n "$ns" logs "$name" --all-containers --tail=40 2>&1 | sed 's/^/  | /'
    if k -n "$ns" get pod "$name" -o jsonpath='{.status.containerStatuses[*].restartCount}' 2>/dev/null | grep -q '[1-9]'; then
      echo "--- previous logs of $p (tail)"
      k -n "$ns" logs "$name" --all-containers --previous --tail=20 2>&1 | sed 's/^/  | /'
    fi
    if [ "$(k -n "$ns" get pod "$name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" != True ]; then
      echo "--- describe pod $p (not Ready)"
      k -n "$ns" describe pod "$name" 2>&1 | sed 's/^/  /'
    fi
  done
  for d in $(k get deploy -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}/{.status.availableReplicas}/{.spec.replicas}{"\n"}{end}' 2>/dev/null); do
    IFS=/ read -r ns name avail want <<<"$d"
    [ "${avail:-0}" = "$want" ] && continue
    echo "--- describe deployment $ns/$name (not available: ${avail:-0} of $want)"
    k -n "$ns" describe deploy "$name" 2>&1 | sed 's/^/  /'
  done
  for a in $(k get asl -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null); do
    IFS=/ read -r ns name ready <<<"$a"
    [ "$ready" = True ] && continue
    echo "--- describe asl $ns/$name (not Ready)"
    k -n "$ns" describe asl "$name" 2>&1 | sed 's/^/  /'
  done
  echo "--- events (last 30)"
  k get events -A --sort-by=.lastTimestamp 2>&1 | tail -30 | sed 's/^/  /'
}

# A test CA and server certificates signed by it: tls_cert NAME HOST...
# writes $CERTS/NAME.crt and NAME.key (a fresh key and serial every call).
tls_ca() {
  mkdir -p "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=alexa-link node-e2e CA" \
    -keyout "$CERTS/ca.key" -out "$CERTS/ca.crt" 2>/dev/null
}
tls_cert() {
  local name=$1; shift
  local san= h
  # An address gets an IP SAN (a test service on the bridge), a name a DNS one.
  for h in "$@"; do
    if [[ $h =~ ^[0-9.]+$ ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
  done
  san=${san%,}
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" 2>/dev/null
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 2 -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") -out "$CERTS/$name.crt" 2>/dev/null
}
# The serial of the certificate HOST presents at IP:PORT.
served_serial() { # HOST IP PORT
  openssl s_client -connect "$2:$3" -servername "$1" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
cert_serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

# No provisioner here: a hostPath PersistentVolume bound to one claim, kept
# (Retain) after the claim goes. pv NAME NAMESPACE CLAIM
pv() {
  local dir=$PV_DIR/$1
  mkdir -p "$dir"; chown 65532:65532 "$dir"; chmod 0770 "$dir"
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $1, labels: {alexa-link-node-e2e: "1"}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $dir, type: Directory}
  claimRef: {namespace: $2, name: $3}
EOF
}

# The Service's ClusterIP: svc_ip NAMESPACE NAME
svc_ip() { k -n "$1" get svc "$2" -o jsonpath='{.spec.clusterIP}'; }

# --- the Alexa flow ---------------------------------------------------------------
# curl against https://HOST through ADDR:PORT, trusting the test CA.
# Callers set FLOW_HOST, FLOW_ADDR (an IP), FLOW_PORT (default 443).
fcurl() { curl -sS --max-time 20 --cacert "$CERTS/ca.crt" --connect-to "$FLOW_HOST:443:$FLOW_ADDR:${FLOW_PORT:-443}" "$@"; }
hidden() { # NAME FILE: a hidden input's value, HTML entities decoded
  python3 -c 'import html,re,sys; m=re.search(r"name=\"%s\" value=\"([^\"]*)\"" % sys.argv[1], open(sys.argv[2]).read()); print(html.unescape(m.group(1)) if m else "")' "$1" "$2"
}
REDIRECT=https://pitangui.amazon.com/api/skill/link/M2ABCDEFGHIJK

# alexa_code CLIENT_ID USERNAME PASSWORD OUT: authorize, log in, consent;
# writes the authorization code to OUT.code and the PKCE verifier to OUT.verifier.
alexa_code() {
  local client=$1 user=$2 password=$3 out=$4
  local base="https://$FLOW_HOST" jar="$out.jar" state="state-$RANDOM" verifier challenge status location
  verifier=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  challenge=$(printf '%s' "$verifier" | openssl dgst -binary -sha256 | base64 | tr '+/' '-_' | tr -d '=\n')
  fcurl -f -c "$jar" -b "$jar" -G "$base/oauth/authorize" --data-urlencode "redirect_uri=$REDIRECT" \
    -d "response_type=code&client_id=$client&scope=profile&state=$state&code_challenge=$challenge&code_challenge_method=S256" \
    >"$out.login.html" || fail "authorize at $FLOW_HOST via $FLOW_ADDR"
  grep -q 'name="password"' "$out.login.html" || fail "no login form from $FLOW_HOST"
  status=$(fcurl -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" -b "$jar" "$base/oauth/login" \
    --data-urlencode "request=$(hidden request "$out.login.html")" --data-urlencode "csrf=$(hidden csrf "$out.login.html")" \
    --data-urlencode "username=$user" --data-urlencode "password=$password")
  [ "${status%% *}" = 303 ] || fail "login at $FLOW_HOST answered $status"
  alexa_consent "${status#* }" "$state" "$verifier" "$out"
}

# alexa_consent URL STATE VERIFIER OUT: the consent page at URL (after a
# login), allowed; writes the code to OUT.code and VERIFIER to OUT.verifier.
alexa_consent() {
  local url=$1 state=$2 verifier=$3 out=$4 jar="$4.jar" location
  fcurl -f -c "$jar" -b "$jar" "$url" >"$out.consent.html" || fail "consent page"
  grep -q 'value="allow"' "$out.consent.html" || fail "no consent form"
  location=$(fcurl -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "https://$FLOW_HOST/oauth/consent" \
    --data-urlencode "request=$(hidden request "$out.consent.html")" --data-urlencode "csrf=$(hidden csrf "$out.consent.html")" \
    --data-urlencode "decision=allow")
  case "$location" in "$REDIRECT?code=alc_"*"&state=$state&iss=https%3A%2F%2F$FLOW_HOST") ;; *) fail "consent redirected to $location" ;; esac
  printf '%s' "$location" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' >"$out.code"
  printf '%s' "$verifier" >"$out.verifier"
}

# alexa_code_upstream CLIENT_ID LOGIN OUT: like alexa_code for a link whose
# users sign in at an upstream OpenID Provider (tests/oidc/provider.mjs: any
# password). The server sends the browser there; its login form is filled
# in (CA: $CERTS/ca.crt) until it redirects to the server's callback.
alexa_code_upstream() {
  local client=$1 login=$2 out=$3
  local jar="$out.jar" state="state-$RANDOM" verifier challenge next status page action
  verifier=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  challenge=$(printf '%s' "$verifier" | openssl dgst -binary -sha256 | base64 | tr '+/' '-_' | tr -d '=\n')
  next=$(fcurl -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" -b "$jar" -G "https://$FLOW_HOST/oauth/authorize" \
    --data-urlencode "redirect_uri=$REDIRECT" \
    -d "response_type=code&client_id=$client&scope=profile&state=$state&code_challenge=$challenge&code_challenge_method=S256")
  [ "${next%% *}" = 302 ] || fail "authorize at $FLOW_HOST answered $next (expected a redirect upstream)"
  next=${next#* }
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    case "$next" in "https://$FLOW_HOST/oauth/callback?"*) break ;; esac
    status=$(curl -sS --max-time 20 --cacert "$CERTS/ca.crt" -c "$jar" -b "$jar" -o "$out.upstream.html" -w '%{http_code} %{redirect_url}' "$next")
    if [ "${status%% *}" = 200 ]; then
      page=$next
      action=$(sed -n 's/.*action="\([^"]*\)".*/\1/p' "$out.upstream.html" | head -1)
      [ -n "$action" ] || fail "no form on the provider's page $page"
      [[ $action == https://* ]] || action="$(printf '%s' "$page" | sed -E 's#^(https://[^/]+).*#\1#')$action"
      status=$(curl -sS --max-time 20 --cacert "$CERTS/ca.crt" -c "$jar" -b "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' \
        "$action" -d prompt=login --data-urlencode "login=$login" -d password=any)
    fi
    [[ ${status%% *} == 30? ]] || fail "the provider answered $status at $next"
    next=${status#* }
  done
  case "$next" in "https://$FLOW_HOST/oauth/callback?"*) ;; *) fail "the provider never sent the browser back: $next" ;; esac
  status=$(fcurl -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" -b "$jar" "$next")
  [ "${status%% *}" = 303 ] || fail "the callback answered $status"
  alexa_consent "${status#* }" "$state" "$verifier" "$out"
}

# alexa_token CLIENT_ID SECRET OUT: exchanges OUT.code; writes OUT.access, OUT.refresh.
alexa_token() {
  local client=$1 secret=$2 out=$3
  fcurl -f -u "$client:$secret" "https://$FLOW_HOST/oauth/token" -d grant_type=authorization_code -d "code=$(cat "$out.code")" \
    --data-urlencode "redirect_uri=$REDIRECT" -d "code_verifier=$(cat "$out.verifier")" >"$out.tokens.json" \
    || fail "code exchange at $FLOW_HOST: $(cat "$out.tokens.json" 2>/dev/null)"
  jq -r .access_token "$out.tokens.json" >"$out.access"; jq -r .refresh_token "$out.tokens.json" >"$out.refresh"
  [[ $(cat "$out.access") == ala_* && $(cat "$out.refresh") == alr_* ]] || fail "token response: $(cat "$out.tokens.json")"
}

# alexa_refresh CLIENT_ID SECRET OUT: refreshes with OUT.refresh (must rotate);
# prints the HTTP status; on 200 OUT.refresh/OUT.access hold the new tokens.
alexa_refresh() {
  local client=$1 secret=$2 out=$3 code
  code=$(fcurl -o "$out.refreshed.json" -w '%{http_code}' "https://$FLOW_HOST/oauth/token" -d grant_type=refresh_token \
    --data-urlencode "refresh_token=$(cat "$out.refresh")" -d "client_id=$client" --data-urlencode "client_secret=$secret") || code=000
  if [ "$code" = 200 ]; then
    local new
    new=$(jq -r .refresh_token "$out.refreshed.json")
    [[ $new == alr_* && $new != "$(cat "$out.refresh")" ]] || fail "refresh did not rotate: $(cat "$out.refreshed.json")"
    printf '%s' "$new" >"$out.refresh"; jq -r .access_token "$out.refreshed.json" >"$out.access"
  fi
  echo "$code"
}

# introspect_active CLIENT_ID SECRET TOKEN: true/false
introspect_active() {
  fcurl -f -u "$1:$2" "https://$FLOW_HOST/oauth/introspect" --data-urlencode "token=$3" | jq -r .active
}
