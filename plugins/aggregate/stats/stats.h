/* stats.h: aggregate.stats, traffic statistics per time window (seed 002,
 * DESIGN.md §6): totals, per protocol, per application class, and top-N
 * ports, hosts and conversations. Shared declarations of its files:
 * stats.c (the plugin: options, binding, the per-record loop),
 * stats_class.c (the classes: option and the port -> class table),
 * stats_topk.c (Space-Saving heavy hitters), stats_emit.c (the rows of a
 * closed window, one schema per output port). */
#ifndef FL_STATS_H
#define FL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <flowline/plugin.h>
#include <flowline/window.h>

/* The three quantities everything here counts, in this order. */
enum { STATS_FLOWS = 0, STATS_PACKETS = 1, STATS_BYTES = 2, STATS_NQ = 3 };

/* ---- classes (stats_class.c) ---------------------------------------- */
/* Protocols that have ports, in table order; -1 for the others. */
#define STATS_PORT_PROTOS 5
int stats_proto_index(uint8_t proto);

#define STATS_MAX_CLASSES 254
struct stats_classes {
    size_t n;                        /* configured classes; index n = "other" */
    const char *const *name;         /* the option's keys (owned by the core) */
    uint8_t *any;                    /* 65536: class + 1 for a port of any protocol, 0 none */
    uint8_t *proto[STATS_PORT_PROTOS]; /* 65536 each or NULL: protocol-specific, first */
};

/* Parse the classes: map into c; diagnostics at the option. 0 or -FL_E*. */
int stats_classes_parse(struct fl_ctx *ctx, const struct fl_strmap *m, struct stats_classes *c);
void stats_classes_free(struct stats_classes *c);

/* Class of (protocol index, port): 0 = none, else class + 1. */
static inline unsigned stats_class_of(const struct stats_classes *c, int pi, uint16_t port)
{
    unsigned k = c->proto[pi] ? c->proto[pi][port] : 0;
    return k ? k : c->any[port];
}

/* ---- heavy hitters (stats_topk.c) ------------------------------------ */
#define STATS_KEY_MAX 32

struct stats_hh {
    uint64_t v[STATS_NQ];            /* flows, packets, bytes */
    uint64_t err;                    /* v[by] overestimates by at most this */
    uint64_t hash;
    uint8_t key[STATS_KEY_MAX];
};

/* A heap slot carries the count it is ordered by, so sifting reads the
 * heap array only, not the entries it points to. */
struct stats_heap {
    uint64_t v;
    uint32_t idx;
};

struct stats_topk {
    uint32_t key_len;
    uint32_t by;                     /* STATS_FLOWS, _PACKETS or _BYTES: the ranking */
    uint64_t cap;                    /* entries at most; 0 = exact (unbounded) */
    uint32_t n, alloc;               /* entries used, allocated */
    struct stats_hh *e;
    struct stats_heap *heap;         /* least v[by] first (cap > 0) */
    uint32_t *pos;                   /* pos[entry]: its heap slot (apart: the
                                      * entries are the cold side of a sift) */
    uint64_t *slot;                  /* open addressing: the key's hash (low 32 bits)
                                      * << 32 | entry index + 1; 0 empty. The hash
                                      * there spares reading entries that differ */
    uint32_t mask;
    uint64_t replaced;               /* Space-Saving replacements */
};

void stats_topk_init(struct stats_topk *t, uint32_t key_len, uint32_t by, uint64_t cap);
/* Add d (flows, packets, bytes) to key (key_len bytes, hash h). */
int stats_topk_add(struct stats_topk *t, const void *key, uint64_t h, const uint64_t *d);
/* The n entries ranked first: by v[by] descending, then key ascending;
 * idx gets up to n entry indexes. Returns how many. */
uint32_t stats_topk_top(const struct stats_topk *t, uint32_t n, uint32_t *idx);
void stats_topk_free(struct stats_topk *t);

/* Keys differ mostly in their last bytes (addresses, ports), which a
 * multiply carries only upwards: each word is folded in with a multiply,
 * and the end goes through a full 64-bit finalizer (MurmurHash3's fmix64)
 * so that the low bits, the slot index, depend on every byte. */
/* Prefetch the slot key h probes first, then (once that slot is in the
 * cache) the entry it names: the tables of a window outgrow the cache,
 * and a record touches eight of them. */
static inline void stats_topk_prefetch_slot(const struct stats_topk *t, uint64_t h)
{
    if (t->slot)
        __builtin_prefetch(&t->slot[(uint32_t)h & t->mask]);
}

static inline void stats_topk_prefetch_entry(const struct stats_topk *t, uint64_t h)
{
    if (!t->slot)
        return;
    uint64_t s = t->slot[(uint32_t)h & t->mask];
    if (s) {
        const char *e = (const char *)&t->e[(uint32_t)s - 1];
        __builtin_prefetch(e, 1);
        __builtin_prefetch(e + sizeof(struct stats_hh) - 1, 1);
    }
}

static inline uint64_t stats_hash(const void *key, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;
    const uint8_t *p = key;
    for (size_t i = 0; i < len; i += 8) {
        w = 0;
        memcpy(&w, p + i, len - i < 8 ? len - i : 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* ---- the stage ------------------------------------------------------- */
enum { STATS_PORT_AUTO = 0, STATS_PORT_DST = 1, STATS_PORT_LOWER = 2 };   /* choices order */
enum { STATS_OUT_TOTALS, STATS_OUT_PROTOCOLS, STATS_OUT_CLASSES, STATS_OUT_TOP_PORTS,
       STATS_OUT_TOP_HOSTS, STATS_OUT_TOP_CONVS, STATS_NOUT };

struct stats_row;

/* What one window holds. */
struct stats_win {
    uint64_t total[STATS_NQ];
    uint64_t proto[256][STATS_NQ];
    uint64_t *cls;                   /* (classes.n + 1) * STATS_NQ */
    struct stats_topk ports, hosts, convs;
};

struct stats {
    /* options */
    struct fl_window_conf win;
    struct fl_strmap classes_opt;
    int service_port;                /* STATS_PORT_* */
    uint64_t top_n, top_capacity;
    int top_by;                      /* STATS_FLOWS, ... */
    bool sampling_scale;
    /* run time */
    struct fl_ctx *ctx;
    struct fl_bind *bind;
    struct fl_windows *ws;
    struct stats_classes cls;
    const struct fl_schema *out[STATS_NOUT];
    struct stats_row *xs;            /* the batch's rows, worked out (stats.c) */
    struct fl_window **wins;
    uint64_t *times;
    uint32_t wins_cap;
    uint64_t replaced_reported;
};

extern const char *const stats_ports[];
int stats_out_schemas(struct fl_ctx *ctx, struct stats *st);
/* The rows of a closed window, on every port. */
int stats_emit_window(struct stats *st, const struct fl_window *w);

#endif
