/* agm.h: aggregate.agm's shared state (README.md). agm.c is the plugin
 * (options, binding, the packet loop, window callbacks); agm_table.c keeps
 * each window's sources and their per-field value counters; agm_emit.c
 * turns a source into its features and writes the AGM and NAGM rows. */
#ifndef AGM_H
#define AGM_H

#include <stdbool.h>
#include <stdint.h>
#include <flowline/plugin.h>
#include <flowline/window.h>

/* The counted fields of a packet, in the order of the output columns. */
enum agm_field {
    AGM_DST, AGM_SPORT, AGM_DPORT, AGM_TTL, AGM_PROTO, AGM_FLAGS, AGM_IPLEN, AGM_NF
};

/* The one-hot groups of NAGM (the modes it encodes). */
enum agm_hot { AGM_HOT_SPORT, AGM_HOT_DPORT, AGM_HOT_FLAGS, AGM_NHOT };

#define AGM_NONE UINT32_MAX
#define AGM_LIN_LG 2u   /* a map's first block: 4 entries in the source, searched in order */
#define AGM_LIN (1u << AGM_LIN_LG)

/* A value counter entry: count 0 = empty slot. Counts stay below 2^32: a
 * source reaching that many packets in a window is closed early. */
struct agm_ent { uint32_t key, count; };
struct agm_aent { struct fl_addr key; uint32_t count; };

/* One open-addressing map of value -> count inside a slab: 2^lg slots
 * at offset off, n used. */
struct agm_map { uint32_t off, n; uint32_t lg; };

/* Entries of one size for every map of a window, with a free list per
 * size class so grown and evicted maps are reused. */
struct agm_slab {
    void *e;
    uint32_t len, cap;          /* entries */
    uint32_t esize;
    uint32_t free[32];          /* per lg: first free block, AGM_NONE = none */
};

struct agm_src {
    struct fl_addr addr;
    uint32_t packets;
    uint32_t hash;
    uint8_t used;               /* 0: a free slot (next free in m[0].off) */
    uint8_t touched;            /* eviction clock: seen since the hand passed */
    struct agm_map m[AGM_NF];
    /* each map's first 4 values (m[f].lg == AGM_LIN_LG): most sources
     * have few values per field, and these share the source's lines */
    struct agm_ent inl[AGM_NF - 1][AGM_LIN];   /* the 32-bit fields, f - 1 */
    struct agm_aent ainl[AGM_LIN];             /* dst_addr */
};

/* A source's features, as its row says them. */
struct agm_row {
    struct fl_addr src, dst_mode;
    uint64_t packets;
    uint64_t distinct[AGM_NF], mode_packets[AGM_NF];
    uint32_t mode[AGM_NF];      /* AGM_DST: unused (dst_mode) */
};

/* The aggregate of one open window. */
struct agm_win {
    struct fl_window *w;
    struct agm_src *src;
    uint32_t nsrc, capsrc;      /* slots used (live or free), allocated */
    uint32_t free_src;          /* first free slot, AGM_NONE = none */
    uint32_t live;
    uint32_t *tab;              /* source slot + 1, 0 = empty; 2^tab_lg */
    uint32_t tab_lg;
    uint32_t hand;              /* eviction clock */
    struct agm_slab s32, sa;
    struct agm_row *kept;       /* NAGM: rows of evicted sources, until close */
    size_t nkept, capkept;
    struct agm_win *prev, *next;   /* the stage's open windows */
};

/* One packet to count in one window. */
struct agm_item {
    struct agm_win *aw;
    uint32_t row, hash, idx, gen;
    uint32_t val[AGM_NF];
};

struct agm {
    /* options */
    struct fl_window_conf win;
    bool tcp_only, nagm;
    uint64_t top[AGM_NHOT];
    uint64_t max_sources, batch_size;

    struct fl_ctx *ctx;
    struct fl_bind *bind;
    struct fl_windows *ws;
    const struct fl_schema *agm_schema;
    struct fl_window **wins;
    uint64_t *times;
    uint32_t wins_cap;
    uint64_t clock;
    struct agm_win *open;       /* open windows, newest first */
    uint64_t live;              /* sources held over every open window */
    struct fl_batch *out;       /* AGM rows being filled */
    struct agm_row *rows;       /* a closing window's rows */
    size_t caprows;
    uint64_t evicted, early;    /* not yet added to the counters */
    uint32_t gen;               /* bumped when a source closes early */
    struct agm_item *items;
    size_t items_cap;
};

/* agm_table.c */
int agm_win_new(struct agm *st, struct fl_window *w, struct agm_win **out);
void agm_win_free(struct agm *st, struct agm_win *aw);
/* The slot of source addr in aw, made when new (evicting when the stage
 * holds max_sources); AGM_NONE when out of memory. */
uint32_t agm_src_get(struct agm *st, struct agm_win *aw, const struct fl_addr *addr,
                     uint32_t hash);
int agm_count(struct agm_win *aw, struct agm_src *s, const struct fl_addr *dst,
              const uint32_t v[AGM_NF]);
/* Remove live source slot i of aw; its row goes out (AGM) or is kept
 * for the window's close (NAGM). */
int agm_src_close(struct agm *st, struct agm_win *aw, uint32_t i);
uint32_t agm_addr_hash(const struct fl_addr *a);
/* Hints for the packet loop: the source's first table slot, and the
 * entries a packet's values will update. */
void agm_prefetch_src(const struct agm_win *aw, uint32_t hash);
void agm_prefetch_maps(const struct agm_win *aw, const struct agm_src *s,
                       const struct fl_addr *dst, const uint32_t v[AGM_NF]);

/* agm_emit.c */
int agm_schema(struct fl_ctx *ctx, const struct fl_schema **out);
void agm_row_of(const struct agm_win *aw, const struct agm_src *s, struct agm_row *r);
int agm_put(struct agm *st, const struct fl_window *w, const struct agm_row *r);
int agm_flush(struct agm *st);
/* NAGM: the rows of a closing window, with its one-hot columns. */
int agm_nagm_emit(struct agm *st, const struct fl_window *w, struct agm_row *rows, size_t n);

#endif
