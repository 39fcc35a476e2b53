# tests/lib/agent.sh -- shared helpers for the gossipd shell tests
# (tests/agent_*.sh).  Source it from a bash script:
#
#     set -uo pipefail
#     . "$(dirname "$0")/lib/agent.sh"
#     gt_init agent_example          # temp dir, cleanup trap, tool checks
#     start_agent a --join ...       # gossipd on loopback, free ports
#     wait_ready a
#     wait_until 10 sees_all_alive a b c || fail -a a "a never saw b and c"
#     gt_pass
#
# ctest sets GOSSIPD and GOSSIPCTL.  Everything started through these
# helpers is killed, and the temp dir removed, when the script exits, however
# it exits (KEEP_TMP=1 keeps the temp dir for a post-mortem).
#
# Agents are named; per agent the helpers keep its pid, ports, data dir, log
# and (for tests/agent_netns.sh) the network namespace it runs in:
#   AG_NS[name]=NS  AG_IP[name]=IP  before start_agent runs it there, bound to
#   IP:7946 with the HTTP API on 127.0.0.1:7947 inside the namespace.

# ---- basics ------------------------------------------------------------------

GT_T0=${EPOCHREALTIME/[.,]/}
GT_NAME=${GT_NAME:-$(basename "$0" .sh)}
GT_TMP=
GT_CLEANUPS=()      # commands run at exit, last registered first
GT_BG_PIDS=()       # background helpers (curl watchers ...) killed at exit
GT_PORT_LOCKS=()    # port-block reservations released at exit
GT_PORTS_FREE=()    # ports reserved but not handed out yet

declare -A AG_PID=() AG_GPORT=() AG_HPORT=() AG_DIR=() AG_LOG=() AG_NS=() AG_IP=()
declare -A AG_ARGS=() AG_RC=() AG_TOKEN=() AG_EXPECT_DOWN=()
AG_NAMES=()         # in start order
AGENT_COMMON_ARGS=() # flags given to every agent (a test sets them)

# Milliseconds since the script started.
gt_ms() { local now=${EPOCHREALTIME/[.,]/}; echo $(((now - GT_T0) / 1000)); }

# Seconds since the script started, "12.3".
gt_elapsed() {
    local ms
    ms=$(gt_ms)
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# say MSG...: one progress line, stamped with the time since the start.
say() { printf '[%6ss] %s\n' "$(gt_elapsed)" "$*"; }

# fail [-a AGENT]... MSG...: the verdict.  Prints MSG, the end of the named
# agents' logs (and of any agent that died unexpectedly), then exits 1.
fail() {
    local show=()
    while [ "${1:-}" = -a ]; do
        show+=("$2")
        shift 2
    done
    printf '[%6ss] FAIL: %s\n' "$(gt_elapsed)" "$*" >&2
    local n
    for n in "${AG_NAMES[@]}"; do
        if [ -z "${AG_EXPECT_DOWN[$n]:-}" ] && ! agent_running "$n"; then
            case " ${show[*]} " in *" $n "*) ;; *) show+=("$n") ;; esac
            echo "       (agent $n, pid ${AG_PID[$n]:-?}, is not running)" >&2
        fi
    done
    for n in "${show[@]}"; do
        dump_log "$n" "${FAIL_LOG_LINES:-30}"
    done
    exit 1
}

# dump_log NAME [LINES]: the last lines of an agent's log, on stderr.
dump_log() {
    local n=$1 lines=${2:-30}
    [ -n "${AG_LOG[$n]:-}" ] && [ -f "${AG_LOG[$n]}" ] || return 0
    echo "------- last $lines lines of $n's log (${AG_LOG[$n]}) -------" >&2
    tail -n "$lines" "${AG_LOG[$n]}" >&2
    echo "------- end of $n's log -------" >&2
}

# need_cmd CMD...: fail unless every command exists.
need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || fail "$c is needed (scripts/deps.sh installs it)"
    done
}

