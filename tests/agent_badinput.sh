#!/usr/bin/env bash
# agent_badinput.sh -- gossipd against bad input:
#   1. bad flags and bad config files: exit non-zero, the setting named on
#      stderr (and a good config file is read, flags winning over it);
#   2. malformed datagrams (UDP) and frames (TCP) at a running agent: each
#      counted, members and state unchanged everywhere, the agent alive;
#   3. malformed HTTP requests: 4xx with a JSON {"error": ...}, each counted
#      in bad_requests, the agent healthy; the bearer token enforced.
# ctest sets GOSSIPD and GOSSIPCTL.
set -uo pipefail
. "$(dirname "$0")/lib/agent.sh"
gt_init agent_badinput

# ---- 1. bad flags, bad config ------------------------------------------------------
alloc_port P1
alloc_port P2
base=(--name bad1 --bind "127.0.0.1:$P1" --http "127.0.0.1:$P2" --data-dir "$GT_TMP/bad-data")
cfgdir=$GT_TMP/configs
mkdir -p "$cfgdir"
: >"$GT_TMP/not-a-dir"
cases=0

# expect_reject REGEX ARGS...: gossipd ARGS must exit non-zero (not start)
# with REGEX (the setting's name, extended regex) on stderr.
expect_reject() {
    local re=$1 rc=0
    shift
    timeout 10 "$GOSSIPD" "$@" >"$GT_TMP/out" 2>"$GT_TMP/err" </dev/null || rc=$?
    local shown="gossipd $*"
    if [ "$rc" = 124 ]; then
        fail "$shown: still running after 10s, want a refusal naming /$re/"
    fi
    if [ "$rc" = 0 ]; then
        fail "$shown: exited 0, want a refusal naming /$re/"
    fi
    if ((rc >= 128)); then
        cat "$GT_TMP/err" >&2
        fail "$shown: killed by signal $((rc - 128)), want a clean refusal"
    fi
    grep -qE -- "$re" "$GT_TMP/err" ||
        fail "$shown: exit $rc but stderr does not name /$re/: $(head -c 400 "$GT_TMP/err")"
    [ -s "$GT_TMP/out" ] && fail "$shown: the error went to stdout: $(head -c 200 "$GT_TMP/out")"
    cases=$((cases + 1))
    printf '         %-58s -> %d: %s\n' "${*:${#base[@]}+1}" "$rc" "$(head -1 "$GT_TMP/err" | cut -c1-90)"
}

say "bad flags (after valid --name/--bind/--http/--data-dir):"
expect_reject 'fanout' "${base[@]}" --fanout 0
expect_reject 'fanout' "${base[@]}" --fanout 65
expect_reject 'fanout' "${base[@]}" --fanout
expect_reject 'bind' "${base[@]}" --bind nonsense
expect_reject 'bind' "${base[@]}" --bind 127.0.0.1:99999
expect_reject 'bind' "${base[@]}" --bind 300.1.1.1:7946
expect_reject 'mode' "${base[@]}" --mode x
expect_reject 'gossip-interval' "${base[@]}" --gossip-interval -1
expect_reject 'gossip-interval' "${base[@]}" --gossip-interval abc
expect_reject 'gossip-interval' "${base[@]}" --gossip-interval 99999999999999999999
expect_reject 'probe-interval' "${base[@]}" --probe-interval 1x
expect_reject 'probe-timeout' "${base[@]}" --probe-interval 500 --probe-timeout 900
expect_reject 'leave-timeout' "${base[@]}" --leave-timeout 0
expect_reject 'log-level' "${base[@]}" --log-level loud
expect_reject 'user-quiescent-period' "${base[@]}" --user-quiescent-period 500
expect_reject 'quiescent-period' "${base[@]}" --coalesce-period 100 --quiescent-period 200
expect_reject 'name' "${base[@]}" --name 'bad name!'
expect_reject 'name' --bind "127.0.0.1:$P1" --http "127.0.0.1:$P2" --data-dir "$GT_TMP/bad-data"
expect_reject 'http' "${base[@]}" --http nonsense
expect_reject 'http-token' "${base[@]}" --http "0.0.0.0:$P2"
expect_reject 'join' "${base[@]}" --join not-an-address
expect_reject 'advertise' "${base[@]}" --advertise 0.0.0.0:7946
expect_reject 'tag' "${base[@]}" --tag =value
expect_reject 'handler' "${base[@]}" --handler 'member-bogus=/bin/true'
expect_reject 'data-dir' "${base[@]}" --data-dir "$GT_TMP/not-a-dir"
expect_reject 'bogus-flag' "${base[@]}" --bogus-flag 1
expect_reject 'stray' "${base[@]}" stray

