/* recon_internal.h -- the session's state, shared by recon.c (life cycle
 * and dispatch), recon_merkle.c (tree descent) and recon_iblt.c (symbols). */
#ifndef GOSSIP_CORE_RECON_INTERNAL_H
#define GOSSIP_CORE_RECON_INTERNAL_H

#include "core/recon.h"
#include "core/recon_wire.h"

#define EXPECT(type) (1u << (type))

struct recon_session {
    const gossip_allocator *alloc;
    recon_config cfg;
    recon_limits lim;
    recon_store store;
    bool initiator;
    bool started;
    unsigned expect; /* message types accepted next; 0 once done */
    recon_stats stats;
    recon_buf out;   /* the message being sent */

    /* An EXCHANGE under construction: one buffer per section. */
    recon_buf sec[RECON_SEC_COUNT];
    uint64_t sec_n[RECON_SEC_COUNT];
    unsigned level_depth;

    /* IBLT */
    uint64_t symbols_sent;  /* responder */
    uint64_t symbols_asked; /* initiator: end of the range asked for */
    iblt_decoder dec;       /* initiator */

    /* scratch */
    merkle_rec *mine, *theirs;
    size_t mine_n, mine_cap, theirs_n, theirs_cap;
    uint64_t *level_h, *level_c;
    iblt_sym *syms;
    size_t syms_cap;
};

/* recon_merkle.c */
void recon_sections_reset(recon_session *s);
/* Writes the EXCHANGE in s->sec into s->out; *requests: it asks for a reply. */
int recon_sections_emit(recon_session *s, bool *requests);
/* Adds our LEVEL section at `depth` to the sections. */
int recon_merkle_level(recon_session *s, unsigned depth);
unsigned recon_merkle_first_level(double estimate, uint64_t count);
/* Answers the requests of an EXCHANGE into s->sec (entries are applied by
 * the caller afterwards). */
int recon_merkle_answer(recon_session *s, const recon_msg *m);
/* Adds our entry (khash, v) to the ENTRIES section. */
int recon_add_entry(recon_session *s, uint64_t khash, recon_version v);
uint64_t recon_predict_merkle(const recon_session *s, double estimate, uint64_t count);

/* recon_iblt.c */
/* Writes SYMBOLS [from, to) of our set into s->out. */
int recon_iblt_send(recon_session *s, uint64_t from, uint64_t to);
/* Initiator: takes a SYMBOLS message and writes the next message into
 * s->out (MORE, the final EXCHANGE, or a Merkle LEVEL on fallback). */
int recon_iblt_receive(recon_session *s, const recon_msg *m, bool *requests);
uint64_t recon_iblt_first_batch(const recon_session *s, double estimate);
uint64_t recon_predict_iblt(const recon_session *s, double estimate);

#endif