# on_exit CMD...: run CMD at exit (cleanup), the last registered first.
on_exit() { GT_CLEANUPS+=("$(printf '%q ' "$@")"); }

# gt_is_child PID: PID is still a child of this shell.  A process we
# started may have exited long ago and its PID gone to someone else's
# process (another test's agent): never kill by a stale PID.
gt_is_child() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    set -- $st
    [ "${2:-}" = "$$" ]
}

gt_cleanup() {
    local rc=$?
    trap - EXIT INT TERM PIPE
    trap '' PIPE
    set +e
    local n pid i
    for n in "${AG_NAMES[@]}"; do
        pid=${AG_PID[$n]:-}
        [ -n "$pid" ] && gt_is_child "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    for pid in "${GT_BG_PIDS[@]}"; do
        gt_is_child "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    for n in "${AG_NAMES[@]}"; do
        pid=${AG_PID[$n]:-}
        [ -n "$pid" ] && wait "$pid" 2>/dev/null
    done
    for pid in "${GT_BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    for ((i = ${#GT_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${GT_CLEANUPS[i]}" >/dev/null 2>&1
    done
    for i in "${GT_PORT_LOCKS[@]}"; do
        rm -rf "$i"
    done
    if [ -n "$GT_TMP" ] && [ -d "$GT_TMP" ]; then
        if [ "${KEEP_TMP:-0}" = 1 ]; then
            echo "(KEEP_TMP=1: logs and data dirs kept in $GT_TMP)" >&2
        else
            rm -rf "$GT_TMP"
        fi
    fi
    exit "$rc"
}

# gt_init NAME: temp dir, traps, tool and binary checks.
gt_init() {
    GT_NAME=${1:-$GT_NAME}
    : "${GOSSIPD:?GOSSIPD must name the gossipd binary (ctest sets it)}"
    : "${GOSSIPCTL:?GOSSIPCTL must name the gossipctl binary (ctest sets it)}"
    [ -x "$GOSSIPD" ] || { echo "FAIL: GOSSIPD=$GOSSIPD is not executable" >&2; exit 1; }
    [ -x "$GOSSIPCTL" ] || { echo "FAIL: GOSSIPCTL=$GOSSIPCTL is not executable" >&2; exit 1; }
    GT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gossip-$GT_NAME.XXXXXX")
    trap gt_cleanup EXIT
    trap 'echo "interrupted" >&2; exit 130' INT
    trap 'echo "terminated" >&2; exit 143' TERM
    trap 'exit 141' PIPE
    need_cmd curl jq ss timeout
    # Sanitizer builds: report into the agent's log and fail the process.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    say "$GT_NAME: gossipd=$GOSSIPD"
}

# gt_pass: the final checks every test shares, then "PASS".
gt_pass() {
    check_logs_clean
    say "PASS: $GT_NAME"
    exit 0
}

# wait_until SECONDS CMD...: runs CMD every WAIT_STEP seconds (0.2) until it
# succeeds (returns 0) or SECONDS have passed (returns 1).  WAIT_S is set to
# the seconds it took, e.g. "3.4".
WAIT_S=0
wait_until() {
    local limit_ms
    limit_ms=$(awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }')
    shift
    local start now
    start=${EPOCHREALTIME/[.,]/}
    while :; do
        if "$@"; then
            now=${EPOCHREALTIME/[.,]/}
            WAIT_S=$(awk -v us=$((now - start)) 'BEGIN { printf "%.1f", us / 1e6 }')
            return 0
        fi
        now=${EPOCHREALTIME/[.,]/}
        if (((now - start) / 1000 >= limit_ms)); then
            WAIT_S=$(awk -v us=$((now - start)) 'BEGIN { printf "%.1f", us / 1e6 }')
            return 1
        fi
        sleep "${WAIT_STEP:-0.2}"
    done
}

