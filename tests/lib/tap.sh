# Shared by the shell suites (sourced): numbered "ok N - ..." lines, a
# failure that ends the suite, and a bounded poll.

pass=0
# ok DESCRIPTION...: one passed check.
ok() { pass=$((pass + 1)); echo "ok $pass - $*"; }
# fail DESCRIPTION...: the suite fails here (its EXIT trap cleans up).
fail() { echo "FAIL: $*" >&2; exit 1; }
# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds,
# or fails the suite after SECONDS.
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "timed out after ${secs}s waiting for: $what"
}
# crd_established NAME: waits for a CustomResourceDefinition to be served.
# (`kubectl wait --for=condition=Established` fails at once, instead of
# waiting, while a CRD just created has no status yet.)
crd_established() {
  wait_for 30 "CRD $1 established" bash -c \
    "[ \"\$(kubectl get crd '$1' -o jsonpath='{.status.conditions[?(@.type==\"Established\")].status}')\" = True ]"
}
