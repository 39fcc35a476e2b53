#!/usr/bin/env bash
# agent_blob.sh -- large payloads across real gossipd processes on 127.0.0.1:
#   1. a 3 MiB blob put on one of 5 agents (gossipctl blob put) reaches every
#      other one, byte-exact under the same hash (gossipctl blob get -o);
#   2. a second version of it (a few regions changed) put on another agent
#      reaches all too, and the TCP bytes it costs the cluster are printed
#      next to its size (most chunks are already held);
#   3. the HTTP API refuses a bad hash (400), an unknown one (404), an empty
#      body (400) and a body over the blob cap (413);
#   4. an agent restarted on its data dir still serves both blobs
#      (DATA_DIR/blobs/HASH), and a corrupted blob file is moved aside.
# ctest sets GOSSIPD and GOSSIPCTL.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_blob

AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250
                   --log-level info)
names=(b1 b2 b3 b4 b5)

ctl() { "$GOSSIPCTL" --http "$(agent_http "$1")" "${@:2}"; }

# holds NAME HASH FILE: NAME serves the blob and its bytes equal FILE.
holds() {
    ctl "$1" blob get "$2" -o "$GT_TMP/got.$1" >/dev/null 2>&1 && cmp -s "$GT_TMP/got.$1" "$3"
}

all_hold() {
    local h=$1 f=$2 n
    for n in "${names[@]}"; do holds "$n" "$h" "$f" || return 1; done
}

tcp_in_total() {
    local n sum=0 v
    for n in "${names[@]}"; do
        v=$(ctl "$n" metrics | awk '$1 == "gossip_tcp_bytes_received_total" { print $2 }')
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# ---- start ---------------------------------------------------------------------------
start_agent b1
for n in "${names[@]:1}"; do start_agent "$n" --join "$(agent_bind b1)"; done
wait_ready -t 60 "${names[@]}"
wait_until 60 full_membership "${names[@]}" || fail -a b1 "no full membership after 60s"
say "5 agents, full membership (${WAIT_S}s)"

# ---- 1. put on b2, get everywhere ------------------------------------------------------
head -c $((3 * 1024 * 1024)) /dev/urandom >"$GT_TMP/v1"
h1=$(ctl b2 blob put "$GT_TMP/v1") || fail -a b2 "blob put failed"
[[ $h1 =~ ^[0-9a-f]{64}$ ]] || fail -a b2 "blob put printed no hash: '$h1'"
say "put 3 MiB on b2: $h1"
wait_until 60 all_hold "$h1" "$GT_TMP/v1" || {
    for n in "${names[@]}"; do holds "$n" "$h1" "$GT_TMP/v1" || echo "$n lacks it"; done
    fail -a b1 -a b3 "the blob did not reach every agent within 60s"
}
say "every agent serves $h1 byte-exact (${WAIT_S}s)"
code=$(curl -s -o "$GT_TMP/raw" -w '%{http_code} %{content_type}' "http://$(agent_http b4)/v1/blob/$h1")
[ "$code" = "200 application/octet-stream" ] || fail -a b4 "GET /v1/blob/HASH answered '$code'"
cmp -s "$GT_TMP/raw" "$GT_TMP/v1" || fail -a b4 "GET /v1/blob/HASH returned other bytes"
# the same bytes put again elsewhere: the same name
h1b=$(ctl b5 blob put - <"$GT_TMP/v1") || fail -a b5 "blob put - failed"
[ "$h1b" = "$h1" ] || fail "the same bytes got another hash on b5: $h1b"

# ---- 2. a second version: only the changed chunks travel --------------------------------
cp "$GT_TMP/v1" "$GT_TMP/v2"
for off in 100000 900000 1700000 2500000; do
    printf 'a change at %d' "$off" | dd of="$GT_TMP/v2" bs=1 seek="$off" conv=notrunc status=none
done
before=$(tcp_in_total)
h2=$(ctl b3 blob put "$GT_TMP/v2") || fail -a b3 "blob put v2 failed"
[ "$h2" != "$h1" ] || fail "v2 has v1's hash"
wait_until 60 all_hold "$h2" "$GT_TMP/v2" || fail -a b1 "v2 did not reach every agent within 60s"
sleep 3 # the last announcement rounds
after=$(tcp_in_total)
say "v2 (4 edits) everywhere in ${WAIT_S}s; TCP bytes received by the 5 agents meanwhile:" \
    "$((after - before)) (v2 is $(stat -c %s "$GT_TMP/v2") bytes; 4 receivers)"
[ $((after - before)) -lt $((3 * 1024 * 1024)) ] ||
    fail "spreading v2 cost $((after - before)) bytes: more than one full copy"

# ---- 3. refusals ---------------------------------------------------------------------------
api b1 GET /v1/blob/xyz
[ "$API_STATUS" = 400 ] || fail -a b1 "a bad hash answered $API_STATUS, not 400"
api b1 GET "/v1/blob/$(printf '%064d' 0)"
[ "$API_STATUS" = 404 ] || fail -a b1 "an unknown hash answered $API_STATUS, not 404"
api b1 PUT /v1/blob
[ "$API_STATUS" = 400 ] || fail -a b1 "an empty PUT answered $API_STATUS, not 400"
truncate -s 100M "$GT_TMP/huge"
api b1 PUT /v1/blob "@$GT_TMP/huge"
[ "$API_STATUS" = 413 ] || fail -a b1 "a 100 MiB PUT answered $API_STATUS, not 413"
jq -e '.error | test("blob cap")' <<<"$API_BODY" >/dev/null || fail "413 without a reason: $API_BODY"
rm -f "$GT_TMP/huge"
ctl b1 blob get "$(printf '%064d' 0)" >/dev/null 2>&1
[ $? -eq 1 ] || fail "gossipctl blob get of an unknown hash did not exit 1"
say "400 / 404 / 400 / 413 as expected"

# ---- 4. restart: blobs come back from the data dir -------------------------------------------
[ -f "${AG_DIR[b4]}/data/blobs/$h1" ] || fail -a b4 "b4 has no data/blobs/$h1"
stop_agent b4
printf 'garbage' >"${AG_DIR[b4]}/data/blobs/$(printf '%064d' 7)"
restart_agent b4
wait_ready -t 30 b4
holds b4 "$h1" "$GT_TMP/v1" || fail -a b4 "b4 lost v1 over a restart"
holds b4 "$h2" "$GT_TMP/v2" || fail -a b4 "b4 lost v2 over a restart"
[ -f "${AG_DIR[b4]}/data/blobs/$(printf '%064d' 7).corrupt" ] ||
    fail -a b4 "a corrupt blob file was not moved aside"
say "b4 restarted with both blobs; a corrupt file moved aside"

gt_pass
