#!/usr/bin/env bash
# bench/blob_agents.sh -- the large-payload benchmark on real gossipd
# processes on 127.0.0.1 (docs/large-payloads.md, "On loopback agents").
#
# N agents join one cluster; every one of them starts with the *old* version
# of a payload in its data dir (DATA_DIR/blobs/HASH, loaded at start and never
# announced: no traffic).  Then:
#
#   compact   the new version (the old one with 32-byte regions rewritten
#             until about 90% of its bytes lie in chunks the old one has --
#             the very bytes `gossip-sim blob` builds for the same seed) is
#             PUT on n001, and the script waits until every agent has logged
#             "blob stored" for it;
#   nothing   a payload that shares no chunk with anything held is PUT on n001
#             the same way: every chunk travels (as in the simulator's "full"
#             mode, though after a compact list, not a manifest).
#
# An agent logs "blob stored" once the payload is complete and written to
# DATA_DIR/blobs (fsync included); GET /v1/blob/HASH answers from then on.
#
# For each it reports the blob bytes on the wire (TCP frames received by all
# agents, less the probe datagrams duplicated over TCP), the time until the
# last agent held the payload (from the agents' own log timestamps), the CPU
# the agents spent, and it checks every agent's copy byte for byte over
# GET /v1/blob/HASH.  The minimum is the missing bytes times N - 1.
# `gossip-sim blob` runs on the same payload first, for a side-by-side.
#
#   bench/blob_agents.sh [--nodes N] [--size-mib M] [--have F] [--seed S]
#                        [--smoke] [--gossip-interval MS] [--probe-interval MS]
#                        [--probe-timeout MS] [--deadline S] [--build DIR]
#                        [--tmp DIR] [--no-sim]
#
# Defaults: 100 nodes, 10 MiB, have 0.9, seed 1, build dir ./build.
# --smoke is --nodes 10 --size-mib 2.  NODES, SIZE_MIB, GOSSIP_BUILD_DIR,
# GOSSIPD, GOSSIP_SIM, GOSSIP_CC and TMPDIR are read from the environment too;
# KEEP_TMP=1 keeps the logs and data dirs.  Every process it starts is its
# child and is killed at exit, however it exits (tests/lib/agent.sh); every
# socket is on 127.0.0.1; every wait has a deadline.  Exit status: 0 when
# every agent ended with the exact bytes of both payloads, 1 otherwise, 2 for
# a bad argument.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

nodes=${NODES:-100}
size_mib=${SIZE_MIB:-10}
have=0.9
seed=1
gossip_ms=500
probe_ms=2000
probe_timeout_ms=1000
deadline=300
build=${GOSSIP_BUILD_DIR:-$root/build}
tmp=${TMPDIR:-/tmp}
run_sim=1

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
bad() { echo "blob_agents.sh: $*" >&2; exit 2; }
while (($# > 0)); do
    case $1 in
        --nodes) nodes=${2:-}; shift 2 ;;
        --size-mib) size_mib=${2:-}; shift 2 ;;
        --have) have=${2:-}; shift 2 ;;
        --seed) seed=${2:-}; shift 2 ;;
        --smoke) nodes=10; size_mib=2; shift ;;
        --gossip-interval) gossip_ms=${2:-}; shift 2 ;;
        --probe-interval) probe_ms=${2:-}; shift 2 ;;
        --probe-timeout) probe_timeout_ms=${2:-}; shift 2 ;;
        --deadline) deadline=${2:-}; shift 2 ;;
        --build) build=${2:-}; shift 2 ;;
        --tmp) tmp=${2:-}; shift 2 ;;
        --no-sim) run_sim=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) bad "unknown argument '$1' (--help lists them)" ;;
    esac
