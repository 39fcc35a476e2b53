/* fuzz_wire.c -- libFuzzer harness of the datagram decoder: any input must
 * decode or be rejected with an error, never read out of bounds; whatever
 * decodes must encode back and decode to the same counts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wire_msg *m, *again;
    static uint8_t out[GOSSIP_MAX_MTU];
    if (!m) {
        m = malloc(wire_msg_size(GOSSIP_MAX_MTU));
        again = malloc(wire_msg_size(GOSSIP_MAX_MTU));
        wire_msg_init(m, GOSSIP_MAX_MTU);
        wire_msg_init(again, GOSSIP_MAX_MTU);
    }
    /* an exact-size copy, so any overread is caught by ASan */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    const wire_limits lim = {GOSSIP_MAX_MTU, 4096, 64};
    if (wire_decode(copy, size, &lim, m) == 0) {
        size_t len;
        if (wire_encode(m, out, sizeof out, &len) == 0) {
            if (wire_decode(out, len, &lim, again) != 0 || again->n_digests != m->n_digests ||
                again->n_deltas != m->n_deltas || again->n_kvs != m->n_kvs)
                abort();
        }
    }
    free(copy);
    return 0;
}
