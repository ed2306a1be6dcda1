/* hoststats.h: aggregate.hoststats, per-host statistics over several
 * windows at once (README.md, DESIGN.md §6, seeds 002 and 004). Shared
 * between the plugin (hoststats.c: options, binding, the record loop) and
 * the per-window host tables (hoststats_table.c). */
#ifndef HOSTSTATS_H
#define HOSTSTATS_H

#include <stdbool.h>
#include <stdint.h>
#include <flowline/plugin.h>
#include <flowline/window.h>
#include "fl_sketch.h"

#define HS_NFLAGS 8
#define HS_SEEN_BITS 16
#define HS_MAX_SPECS 16   /* as the window service */   /* FIN SYN RST PSH ACK URG ECE CWR: bit i of tcp_flags */

/* One host in one window: 208 bytes (README "Memory"). */
struct hs_host {
    struct fl_addr addr;
    uint64_t src_flows, src_packets, src_bytes;
    uint64_t dst_flows, dst_packets, dst_bytes;
    uint64_t dur_sum, dur_n;   /* ns over the flow records with a duration */
    uint64_t flags[HS_NFLAGS]; /* records in which the host sent the flag */
    struct fl_distinct peers, src_ports, dst_ports;
    uint64_t gen;              /* unique per (window, host) entry: see seen */
    uint64_t ref;              /* clock bit for eviction */
};

/* The table of one open window (w->state). */
struct hs_win {
    uint64_t *slot;            /* tag << 32 | index + 1; 0 = empty */
    uint32_t bits;             /* log2 of the slot count */
    uint32_t n, cap;           /* hosts used, allocated */
    uint32_t hand;             /* eviction clock hand */
    struct hs_host *h;
    /* Pane mode, spec 0 only: the window of each longer spec this one
     * lies in, where its hosts go when it closes or evicts. */
    struct fl_window *target[HS_MAX_SPECS];
    bool targets_set;
};

struct hs_cidr {
    struct fl_addr net;
    uint32_t plen;             /* 0..128 over the 16-byte (IPv4-mapped) form */
};

/* What one record contributes: "fwd" is sent by src, "rev" by dst. */
struct hs_rec {
    const struct fl_addr *src, *dst;
    uint64_t hsrc, hdst;         /* address hashes */
    uint64_t hsport, hdport;     /* port hashes */
    uint64_t hports, hports_rev; /* both ports as sent by src / by dst */
    uint64_t fwd_packets, fwd_bytes, rev_packets, rev_bytes;
    uint64_t dur;
    uint8_t fwd_flags, rev_flags;
    uint32_t flag_weight;        /* records each flag stands for (sampling) */
    bool flow, has_dur, ports, src_host, dst_host;
};

struct hoststats {
    /* options */
    struct fl_window_conf win;
    struct fl_strlist hosts;
    uint64_t max_hosts, exact_max, precision, batch_size;
    /* runtime */
    struct fl_ctx *ctx;
    /* The windows sorted by length (spec 0 the shortest) as the service
     * sees them. Pane mode: all tumbling and the shortest divides every
     * other length, so a record updates only its shortest window and each
     * closing shortest window merges its hosts into the longer windows
     * holding it (README "How it is fast"). */
    struct fl_window_conf sorted;
    char *sorted_v[HS_MAX_SPECS];
    bool panes;
    uint32_t nspec;
    struct hs_cidr *cidr;
    size_t n_cidr;
    struct fl_distinct_conf dc;
    struct fl_bind *bind;
    const struct fl_schema *out_schema;
    struct fl_windows *ws;
    struct fl_window **wins;
    uint64_t *times;
    uint64_t *hash;            /* per row: src address hash, dst address hash */
    uint32_t wins_cap;
    struct fl_batch *out;
    /* Which (entry, peer, ports) were added to the distinct counters
     * lately: the packets of one connection repeat them, and an add that
     * changes nothing still costs cache misses in the sets. Direct
     * mapped, keyed by a hash of the entry's gen and the values, so a
     * stale or colliding slot only costs a redundant add. */
    uint64_t *seen;
    uint64_t gen;
    uint64_t n_evicted, n_nomem;
    int err;                    /* first error inside a window callback */
};

static inline size_t hs_home(uint32_t tag, uint32_t bits)
{
    return tag >> (32 - bits);
}

/* Ahead of a record: its host's slot line, then (once that is in) its
 * entry's lines, so the update finds them in cache. Hints only. */
static inline void hs_prefetch_slot(const struct fl_window *w, uint64_t h)
{
    const struct hs_win *t = w->state;
    __builtin_prefetch(&t->slot[hs_home((uint32_t)(h >> 32), t->bits)]);
}

static inline void hs_prefetch_entry(const struct fl_window *w, uint64_t h)
{
    const struct hs_win *t = w->state;
    uint64_t v = t->slot[hs_home((uint32_t)(h >> 32), t->bits)];
    if (v && (uint32_t)(v >> 32) == (uint32_t)(h >> 32) && (uint32_t)v <= t->n) {
        const char *e = (const char *)&t->h[(uint32_t)v - 1];
        __builtin_prefetch(e, 1);
        __builtin_prefetch(e + 64, 1);
        __builtin_prefetch(e + 128, 1);
    }
}

/* hoststats_table.c */
extern const struct fl_window_ops hs_window_ops;
int hs_apply(struct hoststats *st, struct fl_window *w, const struct hs_rec *r);
void hs_set_targets(struct hoststats *st, struct fl_window *pane, struct fl_window *const *wins,
                    uint32_t rows, uint32_t r);
int hs_flush(struct hoststats *st);
void hs_count(struct hoststats *st);
int hs_out_schema(struct fl_ctx *ctx, const struct fl_schema **out);

#endif
