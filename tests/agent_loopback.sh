#!/usr/bin/env bash
# agent_loopback.sh -- a cluster of real gossipd processes on 127.0.0.1:
#   1. full membership on every node (and tags gossiped);
#   2. SIGKILL one -> every other marks it dead within a deadline derived
#      from the settings (the formula is printed);
#   3. restart it with the same data dir and no --join -> alive again, with
#      a higher generation, everywhere;
#   4. a state key set on one node (gossipctl) appears on all; deleted, it
#      disappears from all;
#   5. graceful leave (SIGTERM) -> "left" everywhere, never "dead" (polled and
#      watched on every node's /v1/watch stream), the process exits 0.
# ctest sets GOSSIPD and GOSSIPCTL.  AGENT_N (20) sets the cluster size.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_loopback

N=${AGENT_N:-20}
GI=200      # --gossip-interval, ms
PI=500      # --probe-interval, ms
PT=250      # --probe-timeout, ms
LT=3000     # --leave-timeout, ms
AGENT_COMMON_ARGS=(--gossip-interval "$GI" --probe-interval "$PI" --probe-timeout "$PT"
                   --leave-timeout "$LT" --log-level info)

names=()
for ((i = 1; i <= N; i++)); do names+=("$(printf 'n%02d' "$i")"); done
seed=${names[0]}
victim=${names[6]}       # killed and restarted
writer=${names[2]}       # sets a state key
leaver=${names[11]}      # leaves gracefully

# others NAME...: every node but the given ones.
others() {
    local n x skip out=()
    for n in "${names[@]}"; do
        skip=0
        for x in "$@"; do [ "$n" = "$x" ] && skip=1; done
        ((skip)) || out+=("$n")
    done
    echo "${out[@]}"
}

# ---- 1. start and converge -----------------------------------------------------
say "starting $N gossipd on 127.0.0.1 (gossip ${GI} ms, probe ${PI} ms / timeout ${PT} ms)"
start_agent "$seed" --tag zone=z1 --tag role=seed
for n in "${names[@]:1}"; do
    start_agent "$n" --join "$(agent_bind "$seed")" --tag "zone=z$((10#${n#n} % 3))"
done
wait_ready -t 60 "${names[@]}"
say "all $N HTTP APIs answer; seed $seed at $(agent_bind "$seed")"

# Push-pull converges in about log3 N + log2 ln N rounds; 60 s leaves room for
# 20 processes starting at once under ASan on two cores.
wait_until 60 full_membership "${names[@]}" || {
    for n in "${names[@]}"; do
        sees_all_alive "$n" "${names[@]}" || { echo "$n sees:"; member_table "$n"; break; }
    done
    fail -a "$n" "no full membership after 60s"
}
say "full membership: every node lists all $N alive (${WAIT_S}s)"

# Tags travel with the member; gossipctl --json lists what the API lists.
want_zone="z$((10#${names[N - 1]#n} % 3))"
got=$(members_of "$seed" | jq -r --arg t "${names[N - 1]}" '.[] | select(.name == $t) | .tags.zone')
[ "$got" = "$want_zone" ] || fail "$seed sees ${names[N - 1]}'s tag zone=$got, want $want_zone"
ctl_json=$("$GOSSIPCTL" --http "$(agent_http "${names[4]}")" members --json) ||
    fail "gossipctl members --json failed"
ctl_alive=$(jq '[.[] | select(.status == "alive")] | length' <<<"$ctl_json")
[ "$ctl_alive" = "$N" ] || fail "gossipctl members --json lists $ctl_alive alive, want $N"
self_count=$(jq '[.[] | select(.self == true)] | length' <<<"$ctl_json")
[ "$self_count" = 1 ] || fail "gossipctl members --json: $self_count entries with self=true, want 1"
say "tags gossiped; gossipctl members --json agrees ($ctl_alive alive)"

# UDP works between every pair here: the TCP fallback path must stay nearly
# idle (it carries a probe datagram only when UDP is shown not to work on
# that path: an ask left unanswered past the probe timeout, which a loaded
# host causes now and then).
sum_counter() {
    local n v s=0
    for n in "${names[@]}"; do
        v=$(counter "$n" "$1") && [ -n "$v" ] || return 1
        s=$((s + v))
    done
    echo "$s"
}
enough_probes() { local p; p=$(sum_counter probes) && [ "$p" -ge $((10 * N)) ]; }
wait_until 60 enough_probes || fail "fewer than $((10 * N)) probes in 60s"
probes=$(sum_counter probes) fallback=$(sum_counter tcp_fallback_sends)
[ $((fallback * 10)) -le "$probes" ] ||
    fail "UDP is healthy, yet $fallback probe datagrams went over TCP as well ($probes probes)"
