#!/usr/bin/env bash
# agent_demo.sh -- `make demo` (scripts/demo.sh) end to end, on the binaries
# under test:
#   1. not interactive (stdin not a terminal): every step runs, the output
#      shows convergence, the kill seen dead by all, the restart with a newer
#      generation, the state key on all five; exit 0; no agent and no temp
#      dir left behind;
#   2. interactive, in a pseudo-terminal (script(1)): it waits after the last
#      step; a Ctrl-C typed on the terminal (the ETX byte: the terminal sends
#      SIGINT to the whole foreground process group, as a keyboard does) stops
#      every agent it started and removes its temp dir.
# ctest sets GOSSIPD, GOSSIPCTL and GOSSIP_SOURCE_DIR.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_demo

src=${GOSSIP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
demo=$src/scripts/demo.sh
build=$(dirname "$GOSSIPD")
[ "$(dirname "$GOSSIPCTL")" = "$build" ] || fail "the demo wants gossipd and gossipctl in one build dir"
[ -f "$demo" ] || fail "no $demo"

# demo_pids FILE: the agents' pids, from the demo's last table.
demo_pids() { sed -n 's/^ *\(ada\|bob\|cyd\|dan\|eve\) \{1,\}\([0-9]\{1,\}\) \{1,\}127\.0\.0\.1:.*/\2/p' "$1"; }
# demo_tmp FILE: the demo's temp dir, from its header.
demo_tmp() { sed -n 's/.*data dirs and logs in \([^ ]*\).*/\1/p' "$1" | head -1 | tr -d '\r'; }
# expect_line FILE REGEX WHAT
expect_line() { grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "demo output lacks $3 (/$2/)"; }; }
# no_leftovers FILE: none of the demo's agents runs, its temp dir is gone.
no_leftovers() {
    local out=$1 p pids tmpd
    pids=$(demo_pids "$out")
    [ "$(wc -w <<<"$pids")" = 5 ] || { cat "$out" >&2; fail "the demo's table does not list 5 agents"; }
    _none_running() { local p; for p in $pids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
    wait_until 10 _none_running || fail "agents left running after the demo: $(for p in $pids; do kill -0 "$p" 2>/dev/null && ps -o pid=,args= -p "$p"; done)"
    tmpd=$(demo_tmp "$out")
    [ -n "$tmpd" ] || fail "the demo did not print its temp dir"
    [ ! -e "$tmpd" ] || fail "the demo left $tmpd behind"
}

# ---- 1. not interactive ------------------------------------------------------------------
alloc_block base
out=$GT_TMP/demo.out
say "scripts/demo.sh $build   (stdin not a terminal, ports from $base)"
rc=0
NO_COLOR=1 DEMO_PORT_BASE=$base timeout 180 bash "$demo" "$build" </dev/null >"$out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$out" >&2; fail "the demo exited $rc, want 0"; }
expect_line "$out" '^   Converged: every agent knows all 5' "the convergence"
expect_line "$out" 'All 4 survivors hold cyd dead' "cyd dead at every survivor"
expect_line "$out" 'cyd is alive again for all 4 others' "cyd back alive"
read -r g_old g_new < <(sed -n 's/.*generation \([0-9]*\) -> \([0-9]*\) .*/\1 \2/p' "$out" | head -1)
[ -n "${g_new:-}" ] && ((g_new > g_old)) || { cat "$out" >&2; fail "no newer generation shown ($g_old -> $g_new)"; }
n_state=$(grep -cE '^   (ada|bob|cyd|dan|eve) +sees bob\.state\.motd = "hello from bob"' "$out")
[ "$n_state" = 5 ] || { cat "$out" >&2; fail "the state key is shown on $n_state nodes, want 5"; }
expect_line "$out" 'stopping 5 agents' "the shutdown"
no_leftovers "$out"
say "every step shown (generation $g_old -> $g_new, motd on 5 nodes); exit 0; no agent, no temp dir left"

# ---- 2. interactive, Ctrl-C on a terminal --------------------------------------------------
if ! command -v script >/dev/null 2>&1; then
    say "script(1) (util-linux) is not installed: the Ctrl-C check did not run"
    gt_pass
fi
alloc_block base
tty_out=$GT_TMP/demo-tty.out
: >"$tty_out"
say "scripts/demo.sh in a pseudo-terminal, then Ctrl-C"
# The feeder is the terminal's keyboard: once the demo waits, it types ^C.
feeder() {
    _waiting() { grep -q 'Ctrl-C.* stops all 5 agents' "$tty_out"; }
    _stopped() { grep -q 'Script done\|stopping 5 agents.* done' "$tty_out"; }
    if wait_until 180 _waiting; then
        printf '\003'
        wait_until 30 _stopped
    fi
}
rc=0
feeder | timeout 240 script -qfec "env NO_COLOR=1 DEMO_PORT_BASE=$base bash '$demo' '$build'" "$tty_out" \
    >/dev/null 2>&1 || rc=$?
grep -q 'Ctrl-C.* stops all 5 agents' "$tty_out" || { cat "$tty_out" >&2; fail "the demo never said it waits for Ctrl-C"; }
expect_line "$tty_out" 'stopping 5 agents.*done' "the shutdown after Ctrl-C"
[ "$rc" = 130 ] || { tail -5 "$tty_out" >&2; fail "after Ctrl-C the demo exited $rc, want 130"; }
no_leftovers "$tty_out"
say "it waited for Ctrl-C; Ctrl-C stopped all 5 agents (exit 130), removed its temp dir"
gt_pass
