/* fuzz_node.c -- libFuzzer harness of a whole node: hostile datagrams go
 * through gossip_node_recv (decoder, delta application, answers) of a node
 * that already knows a few members.  Nothing may crash, leak or break the
 * table's own invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sent_bytes;

static void count_send(void *ud, const char *addr, const uint8_t *buf, size_t len)
{
    (void)ud, (void)addr, (void)buf;
    if (len > 1400)
        abort(); /* an answer must stay within the MTU */
    sent_bytes += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = "target";
    cfg.addr = "10.0.0.1:7946";
    cfg.max_members = 64;
    cfg.seed = 1;
    const gossip_callbacks cb = {GOSSIP_CALLBACKS_VERSION, count_send, NULL, NULL};
    gossip_node *n;
    if (gossip_node_new(&n, &cfg, &cb, NULL) != 0)
        abort();
    gossip_node_set_state(n, "schema", (const uint8_t *)"v1", 2);
    gossip_node_tick(n, 0);
    /* the input may hold several datagrams separated by a length byte */
    size_t off = 0;
    while (off < size) {
        size_t len = data[off++];
        if (len == 0 || len > size - off)
            len = size - off;
        uint8_t *dg = malloc(len);
        memcpy(dg, data + off, len);
        gossip_node_recv(n, "10.0.0.2:7946", dg, len, 1);
        free(dg);
        off += len;
    }
    if (gossip_node_member_count(n) > 64)
        abort();
    gossip_node_tick(n, 2000);
    gossip_node_free(n);
    return 0;
}
