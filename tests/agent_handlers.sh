#!/usr/bin/env bash
# Event handler scripts, SIGHUP reload and IPv6:
#  - a handler runs per matching event with the event in its environment and
#    as JSON on stdin, and only for the events it asked for;
#  - a handler that hangs is killed at --handler-timeout, counted, and never
#    blocks the agent (its API and gossip keep working meanwhile);
#  - SIGHUP re-reads the tags and the log level from the config file and the
#    new tags reach the other members;
#  - a cluster on [::1] works like one on 127.0.0.1.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_handlers

AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250)

# ---- handler scripts ---------------------------------------------------------------
out=$GT_TMP/handler-out
mkdir -p "$out"
cat >"$GT_TMP/record.sh" <<EOF
#!/bin/sh
# One file per event: the environment, then stdin.
f="$out/\$GOSSIP_EVENT_SEQ-\$GOSSIP_EVENT-\$GOSSIP_MEMBER_NAME"
{ env | grep '^GOSSIP_' | sort; echo "stdin=\$(cat)"; } >"\$f.tmp" && mv "\$f.tmp" "\$f"
EOF
cat >"$GT_TMP/hang.sh" <<EOF
#!/bin/sh
echo started >>"$out/hang-started"
exec sleep 600
EOF
chmod +x "$GT_TMP/record.sh" "$GT_TMP/hang.sh"

cat >"$GT_TMP/a.json" <<EOF
{"tags": {"role": "web"}, "log_level": "info"}
EOF

start_agent a --config "$GT_TMP/a.json" \
    --handler "member-join,member-failed=$GT_TMP/record.sh" \
    --handler "member-join=$GT_TMP/hang.sh" --handler-timeout 1000
wait_ready a
start_agent b --join "$(agent_bind a)"
wait_ready b
wait_until 20 full_membership a b || fail -a a -a b "a and b never saw each other"
say "a and b see each other"

joined() { compgen -G "$out/*-member-join-b" >/dev/null; }
wait_until 20 joined || fail -a a "no member-join handler run for b"
f=$(compgen -G "$out/*-member-join-b" | head -n1)
grep -q '^GOSSIP_EVENT=member-join$' "$f" || fail "GOSSIP_EVENT missing in $(cat "$f")"
grep -q '^GOSSIP_MEMBER_NAME=b$' "$f" || fail "GOSSIP_MEMBER_NAME missing in $(cat "$f")"
grep -q "^GOSSIP_MEMBER_ADDR=$(agent_bind b)\$" "$f" || fail "GOSSIP_MEMBER_ADDR wrong: $(cat "$f")"
grep -q '^GOSSIP_SELF_NAME=a$' "$f" || fail "GOSSIP_SELF_NAME missing in $(cat "$f")"
json=$(sed -n 's/^stdin=//p' "$f")
jq -e '.type == "member-join" and .name == "b" and (.generation | type) == "number"' \
    <<<"$json" >/dev/null || fail "handler stdin is not the event's JSON: $json"
say "member-join handler ran with the event in env and JSON on stdin"

# The hanging handler was started, is killed at its timeout and counted;
# meanwhile the agent answered and gossiped.
wait_until 10 test -s "$out/hang-started" || fail -a a "the hanging handler never started"
timed_out() { [ "$(counter a timed_out)" -ge 1 ] 2>/dev/null; }
wait_until 15 timed_out || fail -a a "the hanging handler was not killed at --handler-timeout"
say "a hanging handler was killed after its timeout (timed_out=$(counter a timed_out))"

# Only the events asked for: a state change on b is a member-update, which
# record.sh did not subscribe to.
"$GOSSIPCTL" --http "$(agent_http b)" state set color green >/dev/null ||
    fail "state set on b failed"
color_seen() { [ "$(field_seen a b state | jq -r .color 2>/dev/null)" = green ]; }
wait_until 10 color_seen || fail -a a "a never saw b's color"
if compgen -G "$out/*-member-update-*" >/dev/null; then
    fail "record.sh ran for member-update, which it did not ask for"
fi

kill_agent b
failed() { compgen -G "$out/*-member-failed-b" >/dev/null; }
wait_until 30 failed || fail -a a "no member-failed handler run for b"
say "member-failed handler ran after b was killed"