done
[[ $nodes =~ ^[0-9]+$ ]] && ((nodes >= 2 && nodes <= 500)) || bad "--nodes: 2..500, not '$nodes'"
[[ $size_mib =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v m="$size_mib" 'BEGIN { exit !(m > 0 && m <= 56) }' ||
    bad "--size-mib: (0, 56], not '$size_mib'"
[[ $have =~ ^0?\.[0-9]+$ ]] || bad "--have: in (0, 1), not '$have'"
[[ $seed =~ ^[0-9]+$ ]] || bad "--seed: an unsigned integer, not '$seed'"
for v in gossip_ms probe_ms probe_timeout_ms deadline; do
    [[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} > 0)) || bad "${v}: a positive integer, not '${!v}'"
done
((probe_timeout_ms <= probe_ms)) || bad "--probe-timeout must not exceed --probe-interval"
[ -d "$tmp" ] && [ -w "$tmp" ] || bad "--tmp: '$tmp' is not a writable directory"
build=$(cd "$build" 2>/dev/null && pwd) || bad "--build: no directory '$build'"

export GOSSIPD=${GOSSIPD:-$build/gossipd}
export GOSSIPCTL=${GOSSIPCTL:-$build/gossipctl}
sim=${GOSSIP_SIM:-$build/gossip-sim}
. "$root/tests/lib/agent.sh" # its port reservations stay under the original TMPDIR
TMPDIR=$tmp gt_init blob_agents
need_cmd date stat cmp pkg-config "${GOSSIP_CC:-cc}"
size=$(awk -v m="$size_mib" 'BEGIN { printf "%d", m * 1048576 }')
names=()
for ((i = 1; i <= nodes; i++)); do names+=("$(printf 'n%03d' "$i")"); done
pub=${names[0]}

# ---- the payloads: gossip-sim blob's own generator, linked from the build -----------
# blob_sim_make_payload (src/sim/blob_versions.c) for SEED builds the old
# version and a new one with 32-byte regions rewritten in random chunks until
# at most HAVE of its bytes lie in chunks the old one has; with HAVE 0 the new
# one is unrelated random bytes.  Same seed, same old version.
cat >"$GT_TMP/mkpayload.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include "sim/blob_sim.h"

static int put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 || sodium_init() < 0)
        return 2;
    blob_settings s;
    blob_settings_init(&s);
    blob_sim_payload p;
    size_t size = (size_t)strtoull(argv[2], NULL, 10);
    if (size == 0 ||
        blob_sim_make_payload(strtoull(argv[1], NULL, 10), size, strtod(argv[3], NULL),
                              &s.chunking, &p) != 0)
        return 1;
    uint8_t h[2][BLOB_HASH_BYTES];
    char x[2][BLOB_HEX_BYTES + 1];
    uint32_t n_old = blob_payload_hash(&s.chunking, p.old, p.size, h[0]);
    blob_payload_hash(&s.chunking, p.cur, p.size, h[1]);
    blob_hash_to_hex(h[0], x[0]);
    blob_hash_to_hex(h[1], x[1]);
    size_t differ = 0;
    for (size_t i = 0; i < p.size; i++)
        differ += p.old[i] != p.cur[i];
    if (put(argv[4], "old", p.old, p.size) || put(argv[4], "cur", p.cur, p.size))
        return 1;
    printf("{\"size\":%zu,\"old_hash\":\"%s\",\"old_chunks\":%u,\"cur_hash\":\"%s\","
           "\"chunks\":%u,\"chunks_shared\":%u,\"shared_bytes\":%llu,\"missing_bytes\":%llu,"
           "\"bytes_differing\":%zu}\n",
           p.size, x[0], n_old, x[1], p.chunks, p.chunks_shared,
           (unsigned long long)p.shared_bytes, (unsigned long long)p.missing_bytes, differ);
    blob_sim_payload_free(&p);
    return 0;
}
EOF
for lib in libgossip_sim_lib.a libgossip.a; do
    [ -f "$build/$lib" ] || fail "$build/$lib is missing: build first (make, or cmake --build $build)"
