#!/usr/bin/env bash
# make demo: a live cluster of real gossipd processes on this machine.
#   1. five agents start on 127.0.0.1 (data dirs in a temporary folder) and
#      the member table fills in as they find each other;
#   2. one is killed with SIGKILL: every other marks it suspect, then dead;
#   3. it restarts from its data dir: alive again, with a new generation;
#   4. a state key set on one node shows up on all;
#   5. the cluster keeps running, with the HTTP API to explore, until Ctrl-C,
#      which stops every process this script started.
# Usage: scripts/demo.sh [BUILD-DIR]   (make demo passes build/)
# With DEMO_NONINTERACTIVE=1, or when stdin is not a terminal, it stops after
# step 5 instead of waiting for Ctrl-C (tests/agent_demo.sh runs it so).
# DEMO_PORT_BASE=B: node i uses ports B+10i (gossip) and B+10i+1 (HTTP).
set -uo pipefail
build=${1:-build}
gossipd=$build/gossipd
gossipctl=$build/gossipctl
N=5
names=(ada bob cyd dan eve)

# ---- presentation ------------------------------------------------------------
if [ -t 1 ] && [ "${TERM:-dumb}" != dumb ] && [ -z "${NO_COLOR:-}" ]; then
    B=$'\e[1m' D=$'\e[2m' R=$'\e[0m' RED=$'\e[31m' GRN=$'\e[32m' YEL=$'\e[33m' BLU=$'\e[34m' CYN=$'\e[36m'
else
    B= D= R= RED= GRN= YEL= BLU= CYN=
fi
usec() { echo "${EPOCHREALTIME/[.,]/}"; }
since() { # since T0: seconds since the usec() T0, "1.2"
    local t
    t=$(usec)
    printf '%d.%d' $(((t - $1) / 1000000)) $(((t - $1) / 100000 % 10))
}
step_no=0
step() { step_no=$((step_no + 1)); printf '\n%s%d. %s%s\n' "$B" "$step_no" "$*" "$R"; }
note() { printf '   %s\n' "$*"; }
dim() { printf '   %s%s%s\n' "$D" "$*" "$R"; }
cmd() { printf '   %s$ %s%s\n' "$CYN" "$*" "$R"; }
paint() { # paint STATUS: the status, coloured
    case $1 in
        alive) printf '%s%-7s%s' "$GRN" alive "$R" ;;
        suspect) printf '%s%-7s%s' "$YEL" suspect "$R" ;;
        dead) printf '%s%-7s%s' "$RED" dead "$R" ;;
        left) printf '%s%-7s%s' "$BLU" left "$R" ;;
        *) printf '%-7s' "$1" ;;
    esac
}
die() { printf '\n%sdemo: %s%s\n' "$RED" "$*" "$R" >&2; exit 1; }

for tool in curl jq ss; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed (scripts/deps.sh installs it)"
done
[ -x "$gossipd" ] && [ -x "$gossipctl" ] || die "no $gossipd / $gossipctl: run 'make demo' (it builds first)"
gossipd=$(cd "$(dirname "$gossipd")" && pwd)/gossipd
gossipctl=$(cd "$(dirname "$gossipctl")" && pwd)/gossipctl