say "healthy UDP: $fallback probe datagrams also sent over TCP, for $probes probes"

# ---- 2. SIGKILL one: dead everywhere within a derived deadline ----------------------
# The engine's suspicion timeout (src/core/members.c, docs/failure-detection.md):
#   min = max(suspicion_min_mult(1) * max(1, log10 N) * PI, 3 * PI, ceil(log2 N) * GI)
#   max = suspicion_max_mult(3) * min        (a suspicion nobody confirms)
# Detection = first probe of the victim (with N-1 probers, within 5 PI but for
# (1-1/(N-1))^(5(N-1)) < 1 % of runs) + the failed probe's interval (PI) + max
# suspicion + dissemination of "dead" (2 * ceil(log2 N) gossip rounds) + a
# margin for 20 processes under ASan on a loaded 2-core machine (15 s).
read -r susp_min susp_max detect_deadline < <(awk -v n="$N" -v pi="$PI" -v gi="$GI" 'BEGIN {
    l10 = log(n) / log(10); if (l10 < 1) l10 = 1
    l2 = log(n) / log(2); c2 = (l2 == int(l2)) ? l2 : int(l2) + 1
    min = l10 * pi; if (min < 3 * pi) min = 3 * pi; if (min < c2 * gi) min = c2 * gi
    max = 3 * min
    d = 5 * pi + pi + max + 2 * c2 * gi + 15000
    printf "%d %d %.1f\n", min, max, d / 1000 }')
say "deadline for 'dead': 5*PI + PI + suspicion max + 2*ceil(log2 N)*GI + 15 s margin"
say "  suspicion min = max(log10 N * PI, 3*PI, ceil(log2 N)*GI) = ${susp_min} ms, max = 3*min = ${susp_max} ms"
say "  => ${detect_deadline}s"

old_gen=$(field_seen "$seed" "$victim" generation)
[ -n "$old_gen" ] || fail -a "$seed" "$seed has no generation for $victim"
victim_http=$(agent_http "$victim")
kill_agent "$victim" KILL
say "SIGKILL $victim (generation $old_gen)"
survivors=($(others "$victim"))
wait_until "$detect_deadline" all_see dead "$victim" "${survivors[@]}" ||
    fail -a "$seed" "not every node marked $victim dead within ${detect_deadline}s:" \
        "$(who_sees_not dead "$victim" "${survivors[@]}")"
say "$victim is dead in all $((N - 1)) tables after ${WAIT_S}s (deadline ${detect_deadline}s)"
# Nobody else was declared dead on the way (a pending suspicion is allowed).
for n in "${survivors[@]}"; do
    sees_none_dead "$n" "${survivors[@]}" || {
        member_table "$n"
        fail -a "$n" "$n holds a survivor dead (or lost it) after $victim's death"
    }
done

# gossipctl's contract: exit 3 when the agent is unreachable.
rc=0
"$GOSSIPCTL" --http "$victim_http" members >/dev/null 2>"$GT_TMP/ctl.err" || rc=$?
[ "$rc" = 3 ] || fail "gossipctl against a dead agent exited $rc, want 3 ($(cat "$GT_TMP/ctl.err"))"
[ -s "$GT_TMP/ctl.err" ] || fail "gossipctl against a dead agent printed no message"
say "gossipctl --http $victim_http members -> exit 3: $(head -1 "$GT_TMP/ctl.err")"

# ---- 3. restart with the same data dir, without --join ------------------------------
restart_agent "$victim" --tag "zone=z$((10#${victim#n} % 3))"
wait_ready "$victim"
_victim_back() {
    local n g
    for n in "${survivors[@]}"; do
        [ "$(status_seen "$n" "$victim")" = alive ] || return 1
        g=$(field_seen "$n" "$victim" generation)
        [ -n "$g" ] && ((g > old_gen)) || return 1
    done
    sees_all_alive "$victim" "${names[@]}"
}
wait_until 30 _victim_back || {
    echo "$victim sees:"; member_table "$victim"
    fail -a "$victim" "$victim not back alive with a generation above $old_gen everywhere within 30s:" \
        "$(who_sees_not alive "$victim" "${survivors[@]}")"
}
new_gen=$(field_seen "$seed" "$victim" generation)
self_gen=$(get_json "$victim" /v1/self | jq -r '.generation')
[ "$self_gen" = "$new_gen" ] || fail "$victim's /v1/self says generation $self_gen, $seed says $new_gen"
say "$victim restarted without --join: alive everywhere, generation $old_gen -> $new_gen (${WAIT_S}s)"

