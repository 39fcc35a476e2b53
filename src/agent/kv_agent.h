/* kv_agent.h -- gossipd's replicated key-value store: the store of
 * core/kv.h on the agent's TCP transport (rumors and anti-entropy sessions
 * in AGENT_FRAME_KV frames), its log in the data dir (DIR/kv.log), and its
 * HTTP side (/v1/kv/KEY, kv_http.c).  docs/kv.md describes it.
 *
 * Threads: the store and everything here is touched only under the agent
 * lock.  Frames leave on the loop thread only: a write from an HTTP thread
 * is stored, logged and synced at once, and its rumor goes out when the
 * loop wakes (uv_async_t).  Like the blob store, one per process. */
#ifndef GOSSIP_AGENT_KV_AGENT_H
#define GOSSIP_AGENT_KV_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/agent_internal.h"
#include "core/kv.h"

#define KV_LOG_FILE "kv.log"

/* Hooks in agent.c. */
/* End of agent_init (loop thread, before the loop runs): opens the store,
 * loads DIR/kv.log (a torn or corrupt tail is cut off, counted and
 * logged), starts the timer.  -1 with a message in err when the log cannot
 * be opened or written. */
int agent_kv_open(agent *a, char *err, size_t err_len);
/* From stop_loop (lock held): closes the handles, syncs the log. */
void agent_kv_close(agent *a);
/* From agent_destroy: frees everything. */
void agent_kv_free(agent *a);
/* An AGENT_FRAME_KV frame from the member advertising `from` (loop thread,
 * lock held). */
void agent_kv_deliver(agent *a, const char *from, const uint8_t *msg, size_t len);

/* ---- for kv_http.c (lock held) ------------------------------------------- */

/* NULL when the store is not open. */
kv_store *agent_kv_store(agent *a);
/* A local write (del: a delete), lock held: stored and appended to the log,
 * then pushed as a rumor by the loop.  As kv_put / kv_del, plus
 * GOSSIP_ERR_INVALID when the store is not open.  On success *sync_fd is a
 * descriptor to pass to agent_kv_sync once the lock is released (-1: the
 * write is synced already), so the fsync never holds the lock. */
int agent_kv_write(agent *a, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                   bool del, const uint64_t *cas, recon_version *out, int *sync_fd);
#define AGENT_KV_NOT_LOGGED (-2) /* a *sync_fd: the log write itself failed */
/* Lock NOT held: makes a write durable (fdatasync) before it is
 * acknowledged and closes sync_fd.  0, or -1 (counted) when the disk
 * refused the write or the sync. */
int agent_kv_sync(agent *a, int sync_fd);
/* The counters as a JSON object (GET /v1/info, counters.kv). */
json_t *agent_kv_info_json(agent *a);

/* ---- hooks in http.c (lock NOT held: they take it) ----------------------- */

enum agent_kv_op { AGENT_KV_GET, AGENT_KV_PUT, AGENT_KV_DEL, AGENT_KV_LIST };
struct MHD_Connection;
/* Serves one /v1/kv request: the answer's JSON (a reference the caller
 * sends) and *status.  `key` is the path after /v1/kv/ (NULL for LIST). */
json_t *agent_kv_http(agent *a, struct MHD_Connection *conn, enum agent_kv_op op,
                      const char *key, const char *body, size_t body_len, unsigned *status);
/* Appends the gossip_kv_* families to a /metrics text (malloc'd, taken
 * over and returned, *len updated; the text unchanged when out of memory). */
char *agent_kv_metrics_append(agent *a, char *text, size_t *len);

#endif
