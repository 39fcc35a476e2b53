/* rumor.h -- rumor mongering with eager forwarding (rumor.c). */
#ifndef GOSSIP_CORE_RUMOR_H
#define GOSSIP_CORE_RUMOR_H

#include <stdbool.h>
#include <stdint.h>

#include "gossip/gossip.h"
#include "wire/wire.h"

int rumor_init(gossip_node *n);  /* no-op with rumor_fanout 0 */
void rumor_free(gossip_node *n);
/* Endpoint idx changed (our own write, or news from a rumor push): it is
 * hot; receivers need what came after from_version. */
void rumor_on_change(gossip_node *n, uint32_t idx, uint64_t from_version);
/* Fresh rumors wait to be pushed: the next tick is due now. */
bool rumor_due(const gossip_node *n);
/* Pushes the fresh rumors (eager forwarding). */
void rumor_flush(gossip_node *n);
/* The periodic push of every hot rumor (once per gossip round). */
void rumor_round(gossip_node *n);
uint32_t rumor_hot(const gossip_node *n);
void rumor_on_push(gossip_node *n, const char *from_addr, const wire_msg *m);
void rumor_on_feedback(gossip_node *n, const wire_msg *m);

#endif
