#!/usr/bin/env bash
# Queries: POST /v1/query/NAME (gossipctl query) reaches the members that
# match its filters, each acks, and a "query" handler's stdout is its answer;
# tag and name filters, relayed answers, and bad requests refused.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_query

AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250)
cat >"$GT_TMP/answer.sh" <<'SH'
#!/bin/sh
# The query's JSON is on stdin; the answer is what we print.
q=$(cat)
echo "$GOSSIP_SELF_NAME:$(printf '%s' "$q" | jq -r '.query + "/" + .payload')"
SH
chmod +x "$GT_TMP/answer.sh"

start_agent q1 --tag role=web --handler "query=$GT_TMP/answer.sh"
wait_ready q1
start_agent q2 --tag role=web --handler "query=$GT_TMP/answer.sh" --join "$(agent_bind q1)"
start_agent q3 --tag role=db --handler "query=$GT_TMP/answer.sh" --join "$(agent_bind q1)"
start_agent q4 --tag role=db --join "$(agent_bind q1)"   # no handler: acks only
for n in q2 q3 q4; do wait_ready "$n"; done
wait_until 20 full_membership q1 q2 q3 q4 || fail -a q1 "no full membership"
say "4 agents up; q1-q3 answer queries with a handler, q4 only acks"

ctl() { "$GOSSIPCTL" --http "$(agent_http "$1")" "${@:2}"; }

out=$(ctl q2 --json query ping hello --timeout 1500) || fail -a q2 "gossipctl query failed"
jq -e '.ack_count == 4 and .response_count == 3' <<<"$out" >/dev/null ||
    fail -a q2 "query to all: want 4 acks and 3 answers, got $out"
for n in q1 q2 q3; do
    jq -e --arg n "$n" '.responses[$n] == ($n + ":ping/hello")' <<<"$out" >/dev/null ||
        fail "answer of $n wrong: $out"
done
say "query to all from q2: 4 acks (itself included), 3 handler answers"

out=$(ctl q1 --json query who --tag role=db --timeout 1500) || fail "tag query failed"
jq -e '(.acks | sort) == ["q3","q4"] and (.responses | keys) == ["q3"]' <<<"$out" >/dev/null ||
    fail "query --tag role=db: want acks q3,q4 and an answer from q3, got $out"
out=$(ctl q4 --json query who --node q1,q3 --relay 2 --timeout 1500) || fail "node query failed"
jq -e '(.acks | sort) == ["q1","q3"] and (.responses | keys | sort) == ["q1","q3"]' <<<"$out" \
    >/dev/null || fail "query --node q1,q3 --relay 2: got $out"
say "filters: --tag role=db reaches q3 and q4 only; --node q1,q3 (relayed) reaches those two"

human=$(ctl q1 query ping x --timeout 1000) || fail "human query output failed"
grep -q '^4 acks, 3 responses$' <<<"$human" || fail "human output: $human"

big=$(head -c 3000 /dev/zero | tr '\0' x)
api q1 POST "/v1/query/big" "$big"
[ "$API_STATUS" = 413 ] || fail "an oversize query payload -> $API_STATUS, want 413"
api q1 POST "/v1/query/x?timeout=999999"
[ "$API_STATUS" = 400 ] || fail "timeout 999999 -> $API_STATUS, want 400"
api q1 POST "/v1/query/x?tag=novalue"
[ "$API_STATUS" = 400 ] || fail "tag without '=' -> $API_STATUS, want 400"
api q1 POST "/v1/event/_query" "{}"
[ "$API_STATUS" = 400 ] || fail "a user event named _query -> $API_STATUS, want 400"
say "bad queries refused: oversize 413, bad timeout / tag 400, reserved event names 400"

assert_running q1 q2 q3 q4
gt_pass
