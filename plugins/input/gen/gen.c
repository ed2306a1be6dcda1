/* gen.c: input.gen, the synthetic traffic generator: its options, the
 * plugin callbacks, and the scheduler that decides when each flow sends.
 *
 * `concurrency` slots each hold one open conversation; when one ends, the
 * slot starts the next, until `flows` have been started. Each flow's next
 * packet is due a random gap after its last one, with a mean of
 * (open flows / rate), so the trace runs at about `rate` packets per second
 * of simulated time. Due
 * packets sit in a timing wheel of buckets `width` ns wide: popping the
 * next packet and scheduling the one after are O(1), so a million open
 * flows cost no more per packet than ten. A packet's timestamp is
 * max(due, previous timestamp), so timestamps never go back and lag their
 * due time by less than one bucket; gaps are drawn below
 * max_gap - 2 * width (ICMP: half that, so that a flow meter keying echo
 * requests apart from replies, as nfdump does and aggregate.flowmeter with
 * icmp_pairs: false, and so seeing two gaps as one, stays below it too),
 * so every gap within a flow-meter flow stays below max_gap.
 *
 * Each frame is built straight into the pcap write buffer and, when `emit`
 * is on, decoded from there into the current packet batch by the core's
 * decoder, exactly as input.pcap would decode the file. No allocation per
 * packet. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gen.h"

#define GEN_WRITE_BUF (256u << 10)    /* pcap write buffer: stays in L2, so the kernel copies from cache */
#define GEN_REC_HDR 16u               /* pcap record header */
#define GEN_FEEDBACK_EVERY 1024u      /* packets between rate corrections */
#define GEN_PORTS_PER_HOST 28232u     /* see gen_flow.c */
#define GEN_MAX_MEAN (1u << 24)       /* packets per flow on average */
#define GEN_NOFILE_ROOM 128u          /* >= every header stack (98 bytes) */

static const struct fl_opt gen_opts[] = {
    { .name = "packets", .type = FL_OPT_UINT, .offset = offsetof(struct gen, packets),
      .def = "100000", .min = "1", .max = "1000000000000", .unit = "packets",
      .doc = "total packets to generate" },
    { .name = "flows", .type = FL_OPT_UINT, .offset = offsetof(struct gen, flows),
      .def = "0", .unit = "flows",
      .doc = "conversations to generate (TCP connections, UDP exchanges, ping sessions); "
             "0 = packets / 30, at least 2 x concurrency, at most packets" },
    { .name = "concurrency", .type = FL_OPT_UINT, .offset = offsetof(struct gen, concurrency),
      .def = "100", .min = "1", .max = "4194304", .unit = "flows",
      .doc = "conversations open at once; a finished one is replaced by a new one" },
    { .name = "seed", .type = FL_OPT_UINT, .offset = offsetof(struct gen, seed), .def = "1",
      .doc = "PRNG seed: the same options give byte-identical output" },
    { .name = "ipv6", .type = FL_OPT_FLOAT, .offset = offsetof(struct gen, ipv6),
      .def = "0.2", .min = "0", .max = "1", .doc = "fraction of conversations over IPv6" },
    { .name = "vlan", .type = FL_OPT_FLOAT, .offset = offsetof(struct gen, vlan),
      .def = "0.1", .min = "0", .max = "1",
      .doc = "fraction of client hosts behind an 802.1Q tag (so, about, of conversations)" },
    { .name = "rate", .type = FL_OPT_FLOAT, .offset = offsetof(struct gen, rate),
      .def = "100000", .min = "1", .max = "1000000000", .unit = "packets/s",
      .doc = "average packets per second of simulated time: sets the timestamps" },
    { .name = "max_gap", .type = FL_OPT_DURATION, .offset = offsetof(struct gen, max_gap),
      .def = "30s", .min = "1ms",
      .doc = "every gap between two packets of one flow is shorter than this" },
    { .name = "start", .type = FL_OPT_STRING, .offset = offsetof(struct gen, start),
      .def = "2026-01-01T00:00:00Z", .doc = "simulated time the trace starts at (RFC 3339)" },
    { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(struct gen, path),
      .doc = "write a pcap here (ns timestamps, Ethernet) and the ground truth to <path>.truth.json" },
    { .name = "overwrite", .type = FL_OPT_BOOL, .offset = offsetof(struct gen, overwrite),
      .def = "false", .doc = "replace an existing `path` (otherwise it is refused)" },
    { .name = "snaplen", .type = FL_OPT_UINT, .offset = offsetof(struct gen, snaplen),
      .def = "65535", .min = "128", .max = "262144", .unit = "bytes",
      .doc = "bytes of each frame kept in the pcap (all headers always fit)" },
    { .name = "hosts", .type = FL_OPT_UINT, .offset = offsetof(struct gen, hosts),
      .def = "0", .max = "16777214", .unit = "hosts",
      .doc = "client hosts; 0 = flows / 8 (a host has at most 28232 flows: one per ephemeral port)" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct gen, batch_size),
      .def = "1024", .min = "1", .max = "65536", .unit = "rows", .doc = "packets per emitted batch" },
    { .name = "emit", .type = FL_OPT_BOOL, .offset = offsetof(struct gen, emit), .def = "true",
      .doc = "decode each frame and emit packet batches; false: only write `path` (faster)" },
    { 0 }
};