done
# shellcheck disable=SC2046
"${GOSSIP_CC:-cc}" -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -I"$root/src" -I"$root/include" \
    "$GT_TMP/mkpayload.c" "$build/libgossip_sim_lib.a" "$build/libgossip.a" \
    $(pkg-config --libs libsodium jansson) -lm -lpthread -o "$GT_TMP/mkpayload" 2>"$GT_TMP/cc.log" ||
    { cat "$GT_TMP/cc.log" >&2; fail "could not build the payload generator"; }
mkdir -p "$GT_TMP/p90" "$GT_TMP/p0"
P90=$("$GT_TMP/mkpayload" "$seed" "$size" "$have" "$GT_TMP/p90") || fail "payload generator failed"
P0=$("$GT_TMP/mkpayload" "$seed" "$size" 0 "$GT_TMP/p0") || fail "payload generator failed"
cmp -s "$GT_TMP/p90/old" "$GT_TMP/p0/old" || fail "the two old versions differ"
jf() { jq -r ".$2" <<<"$1"; }
old_hash=$(jf "$P90" old_hash)
h90=$(jf "$P90" cur_hash)
h0=$(jf "$P0" cur_hash)
chunks=$(jf "$P90" chunks)
shared=$(jf "$P90" chunks_shared)
missing=$(jf "$P90" missing_bytes)
min90=$((missing * (nodes - 1)))
min0=$((size * (nodes - 1)))
say "payload: $size bytes, $chunks chunks; the new version has $shared of them in common with" \
    "the old ($(awk -v a="$shared" -v b="$chunks" 'BEGIN { printf "%.1f", 100 * a / b }')% of chunks," \
    "$(awk -v a="$(jf "$P90" shared_bytes)" -v b="$size" 'BEGIN { printf "%.1f", 100 * a / b }')% of bytes);" \
    "$(jf "$P90" bytes_differing) bytes differ; missing $missing bytes a node"
say "the unrelated payload: $(jf "$P0" chunks) chunks, none in common"

# ---- the simulator on the same payload, before any agent runs -------------------------
SIM90=null
SIM0=null
if ((run_sim)) && [ -x "$sim" ]; then
    say "gossip-sim blob --nodes $nodes --size-mib $size_mib --have $have --k 3 --seed $seed --mode all"
    SIM90=$(timeout 600 "$sim" blob --nodes "$nodes" --size-mib "$size_mib" --have "$have" --k 3 \
        --seed "$seed" --mode all --json) || fail "gossip-sim blob failed"
    SIM0=$(timeout 600 "$sim" blob --nodes "$nodes" --size-mib "$size_mib" --have 0 --k 3 \
        --seed "$seed" --mode compact --json) || fail "gossip-sim blob --have 0 failed"
    [ "$(jf "$SIM90" missing_bytes)" = "$missing" ] ||
        fail "the simulator's payload differs from ours (missing $(jf "$SIM90" missing_bytes) != $missing)"
elif ((run_sim)); then
    say "no $sim: no side-by-side with the simulator"
fi

# ---- the cluster ----------------------------------------------------------------------------
AGENT_COMMON_ARGS=(--gossip-interval "$gossip_ms" --probe-interval "$probe_ms"
                   --probe-timeout "$probe_timeout_ms" --kv-anti-entropy-interval 0
                   --log-level info)
say "host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "load $(cut -d' ' -f1-3 /proc/loadavg); data dirs on $(stat -f -c %T "$GT_TMP") ($GT_TMP)"
say "agents: $nodes x gossipd ${AGENT_COMMON_ARGS[*]}; blob engine defaults" \
    "(k = 3, 4 more rounds every 500 ms, 32 requests in flight a peer)"
for n in "${names[@]}"; do # the old version, where load_blobs finds it (a hard link: no copy)
    mkdir -p "$GT_TMP/$n/data/blobs"
    ln "$GT_TMP/p90/old" "$GT_TMP/$n/data/blobs/$old_hash" 2>/dev/null ||
        cp "$GT_TMP/p90/old" "$GT_TMP/$n/data/blobs/$old_hash"
