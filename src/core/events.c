/* events.c -- user events (what Serf calls "user events"): a name and a
 * payload fired by one member and delivered once to every member.
 *
 * An event rides on the state machinery instead of a channel of its own.
 * Each member keeps `event_buffer` slot keys, "_ev.0" .. "_ev.<B-1>", in its
 * own application state; event number t (its Lamport time) overwrites slot
 * t mod B.  Rumor mongering spreads it at once, anti-entropy repairs what the
 * rumor missed, and a member that was away catches up as long as fewer than
 * B newer events of that origin overwrote the slot: the buffer window.
 * Delivery is once per node because the engine reports a key's version at
 * most once, and `event_ltime_floor` (persisted by the agent) keeps a
 * restarted node from delivering again what it saw before.  The Lamport
 * clock orders events across members: a node's clock is at least every
 * time it has seen, and its next event gets clock + 1.
 *
 * Value layout: the u64 Lamport time, big-endian; a u8 holding the name length
 * (1..GOSSIP_MAX_EVENT_NAME, below 0x80) and, in its top bit, the
 * no-coalesce flag (clear in the default event: the layout older members
 * read); the name; the payload. */
#include <stdio.h>
#include <string.h>

#include "core/events.h"
#include "core/node.h"

#define EV_HEADER 9
#define EV_NO_COALESCE 0x80 /* in the name-length byte */
#define EV_NAME_MASK 0x7f
_Static_assert(GOSSIP_MAX_EVENT_NAME <= EV_NAME_MASK, "the name length shares its byte");

bool events_is_key(const char *key, size_t len)
{
    size_t p = sizeof GOSSIP_EVENT_KEY_PREFIX - 1;
    return len >= p && memcmp(key, GOSSIP_EVENT_KEY_PREFIX, p) == 0;
}

static void see(gossip_node *n, uint64_t ltime)
{
    if (ltime > n->event_clock)
        n->event_clock = ltime;
}

int events_fire(gossip_node *n, const char *name, const uint8_t *payload, size_t len,
                uint32_t flags, uint64_t *ltime_out, int (*put)(gossip_node *, const char *, const uint8_t *,
                                                size_t))
{
    size_t name_len = name ? strnlen(name, GOSSIP_MAX_EVENT_NAME + 1) : 0;
    if (n->cfg.event_buffer == 0 || name_len == 0 || name_len > GOSSIP_MAX_EVENT_NAME ||
        (len && !payload) || (flags & ~GOSSIP_EVENT_NO_COALESCE))
        return GOSSIP_ERR_INVALID;
    /* The whole slot value must fit max_value_size as well. */
    if (len > n->cfg.max_event_size || EV_HEADER + name_len + len > n->cfg.max_value_size)
        return GOSSIP_ERR_OVERSIZE;
    uint8_t value[EV_HEADER + GOSSIP_MAX_EVENT_NAME + GOSSIP_MAX_MTU];
    uint64_t ltime = n->event_clock + 1;
    for (int i = 0; i < 8; i++)
        value[i] = (uint8_t)(ltime >> (56 - 8 * i));
    value[8] = (uint8_t)(name_len | (flags & GOSSIP_EVENT_NO_COALESCE ? EV_NO_COALESCE : 0));
    memcpy(value + EV_HEADER, name, name_len);
    if (len)
        memcpy(value + EV_HEADER + name_len, payload, len);
    char key[GOSSIP_MAX_KEY + 1];
    snprintf(key, sizeof key, GOSSIP_EVENT_KEY_PREFIX "%u",
             (unsigned)(ltime % n->cfg.event_buffer));
    int rc = put(n, key, value, EV_HEADER + name_len + len);
    if (rc)
        return rc;
    see(n, ltime);
    n->stats.events_fired++;
    if (ltime_out)
        *ltime_out = ltime;
    /* Delivered here too, as on every other member. */
    if (n->cb.on_change) {
        const endpoint *self = table_ep(&n->tbl, n->self);
        gossip_change c = {GOSSIP_CHANGE_EVENT, ep_name(self), self->generation, name,
                           payload, len, ltime, self->incarnation, flags};
        n->cb.on_change(n->ud, &c);
    }
    return 0;
}

void events_on_value(gossip_node *n, const endpoint *ep, const gossip_kv *kv)
{
    const uint8_t *v = kv_value(kv);
    size_t len = kv->value_len;
    size_t name_len = len >= EV_HEADER ? v[8] & EV_NAME_MASK : 0;
    if (kv->deleted || len < EV_HEADER || len - EV_HEADER < name_len || name_len == 0 ||
        name_len > GOSSIP_MAX_EVENT_NAME) {
        n->stats.events_malformed += !kv->deleted;
        return;
    }
    uint64_t ltime = 0;
    for (int i = 0; i < 8; i++)
        ltime = ltime << 8 | v[i];
    see(n, ltime);
    if (ltime <= n->cfg.event_ltime_floor)
        return; /* seen before our restart */
    char name[GOSSIP_MAX_EVENT_NAME + 1];
    memcpy(name, v + EV_HEADER, name_len);
    name[name_len] = 0;
    n->stats.events_delivered++;
    if (!n->cb.on_change)
        return;
    gossip_change c = {GOSSIP_CHANGE_EVENT, ep_name(ep), ep->generation, name,
                       v + EV_HEADER + name_len, len - EV_HEADER - name_len, ltime,
                       ep->incarnation, v[8] & EV_NO_COALESCE ? GOSSIP_EVENT_NO_COALESCE : 0};
    n->cb.on_change(n->ud, &c);
}
