#!/usr/bin/env bash
# agent_netns.sh -- 8 gossipd in 8 network namespaces on one bridge, real
# packets, nftables for the faults:
#   1. 20 % of the packets each node receives are dropped at random
#      (`numgen random mod 100 < 20 drop`): full membership, and no member
#      declared dead anywhere for 2 minutes (polled, and watched on every
#      node's /v1/watch stream);
#   2. a 50/50 partition for 30 s (loss still on): each side marks the other
#      dead, within a deadline derived from the settings, and nobody on its
#      own side;
#   3. heal: full membership returns by itself within a deadline;
#   4. UDP blocked entirely between two nodes, TCP open: no false dead for
#      40 s, and both send probes over TCP (tcp_fallback_sends).
# The bridge lives in its own "hub" namespace: the host's network is never
# touched.  Every namespace (and so every rule) is deleted at exit, also when
# the test fails.  Needs root, iproute2 with veth and nftables; otherwise it
# prints "SKIP: <reason>" and exits 0 (or $GOSSIP_TEST_SKIP_CODE).
# ctest sets GOSSIPD and GOSSIPCTL.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"

# Skipping exits 0 (a pass to ctest, whose output then hides the message)
# unless GOSSIP_TEST_SKIP_CODE is set: CMake can set it to 77 along with the
# test's SKIP_RETURN_CODE 77, and ctest then reports the test as skipped.
skip() {
    echo "SKIP: agent_netns: $*"
    echo "SKIP: agent_netns: the network-namespace test did NOT run"
    exit "${GOSSIP_TEST_SKIP_CODE:-0}"
}
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces and nftables (uid $(id -u))"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
command -v nft >/dev/null 2>&1 || skip "nft (nftables) is not installed"

gt_init agent_netns

NODES=8
PI=1000      # gossipd's default --probe-interval, ms
PT=500       # default --probe-timeout
GI=200       # default --gossip-interval
LOSS=20      # percent of received packets dropped
LOSS_S=${NETNS_LOSS_SECONDS:-120}
PART_S=30
UDPBLOCK_S=${NETNS_UDPBLOCK_SECONDS:-40}
POLL_S=3
KV_AE=2000  # --kv-anti-entropy-interval, ms
AGENT_COMMON_ARGS=(--gossip-interval "$GI" --probe-interval "$PI" --probe-timeout "$PT" --log-level info
                   --kv-anti-entropy-interval "$KV_AE")

# Names: gsp<PID>-hub, gsp<PID>-n1 ...  A run that was killed outright (no
# trap) leaves its namespaces behind; the next run removes those whose PID is
# gone, with whatever still runs inside them (gossipd from that run).
prefix=gsp$$
for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^gsp[0-9]+-' || true); do
    owner=${ns#gsp}
    owner=${owner%%-*}
    if ! kill -0 "$owner" 2>/dev/null; then
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns delete "$ns" 2>/dev/null && say "removed stale namespace $ns"
    fi
done

# A /24 in 10.0.0.0/8 that no route of the host uses (cosmetic: the
# namespaces are isolated anyway).
for ((try = 0; try < 50; try++)); do
    net="10.$((100 + RANDOM % 150)).$((RANDOM % 256))"
    ip -4 route show 2>/dev/null | grep -q "^${net}\." || break
done

hub=$prefix-hub
ip netns add "$hub" 2>"$GT_TMP/netns.err" || skip "ip netns add failed: $(cat "$GT_TMP/netns.err")"
on_exit ip netns delete "$hub"
ip -n "$hub" link add br0 type bridge || fail "cannot create a bridge in $hub"
ip -n "$hub" link set br0 up
ip -n "$hub" link set lo up

names=()
for ((i = 1; i <= NODES; i++)); do
    n=n$i
    ns=$prefix-$n
    names+=("$n")
    ip netns add "$ns" || fail "ip netns add $ns failed"
    on_exit ip netns delete "$ns"
    if ! ip -n "$hub" link add "v$i" type veth peer name eth0 netns "$ns" 2>"$GT_TMP/veth.err"; then
        ((i == 1)) && skip "cannot create veth pairs: $(cat "$GT_TMP/veth.err")"
        fail "veth for $ns failed: $(cat "$GT_TMP/veth.err")"
    fi
    ip -n "$hub" link set "v$i" master br0 up
    ip -n "$ns" addr add "$net.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    # The test's rules: one table, sets filled by the fault steps below.
    ip netns exec "$ns" nft -f - 2>"$GT_TMP/nft.err" <<EOF || { ((i == 1)) && skip "nftables does not work here: $(cat "$GT_TMP/nft.err")"; fail "nft rules for $ns failed: $(cat "$GT_TMP/nft.err")"; }
table inet gossiptest {
    set part { type ipv4_addr; }
    set noudp { type ipv4_addr; }
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "lo" accept
        ip saddr @part drop
        ip saddr @noudp meta l4proto udp drop
        jump loss
    }
    chain output {
        type filter hook output priority 0; policy accept;
        oifname "lo" accept
        ip daddr @part drop
    }
    chain loss {
    }
}
EOF
    AG_NS[$n]=$ns
    AG_IP[$n]=$net.$i