done
start_agent "$pub"
wait_ready -t 30 "$pub"
for n in "${names[@]:1}"; do start_agent "$n" --join "$(agent_bind "$pub")"; done
wait_ready -t 120 "${names[@]}"
say "$nodes agents answer"
alen=$(($(agent_bind "$pub" | wc -c) - 1)) # the advertised address in every frame
for n in "${names[@]}"; do
    [ $(($(agent_bind "$n" | wc -c) - 1)) = "$alen" ] || fail "addresses of different lengths"
done

urls() { local n; for n in "${names[@]}"; do printf 'http://%s%s\n' "$(agent_http "$n")" "$1"; done; }
# One curl for all agents, sequentially (no interleaving of bodies).
fetch_all() { urls "$1" | sed 's/^/url = /' | curl -s --max-time 30 -K - 2>/dev/null; }

all_alive() {
    fetch_all /v1/members | jq -se --argjson n "$nodes" \
        'length == $n and all(.[]; [.[] | select(.status == "alive")] | length == $n)' >/dev/null
}
wait_until 180 all_alive || fail -a "$pub" "no full membership within 180s"
say "full membership: every agent lists all $nodes alive (${WAIT_S}s)"
loaded=$(grep -l 'msg="blobs loaded" count=1' "$GT_TMP"/n*/log | wc -l)
((loaded == nodes)) || fail "only $loaded of $nodes agents loaded the old version"

