/* agm.c: aggregate.agm, the AGgregate and Mode features of seed 001 per
 * source address and time window over packet records (README.md). This
 * file is the plugin: options, describe, the binding of the packet
 * fields, the per-batch packet loop and the window callbacks. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "agm.h"

static const struct fl_opt agm_opts[] = {
    FL_WINDOW_OPTS(struct agm, win, "[1m]"),
    { .name = "tcp_only", .type = FL_OPT_BOOL, .offset = offsetof(struct agm, tcp_only),
      .def = "true",
      .doc = "count TCP packets only, as the seed does; false: every IP packet, with 0 for "
             "the fields a packet lacks (ports of protocols without ports, ICMP included; "
             "flags of non-TCP)" },
    { .name = "nagm", .type = FL_OPT_BOOL, .offset = offsetof(struct agm, nagm),
      .def = "false",
      .doc = "the 51-feature numeric form (NAGM): no dst_addr_mode and proto features, the "
             "modes of src_port, dst_port and tcp_flags one-hot over the window's most "
             "frequent modes plus other; one schema per set of values (README.md)" },
    { .name = "top_src_port", .type = FL_OPT_UINT, .offset = offsetof(struct agm, top[0]),
      .def = "9", .min = "0", .max = "1024", .unit = "values",
      .doc = "NAGM: src_port modes one-hot encoded, besides other (9 + other: the seed's 10 "
             "dummy variables)" },
    { .name = "top_dst_port", .type = FL_OPT_UINT, .offset = offsetof(struct agm, top[1]),
      .def = "9", .min = "0", .max = "1024", .unit = "values",
      .doc = "NAGM: dst_port modes one-hot encoded, besides other (9 + other = 10)" },
    { .name = "top_tcp_flags", .type = FL_OPT_UINT, .offset = offsetof(struct agm, top[2]),
      .def = "15", .min = "0", .max = "256", .unit = "values",
      .doc = "NAGM: tcp_flags modes one-hot encoded, besides other (15 + other = 16)" },
    { .name = "max_sources", .type = FL_OPT_UINT, .offset = offsetof(struct agm, max_sources),
      .def = "1048576", .min = "1", .max = "268435456", .unit = "sources",
      .doc = "sources held at once over every open window; beyond it an idle source of the "
             "window ending first is closed early (its row goes out, sources_evicted)" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct agm, batch_size),
      .def = "4096", .min = "1", .max = "1048576", .unit = "rows",
      .doc = "rows per output batch" },
    { 0 }
};

enum { AGM_B_SRC, AGM_B_DST, AGM_B_SPORT, AGM_B_DPORT, AGM_B_TTL, AGM_B_PROTO, AGM_B_FLAGS,
       AGM_B_IPLEN, AGM_NB };

static const struct fl_want agm_wants[AGM_NB] = {
    [AGM_B_SRC] = { "src_addr", FL_T_ADDR, FL_WANT_REQUIRED },
    [AGM_B_DST] = { "dst_addr", FL_T_ADDR, FL_WANT_REQUIRED },
    [AGM_B_SPORT] = { "src_port", FL_T_U16, 0 },
    [AGM_B_DPORT] = { "dst_port", FL_T_U16, 0 },
    [AGM_B_TTL] = { "ttl", FL_T_U8, 0 },
    [AGM_B_PROTO] = { "proto", FL_T_U8, FL_WANT_REQUIRED },
    [AGM_B_FLAGS] = { "tcp_flags", FL_T_U8, 0 },
    [AGM_B_IPLEN] = { "ip_len", FL_T_U32, 0 },
};

static int agm_bind_new(struct fl_ctx *ctx, struct agm *st)
{
    if (st->bind)
        return 0;
    return fl_bind_new(ctx, agm_wants, AGM_NB, sizeof(agm_wants[0]), &st->bind);
}

static int agm_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                        size_t n_in, struct fl_schema_decl *const *out)
{
    struct agm *st = state;
    int rc, bad = 0;
    if ((rc = agm_bind_new(ctx, st)) < 0)
        return rc;
    if (fl_bind_check(ctx, st->bind, NULL, in, n_in) < 0)
        bad = -FL_EINVAL;
    if (fl_windows_check(ctx, &st->win, in, n_in) < 0)
        bad = -FL_EINVAL;
    if (bad)
        return bad;
    if ((rc = agm_schema(ctx, &st->agm_schema)) < 0)
        return rc;
    /* NAGM names its one-hot columns after each window's values */
    out[0]->schema = st->nagm ? NULL : st->agm_schema;
    return 0;
}