done
say "$NODES namespaces on bridge br0 (in $hub), nodes $net.1-$NODES/24"

# nft_in NAME CMD...: nft inside NAME's namespace.
nft_in() { local n=$1; shift; ip netns exec "${AG_NS[$n]}" nft "$@"; }
set_loss() { # set_loss PERCENT: on every node (0: none)
    local n
    for n in "${names[@]}"; do
        nft_in "$n" flush chain inet gossiptest loss
        if (($1 > 0)); then
            nft_in "$n" add rule inet gossiptest loss numgen random mod 100 "<" "$1" counter drop ||
                fail "cannot add the loss rule in ${AG_NS[$n]}"
        fi
    done
}
drops() { # drops NAME: packets the loss rule dropped at NAME so far
    nft_in "$1" list chain inet gossiptest loss 2>/dev/null |
        sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -1
}

# ---- start ------------------------------------------------------------------------
for n in "${names[@]}"; do
    if [ "$n" = n1 ]; then
        start_agent "$n" --join "$net.5:7946"
    else
        start_agent "$n" --join "$net.1:7946" --join "$net.5:7946"
    fi
done
wait_ready -t 60 "${names[@]}"
wait_until 60 full_membership "${names[@]}" || fail -a n1 "no full membership after 60s: $(member_table n1)"
say "$NODES gossipd (probe ${PI} ms / timeout ${PT} ms, gossip ${GI} ms): full membership in ${WAIT_S}s"

