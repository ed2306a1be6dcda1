/* stats.c: aggregate.stats, traffic statistics per time window (seed 002):
 * the option table, describe (input check, one schema per output port),
 * the per-record loop that counts every record into each window holding
 * it, and the window life cycle (flowline/window.h). The classes are
 * stats_class.c, the top-N tables stats_topk.c, the rows stats_emit.c. */
#include <stdlib.h>
#include <string.h>
#include "stats.h"

static const char *const stats_port_modes[] = { "auto", "dst", "lower", NULL };
static const char *const stats_quantities[] = { "flows", "packets", "bytes", NULL };

static const struct fl_opt stats_opts[] = {
    FL_WINDOW_OPTS(struct stats, win, "[1m, 1h]"),
    { .name = "classes", .type = FL_OPT_MAP, .offset = offsetof(struct stats, classes_opt),
      .def = "{http: [tcp/80, tcp/8080], https: [tcp/443, udp/443], dns: [53], ssh: [tcp/22]}",
      .doc = "application classes: name -> ports, each \"[proto/]port[-port]\" (proto tcp, "
             "udp, dccp, sctp, udplite or its number; none = any of them); a record is in "
             "the class of its service port, else of its other port, else \"other\"" },
    { .name = "service_port", .type = FL_OPT_ENUM, .offset = offsetof(struct stats, service_port),
      .def = "auto", .choices = stats_port_modes,
      .doc = "which port of a record is the service's: dst, lower (of the two), auto (dst for "
             "flow records, whose src is the initiator; lower for packet records)" },
    { .name = "top_n", .type = FL_OPT_UINT, .offset = offsetof(struct stats, top_n),
      .def = "10", .min = "0", .max = "10000", .unit = "rows",
      .doc = "rows per window of top_ports, top_hosts and top_conversations (0: none)" },
    { .name = "top_by", .type = FL_OPT_ENUM, .offset = offsetof(struct stats, top_by),
      .def = "bytes", .choices = stats_quantities,
      .doc = "what the top-N tables rank by: flows, packets or bytes" },
    { .name = "top_capacity", .type = FL_OPT_UINT, .offset = offsetof(struct stats, top_capacity),
      .def = "10000", .min = "0", .max = "16777216", .unit = "keys",
      .doc = "keys each top-N table holds per window (Space-Saving: exact while a window has "
             "no more distinct keys, else counts overestimated by at most total / capacity); "
             "0 = exact, memory grows with the keys" },
    { .name = "sampling_scale", .type = FL_OPT_BOOL,
      .offset = offsetof(struct stats, sampling_scale), .def = "true",
      .doc = "packet records with a sampling_rate (sFlow) count as that many packets and "
             "bytes (flow records are scaled by their meter already)" },
    { 0 }
};

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, F_PACKETS, F_BYTES, F_IPLEN, F_RATE, F_N };
static const struct fl_want stats_wants[F_N] = {
    [F_PROTO] = { "proto", FL_T_U8, FL_WANT_REQUIRED },
    [F_SRC] = { "src_addr", FL_T_ADDR, FL_WANT_REQUIRED },
    [F_DST] = { "dst_addr", FL_T_ADDR, FL_WANT_REQUIRED },
    [F_SPORT] = { "src_port", FL_T_U16, 0 },
    [F_DPORT] = { "dst_port", FL_T_U16, 0 },
    [F_PACKETS] = { "packets", FL_T_U64, 0 },
    [F_BYTES] = { "bytes", FL_T_U64, 0 },
    [F_IPLEN] = { "ip_len", FL_T_U32, 0 },
    [F_RATE] = { "sampling_rate", FL_T_U32, 0 },
};

/* ---- windows ---------------------------------------------------------- */
static int stats_open(void *ud, struct fl_window *w)
{
    struct stats *st = ud;
    struct stats_win *sw = calloc(1, sizeof(*sw));
    if (!sw || !(sw->cls = calloc((st->cls.n + 1) * STATS_NQ, sizeof(uint64_t)))) {
        free(sw);
        return -FL_ENOMEM;
    }
    stats_topk_init(&sw->ports, 4, (uint32_t)st->top_by, st->top_capacity);
    stats_topk_init(&sw->hosts, 16, (uint32_t)st->top_by, st->top_capacity);
    stats_topk_init(&sw->convs, 32, (uint32_t)st->top_by, st->top_capacity);
    w->state = sw;
    return 0;
}

