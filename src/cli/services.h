/* services.h -- gossipctl's service commands (services.c):
 *   service register NAME --port P [--tag T]... [--check-http URL | --check-cmd CMD]
 *                         [--interval MS]
 *   service deregister NAME
 *   services [NAME] [--all]
 * over the agent's /v1/services API (docs/services.md). */
#ifndef GOSSIP_CLI_SERVICES_H
#define GOSSIP_CLI_SERVICES_H

#include <stdbool.h>

#include "cli/client.h"

#define CTL_SERVICE_USAGE \
    "service register NAME --port P [--tag T]... [--check-http URL | --check-cmd CMD] " \
    "[--interval MS] | service deregister NAME"
#define CTL_SERVICE_ABOUT \
    "Registers a service on this agent, or removes it.  The agent gossips it as its\n" \
    "state key svc.NAME and runs its health check every --interval ms (default\n" \
    "10000): --check-cmd runs CMD with /bin/sh -c (exit 0 = passing), --check-http\n" \
    "GETs URL (http://IP:PORT/PATH; 2xx = passing).  Without a check the service is\n" \
    "always passing.  Registrations survive agent restarts."
#define CTL_SERVICES_USAGE "services [NAME] [--all]"
#define CTL_SERVICES_ABOUT \
    "Lists the healthy instances of every service (or of NAME) across the cluster:\n" \
    "NAME NODE ADDR STATUS TAGS, sorted by name and node; --all includes critical\n" \
    "instances; --json prints the agent's JSON array."

/* 1 when `arg` is an option of these commands that takes its value from the
 * next argument (--port P), 2 when it carries it (--port=P) or takes none
 * (--all), 0 when it is not theirs.  gossipctl.c passes them through. */
int ctl_service_option(const char *arg);

/* `service ARGS...` and `services ARGS...` (args after the command name);
 * return the exit code. */
int ctl_service_run(const ctl_client *cl, bool json, int argc, const char *const *argv);
int ctl_services_run(const ctl_client *cl, bool json, int argc, const char *const *argv);

#endif
