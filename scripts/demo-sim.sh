#!/usr/bin/env bash
# make demo-sim: the simulator's convergence demonstration (the live cluster
# of real gossipd processes is `make demo`, scripts/demo.sh).
#  1. the round model against the theory (push, pull, push-pull);
#  2. the real engine, 100 nodes on a simulated network, a schema change
#     written 100 times on one node: how long until every node has it;
#  3. failure detection under loss and pauses: how fast kills are seen, and
#     that no live node is declared dead.
set -euo pipefail
build=${1:-build}
sim="$build/gossip-sim"
here=$(cd "$(dirname "$0")/.." && pwd)

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# Mean rounds from Pittel 1987, Karp et al. 2000 and an independent
# simulation (the table of docs/theory.md).
reference() {
    case "$1/$2" in
        1000/push) echo 18.0 ;; 1000/pull) echo 13.8 ;; 1000/pushpull) echo 9.1 ;;
        10000/push) echo 23.7 ;; 10000/pull) echo 17.5 ;; 10000/pushpull) echo 11.6 ;;
        100000/push) echo 29.5 ;; 100000/pull) echo 20.9 ;; 100000/pushpull) echo 14.0 ;;
        *) echo - ;;
    esac
}

bold "1. One rumor, N nodes, synchronous rounds, fanout 1 (gossip-sim rounds)"
echo "   theory: push ~ log2 N + ln N, pull ~ log2 N + log2 ln N, push-pull ~ log3 N + log2 ln N"
printf '   %-8s %-10s %12s %12s %14s %12s\n' N mode "mean rounds" "p99 rounds" "published mean" "formula"
for n in 1000 10000 100000; do
    for mode in push pull pushpull; do
        out=$("$sim" rounds --nodes "$n" --mode "$mode" --fanout 1 --trials 1000 --seed 1 --json)
        mean=$(sed -n 's/.*"rounds_mean": *\([0-9.]*\).*/\1/p' <<<"$out")
        p99=$(sed -n 's/.*"rounds_p99": *\([0-9.]*\).*/\1/p' <<<"$out")
        published=$(reference "$n" "$mode")
        theory=$(awk -v n="$n" -v m="$mode" 'BEGIN {
            l2 = log(n) / log(2); ln = log(n); l3 = log(n) / log(3); ll = log(ln) / log(2);
            if (m == "push") t = l2 + ln; else if (m == "pull") t = l2 + ll; else t = l3 + ll;
            printf "%.1f", t }')
        printf '   %-8s %-10s %12.2f %12s %14s %12s\n' "$n" "$mode" "$mean" "$p99" "$published" "$theory"
    done
done

bold "2. The real engine: 100 nodes, push-pull every 1 s, 1-5 ms links (gossip-sim run)"
echo "   scenario: $here/examples/scenarios/schema-100.json"
"$sim" run --scenario "$here/examples/scenarios/schema-100.json" --seed 1
bound=$("$sim" rounds --nodes 100 --mode pushpull --fanout 1 --trials 200 --seed 1 --json |
        sed -n 's/.*"rounds_p99": *\([0-9.]*\).*/\1/p')
echo "   bound from the round model: rounds_p99 ($bound) x T (1 s) + 5 ms latency;"
echo "   Cassandra is cited at 4-8 s for this case."

bold "3. Failure detection: 100 nodes, 10 % loss, 5 nodes pausing 2 s, 5 killed (gossip-sim run)"
echo "   scenario: $here/examples/scenarios/fd-100.json  (SWIM + Lifeguard, phi accrual)"
"$sim" run --scenario "$here/examples/scenarios/fd-100.json" --seed 1 --members n3 2>"$build/demo-members.txt" |
    grep -E "detection|memberlist|deaths|swim|invariant"
echo "   n3's view at the end (first rows; phi for the peers it monitors):"
sed -n '2,8p' "$build/demo-members.txt"
grep -E " (dead|left) " "$build/demo-members.txt" | head -5

bold "Next"
echo "   $sim rounds --help        the round model's options"
echo "   $sim run --help           the discrete-event simulator; scenarios in examples/scenarios/"
echo "   docs/theory.md, docs/simulator.md, docs/failure-detection.md, docs/ARCHITECTURE.md"
