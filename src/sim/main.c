/* gossip-sim: the round model and the discrete-event simulator of the real
 * engine.  This file only dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "gossip/gossip.h"
#include "sim/sim.h"
#include "sim/rumor.h"
#include "sim/antientropy.h"
#include "sim/blob_sim.h"
#include "sim/kv_sim.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gossip-sim COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  rounds   synchronous round model of one rumor (push, pull, push-pull)\n"
            "  run      discrete-event simulation of real libgossip nodes from a scenario file\n"
            "  rumor    rumor mongering (Demers 1987): residue, traffic, anti-entropy backstop, hot spot\n"
            "  antientropy  Merkle and IBLT anti-entropy between two replicas: bytes, round trips\n"
            "  blob     large payloads by INV/GETDATA with compact announcements: bytes, time\n"
            "  kv       property test of the replicated key-value store: writes, loss, partitions,\n"
            "           restarts; identical replicas, no acknowledged write lost\n"
            "\n"
            "gossip-sim COMMAND --help shows the options of COMMAND.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "rounds") == 0)
        return sim_cmd_rounds(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return sim_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "rumor") == 0)
        return sim_cmd_rumor(argc - 1, argv + 1);
    if (strcmp(cmd, "antientropy") == 0)
        return sim_cmd_antientropy(argc - 1, argv + 1);
    if (strcmp(cmd, "blob") == 0)
        return sim_cmd_blob(argc - 1, argv + 1);
    if (strcmp(cmd, "kv") == 0)
        return sim_cmd_kv(argc - 1, argv + 1);
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("gossip-sim %s\n", GOSSIP_VERSION_STRING);
        return 0;
    }
    fprintf(stderr, "gossip-sim: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
