# Shared by the load-test scripts: build and start the bench server
# (server/examples/bench_server.rs), read what it prints, stop it.
# Callers set PROFILE (release|dev) before sourcing.

ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  echo "installing wrk (Debian)"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
}

build_bench_server() {
  cargo build -q --profile "$PROFILE" -p alexa-link-server --features test-support --example bench_server
  local dir; dir=$([ "$PROFILE" = dev ] && echo debug || echo release)
  BENCH_BIN=target/$dir/examples/bench_server
}

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
  for key in PARTNER_URL TOKEN_URL INTROSPECT_URL BASIC CLIENT_BASIC REFRESH_TOKEN ACCESS_TOKEN; do
    printf -v "${name}_${key}" %s "$(awk -v k="$key" '$1==k{print $2}' "$work/out")"
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
