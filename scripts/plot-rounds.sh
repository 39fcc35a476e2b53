#!/usr/bin/env bash
# plot-rounds.sh -- measures the mean rounds to inform all N nodes with
# `gossip-sim rounds` (push, pull, push-pull, fanout 1, no loss) for
# N = 10^2 .. 10^6 and draws them against the three formulas into
# docs/img/rounds.svg with gnuplot.
#
# usage: scripts/plot-rounds.sh [path/to/gossip-sim]
#   default binary: $GOSSIP_SIM, else build/gossip-sim, else build-rounds/gossip-sim
# needs: gnuplot (Debian package gnuplot-nox)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out_svg="$root/docs/img/rounds.svg"
seed=1
trials_small=1000 # N <= 10^5
trials_large=100  # N > 10^5: each trial costs ~10^7 node-rounds or more
sizes=(100 316 1000 3162 10000 31623 100000 316228 1000000)

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot-rounds.sh: gnuplot is not installed." >&2
    echo "plot-rounds.sh: on Debian: sudo apt-get install gnuplot-nox" >&2
    exit 1
fi

sim=${1:-${GOSSIP_SIM:-}}
if [ -z "$sim" ]; then
    for candidate in "$root/build/gossip-sim" "$root/build-rounds/gossip-sim"; do
        if [ -x "$candidate" ]; then
            sim=$candidate
            break
        fi
    done
fi
if [ -z "$sim" ] || [ ! -x "$sim" ]; then
    echo "plot-rounds.sh: no gossip-sim binary; build it (make build) or pass its path" >&2
    exit 1
fi

# json_field NAME JSON: the numeric value of one key of gossip-sim's output.
json_field() {
    sed -E "s/.*\"$1\":([-0-9.eE+]+).*/\\1/" <<<"$2"
}

data=$(mktemp)
trap 'rm -f "$data"' EXIT
echo "# N push_mean pull_mean pushpull_mean (seed $seed)" >"$data"
for n in "${sizes[@]}"; do
    trials=$trials_small
    if [ "$n" -gt 100000 ]; then
        trials=$trials_large
    fi
    row="$n"
    for mode in push pull pushpull; do
        json=$("$sim" rounds --nodes "$n" --mode "$mode" --fanout 1 --trials "$trials" \
                             --seed "$seed" --json)
        row="$row $(json_field rounds_mean "$json")"
    done
    echo "$row" >>"$data"
    echo "N=$n: $row" >&2
done

mkdir -p "$(dirname "$out_svg")"
gnuplot <<EOF
set terminal svg size 820,520 dynamic font "sans,13" background rgb "white"
set output "$out_svg"
set title "Rounds until all N nodes know the rumor (fanout 1, no loss, seed $seed)"
set xlabel "N (nodes)"
set ylabel "mean rounds ($trials_small trials; $trials_large for N > 100,000)"
set logscale x
set xtics ("100" 100, "1,000" 1000, "10,000" 1e4, "100,000" 1e5, "1,000,000" 1e6)
set xrange [80:1.25e6]
set yrange [0:50]
set key top left box opaque
set grid
log2(x) = log(x) / log(2)
log3(x) = log(x) / log(3)
plot log2(x) + log(x) with lines lw 2 dt 2 lc rgb "#c0392b" title "push formula: log2 N + ln N", \
     log2(x) + log2(log(x)) with lines lw 2 dt 2 lc rgb "#2471a3" title "pull formula: log2 N + log2 ln N", \
     log3(x) + log2(log(x)) with lines lw 2 dt 2 lc rgb "#1e8449" title "push-pull formula: log3 N + log2 ln N", \
     "$data" using 1:2 with linespoints pt 7 ps 0.8 lw 1 lc rgb "#c0392b" title "push, simulated", \
     "$data" using 1:3 with linespoints pt 5 ps 0.8 lw 1 lc rgb "#2471a3" title "pull, simulated", \
     "$data" using 1:4 with linespoints pt 9 ps 0.9 lw 1 lc rgb "#1e8449" title "push-pull, simulated"
EOF
echo "plot-rounds.sh: wrote $out_svg" >&2
