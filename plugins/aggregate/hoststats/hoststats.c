/* hoststats.c: aggregate.hoststats (README.md): options, the `hosts:`
 * CIDR list, binding flow or packet records, and the record loop that
 * hands each record to every window holding it (hoststats_table.c keeps
 * the hosts of each window). */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hoststats.h"

static const struct fl_opt hoststats_opts[] = {
    FL_WINDOW_OPTS(struct hoststats, win, "[10s, 30s, 1m, 5m]"),
    { .name = "hosts", .type = FL_OPT_LIST, .offset = offsetof(struct hoststats, hosts),
      .doc = "CIDR blocks whose addresses are hosts (the local networks), e.g. "
             "[10.0.0.0/8, 2001:db8::/32]; default: every address" },
    { .name = "max_hosts", .type = FL_OPT_UINT, .offset = offsetof(struct hoststats, max_hosts),
      .def = "262144", .min = "1", .max = "1073741824", .unit = "hosts",
      .doc = "hosts held per open window (about 260 bytes each, plus distinct-count sets "
             "beyond one value); beyond it a host not seen lately has its partial row sent "
             "early, flagged evicted, and counted in hosts_evicted" },
    { .name = "exact_max", .type = FL_OPT_UINT, .offset = offsetof(struct hoststats, exact_max),
      .def = "0", .max = "1048576", .unit = "values",
      .doc = "distinct peers/ports counted exactly up to this many per host and window, "
             "then by HyperLogLog; 0 = 2^hll_precision / 16 (256)" },
    { .name = "hll_precision", .type = FL_OPT_UINT,
      .offset = offsetof(struct hoststats, precision), .def = "12", .min = "4", .max = "18",
      .doc = "HyperLogLog of 2^p one-byte registers (4 KiB at 12): relative standard error "
             "1.04/sqrt(2^p), 1.63 % at 12, 3.25 % at 10" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct hoststats, batch_size),
      .def = "4096", .min = "1", .max = "1048576", .unit = "rows",
      .doc = "rows per output batch" },
    { 0 }
};

enum {
    F_SRC, F_DST, F_SPORT, F_DPORT, F_PROTO,
    F_PACKETS, F_BYTES, F_FWD_P, F_FWD_B, F_REV_P, F_REV_B,
    F_DUR, F_START, F_END, F_IPLEN, F_FLAGS, F_FWD_FLAGS, F_REV_FLAGS, F_RATE, F_N
};

static const struct fl_want hs_wants[F_N] = {
    [F_SRC] = { .name = "src_addr", .type = FL_T_ADDR, .flags = FL_WANT_REQUIRED },
    [F_DST] = { .name = "dst_addr", .type = FL_T_ADDR, .flags = FL_WANT_REQUIRED },
    [F_SPORT] = { .name = "src_port", .type = FL_T_U16 },
    [F_DPORT] = { .name = "dst_port", .type = FL_T_U16 },
    [F_PROTO] = { .name = "proto", .type = FL_T_U8 },
    [F_PACKETS] = { .name = "packets", .type = FL_T_U64 },
    [F_BYTES] = { .name = "bytes", .type = FL_T_U64 },
    [F_FWD_P] = { .name = "fwd_packets", .type = FL_T_U64 },
    [F_FWD_B] = { .name = "fwd_bytes", .type = FL_T_U64 },
    [F_REV_P] = { .name = "rev_packets", .type = FL_T_U64 },
    [F_REV_B] = { .name = "rev_bytes", .type = FL_T_U64 },
    [F_DUR] = { .name = "duration", .type = FL_T_DUR },
    [F_START] = { .name = "flow_start", .type = FL_T_TS },
    [F_END] = { .name = "flow_end", .type = FL_T_TS },
    [F_IPLEN] = { .name = "ip_len", .type = FL_T_U32 },
    [F_FLAGS] = { .name = "tcp_flags", .type = FL_T_U8 },
    [F_FWD_FLAGS] = { .name = "fwd_tcp_flags", .type = FL_T_U8 },
    [F_REV_FLAGS] = { .name = "rev_tcp_flags", .type = FL_T_U8 },
    [F_RATE] = { .name = "sampling_rate", .type = FL_T_U32 },
};

/* ---- hosts: CIDR blocks ---- */

