#!/usr/bin/env bash
# Checks the test harness (tests/kat_test.h) through tests/harness/selftest.c: the names --list
# prints, the status and output of each case run alone and of combinations (77 only when every
# chosen case skipped), and a skip in the setup fixture. Usage: run.sh SELFTEST_BINARY.
set -uo pipefail
bin=${1:?usage: run.sh SELFTEST_BINARY}
failures=0

# expect WANT_RC "ARGS" NEEDLE...: runs the program with ARGS (split on spaces); the status must
# be WANT_RC and the output must contain every NEEDLE.
expect() {
  local want=$1 args=$2 out rc
  shift 2
  # shellcheck disable=SC2086
  out=$("$bin" $args 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAILED: '$args' exited $rc, want $want:"$'\n'"$out"
    failures=$((failures + 1))
    return
  fi
  for needle in "$@"; do
    case "$out" in
      *"$needle"*) ;;
      *) echo "FAILED: '$args' output lacks '$needle':"$'\n'"$out"; failures=$((failures + 1)) ;;
    esac
  done
}

expect 0 "--list" "passes"$'\n'"skips"$'\n'"fails"$'\n'"no_checks"
out=$("$bin" --list)
case "$out" in *setup* | *teardown*) echo "FAILED: --list names a fixture"; failures=$((failures + 1)) ;; esac
expect 0 "passes" "ok   passes (1 checks)" "teardown ran" "cases: 1 passed, 0 failed, 0 skipped"
expect 77 "skips" "SKIP skips: skipped from a nested helper" "teardown ran"
expect 0 "passes skips" "ok   passes" "SKIP skips" "cases: 1 passed, 0 failed, 1 skipped"
expect 1 "fails" "FAIL fails: 1 of 1 checks failed" "1 + 1 == 3 failed: 2 vs 3"
expect 1 "skips fails" "SKIP skips" "FAIL fails"
expect 1 "no_checks" "FAIL no_checks: the case made no checks"
expect 1 "" "ok   passes" "SKIP skips" "FAIL fails" "FAIL no_checks" "cases: 1 passed, 2 failed, 1 skipped"
expect 2 "nonesuch" "no case named 'nonesuch'"
KAT_SELFTEST_SKIP_SETUP=1 expect 77 "passes skips" "SKIP passes: setup: the setup fixture skipped" \
  "SKIP skips: setup: the setup fixture skipped"

[ "$failures" -eq 0 ] && echo "harness test passed" || echo "$failures failure(s)"
[ "$failures" -eq 0 ]
