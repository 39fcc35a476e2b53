/* blob_agent.h -- gossipd's large payloads: the blob engine (core/blob.h)
 * on the agent's TCP transport, its HTTP side (PUT /v1/blob, GET
 * /v1/blob/HASH) and the data dir's blobs/ directory.
 * docs/large-payloads.md, "In the agent", describes it.
 *
 * Threads: the engine is only touched under the agent lock.  Its messages
 * leave on the loop thread: a send from an HTTP thread (a PUT announcing)
 * is queued and flushed by the loop through a uv_async_t.  Peers are the
 * members' advertised addresses, interned to the engine's integer ids. */
#ifndef GOSSIP_AGENT_BLOB_AGENT_H
#define GOSSIP_AGENT_BLOB_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/agent.h"
#include "core/blob.h"
#include "core/blob_wire.h" /* enum blob_msg_type */

/* At the end of agent_init (loop thread, before the loop runs): creates the
 * engine and its handles and loads DIR/blobs/.  Files that do not verify
 * are renamed *.corrupt with a warning.  Returns 0: a failure (logged)
 * leaves the agent running without blobs, the blob API answering 503. */
int agent_blob_open(agent *a, char *err, size_t err_len);
/* From stop_loop (lock held): closes the handles. */
void agent_blob_close(agent *a);
/* From agent_destroy: frees the engine and what is queued. */
void agent_blob_free(agent *a);

/* A blob frame's message from the member advertising `from` (loop thread,
 * lock held). */
void agent_blob_deliver(agent *a, const char *from, const uint8_t *msg, size_t len);
/* Lock held: the blob engine's counters; false when blobs are off. */
bool agent_blob_get_stats(const agent *a, blob_stats *out);
/* Message type names for counters, indexed by enum blob_msg_type. */
extern const char *const agent_blob_msg_names[BLOB_MSG_TYPE_COUNT];
/* Lock held: the same as JSON (GET /v1/info, counters.blob). */
json_t *agent_blob_info_json(const agent *a);
/* The largest blob message the settings allow: a blob frame's cap. */
size_t agent_blob_max_frame(const agent *a);
/* The largest payload: PUT /v1/blob's body cap. */
size_t agent_blob_max_body(const agent *a);

/* HTTP threads, lock NOT held.  Stores, persists and announces a payload;
 * hex gets its hash.  GOSSIP_ERR_OVERSIZE, GOSSIP_ERR_INVALID (empty),
 * GOSSIP_ERR_FULL (store), GOSSIP_ERR_NOMEM, GOSSIP_ERR_NOT_FOUND (blobs
 * disabled). */
int agent_blob_put(agent *a, const uint8_t *data, size_t len, char hex[BLOB_HEX_BYTES + 1]);
/* A malloc'd copy of a stored payload.  GOSSIP_ERR_INVALID: not a hash;
 * GOSSIP_ERR_NOT_FOUND: not here (*pending says whether it is being
 * fetched). */
int agent_blob_read(agent *a, const char *hex, uint8_t **out, size_t *len, bool *pending);

#endif