static int cidr_parse(const char *s, struct hs_cidr *c)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    memset(c, 0, sizeof(*c));
    unsigned max, base;
    if (inet_pton(AF_INET, buf, c->net.b + 12) == 1) {
        c->net.b[10] = c->net.b[11] = 0xff;
        max = 32;
        base = 96;
    } else if (inet_pton(AF_INET6, buf, c->net.b) == 1) {
        max = 128;
        base = 0;
    } else {
        return -1;
    }
    unsigned plen = max;
    if (slash) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || v > max)
            return -1;
        plen = (unsigned)v;
    }
    c->plen = base + plen;
    for (unsigned bit = c->plen; bit < 128; bit++)
        if (c->net.b[bit / 8] >> (7 - bit % 8) & 1)
            return -2;   /* host bits set */
    return 0;
}

static inline bool cidr_has(const struct hs_cidr *c, const struct fl_addr *a)
{
    unsigned full = c->plen / 8, rest = c->plen % 8;
    if (memcmp(c->net.b, a->b, full))
        return false;
    return !rest || ((c->net.b[full] ^ a->b[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

static inline bool is_host(const struct hoststats *st, const struct fl_addr *a)
{
    if (!st->n_cidr)
        return true;
    for (size_t i = 0; i < st->n_cidr; i++)
        if (cidr_has(&st->cidr[i], a))
            return true;
    return false;
}

/* Each item of `hosts` may hold several blocks separated by commas or
 * spaces, so one environment variable can carry the list
 * (hosts: ${LOCAL_NETS:-10.0.0.0/8}). */
static int hosts_parse(struct fl_ctx *ctx, struct hoststats *st)
{
    free(st->cidr);
    st->cidr = NULL;
    st->n_cidr = 0;
    size_t cap = 0;
    for (size_t i = 0; i < st->hosts.n; i++) {
        const char *s = st->hosts.v[i];
        while (*s) {
            size_t len = strcspn(s, ", \t");
            if (len) {
                char item[80];
                snprintf(item, sizeof(item), "%.*s", (int)(len < 79 ? len : 79), s);
                if (st->n_cidr == cap) {
                    cap = cap ? cap * 2 : 8;
                    struct hs_cidr *c = realloc(st->cidr, cap * sizeof(*c));
                    if (!c)
                        return -FL_ENOMEM;
                    st->cidr = c;
                }
                int rc = len < 79 ? cidr_parse(item, &st->cidr[st->n_cidr]) : -1;
                if (rc == -2)
                    return fl_diag(ctx, "hosts", "%s has bits set after its prefix length (a "
                                   "network is written with them zero, e.g. 10.0.0.0/8)", item);
                if (rc < 0)
                    return fl_diag(ctx, "hosts", "%s is not an IPv4 or IPv6 address or CIDR "
                                   "block (address/prefix length)", item);
                st->n_cidr++;
            }
            s += len;
            s += strspn(s, ", \t");
        }
    }
    if (st->hosts.n && !st->n_cidr)
        return fl_diag(ctx, "hosts", "no CIDR block given (leave hosts out for every address)");
    return 0;
}

/* ---- windows: sorted, pane mode ---- */

/* "10s", "1m", "1h30m", "250ms": ns, or 0 when not a plain length (a
 * hopping "5m/1m" or anything else: then no pane mode; the window service
 * checks the text itself). */
static uint64_t plain_length(const char *s)
{
    static const struct { const char *u; uint64_t ns; } units[] = {
        { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ull },
        { "m", 60000000000ull }, { "h", 3600000000000ull }, { "d", 86400000000000ull },
    };
    uint64_t total = 0;
    if (!*s)
        return 0;
    while (*s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s)
            return 0;
        size_t i, n = strspn(end, "abcdefghijklmnopqrstuvwxyz");
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].u) == n && !strncmp(end, units[i].u, n))
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            return 0;
        total += v * units[i].ns;
        s = end + n;
    }
    return total;
}

/* The service gets the windows shortest first (its close order for equal
 * ends is the list's: a shortest window then merges into the longer ones
 * before they close). */
static void windows_sort(struct hoststats *st)
{
    size_t n = st->win.windows.n < HS_MAX_SPECS ? st->win.windows.n : HS_MAX_SPECS;
    uint64_t len[HS_MAX_SPECS];
    bool plain = n > 0;
    st->sorted = st->win;
    for (size_t i = 0; i < n; i++) {
        st->sorted_v[i] = st->win.windows.v[i];
        len[i] = plain_length(st->win.windows.v[i]);
        plain &= len[i] != 0;
    }
    if (plain)   /* stable insertion sort: equal lengths keep their order */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && len[j] < len[j - 1]; j--) {
                uint64_t l = len[j];
                char *v = st->sorted_v[j];
                len[j] = len[j - 1];
                st->sorted_v[j] = st->sorted_v[j - 1];
                len[j - 1] = l;
                st->sorted_v[j - 1] = v;
            }
    if (n == st->win.windows.n) {
        st->sorted.windows.v = st->sorted_v;
        st->sorted.windows.n = n;
    }
    st->nspec = (uint32_t)n;
    st->panes = plain && n > 1;
    for (size_t i = 1; st->panes && i < n; i++)
        st->panes = len[i] % len[0] == 0;
}

