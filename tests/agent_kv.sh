#!/usr/bin/env bash
# The replicated key-value store on five loopback agents (docs/kv.md):
#  - a write on one member is read on all (rumors), compare-and-set, limits;
#  - concurrent writes to one key on two members converge everywhere to the
#    last-writer-wins winner, the higher (version, writer);
#  - a member down during writes catches up after its restart by
#    anti-entropy (not rumors: they were over), repairing only what it
#    missed, within a deadline derived from the anti-entropy period;
#  - a torn and a corrupt log tail are cut off, counted and never loaded;
#    the rest of the data stays; the log is compacted;
#  - deletes are collected everywhere after the horizon;
#  - a malformed key-value frame is refused and counted.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_kv

AE_MS=1000        # --kv-anti-entropy-interval for this test (default 10 s)
HORIZON_MS=3000   # --kv-tombstone-horizon (default 24 h)
AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250
                   --kv-anti-entropy-interval "$AE_MS" --kv-tombstone-horizon "$HORIZON_MS"
                   --kv-max-value 4096 --log-level debug)
NODES=(a b c d e)

start_agent a --tag role=first
wait_ready a
for n in b c d e; do
    start_agent "$n" --join "$(agent_bind a)"
done
wait_ready b c d e
wait_until 30 full_membership "${NODES[@]}" || fail -a a "the five agents never saw each other"
say "five agents up"

ctl() { local n=$1; shift; "$GOSSIPCTL" --http "$(agent_http "$n")" "$@"; }

# kv_value NAME KEY: the value NAME holds for KEY ("<absent>" on a 404).
kv_value() {
    api "$1" GET "/v1/kv/$2"
    case $API_STATUS in
        200) jq -r .value <<<"$API_BODY" ;;
        404) echo "<absent>" ;;
        *) echo "<error $API_STATUS>" ;;
    esac
}
kv_version() { api "$1" GET "/v1/kv/$2"; [ "$API_STATUS" = 200 ] && jq -r .version <<<"$API_BODY"; }

# all_hold KEY VALUE NAME...: every NAME holds VALUE for KEY.
all_hold() {
    local key=$1 want=$2 n
    shift 2
    for n in "$@"; do
        [ "$(kv_value "$n" "$key")" = "$want" ] || return 1
    done
}

# ---- write on one, read on all --------------------------------------------------
v1=$(ctl a kv put greeting hello) || fail -a a "kv put on a failed"
wait_until 10 all_hold greeting hello "${NODES[@]}" ||
    fail -a b "not every member holds greeting=hello: $(for n in "${NODES[@]}"; do printf '%s=%s ' "$n" "$(kv_value "$n" greeting)"; done)"
say "write on a read on all five in ${WAIT_S}s (version $v1)"
[ "$(ctl c kv get greeting)" = hello ] || fail "gossipctl kv get on c"
rumored=$(counter c kv_rumor_entries_new)
[ "${rumored:-0}" -ge 1 ] || fail "c did not learn greeting from a rumor (kv_rumor_entries_new=$rumored)"

# Compare-and-set on the version.
ctl b kv put greeting nope --cas 1 2>/dev/null && fail "kv put with a wrong --cas succeeded"
api b PUT "/v1/kv/greeting?cas=1" nope
[ "$API_STATUS" = 409 ] || fail "PUT ?cas=wrong -> $API_STATUS, want 409: $API_BODY"
v2=$(ctl b kv put greeting hi --cas "$v1") || fail -a b "kv put with the right --cas failed"
api b PUT "/v1/kv/greeting?cas=0" again
[ "$API_STATUS" = 409 ] || fail "PUT ?cas=0 on a set key -> $API_STATUS, want 409"
api b PUT "/v1/kv/fresh?cas=0" first
[ "$API_STATUS" = 200 ] || fail "PUT ?cas=0 on an absent key -> $API_STATUS: $API_BODY"
wait_until 10 all_hold greeting hi "${NODES[@]}" || fail "greeting=hi did not spread"
say "compare-and-set: 409 on a wrong version, applied with the right one ($v2)"

# Limits, bad input, listing.
big=$(head -c 5000 /dev/zero | tr '\0' x)
api a PUT /v1/kv/big "$big"
[ "$API_STATUS" = 413 ] && grep -q kv_max_value <<<"$API_BODY" ||
    fail "a 5000-byte value with --kv-max-value 4096 -> $API_STATUS $API_BODY"
api a PUT "/v1/kv/bad?cas=x" v
[ "$API_STATUS" = 400 ] || fail "PUT ?cas=x -> $API_STATUS, want 400"
api a DELETE /v1/kv/never-set
[ "$API_STATUS" = 404 ] || fail "DELETE of an absent key -> $API_STATUS, want 404"
for k in svc/web/1 svc/web/2 svc/db/1; do ctl a kv put "$k" "addr-$k" >/dev/null || fail "put $k"; done
listed() { [ "$(ctl e kv list svc/web/ --keys | tr '\n' ' ')" = "svc/web/1 svc/web/2 " ]; }
wait_until 10 listed || fail -a e "e lists svc/web/ as: $(ctl e kv list svc/web/ --keys | tr '\n' ' ')"
say "limits (413 names kv_max_value, 400, 404) and prefix listing"