# ---- processes, cleanup -----------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gossip-demo.XXXXXX")
declare -A pid=() gport=() hport=()
stopping=0
sleeper=
cleanup() {
    local rc=$?
    ((stopping)) && return
    stopping=1
    trap - INT TERM EXIT
    trap '' PIPE     # the terminal or pipe may be gone: writes fail, they do not kill
    [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
    local n alive=()
    for n in "${names[@]}"; do
        [ -n "${pid[$n]:-}" ] && kill -0 "${pid[$n]}" 2>/dev/null && alive+=("$n")
    done
    if ((${#alive[@]})); then
        printf '\n%sstopping %d agents (SIGTERM: each leaves the cluster gracefully)...%s' "$B" "${#alive[@]}" "$R" 2>/dev/null
        for n in "${alive[@]}"; do kill -TERM "${pid[$n]}" 2>/dev/null; done
        local deadline=$((${EPOCHREALTIME/[.,]/} + 8000000))
        for n in "${alive[@]}"; do
            while kill -0 "${pid[$n]}" 2>/dev/null && ((${EPOCHREALTIME/[.,]/} < deadline)); do sleep 0.1; done
            kill -KILL "${pid[$n]}" 2>/dev/null
            { wait "${pid[$n]}"; } 2>/dev/null
        done
        printf ' done\n' 2>/dev/null
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE    # e.g. piped into head: still stop the agents

# Ports: node i gossips on BASE + 10*i and serves HTTP on BASE + 10*i + 1;
# BASE is the first of a few candidates with all ten ports free.
used=" $(ss -Hantu 2>/dev/null | awk '{ n = split($5, a, ":"); printf "%s ", a[n] }') "
base=
candidates=(7936 17936 27936 $((20000 + RANDOM % 10000)) $((20000 + RANDOM % 10000)))
[ -n "${DEMO_PORT_BASE:-}" ] && candidates=("$DEMO_PORT_BASE")   # tests pass a reserved block
for cand in "${candidates[@]}"; do
    ok=1
    for ((i = 1; i <= N; i++)); do
        for p in $((cand + 10 * i)) $((cand + 10 * i + 1)); do
            [[ $used == *" $p "* ]] && ok=0
        done
    done
    ((ok)) && { base=$cand; break; }
done
[ -n "$base" ] || die "no free ports found"
for ((i = 1; i <= N; i++)); do
    n=${names[i - 1]}
    gport[$n]=$((base + 10 * i))
    hport[$n]=$((base + 10 * i + 1))
done

settings=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250 --leave-timeout 2000)
seed=127.0.0.1:${gport[${names[0]}]}

start() { # start NAME [FLAGS...]
    local n=$1
    shift
    mkdir -p "$tmp/$n"
    "$gossipd" --name "$n" --bind "127.0.0.1:${gport[$n]}" --http "127.0.0.1:${hport[$n]}" \
        --data-dir "$tmp/$n/data" "${settings[@]}" "$@" >>"$tmp/$n/log" 2>&1 </dev/null &
    pid[$n]=$!
}
http() { echo "127.0.0.1:${hport[$1]}"; }
members() { curl -s --max-time 2 "http://$(http "$1")/v1/members"; }
status_of() { # status_of OBSERVER TARGET
    members "$1" | jq -r --arg t "$2" '(map(select(.name == $t)) | .[0].status) // "-"' 2>/dev/null || echo "?"
}
ready() { curl -s -o /dev/null --max-time 1 "http://$(http "$1")/v1/self"; }
ctl_table() { # ctl_table NAME: gossipctl's member table at NAME, indented
    "$gossipctl" --http "$(http "$1")" members 2>&1 | sed 's/^/     /' |
        sed -e "s/ alive / ${GRN}alive${R} /" -e "s/ suspect / ${YEL}suspect${R} /" \
            -e "s/ dead / ${RED}dead${R} /" -e "s/ left / ${BLU}left${R} /"
}
# until_true SECONDS CMD...: polls CMD every 0.2 s; false on timeout.
until_true() {
    local end=$((${EPOCHREALTIME/[.,]/} + $1 * 1000000))
    shift
    until "$@"; do
        ((${EPOCHREALTIME/[.,]/} < end)) || return 1
        sleep 0.2
    done
}
log_tail() { dim "last lines of $1's log ($tmp/$1/log):"; tail -5 "$tmp/$1/log" | sed 's/^/     /'; }

printf '%sgossip: a live cluster of %d gossipd agents on this machine%s\n' "$B" "$N" "$R"
dim "$("$gossipd" --version 2>/dev/null | head -1); data dirs and logs in $tmp"
dim "settings: gossip every 200 ms, a SWIM probe every 500 ms (timeout 250 ms): quick to watch"

# ---- 1. start and converge -----------------------------------------------------------
step "Start $N agents; each joins the first one, $seed"
zone() { echo "zone=z$(( $1 % 2 + 1 ))"; }
t_start=$(usec)
for ((i = 0; i < N; i++)); do
    n=${names[i]}
    if ((i == 0)); then start "$n" --tag "$(zone $i)"; else start "$n" --join "$seed" --tag "$(zone $i)"; fi
done
cmd "gossipd --name ${names[1]} --bind 127.0.0.1:${gport[${names[1]}]} --http $(http "${names[1]}") \\"
cmd "        --data-dir $tmp/${names[1]}/data --join $seed --tag $(zone 1)"
note "How many members each agent lists alive, as the gossip spreads (- : not answering yet):"
printf '   %s%7s' "$D" "time"
for n in "${names[@]}"; do printf '%6s' "$n"; done
printf '%s\n' "$R"
last=
for ((k = 0; k < 200; k++)); do
    row=() full=1
    for n in "${names[@]}"; do
        kill -0 "${pid[$n]}" 2>/dev/null || { log_tail "$n"; die "$n exited at start"; }
        c=$(members "$n" | jq '[.[] | select(.status == "alive")] | length' 2>/dev/null) || c=-
        [ -n "$c" ] || c=-
        row+=("$c")
        [ "$c" = "$N" ] || full=0
    done
    if [ "${row[*]}" != "$last" ]; then
        printf '   %6ss' "$(since "$t_start")"
        for c in "${row[@]}"; do
            if [ "$c" = "$N" ]; then printf '%s%6s%s' "$GRN" "$c" "$R"; else printf '%6s' "$c"; fi
        done
        printf '\n'
        last=${row[*]}
    fi
    ((full)) && break
    sleep 0.1
done
((full)) || die "the cluster did not converge in 20 s"
note "Converged: every agent knows all $N. The member table, from ${names[0]}:"
cmd "gossipctl --http $(http "${names[0]}") members"
ctl_table "${names[0]}"

# ---- 2. SIGKILL ------------------------------------------------------------------------
victim=${names[2]}
old_gen=$(members "${names[0]}" | jq -r --arg v "$victim" '.[] | select(.name == $v) | .generation')
step "Kill $victim with SIGKILL (no goodbye): the others probe it, suspect it, declare it dead"
cmd "kill -9 ${pid[$victim]}"
# One group, stderr closed: bash reports a killed job right after the kill.
{ kill -KILL "${pid[$victim]}"; wait "${pid[$victim]}"; } 2>/dev/null
t_kill=$(usec)
observers=()
for n in "${names[@]}"; do [ "$n" != "$victim" ] && observers+=("$n"); done
printf '   %s%7s   %s%s\n' "$D" "time" "$victim as seen by ${observers[*]}" "$R"
last=
for ((k = 0; k < 300; k++)); do
    row=() all=1
    for n in "${observers[@]}"; do
        s=$(status_of "$n" "$victim")
        row+=("$s")
        [ "$s" = dead ] || all=0
    done
    if [ "${row[*]}" != "$last" ]; then
        printf '   %6ss  ' "$(since "$t_kill")"
        for s in "${row[@]}"; do printf ' '; paint "$s"; done
        printf '\n'
        last=${row[*]}
    fi
    ((all)) && break
    sleep 0.1
done
((all)) || die "$victim was not marked dead by everyone within 30 s"
note "All $((N - 1)) survivors hold $victim ${RED}dead${R}, $(since "$t_kill") s after the kill."
dim "(SWIM probes + Lifeguard suspicion: a suspect has a few probe intervals to refute before it is declared dead)"
cmd "gossipctl --http $(http "${names[0]}") members"
ctl_table "${names[0]}"

# ---- 3. restart ------------------------------------------------------------------------------
step "Restart $victim from its data dir, without --join: it rejoins by itself with a new generation"
cmd "gossipd --name $victim ... --data-dir $tmp/$victim/data        # no --join"
t_restart=$(usec)
start "$victim" --tag "$(zone 2)"
until_true 20 ready "$victim" || { log_tail "$victim"; die "$victim did not restart"; }
back() {
    local n
    for n in "${observers[@]}"; do [ "$(status_of "$n" "$victim")" = alive ] || return 1; done
}
until_true 30 back || die "$victim did not come back everywhere within 30 s"
new_gen=$(members "${names[0]}" | jq -r --arg v "$victim" '.[] | select(.name == $v) | .generation')
note "$victim is ${GRN}alive${R} again for all $((N - 1)) others, $(since "$t_restart") s after it was started;"
note "generation $old_gen -> ${B}$new_gen${R} (a restart always comes back newer, so it overrides the old 'dead')."
cmd "gossipctl --http $(http "${names[0]}") members"
ctl_table "${names[0]}"

# ---- 4. state -------------------------------------------------------------------------------
writer=${names[1]}
key=motd
value="hello from $writer"
step "Set a state key on $writer; gossip carries it to every node"
cmd "gossipctl --http $(http "$writer") state set $key \"$value\""
"$gossipctl" --http "$(http "$writer")" state set "$key" "$value" >/dev/null || die "gossipctl state set failed"
t_set=$(usec)
declare -A seen_at=([$writer]=0)
for ((k = 0; k < 200; k++)); do
    for n in "${names[@]}"; do
        [ -n "${seen_at[$n]:-}" ] && continue
        v=$(members "$n" | jq -r --arg w "$writer" --arg k "$key" '.[] | select(.name == $w) | .state[$k] // empty' 2>/dev/null)
        if [ "$v" = "$value" ]; then
            seen_at[$n]=$((($(usec) - t_set) / 1000))
        fi
    done
    ((${#seen_at[@]} == N)) && break
    sleep 0.05
done
((${#seen_at[@]} == N)) || die "the key did not reach every node within 10 s"
for n in "${names[@]}"; do
    if [ "$n" = "$writer" ]; then when="(set here)"; else when="(after ${seen_at[$n]} ms)"; fi
    printf '   %-4s sees %s.state.%s = %s"%s"%s   %s%s%s\n' "$n" "$writer" "$key" "$GRN" "$value" "$R" \
        "$D" "$when" "$R"
done
cmd "curl -s http://$(http "${names[4]}")/v1/members | jq '.[] | select(.name == \"$writer\") | .state'"
members "${names[4]}" | jq --arg w "$writer" '.[] | select(.name == $w) | .state' | sed 's/^/     /'

# ---- 5. explore -------------------------------------------------------------------------------
step "The cluster is yours"
printf '   %s%-5s %-8s %-22s %-24s %s%s\n' "$D" name pid gossip "HTTP API" log "$R"
for n in "${names[@]}"; do
    printf '   %-5s %-8s %-22s %s%-24s%s %s\n' "$n" "${pid[$n]}" "127.0.0.1:${gport[$n]}" "$B" \
        "http://$(http "$n")" "$R" "$tmp/$n/log"
done
echo
note "Try, in another terminal:"
cmd "$gossipctl --http $(http "${names[0]}") members"
cmd "$gossipctl --http $(http "${names[1]}") watch                  # events as they happen"
cmd "$gossipctl --http $(http "${names[2]}") state set color blue"
cmd "curl -s http://$(http "${names[0]}")/v1/members | jq"
cmd "curl -s http://$(http "${names[0]}")/v1/info | jq .counters.engine"
cmd "curl -s http://$(http "${names[0]}")/metrics | grep ^gossip_members"
cmd "kill -9 ${pid[${names[3]}]}                                    # ${names[3]}: watch it die"
cmd "kill ${pid[${names[4]}]}                                       # ${names[4]}: a graceful leave"

if [ "${DEMO_NONINTERACTIVE:-0}" = 1 ] || ! [ -t 0 ]; then
    echo
    note "(not interactive: stopping here)"
    exit 0
fi
echo
note "${B}Ctrl-C${R} stops all $N agents and removes $tmp."
while :; do
    sleep 3600 &
    sleeper=$!
    wait "$sleeper" 2>/dev/null
done