say "bad config files (--config FILE):"
cfg() { printf '%s' "$2" >"$cfgdir/$1"; echo "$cfgdir/$1"; }
expect_reject 'bogus_key' "${base[@]}" --config "$(cfg unknown.json '{"fanout": 2, "bogus_key": 1}')"
expect_reject 'fanout' "${base[@]}" --config "$(cfg type.json '{"fanout": "three"}')"
expect_reject 'fanout' "${base[@]}" --config "$(cfg frac.json '{"fanout": 1.5}')"
expect_reject 'fanout' "${base[@]}" --config "$(cfg zero.json '{"fanout": 0}')"
expect_reject 'gossip_interval' "${base[@]}" --config "$(cfg neg.json '{"gossip_interval": -5}')"
expect_reject 'mode' "${base[@]}" --config "$(cfg mode.json '{"mode": 3}')"
expect_reject 'tags' "${base[@]}" --config "$(cfg tags.json '{"tags": ["a", "b"]}')"
expect_reject 'config' "${base[@]}" --config "$(cfg malformed.json '{"name": "a", ')"
expect_reject 'config' "${base[@]}" --config "$(cfg array.json '[1, 2]')"
expect_reject 'config' "${base[@]}" --config "$cfgdir/missing.json"
say "$cases bad settings refused, each named"

# --help lists every setting.
"$GOSSIPD" --help >"$GT_TMP/help" 2>&1 || fail "gossipd --help exited non-zero"
for f in --name --bind --advertise --join --http --http-token --data-dir --tag --mode --fanout \
    --gossip-interval --probe-interval --probe-timeout --leave-timeout --log-level --config --handler; do
    grep -qe "$f" "$GT_TMP/help" || fail "gossipd --help does not mention $f"
done
say "gossipd --help lists every setting"

# A good config file is read; flags win over it.
alloc_port CP1
alloc_port CP2
good=$(cfg good.json "{\"name\": \"cfgnode\", \"bind\": \"127.0.0.1:$CP1\", \"http\": \"127.0.0.1:$CP2\",
  \"data_dir\": \"$GT_TMP/cfg-data\", \"gossip_interval\": 300, \"fanout\": 2, \"mode\": \"push\",
  \"leave_timeout\": 1000, \"tags\": {\"role\": \"cfg\"}}")
