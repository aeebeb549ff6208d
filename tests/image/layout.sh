#!/usr/bin/env bash
# The offline image (scripts/image) against the Dockerfile's runtime stage:
# same files at the same paths with the same owners and modes, same user,
# entrypoint, ports, labels, env and working directory; the only extra files
# allowed are the shared libraries the glibc binaries load (the Dockerfile's
# are static musl). The binaries then run from the image's root filesystem
# alone (chroot, as UID 65532), and the healthcheck's unit tests run.
# With a working container engine the Dockerfile is built too and the two
# images are compared as built; without one, that step says it is skipped.
#
# Usage: tests/image/layout.sh [IMAGE_TAR]   (default: builds one with --debug)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
ok() { pass=$((pass + 1)); echo "ok $pass - $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

IMAGE=${1:-}
if [ -z "$IMAGE" ]; then
  IMAGE=$TMP/image.tar
  scripts/image --debug --tag localhost/alexa-link:layout-test --out "$IMAGE" >/dev/null
fi
mkdir -p "$TMP/rootfs" "$TMP/archive"
tar -xf "$IMAGE" -C "$TMP/archive"

python3 - "$ROOT/Dockerfile" "$ROOT/tests/image/distroless-static-nonroot.layout" "$TMP/archive" <<'PY'
import json, os, re, shlex, sys, tarfile
dockerfile, layout_path, archive = sys.argv[1:4]
problems = []

# --- what the Dockerfile's runtime stage declares --------------------------------
text = re.sub(r"\\\n", " ", open(dockerfile).read())
lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
last_from = max(i for i, l in enumerate(lines) if l.upper().startswith("FROM "))
base = lines[last_from].split()[1]
assert base == "gcr.io/distroless/static-debian12:nonroot", \
    f"the runtime base is now {base}: describe it in tests/image/distroless-static-nonroot.layout"
want_config = {"Labels": {}, "ExposedPorts": {}}
want_files = {}
for l in lines[last_from + 1:]:
    op, _, rest = l.partition(" ")
    op = op.upper()
    if op == "LABEL":
        for kv in shlex.split(rest):
            k, _, v = kv.partition("=")
            want_config["Labels"][k] = v
    elif op == "USER":
        want_config["User"] = rest.strip()
    elif op == "EXPOSE":
        for p in rest.split():
            want_config["ExposedPorts"][p if "/" in p else f"{p}/tcp"] = {}
    elif op == "ENTRYPOINT":
        want_config["Entrypoint"] = json.loads(rest)
    elif op == "COPY":
        args = [a for a in rest.split() if not a.startswith("--")]
        *srcs, dest = args
        assert dest.endswith("/"), f"COPY to a file: {l}"
        for s in srcs:
            want_files["/" + (dest.strip("/") + "/" + os.path.basename(s)).lstrip("/")] = ("file", 0, 0, 0o755)
    else:
        problems.append(f"the runtime stage has {op}, which this test does not model: extend it")

# --- what the base provides ----------------------------------------------------------
want_lines, want_env = [], []
for l in open(layout_path):
    l = l.split("#", 1)[0].rstrip() if not l.startswith("line") else l.rstrip("\n")
    if not l.strip():
        continue
    kind, rest = l.split(None, 1)
    if kind in ("dir", "file"):
        path, uid, gid, mode = rest.split()
        want_files[path] = (kind, int(uid), int(gid), int(mode, 8))
    elif kind == "line":
        path, line = rest.split(None, 1)
        want_lines.append((path, line.strip()))
    elif kind == "env":
        want_env.append(rest.strip())
    elif kind == "workdir":
        want_config["WorkingDir"] = rest.strip()
want_config["Env"] = want_env

# --- the image scripts/image built ----------------------------------------------------
manifest = json.load(open(f"{archive}/manifest.json"))
assert len(manifest) == 1 and len(manifest[0]["Layers"]) == 1, manifest
config = json.load(open(f"{archive}/{manifest[0]['Config']}"))["config"]
for key, want in want_config.items():
    if config.get(key) != want:
        problems.append(f"config {key}: image has {config.get(key)!r}, the Dockerfile's stage {want!r}")
for key in set(config) - set(want_config):
    problems.append(f"config {key} is not in the Dockerfile's stage: {config[key]!r}")

layer = tarfile.open(f"{archive}/{manifest[0]['Layers'][0]}")
got = {}
contents = {}
for m in layer.getmembers():
    path = "/" + m.name.lstrip("./")
    kind = "dir" if m.isdir() else "file" if m.isfile() else "link" if m.issym() or m.islnk() else "other"
    got[path] = (kind, m.uid, m.gid, m.mode & 0o7777)
    if path in {p for p, _ in want_lines}:
        contents[path] = layer.extractfile(m).read().decode().splitlines()
for path, want in sorted(want_files.items()):
    if got.get(path) != want:
        problems.append(f"{path}: image has {got.get(path)}, want (kind, uid, gid, mode) {want[:3] + (oct(want[3]),)}")
for path, line in want_lines:
    if line not in contents.get(path, []):
        problems.append(f"{path} lacks the line {line!r}")
# Anything else must be a shared library (or a directory holding them).
libs = 0
for path, (kind, uid, gid, mode) in sorted(got.items()):
    if path in want_files:
        continue
    in_lib_dir = re.match(r"^/(usr/)?lib(64|/x86_64-linux-gnu)?(/|$)", path)
    if in_lib_dir and (kind == "dir" or ".so" in os.path.basename(path)) and uid == 0 and gid == 0:
        libs += kind == "file"
        continue
    problems.append(f"{path} ({kind}) is in the image but not in the Dockerfile's stage")
if problems:
    print("\n".join("  " + p for p in problems))
    sys.exit(1)
print(f"  same as the Dockerfile's stage: {len(want_files)} paths, {len(want_config)} config keys; plus {libs} shared libraries")
PY
ok "scripts/image's image has the Dockerfile runtime stage's layout, user, entrypoint, ports, labels and env"

# The binaries run from the image's files alone, as the image's user.
layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Layers"][0])' "$TMP/archive/manifest.json")
tar -xf "$TMP/archive/$layer" -C "$TMP/rootfs"
for b in alexa-link-server alexa-link-operator; do
  out=$(chroot --userspec=65532:65532 "$TMP/rootfs" "/usr/local/bin/$b" --version) || fail "$b does not run from the image's root filesystem"
  echo "  $out"
done
rc=0; chroot --userspec=65532:65532 "$TMP/rootfs" /usr/local/bin/alexa-link-healthcheck >/dev/null 2>"$TMP/hc.err" || rc=$?
[ "$rc" = 2 ] && grep -q usage "$TMP/hc.err" || fail "alexa-link-healthcheck without a URL: exit $rc, $(cat "$TMP/hc.err")"
ok "the server, operator and healthcheck run in a chroot of the image as UID 65532 (no library from the host)"

rustc --edition 2024 --test -o "$TMP/healthcheck-tests" server/examples/healthcheck.rs
"$TMP/healthcheck-tests" -q >"$TMP/hc-tests.out" 2>&1 || { cat "$TMP/hc-tests.out"; fail "healthcheck unit tests"; }
ok "alexa-link-healthcheck's unit tests ($(grep -o '[0-9]* passed' "$TMP/hc-tests.out"))"

echo "  image size: $(du -m "$IMAGE" | cut -f1) MiB tarball, $(du -sm "$TMP/rootfs" | cut -f1) MiB unpacked"
if docker info >/dev/null 2>&1; then
  docker build -q -t alexa-link-layout-test:dockerfile . >/dev/null
  docker load -q -i "$IMAGE" >/dev/null
  for img in alexa-link-layout-test:dockerfile localhost/alexa-link:layout-test; do
    docker image inspect "$img" --format '{{json .Config.User}} {{json .Config.Entrypoint}} {{json .Config.ExposedPorts}} {{json .Config.Env}} {{json .Config.WorkingDir}} {{json .Config.Labels}}'
  done | uniq | wc -l | grep -qx 1 || fail "docker inspect: the two images' configs differ"
  ok "with docker: the Dockerfile's image and scripts/image's have the same config"
else
  echo "  note: no container engine answers here (docker info fails): the Dockerfile itself was not built; its runtime stage was compared as declared"
fi
echo "image layout: $pass passed"
