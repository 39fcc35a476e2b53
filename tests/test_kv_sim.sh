#!/usr/bin/env bash
# test_kv_sim.sh -- `gossip-sim kv`, the key-value store's property test in
# the simulator: usage and argument validation (exit 2, the flag named);
# many seeds of a 20-replica cluster with loss, partitions and restarts end
# identical with no acknowledged write lost and no collected delete back,
# with every fault and every session method actually exercised; collection
# during the faults on a small cluster; determinism (same arguments, same
# bytes, whatever the thread count); and the checks biting: a replica that
# drops merges and collection without the session rule both fail, as does
# the agent's collection rule on a seed where a session's last message is
# lost (docs/kv.md, "Simulator property test").
# ctest sets GOSSIP_SIM; GOSSIP_SANITIZE=ON (the ASan build) runs fewer seeds.
set -uo pipefail

. "$(dirname "$0")/lib/cli.sh"
cli_init kv
cli_need_jq

if [ "${GOSSIP_SANITIZE:-OFF}" = "ON" ]; then
    seeds=8 small_seeds=10 big=0
else
    seeds=50 small_seeds=40 big=1
fi

jq_true() {
    jq -e "$1" "$tmp/out" >/dev/null 2>&1 || fail "jq '$1' does not hold for: $(head -c 800 "$tmp/out")"
}

# ---- usage ------------------------------------------------------------------
run --help
[ "$status" -eq 0 ] || fail "--help exited $status"
grep -q "usage: gossip-sim kv" "$tmp/out" || fail "--help printed no usage"
"$sim" --help | grep -q "^  kv " || fail "gossip-sim --help does not list kv"

# ---- validation ---------------------------------------------------------------
expect_usage_error --nodes --nodes 1
expect_usage_error --nodes --nodes 1001
expect_usage_error --nodes --nodes 3 --nodes 4
expect_usage_error --keys --keys 0
expect_usage_error --writes --writes 1000001
expect_usage_error --delete-fraction --delete-fraction 1.5
expect_usage_error --loss --loss 0.95
expect_usage_error --loss --loss lots
expect_usage_error --latency-ms --latency-ms 10-1
expect_usage_error --latency-ms --latency-ms 5
expect_usage_error --partitions --partitions maybe
expect_usage_error --restarts --restarts 1
expect_usage_error --anti-entropy-ms --anti-entropy-ms 10
expect_usage_error --horizon-ms --horizon-ms -1
expect_usage_error --duration-ms --duration-ms 0
expect_usage_error --deadline-ms --deadline-ms 3600001
expect_usage_error --skew-ms --skew-ms 10001
expect_usage_error --fanout --fanout 65
expect_usage_error --rumor-k --rumor-k 0
expect_usage_error --key-dist --key-dist zipfian
expect_usage_error --method --method fastest
expect_usage_error --gc-rule --gc-rule never
expect_usage_error --inject-bug --inject-bug everything
expect_usage_error --seed --seed 1x
expect_usage_error --seeds --seeds 0
expect_usage_error --seeds --seed 18446744073709551615 --seeds 2
expect_usage_error --threads --threads 0
expect_usage_error --bogus --bogus 1
expect_usage_error stray stray
expect_usage_error --nodes --nodes

# ---- the property at 20 replicas, many seeds -------------------------------------
run --seeds "$seeds" --json
[ "$status" -eq 0 ] || fail "$seeds seeds exited $status: $(cat "$tmp/err")"
jq_true ".summary.runs == $seeds and .summary.ok == $seeds and .summary.failed == 0"
jq_true '.nodes == 20 and .keys == 200 and .writes == 2000 and .loss == 0.1 and .with_partitions and .with_restarts'
jq_true '.gc_rule == "acked" and .method == "mixed"'
jq_true '[.runs[] | .ok and .converged and .identical and .collected] | all'
jq_true '[.runs[] | .lost_writes == 0 and .resurrected == 0 and .index_mismatches == 0] | all'
jq_true '[.runs[] | .messages_rejected == 0 and .session_messages_rejected == 0] | all'
jq_true '[.runs[] | .tombstones_left == 0 and .writes_failed == 0] | all'
# ... and it was a hard run: every fault and every path happened
jq_true '[.runs[] | .writes_acked > 1500 and .deletes_acked > 100] | all'
jq_true '[.runs[] | .restarts > 0 and .partitions > 0 and .messages_lost_random > 0] | all'
jq_true '[.runs[] | .messages_partitioned > 0 and .sessions_aborted > 0 and .session_timeouts > 0] | all'
jq_true '[.runs[] | .tombstones_collected > 0 and .expired_refused > 0] | all'
jq_true '[.runs[] | .sessions_equal > 0 and .sessions_merkle > 0 and .sessions_iblt > 0] | all'
jq_true '[.runs[] | .rumor_entries_new > 0 and .feedback_messages > 0] | all'
jq_true '([.runs[].torn_tails] | add) > 0 and ([.runs[].corrupt_tails] | add) > 0'
jq_true '([.runs[].log_bytes_cut] | add) > 0 and ([.runs[].compactions] | add) > 0'
jq_true '([.runs[].sessions_final_lost] | add) > 0'
jq_true '.summary.converge_ms_max < 60000 and .summary.collect_ms_max < 600000'
jq_true '.summary.lost_writes == 0 and .summary.resurrected == 0'
cp "$tmp/out" "$tmp/many.json"

