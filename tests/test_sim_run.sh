#!/usr/bin/env bash
# The `gossip-sim run` command line: exit statuses, error messages naming
# the key, byte-identical output for one seed, and the seed printed on an
# invariant violation.  Needs GOSSIP_SIM and GOSSIP_SOURCE_DIR (set by ctest).
set -euo pipefail
sim=${GOSSIP_SIM:?GOSSIP_SIM must point at gossip-sim}
src=${GOSSIP_SOURCE_DIR:?GOSSIP_SOURCE_DIR must point at the source tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_status WANT CMD... : runs CMD, checks its exit status.
expect_status() {
    local want=$1; shift
    local got=0
    "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
    [ "$got" -eq "$want" ] || { cat "$tmp/err" >&2; fail "$* exited $got, want $want"; }
}

# Usage errors.
expect_status 2 "$sim" run
expect_status 2 "$sim" run --scenario
expect_status 2 "$sim" run --scenario "$src/examples/scenarios/restart.json" --seed -3
expect_status 2 "$sim" run --scenario "$tmp/missing.json"
grep -q "cannot open" "$tmp/err" || fail "missing file not reported"
expect_status 0 "$sim" run --help

# A bad scenario: exit 2 and the key named.
printf '{"nodes": 10, "duration_ms": 60000, "network": {"loss": 1.5}}' >"$tmp/bad.json"
expect_status 2 "$sim" run --scenario "$tmp/bad.json"
grep -q "network.loss" "$tmp/err" || fail "bad loss not named: $(cat "$tmp/err")"
printf '{"nodes": 10, "duration_ms": 60000, "typo": 1}' >"$tmp/bad.json"
expect_status 2 "$sim" run --scenario "$tmp/bad.json"
grep -q "typo: unknown key" "$tmp/err" || fail "unknown key not named: $(cat "$tmp/err")"

# Failure-detection keys are validated the same way.
printf '{"nodes": 10, "duration_ms": 60000, "stalls": [{"node": 3, "at_ms": 100}]}' >"$tmp/bad.json"
expect_status 2 "$sim" run --scenario "$tmp/bad.json"
grep -q "stalls\[0\].duration_ms: required" "$tmp/err" || fail "bad stall not named: $(cat "$tmp/err")"
printf '{"nodes": 10, "duration_ms": 60000, "engine": {"probe_interval_ms": 100, "probe_timeout_ms": 200}}' >"$tmp/bad.json"
expect_status 2 "$sim" run --scenario "$tmp/bad.json"
grep -q "engine.probe_timeout_ms" "$tmp/err" || fail "bad probe timeout not named: $(cat "$tmp/err")"

# --trace: what everyone learns about one node goes to stderr, stdout is
# unchanged; an unknown node is a usage error.
scn="$src/examples/scenarios/restart.json"
expect_status 0 "$sim" run --scenario "$scn" --json
cp "$tmp/out" "$tmp/untraced.json"
grep -q '"detection_p50_ms": ' "$tmp/out" || fail "no detection_p50_ms in the JSON"
grep -q '"memberlist_suspicion_ms": ' "$tmp/out" || fail "no memberlist baseline in the JSON"
grep -q '"false_dead": 0' "$tmp/out" || fail "false deaths in restart.json: $(cat "$tmp/out")"
expect_status 0 "$sim" run --scenario "$scn" --json --trace n12
cmp -s "$tmp/out" "$tmp/untraced.json" || fail "--trace changed stdout"
grep -q "n12 is killed" "$tmp/err" || fail "--trace does not show the kill: $(head -5 "$tmp/err")"
grep -q "holds n12 join" "$tmp/err" || fail "--trace does not show joins"
expect_status 2 "$sim" run --scenario "$scn" --trace n99
grep -q "no node named 'n99'" "$tmp/err" || fail "unknown trace node not reported"

# --members: a node's member table at the end, with phi for monitored peers,
# on stderr (stdout keeps its one JSON object).
expect_status 0 "$sim" run --scenario "$src/examples/scenarios/fd-100.json" --members n3 --json
grep -q "members of n3 at the end" "$tmp/err" || fail "--members printed no table"
grep -q "(self)" "$tmp/err" || fail "--members does not mark the node itself"
grep -Eq "alive +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+\.[0-9]+" "$tmp/err" || fail "--members shows no phi"
grep -q " dead " "$tmp/err" || fail "--members does not show the killed members dead"
expect_status 2 "$sim" run --scenario "$src/examples/scenarios/fd-100.json" --members n999
grep -q "no node named 'n999'" "$tmp/err" || fail "unknown --members node not reported"

# One seed, one output, byte for byte; another seed, another run.
scn="$src/examples/scenarios/lossy-partition.json"
expect_status 0 "$sim" run --scenario "$scn" --seed 9 --json
cp "$tmp/out" "$tmp/first.json"
expect_status 0 "$sim" run --scenario "$scn" --seed 9 --json
cmp -s "$tmp/out" "$tmp/first.json" || fail "same seed, different output"
grep -q '"invariant_ok": true' "$tmp/out" || fail "invariant not ok: $(cat "$tmp/out")"
expect_status 0 "$sim" run --scenario "$scn" --seed 10 --json
cmp -s "$tmp/out" "$tmp/first.json" && fail "different seeds, same output"
# --timing goes to stderr only: stdout stays identical.
expect_status 0 "$sim" run --scenario "$scn" --seed 9 --json --timing
cmp -s "$tmp/out" "$tmp/first.json" || fail "--timing changed stdout"
grep -q "events/s" "$tmp/err" || fail "--timing printed nothing"

# The human table.
expect_status 0 "$sim" run --scenario "$src/examples/scenarios/restart.json"
grep -q "invariant *ok" "$tmp/out" || fail "table lacks the invariant line"

# A violation (a write with no time to spread): exit 1, seed in the message.
printf '{"nodes": 20, "duration_ms": 20000, "settle_ms": 0,
  "writes": [{"at_ms": 20000, "node": 4, "key": "schema"}]}' >"$tmp/unsettled.json"
expect_status 1 "$sim" run --scenario "$tmp/unsettled.json" --seed 77 --json
grep -q "seed 77" "$tmp/err" || fail "violation does not name the seed: $(cat "$tmp/err")"
grep -q '"invariant_ok": false' "$tmp/out" || fail "JSON does not report the violation"
echo "ok"