# ---- ports ---------------------------------------------------------------------
# Ports come from blocks of 64 below the kernel's ephemeral range.  A block is
# reserved with mkdir under /tmp/gossip-test-ports (atomic; a reservation whose
# owner is gone is reclaimed) so that tests running at once never pick the
# same ports, and used only when no socket on the machine has any of them.

GT_PORT_DIR=${TMPDIR:-/tmp}/gossip-test-ports

gt_reserve_block() {
    local low=12000 high=32000 size=64 attempt base lock owner used p ok
    mkdir -p "$GT_PORT_DIR"
    for ((attempt = 0; attempt < 500; attempt++)); do
        base=$((low + (RANDOM * 32768 + RANDOM) % ((high - low) / size) * size))
        lock=$GT_PORT_DIR/$base
        if ! mkdir "$lock" 2>/dev/null; then
            owner=$(cat "$lock/pid" 2>/dev/null || true)
            if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
                rm -rf "$lock"      # its owner is gone
            fi
            continue
        fi
        echo $$ >"$lock/pid"
        used=" $(ss -Hantu 2>/dev/null | awk '{ n = split($5, a, ":"); printf "%s ", a[n] }') "
        ok=1
        for ((p = base; p < base + size; p++)); do
            case $used in *" $p "*) ok=0; break ;; esac
        done
        if ((ok)); then
            GT_PORT_LOCKS+=("$lock")
            for ((p = base; p < base + size; p++)); do GT_PORTS_FREE+=("$p"); done
            return 0
        fi
        rm -rf "$lock"
    done
    fail "no free block of $size ports in $low..$high"
}