/* ---- windows ---------------------------------------------------------- */
static int agm_on_open(void *ud, struct fl_window *w)
{
    struct agm_win *aw;
    int rc = agm_win_new(ud, w, &aw);
    if (rc == 0)
        w->state = aw;
    return rc;
}

static int agm_row_src_cmp(const void *a, const void *b)
{
    return memcmp(&((const struct agm_row *)a)->src, &((const struct agm_row *)b)->src, 16);
}

static int agm_on_close(void *ud, struct fl_window *w)
{
    struct agm *st = ud;
    struct agm_win *aw = w->state;
    size_t n = aw->live + aw->nkept, k = 0;
    int rc = 0;
    if (n > st->caprows) {
        struct agm_row *p = realloc(st->rows, n * sizeof(*p));
        if (!p) {
            rc = -FL_ENOMEM;
            goto out;
        }
        st->rows = p;
        st->caprows = n;
    }
    for (uint32_t i = 0; i < aw->nsrc; i++)
        if (aw->src[i].used && aw->src[i].packets)
            agm_row_of(aw, &aw->src[i], &st->rows[k++]);
    if (aw->nkept)
        memcpy(st->rows + k, aw->kept, aw->nkept * sizeof(*aw->kept));
    k += aw->nkept;
    if (st->nagm) {
        /* a window opened only by packets tcp_only skipped has no rows */
        rc = k ? agm_nagm_emit(st, w, st->rows, k) : 0;
    } else {
        if (k)   /* st->rows may still be NULL */
            qsort(st->rows, k, sizeof(*st->rows), agm_row_src_cmp);
        for (size_t i = 0; i < k && rc == 0; i++)
            rc = agm_put(st, w, &st->rows[i]);
        if (rc == 0)
            rc = agm_flush(st);
    }
    fl_counter_add(st->ctx, "rows", k);
    fl_counter_add(st->ctx, "windows_closed", 1);
out:
    agm_win_free(st, aw);
    w->state = NULL;
    return rc;
}

static void agm_on_discard(void *ud, struct fl_window *w)
{
    agm_win_free(ud, w->state);
    w->state = NULL;
}

static const struct fl_window_ops agm_win_ops = { agm_on_open, agm_on_close, agm_on_discard };

static int agm_init(struct fl_ctx *ctx, void *state)
{
    struct agm *st = state;
    int rc;
    st->ctx = ctx;
    if ((rc = agm_bind_new(ctx, st)) < 0 ||
        (!st->agm_schema && (rc = agm_schema(ctx, &st->agm_schema)) < 0))
        return rc;
    return fl_windows_new(ctx, &st->win, &agm_win_ops, sizeof(agm_win_ops), st, &st->ws);
}

/* ---- packets ---------------------------------------------------------- */
static void agm_counters(struct agm *st)
{
    if (st->evicted)
        fl_counter_add(st->ctx, "sources_evicted", st->evicted);
    if (st->early)
        fl_counter_add(st->ctx, "sources_closed_full", st->early);
    st->evicted = st->early = 0;
}

static int agm_items_grow(struct agm *st)
{
    size_t cap = st->items_cap ? st->items_cap * 2 : 4096;
    struct agm_item *p = realloc(st->items, cap * sizeof(*p));
    if (!p)
        return -FL_ENOMEM;
    st->items = p;
    st->items_cap = cap;
    return 0;
}