# ---- concurrent writes to one key on two members ------------------------------------
for round in 1 2 3; do
    "$GOSSIPCTL" --json --http "$(agent_http b)" kv put race "from-b-$round" >"$GT_TMP/race.b" &
    pb=$!
    "$GOSSIPCTL" --json --http "$(agent_http c)" kv put race "from-c-$round" >"$GT_TMP/race.c" &
    pc=$!
    wait "$pb" || fail "the write on b failed"
    wait "$pc" || fail "the write on c failed"
    read -r vb wb < <(jq -r '"\(.version) \(.writer)"' "$GT_TMP/race.b")
    read -r vc wc < <(jq -r '"\(.version) \(.writer)"' "$GT_TMP/race.c")
    # Last writer wins: the higher version, then the higher writer id.
    if ((vb > vc)) || { ((vb == vc)) && [[ $wb > $wc ]]; }; then
        want="from-b-$round" wantv=$vb
    else
        want="from-c-$round" wantv=$vc
    fi
    converged() {
        local n
        for n in "${NODES[@]}"; do
            [ "$(kv_value "$n" race)" = "$want" ] && [ "$(kv_version "$n" race)" = "$wantv" ] || return 1
        done
    }
    wait_until 10 converged ||
        fail "race round $round: want $want@$wantv; have $(for n in "${NODES[@]}"; do printf '%s=%s ' "$n" "$(kv_value "$n" race)"; done)"
    say "concurrent writes on b ($vb) and c ($vc): all five hold the winner $want in ${WAIT_S}s"
done

# ---- a member down during writes catches up by anti-entropy ---------------------------
for i in $(seq 1 100); do printf 'old%03d=%d\n' "$i" "$i"; done >"$GT_TMP/old"
while IFS== read -r k v; do ctl a kv put "$k" "$v" >/dev/null || fail "put $k"; done <"$GT_TMP/old"
wait_until 15 all_hold old100 100 "${NODES[@]}" || fail -a e "old100 did not reach everyone"
have_all_old() { [ "$(ctl "$1" kv list old --keys | wc -l)" = 100 ]; }
wait_until 15 have_all_old e || fail -a e "e does not hold the 100 old keys"
kill_agent e
say "e killed (SIGKILL) holding the 100 old keys"
for i in $(seq 1 50); do ctl d kv put "new$i" "v$i" >/dev/null || fail "put new$i"; done
have_new() { [ "$(ctl "$1" kv list new --keys | wc -l)" = 50 ]; }
for n in a b c d; do wait_until 15 have_new "$n" || fail -a "$n" "$n misses some of the 50 new keys"; done
quiet() { local n; for n in a b c d; do [ "$(counter "$n" kv_rumors_hot)" = 0 ] || return 1; done; }
wait_until 20 quiet || fail "rumors never died down on a..d"
say "50 writes while e was down reached a..d; the rumors are over"
restart_agent e
wait_ready e
# e initiates within [0.5, 1.5) periods and every other member picks it with
# probability 1/4 a period: five periods, plus the time to rejoin, is ample.
deadline=$(awk -v ms="$AE_MS" 'BEGIN { printf "%.1f", 5 * ms / 1000 + 5 }')
wait_until "$deadline" have_new e ||
    fail -a e "e did not catch up within ${deadline}s: it holds $(ctl e kv list new --keys | wc -l) of 50"
say "e caught up with the 50 writes it missed in ${WAIT_S}s (deadline ${deadline}s)"
have_all_old e || fail -a e "e lost old keys over its restart"
loaded=$(counter e kv_log_records_loaded)
got=$(counter e kv_session_entries_received)
by_rumor=$(counter e kv_rumor_entries_new)
[ "${loaded:-0}" -ge 100 ] || fail -a e "e loaded only $loaded records from its log"
[ "${by_rumor:-1}" = 0 ] || fail -a e "e learned $by_rumor entries from rumors; they should have been over"
# The 50 it missed, not its 150-odd entries: two sessions that overlap
# (e's own and one a peer started) may each ship the same 50.
[ "${got:-0}" -ge 50 ] && [ "${got:-0}" -le 100 ] ||
    fail -a e "e received $got entries by anti-entropy; want the 50 it missed, not everything"
say "e kept its data ($loaded log records) and repaired only the difference ($got entries by anti-entropy, 0 by rumor, last method $(counter e kv_last_method))"

