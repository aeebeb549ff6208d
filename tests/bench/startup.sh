#!/usr/bin/env bash
# Time from exec to /readyz = 200, and idle RSS, of the server binary with
# an embedded store (a plain config; --dev would add demo password hashing).
# Median of RUNS (default 7) starts.
#
#   tests/bench/startup.sh            # release build
#   tests/bench/startup.sh --smoke    # debug build, 2 runs (CI)
set -euo pipefail
cd "$(dirname "$0")/../.."
PROFILE=release RUNS=${RUNS:-7}
if [ "${1:-}" = "--smoke" ]; then PROFILE=dev RUNS=${RUNS:-2}; fi
if [ -n "${OURS_SERVER_BIN:-}" ]; then
  BIN=$OURS_SERVER_BIN   # a prebuilt server (compare.sh's before/after runs)
else
  cargo build -q --profile "$PROFILE" -p alexa-link-server --bin alexa-link-server
  BIN=target/$([ "$PROFILE" = dev ] && echo debug || echo release)/alexa-link-server
fi
exec python3 - "$BIN" "$RUNS" "$PROFILE" <<'PY'
import http.client, os, socket, statistics, subprocess, sys, tempfile, time
binary, runs, profile = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.2)
        c.request("GET", "/readyz"); ok = c.getresponse().status == 200; c.close(); return ok
    except OSError:
        return False

starts, rss = [], []
for _ in range(runs):
    d = tempfile.mkdtemp()
    open(f"{d}/session.key", "wb").write(os.urandom(64))
    open(f"{d}/client.secret", "w").write("bench-client-secret-0123456789")
    port, admin = free_port(), free_port()
    open(f"{d}/config.yaml", "w").write(f"""
server: {{listen: "127.0.0.1:{port}", adminListen: "127.0.0.1:{admin}", publicUrl: "http://127.0.0.1:{port}", sessionKeyFile: {d}/session.key}}
logging: {{level: warn}}
clients: [{{clientId: alexa, clientSecretFile: {d}/client.secret, alexaVendorId: MBENCH, scopes: [profile]}}]
identity: {{static: {{users: [{{username: user, passwordHash: "$2b$04$KxvVQ1mqU3TjSeR9lZ6dpe7qXUWqZfYZCaqC5xJ/sn1J0Ccvm/V6u"}}]}}}}
store: {{embedded: {{path: {d}/store.redb}}}}
""")
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "--config", f"{d}/config.yaml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not ready(admin):
        if p.poll() is not None: sys.exit("the server exited during start-up")
        if time.perf_counter() - t0 > 10: p.kill(); sys.exit("not ready within 10 s")
        time.sleep(0.001)
    starts.append((time.perf_counter() - t0) * 1000)
    time.sleep(1.0)
    for line in open(f"/proc/{p.pid}/status"):
        if line.startswith("VmRSS:"): rss.append(int(line.split()[1]) / 1024)
    p.terminate(); p.wait(timeout=10)
print(f"startup [{profile}, {runs} runs]: exec -> /readyz 200 median {statistics.median(starts):.1f} ms "
      f"(min {min(starts):.1f}, max {max(starts):.1f}); idle RSS median {statistics.median(rss):.1f} MiB")
PY
