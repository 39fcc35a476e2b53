/* mp_read.h -- the bounds-checked MessagePack reader every decoder of ours
 * uses (src/wire/wire.c, src/core/blob_wire.c).
 *
 * msgpuck's mp_decode_* functions trust their input: they read as many
 * bytes as a header claims.  So every header is checked here against the
 * bytes left before msgpuck decodes it, counts are checked against what is
 * left (every element takes at least a byte), and skipping is iterative.
 * The functions are static inline: each decoder gets its own copy and the
 * library exports no reader symbols. */
#ifndef GOSSIP_WIRE_MP_READ_H
#define GOSSIP_WIRE_MP_READ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpuck.h>

#include "gossip/gossip.h"

typedef struct reader {
    const char *p;
    const char *end;
} reader;

static inline size_t rd_left(const reader *r) { return (size_t)(r->end - r->p); }

static inline enum mp_type rd_peek(const reader *r) { return mp_typeof(*r->p); }

/* Size of the MessagePack header that starts with marker `c`, counting the
 * marker (fixint/fixstr/fixmap/fixarray: 1). */
static inline size_t header_size(uint8_t c)
{
    switch (c) {
    case 0xcc: case 0xd0: case 0xd9: case 0xc4: return 2;
    case 0xcd: case 0xd1: case 0xda: case 0xc5: case 0xdc: case 0xde: return 3;
    case 0xce: case 0xd2: case 0xdb: case 0xc6: case 0xdd: case 0xdf:
    case 0xca: return 5;
    case 0xcf: case 0xd3: case 0xcb: return 9;
    case 0xd4: return 3; case 0xd5: return 4; case 0xd6: return 6;
    case 0xd7: return 10; case 0xd8: return 18;
    case 0xc7: return 3; case 0xc8: return 4; case 0xc9: return 6;
    default: return 1;
    }
}

static inline int rd_need_header(const reader *r)
{
    if (rd_left(r) < 1)
        return GOSSIP_ERR_TRUNCATED;
    if ((uint8_t)*r->p == 0xc1)
        return GOSSIP_ERR_MALFORMED;
    if (rd_left(r) < header_size((uint8_t)*r->p))
        return GOSSIP_ERR_TRUNCATED;
    return 0;
}

static inline int rd_uint(reader *r, uint64_t *v)
{
    int rc = rd_need_header(r);
    if (rc)
        return rc;
    if (rd_peek(r) != MP_UINT)
        return GOSSIP_ERR_BAD_TYPE;
    *v = mp_decode_uint(&r->p);
    return 0;
}

static inline int rd_bin(reader *r, const uint8_t **data, uint32_t *len, uint64_t max_len)
{
    int rc = rd_need_header(r);
    if (rc)
        return rc;
    if (rd_peek(r) != MP_BIN)
        return GOSSIP_ERR_BAD_TYPE;
    uint32_t n = mp_decode_binl(&r->p);
    if (n > rd_left(r))
        return GOSSIP_ERR_TRUNCATED;
    if (n > max_len)
        return GOSSIP_ERR_OVERSIZE;
    *data = (const uint8_t *)r->p;
    *len = n;
    r->p += n;
    return 0;
}

/* Opens an array or map; every element takes at least one byte, so a count
 * larger than what is left is truncation, whatever the limit. */
static inline int rd_container(reader *r, enum mp_type type, uint32_t *count, uint32_t max)
{
    int rc = rd_need_header(r);
    if (rc)
        return rc;
    if (rd_peek(r) != type)
        return GOSSIP_ERR_BAD_TYPE;
    uint32_t n = type == MP_ARRAY ? mp_decode_array(&r->p) : mp_decode_map(&r->p);
    uint64_t min_bytes = type == MP_MAP ? 2ull * n : n;
    if (min_bytes > rd_left(r))
        return GOSSIP_ERR_TRUNCATED;
    if (n > max)
        return GOSSIP_ERR_TOO_MANY;
    *count = n;
    return 0;
}

/* Skips one value of any type, iteratively: `pending` counts values still to
 * skip and never exceeds the bytes left, so it cannot overflow. */
static inline int rd_skip(reader *r)
{
    uint64_t pending = 1;
    while (pending > 0) {
        int rc = rd_need_header(r);
        if (rc)
            return rc;
        pending--;
        uint8_t c = (uint8_t)*r->p;
        switch (mp_typeof(c)) {
        case MP_ARRAY: case MP_MAP: {
            uint32_t n;
            rc = rd_container(r, mp_typeof(c), &n, UINT32_MAX);
            if (rc)
                return rc;
            pending += mp_typeof(c) == MP_MAP ? 2ull * n : n;
            if (pending > rd_left(r))
                return GOSSIP_ERR_TRUNCATED;
            break;
        }
        case MP_STR: case MP_BIN: {
            uint32_t n = mp_typeof(c) == MP_STR ? mp_decode_strl(&r->p) : mp_decode_binl(&r->p);
            if (n > rd_left(r))
                return GOSSIP_ERR_TRUNCATED;
            r->p += n;
            break;
        }
        case MP_EXT: {
            size_t h = header_size(c);
            uint32_t n;
            if (c >= 0xd4 && c <= 0xd8) {
                n = 0; /* fixext: header_size includes the payload */
            } else {
                uint8_t b1 = (uint8_t)r->p[1];
                n = c == 0xc7 ? b1
                    : c == 0xc8 ? (uint32_t)b1 << 8 | (uint8_t)r->p[2]
                                : (uint32_t)b1 << 24 | (uint32_t)(uint8_t)r->p[2] << 16 |
                                      (uint32_t)(uint8_t)r->p[3] << 8 | (uint8_t)r->p[4];
            }
            r->p += h;
            if (n > rd_left(r))
                return GOSSIP_ERR_TRUNCATED;
            r->p += n;
            break;
        }
        default:
            r->p += header_size(c);
            break;
        }
    }
    return 0;
}

#endif
