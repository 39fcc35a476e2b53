#!/usr/bin/env bash
# Service discovery (docs/services.md): services registered on an agent
# (PUT /v1/services/NAME, gossipctl service register) spread as its
# "svc.NAME" state keys; every agent lists the healthy instances across the
# cluster; a failing health check, a deregistration, a graceful leave and a
# SIGKILLed member each take the instance out of every list; registrations
# survive a restart; bad registrations are refused with JSON errors; a
# program embedding libgossip (examples/service_client.c) registers one too.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_services

AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250
                   --service-min-interval 100)
NODES=(s1 s2 s3 s4)
start_agent s1 --tag role=seed   # (a flag: restart_agent replays them)
wait_ready s1
for n in s2 s3 s4; do start_agent "$n" --join "$(agent_bind s1)"; done
wait_ready s2 s3 s4
wait_until 20 full_membership "${NODES[@]}" || fail -a s1 "no full membership"
say "4 agents up"

ctl() { "$GOSSIPCTL" --http "$(agent_http "$1")" "${@:2}"; }

# instances OBSERVER [all]: "name@node:port:status" of every instance
# OBSERVER lists (healthy ones, or all), sorted, comma-separated.
instances() {
    local js
    js=$(get_json "$1" "/v1/services${2:+?all=1}") || return 1
    jq -r '[.[] | "\(.name)@\(.node):\(.port):\(.status)"] | sort | join(",")' <<<"$js"
}
# all_list WANT [all]: every running agent in ALIVE lists exactly WANT.
ALIVE=("${NODES[@]}")
all_list() {
    local n
    for n in "${ALIVE[@]}"; do
        [ "$(instances "$n" "${2:-}")" = "$1" ] || return 1
    done
}
views() {
    local n
    for n in "${ALIVE[@]}"; do printf '  %s: %s\n' "$n" "$(instances "$n" "${1:-}")"; done
}

# ---- registration and spread ------------------------------------------------------
touch "$GT_TMP/s2-web-ok"
ctl s1 service register web --port 8080 --tag v1 --tag primary --check-cmd true \
    --interval 200 >/dev/null || fail -a s1 "gossipctl service register web on s1 failed"
api s2 PUT /v1/services/web "{\"port\": 8081, \"tags\": [\"v1\"], \"check_cmd\": \"test -e $GT_TMP/s2-web-ok\", \"interval_ms\": 200}"
[ "$API_STATUS" = 200 ] || fail -a s2 "PUT /v1/services/web on s2 -> $API_STATUS $API_BODY"
api s3 PUT /v1/services/db '{"port": 5432, "check_cmd": "true", "interval_ms": 200}'
[ "$API_STATUS" = 200 ] || fail -a s3 "PUT /v1/services/db on s3 -> $API_STATUS $API_BODY"
t0=$(gt_ms)
want="db@s3:5432:passing,web@s1:8080:passing,web@s2:8081:passing"
wait_until 10 all_list "$want" || fail -a s1 "not every agent lists $want:
$(views)"
say "web on s1 and s2, db on s3: every agent lists the 3 healthy instances after $(( $(gt_ms) - t0 )) ms"

js=$(get_json s4 /v1/services/web) || fail "GET /v1/services/web on s4 failed"
jq -e --arg a "127.0.0.1:8080" 'length == 2 and (.[0] | .node == "s1" and .addr == $a
      and .tags == ["v1","primary"] and .status == "passing")' <<<"$js" >/dev/null ||
    fail "GET /v1/services/web on s4: $js"
js=$(get_json s4 /v1/state/svc.db?member=s3) || fail "s3's svc.db key not visible on s4"
jq -e '.value | fromjson | .name == "db" and .port == 5432 and .check.cmd == "true"
       and .check.interval_ms == 200 and .status == "passing"' <<<"$js" >/dev/null ||
    fail "svc.db value: $js"