/* ---- lifecycle ---- */

static void hosts_free(struct hoststats *st)
{
    free(st->cidr);
    st->cidr = NULL;
    st->n_cidr = 0;
}

static int hoststats_setup(struct fl_ctx *ctx, struct hoststats *st)
{
    int rc;
    if ((rc = hosts_parse(ctx, st)) < 0) {
        hosts_free(st);
        return rc;
    }
    if (fl_distinct_conf_init(&st->dc, (uint32_t)st->exact_max, (unsigned)st->precision) < 0)
        return fl_diag(ctx, "exact_max", "exact_max %llu or hll_precision %llu out of range",
                       (unsigned long long)st->exact_max, (unsigned long long)st->precision);
    if (!st->bind && (rc = fl_bind_new(ctx, hs_wants, F_N, sizeof(hs_wants[0]), &st->bind)) < 0)
        return rc;
    if (!st->out_schema && (rc = hs_out_schema(ctx, &st->out_schema)) < 0)
        return rc;
    return 0;
}

static int hoststats_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                              size_t n_in, struct fl_schema_decl *const *out)
{
    struct hoststats *st = state;
    int rc;
    if ((rc = hoststats_setup(ctx, st)) < 0)
        return rc;
    if ((rc = fl_bind_check(ctx, st->bind, NULL, in, n_in)) < 0
        || (rc = fl_windows_check(ctx, &st->win, in, n_in)) < 0) {
        hosts_free(st);
        return rc;
    }
    for (size_t i = 0; i < n_in; i++)
        if (in[i] && fl_schema_find(in[i], "packets") < 0 && fl_schema_find(in[i], "ip_len") < 0) {
            hosts_free(st);
            return fl_diag(ctx, NULL, "input %zu has neither packets (flow records) nor ip_len "
                           "(packet records): hoststats reads flows (aggregate.flowmeter, "
                           "input.ipfix) or packets (input.pcap)", i);
        }
    out[0]->schema = st->out_schema;
    hosts_free(st);   /* describe only checks them (it may run without fini) */
    return 0;
}

static int hoststats_init(struct fl_ctx *ctx, void *state)
{
    struct hoststats *st = state;
    int rc;
    st->ctx = ctx;
    if ((rc = hoststats_setup(ctx, st)) < 0)
        return rc;
    if (!(st->seen = calloc((size_t)1 << HS_SEEN_BITS, sizeof(*st->seen))))
        return -FL_ENOMEM;
    windows_sort(st);
    if ((rc = fl_windows_new(ctx, &st->sorted, &hs_window_ops, sizeof(hs_window_ops), st,
                             &st->ws)) < 0)
        return rc;
    st->nspec = fl_windows_specs(st->ws);
    st->panes &= st->nspec > 1 && st->nspec <= HS_MAX_SPECS;
    return 0;
}

static inline uint64_t u64_at(const uint64_t *d, const uint64_t *valid, uint32_t r)
{
    return d && fl_bind_row_valid(valid, r) ? d[r] : 0;
}

static int hoststats_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct hoststats *st = state;
    int rc;
    uint32_t rows = b->rows;
    if (!rows)
        return 0;
    if ((rc = fl_bind_batch(ctx, st->bind, b)) < 0)
        return rc == -FL_ENOENT ? 0 : rc;
    const struct fl_bind *bd = st->bind;