static void stats_discard(void *ud, struct fl_window *w)
{
    struct stats_win *sw = w->state;
    (void)ud;
    if (!sw)
        return;
    stats_topk_free(&sw->ports);
    stats_topk_free(&sw->hosts);
    stats_topk_free(&sw->convs);
    free(sw->cls);
    free(sw);
    w->state = NULL;
}

static int stats_close(void *ud, struct fl_window *w)
{
    struct stats *st = ud;
    struct stats_win *sw = w->state;
    int rc = stats_emit_window(st, w);
    uint64_t rep = sw->ports.replaced + sw->hosts.replaced + sw->convs.replaced;
    if (rep)
        fl_counter_add(st->ctx, "top_replaced", rep);
    fl_counter_add(st->ctx, "windows_closed", 1);
    stats_discard(ud, w);
    return rc;
}

static const struct fl_window_ops stats_wops = { stats_open, stats_close, stats_discard };

/* ---- per record --------------------------------------------------------- */
/* What one record adds, worked out once for all its windows. */
struct stats_row {
    uint64_t d[STATS_NQ];
    uint8_t proto;
    bool has_port, has_hosts, one_host;
    uint32_t cls;                    /* class index; classes.n = other */
    uint8_t port_key[4];
    uint8_t conv_key[32];
    const struct fl_addr *src, *dst;
    uint64_t h_port, h_src, h_dst, h_conv;
    bool any;                        /* in some window */
};

/* Rows ahead of the one being added whose table slots are prefetched
 * (their entries: half as far). */
#define STATS_AHEAD 8u

static void stats_prefetch(const struct stats *st, uint32_t rows, uint32_t r, uint32_t nspec,
                           bool entry)
{
    const struct stats_row *x = &st->xs[r];
    if (!x->any)
        return;
    for (uint32_t k = 0; k < nspec; k++) {
        const struct fl_window *w = st->wins[(size_t)k * rows + r];
        if (!w)
            continue;
        const struct stats_win *sw = w->state;
        void (*f)(const struct stats_topk *, uint64_t) = entry ? stats_topk_prefetch_entry
                                                               : stats_topk_prefetch_slot;
        if (x->has_port)
            f(&sw->ports, x->h_port);
        if (x->has_hosts) {
            f(&sw->hosts, x->h_src);
            f(&sw->hosts, x->h_dst);
            f(&sw->convs, x->h_conv);
        }
    }
}

static inline uint64_t stats_cell(const uint64_t *valid, const uint64_t *v, uint32_t r)
{
    return v && fl_bind_row_valid(valid, r) ? v[r] : 0;
}

static int stats_add(struct stats *st, struct stats_win *sw, const struct stats_row *x)
{
    int rc;
    for (int q = 0; q < STATS_NQ; q++) {
        sw->total[q] += x->d[q];
        sw->proto[x->proto][q] += x->d[q];
        sw->cls[(size_t)x->cls * STATS_NQ + q] += x->d[q];
    }
    if (!st->top_n)
        return 0;
    if (x->has_port && (rc = stats_topk_add(&sw->ports, x->port_key, x->h_port, x->d)) < 0)
        return rc;
    if (!x->has_hosts)
        return 0;
    if ((rc = stats_topk_add(&sw->hosts, x->src, x->h_src, x->d)) < 0
        || (!x->one_host && (rc = stats_topk_add(&sw->hosts, x->dst, x->h_dst, x->d)) < 0))
        return rc;
    return stats_topk_add(&sw->convs, x->conv_key, x->h_conv, x->d);
}