human=$(ctl s4 services) || fail "gossipctl services failed"
grep -qE '^web +s2 +127\.0\.0\.1:8081 +passing +v1$' <<<"$human" || fail "gossipctl services: $human"
say "GET /v1/services/web, the svc.db state key and gossipctl services agree"

# ---- a check turning critical -------------------------------------------------------
rm -f "$GT_TMP/s2-web-ok"
t0=$(gt_ms)
want="db@s3:5432:passing,web@s1:8080:passing"
wait_until 10 all_list "$want" || fail -a s2 "s2's web still listed after its check failed:
$(views)"
ms=$(( $(gt_ms) - t0 ))
wait_until 5 all_list "db@s3:5432:passing,web@s1:8080:passing,web@s2:8081:critical" all ||
    fail "?all=1 does not show s2's web as critical: $(views all)"
say "s2's check fails: its web left every healthy list after $ms ms (?all=1 shows it critical)"
touch "$GT_TMP/s2-web-ok"
wait_until 10 all_list "db@s3:5432:passing,web@s1:8080:passing,web@s2:8081:passing" ||
    fail -a s2 "s2's web did not come back after its check passed again: $(views)"
say "the check passes again: s2's web is back everywhere after ${WAIT_S}s"

# ---- SIGKILL of a member with a service ----------------------------------------------
kill_agent s3
ALIVE=(s1 s2 s4)
t0=$(gt_ms)
wait_until 30 all_see dead s3 "${ALIVE[@]}" || fail "s3 never dead everywhere: $(who_sees_not dead s3 "${ALIVE[@]}")"
dead_ms=$(( $(gt_ms) - t0 ))
wait_until 5 all_list "web@s1:8080:passing,web@s2:8081:passing" ||
    fail "db still listed after s3 was declared dead: $(views)"
say "s3 SIGKILLed: dead everywhere after $dead_ms ms, and its db gone from every list"

# ---- deregistration, graceful leave and restart ----------------------------------------
ctl s2 service deregister web >/dev/null || fail "gossipctl service deregister web on s2 failed"
wait_until 10 all_list "web@s1:8080:passing" || fail "s2's web still listed after deregister: $(views)"
say "deregistered on s2: gone everywhere after ${WAIT_S}s"

stop_agent s1
ALIVE=(s2 s4)
wait_until 10 all_list "" || fail "s1's web still listed after s1 left: $(views)"
say "s1 left gracefully (exit ${AG_RC[s1]}): its web gone after ${WAIT_S}s"
restart_agent s1
wait_ready s1
ALIVE=(s1 s2 s4)
wait_until 20 all_list "web@s1:8080:passing" || fail -a s1 "s1's web not back after restart: $(views)"
grep -q 'msg="services restored" count=1' "${AG_LOG[s1]}" || fail -a s1 "no 'services restored' log line"
say "s1 restarted: its registration came back from the data dir and spread in ${WAIT_S}s"

# ---- bad registrations ------------------------------------------------------------------
bad() { # STATUS METHOD PATH BODY DESCRIPTION
    api s4 "$2" "$3" "$4"
    [ "$API_STATUS" = "$1" ] || fail "$5 -> $API_STATUS $API_BODY, want $1"
    jq -e '.error | type == "string" and length > 0' <<<"$API_BODY" >/dev/null ||
        fail "$5: the answer is not a JSON error: $API_BODY"
}
bad 400 PUT /v1/services/x '{"tags": ["a"]}' "no port"
bad 400 PUT /v1/services/x '{"port": 70000}' "port 70000"
bad 400 PUT /v1/services/x '{"port": "80"}' "port as a string"
bad 400 PUT /v1/services/x '{"port": 80, "check_cmd": "true", "check_http": "http://127.0.0.1:1/"}' "both checks"
bad 400 PUT /v1/services/x '{"port": 80, "colour": "red"}' "an unknown field"
bad 400 PUT /v1/services/x '{"port": 80' "malformed JSON"
bad 400 PUT /v1/services/x '{"port": 80, "check_http": "https://example.com/"}' "an https URL"
bad 400 PUT /v1/services/x '{"port": 80, "check_cmd": "true", "interval_ms": 1}' "interval 1 ms"
bad 400 PUT /v1/services/x '{"port": 80, "interval_ms": 1000}' "interval without a check"
bad 400 PUT '/v1/services/a%20b' '{"port": 80}' "a name with a space"
bad 403 PUT /v1/state/svc.x '{"port": 80}' "a reserved svc. state key"
bad 403 DELETE /v1/state/svc.x '' "deleting a reserved svc. state key"
bad 404 DELETE /v1/services/nope '' "deregistering an unknown service"
api s4 POST /v1/services/x '{"port": 80}'
[ "$API_STATUS" = 405 ] || fail "POST /v1/services/x -> $API_STATUS, want 405"
ctl s4 service register x >/dev/null 2>&1
[ $? = 2 ] || fail "gossipctl service register without --port: want exit 2"
[ "$(instances s4 all)" = "web@s1:8080:passing" ] || fail "a bad registration left something: $(instances s4 all)"
say "bad registrations refused with JSON errors (400, 403 for svc. state keys, 404, 405)"

