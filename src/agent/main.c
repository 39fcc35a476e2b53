/* gossipd -- the gossip agent: libgossip on a real network, with an HTTP
 * API.  `gossipd --help` lists every setting; docs/agent.md explains them. */
#include <signal.h>
#include <stdio.h>

#include "agent/agent_internal.h"

int main(int argc, char **argv)
{
    static agent_config cfg;
    char err[1024];
    int rc = agent_config_parse(&cfg, argc, argv, err, sizeof err);
    if (rc == 1)
        return 0; /* --help or --version */
    if (rc != 0) {
        fprintf(stderr, "gossipd: %s\n(see gossipd --help)\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a closed HTTP or TCP peer is an error code, not a death */
    return agent_run(&cfg, argc, argv);
}