# alloc_port VAR: sets VAR to a port reserved for this test.
alloc_port() {
    ((${#GT_PORTS_FREE[@]} > 0)) || gt_reserve_block
    printf -v "$1" '%s' "${GT_PORTS_FREE[0]}"
    GT_PORTS_FREE=("${GT_PORTS_FREE[@]:1}")
}

# alloc_block VAR: reserves a whole block of 64 consecutive free ports and
# sets VAR to the first (for a program that picks its ports from a base).
alloc_block() {
    local keep=("${GT_PORTS_FREE[@]}")
    GT_PORTS_FREE=()
    gt_reserve_block
    printf -v "$1" '%s' "${GT_PORTS_FREE[0]}"
    GT_PORTS_FREE=("${keep[@]}")
}

# ---- agents ----------------------------------------------------------------------

# ax NAME CMD...: runs CMD where agent NAME lives (its namespace, if any).
ax() {
    local n=$1
    shift
    if [ -n "${AG_NS[$n]:-}" ]; then
        ip netns exec "${AG_NS[$n]}" "$@"
    else
        "$@"
    fi
}

agent_bind() { echo "${AG_IP[$1]:-127.0.0.1}:${AG_GPORT[$1]}"; }
agent_http() { echo "127.0.0.1:${AG_HPORT[$1]}"; }
agent_pid() { echo "${AG_PID[$1]:-}"; }

# agent_running NAME: the process is alive (not exited, not a zombie).
agent_running() {
    local pid=${AG_PID[$1]:-} st
    [ -n "$pid" ] || return 1
    st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    st=${st##*) }
    set -- $st
    [ "$1" != Z ] && [ "$2" = "$$" ] # not a zombie, and still our child (not a reused PID)
}

# start_agent NAME [GOSSIPD-FLAGS...]: starts gossipd in the background with
# --name, --bind, --http and --data-dir chosen here (the same ports and data
# dir on every restart), AGENT_COMMON_ARGS, then the given flags.  Its
# stdout and stderr go to the agent's log.  Does not wait: see wait_ready.
start_agent() {
    local n=$1
    shift
    if [ -z "${AG_DIR[$n]:-}" ]; then
        AG_NAMES+=("$n")
        AG_DIR[$n]=$GT_TMP/$n
        AG_LOG[$n]=$GT_TMP/$n/log
        mkdir -p "${AG_DIR[$n]}/data"
        if [ -n "${AG_NS[$n]:-}" ]; then
            AG_GPORT[$n]=${AG_GPORT[$n]:-7946}
            AG_HPORT[$n]=${AG_HPORT[$n]:-7947}
        else
            local p
            if [ -z "${AG_GPORT[$n]:-}" ]; then # a test may choose it first
                alloc_port p
                AG_GPORT[$n]=$p
            fi
            alloc_port p
            AG_HPORT[$n]=$p
        fi
    fi
    AG_ARGS[$n]=
    (($# > 0)) && AG_ARGS[$n]=$(printf '%q ' "$@") # none: no empty argument on restart
    unset "AG_RC[$n]" "AG_EXPECT_DOWN[$n]"
    local cmd=("$GOSSIPD" --name "$n" --bind "$(agent_bind "$n")" --http "$(agent_http "$n")"
               --data-dir "${AG_DIR[$n]}/data" "${AGENT_COMMON_ARGS[@]}" "$@")
    printf '=== %s start: %s\n' "$(date +%T.%3N)" "${cmd[*]}" >>"${AG_LOG[$n]}"
    if [ -n "${AG_NS[$n]:-}" ]; then
        ip netns exec "${AG_NS[$n]}" "${cmd[@]}" >>"${AG_LOG[$n]}" 2>&1 </dev/null &
    else
        "${cmd[@]}" >>"${AG_LOG[$n]}" 2>&1 </dev/null &
    fi
    AG_PID[$n]=$!
}

# restart_agent NAME [FLAGS...]: start_agent with the flags of the last start
# (or the given ones), the same ports and data dir.
restart_agent() {
    local n=$1
    shift
    if (($# > 0)); then
        start_agent "$n" "$@"
    else
        eval "start_agent \"\$n\" ${AG_ARGS[$n]}"
    fi
}

# http_ok NAME: the API answers GET /v1/self with 200.
http_ok() {
    local code
    code=$(ax "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        ${AG_TOKEN[$1]:+-H "Authorization: Bearer ${AG_TOKEN[$1]}"} \
        "http://$(agent_http "$1")/v1/self" 2>/dev/null) || return 1
    [ "$code" = 200 ]
}

_ready_or_dead() { agent_running "$1" || return 0; http_ok "$1"; }
_exited() { ! agent_running "$1"; }

# wait_ready [-t SECONDS] NAME...: waits until each agent's API answers;
# fails at once if one exits.
wait_ready() {
    local limit=30
    if [ "${1:-}" = -t ]; then limit=$2; shift 2; fi
    local n
    for n in "$@"; do
        wait_until "$limit" _ready_or_dead "$n" || fail -a "$n" "$n: HTTP API not up after ${limit}s"
        agent_running "$n" || { wait "${AG_PID[$n]}"; fail -a "$n" "$n exited at start (status $?)"; }
    done
}

# kill_agent NAME [SIGNAL]: sends SIGNAL (KILL) and reaps the process;
# AG_RC[NAME] is its exit status.
kill_agent() {
    local n=$1 sig=${2:-KILL} rc=0
    AG_EXPECT_DOWN[$n]=1
    gt_is_child "${AG_PID[$n]}" && kill "-$sig" "${AG_PID[$n]}" 2>/dev/null
    wait "${AG_PID[$n]}" 2>/dev/null || rc=$?
    AG_RC[$n]=$rc
}

# stop_agent NAME [SECONDS]: SIGTERM (graceful leave) and waits up to
# SECONDS (15) for the exit; AG_RC[NAME] is the exit status; fails if it
# does not exit.
stop_agent() {
    local n=$1 limit=${2:-15}
    AG_EXPECT_DOWN[$n]=1
    gt_is_child "${AG_PID[$n]}" && kill -TERM "${AG_PID[$n]}" 2>/dev/null
    wait_until "$limit" _exited "$n" || fail -a "$n" "$n did not exit within ${limit}s of SIGTERM"
    local rc=0
    wait "${AG_PID[$n]}" 2>/dev/null || rc=$?
    AG_RC[$n]=$rc
}

# assert_running NAME...: fails unless every named agent is still running.
assert_running() {
    local n
    for n in "$@"; do
        agent_running "$n" || fail -a "$n" "$n is not running any more"
    done
}

# check_logs_clean: no sanitizer report in any agent log.
check_logs_clean() {
    local n
    for n in "${AG_NAMES[@]}"; do
        if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' \
            "${AG_LOG[$n]}" 2>/dev/null; then
            FAIL_LOG_LINES=60 fail -a "$n" "sanitizer report in $n's log"
        fi
    done
}

# ---- HTTP ---------------------------------------------------------------------------

# api NAME METHOD PATH [BODY|@FILE [CURL-ARGS...]]: one request to the agent's
# API.  Sets API_STATUS (000 when nothing answered) and API_BODY.
API_STATUS=000
API_BODY=
api() {
    local n=$1 method=$2 path=$3 body=${4-} out
    shift 3
    (($# > 0)) && shift
    out=$GT_TMP/.api.$BASHPID
    local args=(-s -o "$out" -w '%{http_code}' --max-time "${API_TIMEOUT:-10}" -X "$method")
    [ -n "${AG_TOKEN[$n]:-}" ] && args+=(-H "Authorization: Bearer ${AG_TOKEN[$n]}")
    if [ -n "$body" ]; then
        case $body in
            @*) args+=(--data-binary "$body") ;;
            *) printf '%s' "$body" >"$out.req"; args+=(--data-binary "@$out.req") ;;
        esac
    fi
    API_STATUS=$(ax "$n" curl "${args[@]}" "$@" "http://$(agent_http "$n")$path" 2>/dev/null) || true
    [ -n "$API_STATUS" ] || API_STATUS=000
    API_BODY=$(cat "$out" 2>/dev/null || true)
    rm -f "$out" "$out.req"
}

# get_json NAME PATH: prints the body of GET PATH; non-zero unless 200.
get_json() {
    api "$1" GET "$2"
    [ "$API_STATUS" = 200 ] || return 1
    printf '%s\n' "$API_BODY"
}

# members_of NAME: /v1/members as NAME sees it.
members_of() { get_json "$1" /v1/members; }

# status_seen OBSERVER TARGET: TARGET's status in OBSERVER's table, "absent"
# when not listed, "unreachable" when the API did not answer.
status_seen() {
    local js
    js=$(members_of "$1") || { echo unreachable; return; }
    jq -r --arg t "$2" '(map(select(.name == $t)) | .[0].status) // "absent"' <<<"$js"
}

# field_seen OBSERVER TARGET FIELD: a field of TARGET's record at OBSERVER.
field_seen() {
    local js
    js=$(members_of "$1") || return 1
    jq -r --arg t "$2" --arg f "$3" 'map(select(.name == $t)) | .[0][$f] // empty' <<<"$js"
}

# sees_all_alive OBSERVER NAME...: OBSERVER lists every NAME alive.
sees_all_alive() {
    local obs=$1 js
    shift
    js=$(members_of "$obs") || return 1
    jq -e --args '[.[] | select(.status == "alive") | .name] as $alive
                  | all($ARGS.positional[]; . as $n | $alive | index([$n]) != null)' \
        "$@" <<<"$js" >/dev/null
}

# sees_none_dead OBSERVER NAME...: OBSERVER lists every NAME alive or suspect
# (a suspicion may still be refuted).
sees_none_dead() {
    local obs=$1 js
    shift
    js=$(members_of "$obs") || return 1
    jq -e --args '[.[] | select(.status == "alive" or .status == "suspect") | .name] as $ok
                  | all($ARGS.positional[]; . as $n | $ok | index([$n]) != null)' \
        "$@" <<<"$js" >/dev/null
}

# full_membership NAME...: every NAME lists every NAME alive.
full_membership() {
    local n
    for n in "$@"; do
        sees_all_alive "$n" "$@" || return 1
    done
}

# all_see STATUS TARGET OBSERVER...: every OBSERVER holds TARGET at STATUS.
all_see() {
    local want=$1 target=$2 n
    shift 2
    for n in "$@"; do
        [ "$(status_seen "$n" "$target")" = "$want" ] || return 1
    done
}

# who_sees_not STATUS TARGET OBSERVER...: "obs=status" for every observer
# that does not hold TARGET at STATUS (for failure messages).
who_sees_not() {
    local want=$1 target=$2 n s out=()
    shift 2
    for n in "$@"; do
        s=$(status_seen "$n" "$target")
        [ "$s" = "$want" ] || out+=("$n=$s")
    done
    echo "${out[*]}"
}

# member_table NAME: NAME's view, one line per member (for messages).
member_table() {
    members_of "$1" 2>/dev/null |
        jq -r '.[] | "  \(.name)\t\(.status)\tgen=\(.generation)\tinc=\(.incarnation)\t\(.addr)"' 2>/dev/null ||
        echo "  (no answer from $1)"
}

# counter NAME KEY: a counter from /v1/info's "counters" object (searched at
# any depth, so nested groups work too); empty when absent.
counter() {
    local js
    js=$(get_json "$1" /v1/info) || return 1
    jq -r --arg k "$2" '[.counters | .. | objects | select(has($k)) | .[$k]] | .[0] // empty' <<<"$js"
}

# ---- /v1/watch streams -------------------------------------------------------------

# watch_start NAME [TAG]: records NAME's /v1/watch stream into
# $GT_TMP/NAME/watch[.TAG] (a background curl, killed by watch_stop or at exit).
declare -A GT_WATCH_PID=()
watch_start() {
    local n=$1 f=${AG_DIR[$1]}/watch${2:+.$2}
    : >"$f"
    # Started directly (not through the ax function) so that $! is curl
    # itself: killing it closes the stream.
    local cmd=(curl -sN ${AG_TOKEN[$n]:+-H "Authorization: Bearer ${AG_TOKEN[$n]}"}
               "http://$(agent_http "$n")/v1/watch")
    [ -n "${AG_NS[$n]:-}" ] && cmd=(ip netns exec "${AG_NS[$n]}" "${cmd[@]}")
    "${cmd[@]}" >>"$f" 2>/dev/null &
    GT_BG_PIDS+=($!)
    GT_WATCH_PID[$n.${2:-}]=$!
}

# watch_stop NAME [TAG]: ends that recording.
watch_stop() {
    local pid=${GT_WATCH_PID[$1.${2:-}]:-}
    [ -n "$pid" ] || return 0
    gt_is_child "$pid" && kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "GT_WATCH_PID[$1.${2:-}]"
    return 0
}

# watch_connected NAME...: each agent counts at least one open /v1/watch
# stream (the "watchers" counter of /v1/info).
watch_connected() {
    local n w
    for n in "$@"; do
        w=$(counter "$n" watchers) || return 1
        [ -n "$w" ] && ((w >= 1)) || return 1
    done
}

# watch_events NAME [TAG]: the recorded events as JSON lines (the data: lines
# of the SSE stream).
watch_events() {
    sed -n 's/^data: *//p' "${AG_DIR[$1]}/watch${2:+.$2}" 2>/dev/null | jq -c '.' 2>/dev/null || true
}

# watch_lost NAME [TAG]: the stream said it lost events (the agent's buffer
# overflowed), so it cannot vouch for what happened.
watch_lost() { grep -q '^event: *lost' "${AG_DIR[$1]}/watch${2:+.$2}" 2>/dev/null; }
