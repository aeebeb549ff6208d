# Shared by the load-test scripts: build and start the bench server
# (server/examples/bench_server.rs), read what it prints, stop it.
# Callers set PROFILE (release|dev) before sourcing.

ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  echo "installing wrk (Debian)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
}

# build_bench_server: sets BENCH_BIN. OURS_BENCH_BIN names a prebuilt bench
# server instead (a "before" build for a before/after table): nothing is built.
build_bench_server() {
  if [ -n "${OURS_BENCH_BIN:-}" ]; then
    [ -x "$OURS_BENCH_BIN" ] || { echo "OURS_BENCH_BIN=$OURS_BENCH_BIN is not an executable" >&2; return 1; }
    BENCH_BIN=$OURS_BENCH_BIN
    # The purge benchmark of the same tree, when it was built beside it.
    PURGE_BENCH_BIN=$(dirname "$OURS_BENCH_BIN")/purge_stall
    [ -x "$PURGE_BENCH_BIN" ] || PURGE_BENCH_BIN=
    return 0
  fi
  cargo build -q --profile "$PROFILE" -p alexa-link-server --features test-support --example bench_server --example purge_stall
  local dir; dir=$([ "$PROFILE" = dev ] && echo debug || echo release)
  BENCH_BIN=target/$dir/examples/bench_server
  PURGE_BENCH_BIN=target/$dir/examples/purge_stall
}

ensure_nginx() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && return 0
  echo "installing nginx (Debian)"
  apt-get install -y -qq nginx-light >/dev/null 2>&1 || apt-get install -y -qq nginx >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
}

# start_nginx PORT DIR: nginx with a private config in DIR on 127.0.0.1:PORT
# answering every request with a fixed token-response-sized JSON; sets NGINX_PID.
start_nginx() {
  local port=$1 dir=$2 bin
  bin=$(command -v nginx || echo /usr/sbin/nginx)
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / {
      default_type application/json;
      return 200 '{"access_token":"ala_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG","token_type":"Bearer","expires_in":3600,"scope":"profile"}';
    }
  }
}
CONF
  "$bin" -p "$dir" -c "$dir/nginx.conf" >"$dir/out" 2>&1 &
  NGINX_PID=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "nginx did not start:" >&2; cat "$dir/out" "$dir/error.log" >&2 2>/dev/null; return 1
}

# fsync_rate DIR [SECONDS]: durable 4 KiB writes per second, one at a time,
# in DIR (the store's directory), with the cheapest primitive a log can use:
# an overwrite inside a preallocated, already-written file, then fdatasync
# (no size or block allocation to record, so no file-system journal commit;
# the store's journal writes this way). Prints writes per second.
fsync_rate() {
  python3 - "$1" "${2:-2}" <<'PY'
import os, sys, time
d, seconds = sys.argv[1], float(sys.argv[2])
path = os.path.join(d, "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block, blocks = b"x" * 4096, 256
try:
    for i in range(blocks):
        os.pwrite(fd, block, i * 4096)
    os.fsync(fd)
    n, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        os.pwrite(fd, block, (n % blocks) * 4096)
        os.fdatasync(fd)
        n += 1
finally:
    os.close(fd)
    os.unlink(path)
print(round(n / (time.monotonic() - start)))
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_bench_server NAME: starts it; sets NAME_PID, NAME_DIR and the printed values.
start_bench_server() { start_server "$1" "$BENCH_BIN"; }

# start_server NAME COMMAND...: starts a server that prints KEY VALUE lines,
# then READY, and serves until its stdin closes (the bench server, the peer).
start_server() {
  local name=$1 work; shift
  work=$(mktemp -d)
  mkfifo "$work/stdin"
  "$@" <"$work/stdin" >"$work/out" 2>"$work/err" &
  local pid=$!
  exec {fd}>"$work/stdin"   # holding the fifo open keeps the server serving
  for _ in $(seq 1 600); do grep -qs '^READY' "$work/out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  grep -q '^READY' "$work/out" || { echo "$name did not start:" >&2; cat "$work/err" >&2; return 1; }
  printf -v "${name}_PID" %s "$pid"
  printf -v "${name}_FD" %s "$fd"
  printf -v "${name}_DIR" %s "$work"
  local key
  for key in PARTNER_URL TOKEN_URL INTROSPECT_URL METRICS_URL BASIC CLIENT_BASIC REFRESH_TOKEN ACCESS_TOKEN \
    FORMATS REFRESH_TOKENS_FILE CODES_FILE REDIRECT_URI; do
    printf -v "${name}_${key}" %s "$(awk -v k="$key" '$1==k{$1=""; sub(/^ /, ""); print}' "$work/out")"
  done
}

# stop_bench_server NAME (either kind): closes its stdin and waits; fails if it failed.
stop_bench_server() {
  local name=$1 pid fd dir
  pid=${name}_PID; fd=${name}_FD; dir=${name}_DIR
  [ -n "${!pid:-}" ] || return 0
  eval "exec ${!fd}>&-"
  local rc=0; wait "${!pid}" || rc=$?
  [ $rc = 0 ] || { echo "server $name failed:" >&2; cat "${!dir}/err" >&2; }
  rm -rf "${!dir}"
  printf -v "$pid" %s ""
  return $rc
}

# wrk_summary FILE: "<req/s> <p50> <p99> <non-2xx> <socket errors>"
wrk_summary() {
  awk '/^Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
       /Non-2xx or 3xx responses/ {err=$5} /Socket errors/ {sock=$0}
       END {printf "%s %s %s %s %s\n", rps, p50, p99, (err==""?0:err), (sock==""?"none":"some")}' "$1"
}