# ---- counters -------------------------------------------------------------------------------
declare -A SN=()
# snap NAME: the sums over all agents of the counters below, their CPU
# ticks, the host's CPU ticks; fails unless every agent answered.
snap() {
    local k v
    while read -r k v; do SN[$1.$k]=$v; done < <(fetch_all /metrics | awk '
        /^gossip_info\{/ { agents++ }
        $1 == "gossip_tcp_bytes_received_total" { tcp_in += $2 }
        $1 == "gossip_tcp_frames_received_total" { frames_in += $2 }
        $1 == "gossip_tcp_bytes_sent_total" { tcp_out += $2 }
        $1 == "gossip_udp_bytes_received_total" { udp_in += $2 }
        $1 == "gossip_udp_packets_received_total" { udp_pk += $2 }
        $1 == "gossip_tcp_fallback_sends_total" { fallback += $2 }
        $1 == "gossip_suspicions_total" { susp += $2 }
        $1 == "gossip_declared_dead_total" { dead += $2 }
        $1 == "gossip_tcp_errors_total" { tcp_err += $2 }
        $1 == "gossip_probes_total" { probes += $2 }
        /^gossip_packets_received_total\{/ { eng_pk += $2 }
        /^gossip_bytes_received_total\{/ { eng_b += $2 }
        END { printf "agents %d\ntcp_in %.0f\nframes_in %.0f\ntcp_out %.0f\nudp_in %.0f\n", agents, tcp_in, frames_in, tcp_out, udp_in
              printf "probes %.0f\n", probes
              printf "udp_pk %.0f\nfallback %.0f\nsusp %.0f\ndead %.0f\ntcp_err %.0f\neng_pk %.0f\neng_b %.0f\n", udp_pk, fallback, susp, dead, tcp_err, eng_pk, eng_b }')
    [ "${SN[$1.agents]:-0}" = "$nodes" ] || return 1
    # Datagrams that came over TCP (the fallback probe path) are those the
    # engine received beyond UDP's; what is left of the TCP frames is blobs
    # (no queries run, key-value anti-entropy is off).
    SN[$1.dg_frames]=$((SN[$1.eng_pk] - SN[$1.udp_pk]))
    SN[$1.dg_bytes]=$((SN[$1.eng_b] - SN[$1.udp_in] + SN[$1.dg_frames] * (6 + alen)))
    SN[$1.blob_frames]=$((SN[$1.frames_in] - SN[$1.dg_frames]))
    SN[$1.blob_bytes]=$((SN[$1.tcp_in] - SN[$1.dg_bytes]))
    local ticks=0 st f n
    for n in "${names[@]}"; do
        st=$(cat "/proc/${AG_PID[$n]}/stat" 2>/dev/null) || return 1
        st=${st##*) }
        read -ra f <<<"$st"
        ticks=$((ticks + f[11] + f[12]))
    done
    SN[$1.cpu]=$ticks
    read -ra f < <(head -1 /proc/stat)
    SN[$1.host_total]=$((f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7] + f[8]))
    SN[$1.host_idle]=$((f[4] + f[5]))
    SN[$1.ms]=$(gt_ms)
}
d() { echo $((SN[$3.$1] - SN[$2.$1])); } # d KEY FROM TO
snap_or_fail() { snap "$1" || fail "not every agent answered GET /metrics"; }

mem() { # "sum_rss_mib max_rss_mib max_hwm_mib"
    local n s=0 m=0 h=0 r w
    for n in "${names[@]}"; do
        r=$(awk '/^VmRSS/ { print $2 }' "/proc/${AG_PID[$n]}/status" 2>/dev/null)
        w=$(awk '/^VmHWM/ { print $2 }' "/proc/${AG_PID[$n]}/status" 2>/dev/null)
        s=$((s + ${r:-0}))
        ((${r:-0} > m)) && m=$r
        ((${w:-0} > h)) && h=$w
    done
    echo "$((s / 1024)) $((m / 1024)) $((h / 1024))"
}

# An idle window as long as a short phase: what the cluster spends on TCP
# without any payload (it should be fallback probes only).
snap_or_fail idle0
idle_s=5
sleep "$idle_s" # a measurement window, not a wait for something
snap_or_fail idle1
say "idle ${idle_s}s: TCP frames received $(d frames_in idle0 idle1)" \
    "($(d tcp_in idle0 idle1) bytes), of them probe datagrams $(d dg_frames idle0 idle1) (fallback sends $(d fallback idle0 idle1) for $(d probes idle0 idle1) probes);" \
    "blob frames $(d blob_frames idle0 idle1); UDP $(d udp_in idle0 idle1) bytes;" \
    "host busy $(awk -v t="$(d host_total idle0 idle1)" -v i="$(d host_idle idle0 idle1)" 'BEGIN { printf "%.0f", 100 * (t - i) / t }')%, the agents $(awk -v a="$(d cpu idle0 idle1)" -v t="$(d host_total idle0 idle1)" 'BEGIN { printf "%.0f", 100 * a / t }')%; load $(cut -d" " -f1-3 /proc/loadavg)"

# ---- a phase: publish on n001, wait for all, wait for the traffic to end ------------------
stored_count() { grep -l -F "msg=\"blob stored\" hash=$1" "$GT_TMP"/n*/log 2>/dev/null | wc -l; }
all_stored() { (($(stored_count "$1") >= nodes - 1)); }
QUIET_FRAMES=-1
QUIET_SINCE=0
# quiet: no blob frame for 1.5 s (longer than the 500 ms between
# announcement rounds, so no round is left).
quiet() {
    snap_or_fail q
    local now
    now=$(gt_ms)
    if [ "${SN[q.blob_frames]}" != "$QUIET_FRAMES" ]; then
        QUIET_FRAMES=${SN[q.blob_frames]}
        QUIET_SINCE=$now
        return 1
    fi
    ((now - QUIET_SINCE >= 1500))
}

declare -A R=()
# phase LABEL FILE HASH MIN
phase() {
    local label=$1 file=$2 hash=$3 min=$4 code t0 put_s
    snap_or_fail "$label.0"
    t0=$(($(date +%s%3N)))
    code=$(curl -s -o "$GT_TMP/put.$label" -w '%{http_code} %{time_total}' --max-time 120 \
        -X PUT --data-binary "@$file" "http://$(agent_http "$pub")/v1/blob") || true
    put_s=${code#* }
    [ "${code%% *}" = 200 ] || fail -a "$pub" "PUT /v1/blob on $pub answered '${code%% *}'"
    [ "$(jq -r .hash "$GT_TMP/put.$label")" = "$hash" ] ||
        fail "$pub named the payload $(jq -r .hash "$GT_TMP/put.$label"), not $hash"
    say "$label: PUT $(stat -c %s "$file") bytes on $pub (${put_s}s); waiting for $((nodes - 1)) agents"
    WAIT_STEP=0.25 wait_until "$deadline" all_stored "$hash" || {
        local n
        for n in "${names[@]:1}"; do
            grep -q -F "msg=\"blob stored\" hash=$hash" "${AG_LOG[$n]}" || echo "  $n lacks it" >&2
        done
        fail -a "$pub" "$label: only $(stored_count "$hash") of $((nodes - 1)) agents stored it within ${deadline}s"
    }
    QUIET_FRAMES=-1
    WAIT_STEP=0.25 wait_until 120 quiet ||
        say "$label: blob frames still arriving 120s after the last store (counted up to now)"
    local k
    for k in "${!SN[@]}"; do [ "${k%%.*}" = q ] && SN[$label.1.${k#q.}]=${SN[$k]}; done
    # time to all: the last "blob stored" stamp (UTC, ms) after the PUT began
    grep -h -F "msg=\"blob stored\" hash=$hash" "$GT_TMP"/n*/log | sed 's/^ts=\([^ ]*\) .*/\1/' \
        >"$GT_TMP/ts.$label"
    local ms
    ms=$(date -u -f "$GT_TMP/ts.$label" +%s%3N | awk -v t0="$t0" '{ print $1 - t0 }' | sort -n |
        awk '{ v[NR] = $1 } function q(p) { return v[int((NR - 1) * p + 1.5)] }
             END { printf "%d %d %d %d %d %d", v[1], q(0.25), q(0.5), q(0.75), q(0.9), v[NR] }')
    read -r R[$label.first_ms] R[$label.p25_ms] R[$label.median_ms] R[$label.p75_ms] R[$label.p90_ms] \
        R[$label.all_ms] <<<"$ms"
    R[$label.quiet_ms]=$((QUIET_SINCE - SN[$label.0.ms])) # the last blob frame seen
    R[$label.put_s]=$put_s
    R[$label.min]=$min
    for k in blob_bytes blob_frames tcp_in dg_frames dg_bytes udp_in fallback probes susp dead tcp_err cpu; do
        R[$label.$k]=$(d "$k" "$label.0" "$label.1")
    done
    R[$label.sim_bytes]=$((R[$label.blob_bytes] - R[$label.blob_frames] * (2 + alen)))
    R[$label.host_busy]=$(awk -v t="$(d host_total "$label.0" "$label.1")" -v i="$(d host_idle "$label.0" "$label.1")" \
        'BEGIN { printf "%.0f", 100 * (t - i) / t }')
    R[$label.agent_pct]=$(awk -v a="${R[$label.cpu]}" -v t="$(d host_total "$label.0" "$label.1")" 'BEGIN { printf "%.0f", 100 * a / t }')
    R[$label.mem]=$(mem)
    # every agent's copy, byte for byte (after the measurement)
    local n ok=0 got=$GT_TMP/got
    for n in "${names[@]}"; do
        code=$(curl -s -o "$got" -w '%{http_code}' --max-time 60 "http://$(agent_http "$n")/v1/blob/$hash")
        [ "$code" = 200 ] && cmp -s "$got" "$file" && ok=$((ok + 1))
    done
    rm -f "$got"
    R[$label.verified]=$ok
    say "$label: all $((nodes - 1)) stored in $(awk -v m="${R[$label.all_ms]}" 'BEGIN { printf "%.2f", m / 1000 }')s;" \
        "blob bytes $(printf "%'d" "${R[$label.blob_bytes]}") in ${R[$label.blob_frames]} frames" \
        "($(awk -v a="${R[$label.sim_bytes]}" -v b="$min" 'BEGIN { printf "%.3f", a / b }') x minimum);" \
        "$ok/$nodes byte-exact"
    ((ok == nodes)) || fail "$label: only $ok of $nodes agents serve the exact bytes"
}

phase compact "$GT_TMP/p90/cur" "$h90" "$min90"
phase nothing "$GT_TMP/p0/cur" "$h0" "$min0"

# ---- report ---------------------------------------------------------------------------------
secs() { awk -v m="$1" 'BEGIN { printf "%.3f s", m / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
simrow() { # simrow LABEL JSON MODE MIN
    [ "$2" = null ] && return
    local b t
    b=$(jq -r --arg m "$3" '.runs[] | select(.mode == $m) | .wire_bytes' <<<"$2")
    t=$(jq -r --arg m "$3" '.runs[] | select(.mode == $m) | .time_all_ms' <<<"$2")
    printf '%-34s %14s %9s %9s %12s\n' "$1" "$b" "$(ratio "$b" "$4")" "$(ratio "$b" "$min90")" "$(secs "$t")"
}
agentrow() { # agentrow LABEL PHASE
    printf '%-34s %14s %9s %9s %12s   (%s as received, %s frames)\n' "$1" "${R[$2.sim_bytes]}" \
        "$(ratio "${R[$2.sim_bytes]}" "${R[$2.min]}")" "$(ratio "${R[$2.sim_bytes]}" "$min90")" \
        "$(secs "${R[$2.all_ms]}")" "${R[$2.blob_bytes]}" "${R[$2.blob_frames]}"
}
echo
echo "blob_agents: $nodes gossipd on 127.0.0.1, $size bytes ($chunks chunks, $shared held = $(jf "$P90" shared_bytes) bytes), seed $seed"
echo "bytes: blob messages + 4-byte length prefix, as gossip-sim counts them; 'x min' against this row's"
echo "own minimum, 'x min90' against the 90%-held minimum (the simulator's reference for its full mode)"
echo
printf '%-34s %14s %9s %9s %12s\n' mode bytes "x min" "x min90" "time to all"
printf '%-34s %14s %9s %9s %12s\n' "minimum, ${have} held (missing x N-1)" "$min90" 1.000 1.000 -
agentrow "agents compact, ${have} held" compact
simrow "sim compact, ${have} held" "$SIM90" compact "$min90"
printf '%-34s %14s\n' "agents manifest" "n/a (gossipd has no fetch-mode setting)"
simrow "sim manifest, ${have} held" "$SIM90" manifest "$min90"
printf '%-34s %14s %9s %9s %12s\n' "minimum, nothing held (size x N-1)" "$min0" 1.000 "$(ratio "$min0" "$min90")" -
agentrow "agents, nothing held (compact)" nothing
simrow "sim compact, nothing held" "$SIM0" compact "$min0"
simrow "sim full (every chunk), ${have} held" "$SIM90" full "$min90"
echo
for p in compact nothing; do
    read -r msum mmax mhwm <<<"${R[$p.mem]}"
    printf '%-8s stored: first %s, p25 %s, median %s, p75 %s, p90 %s, last %s after the PUT began (PUT itself %ss); traffic over %s\n' \
        "$p" "$(secs "${R[$p.first_ms]}")" "$(secs "${R[$p.p25_ms]}")" "$(secs "${R[$p.median_ms]}")" \
        "$(secs "${R[$p.p75_ms]}")" "$(secs "${R[$p.p90_ms]}")" "$(secs "${R[$p.all_ms]}")" \
        "${R[$p.put_s]}" "$(secs "${R[$p.quiet_ms]}")"
    printf '%-8s agents CPU %.1f s (host busy %s%%: the agents %s%%, the rest this script and others); RSS %s MiB in all, max %s MiB, peak %s MiB; suspicions %s, declared dead %s\n' \
        "" "$(awk -v t="${R[$p.cpu]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" "${R[$p.host_busy]}" "${R[$p.agent_pct]}" \
        "$msum" "$mmax" "$mhwm" "${R[$p.susp]}" "${R[$p.dead]}"
    printf '%-8s TCP received %s bytes: blob %s, probe datagrams %s (%s frames; fallback sends %s for %s probes); UDP %s\n' \
        "" "${R[$p.tcp_in]}" "${R[$p.blob_bytes]}" "${R[$p.dg_bytes]}" "${R[$p.dg_frames]}" "${R[$p.fallback]}" "${R[$p.probes]}" \
        "${R[$p.udp_in]}"
done
echo
runjson() { # runjson PHASE MODE HELD
    jq -cn --arg mode "$2" --argjson held "$3" --argjson b "${R[$1.sim_bytes]}" \
        --argjson raw "${R[$1.blob_bytes]}" --argjson fr "${R[$1.blob_frames]}" \
        --argjson min "${R[$1.min]}" --argjson t "${R[$1.all_ms]}" --argjson tf "${R[$1.first_ms]}" \
        --argjson tm "${R[$1.median_ms]}" --argjson t25 "${R[$1.p25_ms]}" --argjson t75 "${R[$1.p75_ms]}" --argjson t90 "${R[$1.p90_ms]}" --argjson tq "${R[$1.quiet_ms]}" \
        --argjson cpu "${R[$1.cpu]}" --argjson hz "$(getconf CLK_TCK)" --argjson busy "${R[$1.host_busy]}" \
        --argjson dg "${R[$1.dg_bytes]}" --argjson udp "${R[$1.udp_in]}" --argjson susp "${R[$1.susp]}" \
        --argjson ver "${R[$1.verified]}" --arg mem "${R[$1.mem]}" \
        '{mode: $mode, held: $held, wire_bytes: $b, received_frame_bytes: $raw, blob_frames: $fr,
          min_bytes: $min, ratio_to_min: (($b / $min * 1000 | round) / 1000), time_all_ms: $t,
          time_first_ms: $tf, time_p25_ms: $t25, time_median_ms: $tm, time_p75_ms: $t75, time_p90_ms: $t90, time_quiet_ms: $tq, agent_cpu_s: ($cpu / $hz),
          host_busy_pct: $busy, probe_tcp_bytes: $dg, udp_bytes: $udp, suspicions: $susp,
          verified: $ver, rss_mib: ($mem | split(" ") | map(tonumber) | {sum: .[0], max: .[1], peak: .[2]})}'
}
jq -cn --argjson nodes "$nodes" --argjson size "$size" --argjson chunks "$chunks" \
    --argjson shared "$shared" --argjson missing "$missing" --argjson min "$min90" --argjson seed "$seed" \
    --argjson gi "$gossip_ms" --argjson pi "$probe_ms" --argjson pt "$probe_timeout_ms" \
    --argjson cores "$(nproc)" --arg fs "$(stat -f -c %T "$GT_TMP")" \
    --argjson c "$(runjson compact compact "$have")" --argjson z "$(runjson nothing compact 0)" \
    --argjson s90 "$SIM90" --argjson s0 "$SIM0" \
    '{bench: "blob_agents", nodes: $nodes, size: $size, chunks: $chunks, chunks_shared: $shared,
      missing_bytes: $missing, min_bytes: $min, seed: $seed, cores: $cores, data_fs: $fs,
      agent: {gossip_interval_ms: $gi, probe_interval_ms: $pi, probe_timeout_ms: $pt, k: 3},
      runs: [$c, $z],
      sim: (if $s90 == null then null else
            {runs: ($s90.runs | map({mode, wire_bytes, ratio_to_min, time_all_ms})),
             nothing_held: ($s0.runs[0] | {mode, wire_bytes, ratio_to_min, time_all_ms})} end)}'
# A graceful end (SIGTERM: each agent leaves and exits 0); whatever is still
# running after the deadline is killed at exit by tests/lib/agent.sh.
for n in "${names[@]}"; do
    AG_EXPECT_DOWN[$n]=1 # read by tests/lib/agent.sh (fail)
    gt_is_child "${AG_PID[$n]}" && kill -TERM "${AG_PID[$n]}" 2>/dev/null
done
none_running() { local n; for n in "${names[@]}"; do agent_running "$n" && return 1; done; return 0; }
wait_until 60 none_running || say "agents still running 60s after SIGTERM: killed"
check_logs_clean
exit 0
