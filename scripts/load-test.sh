#!/usr/bin/env bash
# The test suites under load: runs them beside two CPU-bound busy loops (a busy 2-core machine) and
# prints the elapsed time and PASS/FAIL. Integration tests must wait on conditions with generous
# deadlines, never on fixed short timeouts, so they pass here too.
#
#   scripts/load-test.sh                      every package's tests (turbo, one package at a time)
#   scripts/load-test.sh @baton/testing ...   only these packages
#
# BATON_LOAD_LOOPS changes the number of busy loops (default 2). Test results are never taken from
# turbo's cache (--force). BATON_LOAD_ONLY=1 runs the test tasks without rebuilding their dependencies
# (turbo --only), for a tree that is already built. The log goes to .baton/load-test.log.
set -uo pipefail
cd "$(dirname "$0")/.."

loops="${BATON_LOAD_LOOPS:-2}"
busy=()
stop_busy() {
  for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${busy[@]}"; do wait "$pid" 2>/dev/null; done
  busy=()
}
trap stop_busy EXIT
trap 'stop_busy; exit 130' INT TERM
for _ in $(seq 1 "$loops"); do
  node -e 'for (;;) {}' &
  busy+=("$!")
done

filters=()
for pkg in "$@"; do filters+=("--filter=$pkg"); done
if [ "${BATON_LOAD_ONLY:-0}" = 1 ]; then filters+=("--only"); fi
what="${*:-every package}"
mkdir -p .baton
echo "load-test: $what beside $loops busy loops on $(nproc) cores (busy pids: ${busy[*]})"
start=$(date +%s)
pnpm exec turbo run test --concurrency=1 --force --output-logs=full "${filters[@]}" 2>&1 | tee .baton/load-test.log
rc=${PIPESTATUS[0]}
elapsed=$(($(date +%s) - start))
stop_busy
if [ "$rc" -eq 0 ]; then verdict=PASS; else verdict="FAIL (exit $rc)"; fi
echo "load-test: $verdict — $what in ${elapsed} s beside $loops busy loops on $(nproc) cores"
if [ -f scripts/count-tests.mjs ]; then node scripts/count-tests.mjs .baton/load-test.log || true; fi
exit "$rc"
