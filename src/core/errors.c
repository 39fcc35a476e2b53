#include "gossip/gossip.h"

const char *gossip_strerror(int err)
{
    switch (err) {
    case GOSSIP_OK: return "ok";
    case GOSSIP_ERR_NOMEM: return "out of memory";
    case GOSSIP_ERR_INVALID: return "invalid argument";
    case GOSSIP_ERR_TRUNCATED: return "truncated input";
    case GOSSIP_ERR_BAD_MAGIC: return "not a gossip datagram (bad magic)";
    case GOSSIP_ERR_BAD_VERSION: return "unsupported protocol version";
    case GOSSIP_ERR_BAD_TYPE: return "unknown message type or wrong field type";
    case GOSSIP_ERR_OVERSIZE: return "field or datagram exceeds its size limit";
    case GOSSIP_ERR_MALFORMED: return "malformed message";
    case GOSSIP_ERR_TOO_MANY: return "too many items";
    case GOSSIP_ERR_NOT_FOUND: return "not found";
    case GOSSIP_ERR_FULL: return "table full";
    case GOSSIP_ERR_NO_SPACE: return "no space in output buffer";
    default: return "unknown error";
    }
}