# ---- 4. application state -----------------------------------------------------------
key=greeting
value="hello from $writer"
"$GOSSIPCTL" --http "$(agent_http "$writer")" state set "$key" "$value" >/dev/null ||
    fail "gossipctl state set failed"
got=$("$GOSSIPCTL" --http "$(agent_http "$writer")" state get "$key") || fail "gossipctl state get failed"
[ "$got" = "$value" ] || fail "gossipctl state get printed '$got', want '$value'"
api "$writer" GET "/v1/state/$key"
[ "$API_STATUS" = 200 ] || fail "GET /v1/state/$key -> $API_STATUS: $API_BODY"
_state_is() { # _state_is VALUE|"" : every node holds writer's key at VALUE (or not at all)
    local n js
    for n in "${names[@]}"; do
        js=$(members_of "$n") || return 1
        jq -e --arg w "$writer" --arg k "$key" --arg v "$1" \
            '.[] | select(.name == $w) | (.state[$k] // "") == $v' <<<"$js" >/dev/null || return 1
    done
}
wait_until 20 _state_is "$value" || fail -a "$writer" "$key=\"$value\" set on $writer did not reach every node in 20s"
say "state $key=\"$value\" set on $writer (gossipctl) is on all $N nodes after ${WAIT_S}s"
"$GOSSIPCTL" --http "$(agent_http "$writer")" state del "$key" >/dev/null || fail "gossipctl state del failed"
wait_until 20 _state_is "" || fail -a "$writer" "$key deleted on $writer is still listed somewhere after 20s"
api "$writer" GET "/v1/state/$key"
[ "$API_STATUS" = 404 ] || fail "GET /v1/state/$key after delete -> $API_STATUS, want 404"
say "deleted: gone from all $N nodes after ${WAIT_S}s"

# ---- 5. graceful leave: "left", never "dead" ----------------------------------------------
stayers=($(others "$leaver"))
for n in "${stayers[@]}"; do watch_start "$n"; done
wait_until 10 watch_connected "${stayers[@]}" || fail "the /v1/watch streams did not all connect in 10s"
leaver_pid=$(agent_pid "$leaver")
t_term=$(gt_ms)
AG_EXPECT_DOWN[$leaver]=1
kill -TERM "$leaver_pid"
say "SIGTERM $leaver: graceful leave (--leave-timeout ${LT} ms)"
leaver_rc=
# Poll every node until all list it "left"; any "dead" on the way fails, and
# the exit status is collected as soon as the process is gone.
_reap_leaver() {
    if [ -z "$leaver_rc" ] && ! agent_running "$leaver"; then
        leave_ms=$(($(gt_ms) - t_term))
        leaver_rc=0
        wait "$leaver_pid" || leaver_rc=$?
    fi
}
_left_everywhere() {
    _reap_leaver
    local n s all=0
    for n in "${stayers[@]}"; do
        _reap_leaver
        s=$(status_seen "$n" "$leaver")
        [ "$s" = dead ] && { dead_seen_by=$n; return 0; }
        [ "$s" = left ] || all=1
    done
    return $all
}
dead_seen_by=
wait_until 20 _left_everywhere ||
    fail -a "$leaver" "$leaver is not 'left' everywhere 20s after SIGTERM: $(who_sees_not left "$leaver" "${stayers[@]}")"
[ -z "$dead_seen_by" ] || fail -a "$leaver" -a "$dead_seen_by" "$dead_seen_by reports $leaver dead after its graceful leave"
say "$leaver is 'left' in all $((N - 1)) tables after ${WAIT_S}s"
# It stays "left" for longer than a suspicion could take to expire.
hold_s=$(awk -v m="$susp_max" 'BEGIN { printf "%.1f", 2 * m / 1000 + 1 }')
_never_dead() {
    local n
    _reap_leaver
    for n in "${stayers[@]}"; do
        _reap_leaver
        [ "$(status_seen "$n" "$leaver")" = left ] || { dead_seen_by="$n=$(status_seen "$n" "$leaver")"; return 0; }
    done
    return 1
}
if wait_until "$hold_s" _never_dead; then
    fail -a "$leaver" "$leaver changed from 'left' within ${hold_s}s: $dead_seen_by"