/* Count n packet/window items, in a software pipeline: each item's first
 * table slot is prefetched AGM_AHEAD * 3 items before its update, its
 * source record AGM_AHEAD * 2 before, and the map entries its values
 * will update AGM_AHEAD before (a source found or made then may be closed
 * by a later one's eviction before its update: st->gen tells, and the
 * update looks it up again). Memory latency, not arithmetic, is the cost
 * of a packet once sources outgrow the caches. */
#define AGM_AHEAD 6u

static int agm_update(struct agm *st, struct agm_item *items, size_t n,
                      const struct fl_addr *src, const struct fl_addr *dst)
{
    int rc;
    for (size_t k = 0; k < n + 3 * AGM_AHEAD; k++) {
        if (k < n) {
            struct agm_item *it = &items[k];
            __builtin_prefetch(&it->aw->tab[it->hash >> (32 - it->aw->tab_lg)], 0);
        }
        if (k >= AGM_AHEAD && k - AGM_AHEAD < n) {
            struct agm_item *it = &items[k - AGM_AHEAD];
            agm_prefetch_src(it->aw, it->hash);
        }
        if (k >= 2 * AGM_AHEAD && k - 2 * AGM_AHEAD < n) {
            struct agm_item *it = &items[k - 2 * AGM_AHEAD];
            if ((it->idx = agm_src_get(st, it->aw, &src[it->row], it->hash)) == AGM_NONE)
                return -FL_ENOMEM;
            it->gen = st->gen;
            agm_prefetch_maps(it->aw, &it->aw->src[it->idx], &dst[it->row], it->val);
        }
        if (k >= 3 * AGM_AHEAD) {
            struct agm_item *it = &items[k - 3 * AGM_AHEAD];
            struct agm_win *aw = it->aw;
            if (it->gen != st->gen &&
                (it->idx = agm_src_get(st, aw, &src[it->row], it->hash)) == AGM_NONE)
                return -FL_ENOMEM;
            struct agm_src *s = &aw->src[it->idx];
            if ((rc = agm_count(aw, s, &dst[it->row], it->val)) < 0)
                return rc;
            if (s->packets == UINT32_MAX) {
                st->early++;
                if ((rc = agm_src_close(st, aw, it->idx)) < 0)
                    return rc;
            }
        }
    }
    return 0;
}

/* Row r's value of an optional field: 0 when the batch lacks it or the
 * row has no value. */
#define AGM_GET(T, d, v, r) ((d) && fl_bind_row_valid((v), (r)) ? ((const T *)(d))[r] : 0)