# ---- persistence: torn and corrupt tails ----------------------------------------------
log_d=${AG_DIR[d]}/data/kv.log
stop_agent d
size0=$(stat -c %s "$log_d")
printf 'GARBAGE' >>"$log_d" # a torn record: a crash in the middle of an append
restart_agent d
wait_ready d
[ "$(counter d kv_log_errors)" = 1 ] || fail -a d "a torn tail was not counted (kv_log_errors=$(counter d kv_log_errors))"
[ "$(counter d kv_log_truncated_bytes)" = 7 ] || fail -a d "the torn tail was not cut off exactly"
[ "$(stat -c %s "$log_d")" = "$size0" ] || fail "d's log is $(stat -c %s "$log_d") bytes after the cut, want $size0"
grep -q 'kv log tail torn; cut off' "${AG_LOG[d]}" || fail -a d "no warning about the torn tail"
have_new d && have_all_old d || fail -a d "d lost data over the torn tail"
say "torn tail (7 bytes) detected, counted, cut off; the data stayed"

stop_agent d
size1=$(stat -c %s "$log_d")
# One bit flipped in the last record: its checksum fails.
byte=$(od -An -tu1 -j $((size1 - 2)) -N1 "$log_d" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$log_d" bs=1 seek=$((size1 - 2)) conv=notrunc status=none
restart_agent d
wait_ready d
[ "$(counter d kv_log_errors)" = 1 ] || fail -a d "a corrupt record was not counted"
cut=$(counter d kv_log_truncated_bytes)
# (The file grows again at once: anti-entropy brings the lost entry back.)
line=$(grep 'kv log tail corrupt; cut off' "${AG_LOG[d]}" | tail -n1)
[ -n "$line" ] || fail -a d "no warning about the corrupt record"
kept=$(sed -n 's/.* kept_bytes=\([0-9]*\).*/\1/p' <<<"$line")
[ "${cut:-0}" -gt 0 ] && [ "$kept" = $((size1 - cut)) ] ||
    fail -a d "the corrupt record was not cut off (cut=$cut kept=$kept of $size1)"
wait_until 10 have_new d || fail -a d "d did not get its lost record back"
have_all_old d || fail -a d "d lost old keys"
say "corrupt last record ($cut bytes) refused, counted, cut off; anti-entropy brought it back"

# ---- compaction ------------------------------------------------------------------------
val=$(head -c 1000 /dev/zero | tr '\0' c)
for i in $(seq 1 150); do api a PUT /v1/kv/hot "$i$val"; [ "$API_STATUS" = 200 ] || fail "put hot $i"; done
compacted() { [ "$(counter a kv_compactions)" -ge 1 ]; }
wait_until 10 compacted || fail -a a "a's log was never compacted ($(counter a kv_log_bytes) bytes)"
stop_agent a
restart_agent a
wait_ready a
[ "$(kv_value a hot)" = "150$val" ] || fail -a a "a lost the last value of hot over compaction and restart"
have_new a && have_all_old a || fail -a a "a lost keys over compaction and restart"
say "a's log compacted ($(stat -c %s "${AG_DIR[a]}/data/kv.log") bytes now) and reloaded intact"
wait_until 30 full_membership "${NODES[@]}" || fail "the five agents did not regroup"

# ---- deletes are collected everywhere after the horizon ------------------------------------
ctl b kv del old001 || fail "kv del old001"
wait_until 10 all_hold old001 "<absent>" "${NODES[@]}" || fail "the delete did not spread"
collected() {
    local n
    for n in "${NODES[@]}"; do
        [ "$(counter "$n" kv_tombstones)" = 0 ] && [ "$(counter "$n" kv_gc_collected)" -ge 1 ] || return 1
    done
}
gc_deadline=$(awk -v h="$HORIZON_MS" -v ms="$AE_MS" 'BEGIN { printf "%.1f", h / 1000 + 10 * ms / 1000 }')
wait_until "$gc_deadline" collected ||
    fail "the tombstone was not collected everywhere within ${gc_deadline}s: $(for n in "${NODES[@]}"; do printf '%s=%s ' "$n" "$(counter "$n" kv_tombstones)"; done)"
all_hold old001 "<absent>" "${NODES[@]}" || fail "old001 came back after collection"
say "the delete was collected on all five in ${WAIT_S}s (horizon ${HORIZON_MS} ms) and stays deleted"

# ---- a malformed frame ----------------------------------------------------------------------
# TCP frame: u32 BE length, kind 5 (kv), address length, address, payload.
addr=127.0.0.1:1
payload='GK\x01\x03junk'
len=$((2 + ${#addr} + 8))
{ printf "\\x00\\x00\\x00\\x$(printf %02x "$len")\\x05\\x$(printf %02x ${#addr})%s$payload" "$addr"; sleep 0.3; } \
    >/dev/tcp/127.0.0.1/"${AG_GPORT[c]}" 2>/dev/null || true
rejected() { [ "$(counter c kv_msgs_rejected)" -ge 1 ]; }
wait_until 5 rejected || fail -a c "a malformed kv frame was not counted"
assert_running "${NODES[@]}"
say "a malformed key-value frame was refused and counted"

# Metrics.
# (captured first: `grep -q` on a pipe may close it early, and with
# pipefail the writer's SIGPIPE would fail the check)
metrics=$(ctl c metrics) || fail -a c "gossipctl metrics failed"
grep -q '^gossip_kv_sessions_total{method="equal"}' <<<"$metrics" || fail "no gossip_kv_ metrics"
gt_pass