#define COL(i) (fl_bind_col(bd, (i)) >= 0 ? fl_bind_data(bd, (i)) : NULL)
    bool flows = fl_bind_col(bd, F_PACKETS) >= 0;
    if (!flows && fl_bind_col(bd, F_IPLEN) < 0) {
        fl_counter_add(ctx, "records_no_size", rows);
        return 0;
    }
    uint32_t nspec = fl_windows_specs(st->ws);
    if ((size_t)nspec * rows > st->wins_cap) {
        size_t cap = (size_t)nspec * rows;
        struct fl_window **w = realloc(st->wins, cap * sizeof(*w));
        uint64_t *t = w ? realloc(st->times, rows * sizeof(*t)) : NULL;
        if (w)
            st->wins = w;
        if (t)
            st->times = t;
        uint64_t *hh = t ? realloc(st->hash, 2 * (size_t)rows * sizeof(*hh)) : NULL;
        if (!hh)
            return -FL_ENOMEM;
        st->hash = hh;
        st->wins_cap = (uint32_t)cap;
    }
    if ((rc = fl_windows_map(ctx, st->ws, b, st->wins, st->times)) < 0)
        return rc;

    const struct fl_addr *src = fl_bind_data(bd, F_SRC), *dst = fl_bind_data(bd, F_DST);
    const uint64_t *vsrc = fl_bind_valid(bd, F_SRC), *vdst = fl_bind_valid(bd, F_DST);
    const uint16_t *sport = COL(F_SPORT), *dport = COL(F_DPORT);
    const uint8_t *proto = COL(F_PROTO);
    const uint8_t *flags = COL(F_FLAGS), *fflags = COL(F_FWD_FLAGS), *rflags = COL(F_REV_FLAGS);
    const uint64_t *vflags = fl_bind_valid(bd, F_FLAGS);
    const uint64_t *pk = COL(F_PACKETS), *by = COL(F_BYTES);
    const uint64_t *fp = COL(F_FWD_P), *fb = COL(F_FWD_B), *rp = COL(F_REV_P), *rb = COL(F_REV_B);
    const int64_t *dur = COL(F_DUR);
    const uint64_t *start = COL(F_START), *end = COL(F_END);
    const uint32_t *iplen = COL(F_IPLEN);
    const uint32_t *rate = flows ? NULL : COL(F_RATE);   /* sampled packets (sFlow) */
    const uint64_t *vrate = fl_bind_valid(bd, F_RATE);
    const uint64_t *vdur = fl_bind_valid(bd, F_DUR), *vstart = fl_bind_valid(bd, F_START),
                   *vend = fl_bind_valid(bd, F_END), *viplen = fl_bind_valid(bd, F_IPLEN);
    bool split = fp && rp;   /* biflows with per-direction counts */
    uint64_t not_host = 0, no_addr = 0;

    /* Hash every address first, so the pane's slots and entries can be
     * prefetched a few rows ahead of their update. */
    uint64_t *hh = st->hash;
    for (uint32_t r = 0; r < rows; r++) {
        hh[2 * r] = fl_hash_addr(&src[r]);
        hh[2 * r + 1] = fl_hash_addr(&dst[r]);
    }
    for (uint32_t r = 0; r < rows; r++) {
        if (st->panes) {
            if (r + 8 < rows && st->wins[r + 8]) {
                hs_prefetch_slot(st->wins[r + 8], hh[2 * (r + 8)]);
                hs_prefetch_slot(st->wins[r + 8], hh[2 * (r + 8) + 1]);
            }
            if (r + 4 < rows && st->wins[r + 4]) {
                hs_prefetch_entry(st->wins[r + 4], hh[2 * (r + 4)]);
                hs_prefetch_entry(st->wins[r + 4], hh[2 * (r + 4) + 1]);
            }
        }
        if (!fl_bind_row_valid(vsrc, r) || !fl_bind_row_valid(vdst, r)) {
            no_addr++;
            continue;
        }
        struct hs_rec rec = { .src = &src[r], .dst = &dst[r], .flag_weight = 1 };
        rec.src_host = is_host(st, rec.src);
        rec.dst_host = is_host(st, rec.dst);
        if (!rec.src_host && !rec.dst_host) {
            not_host++;
            continue;
        }
        uint8_t p = proto ? proto[r] : 0;
        rec.ports = !proto || p == 6 || p == 17 || p == 132 || p == 33 || p == 136;
        if (rec.ports) {
            rec.hsport = fl_hash64(sport ? sport[r] : 0);
            rec.hdport = fl_hash64(dport ? dport[r] : 0);
            rec.hports = fl_hash_mix64(rec.hsport ^ (rec.hdport << 1 | rec.hdport >> 63)) | 4;
            rec.hports_rev = fl_hash_mix64(rec.hdport ^ (rec.hsport << 1 | rec.hsport >> 63)) | 4;
        }
        rec.hsrc = hh[2 * r];
        rec.hdst = hh[2 * r + 1];
        if (flows) {
            rec.flow = true;
            if (split) {
                rec.fwd_packets = u64_at(fp, fl_bind_valid(bd, F_FWD_P), r);
                rec.fwd_bytes = u64_at(fb, fl_bind_valid(bd, F_FWD_B), r);
                rec.rev_packets = u64_at(rp, fl_bind_valid(bd, F_REV_P), r);
                rec.rev_bytes = u64_at(rb, fl_bind_valid(bd, F_REV_B), r);
            } else {   /* unidirectional flow records (IPFIX, NetFlow) */
                rec.fwd_packets = u64_at(pk, fl_bind_valid(bd, F_PACKETS), r);
                rec.fwd_bytes = u64_at(by, fl_bind_valid(bd, F_BYTES), r);
            }
            if (fflags) {
                rec.fwd_flags = fl_bind_row_valid(fl_bind_valid(bd, F_FWD_FLAGS), r) ? fflags[r] : 0;
                rec.rev_flags = rflags && fl_bind_row_valid(fl_bind_valid(bd, F_REV_FLAGS), r)
                                ? rflags[r] : 0;
            } else if (flags && fl_bind_row_valid(vflags, r)) {
                rec.fwd_flags = flags[r];
            }
            if (dur && fl_bind_row_valid(vdur, r) && dur[r] >= 0) {
                rec.dur = (uint64_t)dur[r];
                rec.has_dur = true;
            } else if (start && end && fl_bind_row_valid(vstart, r) && fl_bind_row_valid(vend, r)
                       && end[r] >= start[r]) {
                rec.dur = end[r] - start[r];
                rec.has_dur = true;
            }
        } else {   /* a packet */
            /* a sampled packet (1 in N) stands for N, as in aggregate.stats
             * and the flow meter's sampling_scale */
            uint32_t n = rate && fl_bind_row_valid(vrate, r) && rate[r] > 1 ? rate[r] : 1;
            rec.fwd_packets = n;
            rec.fwd_bytes = (fl_bind_row_valid(viplen, r) ? iplen[r] : 0) * (uint64_t)n;
            rec.fwd_flags = flags && p == 6 && fl_bind_row_valid(vflags, r) ? flags[r] : 0;
            rec.flag_weight = n;
        }
        struct fl_window *pane = st->panes ? st->wins[r] : NULL;
        if (pane) {   /* the longer windows get it when the pane closes */
            if (!((struct hs_win *)pane->state)->targets_set)
                hs_set_targets(st, pane, st->wins, rows, r);
            if ((rc = hs_apply(st, pane, &rec)) < 0)
                goto out;
            continue;
        }
        /* every window holding it (also when late for the shortest only) */
        for (uint32_t k = 0; k < nspec; k++)
            for (struct fl_window *w = st->wins[(size_t)k * rows + r];
                 fl_window_holds(w, st->times[r]); w = w->older)
                if ((rc = hs_apply(st, w, &rec)) < 0)
                    goto out;
    }
