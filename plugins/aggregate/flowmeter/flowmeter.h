/* flowmeter.h: state shared by the files of aggregate.flowmeter (private to
 * the plugin; nothing here is part of the plugin ABI).
 *
 *   flowmeter.c        plugin glue: options, describe, input binding, the
 *                      per-batch packet loop, tick, drain
 *   flowmeter_table.c  flow pool, hash slots, timing wheel, expiry, eviction
 *   flowmeter_emit.c   output schema, one output row per ended flow, stats
 *   flowmeter_conn.c   connection state (Zeek's conn_state) per flow
 *
 * Memory layout (README.md has the reasoning):
 * - pool: max_flows fixed 128-byte hot records (and, in a parallel mapping,
 *   64-byte cold ones) in anonymous mappings that are never touched beyond
 *   the high-water mark, so resident memory follows the peak number of
 *   concurrent flows, not max_flows.
 * - slots: open addressing, linear probing over a power-of-two array of
 *   8-byte slots (32-bit hash tag << 32 | pool index + 1), grown by doubling
 *   at load 1/2 up to 2 * max_flows. A slot's home bucket is the top bits of
 *   its tag, so growing and deleting (backward shift) never touch a record.
 * - wheel: one doubly linked list per time bucket (32-bit indexes). A flow
 *   sits in the bucket of a time at or before its deadline and is moved only
 *   when a bucket is visited or its deadline gets earlier (FIN/RST), so
 *   packets never touch the wheel and expiry is O(flows due + flows that
 *   had traffic since they were scheduled). */
#ifndef FLOWMETER_H
#define FLOWMETER_H

#include <stdbool.h>
#include <stdint.h>
#include <flowline/decode.h>
#include <flowline/plugin.h>

#ifndef __SIZEOF_INT128__
#error "aggregate.flowmeter needs unsigned __int128 (exact sums of squares)"
#endif
typedef unsigned __int128 flowmeter_u128;

#define FLOWMETER_NIL UINT32_MAX

/* Why a record ended; the order is the tie-break when several deadlines
 * coincide (an ended connection wins over idle, idle over active). */
enum flowmeter_reason {
    FLOWMETER_FIN, FLOWMETER_RST, FLOWMETER_IDLE, FLOWMETER_ACTIVE,
    FLOWMETER_EOF, FLOWMETER_EVICTED, FLOWMETER_NREASONS
};

/* flowmeter_flow.state bits */
enum {
    FLOWMETER_LIVE = 0x01,       /* in the table (else on the free list) */
    FLOWMETER_FIN_FWD = 0x02,    /* FIN seen from the initiator */
    FLOWMETER_FIN_REV = 0x04,    /* FIN seen from the responder */
    FLOWMETER_CLOSED = 0x08,     /* FIN both ways or RST: lingering */
    FLOWMETER_CLOSED_RST = 0x10, /* ... and it was a RST */
    FLOWMETER_PKTS = 0x20,       /* the record has packets (else a stub) */
    FLOWMETER_REV = 0x40,        /* ... some of them from the responder */
};

/* flowmeter_flow.conn: the connection state behind conn_state. TCP: the
 * state of each endpoint as Zeek's TCP analyzer keeps it (bits 0-2 the
 * initiator's, 3-5 the responder's), and per endpoint whether its RESET
 * followed a CLOSED (bits 6, 7). UDP: a responder state of
 * FLOWMETER_EP_ESTABLISHED when it answered in an earlier record of the
 * flow (this record's answer is FLOWMETER_REV). Other protocols leave it 0. It
 * survives an active cut, so a continuation record reports the
 * connection's state. */