"$GOSSIPD" --config "$good" --fanout 3 >"$GT_TMP/cfgnode.log" 2>&1 </dev/null &
cfg_pid=$!
GT_BG_PIDS+=("$cfg_pid")
_cfg_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$CP2/v1/info")" = 200 ]; }
wait_until 20 _cfg_up || { tail -20 "$GT_TMP/cfgnode.log" >&2; fail "gossipd --config $good did not start"; }
info=$(curl -s "http://127.0.0.1:$CP2/v1/info")
jq -e '.name == "cfgnode"' <<<"$info" >/dev/null || fail "config file's name not used: $info"
for kv in gossip_interval=300 fanout=3 mode=push leave_timeout=1000; do
    k=${kv%%=*} v=${kv#*=}
    got=$(jq -r --arg k "$k" '[.config | .. | objects | select(has($k) or has($k + "_ms")) | (.[$k] // .[$k + "_ms"])] | .[0] // empty' <<<"$info")
    [ "$got" = "$v" ] || fail "/v1/info config $k = '$got', want $v (config file, --fanout 3 on the command line)"
done
kill -TERM "$cfg_pid"
wait "$cfg_pid" || fail "gossipd --config exited $? after SIGTERM"
say "a good config file is read (gossip_interval 300, mode push), --fanout 3 wins over its fanout 2"

# ---- 2. malformed datagrams and frames ---------------------------------------------
AGENT_COMMON_ARGS=(--gossip-interval 200 --probe-interval 500 --probe-timeout 250)
start_agent a
start_agent b --join "$(agent_bind a)"
start_agent c --join "$(agent_bind a)"
wait_ready a b c
wait_until 30 full_membership a b c || fail -a a "a, b, c did not converge in 30s"
api a PUT /v1/state/color blue
[[ $API_STATUS == 2* ]] || fail -a a "PUT /v1/state/color -> $API_STATUS: $API_BODY"
_color_everywhere() {
    local n
    for n in a b c; do
        members_of "$n" | jq -e '.[] | select(.name == "a") | .state.color == "blue"' >/dev/null || return 1
    done
}
wait_until 20 _color_everywhere || fail -a a "state color=blue did not reach b and c"
say "cluster a, b, c up; a's state color=blue everywhere"

# What must not change: every node's view of who is there, at which address
# and generation, with which tags and state.  (Status and incarnation are
# checked apart: on a loaded machine a suspicion, and the refutation that
# bumps the incarnation, can happen at any time, malformed input or not.)
snapshot() {
    local n
    for n in a b c; do
        echo "== $n"
        members_of "$n" | jq -S '[.[] | {name, addr, generation, tags, state}] | sort_by(.name)'
    done
}
# unchanged: the snapshot is as before, nobody is dead, and everyone is
# alive again within a few seconds.
unchanged() {
    local after n
    after=$(snapshot)
    [ "$before" = "$after" ] || {
        diff <(echo "$before") <(echo "$after") >&2
        fail -a "$target" "members, generations, tags or state changed ($1)"
    }
    for n in a b c; do
        sees_none_dead "$n" a b c || { member_table "$n"; fail -a "$n" "$n holds a member dead ($1)"; }
    done
    wait_until 15 full_membership a b c || fail -a "$target" "a, b, c not all alive everywhere ($1)"
}
before=$(snapshot)
target=b
tport=${AG_GPORT[$target]}
pk=$GT_TMP/packets
mkdir -p "$pk"
# The header is magic "GS", protocol version 1, message type, flags
# (src/wire/wire.h); the body one MessagePack map.
printf 'GS'                             >"$pk/truncated-2"
printf 'GS\x01'                         >"$pk/truncated-3"
printf 'GS\x01\x05'                     >"$pk/truncated-4"
printf 'GS\x01\x05\x00'                 >"$pk/header-only"
printf 'XS\x01\x05\x00\x80'             >"$pk/wrong-magic"
printf 'GS\x63\x05\x00\x80'             >"$pk/wrong-version"
printf 'GS\x01\x7f\x00\x80'             >"$pk/unknown-type"
printf 'GS\x01\x01\x00\x85\x01\xa5ab'   >"$pk/truncated-body"
printf 'GS\x01\x05\x00\x81\x01\xc0'     >"$pk/nil-from"
printf 'GS\x01\x05\x00\x82\x01\xa1x\x0d\xdb\xff\xff\xff\xff' >"$pk/huge-string"
head -c 300 /dev/urandom                >"$pk/random-300"
{ printf 'GS\x01\x01\x00'; head -c 1000 /dev/urandom; } >"$pk/random-body"
{ printf 'GS\x01\x01\x00'; head -c 65000 /dev/urandom; } >"$pk/oversize-65005"

# send_udp PORT FILE: FILE as one datagram to 127.0.0.1:PORT.
send_udp() { dd if="$2" bs=70000 count=1 status=none >"/dev/udp/127.0.0.1/$1"; }

# errors_now: the counters a malformed datagram may land in, summed.
errors_now() {
    local e t
    e=$(counter "$target" recv_errors) || return 1
    t=$(counter "$target" udp_truncated) || true
    echo $((e + ${t:-0}))
}
_counted() { local now; now=$(errors_now) || return 1; ((now > $1)); }
e0=$(counter "$target" recv_errors)
[ -n "$e0" ] || fail -a "$target" "/v1/info has no recv_errors counter: $(get_json "$target" /v1/info)"
udp0=$(counter "$target" udp_in)
[ -n "$udp0" ] || fail -a "$target" "/v1/info has no udp_in counter"
sent=0
for f in truncated-2 truncated-3 truncated-4 header-only wrong-magic wrong-version unknown-type \
    truncated-body nil-from huge-string random-300 random-body oversize-65005; do
    for rep in 1 2; do
        before_n=$(errors_now) || fail -a "$target" "no /v1/info from $target"
        send_udp "$tport" "$pk/$f" || fail "could not send $f"
        sent=$((sent + 1))
        wait_until 5 _counted "$before_n" ||
            fail -a "$target" "datagram '$f' ($(stat -c %s "$pk/$f") bytes) to $target was not counted as an error" \
                "(recv_errors $(counter "$target" recv_errors), udp_truncated $(counter "$target" udp_truncated))"
    done
done
e1=$(counter "$target" recv_errors)
udp1=$(counter "$target" udp_in)
((udp1 - udp0 >= sent)) || fail "udp_in rose by $((udp1 - udp0)), fewer than the $sent datagrams sent"
say "$sent malformed datagrams sent to $target: each counted (recv_errors $e0 -> $e1)"

# TCP frames on the gossip port: u32 big-endian length, kind (1 = datagram),
# address length, address, datagram (src/agent/transport.c).
# send_tcp PORT FILE: FILE's bytes on one TCP connection, then close.
send_tcp() {
    exec 7<>"/dev/tcp/127.0.0.1/$1" || return 1
    cat "$2" >&7
    exec 7>&- 7<&-
}
frame() { # frame KIND ADDR DATAGRAM-FILE > out
    local addr=$2 len
    len=$((2 + ${#addr} + $(stat -c %s "$3")))
    printf "\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))"
    printf "\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))"
    printf "\\x$(printf %02x "$1")\\x$(printf %02x ${#addr})%s" "$addr"
    cat "$3"
}
frame 1 127.0.0.1:9 "$pk/random-body" >"$pk/tcp-garbage-datagram"
frame 1 127.0.0.1:9 "$pk/wrong-magic" >"$pk/tcp-wrong-magic"
frame 9 127.0.0.1:9 "$pk/random-body" >"$pk/tcp-bad-kind"
printf '\xff\xff\xff\xf0GS\x01' >"$pk/tcp-oversize"
printf '\x00\x00' >"$pk/tcp-truncated"
_tcp_counted() { # _tcp_counted SUM-BEFORE: recv_errors + tcp_errors + tcp_oversize rose
    local s=0 k v
    for k in recv_errors tcp_errors tcp_oversize; do
        v=$(counter "$target" "$k") || return 1
        s=$((s + ${v:-0}))
    done
    ((s > $1))
}
tcp_sum() {
    local s=0 k v
    for k in recv_errors tcp_errors tcp_oversize; do
        v=$(counter "$target" "$k")
        s=$((s + ${v:-0}))
    done
    echo "$s"
}
for k in tcp_errors tcp_oversize; do
    [ -n "$(counter "$target" "$k")" ] || fail "/v1/info has no $k counter"
done
for f in tcp-garbage-datagram tcp-wrong-magic tcp-bad-kind tcp-oversize; do
    s0=$(tcp_sum)
    send_tcp "$tport" "$pk/$f" || fail "could not connect to $target's TCP port $tport"
    wait_until 5 _tcp_counted "$s0" || fail -a "$target" "TCP frame '$f' to $target was not counted"
done
send_tcp "$tport" "$pk/tcp-truncated" || fail "could not connect to $target's TCP port"
say "malformed TCP frames (garbage datagram, bad kind, 4 GB length) counted; a truncated one ignored"

# A blob frame (kind 4) whose message is garbage: refused by the blob
# engine and counted there (counters.blob in /v1/info, /metrics).
frame 4 127.0.0.1:9 "$pk/random-body" >"$pk/tcp-garbage-blob"
b0=$(counter "$target" blob_recv_errors)
[ -n "$b0" ] || fail "/v1/info has no counters.blob.blob_recv_errors"
_blob_counted() { [ "$(counter "$target" blob_recv_errors)" -gt "$b0" ]; }
send_tcp "$tport" "$pk/tcp-garbage-blob" || fail "could not connect to $target's TCP port"
wait_until 5 _blob_counted || fail -a "$target" "a garbage blob frame was not counted in blob_recv_errors"
ctl_metrics=$("$GOSSIPCTL" --http "$(agent_http "$target")" metrics) || fail "gossipctl metrics failed"
grep -q '^gossip_blob_recv_errors_total [1-9]' <<<"$ctl_metrics" ||
    fail "gossip_blob_recv_errors_total is not in /metrics or still 0"
say "a garbage blob frame was refused and counted (blob_recv_errors, gossip_blob_recv_errors_total)"

assert_running a b c
http_ok "$target" || fail -a "$target" "$target's API does not answer after the malformed datagrams"
unchanged "after malformed datagrams"
say "members, addresses, generations, tags and state unchanged on a, b, c; all alive and running"

# ---- 3. malformed HTTP requests ----------------------------------------------------------
h=a
b0=$(counter "$h" bad_requests)
[ -n "$b0" ] || fail -a "$h" "/v1/info has no bad_requests counter: $(get_json "$h" /v1/info)"
nbad=0
# expect_http CODE-REGEX METHOD PATH [BODY]: the answer's status matches, and
# its body is a JSON object with a non-empty string "error".
expect_http() {
    local want=$1
    shift
    api "$h" "$@"
    [[ $API_STATUS =~ ^($want)$ ]] ||
        fail -a "$h" "$1 $2 -> HTTP $API_STATUS, want $want (body: ${API_BODY:0:200})"
    jq -e '(.error | type) == "string" and (.error | length) > 0' <<<"$API_BODY" >/dev/null 2>&1 ||
        fail "$1 $2 -> HTTP $API_STATUS without a JSON {\"error\": ...} body: ${API_BODY:0:200}"
    nbad=$((nbad + 1))
    printf '         %-6s %-40s -> %s %s\n' "$1" "${2:0:40}" "$API_STATUS" "$(jq -c .error <<<"$API_BODY" | cut -c1-70)"
}
head -c 100000 /dev/zero | tr '\0' x >"$GT_TMP/big-body"
head -c 1200 /dev/zero | tr '\0' v >"$GT_TMP/big-value"
say "malformed HTTP requests to $h:"
expect_http 400 POST /v1/join 'not json'
expect_http 400 POST /v1/join '{"addrs": "127.0.0.1:1"}'
expect_http 400 POST /v1/join '{"addrs": ["not-an-address"]}'
expect_http 400 POST /v1/join '{"addrs": [42]}'
expect_http 400 POST /v1/join '{}'
expect_http 400 POST /v1/join '{"addrs": []}'
expect_http 404 GET /v1/nope
expect_http 404 GET /nope
expect_http 405 DELETE /v1/members
expect_http 405 POST /v1/self
expect_http 405 PUT /v1/info '{}'
expect_http 400 GET '/v1/members?status=zombie'
expect_http 413 PUT /v1/state/k "@$GT_TMP/big-body"
expect_http '400|413' PUT /v1/state/k "@$GT_TMP/big-value"
expect_http '400|404|405' PUT /v1/state/ v
expect_http 403 PUT /v1/state/tags '{"role": "x"}'
expect_http 403 PUT /v1/state/address 127.0.0.1:1
expect_http 400 PUT "/v1/state/$(printf 'k%.0s' {1..65})" v
expect_http 400 PUT /v1/state/bad%01key v
expect_http 413 POST /v1/join "@$GT_TMP/big-body"
expect_http 400 POST /v1/join "{\"addrs\": [$(for i in {1..33}; do printf '"127.0.0.1:%d",' $((1000 + i)); done | sed 's/,$//')]}"
expect_http 404 GET /v1/state/no-such-key
expect_http 404 POST /v1/force-leave/no-such-member
expect_http '400|409' POST "/v1/force-leave/$h"
expect_http '400|409' POST /v1/force-leave/b
b1=$(counter "$h" bad_requests)
((b1 - b0 == nbad)) || fail "bad_requests rose by $((b1 - b0)) for $nbad bad requests"
say "$nbad bad requests answered 4xx with a JSON error; bad_requests $b0 -> $b1"

# Raw bytes on the HTTP socket: not HTTP at all, a broken request line, an
# unknown HTTP version, a bad Content-Length.  Each gets a 4xx status line
# (505 for the version), or the connection closed (libmicrohttpd drops a
# connection whose request line it cannot parse, before gossipd sees it), and
# the agent carries on.
# raw_http TEXT: sends TEXT, prints the status line of the answer.
raw_http() {
    exec 8<>"/dev/tcp/127.0.0.1/${AG_HPORT[$h]}" || return 1
    printf '%b' "$1" >&8
    local line=
    IFS= read -r -t 5 line <&8 || true
    exec 8>&- 8<&-
    printf '%s' "${line%$'\r'}"
}
for raw in 'GARBAGE\r\n\r\n' '\x01\x02\x03\xff\xfe\r\n\r\n' 'GET\r\n\r\n' \
    'GET /v1/members HTTP/9.9\r\n\r\n' \
    'PUT /v1/state/k HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n' \
    'GET /v1/members HTTP/1.1\r\nHost: x\r\nbroken header line\r\n\r\n'; do
    line=$(raw_http "$raw") || fail "cannot connect to $h's HTTP port"
    case $line in
        "HTTP/1."?" 4"*|"HTTP/1."?" 505 "*|"") ;;
        *) fail "raw '$raw' -> '$line', want a 4xx status, 505 or the connection closed" ;;
    esac
    printf '         raw %-52s -> %s\n' "'${raw:0:50}'" "${line:-(closed)}"
done
assert_running a b c
http_ok "$h" || fail -a "$h" "$h's API does not answer after the malformed requests"
unchanged "after malformed HTTP requests"
say "$h still healthy; members and state unchanged"

# ---- the bearer token ----------------------------------------------------------------------
AG_TOKEN[d]=s3cret-token
start_agent d --http-token s3cret-token --join "$(agent_bind a)"
wait_ready d
AG_TOKEN[d]=
api d GET /v1/members
[ "$API_STATUS" = 401 ] || fail -a d "GET /v1/members without the token -> $API_STATUS, want 401"
jq -e '.error | type == "string"' <<<"$API_BODY" >/dev/null || fail "401 without a JSON error: $API_BODY"
api d GET /v1/members '' -H 'Authorization: Bearer wrong'
[ "$API_STATUS" = 401 ] || fail -a d "GET /v1/members with a wrong token -> $API_STATUS, want 401"
api d GET /metrics
[ "$API_STATUS" = 401 ] || fail -a d "GET /metrics without the token -> $API_STATUS, want 401"
AG_TOKEN[d]=s3cret-token
api d GET /v1/members
[ "$API_STATUS" = 200 ] || fail -a d "GET /v1/members with the token -> $API_STATUS, want 200"
say "--http-token: no token or a wrong one -> 401 with a JSON error; the right one -> 200"

# ---- watchers never take every connection ------------------------------------------------
start_agent e --http-max-connections 6 --http-max-watchers 2 --join "$(agent_bind a)"
wait_ready e
watch_start e w1
watch_start e w2
two_watchers() { [ "$(counter e watchers)" = 2 ]; }
wait_until 10 two_watchers || fail -a e "two /v1/watch streams did not connect"
api e GET /v1/watch '' --max-time 3
[ "$API_STATUS" = 503 ] || fail -a e "a third /v1/watch -> $API_STATUS, want 503"
jq -e '.error | test("watchers")' <<<"$API_BODY" >/dev/null || fail "503 without a JSON error: $API_BODY"
api e GET /v1/self
[ "$API_STATUS" = 200 ] || fail -a e "with the watchers full, GET /v1/self -> $API_STATUS, want 200"
watch_stop e w1
one_watcher() { [ "$(counter e watchers)" = 1 ]; }
wait_until 10 one_watcher || fail -a e "a closed watch stream did not give its slot back"
say "--http-max-watchers 2: a third watch stream gets 503, the rest of the API still answers"

assert_running a b c d e
gt_pass