# no_dead_anywhere NAME...: every node lists every node, none dead; sets
# BAD to what is wrong.  Suspect is allowed (a suspicion may be refuted).
BAD=
no_dead_anywhere() {
    local n js bad
    for n in "${names[@]}"; do
        js=$(members_of "$n") || { BAD="$n: API does not answer"; return 1; }
        bad=$(jq -r --args '[.[] | select(.status == "dead" or .status == "left") | "\(.name)=\(.status)"]
                 + [$ARGS.positional[] as $w | select(all(.[]; .name != $w) ) | "\($w)=absent"]
                 | join(" ")' "$@" <<<"$js" 2>/dev/null) || bad="unparsable member list"
        [ -z "$bad" ] || { BAD="$n sees $bad"; return 1; }
    done
}
# failed_events TAG: member-failed events recorded on any node's stream.
failed_events() {
    local n
    for n in "${names[@]}"; do
        watch_lost "$n" "$1" && echo "$n: the watch stream lost events"
        watch_events "$n" "$1" | jq -r --arg o "$n" \
            'select(.type == "member-failed" or .status == "dead") | "\($o) saw \(.name) \(.type) (\(.status))"'
    done
}
# hold SECONDS TAG WHAT: polls every POLL_S for SECONDS; any dead or missing
# member fails.  Then the watch streams must show no member-failed event.
hold() {
    local secs=$1 tag=$2 what=$3 end polls=0
    end=$(($(gt_ms) + secs * 1000))
    while (($(gt_ms) < end)); do
        assert_running "${names[@]}"
        no_dead_anywhere "${names[@]}" || fail -a "${BAD%% *}" "$what: $BAD"
        polls=$((polls + 1))
        sleep "$POLL_S"
    done
    local ev
    ev=$(failed_events "$tag")
    [ -z "$ev" ] || fail -a "${ev%% *}" "$what: /v1/watch reported: $ev"
    HOLD_POLLS=$polls
}

# ---- 1. random loss --------------------------------------------------------------------
for n in "${names[@]}"; do watch_start "$n" loss; done
wait_until 10 watch_connected "${names[@]}" || fail "the /v1/watch streams did not connect"
set_loss "$LOSS"
say "dropping $LOSS % of the packets every node receives; watching for ${LOSS_S}s"
susp0=$(counter n1 suspicions)
hold "$LOSS_S" loss "under $LOSS % loss"
for n in "${names[@]}"; do watch_stop "$n" loss; done
total_drops=0
for n in "${names[@]}"; do d=$(drops "$n"); total_drops=$((total_drops + ${d:-0})); done
suspicions=0 refutations=0
for n in "${names[@]}"; do
    suspicions=$((suspicions + $(counter "$n" suspicions))); refutations=$((refutations + $(counter "$n" refutations)))
done
((total_drops > 0)) || fail "the loss rule dropped nothing"
wait_until 30 full_membership "${names[@]}" || fail -a n1 "no full membership at the end of the loss phase"
say "${LOSS_S}s at $LOSS % loss: $HOLD_POLLS polls of all nodes, nobody dead; $total_drops packets dropped;" \
    "$suspicions suspicions raised, $refutations refuted"

# Events and queries under the same loss: a user event reaches every node
# once, and a query from another node is acked by all eight.
for n in "${names[@]}"; do watch_start "$n" ev; done
wait_until 10 watch_connected "${names[@]}" || fail "the /v1/watch streams did not connect"
api n3 POST /v1/event/deploy v7
[ "$API_STATUS" = 200 ] || fail -a n3 "POST /v1/event/deploy on n3 -> $API_STATUS: $API_BODY"
_event_everywhere() {
    local n
    for n in "${names[@]}"; do
        [ "$(watch_events "$n" ev | jq -c 'select(.type == "user" and .event == "deploy" and .payload == "v7")' | wc -l)" = 1 ] || return 1
    done
}
wait_until 30 _event_everywhere || fail -a n3 "the user event did not reach every node exactly once under $LOSS % loss"
ev_s=$WAIT_S
API_TIMEOUT=20 api n2 POST "/v1/query/ping?timeout=6000&relay=2" hello
[ "$API_STATUS" = 200 ] || fail -a n2 "POST /v1/query/ping on n2 -> $API_STATUS: $API_BODY"
jq -e --argjson n "$NODES" '.ack_count == $n' <<<"$API_BODY" >/dev/null ||
    fail -a n2 "the query under loss was acked by $(jq -c .acks <<<"$API_BODY"), not all $NODES"
for n in "${names[@]}"; do watch_stop "$n" ev; done
say "under $LOSS % loss: a user event reached all $NODES once in ${ev_s}s; a query (relay 2) was acked by all $NODES"

# A 1 MiB blob put on n4 reaches every node byte-exact under the same loss
# (INV announcements over UDP-lossy gossip, chunks over TCP).
head -c 1048576 /dev/urandom >"$GT_TMP/blob"
API_TIMEOUT=30 api n4 PUT /v1/blob "@$GT_TMP/blob"
[ "$API_STATUS" = 200 ] || fail -a n4 "PUT /v1/blob on n4 -> $API_STATUS: ${API_BODY:0:200}"
blob_hash=$(jq -r .hash <<<"$API_BODY")
_blob_everywhere() {
    local n
    for n in "${names[@]}"; do
        ax "$n" curl -s -o "$GT_TMP/blob.$n" --max-time 10 "http://$(agent_http "$n")/v1/blob/$blob_hash" &&
            cmp -s "$GT_TMP/blob.$n" "$GT_TMP/blob" || return 1
    done
}
wait_until 60 _blob_everywhere || fail -a n4 "the 1 MiB blob did not reach every node byte-exact within 60s under $LOSS % loss"
say "under $LOSS % loss: a 1 MiB blob put on n4 was held byte-exact by all $NODES after ${WAIT_S}s"

# ---- 2. partition 50/50 ---------------------------------------------------------------------
left_side=("${names[@]:0:NODES/2}")
right_side=("${names[@]:NODES/2}")
# The deadline is the partition itself: each side must hold the other dead
# before the 30 s are over.  What to expect from the settings
# (src/core/members.c): each of the 4 members across the cut is first probed
# by one of the 4 on this side after about (N-1) * PI / (N/2), the failed
# probe takes PI, the suspicion expires within max = 3 * max(log10 N * PI,
# 3 * PI, ceil(log2 N) * GI) (no confirmation), "dead" spreads in
# 2 * ceil(log2 N) gossip rounds.  Lifeguard then stretches every probe
# period by (awareness + 1): a probe whose helpers sit across the cut gets
# fewer nacks than it asked for, which raises the prober's awareness; in a
# 50/50 partition it climbs to 3-5, so detection takes about twice the plain
# estimate.
read -r susp_max part_estimate < <(awk -v n="$NODES" -v pi="$PI" -v gi="$GI" 'BEGIN {
    l10 = log(n) / log(10); if (l10 < 1) l10 = 1
    l2 = log(n) / log(2); c2 = (l2 == int(l2)) ? l2 : int(l2) + 1
    min = l10 * pi; if (min < 3 * pi) min = 3 * pi; if (min < c2 * gi) min = c2 * gi
    max = 3 * min
    d = (n - 1) * pi / (n / 2) + pi + max + 2 * c2 * gi
    printf "%d %.1f\n", max, d / 1000 }')
part_deadline=$PART_S
say "partition {${left_side[*]}} | {${right_side[*]}} for ${PART_S}s; deadline: the partition's ${PART_S}s"
say "  (estimate without Lifeguard's slow-down: (N-1)*PI/(N/2) + PI + suspicion max ${susp_max} ms + 2*ceil(log2 N)*GI = ${part_estimate}s)"
for a in "${left_side[@]}"; do
    for b in "${right_side[@]}"; do
        nft_in "$a" add element inet gossiptest part "{ ${AG_IP[$b]} }"
        nft_in "$b" add element inet gossiptest part "{ ${AG_IP[$a]} }"
    done
done
t_part=$(gt_ms)
# side_view OBSERVER "OWN..." "OTHER...": OBSERVER lists OTHER all dead and
# OWN all alive or suspect (under loss a suspicion may be pending refutation).
side_view() {
    local js
    js=$(members_of "$1") || return 1
    jq -e --arg own "$2" --arg other "$3" '
        ($own | split(" ")) as $o | ($other | split(" ")) as $x
        | (map(select(.status == "alive" or .status == "suspect") | .name)) as $ok
        | (map(select(.status == "dead") | .name)) as $dead
        | all($o[]; . as $n | $ok | index([$n]) != null)
          and all($x[]; . as $n | $dead | index([$n]) != null)' <<<"$js" >/dev/null
}
# sides_split: each side lists the other side dead, its own side not dead.
sides_split() {
    local n
    for n in "${left_side[@]}"; do side_view "$n" "${left_side[*]}" "${right_side[*]}" || return 1; done
    for n in "${right_side[@]}"; do side_view "$n" "${right_side[*]}" "${left_side[*]}" || return 1; done
}
max_aw=0
_split_seen() { # sides_split, noting the highest awareness on the way
    local n a
    for n in "${names[@]}"; do
        a=$(counter "$n" awareness) && [ -n "$a" ] && ((a > max_aw)) && max_aw=$a
    done
    sides_split
}
if ! wait_until "$part_deadline" _split_seen; then
    for n in n1 "${right_side[0]}"; do echo "$n sees:"; member_table "$n"; done
    fail -a n1 -a "${right_side[0]}" "the sides did not mark each other dead within ${part_deadline}s"
fi
split_s=$WAIT_S
# Hold the partition for its full 30 s, each side staying alive to itself.
while (($(gt_ms) - t_part < PART_S * 1000)); do
    for n in "${names[@]}"; do
        if [[ " ${left_side[*]} " == *" $n "* ]]; then side=("${left_side[@]}"); else side=("${right_side[@]}"); fi
        sees_none_dead "$n" "${side[@]}" || { member_table "$n"; fail -a "$n" "$n lost a member of its own side during the partition"; }
    done
    sleep "$POLL_S"
done
say "each side holds the other dead after ${split_s}s (deadline ${part_deadline}s; Lifeguard awareness up to $max_aw)," \
    "its own side alive for ${PART_S}s"

# ---- 3. heal ----------------------------------------------------------------------------------
# Deadline: members held dead are still gossiped to (probability dead/(live+1)
# per round), a member told it is dead refutes at once, and a node that
# knows nobody alive knocks on its seeds at least every 10 s
# (SEED_RETRY_MAX_MS): 10 s + suspicion max + 2 * ceil(log2 N) gossip rounds
# + 10 s margin, loss still on.
heal_deadline=$(awk -v m="$susp_max" -v gi="$GI" -v n="$NODES" 'BEGIN {
    l2 = log(n) / log(2); c2 = (l2 == int(l2)) ? l2 : int(l2) + 1
    printf "%.1f", (10000 + m + 2 * c2 * gi + 10000) / 1000 }')
# The key-value store during the split: both sides write one key, the right
# side later; after the heal every node must hold the later write (last
# writer wins), repaired by anti-entropy sessions.
api "${left_side[0]}" PUT /v1/kv/split-key left
[ "$API_STATUS" = 200 ] || fail -a "${left_side[0]}" "kv write on the left side -> $API_STATUS: $API_BODY"
sleep 0.05 # a later millisecond on the right (one host, one clock)
api "${right_side[0]}" PUT /v1/kv/split-key right
[ "$API_STATUS" = 200 ] || fail -a "${right_side[0]}" "kv write on the right side -> $API_STATUS: $API_BODY"
for n in "${names[@]}"; do nft_in "$n" flush set inet gossiptest part; done
wait_until "$heal_deadline" full_membership "${names[@]}" || {
    for n in "${names[@]}"; do sees_all_alive "$n" "${names[@]}" || { echo "$n sees:"; member_table "$n"; break; }; done
    fail -a "$n" "no full membership ${heal_deadline}s after the partition healed"
}
say "healed: full membership again after ${WAIT_S}s, no operator action (deadline ${heal_deadline}s)"
_kv_converged() {
    local n
    for n in "${names[@]}"; do
        api "$n" GET /v1/kv/split-key
        [ "$API_STATUS" = 200 ] && [ "$(jq -r .value <<<"$API_BODY")" = right ] || return 1
    done
}
kv_deadline=$(( 5 * KV_AE / 1000 + 10 ))
wait_until "$kv_deadline" _kv_converged ||
    fail -a n1 "after the heal not every node holds the later write (deadline ${kv_deadline}s): $(for n in "${names[@]}"; do api "$n" GET /v1/kv/split-key; printf '%s=%s ' "$n" "$(jq -r .value <<<"$API_BODY" 2>/dev/null)"; done)"
say "kv: a key written on both sides of the split converged to the later write on all $NODES in ${WAIT_S}s (deadline ${kv_deadline}s)"

# ---- 4. UDP blocked between two nodes, TCP open ------------------------------------------------
ua=n2 ub=n7
nft_in "$ua" add element inet gossiptest noudp "{ ${AG_IP[$ub]} }"
nft_in "$ub" add element inet gossiptest noudp "{ ${AG_IP[$ua]} }"
fb_a0=$(counter "$ua" tcp_fallback_sends)
fb_b0=$(counter "$ub" tcp_fallback_sends)
[ -n "$fb_a0" ] || fail "/v1/info has no tcp_fallback_sends counter"
for n in "${names[@]}"; do watch_start "$n" noudp; done
wait_until 10 watch_connected "${names[@]}" || fail "the /v1/watch streams did not connect"
say "UDP between $ua (${AG_IP[$ua]}) and $ub (${AG_IP[$ub]}) dropped, TCP open, loss on; watching for ${UDPBLOCK_S}s"
hold "$UDPBLOCK_S" noudp "UDP blocked between $ua and $ub"
fb_a=$(($(counter "$ua" tcp_fallback_sends) - fb_a0))
fb_b=$(($(counter "$ub" tcp_fallback_sends) - fb_b0))
((fb_a > 0 && fb_b > 0)) ||
    fail -a "$ua" -a "$ub" "no probe went over TCP between $ua and $ub (tcp_fallback_sends +$fb_a, +$fb_b)"
say "no false dead in ${UDPBLOCK_S}s ($HOLD_POLLS polls); probes sent over TCP: $ua +$fb_a, $ub +$fb_b"

assert_running "${names[@]}"
gt_pass