enum flowmeter_ep {
    FLOWMETER_EP_INACTIVE, FLOWMETER_EP_SYN_SENT, FLOWMETER_EP_SYN_ACK_SENT,
    FLOWMETER_EP_PARTIAL, FLOWMETER_EP_ESTABLISHED, FLOWMETER_EP_CLOSED, FLOWMETER_EP_RESET,
    FLOWMETER_EP_MIDSTREAM,  /* initiator only: the flow began without a SYN (OTH) */
};
#define FLOWMETER_CONN(o, r) ((uint8_t)((o) | (r) << 3))
#define FLOWMETER_CONN_OS(c) ((unsigned)(c) & 7u)
#define FLOWMETER_CONN_RS(c) (((unsigned)(c) >> 3) & 7u)
#define FLOWMETER_CONN_ORESET_CLOSED 0x40u   /* initiator went CLOSED -> RESET */
#define FLOWMETER_CONN_RRESET_CLOSED 0x80u   /* responder went CLOSED -> RESET */

/* One flow, in two parallel arrays indexed alike. The hot part is two cache
 * lines and holds everything a packet reads or writes: line 0 what a
 * lookup, the deadline check and the wheel's scan read, line 1 the
 * counters. Counters that could overflow 32 bits (packets, packets without
 * payload) and the 128-bit sums of squares keep their low words here and
 * carry into their high words in the cold part, which a packet touches
 * only on such a carry, on a record's first packet (its wheel time) and on
 * a FIN/RST. A flow without FLOWMETER_PKTS is a continuation stub: it
 * keeps the orientation and TCP state of a flow cut by the active timeout
 * until its next packet (or until it idles out, silently). */
struct flowmeter_flow {
    struct fl_addr a, b;         /* a: the initiator (first sender) */
    uint16_t pa, pb;             /* ports of a and b */
    uint16_t vlan;               /* of the record's first packet */
    uint8_t proto, ipv;
    uint64_t first_ts, last_ts;  /* ns; min and max packet time */
    uint8_t fwd_flags, rev_flags, state, conn;
    uint32_t nopay_lo;           /* packets without payload, low word */
    /* -- line 1 */
    uint32_t fwd_pkts_lo, rev_pkts_lo;
    uint64_t fwd_bytes, rev_bytes, pay_sum;
    uint64_t ps_sq_lo, pay_sq_lo;  /* sums of squares, low words */
    uint32_t ps_min, ps_max, pay_min, pay_max;
};
_Static_assert(sizeof(struct flowmeter_flow) == 128, "hot flow record should be 2 cache lines");

struct flowmeter_cold {
    uint64_t ps_sq_hi, pay_sq_hi;
    uint64_t close_ts;           /* time of the FIN/RST that closed it */
    uint64_t sched;              /* time of its wheel bucket (<= deadline) */
    uint32_t tag;                /* top half of the mixed hash (its slot's tag) */
    uint32_t fwd_pkts_hi, rev_pkts_hi, nopay_hi;
    uint32_t wprev, wnext;       /* wheel links; wnext = free-list link */
    /* key_tunnel: the outermost tunnel the flow's packets came out of
     * (enum fl_tunnel_kind, 0 = none) and its id. Cold, so that only
     * key_tunnel's lookups read this line. */
    uint32_t tunnel_id;
    uint8_t tunnel;              /* kind | FLOWMETER_TUNNEL_HAS_ID */
    /* sampling_scale: the sampling rate of the flow's last packet (sFlow,
     * IPFIX sampling), 24 bits big-endian, saturated; 0 = unsampled. */
    uint8_t rate[3];
};
#define FLOWMETER_TUNNEL_HAS_ID 0x80u   /* tunnel kinds are below 128 */
#define FLOWMETER_RATE_MAX 0xffffffu
_Static_assert(sizeof(struct flowmeter_cold) == 64, "cold flow record should be 1 cache line");

/* The full counters of a flow. */
static inline uint64_t flowmeter_fwd_pkts(const struct flowmeter_flow *f,
                                          const struct flowmeter_cold *c)
{
    return (uint64_t)c->fwd_pkts_hi << 32 | f->fwd_pkts_lo;
}

static inline uint64_t flowmeter_rev_pkts(const struct flowmeter_flow *f,
                                          const struct flowmeter_cold *c)
{
    return (uint64_t)c->rev_pkts_hi << 32 | f->rev_pkts_lo;
}