fi
if [ -z "$leaver_rc" ]; then
    wait_until 10 _exited "$leaver" || fail -a "$leaver" "$leaver still running $((($(gt_ms) - t_term) / 1000))s after SIGTERM"
    _reap_leaver
fi
AG_RC[$leaver]=$leaver_rc
[ "$leaver_rc" = 0 ] || fail -a "$leaver" "$leaver exited with status $leaver_rc after SIGTERM, want 0"
((leave_ms <= LT + 5000)) || fail -a "$leaver" "$leaver took ${leave_ms} ms to exit, more than --leave-timeout + 5 s"
say "$leaver exited 0, ${leave_ms} ms after SIGTERM; still 'left' everywhere ${hold_s}s later"
# The watch streams saw no failure of the leaver, not even a transient one.
for n in "${stayers[@]}"; do
    ev=$(watch_events "$n" | jq -c --arg l "$leaver" \
        'select(.name == $l and (.type == "member-failed" or .status == "dead"))' | head -1)
    [ -z "$ev" ] || fail -a "$n" "$n's /v1/watch reported $leaver failed: $ev"
    watch_events "$n" | jq -e --arg l "$leaver" 'select(.name == $l and .type == "member-leave")' >/dev/null ||
        fail -a "$n" "$n's /v1/watch stream has no member-leave event for $leaver"
done
say "no /v1/watch stream reported $leaver failed; every one reported member-leave"

# Everyone else is still up, and alive in every table.
assert_running "${stayers[@]}"
for n in "${stayers[@]}"; do
    sees_none_dead "$n" "${stayers[@]}" || { member_table "$n"; fail -a "$n" "$n holds a live node dead (or lost it)"; }
done
wait_until 15 full_membership "${stayers[@]}" || fail "the other $((N - 1)) nodes do not all list each other alive"
say "the other $((N - 1)) nodes are running and list each other alive"

# ---- 6. a member that left comes back by itself -----------------------------------------
# Nobody gossips to a member that left, so only the members kept in its data
# dir can bring it back: restart it without --join.
left_gen=$(field_seen "$seed" "$leaver" generation)
restart_agent "$leaver" --tag "zone=z$((10#${leaver#n} % 3))"
wait_ready "$leaver"
_leaver_back() {
    local n g
    for n in "${stayers[@]}"; do
        [ "$(status_seen "$n" "$leaver")" = alive ] || return 1
        g=$(field_seen "$n" "$leaver" generation)
        [ -n "$g" ] && ((g > left_gen)) || return 1
    done
    sees_all_alive "$leaver" "${names[@]}"
}
wait_until 30 _leaver_back || {
    echo "$leaver sees:"; member_table "$leaver"
    fail -a "$leaver" "$leaver, restarted from its data dir without --join, is not alive everywhere after 30s:" \
        "$(who_sees_not alive "$leaver" "${stayers[@]}")"
}
say "$leaver restarted from its data dir without --join: rejoined, generation $left_gen -> $(field_seen "$seed" "$leaver" generation) (${WAIT_S}s)"
assert_running "${names[@]}"

# ---- 7. after the kill, restart and leave, the TCP fallback goes quiet again ----------------
# Probes that went over TCP while a member was down must not keep a healthy
# pair on TCP (each side's TCP copy re-arming the other's).  Counters
# restarted with $victim and $leaver, so the sums are over the others.
sum_over() { # sum_over KEY NAME...
    local k=$1 n v s=0
    shift
    for n in "$@"; do
        v=$(counter "$n" "$k") && [ -n "$v" ] || return 1
        s=$((s + v))
    done
    echo "$s"
}
quiet_set=($(others "$victim" "$leaver"))
p0=$(sum_over probes "${quiet_set[@]}") f0=$(sum_over tcp_fallback_sends "${quiet_set[@]}")
more_probes() { local p; p=$(sum_over probes "${quiet_set[@]}") && [ "$p" -ge $((p0 + 10 * N)) ]; }
wait_until 60 more_probes || fail "fewer than $((10 * N)) probes in 60s"
p1=$(sum_over probes "${quiet_set[@]}") f1=$(sum_over tcp_fallback_sends "${quiet_set[@]}")
[ $(((f1 - f0) * 10)) -le $((p1 - p0)) ] ||
    fail "the TCP fallback stayed busy on healthy paths: $((f1 - f0)) probe datagrams over TCP for $((p1 - p0)) probes"
say "afterwards the TCP fallback is quiet: $((f1 - f0)) probe datagrams over TCP for $((p1 - p0)) probes"
gt_pass
