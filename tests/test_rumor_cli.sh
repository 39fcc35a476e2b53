#!/usr/bin/env bash
# test_rumor_cli.sh -- `gossip-sim rumor` on the command line: usage,
# argument validation (exit 2, the flag named on stderr), the JSON keys
# (checked with jq), determinism across thread counts, the anti-entropy
# backstop and the broadcast comparison.
# ctest sets GOSSIP_SIM to the gossip-sim binary.
set -uo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init rumor
cli_need_jq

valid=(--nodes 1000 --variant feedback-counter --k 2 --trials 20 --seed 42)

# jq_true FILTER: the filter holds for $tmp/out.
jq_true() {
    jq -e "$1" "$tmp/out" >/dev/null 2>&1 || fail "jq '$1' does not hold for: $(head -c 400 "$tmp/out")"
}

# ---- usage ------------------------------------------------------------------
run --help
[ "$status" -eq 0 ] || fail "--help exited $status"
grep -q "usage: gossip-sim rumor" "$tmp/out" || fail "--help printed no usage"
grep -q "RUMOR_MAX_ROUNDS" "$tmp/out" || fail "--help does not document the round cap"
"$sim" --help | grep -q "rumor" || fail "gossip-sim --help does not list rumor"

# ---- validation ---------------------------------------------------------------
expect_usage_error --variant --nodes 100 --variant gossip --k 2 --trials 1 --seed 1
expect_usage_error --variant --nodes 100 --variant blind --k 2 --trials 1 --seed 1
expect_usage_error --k --nodes 100 --variant blind-coin --k 0 --trials 1 --seed 1
expect_usage_error --k --nodes 100 --variant blind-coin --k 1001 --trials 1 --seed 1
expect_usage_error --k --nodes 100 --variant blind-coin --k x --trials 1 --seed 1
expect_usage_error --nodes --nodes 1 --variant blind-coin --k 2 --trials 1 --seed 1
expect_usage_error --nodes --nodes 0 --variant blind-coin --k 2 --trials 1 --seed 1
expect_usage_error --nodes --nodes -3 --variant blind-coin --k 2 --trials 1 --seed 1
expect_usage_error --nodes --nodes 10000001 --variant blind-coin --k 2 --trials 1 --seed 1
expect_usage_error --nodes --variant blind-coin --k 2 --trials 1 --seed 1
expect_usage_error --variant --nodes 100 --k 2 --trials 1 --seed 1
expect_usage_error --k --nodes 100 --variant blind-coin --trials 1 --seed 1
expect_usage_error --trials --nodes 100 --variant blind-coin --k 2 --seed 1
expect_usage_error --seed --nodes 100 --variant blind-coin --k 2 --trials 1
expect_usage_error --trials "${valid[@]}" --trials 0
expect_usage_error --seed --nodes 100 --variant blind-coin --k 2 --trials 1 --seed 18446744073709551616
expect_usage_error --threads "${valid[@]}" --threads 0
expect_usage_error --nodes "${valid[@]}" --nodes 10
expect_usage_error --schedule "${valid[@]}" --schedule async
expect_usage_error --counter-reset --nodes 100 --variant blind-coin --k 2 --trials 1 --seed 1 --counter-reset
expect_usage_error --counter-reset "${valid[@]}" --counter-reset=yes
expect_usage_error --anti-entropy-every "${valid[@]}" --anti-entropy-every 0
expect_usage_error --anti-entropy-every "${valid[@]}" --anti-entropy-every 5 --anti-entropy-after
expect_usage_error --send-rate "${valid[@]}" --send-rate 4
expect_usage_error --bogus "${valid[@]}" --bogus 3
expect_usage_error --k "${valid[@]:0:4}" --trials 1 --seed 1 --k
# the hot-spot comparison
expect_usage_error --send-rate --compare-broadcast --nodes 100 --trials 1 --seed 1
expect_usage_error --send-rate --compare-broadcast --nodes 100 --send-rate 0 --trials 1 --seed 1
expect_usage_error --fanout --compare-broadcast --nodes 100 --send-rate 2 --fanout 3 --trials 1 --seed 1
expect_usage_error --k --compare-broadcast --nodes 100 --send-rate 2 --trials 1 --seed 1 --variant blind-coin
expect_usage_error --history --compare-broadcast --nodes 100 --send-rate 2 --trials 1 --seed 1 --history