/* Fill in derived option values (flows, hosts) and check the combination.
 * Idempotent: describe and init both call it. */
static int gen_derive(struct fl_ctx *ctx, struct gen *g)
{
    int rc = 0;
    uint64_t ns;

    if (g->flows == 0) {
        uint64_t f = g->packets / 30, two = 2 * g->concurrency;
        g->flows = f > two ? f : two;
        if (g->flows > g->packets)
            g->flows = g->packets;
    }
    if (g->flows > g->packets)
        rc = fl_diag(ctx, "flows", "%llu flows need at least as many packets (packets: %llu)",
                     (unsigned long long)g->flows, (unsigned long long)g->packets);
    else if (g->packets / g->flows > GEN_MAX_MEAN)
        /* flow sizes are drawn up to 100 x the mean and kept in 32 bits */
        rc = fl_diag(ctx, "packets", "%llu packets for %llu flows: at most %u per flow on average",
                     (unsigned long long)g->packets, (unsigned long long)g->flows, GEN_MAX_MEAN);
    uint64_t need = (g->flows + GEN_PORTS_PER_HOST - 1) / GEN_PORTS_PER_HOST;
    if (g->hosts == 0) {
        g->hosts = g->flows / 8;
        if (g->hosts < need)
            g->hosts = need;
        if (g->hosts < 1)
            g->hosts = 1;
        if (g->hosts > 16777214)
            g->hosts = 16777214;
    }
    if (g->hosts < need)
        rc = fl_diag(ctx, "hosts", "%llu hosts cannot hold %llu flows with distinct ports "
                     "(at most %u each): use at least %llu", (unsigned long long)g->hosts,
                     (unsigned long long)g->flows, GEN_PORTS_PER_HOST, (unsigned long long)need);
    if (gen_parse_time(g->start, &ns) < 0)
        rc = fl_diag(ctx, "start", "\"%s\" is not an RFC 3339 time such as 2026-01-01T00:00:00Z "
                     "(1970 to 2500)", g->start ? g->start : "");
    /* pcap keeps seconds in 32 bits: a file must end before 2106 (twice
     * the expected length, as slack for the ramp at both ends) */
    else if (g->path && ns / 1000000000u + 2 * (double)g->packets / g->rate >= 4294967296.0)
        rc = fl_diag(ctx, "packets", "%llu packets at %g/s from %s run past 2106, the end of pcap's "
                     "32-bit time: raise rate or start earlier", (unsigned long long)g->packets,
                     g->rate, g->start);
    return rc;
}

