/* kv.h -- gossipctl's key-value commands (kv.c):
 *   kv get KEY | kv put KEY VALUE|- [--cas VERSION] | kv del KEY [--cas VERSION]
 *   | kv list [PREFIX] [--keys]
 * over the agent's /v1/kv API (docs/kv.md). */
#ifndef GOSSIP_CLI_KV_H
#define GOSSIP_CLI_KV_H

#include <stdbool.h>

#include "cli/client.h"

#define CTL_KV_USAGE \
    "kv get KEY | kv put KEY VALUE|- [--cas VERSION] | kv del KEY [--cas VERSION] | " \
    "kv list [PREFIX] [--keys]"
#define CTL_KV_ABOUT \
    "Reads and writes the cluster-wide key-value store (any member writes any key;\n" \
    "the last write wins everywhere).  `kv get` prints the value (--json: key, value,\n" \
    "version, writer); `kv put` prints the new version; `--cas VERSION` writes only\n" \
    "if the key is at that version (0: only if absent), else exits 1 (HTTP 409);\n" \
    "`kv put KEY -` reads the value from standard input; `kv list` prints KEY VALUE\n" \
    "lines sorted by key (--keys: keys only)."

/* Runs `kv ARGS...` (args after "kv"); returns the exit code.  Prints a
 * usage message and returns CTL_EXIT_USAGE for a bad command line. */
int ctl_kv_run(const ctl_client *cl, bool json, int argc, const char *const *argv);

#endif