static int agm_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct agm *st = state;
    uint32_t rows = b->rows, specs = fl_windows_specs(st->ws);
    int rc;
    if (!rows)
        return 0;
    if ((rc = fl_bind_batch(ctx, st->bind, b)) < 0)
        return rc == -FL_ENOENT ? 0 : rc;
    if ((size_t)rows * specs > st->wins_cap) {
        free(st->wins);
        free(st->times);
        st->wins_cap = 0;
        st->wins = malloc((size_t)rows * specs * sizeof(*st->wins));
        st->times = malloc((size_t)rows * sizeof(*st->times));
        if (!st->wins || !st->times)
            return -FL_ENOMEM;
        st->wins_cap = rows * specs;
    }
    if ((rc = fl_windows_map(ctx, st->ws, b, st->wins, st->times)) < 0)
        return rc;
    const struct fl_addr *src = fl_bind_data(st->bind, AGM_B_SRC);
    const struct fl_addr *dst = fl_bind_data(st->bind, AGM_B_DST);
    const uint64_t *vsrc = fl_bind_valid(st->bind, AGM_B_SRC);
    const uint64_t *vdst = fl_bind_valid(st->bind, AGM_B_DST);
    const uint8_t *proto = fl_bind_data(st->bind, AGM_B_PROTO);
    const uint64_t *vproto = fl_bind_valid(st->bind, AGM_B_PROTO);
    const void *d[AGM_NB];
    const uint64_t *v[AGM_NB];
    for (int i = AGM_B_SPORT; i < AGM_NB; i++) {
        d[i] = fl_bind_col(st->bind, (size_t)i) >= 0 ? fl_bind_data(st->bind, (size_t)i) : NULL;
        v[i] = d[i] ? fl_bind_valid(st->bind, (size_t)i) : NULL;
    }
    uint64_t skipped = 0, counted = 0, no_addr = 0;
    size_t n = 0;
    for (uint32_t r = 0; r < rows; r++) {
        uint8_t pr = fl_bind_row_valid(vproto, r) ? proto[r] : 0;
        if (st->tcp_only && (pr != 6 || !fl_bind_row_valid(vproto, r))) {
            skipped++;
            continue;
        }
        if (!fl_bind_row_valid(vsrc, r) || !fl_bind_row_valid(vdst, r)) {
            no_addr++;
            continue;
        }
        uint32_t val[AGM_NF];
        bool ports = pr != 1 && pr != 58;   /* ICMP type/code is not a port */
        val[AGM_DST] = 0;
        val[AGM_SPORT] = ports ? AGM_GET(uint16_t, d[AGM_B_SPORT], v[AGM_B_SPORT], r) : 0;
        val[AGM_DPORT] = ports ? AGM_GET(uint16_t, d[AGM_B_DPORT], v[AGM_B_DPORT], r) : 0;
        val[AGM_TTL] = AGM_GET(uint8_t, d[AGM_B_TTL], v[AGM_B_TTL], r);
        val[AGM_PROTO] = pr;
        val[AGM_FLAGS] = pr == 6 ? AGM_GET(uint8_t, d[AGM_B_FLAGS], v[AGM_B_FLAGS], r) : 0;
        val[AGM_IPLEN] = AGM_GET(uint32_t, d[AGM_B_IPLEN], v[AGM_B_IPLEN], r);
        uint32_t h = agm_addr_hash(&src[r]);
        bool any = false;
        for (uint32_t k = 0; k < specs; k++)
            for (struct fl_window *w = st->wins[(size_t)k * rows + r];
                 fl_window_holds(w, st->times[r]); w = w->older) {
                if (n == st->items_cap && (rc = agm_items_grow(st)) < 0)
                    return rc;
                struct agm_item *it = &st->items[n++];
                it->aw = w->state;
                it->row = r;
                it->hash = h;
                memcpy(it->val, val, sizeof(val));
                any = true;
            }
        counted += any;
    }
    if ((rc = agm_update(st, st->items, n, src, dst)) < 0)
        return rc;
    if (skipped)
        fl_counter_add(ctx, "packets_not_tcp", skipped);
    if (no_addr)
        fl_counter_add(ctx, "records_no_addr", no_addr);
    fl_counter_add(ctx, "packets", counted);
    /* close what the records' own time has passed, without waiting for a
     * tick */
    rc = fl_windows_advance(st->ws, st->clock);
    agm_counters(st);
    return rc;
}

static int agm_tick(struct fl_ctx *ctx, void *state, uint64_t now)
{
    struct agm *st = state;
    (void)ctx;
    if (now > st->clock)
        st->clock = now;
    int rc = fl_windows_advance(st->ws, now);
    agm_counters(st);
    return rc;
}

static int agm_drain(struct fl_ctx *ctx, void *state)
{
    struct agm *st = state;
    (void)ctx;
    int rc = fl_windows_close_all(st->ws);
    int r2 = agm_flush(st);
    agm_counters(st);
    return rc < 0 ? rc : r2;
}

static void agm_fini(struct fl_ctx *ctx, void *state)
{
    struct agm *st = state;
    (void)ctx;
    fl_windows_free(&st->ws);
    fl_batch_release(&st->out);
    free(st->wins);
    free(st->times);
    free(st->rows);
    free(st->items);
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_AGGREGATE,
    .name = "agm",
    .version = "0.1.0",
    .summary = "AGM and NAGM features per source address and time window (seed 001)",
    .opts = agm_opts,
    .state_size = sizeof(struct agm),
    .describe = agm_describe,
    .init = agm_init,
    .process = agm_process,
    .tick = agm_tick,
    .drain = agm_drain,
    .fini = agm_fini,
);
