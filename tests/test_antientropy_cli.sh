#!/usr/bin/env bash
# test_antientropy_cli.sh -- `gossip-sim antientropy` on the command line:
# usage, argument validation (exit 2, the flag named on stderr), the JSON
# keys, replicas identical after every method, and the issue's targets at
# small scale:
#   --keys 20000 --diff 0.001 (20 differing keys): both methods save >= 99%
#     of a full transfer, Merkle within 4x of the minimum;
#   --keys 20000 --diff 0.05 (1,000 differing keys, as many as 1M keys at
#     0.1%): Merkle within 4x, IBLT within 1.5x of the minimum.
# ctest sets GOSSIP_SIM to the gossip-sim binary.
set -uo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init antientropy
# Unlike the other CLI tests (cli_need_jq), this one passes (exit 0) without jq.
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 0; }

# check JQ_EXPR DESCRIPTION: the JSON in $tmp/out satisfies the expression.
check() {
    if [ "$(jq -r "$1" "$tmp/out")" != "true" ]; then
        fail "$2: $(jq -c . "$tmp/out")"
    fi
}

# ---- usage ------------------------------------------------------------------
run --help
[ "$status" -eq 0 ] || fail "--help exited $status"
grep -q "usage: gossip-sim antientropy" "$tmp/out" || fail "--help printed no usage"
"$sim" --help | grep -q antientropy || fail "gossip-sim --help does not list antientropy"

# ---- validation ---------------------------------------------------------------
ok=(--keys 100 --diff 0.1 --value-bytes 10)
expect_usage_error --keys --diff 0.1 --value-bytes 10
expect_usage_error --diff --keys 100 --value-bytes 10
expect_usage_error --value-bytes --keys 100 --diff 0.1
expect_usage_error --keys --keys 0 --diff 0.1 --value-bytes 10
expect_usage_error --keys --keys 20000001 --diff 0.1 --value-bytes 10
expect_usage_error --keys --keys abc --diff 0.1 --value-bytes 10
expect_usage_error --keys --keys -5 --diff 0.1 --value-bytes 10
expect_usage_error --diff --keys 100 --diff 1.5 --value-bytes 10
expect_usage_error --diff --keys 100 --diff -0.1 --value-bytes 10
expect_usage_error --diff --keys 100 --diff nan --value-bytes 10
expect_usage_error --diff --keys 100 --diff 0.1x --value-bytes 10
expect_usage_error --value-bytes --keys 100 --diff 0.1 --value-bytes 65537
expect_usage_error --seed "${ok[@]}" --seed x
expect_usage_error --seed "${ok[@]}" --seed 18446744073709551616
expect_usage_error --method "${ok[@]}" --method fast
expect_usage_error --leaves "${ok[@]}" --leaves 1000
expect_usage_error --leaves "${ok[@]}" --leaves 0
expect_usage_error --split "${ok[@]}" --split 1
expect_usage_error --split "${ok[@]}" --split 5000
expect_usage_error --keys "${ok[@]}" --keys 10
expect_usage_error --bogus "${ok[@]}" --bogus 3
expect_usage_error --seed "${ok[@]}" --seed

# ---- human output ---------------------------------------------------------------
run "${ok[@]}" --method auto
[ "$status" -eq 0 ] || fail "a small run exited $status: $(cat "$tmp/err")"
for word in "full transfer" minimum merkle iblt "auto (" "round trips" identical; do
    grep -q "$word" "$tmp/out" || fail "the table lacks '$word'"
done

# ---- the targets at small scale ------------------------------------------------
run --keys 20000 --diff 0.001 --value-bytes 100 --seed 3 --method auto --json
[ "$status" -eq 0 ] || fail "--diff 0.001 exited $status: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "--json printed more than one line"
for key in full_bytes min_bytes merkle_bytes merkle_round_trips iblt_bytes iblt_round_trips \
           chosen_method identical differing_keys estimated_differing_keys; do
    check "has(\"$key\")" "no key $key"
done
check '.identical == true' "replicas not identical"
check '.differing_keys == 20' "20 differing keys expected"
check '.chosen_method == "merkle" or .chosen_method == "iblt"' "chosen_method"
check '.merkle_bytes <= 0.01 * .full_bytes' "merkle saves less than 99%"
check '.iblt_bytes <= 0.01 * .full_bytes' "iblt saves less than 99%"
check '.merkle_bytes <= 4 * .min_bytes' "merkle above 4x the minimum"
check '.auto_bytes == (if .chosen_method == "merkle" then .merkle_bytes else .iblt_bytes end)' \
      "auto did not reproduce its method's session"

run --keys 20000 --diff 0.05 --value-bytes 100 --seed 1 --json
[ "$status" -eq 0 ] || fail "--diff 0.05 exited $status: $(cat "$tmp/err")"
check '.differing_keys == 1000' "1000 differing keys expected"
check '.merkle_bytes <= 4 * .min_bytes' "merkle above 4x the minimum"
check '.iblt_bytes <= 1.5 * .min_bytes' "iblt above 1.5x the minimum"
check '.iblt_round_trips <= 3 and .merkle_round_trips <= 8' "too many round trips"
check '.chosen_method == null' "chosen_method without --method auto"

# Equal replicas: one round trip each.
run --keys 5000 --diff 0 --value-bytes 100 --json
check '.merkle_round_trips == 1 and .iblt_round_trips == 1' "equal replicas took more than one round trip"

# Same arguments, same bytes.
run --keys 3000 --diff 0.02 --value-bytes 50 --seed 9 --json
first=$(jq -c '[.merkle_bytes, .iblt_bytes, .estimated_differing_keys]' "$tmp/out")
run --keys 3000 --diff 0.02 --value-bytes 50 --seed 9 --json
second=$(jq -c '[.merkle_bytes, .iblt_bytes, .estimated_differing_keys]' "$tmp/out")
[ "$first" = "$second" ] || fail "two runs with one seed differ: $first vs $second"

# Every key differs; values of 0 bytes; one leaf split eagerly.
run --keys 500 --diff 1 --value-bytes 0 --split 2 --leaves 2 --method auto --json
[ "$status" -eq 0 ] || fail "--diff 1 exited $status: $(cat "$tmp/err")"
check '.identical == true' "replicas not identical at --diff 1"

cli_finish