# ---- HTTP checks ----------------------------------------------------------------------------
alloc_port closed
api s4 PUT /v1/services/api "{\"port\": 7000, \"check_http\": \"http://$(agent_http s4)/v1/self\", \"interval_ms\": 200}"
[ "$API_STATUS" = 200 ] || fail "PUT api with an HTTP check -> $API_STATUS $API_BODY"
api s4 PUT /v1/services/down "{\"port\": 7001, \"check_http\": \"http://127.0.0.1:$closed/health\", \"interval_ms\": 200}"
[ "$API_STATUS" = 200 ] || fail "PUT down with an HTTP check -> $API_STATUS $API_BODY"
api s4 PUT /v1/services/notfound "{\"port\": 7002, \"check_http\": \"http://$(agent_http s4)/nope\", \"interval_ms\": 200}"
[ "$API_STATUS" = 200 ] || fail "PUT notfound with an HTTP check -> $API_STATUS $API_BODY"
wait_until 10 all_list "api@s4:7000:passing,down@s4:7001:critical,notfound@s4:7002:critical,web@s1:8080:passing" all ||
    fail -a s4 "HTTP checks: want api passing (200), down (refused) and notfound (404) critical: $(views all)"
say "HTTP checks: 200 -> passing, connection refused and 404 -> critical (${WAIT_S}s)"
for s in api down notfound; do ctl s4 service deregister "$s" >/dev/null || fail "deregister $s"; done
wait_until 10 all_list "web@s1:8080:passing" all || fail "HTTP-checked services not gone: $(views all)"

# ---- a program embedding libgossip --------------------------------------------------------
client=${GOSSIP_BUILD_DIR:-}/example_service_client
if [ -x "$client" ]; then
    alloc_port cport
    "$client" --name ex1 --bind "127.0.0.1:$cport" --join "$(agent_bind s2)" \
        --service example --port 9999 >"$GT_TMP/client.log" 2>&1 &
    cpid=$!
    GT_BG_PIDS+=("$cpid")
    wait_until 15 all_list "example@ex1:9999:passing,web@s1:8080:passing" ||
        { cat "$GT_TMP/client.log" >&2; fail "the example client's service not listed: $(views)"; }
    say "examples/service_client (libgossip + plain UDP sockets) registered 'example' in ${WAIT_S}s"
    { kill -KILL "$cpid"; wait "$cpid"; } 2>/dev/null
    wait_until 30 all_list "web@s1:8080:passing" || fail "the client's service stayed after it died"
    say "the client SIGKILLed: its service gone from every list after ${WAIT_S}s"
    all_see dead ex1 "${ALIVE[@]}" || fail "ex1 not dead everywhere: $(who_sees_not dead ex1 "${ALIVE[@]}")"
else
    say "(no $client: example client part skipped)"
fi

assert_running s1 s2 s4
gt_pass
