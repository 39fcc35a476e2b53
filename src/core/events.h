/* events.h -- user events carried in slot keys of the sender's state (events.c). */
#ifndef GOSSIP_CORE_EVENTS_H
#define GOSSIP_CORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/state.h"
#include "gossip/gossip.h"

/* The key is one of the reserved event slots ("_ev.N"). */
bool events_is_key(const char *key, size_t len);
/* Fires an event: writes its slot through `put` (the node's own-state
 * writer), advances the Lamport clock, delivers it locally. */
int events_fire(gossip_node *n, const char *name, const uint8_t *payload, size_t len,
                uint32_t flags, uint64_t *ltime_out,
                int (*put)(gossip_node *, const char *, const uint8_t *, size_t));
/* A member's event slot got a newer value: deliver it (once). */
void events_on_value(gossip_node *n, const endpoint *ep, const gossip_kv *kv);

#endif