#undef COL
    if (not_host)
        fl_counter_add(ctx, "records_not_host", not_host);
    if (no_addr)
        fl_counter_add(ctx, "records_no_addr", no_addr);
    rc = fl_windows_advance(st->ws, b->t_max);
    if (rc == 0)
        rc = hs_flush(st);
out:
    hs_count(st);
    return rc;
}

static int hoststats_tick(struct fl_ctx *ctx, void *state, uint64_t now)
{
    struct hoststats *st = state;
    int rc = fl_windows_advance(st->ws, now);
    if (rc == 0)
        rc = hs_flush(st);
    hs_count(st);
    return rc;
}

static int hoststats_drain(struct fl_ctx *ctx, void *state)
{
    struct hoststats *st = state;
    int rc = fl_windows_close_all(st->ws);
    if (rc == 0)
        rc = hs_flush(st);
    hs_count(st);
    return rc;
}

static void hoststats_fini(struct fl_ctx *ctx, void *state)
{
    struct hoststats *st = state;
    fl_windows_free(&st->ws);
    fl_batch_release(&st->out);
    free(st->wins);
    free(st->times);
    free(st->cidr);
    free(st->seen);
    free(st->hash);
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_AGGREGATE,
    .name = "hoststats",
    .version = "0.1.0",
    .summary = "per-host flows, packets, bytes, duration, distinct peers and ports, TCP flags "
               "over several windows at once",
    .opts = hoststats_opts,
    .state_size = sizeof(struct hoststats),
    .describe = hoststats_describe,
    .init = hoststats_init,
    .process = hoststats_process,
    .tick = hoststats_tick,
    .drain = hoststats_drain,
    .fini = hoststats_fini,
);
