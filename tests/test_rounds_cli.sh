#!/usr/bin/env bash
# test_rounds_cli.sh -- `gossip-sim rounds` on the command line: usage,
# argument validation (exit 2, the flag named on stderr), the JSON keys,
# determinism across thread counts, and the round cap.
# ctest sets GOSSIP_SIM to the gossip-sim binary.
set -uo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init rounds

valid=(--nodes 1000 --mode pushpull --fanout 1 --trials 10 --seed 42)

# ---- usage ------------------------------------------------------------------
run --help
[ "$status" -eq 0 ] || fail "--help exited $status"
grep -q "usage: gossip-sim rounds" "$tmp/out" || fail "--help printed no usage"
grep -q "ROUNDS_MAX_ROUNDS" "$tmp/out" || fail "--help does not document the round cap"

# ---- validation ---------------------------------------------------------------
expect_usage_error --nodes --mode push --fanout 1 --trials 1 --seed 1
expect_usage_error --mode --nodes 10 --fanout 1 --trials 1 --seed 1
expect_usage_error --fanout --nodes 10 --mode push --trials 1 --seed 1
expect_usage_error --trials --nodes 10 --mode push --fanout 1 --seed 1
expect_usage_error --seed --nodes 10 --mode push --fanout 1 --trials 1
expect_usage_error --nodes "${valid[@]}" --nodes 10
expect_usage_error --nodes --nodes abc --mode push --fanout 1 --trials 1 --seed 1
expect_usage_error --nodes --nodes 1 --mode push --fanout 1 --trials 1 --seed 1
expect_usage_error --nodes --nodes -5 --mode push --fanout 1 --trials 1 --seed 1
expect_usage_error --nodes --nodes 100000001 --mode push --fanout 1 --trials 1 --seed 1
expect_usage_error --nodes --nodes 99999999999999999999999 --mode push --fanout 1 --trials 1 --seed 1
expect_usage_error --nodes --nodes 10x --mode push --fanout 1 --trials 1 --seed 1
expect_usage_error --mode --nodes 10 --mode push-pull --fanout 1 --trials 1 --seed 1
expect_usage_error --fanout --nodes 10 --mode push --fanout 0 --trials 1 --seed 1
expect_usage_error --fanout --nodes 10 --mode push --fanout 10 --trials 1 --seed 1
expect_usage_error --fanout --nodes 1000 --mode push --fanout 65 --trials 1 --seed 1
expect_usage_error --trials --nodes 10 --mode push --fanout 1 --trials 0 --seed 1
expect_usage_error --trials --nodes 10 --mode push --fanout 1 --trials 1000001 --seed 1
expect_usage_error --seed --nodes 10 --mode push --fanout 1 --trials 1 --seed x
expect_usage_error --seed --nodes 10 --mode push --fanout 1 --trials 1 --seed 18446744073709551616
expect_usage_error --loss "${valid[@]}" --loss 1
expect_usage_error --loss "${valid[@]}" --loss -0.1
expect_usage_error --loss "${valid[@]}" --loss abc
expect_usage_error --loss "${valid[@]}" --loss nan
expect_usage_error --threads "${valid[@]}" --threads 0
expect_usage_error --threads "${valid[@]}" --threads 257
expect_usage_error --bogus "${valid[@]}" --bogus 3
expect_usage_error --loss "${valid[@]}" --loss

# ---- JSON output --------------------------------------------------------------
run "${valid[@]}" --json
[ "$status" -eq 0 ] || fail "a valid run exited $status: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "--json printed more than one line"
grep -q '^{.*}$' "$tmp/out" || fail "--json did not print one object"
for key in nodes mode fanout trials seed loss rounds_mean rounds_p99 rounds_max \
           messages_per_node node_rounds_per_sec; do
    grep -q "\"$key\":" "$tmp/out" || fail "--json lacks \"$key\""
done
grep -q '"mode":"pushpull"' "$tmp/out" || fail "--json names the wrong mode"

# ---- determinism: same seed, any thread count, same results -------------------
# Everything but the timing fields and the thread count must match.
strip_timing() {
    sed -E 's/"(threads|elapsed_sec|node_rounds_per_sec)":[^,}]*,?//g' "$1"
}
for mode in push pull pushpull; do
    args=(--nodes 2000 --mode "$mode" --fanout 2 --trials 25 --loss 0.1 --json)
    run "${args[@]}" --seed 7 --threads 1
    [ "$status" -eq 0 ] || fail "$mode: exited $status: $(cat "$tmp/err")"
    strip_timing "$tmp/out" >"$tmp/one"
    run "${args[@]}" --seed 7 --threads 3
    strip_timing "$tmp/out" >"$tmp/three"
    cmp -s "$tmp/one" "$tmp/three" || fail "$mode: --threads 1 and 3 differ"
    run "${args[@]}" --seed 8 --threads 1
    [ "$status" -eq 0 ] || fail "$mode: exited $status: $(cat "$tmp/err")"
    strip_timing "$tmp/out" >"$tmp/other"
    cmp -s "$tmp/one" "$tmp/other" && fail "$mode: seeds 7 and 8 gave identical results"
done

# ---- human-readable summary and --flag=value ----------------------------------
run --nodes=500 --mode=pull --fanout=1 --trials=5 --seed=3
[ "$status" -eq 0 ] || fail "--flag=value form exited $status"
grep -q "rounds to inform all: mean" "$tmp/out" || fail "no summary line"

# ---- the round cap --------------------------------------------------------------
run --nodes 2 --mode push --fanout 1 --trials 1 --seed 1 --loss 0.999999999 --json
[ "$status" -eq 0 ] || fail "a capped run exited $status"
grep -q '"trials_capped":1' "$tmp/out" || fail "the capped trial is not reported"
grep -q '"rounds_max":100000' "$tmp/out" || fail "the capped trial did not stop at the cap"
grep -q "ROUNDS_MAX_ROUNDS" "$tmp/err" || fail "no warning about the cap on stderr"

cli_finish