static int gen_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                        size_t n_in, struct fl_schema_decl *const *out)
{
    struct gen *g = state;
    int rc = gen_derive(ctx, g);
    if (rc < 0 || (g->path && (rc = fl_path_declare(ctx, "path", g->path, FL_PATH_WRITE
                                   | (g->overwrite ? FL_PATH_KEEPS_EXISTING : 0))) < 0))
        return rc;
    return fl_packet_schema(ctx, &out[0]->schema);
}

static uint64_t gen_pow2(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

/* 64-bit threshold for a probability (p >= 1 is handled by the callers). */
static uint64_t gen_thr(double p)
{
    return p <= 0 ? 0 : p >= 1 ? UINT64_MAX : (uint64_t)(p * 18446744073709551616.0);
}

static uint64_t gen_gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The gap before a flow's next packet. */
static inline uint64_t gen_gap(struct gen *g, enum gen_gap kind, bool icmp)
{
    uint64_t mean = ((g->active ? g->active : 1) * g->period * g->corr) >> 16;
    uint64_t r32 = gen_rand(&g->rng) >> 32, lo = 0, span;
    g->gapn[kind]++;
    switch (kind) {
    case GEN_GAP_TURN:  lo = mean / 8; span = mean - lo; break;   /* a response: [M/8, M) */
    case GEN_GAP_BURST:                                           /* back to back: [0, M/2) */
    case GEN_GAP_CLOSE: span = mean / 2; break;
    default:            span = 2 * mean; break;                   /* [0, 2M) */
    }
    uint64_t gap = lo + (uint64_t)(((unsigned __int128)span * r32) >> 32);
    uint64_t cap = icmp ? g->cap_icmp : g->cap;
    if (kind == GEN_GAP_CLOSE && cap > GEN_CLOSE_MAX_NS)
        cap = GEN_CLOSE_MAX_NS;
    return gap < cap ? gap : cap;
}

static inline void gen_wheel_put(struct gen *g, uint32_t idx)
{
    struct gen_flow *f = &g->flow[idx];
    uint64_t b = (f->due >> g->wshift) & g->wheel_mask;
    f->next = g->wheel[b];
    g->wheel[b] = idx;
}

static void gen_free(struct gen *g)
{
    free(g->flow);
    free(g->wheel);
    free(g->pad);
    free(g->pad_sum);
    free(g->buf);
    g->flow = NULL;
    g->wheel = NULL;
    g->pad = g->buf = NULL;
    g->pad_sum = NULL;
    fl_decoder_destroy(&g->dec);
}

static int gen_init(struct fl_ctx *ctx, void *state)
{
    struct gen *g = state;
    int rc;

    if ((rc = gen_derive(ctx, g)) < 0)
        return rc;
    gen_parse_time(g->start, &g->start_ns);
    uint64_t slots = g->concurrency < g->flows ? g->concurrency : g->flows;
    double period = 1e9 / g->rate;
    g->period = period < 1 ? 1 : (uint64_t)llround(period);
    /* a power of two, so a bucket is a shift away */
    uint64_t wmax = g->max_gap / 16 < g->period ? g->max_gap / 16 : g->period;
    for (g->wshift = 0; (2ull << g->wshift) <= wmax; g->wshift++)
        ;
    g->width = 1ull << g->wshift;
    /* Gaps are drawn up to twice the scaled mean (about 3 plain mean gaps
     * for the default mix, see gen_one); the wheel spans 4 and cuts longer
     * ones, so it has at most about 4 x slots buckets. */
    g->cap = g->max_gap - 2 * g->width - 1;
    uint64_t span = 4 * slots * g->period + 4 * g->width;
    if (span > g->cap)
        span = g->cap;
    uint64_t nb = gen_pow2(span / g->width + 2);
    if ((nb - 2) * g->width < g->cap)
        g->cap = (nb - 2) * g->width;
    g->cap_icmp = g->cap / 2;
    g->wheel_mask = nb - 1;
    g->ipv6_thr = gen_thr(g->ipv6);
    g->vlan_thr = gen_thr(g->vlan);
    g->n_hosts = (uint32_t)g->hosts;
    g->n_servers = (uint32_t)(g->flows / 64 + 16 > 131070 ? 131070 : g->flows / 64 + 16);
    g->corr = 1u << 16;
    g->unassigned = g->packets;

    uint64_t x = g->seed;
    for (int i = 0; i < 4; i++)
        g->rng.s[i] = gen_splitmix(&x);
    /* client hosts in a seeded order, so flow k's host is not simply k */
    g->host_add = gen_below(&g->rng, g->n_hosts);
    g->host_mul = gen_below(&g->rng, g->n_hosts) | 1;
    while (gen_gcd(g->host_mul, g->n_hosts) != 1)
        g->host_mul += 2;

    rc = -FL_ENOMEM;
    if (!(g->flow = calloc(slots, sizeof(*g->flow))) || !(g->wheel = malloc(nb * sizeof(uint32_t))))
        goto fail;
    memset(g->wheel, 0xff, nb * sizeof(uint32_t));   /* GEN_NIL */
    g->buf_cap = g->path ? GEN_WRITE_BUF : GEN_REC_HDR + GEN_FRAME_MAX;
    if (!(g->buf = malloc(g->buf_cap)) || gen_pad_init(g) < 0)
        goto fail;
    if (g->emit) {
        struct fl_decoder_opts dopts = { 0 };
        if ((rc = fl_decoder_new(&dopts, sizeof(dopts), &g->dec)) < 0 || (rc = fl_packet_schema(ctx, &g->schema)) < 0)
            goto fail;
    }
    g->active = slots;
    for (uint32_t i = 0; i < slots; i++) {
        struct gen_flow *f = &g->flow[i];
        gen_flow_start(g, f, 0);
        f->due = gen_gap(g, GEN_GAP_NORMAL, f->kind == GEN_K_ICMP_ECHO);
        gen_wheel_put(g, i);
    }
    return 0;
fail:
    FL_LOG_ERROR(ctx, "cannot set up the generator: %s", fl_strerror(rc));
    gen_free(g);
    return rc;
}

static int gen_start(struct fl_ctx *ctx, void *state)
{
    struct gen *g = state;
    return g->path ? gen_pcap_open(ctx, g) : 0;
}

/* The connection state a flow meter reports for a finished session
 * (Zeek's conn_state, as aggregate.flowmeter computes it). */
static enum gen_cs gen_conn_state(const struct gen_flow *f, enum gen_proto pc)
{
    switch (pc) {
    case GEN_P_TCP:
        if (f->n == 1)
            return GEN_CS_S0;       /* a lone SYN */
        if (f->n == 2)
            return GEN_CS_REJ;      /* SYN, RST/ACK */
        if (f->n == 3)
            return GEN_CS_RSTO;     /* SYN, SYN/ACK, the client's RST */
        if (f->flags & GEN_F_RST_END)
            return (f->flags & GEN_F_SRV_CLOSE) ? GEN_CS_RSTR : GEN_CS_RSTO;
        return (f->flags & GEN_F_OPEN_END) ? GEN_CS_S1 : GEN_CS_SF;
    case GEN_P_UDP:
        return (f->flags & GEN_F_DIR0) && (f->flags & GEN_F_DIR1) ? GEN_CS_SF : GEN_CS_S0;
    default:
        return GEN_CS_OTH;          /* ICMP, as Zeek */
    }
}

/* Account a packet of flow f at t in the ground truth. A session is one
 * biflow: TCP connection, UDP exchange, or ping (request and reply pair,
 * as aggregate.flowmeter keys them with icmp_pairs). */
static inline void gen_account(struct gen *g, struct gen_flow *f, const struct gen_pkt *p, uint64_t t,
                               uint32_t ip_len, uint32_t wire, uint32_t caplen)
{
    struct gen_truth *tr = &g->truth;
    enum gen_proto pc = gen_flow_proto(f);
    unsigned v = (f->flags & GEN_F_V6) ? 1 : 0;

    tr->packets++;
    tr->bytes += ip_len;
    tr->frames_bytes += wire;
    tr->captured_bytes += caplen;
    tr->payload_bytes += p->pay_len;
    tr->proto[pc].packets++;
    tr->proto[pc].bytes += ip_len;
    tr->ver[v].packets++;
    tr->ver[v].bytes += ip_len;
    tr->vlan_packets += f->vlan_on;
    if (!(f->flags & GEN_F_SEEN)) {
        f->flags |= GEN_F_SEEN;
        f->first = t;
        if (++g->open > tr->max_active)
            tr->max_active = g->open;
        tr->biflows++;
        tr->proto[pc].flows++;
        tr->ver[v].flows++;
        tr->vlan_flows += f->vlan_on;
    } else if (t - f->last > tr->max_gap) {
        tr->max_gap = t - f->last;
    }
    f->flags |= p->dir ? GEN_F_DIR1 : GEN_F_DIR0;
    f->last = t;
    if (f->left == 0) {
        g->open--;
        tr->sessions++;
        if (t - f->first > tr->max_duration)
            tr->max_duration = t - f->first;
        if (pc == GEN_P_TCP)
            (*(f->n <= 3 ? &tr->tcp_short : (f->flags & GEN_F_RST_END) ? &tr->tcp_rst
               : (f->flags & GEN_F_OPEN_END) ? &tr->tcp_open : &tr->tcp_fin))++;
        tr->conn_state[gen_conn_state(f, pc)]++;
    }
}

/* Generate one packet: pop the next due flow, write its frame into the
 * buffer, decode it into b (if any), schedule the flow's next packet. */
static int gen_one(struct fl_ctx *ctx, struct gen *g, struct fl_batch *b)
{
    uint32_t idx;
    int rc;

    while ((idx = g->wheel[g->bucket & g->wheel_mask]) == GEN_NIL)
        g->bucket++;
    struct gen_flow *f = &g->flow[idx];
    g->wheel[g->bucket & g->wheel_mask] = f->next;
    /* The flows are far apart in memory: fetch the one after this while
     * this one is built (the head of this bucket, or of one of the next
     * few; a miss here otherwise costs more than building the frame). */
    uint32_t nx = f->next;
    for (uint64_t k = 1; nx == GEN_NIL && k <= 8; k++)
        nx = g->wheel[(g->bucket + k) & g->wheel_mask];
    if (nx != GEN_NIL)
        __builtin_prefetch(&g->flow[nx]);
    uint64_t t = f->due > g->now ? f->due : g->now;
    g->now = t;

    struct gen_pkt p;
    gen_flow_step(g, f, &p);
    p.ipid = f->ipid[p.dir]++;
    if (!p.pay && p.pay_len && f->kind != GEN_K_ICMP_ECHO)
        p.pay_off = (uint16_t)(2 * gen_below(&g->rng, (GEN_PAD_BYTES - p.pay_len) / 2));
    /* Draw the next gap now and fetch its bucket while the frame is built:
     * the insert below would otherwise wait for a cache miss. */
    uint64_t next_due = 0;
    if (f->left) {
        next_due = t + gen_gap(g, (enum gen_gap)p.gap, f->kind == GEN_K_ICMP_ECHO);
        __builtin_prefetch(&g->wheel[(next_due >> g->wshift) & g->wheel_mask], 1);
    }

    if (g->buf_len + GEN_REC_HDR + GEN_FRAME_MAX > g->buf_cap && (rc = gen_pcap_flush(ctx, g)) < 0)
        return rc;
    uint8_t *rec = g->buf + g->buf_len, *frame = rec + GEN_REC_HDR;
    uint64_t abs = g->start_ns + t;
    /* Without a file nobody reads the filler (the decoder stops at the L4
     * header): build only the first GEN_NOFILE_ROOM bytes. */
    uint32_t room = g->fd_open ? (uint32_t)g->snaplen : GEN_NOFILE_ROOM;
    uint32_t ip_len, wire = gen_frame_build(g, f, &p, abs, frame, room, &ip_len);
    uint32_t caplen = wire < g->snaplen ? wire : (uint32_t)g->snaplen;
    uint32_t hdr[4] = { (uint32_t)(abs / 1000000000u), (uint32_t)(abs % 1000000000u), caplen, wire };
    memcpy(rec, hdr, sizeof(hdr));
    g->buf_len += GEN_REC_HDR + caplen;
    if (g->emitted++ == 0)
        g->truth.first_ts = abs;
    g->truth.last_ts = abs;
    gen_account(g, f, &p, t, ip_len, wire, caplen);
    if (b)
        fl_decode(g->dec, FL_DLT_EN10MB, abs, frame, caplen, wire, b);

    if (f->left) {
        f->due = next_due;
        gen_wheel_put(g, idx);
    } else if (g->started < g->flows) {
        gen_flow_start(g, f, t);
        /* +1: a slot's next flow starts strictly after its last one ended */
        f->due = t + 1 + gen_gap(g, GEN_GAP_NORMAL, f->kind == GEN_K_ICMP_ECHO);
        gen_wheel_put(g, idx);
    } else {
        g->active--;
    }
    /* Responses and bursts come sooner than the mean: scale all gaps by
     * the inverse of the mean multiplier drawn so far (NORMAL 1, TURN 9/16,
     * BURST 1/4), so the trace runs at `rate` whatever the traffic mix. */
    if (g->emitted % GEN_FEEDBACK_EVERY == 0) {
        uint64_t burst = g->gapn[GEN_GAP_BURST] + g->gapn[GEN_GAP_CLOSE];
        uint64_t n = g->gapn[GEN_GAP_NORMAL] + g->gapn[GEN_GAP_TURN] + burst;
        uint64_t w = 16 * g->gapn[GEN_GAP_NORMAL] + 9 * g->gapn[GEN_GAP_TURN] + 4 * burst;
        if (w)
            g->corr = (uint32_t)((n << 20) / w);
    }
    return 0;
}

static int gen_run(struct fl_ctx *ctx, void *state)
{
    struct gen *g = state;
    struct fl_batch *b = NULL;
    int rc = 0;

    /* `active` only runs out early if flow sizes did not add up: never loop
     * on an empty wheel */
    while (g->emitted < g->packets && g->active && !fl_stopping(ctx)) {
        if (g->emit && !b && (rc = fl_batch_new(ctx, g->schema, (uint32_t)g->batch_size, &b)) < 0)
            goto fail;
        /* without a batch, check for a stop every 64 Ki packets */
        uint64_t end = g->emitted + 65536;
        while (g->emitted < g->packets && g->active && (b ? b->rows < b->cap : g->emitted < end))
            if ((rc = gen_one(ctx, g, b)) < 0)
                goto fail;
        if (b) {
            fl_decoder_flush(g->dec, ctx);
            if ((rc = fl_emit_keep(ctx, &b)) == -FL_ESTOP)
                break;
            if (rc < 0)
                goto fail;
        } else {
            fl_watermark(ctx, g->start_ns + g->now);
        }
        fl_progress_records(ctx, g->emitted, g->packets);
    }
    fl_batch_release(&b);   /* kept by fl_emit_keep, or left by a stop */
    /* Stopped early: the file and its truth still describe what was written. */
    g->truth.complete = g->emitted == g->packets;
    fl_watermark(ctx, g->start_ns + g->now);
    if ((rc = gen_pcap_close(ctx, g)) < 0)
        goto fail;
    if (g->path && (rc = gen_truth_write(ctx, g)) < 0)
        goto fail;
    return 0;
fail:
    fl_batch_release(&b);
    return rc;
}

static void gen_fini(struct fl_ctx *ctx, void *state)
{
    struct gen *g = state;
    if (g->fd_open)
        close(g->fd);
    g->fd_open = false;
    gen_free(g);
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_INPUT,
    .name = "gen",
    .version = "0.1.0",
    .summary = "synthetic traffic (TCP, UDP, ICMP; IPv4/IPv6; VLAN) with ground truth",
    .opts = gen_opts,
    .state_size = sizeof(struct gen),
    .describe = gen_describe,
    .init = gen_init,
    .start = gen_start,
    .run = gen_run,
    .fini = gen_fini,
);
