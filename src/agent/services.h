/* services.h -- service discovery on top of application state
 * (docs/services.md).
 *
 * A service is application state of the member that runs it: key
 * "svc.NAME", value a compact JSON object
 *   {"name","port","tags":[...],"check":{"cmd"|"http": ..., "interval_ms"},
 *    "status":"passing"|"critical"}
 * so it spreads with gossip (rumors + anti-entropy) and disappears with its
 * member (dead, left).  The registering agent runs the health check (a
 * command through /bin/sh -c, exit 0 = passing, or an HTTP GET over a plain
 * TCP connection, 2xx = passing) and rewrites the value only when the
 * status changes.  Registrations are kept in DIR/services.json (atomic
 * writes) and registered again at the next start.
 *
 * Threads: the registration table is touched only under the agent lock.
 * Checks run on the loop thread (one uv_timer_t scans for due checks);
 * their handles are created and closed there only. */
#ifndef GOSSIP_AGENT_SERVICES_H
#define GOSSIP_AGENT_SERVICES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/agent_internal.h"

#define AGENT_SVC_KEY_PREFIX "svc."     /* state keys of services (reserved in /v1/state) */
#define AGENT_SVC_FILE "services.json"  /* registrations in the data dir */
#define AGENT_SVC_MAX_NAME 48           /* bytes in a service name: A-Z a-z 0-9 . _ - */
#define AGENT_SVC_MAX_TAGS 16
#define AGENT_SVC_MAX_TAG 64            /* bytes in one tag */
#define AGENT_SVC_MAX_CHECK 512         /* bytes in a check command or URL */
#define AGENT_SVC_MAX_INTERVAL_MS 3600000u
#define AGENT_SVC_DEFAULT_INTERVAL_MS 10000u
#define AGENT_SVC_LIMIT 32              /* ceiling of --services-max */

/* True for keys of the "svc." prefix (writes through /v1/state are refused). */
bool agent_services_reserved_key(const char *key);

/* Hooks in agent.c. */
/* End of agent_init (loop thread, before the loop runs): starts the check
 * timer and registers what DIR/services.json holds (a file that does not
 * parse is moved aside with a warning).  Never fails the start. */
void agent_services_open(agent *a);
/* From stop_loop (lock held): kills running checks, closes the handles. */
void agent_services_close(agent *a);
/* From agent_destroy. */
void agent_services_free(agent *a);

/* Hooks in http.c (lock NOT held: they take it).  The answer's JSON (a
 * reference the caller sends) and *status. */
enum agent_svc_op { AGENT_SVC_LIST, AGENT_SVC_GET, AGENT_SVC_PUT, AGENT_SVC_DEL };
struct MHD_Connection;
json_t *agent_services_http(agent *a, struct MHD_Connection *conn, enum agent_svc_op op,
                            const char *name, const char *body, size_t body_len,
                            unsigned *status);

#endif
