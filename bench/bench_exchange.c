/* bench_exchange.c -- bytes on the wire per node per gossip period in a
 * converged cluster, for growing N, with the summary-hash SYN against the
 * peer design measured in the same run: Cassandra's SYN, which lists one
 * digest per endpoint (encoded here with our own codec, so only the design
 * differs).  Also with a Cassandra-style heartbeat bumped every period,
 * which changes every endpoint's version every second: the O(N) cost that
 * DESIGN.md predicts.
 *
 *   build/bench_exchange            (prints a table; asserts nothing) */
#include <stdio.h>

#include "../tests/mininet.h"
#include "wire/wire.h"

/* Size of a SYN that lists every endpoint of node 0's table. */
static size_t full_digest_syn_bytes(const mininet *net)
{
    static uint8_t buf[1 << 20];
    wire_writer w;
    wire_begin(&w, buf, sizeof buf, GOSSIP_MSG_SYN);
    wire_try_str(&w, WK_FROM, "node-0", 6);
    wire_try_str(&w, WK_ADDR, "n0", 2);
    wire_open_array(&w, WK_DIGESTS);
    size_t n = gossip_node_member_count(net->nodes[0]);
    for (size_t i = 0; i < n; i++) {
        gossip_member_info m;
        gossip_node_member_at(net->nodes[0], i, &m);
        wire_try_digest(&w, m.name, strlen(m.name), m.generation, m.max_version);
    }
    wire_close_array(&w);
    return wire_finish(&w);
}

/* How many heartbeats behind the truth a node's view is, on average over
 * every (observer, subject) pair: with a bump every period, rounds behind. */
static double mean_heartbeat_lag(const mininet *net)
{
    double sum = 0;
    uint64_t pairs = 0;
    for (int s = 0; s < net->n; s++) {
        gossip_member_info own;
        gossip_node_member_find(net->nodes[s], NULL, &own);
        for (int o = 0; o < net->n; o++) {
            gossip_member_info seen;
            if (o == s || gossip_node_member_find(net->nodes[o], own.name, &seen) != 0)
                continue;
            sum += (double)(own.heartbeat - seen.heartbeat);
            pairs++;
        }
    }
    return pairs ? sum / (double)pairs : 0;
}

static void measure(int nodes, int heartbeat_bump)
{
    static mininet net;
    gossip_config c;
    gossip_config_init(&c);
    c.heartbeat_bump = heartbeat_bump;
    c.probe_interval_ms = 0; /* the exchange alone; SWIM's probes are another budget */
    mn_init(&net, nodes, &c);
    /* With a bump every period the tables never agree exactly: warm up for
     * a fixed number of rounds instead of waiting for convergence. */
    int rounds = heartbeat_bump ? 0 : mn_run_until_converged(&net, 500);
    for (int r = 0; r < (heartbeat_bump ? 100 : 40); r++) /* let recent windows expire */
        mn_round(&net);
    const int measured = 20;
    uint64_t before = mn_bytes_sent(&net);
    for (int r = 0; r < measured; r++)
        mn_round(&net);
    double per = (double)(mn_bytes_sent(&net) - before) / measured / nodes;
    size_t cassandra = full_digest_syn_bytes(&net);
    printf("%6d  %-9s  %16d  %14.0f  %22zu  %8.1fx  %12.1f\n", nodes,
           heartbeat_bump ? "bump" : "quiet", rounds, per, cassandra, (double)cassandra / per,
           mean_heartbeat_lag(&net));
    mn_free(&net);
}

int main(void)
{
    printf("steady-state bytes per node per period (fanout 1, T = 1 round, MTU 1400)\n");
    printf("%6s  %-9s  %16s  %14s  %22s  %9s  %12s\n", "N", "heartbeat", "rounds-to-conv.",
           "ours B/node", "full-digest SYN bytes", "ratio", "hb lag");
    const int sizes[] = {50, 100, 200, 400, 800, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        measure(sizes[i], 0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        measure(sizes[i], 1);
    printf("rounds-to-conv.: cold start, every node seeded with node 0 only (0: not measured)\n");
    printf("hb lag: mean heartbeats (= periods) a view trails the owner, over all pairs\n");
    printf("ratio: full-digest SYN bytes / ours.  A full-digest SYN of N > ~70 does not fit one\n"
           "1400-byte datagram at all; with a bump, Cassandra's ACK/ACK2 would add a delta for\n"
           "every endpoint on top, ours stay capped at the MTU and pay in lag instead.\n");
    return 0;
}
