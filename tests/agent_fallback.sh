#!/usr/bin/env bash
# The TCP fallback probe path (src/agent/transport.c) engages when UDP is
# shown not to work and lets go when it works again:
#  - two agents; b stops (SIGSTOP) for longer than a probe timeout, so a's
#    asks go unanswered and a sends its probes over TCP as well;
#  - b resumes: both list each other alive, and over the next probes the
#    TCP copies stop (they must not keep each other going: an answer that
#    came over TCP is not a reason to ask over TCP).
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_fallback

AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250)
start_agent a
wait_ready a
start_agent b --join "$(agent_bind a)"
wait_ready b
wait_until 20 full_membership a b || fail -a b "a and b never saw each other"
f_a0=$(counter a tcp_fallback_sends)
[ -n "$f_a0" ] || fail "/v1/info has no tcp_fallback_sends"
say "a and b see each other; a's fallback sends so far: $f_a0"

kill -STOP "$(agent_pid b)"
on_exit kill -CONT "$(agent_pid b)"
engaged() { [ "$(counter a tcp_fallback_sends)" -gt "$f_a0" ]; }
wait_until 10 engaged || { kill -CONT "$(agent_pid b)"; fail -a a "a never sent a probe over TCP while b was stopped"; }
say "b stopped: a sends its probes over TCP as well after ${WAIT_S}s"
kill -CONT "$(agent_pid b)"
wait_until 30 full_membership a b || fail -a a -a b "a and b do not list each other alive after b resumed"
say "b resumed: alive on both sides"

sum2() { echo $(($(counter a "$1") + $(counter b "$1"))); }
p0=$(sum2 probes) f0=$(sum2 tcp_fallback_sends)
more() { [ "$(sum2 probes)" -ge $((p0 + 40)) ]; }
wait_until 60 more || fail "fewer than 40 probes in 60s"
p1=$(sum2 probes) f1=$(sum2 tcp_fallback_sends)
[ $(((f1 - f0) * 10)) -le $((p1 - p0)) ] ||
    fail -a a -a b "UDP works again, yet $((f1 - f0)) probe datagrams went over TCP for $((p1 - p0)) probes"
say "UDP works again: $((f1 - f0)) probe datagrams over TCP for the next $((p1 - p0)) probes"
check_logs_clean a b
gt_pass
