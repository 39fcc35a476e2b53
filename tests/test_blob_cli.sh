#!/usr/bin/env bash
# test_blob_cli.sh -- `gossip-sim blob` on the command line: usage, argument
# validation (exit 2, the flag named on stderr), an oversize payload refused
# with a clear message, a small run in which every node ends with the exact
# payload and compact announcements cost fewer bytes than full transfer,
# corrupt servers survived, and one seed giving one result.
# ctest sets GOSSIP_SIM to the gossip-sim binary.
set -uo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init blob
cli_need_jq

jq_true() {
    jq -e "$1" "$tmp/out" >/dev/null 2>&1 || fail "jq '$1' does not hold for: $(head -c 600 "$tmp/out")"
}

# ---- usage ------------------------------------------------------------------
run --help
[ "$status" -eq 0 ] || fail "--help exited $status"
grep -q "usage: gossip-sim blob" "$tmp/out" || fail "--help printed no usage"
"$sim" --help | grep -q "blob" || fail "gossip-sim --help does not list blob"

# ---- validation ---------------------------------------------------------------
expect_usage_error --nodes --nodes 1
expect_usage_error --nodes --nodes 100000
expect_usage_error --have --have 1.5
expect_usage_error --have --have abc
expect_usage_error --size-mib --size-mib 0
expect_usage_error --mode --mode fastest
expect_usage_error --k --k 0
expect_usage_error --latency-ms --latency-ms 20-1
expect_usage_error --corrupt --nodes 3 --corrupt 3
expect_usage_error --bogus --bogus 1
# a payload beyond the cap: refused before anything runs, with the sizes
expect_usage_error --size-mib --size-mib 65
grep -q "exceeds the cap of 67108864 bytes" "$tmp/err" || fail "oversize message unclear: $(cat "$tmp/err")"
expect_usage_error --size-mib --size-mib 3 --max-payload-mib 2

# ---- a small run: everyone verified, compact < full, >= minimum ---------------
run --nodes 12 --size-mib 0.5 --have 0.9 --k 3 --seed 7 --mode all --json
[ "$status" -eq 0 ] || fail "small run exited $status: $(cat "$tmp/err")"
cp "$tmp/out" "$tmp/first.json"
jq_true '.runs | length == 3'
jq_true '[.runs[] | .all_verified] | all'
jq_true '[.runs[] | .verified == 12] | all'
jq_true '.have <= 0.9 and .have > 0.8'
jq_true '.runs[0].mode == "compact" and .runs[2].mode == "full"'
jq_true '.runs[0].wire_bytes < .runs[1].wire_bytes and .runs[1].wire_bytes < .runs[2].wire_bytes'
jq_true '.runs[0].wire_bytes >= .min_bytes'
jq_true '.runs[0].ratio_to_min < 1.2'
jq_true '.runs[2].chunks_local == 0 and .runs[0].chunks_local > 0'
jq_true '[.runs[] | .chunks_bad == 0 and .recv_errors == 0] | all'

# one seed, one result
run --nodes 12 --size-mib 0.5 --have 0.9 --k 3 --seed 7 --mode all --json
cmp -s "$tmp/out" "$tmp/first.json" || fail "the same seed gave a different result"

# ---- corrupt servers: dropped, chunks fetched elsewhere, all verified ----------
run --nodes 12 --size-mib 0.5 --have 0.5 --corrupt 3 --seed 2 --mode both --json
[ "$status" -eq 0 ] || fail "corrupt run exited $status: $(cat "$tmp/err")"
jq_true '[.runs[] | .all_verified] | all'
jq_true '[.runs[] | .chunks_bad > 0 and .sources_dropped > 0] | all'

# ---- the table --------------------------------------------------------------------
run --nodes 5 --size-mib 0.25 --mode both
[ "$status" -eq 0 ] || fail "table run exited $status"
grep -q "^minimum" "$tmp/out" || fail "table lacks the minimum row"
grep -q "^compact" "$tmp/out" || fail "table lacks the compact row"

cli_finish
