/* run_trace.c -- `gossip-sim run --trace NODE`: one line per membership
 * change any node reports about NODE, and per fault of NODE itself, with
 * the virtual time.  Goes to its own stream (stderr in the CLI), so the
 * report on stdout stays byte-identical. */
#include "sim/run_internal.h"

#include <stdio.h>

static const char *change_kind_name(enum gossip_change_kind kind)
{
    switch (kind) {
    case GOSSIP_CHANGE_JOIN: return "join";
    case GOSSIP_CHANGE_RESTART: return "restart";
    case GOSSIP_CHANGE_STATE: return "state";
    case GOSSIP_CHANGE_ALIVE: return "alive";
    case GOSSIP_CHANGE_SUSPECT: return "suspect";
    case GOSSIP_CHANGE_DEAD: return "dead";
    case GOSSIP_CHANGE_LEFT: return "left";
    case GOSSIP_CHANGE_REAPED: return "reaped";
    case GOSSIP_CHANGE_EVENT: return "event";
    }
    return "unknown";
}

void sim_trace_change(const struct sim_node *observer, const gossip_change *change)
{
    struct sim_run *run = observer->run;
    if (!run->trace || change->kind == GOSSIP_CHANGE_STATE ||
        sim_node_index_of(run, change->name) != (int32_t)run->trace_subject)
        return;
    fprintf(run->trace, "trace %10.3f ms  %-7s holds %s %s (generation %llu, incarnation %llu)\n",
            (double)run->now_us / US_PER_MS, observer->name, change->name,
            change_kind_name(change->kind), (unsigned long long)change->generation,
            (unsigned long long)change->incarnation);
}

void sim_trace_fault(const struct sim_run *run, uint32_t node, const char *what)
{
    if (run->trace && node == run->trace_subject)
        fprintf(run->trace, "trace %10.3f ms  %s %s\n", (double)run->now_us / US_PER_MS,
                run->nodes[node].name, what);
}

void sim_run_trace(struct sim_run *run, FILE *out, uint32_t subject)
{
    run->trace = out;
    run->trace_subject = subject;
}