# ---- JSON output --------------------------------------------------------------
run "${valid[@]}" --json
[ "$status" -eq 0 ] || fail "a valid run exited $status: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "--json printed more than one line"
jq -e . "$tmp/out" >/dev/null 2>&1 || fail "--json is not JSON: $(cat "$tmp/out")"
for key in residue traffic t_last residue_stddev residue_min residue_max t_last_max t_ave \
           rounds max_sent theory_residue anti_entropy nodes variant k trials seed; do
    jq -e "has(\"$key\")" "$tmp/out" >/dev/null 2>&1 || fail "--json lacks \"$key\""
done
jq_true '(.residue | type) == "number" and .residue > 0 and .residue < 0.2'
jq_true '(.traffic | type) == "number" and .traffic > 2'
jq_true '(.t_last | type) == "number" and .t_last > 5'
jq_true '.variant == "feedback-counter" and .k == 2 and .nodes == 1000 and .seed == 42'
jq_true '.theory_residue == null and .anti_entropy == null'

run --nodes 10000 --variant blind-coin --k 3 --trials 20 --seed 5 --json
jq_true '(.residue - .theory_residue) | fabs < 0.005'

# ---- determinism: same seed, any thread count ---------------------------------
strip_timing() {
    jq -c 'del(.threads, .elapsed_sec)' "$1"
}
for variant in feedback-counter feedback-coin blind-counter blind-coin; do
    args=(--nodes 3000 --variant "$variant" --k 2 --trials 17 --json --anti-entropy-after)
    run "${args[@]}" --seed 7 --threads 1
    [ "$status" -eq 0 ] || fail "$variant: exited $status: $(cat "$tmp/err")"
    strip_timing "$tmp/out" >"$tmp/one"
    run "${args[@]}" --seed 7 --threads 3
    strip_timing "$tmp/out" >"$tmp/three"
    cmp -s "$tmp/one" "$tmp/three" || fail "$variant: --threads 1 and 3 differ"
    run "${args[@]}" --seed 8 --threads 1
    strip_timing "$tmp/out" >"$tmp/other"
    cmp -s "$tmp/one" "$tmp/other" && fail "$variant: seeds 7 and 8 gave identical results"
done

# ---- anti-entropy drives the residue to 0 --------------------------------------
run --nodes 2000 --variant feedback-counter --k 1 --trials 10 --seed 3 --anti-entropy-after --history --json
[ "$status" -eq 0 ] || fail "anti-entropy run exited $status"
jq_true '.residue > 0.1'
jq_true '.anti_entropy.mode == "after" and .anti_entropy.final_residue_max == 0'
jq_true '.anti_entropy.rounds_to_zero > .rounds'
jq_true '.history.uninformed[-1] == 0 and (.history.uninformed | length) == (.history.infective | length)'
run --nodes 2000 --variant blind-coin --k 2 --trials 10 --seed 3 --anti-entropy-every 20 --json
jq_true '.anti_entropy.mode == "every" and .anti_entropy.every == 20 and .anti_entropy.final_residue_max == 0'

# ---- the human summary, --flag=value, a large seed -----------------------------
run --nodes=500 --variant=blind-counter --k=2 --trials=5 --seed=18446744073709551615 --schedule=sequential
[ "$status" -eq 0 ] || fail "--flag=value form exited $status: $(cat "$tmp/err")"
grep -q "^residue " "$tmp/out" || fail "no residue line in the summary"
run --nodes 500 --variant blind-counter --k 2 --trials 5 --seed 18446744073709551615 --json
jq_true '.seed == "18446744073709551615"'

# ---- broadcast vs gossip --------------------------------------------------------
run --compare-broadcast --nodes 1000 --send-rate 10 --trials 10 --seed 1 --json
[ "$status" -eq 0 ] || fail "--compare-broadcast exited $status: $(cat "$tmp/err")"
jq_true '.broadcast.max_sent == 999 and .broadcast.rounds == 100'
jq_true '.gossip.max_sent < 50 and .gossip.rounds < 40 and .rumor == null'
run --compare-broadcast --nodes 1000 --send-rate 10 --fanout 10 --trials 10 --seed 1 --variant feedback-counter --k 2 --json
jq_true '.fanout == 10 and .gossip.max_sent_max % 10 == 0 and .rumor.variant == "feedback-counter"'
run --compare-broadcast --nodes 100 --send-rate 1 --trials 5 --seed 1
grep -q "^broadcast" "$tmp/out" || fail "no broadcast row in the summary"

cli_finish