static int stats_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct stats *st = state;
    const uint32_t rows = b->rows;
    const uint32_t nspec = fl_windows_specs(st->ws);
    int rc;

    if (!rows)
        return 0;
    if ((rc = fl_bind_batch(ctx, st->bind, b)) < 0)
        return rc == -FL_ENOENT ? 0 : rc;   /* counted by the core */
    if ((size_t)nspec * rows > st->wins_cap) {
        size_t n = (size_t)nspec * rows;
        struct fl_window **w = realloc(st->wins, n * sizeof(*w));
        uint64_t *t = w ? realloc(st->times, rows * sizeof(*t)) : NULL;
        struct stats_row *xs = t ? realloc(st->xs, rows * sizeof(*xs)) : NULL;
        if (w)
            st->wins = w;
        if (t)
            st->times = t;
        if (!xs)
            return -FL_ENOMEM;
        st->xs = xs;
        st->wins_cap = (uint32_t)n;
    }
    if ((rc = fl_windows_map(ctx, st->ws, b, st->wins, st->times)) < 0)
        return rc;

    const struct fl_bind *bd = st->bind;
    const uint8_t *proto = fl_bind_data(bd, F_PROTO);
    const struct fl_addr *src = fl_bind_data(bd, F_SRC), *dst = fl_bind_data(bd, F_DST);
    const uint16_t *sport = fl_bind_col(bd, F_SPORT) >= 0 ? fl_bind_data(bd, F_SPORT) : NULL;
    const uint16_t *dport = fl_bind_col(bd, F_DPORT) >= 0 ? fl_bind_data(bd, F_DPORT) : NULL;
    const bool flows = fl_bind_col(bd, F_PACKETS) >= 0;
    const uint64_t *packets = flows ? fl_bind_data(bd, F_PACKETS) : NULL;
    const uint64_t *bytes = flows && fl_bind_col(bd, F_BYTES) >= 0 ? fl_bind_data(bd, F_BYTES)
                                                                    : NULL;
    const uint32_t *iplen = fl_bind_col(bd, F_IPLEN) >= 0 ? fl_bind_data(bd, F_IPLEN) : NULL;
    const uint32_t *rate = !flows && st->sampling_scale && fl_bind_col(bd, F_RATE) >= 0
                           ? fl_bind_data(bd, F_RATE) : NULL;
    const uint64_t *v_proto = fl_bind_valid(bd, F_PROTO), *v_src = fl_bind_valid(bd, F_SRC),
                   *v_dst = fl_bind_valid(bd, F_DST), *v_pk = fl_bind_valid(bd, F_PACKETS),
                   *v_by = fl_bind_valid(bd, F_BYTES), *v_ip = fl_bind_valid(bd, F_IPLEN),
                   *v_sp = fl_bind_valid(bd, F_SPORT), *v_dp = fl_bind_valid(bd, F_DPORT),
                   *v_rate = fl_bind_valid(bd, F_RATE);
    const int mode = st->service_port == STATS_PORT_AUTO
                     ? (flows ? STATS_PORT_DST : STATS_PORT_LOWER) : st->service_port;

    for (uint32_t r = 0; r < rows; r++) {
        struct stats_row x;
        bool any = false;
        for (uint32_t k = 0; k < nspec && !any; k++)
            any = st->wins[(size_t)k * rows + r] != NULL;
        x.any = any;
        if (!any) {
            st->xs[r] = x;
            continue;   /* late or without a time: counted by the window service */
        }
        if (flows) {
            x.d[STATS_FLOWS] = 1;
            x.d[STATS_PACKETS] = stats_cell(v_pk, packets, r);
            x.d[STATS_BYTES] = stats_cell(v_by, bytes, r);
        } else {
            uint64_t m = rate && fl_bind_row_valid(v_rate, r) && rate[r] ? rate[r] : 1;
            x.d[STATS_FLOWS] = 0;
            x.d[STATS_PACKETS] = m;
            x.d[STATS_BYTES] = iplen && fl_bind_row_valid(v_ip, r) ? iplen[r] * m : 0;
        }
        x.proto = fl_bind_row_valid(v_proto, r) ? proto[r] : 0;
        x.cls = (uint32_t)st->cls.n;
        x.has_port = false;
        int pi = stats_proto_index(x.proto);
        if (pi >= 0 && sport && dport && fl_bind_row_valid(v_sp, r)
            && fl_bind_row_valid(v_dp, r)) {
            uint16_t s = dport[r], o = sport[r];
            if (mode == STATS_PORT_LOWER && o < s) {
                s = sport[r];
                o = dport[r];
            }
            unsigned c = stats_class_of(&st->cls, pi, s);
            if (!c && (c = stats_class_of(&st->cls, pi, o)) != 0)
                s = o;   /* e.g. a flow first seen at the server's packet */
            if (c)
                x.cls = c - 1;
            x.has_port = true;
            x.port_key[0] = 0;
            x.port_key[1] = x.proto;
            x.port_key[2] = (uint8_t)(s >> 8);
            x.port_key[3] = (uint8_t)s;
            x.h_port = stats_hash(x.port_key, 4);
        }
        x.has_hosts = st->top_n && fl_bind_row_valid(v_src, r) && fl_bind_row_valid(v_dst, r);
        if (x.has_hosts) {
            x.src = &src[r];
            x.dst = &dst[r];
            int c = memcmp(x.src, x.dst, 16);
            x.one_host = c == 0;
            memcpy(x.conv_key, c <= 0 ? x.src : x.dst, 16);
            memcpy(x.conv_key + 16, c <= 0 ? x.dst : x.src, 16);
            x.h_src = stats_hash(x.src, 16);
            x.h_dst = stats_hash(x.dst, 16);
            x.h_conv = stats_hash(x.conv_key, 32);
        }
        st->xs[r] = x;
    }
    /* Then into the windows, the tables' lines of the rows ahead fetched
     * while this one is added (two stages: slot, then its entry). */
    for (uint32_t r = 0; r < rows + STATS_AHEAD; r++) {
        if (st->top_n) {
            if (r < rows)
                stats_prefetch(st, rows, r, nspec, false);
            if (r >= STATS_AHEAD / 2 && r - STATS_AHEAD / 2 < rows)
                stats_prefetch(st, rows, r - STATS_AHEAD / 2, nspec, true);
        }
        if (r < STATS_AHEAD)
            continue;
        uint32_t j = r - STATS_AHEAD;
        if (!st->xs[j].any)
            continue;
        for (uint32_t k = 0; k < nspec; k++)
            for (struct fl_window *w = st->wins[(size_t)k * rows + j];
                 fl_window_holds(w, st->times[j]); w = w->older)
                if ((rc = stats_add(st, w->state, &st->xs[j])) < 0)
                    return rc;
    }
    return 0;
}