/* One packet as the loop hands it to the table. */
struct flowmeter_pkt {
    uint64_t ts, h;
    const struct fl_addr *src, *dst;
    uint16_t sport, dport, vlan;
    uint8_t proto, ipv, flags;
    bool reply;                  /* ICMP reply: src/dst swapped to the request's */
    uint32_t iplen, paylen;
    uint8_t tunnel;              /* key_tunnel: kind, 0 = none */
    bool tunnel_has_id;
    uint32_t tunnel_id;          /* 0 unless tunnel_has_id */
    uint32_t rate;               /* sampling_rate of the packet, 0 = none */
};

/* The packet fields read through the core's binding (flowmeter.c). */
enum flowmeter_field {
    FLOWMETER_F_TS, FLOWMETER_F_SRC, FLOWMETER_F_DST, FLOWMETER_F_SPORT, FLOWMETER_F_DPORT,
    FLOWMETER_F_PROTO, FLOWMETER_F_IPLEN, FLOWMETER_F_PAYLEN,
    FLOWMETER_F_IPV, FLOWMETER_F_FLAGS, FLOWMETER_F_VLAN, FLOWMETER_F_HASH,   /* optional */
    FLOWMETER_F_ICMP_ID,                                                      /* optional */
    FLOWMETER_F_TUNNEL, FLOWMETER_F_TUNNEL_ID,                     /* optional: key_tunnel */
    FLOWMETER_F_SAMPLING,                                  /* optional: sampling_scale */
    FLOWMETER_NFIELDS
};

struct flowmeter {
    /* options, written by the core from the table in flowmeter.c */
    uint64_t idle, active, linger, max_flows, batch_size, flush_interval;
    bool tcp_end, key_vlan, icmp_pairs, key_tunnel, sampling_scale;
    bool sampled;                /* the input has sampling_rate and sampling_scale is on */

    const struct fl_schema *out_schema;
    struct fl_bind *bind;        /* the input fields; owned by the ctx */

    /* pool */
    struct flowmeter_flow *pool;
    struct flowmeter_cold *cold; /* parallel to pool */
    size_t pool_bytes, cold_bytes;
    uint32_t pool_hw;            /* records ever touched */
    uint32_t free_head;
    uint32_t n_flows;            /* live records, stubs included */

    /* slots */
    uint64_t *slot;
    uint32_t bits, max_bits, used;

    /* timing wheel */
    uint32_t *wheel;             /* bucket heads */
    uint32_t wheel_mask;
    uint64_t wheel_w;            /* bucket width, ns */
    uint64_t wheel_now;          /* everything before this time was visited */
    uint64_t evict_floor;        /* buckets [wheel_now / w, this) are empty */
    bool started;
    uint64_t clock;              /* max of packet times and ticks seen */

    /* output */
    struct fl_batch *out;
    uint64_t out_since;          /* clock when out got its first row */
    uint64_t n_end[FLOWMETER_NREASONS];  /* records per reason, not yet counted */
    uint64_t n_evicted;          /* flows removed under pressure, not yet counted */
    uint64_t n_evict_scanned;    /* wheel buckets eviction walked, not yet counted */

    /* TCP connection state after one packet, by flowmeter_conn_idx(): the
     * state machine of flowmeter_conn.c tabulated at init, so a packet
     * costs one load instead of its branches. */
    uint8_t conn_next[1u << 14];
};

/* The earliest time the flow ends by itself, and why. A stub has no active
 * deadline. Used by the packet path (due if <= packet time) and by the wheel
 * (due if <= tick time), so both cut at the same instants. */
static inline uint64_t flowmeter_deadline(const struct flowmeter *fm, uint32_t idx,
                                          enum flowmeter_reason *why)
{
    const struct flowmeter_flow *f = &fm->pool[idx];
    uint64_t d = f->last_ts + fm->idle;
    enum flowmeter_reason r = FLOWMETER_IDLE;
    if (f->state & FLOWMETER_CLOSED) {
        uint64_t c = fm->cold[idx].close_ts + fm->linger;
        if (c <= d) {
            d = c;
            r = (f->state & FLOWMETER_CLOSED_RST) ? FLOWMETER_RST : FLOWMETER_FIN;
        }
    }
    if (f->state & FLOWMETER_PKTS) {
        uint64_t a = f->first_ts + fm->active;
        if (a < d) {
            d = a;
            r = FLOWMETER_ACTIVE;
        }
    }
    *why = r;
    return d;
}

