/* monitor.c -- phi accrual over a bounded set of monitored peers: the
 * members that answered our probes, up to cfg.monitored_peers, each with
 * an exponential-model detector fed by every datagram they send us.  Used
 * as a second opinion before suspicion and exposed per member. */
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/members.h"
#include "core/node.h"

static monitor *monitor_of(const gossip_node *n, uint32_t idx)
{
    for (uint32_t i = 0; n->ms.mon && i < n->cfg.monitored_peers; i++)
        if (n->ms.mon[i].used && n->ms.mon[i].idx == idx)
            return &n->ms.mon[i];
    return NULL;
}

void monitor_on_datagram(gossip_node *n, wire_str from, uint64_t now_ms)
{
    if (!n->ms.mon)
        return;
    uint64_t h = gossip_hash_bytes(from.ptr, from.len, 0);
    for (uint32_t i = 0; i < n->cfg.monitored_peers; i++)
        if (n->ms.mon[i].used && n->ms.mon[i].name_hash == h)
            phi_heartbeat(&n->ms.mon[i].det, now_ms);
}

/* Monitors `idx` (a member that just answered a probe) if a slot is free;
 * slots of members no longer live are free. */
void monitor_adopt(gossip_node *n, uint32_t idx, uint64_t now_ms)
{
    if (n->cfg.monitored_peers == 0 || monitor_of(n, idx))
        return;
    if (!n->ms.mon) {
        n->ms.mon = ga_malloc(n->alloc, n->cfg.monitored_peers * sizeof *n->ms.mon);
        if (!n->ms.mon)
            return;
        memset(n->ms.mon, 0, n->cfg.monitored_peers * sizeof *n->ms.mon);
    }
    for (uint32_t i = 0; i < n->cfg.monitored_peers; i++) {
        monitor *m = &n->ms.mon[i];
        if (m->used && m->idx < n->tbl.n && members_is_live(n, m->idx))
            continue;
        const endpoint *ep = table_ep(&n->tbl, idx);
        phi_params p;
        phi_params_default(&p, PHI_MODEL_EXPONENTIAL); /* arrivals are irregular */
        p.window = MONITOR_WINDOW;
        p.threshold = n->cfg.phi_threshold_x100 / 100.0;
        p.first_interval_ms = n->cfg.probe_interval_ms ? n->cfg.probe_interval_ms : 1000;
        p.max_interval_ms = 0;
        if (phi_init(&m->det, &p, m->ring, MONITOR_WINDOW))
            return;
        m->used = true;
        m->idx = idx;
        m->name_hash = gossip_hash_bytes(ep_name(ep), ep->name_len, 0);
        phi_heartbeat(&m->det, now_ms);
        return;
    }
}

double monitor_phi(const gossip_node *n, uint32_t idx, uint64_t now_ms)
{
    const monitor *m = monitor_of(n, idx);
    return m ? phi_value(&m->det, now_ms) : -1.0;
}

bool monitor_vouches(const gossip_node *n, uint32_t idx, uint64_t now_ms)
{
    const monitor *m = monitor_of(n, idx);
    if (!m || !m->det.started || now_ms - m->det.last_ms > n->cfg.probe_interval_ms)
        return false;
    return phi_is_available(&m->det, now_ms);
}
