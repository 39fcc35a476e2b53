#!/usr/bin/env bash
# Coalescing before handler scripts (Serf's coalesce and quiescent periods):
#  - user events sent with coalesce (the default) reach a member's handlers
#    as the newest of their name once --user-coalesce-period has passed:
#    five quick "deploy" events run the handler once, with the fifth payload;
#  - an event sent with --no-coalesce is handed on at once;
#  - --user-quiescent-period ends the wait when nothing newer came: with a
#    ten-minute period the handler still runs within seconds;
#  - member-update events of one member's state key are coalesced the same
#    way under --coalesce-period, keeping the latest value;
#  - /v1/watch still shows every event.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_coalesce
need_cmd jq

AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250)
PERIOD_MS=5000 # b's coalesce periods: long enough for five events sent back to back

out=$GT_TMP/runs
mkdir -p "$out"
# One line per run: the event type, the key or event name, the JSON on stdin.
cat >"$GT_TMP/record.sh" <<EOF
#!/bin/sh
printf '%s %s %s\n' "\$GOSSIP_EVENT" "\${GOSSIP_EVENT_KEY:-}" "\$(cat)" >>"$out/\$GOSSIP_SELF_NAME"
EOF
chmod +x "$GT_TMP/record.sh"

start_agent a
wait_ready a
start_agent b --join "$(agent_bind a)" --handler "user,member-update=$GT_TMP/record.sh" \
    --user-coalesce-period "$PERIOD_MS" --coalesce-period "$PERIOD_MS"
start_agent c --join "$(agent_bind a)" --handler "user=$GT_TMP/record.sh" \
    --user-coalesce-period 600000 --user-quiescent-period 1000
wait_ready b c
wait_until 30 full_membership a b c || fail -a b "a, b and c never saw each other"
say "a, b and c see each other"

runs() { grep -c "^$2 $3 " "$out/$1" 2>/dev/null || true; }
handled() { grep "^$2 $3 " "$out/$1" 2>/dev/null | cut -d' ' -f3- | jq -r "$4"; }
hstat() { get_json "$1" /v1/info | jq -r ".counters.handlers.$2"; }
nothing_pending() { [ "$(hstat "$1" pending)" = 0 ]; }
# expect_one_run NODE TYPE KEY FIELD WANT: once nothing waits on NODE, its
# handler ran exactly once for (TYPE, KEY), and the event's FIELD was WANT.
expect_one_run() {
    local n=$1 type=$2 key=$3 field=$4 want=$5
    ran() { [ "$(runs "$n" "$type" "$key")" -ge 1 ] && nothing_pending "$n"; }
    wait_until $((PERIOD_MS / 1000 + 15)) ran || fail -a "$n" "$n's $type handler never ran for $key"
    [ "$(runs "$n" "$type" "$key")" = 1 ] ||
        fail -a "$n" "$n's handler ran $(runs "$n" "$type" "$key") times for $key, want 1"
    [ "$(handled "$n" "$type" "$key" "$field")" = "$want" ] ||
        fail -a "$n" "$n's handler got $field=$(handled "$n" "$type" "$key" "$field") for $key, want the newest, $want"
}

# ---- user events, coalesced ----------------------------------------------------------
watch_start b ev
wait_until 10 watch_connected b || fail -a b "watch stream on b did not connect"
for i in 1 2 3 4 5; do
    api a POST "/v1/event/deploy" "v$i"
    [ "$API_STATUS" = 200 ] || fail -a a "event deploy v$i -> $API_STATUS"
done
all_seen() { [ "$(watch_events b ev | jq -c 'select(.type == "user" and .event == "deploy")' | wc -l)" = 5 ]; }
wait_until 10 all_seen || fail -a b "b's watch did not show the five deploy events"
say "b's watch shows all five deploy events (watchers are never coalesced)"
expect_one_run b user deploy .payload v5
[ "$(hstat b coalesced)" -ge 4 ] || fail -a b "b counted $(hstat b coalesced) coalesced events, want >= 4"
say "five coalesced deploy events ran b's handler once, with v5, after its ${PERIOD_MS} ms period"

# ---- quiescent period ------------------------------------------------------------------------
# c holds user events for ten minutes unless none newer came for a second.
quiet() { [ "$(runs c user deploy)" -ge 1 ]; }
wait_until 20 quiet || fail -a c "c's handler did not run within 20 s: the quiescent period did not end the wait"
[ "$(handled c user deploy .payload)" = v5 ] ||
    fail -a c "c's handler got $(handled c user deploy .payload), want v5"
say "c (10-minute period, 1 s quiescent) ran its handler with v5"

# ---- --no-coalesce --------------------------------------------------------------------------
"$GOSSIPCTL" --http "$(agent_http a)" event restart now --no-coalesce >/dev/null ||
    fail -a a "gossipctl event --no-coalesce failed"
urgent() { [ "$(runs b user restart)" = 1 ]; }
# Inside b's period: it was not held.
wait_until $((PERIOD_MS / 1000 - 1)) urgent || fail -a b "b held an event sent with --no-coalesce"
[ "$(handled b user restart .coalesce)" = false ] ||
    fail -a b "the restart event's JSON does not say coalesce false"
api a POST "/v1/event/x?coalesce=maybe" ""
[ "$API_STATUS" = 400 ] || fail -a a "coalesce=maybe -> $API_STATUS, want 400"
say "an event sent with --no-coalesce ran b's handler at once; a bad coalesce value is refused"

# ---- member-update events --------------------------------------------------------------------
before=$(hstat b coalesced)
for i in 1 2 3 4 5; do
    api a PUT /v1/state/schema "s$i"
    [ "$API_STATUS" = 200 ] || fail -a a "state set schema s$i -> $API_STATUS"
done
value_seen() { get_json b /v1/members | jq -e '.[] | select(.name == "a") | .state.schema == "s5"' >/dev/null; }
wait_until 10 value_seen || fail -a b "b never saw schema=s5"
expect_one_run b member-update schema .value s5
updates=$(watch_events b ev | jq -c 'select(.type == "member-update" and .key == "schema")' | wc -l)
[ "$(hstat b coalesced)" -eq $((before + updates - 1)) ] ||
    fail -a b "b saw $updates schema updates but counted $(($(hstat b coalesced) - before)) coalesced, want $((updates - 1))"
watch_stop b ev
say "$updates member-update events for a's schema ran b's handler once, with s5"

check_logs_clean a b c
gt_pass