/* Two addresses as two 64-bit words each: GCC turns memcmp(.., 16) == 0
 * into a call to memcmp in some inlined copies, and this is per packet. */
static inline bool flowmeter_addr_eq(const struct fl_addr *x, const struct fl_addr *y)
{
    uint64_t a[2], b[2];
    memcpy(a, x, 16);
    memcpy(b, y, 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
}

/* Which way a packet between these ends goes in flow f: 1 forward (from
 * the initiator), 2 reverse, 0 not f's ends. */
static inline int flowmeter_match_ends(const struct flowmeter_flow *f, const struct fl_addr *src,
                                       const struct fl_addr *dst, uint16_t sport, uint16_t dport)
{
    if (f->pa == sport && f->pb == dport && flowmeter_addr_eq(&f->a, src)
        && flowmeter_addr_eq(&f->b, dst))
        return 1;
    if (f->pa == dport && f->pb == sport && flowmeter_addr_eq(&f->a, dst)
        && flowmeter_addr_eq(&f->b, src))
        return 2;
    return 0;
}

/* Which way a packet goes in a flow: 1 forward (from the initiator),
 * 2 reverse, 0 not this flow's key. */
static inline int flowmeter_match(const struct flowmeter *fm, const struct flowmeter_flow *f,
                                  const struct flowmeter_pkt *p)
{
    if (f->proto != p->proto || (fm->key_vlan && f->vlan != p->vlan))
        return 0;
    if (__builtin_expect(fm->key_tunnel, 0)) {
        const struct flowmeter_cold *c = &fm->cold[f - fm->pool];
        if (c->tunnel != (p->tunnel | (p->tunnel_has_id ? FLOWMETER_TUNNEL_HAS_ID : 0)) ||
            c->tunnel_id != p->tunnel_id)
            return 0;
    }
    return flowmeter_match_ends(f, p->src, p->dst, p->sport, p->dport);
}

/* Pool index of the first slot whose tag matches h, or FLOWMETER_NIL: a
 * prefetch hint only, never trusted without flowmeter_match(). Slots hold
 * tag << 32 | index + 1; a slot's home is the top bits of its tag. */
static inline uint32_t flowmeter_hint(const struct flowmeter *fm, uint64_t h)
{
    uint32_t mask = (1u << fm->bits) - 1, tag = (uint32_t)(h >> 32);
    for (uint32_t i = tag >> (32 - fm->bits);; i = (i + 1) & mask) {
        uint64_t s = fm->slot[i];
        if (!s)
            return FLOWMETER_NIL;
        if ((uint32_t)(s >> 32) == tag)
            return (uint32_t)s - 1;
    }
}

/* ---- flowmeter_table.c ----------------------------------------------- */
int flowmeter_table_init(struct flowmeter *fm);
void flowmeter_table_fini(struct flowmeter *fm);
/* Forget every flow (after drain). */
void flowmeter_table_reset(struct flowmeter *fm);
/* Start the wheel's clock at the first time seen. */
void flowmeter_table_start(struct flowmeter *fm, uint64_t t);
/* The live flow of p's key and its direction (1/2), or FLOWMETER_NIL. */
uint32_t flowmeter_lookup(const struct flowmeter *fm, const struct flowmeter_pkt *p, int *dir);
/* A new empty flow for p's key with p's sender as initiator (its receiver
 * if flip); makes room first (expiring due flows, then evicting) when
 * max_flows are live. */
int flowmeter_insert(struct flowmeter *fm, struct fl_ctx *ctx, const struct flowmeter_pkt *p,
                     bool flip, uint32_t *idx);
/* End the record of flow idx for `why`: emit it (if it has packets), then
 * keep a continuation stub (FLOWMETER_ACTIVE) or free the flow. */
int flowmeter_expire(struct flowmeter *fm, struct fl_ctx *ctx, uint32_t idx,
                     enum flowmeter_reason why);
/* Put flow idx in the wheel bucket of time t (clamped to the visited time). */
void flowmeter_wheel_move(struct flowmeter *fm, uint32_t idx, uint64_t t);
/* Expire every flow whose deadline is <= now and advance the wheel. */
int flowmeter_expire_due(struct flowmeter *fm, struct fl_ctx *ctx, uint64_t now);
/* Every live flow, in pool order: emit what holds packets ("eof", or
 * "fin"/"rst" if the connection had closed), then forget them all. */
int flowmeter_expire_all(struct flowmeter *fm, struct fl_ctx *ctx);

/* ---- flowmeter_conn.c ------------------------------------------------ */
/* Advance the TCP endpoint states of conn by one packet (flags, payload
 * length, from the initiator if dir == 1). */
void flowmeter_conn_tcp(uint8_t *conn, uint8_t flags, uint32_t paylen, int dir);
/* Fill fm->conn_next from flowmeter_conn_tcp. */
void flowmeter_conn_init(struct flowmeter *fm);
/* Zeek's conn_state code of a flow (its record ending now). */
const char *flowmeter_conn_state(const struct flowmeter_flow *f);

/* What the TCP state machine reads of a packet, as a conn_next index:
 * the state byte, the direction, SYN FIN RST ACK, and whether it has no
 * payload. */
static inline unsigned flowmeter_conn_idx(uint8_t conn, uint8_t flags, uint32_t paylen, int dir)
{
    return (unsigned)conn << 6 | (unsigned)(dir != 1) << 5
           | ((flags & 7u) | (flags & 0x10u) >> 1) << 1 | (paylen == 0);
}

/* Per TCP packet: the table, unless nothing can change (both sides
 * established and no SYN, FIN or RST: most packets). UDP needs nothing per
 * packet: whether the responder answered is FLOWMETER_REV, carried over an
 * active cut by flowmeter_conn_cut(). */
static inline void flowmeter_conn_update(const struct flowmeter *fm, struct flowmeter_flow *f,
                                         uint8_t flags, uint32_t paylen, int dir)
{
    if (f->conn != FLOWMETER_CONN(FLOWMETER_EP_ESTABLISHED, FLOWMETER_EP_ESTABLISHED)
        || (flags & 7u))
        f->conn = fm->conn_next[flowmeter_conn_idx(f->conn, flags, paylen, dir)];
}

/* Before an active cut resets the counters: remember that a UDP
 * responder answered. */
static inline void flowmeter_conn_cut(struct flowmeter_flow *f)
{
    if (f->proto == 17 && (f->state & FLOWMETER_REV))
        f->conn = FLOWMETER_CONN(0, FLOWMETER_EP_ESTABLISHED);
}

/* ---- flowmeter_emit.c ------------------------------------------------ */
/* The output schema; key_tunnel adds tunnel and tunnel_id at the end. */
int flowmeter_out_schema(struct fl_ctx *ctx, const struct flowmeter *fm,
                         const struct fl_schema **out);
/* Append the record of flow f ending for `why`; emits the batch when full. */
int flowmeter_emit_row(struct flowmeter *fm, struct fl_ctx *ctx, uint32_t idx,
                       enum flowmeter_reason why);
/* Emit the partial output batch, if any. */
int flowmeter_flush(struct flowmeter *fm, struct fl_ctx *ctx);
/* Add the pending per-reason and eviction counts to the stage counters. */
void flowmeter_count(struct flowmeter *fm, struct fl_ctx *ctx);
const char *flowmeter_reason_name(enum flowmeter_reason r);
/* Population standard deviation of n values from their exact sum and sum
 * of squares. */
double flowmeter_std(uint64_t n, uint64_t sum, flowmeter_u128 sumsq);

#endif