/* ---- life cycle ---------------------------------------------------------- */
static int stats_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                          size_t n_in, struct fl_schema_decl *const *out)
{
    struct stats *st = state;
    struct stats_classes c;
    int rc = 0, r;

    if (!st->bind && (r = fl_bind_new(ctx, stats_wants, F_N, sizeof(stats_wants[0]),
                                      &st->bind)) < 0)
        return r;
    if (fl_bind_check(ctx, st->bind, NULL, in, n_in) < 0)
        rc = -FL_EINVAL;
    for (size_t i = 0; i < n_in; i++) {
        if (!in[i] || fl_schema_find(in[i], "packets") >= 0)
            continue;
        if (fl_schema_find(in[i], "ip_len") < 0)
            rc = fl_diag(ctx, NULL, "input %zu has neither packets (flow records) nor ip_len "
                         "(packet records)", i + 1);
        else if (st->top_by == STATS_FLOWS && st->top_n)
            rc = fl_diag(ctx, "top_by", "packet records count no flows: rank them by packets "
                         "or bytes (or put aggregate.flowmeter before this stage)");
    }
    if (fl_windows_check(ctx, &st->win, in, n_in) < 0)
        rc = -FL_EINVAL;
    if ((r = stats_classes_parse(ctx, &st->classes_opt, &c)) < 0)
        rc = r;
    stats_classes_free(&c);
    if (rc < 0)
        return rc;
    if ((rc = stats_out_schemas(ctx, st)) < 0)
        return rc;
    for (int p = 0; p < STATS_NOUT; p++)
        out[p]->schema = st->out[p];
    return 0;
}

static int stats_init(struct fl_ctx *ctx, void *state)
{
    struct stats *st = state;
    int rc;

    st->ctx = ctx;
    if (!st->bind && (rc = fl_bind_new(ctx, stats_wants, F_N, sizeof(stats_wants[0]),
                                       &st->bind)) < 0)
        return rc;
    if ((!st->out[0] && (rc = stats_out_schemas(ctx, st)) < 0)
        || (rc = stats_classes_parse(ctx, &st->classes_opt, &st->cls)) < 0)
        return rc;
    return fl_windows_new(ctx, &st->win, &stats_wops, sizeof(stats_wops), st, &st->ws);
}

static int stats_tick(struct fl_ctx *ctx, void *state, uint64_t now)
{
    struct stats *st = state;
    (void)ctx;
    return st->ws ? fl_windows_advance(st->ws, now) : 0;
}

static int stats_drain(struct fl_ctx *ctx, void *state)
{
    struct stats *st = state;
    (void)ctx;
    return st->ws ? fl_windows_close_all(st->ws) : 0;
}

static void stats_fini(struct fl_ctx *ctx, void *state)
{
    struct stats *st = state;
    (void)ctx;
    fl_windows_free(&st->ws);
    stats_classes_free(&st->cls);
    free(st->wins);
    free(st->times);
    free(st->xs);
    st->xs = NULL;
    st->wins = NULL;
    st->times = NULL;
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_AGGREGATE,
    .name = "stats",
    .version = "0.1.0",
    .summary = "traffic statistics per time window: totals, protocols, application classes, "
               "top-N ports, hosts and conversations",
    .opts = stats_opts,
    .ports = stats_ports,
    .state_size = sizeof(struct stats),
    .describe = stats_describe,
    .init = stats_init,
    .process = stats_process,
    .tick = stats_tick,
    .drain = stats_drain,
    .fini = stats_fini,
);