# ---- SIGHUP ----------------------------------------------------------------------------
restart_agent b
wait_ready b
wait_until 30 full_membership a b || fail -a a -a b "b did not come back"
tags_seen() { [ "$(field_seen b a tags | jq -r .role 2>/dev/null)" = "$1" ]; }
wait_until 10 tags_seen web || fail -a b "b does not see a's tag role=web"
cat >"$GT_TMP/a.json" <<EOF
{"tags": {"role": "db"}, "log_level": "debug"}
EOF
kill -HUP "$(agent_pid a)"
wait_until 10 tags_seen db || fail -a a -a b "after SIGHUP, b never saw a's new tag role=db"
assert_running a
grep -q 'msg="reloaded" log_level=debug' "${AG_LOG[a]}" ||
    fail -a a "SIGHUP did not reload the log level"
say "SIGHUP: new tags reached b, log level now debug"

# A config file that no longer parses is refused; the agent keeps running
# with its settings.
echo '{"tags": ' >"$GT_TMP/a.json"
kill -HUP "$(agent_pid a)"
wait_until 10 grep -q 'reload refused' "${AG_LOG[a]}" || fail -a a "a broken config was not refused"
assert_running a
tags_seen db || fail "a broken reload changed the tags"
say "SIGHUP with a broken config file: refused, settings unchanged"

# ---- user events ---------------------------------------------------------------------------
watch_start a ev
wait_until 10 watch_connected a || fail -a a "watch stream on a did not connect"
out_ev=$("$GOSSIPCTL" --http "$(agent_http b)" event deploy v42) || fail -a b "gossipctl event failed"
say "$out_ev"
user_seen() { watch_events a ev | jq -e 'select(.type == "user" and .event == "deploy" and .payload == "v42" and .name == "b")' >/dev/null; }
wait_until 10 user_seen || fail -a a "a's watch never showed b's user event"
# Delivered once, even after more gossip rounds.
sleep 1
n=$(watch_events a ev | jq -c 'select(.type == "user")' | wc -l)
[ "$n" = 1 ] || fail "the user event was delivered $n times on a"
big=$(head -c 2000 /dev/zero | tr '\0' x)
api b POST /v1/event/huge "$big"
[ "$API_STATUS" = 413 ] || fail "a 2000-byte event payload -> $API_STATUS, want 413"
api b PUT /v1/state/_ev.1 x
[ "$API_STATUS" = 403 ] || fail "writing an event slot as state -> $API_STATUS, want 403"
watch_stop a ev
say "user event: delivered once to a's watch with its payload; oversize 413; slots reserved"

# ---- separate bind and advertise addresses ------------------------------------------------
# Bound to 0.0.0.0, advertised as 127.0.0.2 (another loopback address that
# only the wildcard socket receives on): the others must reach it there.
alloc_port adv_port
AG_IP[adv]=0.0.0.0
AG_GPORT[adv]=$adv_port
start_agent adv --advertise "127.0.0.2:$adv_port" --join "$(agent_bind a)"
wait_ready adv
wait_until 20 full_membership a b adv || fail -a adv "the agent bound to 0.0.0.0 did not join"
[ "$(field_seen a adv addr)" = "127.0.0.2:$adv_port" ] ||
    fail "adv is listed at $(field_seen a adv addr), not its advertised 127.0.0.2:$adv_port"
# Probes go to the advertised address: it stays alive over ten probe
# intervals (a wrong address would be suspected within two).
for _ in 1 2 3 4 5; do
    sleep 1
    all_see alive adv a b || fail -a adv "adv, reachable only at its advertised address, was not kept alive"
done
stop_agent adv
say "--bind 0.0.0.0 with --advertise 127.0.0.2: listed and probed at the advertised address"

# ---- IPv6 ---------------------------------------------------------------------------------
if ! ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
    say "SKIP (IPv6 part): no ::1 on lo"
else
    for n in v6a v6b v6c; do AG_IP[$n]='[::1]'; done
    start_agent v6a
    wait_ready v6a
    start_agent v6b --join "$(agent_bind v6a)"
    start_agent v6c --join "$(agent_bind v6a)"
    wait_ready v6b
    wait_ready v6c
    wait_until 20 full_membership v6a v6b v6c || fail -a v6a -a v6b "no IPv6 membership"
    [ "$(field_seen v6b v6c addr)" = "$(agent_bind v6c)" ] ||
        fail "v6c's address at v6b is $(field_seen v6b v6c addr), not $(agent_bind v6c)"
    kill_agent v6c
    wait_until 30 all_see dead v6c v6a v6b || fail -a v6a "v6c not declared dead over IPv6"
    say "IPv6: 3 agents on [::1] converge and detect a failure"
fi

gt_pass