# one seed, one result: byte for byte, whatever the number of threads
run --seeds 3 --json --threads 1
cp "$tmp/out" "$tmp/t1.json"
run --seeds 3 --json --threads 3
cmp -s "$tmp/out" "$tmp/t1.json" || fail "--threads changed the output"
run --json
cp "$tmp/out" "$tmp/one.json"
run --json
cmp -s "$tmp/out" "$tmp/one.json" || fail "the same seed gave a different result"
jq_true '.seed == 1 and .ok and (.runs | not)'
# the single run and seed 1 of the many are the same run
jq -c 'del(.delete_fraction, .loss, .latency_ms, .with_partitions, .with_restarts, .anti_entropy_ms,
          .horizon_ms, .duration_ms, .deadline_ms, .skew_ms, .fanout, .rumor_k, .key_dist,
          .method, .gc_rule, .keys, .writes)' "$tmp/one.json" > "$tmp/a"
jq -c '.runs[0]' "$tmp/many.json" > "$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "seed 1 alone differs from seed 1 of --seeds"

# the text report
run --seed 2
[ "$status" -eq 0 ] || fail "text run exited $status"
grep -q "^  verdict .*: ok$" "$tmp/out" || fail "text run has no ok verdict: $(cat "$tmp/out")"

# ---- collection while the faults go on: a small cluster ---------------------------
run --nodes 5 --keys 20 --delete-fraction 0.5 --horizon-ms 0 \
    --seeds "$small_seeds" --json
[ "$status" -eq 0 ] || fail "small cluster exited $status: $(cat "$tmp/err")"
jq_true ".summary.ok == $small_seeds"
jq_true '[.runs[] | .sessions_acked > 0] | all'
jq_true '([.runs[] | select(.collected_in_faults > 0)] | length) * 2 > (.runs | length)'
jq_true '([.runs[].acks_missing] | add) > 0'

# ---- other shapes: every method alone, anti-entropy alone, a calm network ----------
for m in auto merkle iblt; do
    run --nodes 8 --method "$m" --json
    [ "$status" -eq 0 ] || fail "--method $m exited $status: $(cat "$tmp/err")"
    jq_true ".ok and .method == \"$m\""
done
jq_true '.sessions_iblt > 0 and .sessions_merkle <= .sessions_fell_back' # merkle only to finish an IBLT
run --nodes 8 --fanout 0 --loss 0.2 --key-dist uniform --json
[ "$status" -eq 0 ] || fail "--fanout 0 exited $status: $(cat "$tmp/err")"
jq_true '.ok and .rumor_messages == 0'
run --nodes 10 --loss 0 --partitions off --restarts off --json
[ "$status" -eq 0 ] || fail "calm run exited $status"
jq_true '.ok and .messages_lost == 0 and .restarts == 0 and .partitions == 0 and .sessions_aborted == 0'
if [ "$big" -eq 1 ]; then
    run --nodes 100 --json
    [ "$status" -eq 0 ] || fail "100 replicas exited $status: $(cat "$tmp/err")"
    jq_true '.ok and .nodes == 100 and .tombstones_collected > 0'
fi

# ---- the checks bite --------------------------------------------------------------
# replica 0 drops every entry it receives: never identical, writes lost
run --inject-bug drop-merge --deadline-ms 20000 --json
[ "$status" -eq 1 ] || fail "drop-merge exited $status, expected 1"
jq_true '.ok == false and .identical == false and .converged == false and .lost_writes > 0'
grep -q "seed 1: FAILED" "$tmp/err" || fail "drop-merge did not name its seed: $(cat "$tmp/err")"
# collection without the session rule: the replicas agree, on deletes undone
run --inject-bug gc-unsafe --seeds 3 --json
[ "$status" -eq 1 ] || fail "gc-unsafe exited $status, expected 1"
jq_true '.summary.ok == 0 and ([.runs[] | .resurrected > 0 and .identical] | all)'
# the agent's old rule (eager) counts a session whose last message was lost:
# seed 3 of a two-replica cluster with 30% loss collects a delete its peer
# never got, and the peer's older value comes back; counting only
# acknowledged sessions (the agent's rule now, the default) passes it
run --nodes 2 --loss 0.3 --seed 3 --gc-rule eager --json
[ "$status" -eq 1 ] || fail "the eager rule on the known seed exited $status, expected 1"
jq_true '.ok == false and .resurrected > 0 and .identical and .sessions_final_lost > 0'
run --nodes 2 --loss 0.3 --seed 3 --json
[ "$status" -eq 0 ] || fail "the acked rule on the known seed exited $status: $(cat "$tmp/err")"
jq_true '.ok and .resurrected == 0 and .tombstones_collected > 0'

cli_finish
