/* hoststats_bench.c: records per second of aggregate.hoststats on one
 * core (issue 20, "Performance"): packet records and flow records, with
 * the default four windows (10s, 30s, 1m, 5m), pushed through the plugin
 * harness in batches of 4096; the time is this thread's CPU time in the
 * stage's process() and
 * windows it closes (rows built), nothing else.
 *   build/hoststats_bench [million records, default 20] [hosts, default 10000]
 * Traffic: 4096 open connections from `hosts` clients in 10.0.0.0/8 to
 * 1/10 as many servers (a few popular: the square of a uniform pick), TCP
 * 80 %, UDP 20 %, client ports from the ephemeral range, about 30 records
 * per connection, at 1 M records/s of record time, so windows open and
 * close as in a live stream. Built with the tests (it
 * uses their harness). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fl_harness.h"

#define ROWS 4096u
#define NB 64u

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);   /* per core: the machine may be shared */
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static struct fl_addr v4(uint32_t ip)
{
    struct fl_addr a = { { 0 } };
    a.b[10] = a.b[11] = 0xff;
    a.b[12] = ip >> 24;
    a.b[13] = ip >> 16;
    a.b[14] = ip >> 8;
    a.b[15] = ip;
    return a;
}

/* Open connections: each record belongs to one picked at random, and
 * a connection is replaced by a new one after 30 records on average, so
 * a 5-tuple carries many packets as in real traffic (a fresh port per
 * packet would make every client a port scanner). */
#define CONNS 4096u

struct conn {
    struct fl_addr client, server;
    uint16_t cport, sport;
    uint8_t proto;
};

struct gen {
    uint64_t x, t;
    uint32_t hosts;
    struct conn c[CONNS];
    bool ready;
};

static uint64_t rnd(struct gen *g)
{
    g->x ^= g->x << 13;
    g->x ^= g->x >> 7;
    g->x ^= g->x << 17;
    return g->x;
}

static void conn_new(struct gen *g, struct conn *c)
{
    static const uint16_t ports[] = { 443, 80, 53, 22, 8080, 123, 25, 993 };
    uint64_t x = rnd(g);
    uint32_t nsrv = g->hosts / 10 ? g->hosts / 10 : 1;
    double u = (double)((x >> 20) % 1000000) / 1e6;
    c->client = v4(0x0a000000u + (uint32_t)(x % g->hosts));
    c->server = v4(0xc6120000u + (uint32_t)(u * u * nsrv));
    c->proto = (x >> 40) % 10 < 8 ? 6 : 17;
    c->cport = (uint16_t)(32768 + (x >> 48) % 28000);
    c->sport = ports[(x >> 36) % 8];
}

/* One record's endpoints: client -> server or back. */
static void pick(struct gen *g, struct fl_addr *s, struct fl_addr *d, uint16_t *sp, uint16_t *dp,
                 uint8_t *proto, bool *reply)
{
    if (!g->ready) {
        for (uint32_t i = 0; i < CONNS; i++)
            conn_new(g, &g->c[i]);
        g->ready = true;
    }
    uint64_t x = rnd(g);
    struct conn *c = &g->c[x % CONNS];
    if ((x >> 32) % 30 == 0)
        conn_new(g, c);
    *proto = c->proto;
    *reply = (x >> 44) & 1;
    if (*reply) {
        *s = c->server; *d = c->client; *sp = c->sport; *dp = c->cport;
    } else {
        *s = c->client; *d = c->server; *sp = c->cport; *dp = c->sport;
    }
}

static void fill_packets(struct fl_batch *b, struct gen *g)
{
    for (uint32_t r = 0; r < ROWS; r++) {
        bool reply;
        pick(g, &FL_COL(b, 1, struct fl_addr)[r], &FL_COL(b, 2, struct fl_addr)[r],
             &FL_COL(b, 3, uint16_t)[r], &FL_COL(b, 4, uint16_t)[r], &FL_COL(b, 5, uint8_t)[r],
             &reply);
        FL_COL(b, 0, uint64_t)[r] = g->t += 1000;   /* 1 M records/s */
        FL_COL(b, 6, uint32_t)[r] = 40 + (uint32_t)(rnd(g) % 1460);
        FL_COL(b, 7, uint8_t)[r] = FL_COL(b, 5, uint8_t)[r] == 6 ? (reply ? 0x18 : 0x10) : 0;
    }
    b->rows = ROWS;
    b->t_min = FL_COL(b, 0, uint64_t)[0];
    b->t_max = FL_COL(b, 0, uint64_t)[ROWS - 1];
}

static void fill_flows(struct fl_batch *b, struct gen *g)
{
    for (uint32_t r = 0; r < ROWS; r++) {
        bool reply;
        pick(g, &FL_COL(b, 3, struct fl_addr)[r], &FL_COL(b, 4, struct fl_addr)[r],
             &FL_COL(b, 5, uint16_t)[r], &FL_COL(b, 6, uint16_t)[r], &FL_COL(b, 2, uint8_t)[r],
             &reply);
        uint64_t x = rnd(g);
        uint64_t fp = 1 + x % 20, rp = (x >> 8) % 20;
        FL_COL(b, 0, uint64_t)[r] = g->t - (x % 30000) * 1000000;
        FL_COL(b, 1, uint64_t)[r] = g->t += 1000;
        FL_COL(b, 7, int64_t)[r] = (int64_t)(FL_COL(b, 1, uint64_t)[r] - FL_COL(b, 0, uint64_t)[r]);
        FL_COL(b, 8, uint64_t)[r] = fp + rp;
        FL_COL(b, 9, uint64_t)[r] = (fp + rp) * 500;
        FL_COL(b, 10, uint64_t)[r] = fp;
        FL_COL(b, 11, uint64_t)[r] = fp * 300;
        FL_COL(b, 12, uint64_t)[r] = rp;
        FL_COL(b, 13, uint64_t)[r] = rp * 700;
        FL_COL(b, 14, uint8_t)[r] = FL_COL(b, 2, uint8_t)[r] == 6 ? 0x1b : 0;
        FL_COL(b, 15, uint8_t)[r] = FL_COL(b, 2, uint8_t)[r] == 6 ? 0x1b : 0;
        FL_COL(b, 16, uint8_t)[r] = FL_COL(b, 2, uint8_t)[r] == 6 ? 0x12 : 0;
    }
    b->rows = ROWS;
    b->t_min = FL_COL(b, 1, uint64_t)[0];
    b->t_max = FL_COL(b, 1, uint64_t)[ROWS - 1];
}

static void one(const char *what, const struct fl_col_def *cols, size_t ncols,
                void (*fill)(struct fl_batch *, struct gen *), uint64_t total, uint32_t hosts,
                const char *with)
{
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_batch *in[NB];
    struct gen g = { .x = 88172645463325252ull, .t = 1767225600000000000ull, .hosts = hosts };
    struct fl_harness *h;
    if (fl_schema_intern(ctx, cols, ncols, sizeof(cols[0]), &s) < 0
        || fl_harness_new("aggregate.hoststats", with, s, &h) < 0)
        exit(1);
    for (uint32_t i = 0; i < NB; i++)
        if (fl_batch_new(ctx, s, ROWS, &in[i]) < 0)
            exit(1);
    double busy = 0;
    uint64_t done = 0;
    while (done < total) {
        for (uint32_t i = 0; i < NB; i++)
            fill(in[i], &g);   /* new times and endpoints, outside the clock */
        double t0 = now();
        for (uint32_t i = 0; i < NB && done < total; i++, done += ROWS)
            if (fl_harness_push(h, in[i]) < 0)
                exit(1);
        busy += now() - t0;
    }
    double t0 = now();
    if (fl_harness_drain(h) < 0)
        exit(1);
    busy += now() - t0;
    printf("%-8s %7u hosts  %6.2f M records/s  (%llu rows, %llu evicted)  %s\n", what, hosts,
           done / busy / 1e6, (unsigned long long)fl_harness_out_rows(h),
           (unsigned long long)fl_harness_counter(h, "hosts_evicted"), with ? with : "");
    for (uint32_t i = 0; i < NB; i++)
        fl_batch_release(&in[i]);
    fl_harness_destroy(&h);
    fl_test_ctx_destroy(&ctx);
}

int main(int argc, char **argv)
{
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    uint64_t total = (argc > 1 ? strtoull(argv[1], NULL, 10) : 20) * 1000000ull;
    uint32_t hosts = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 10000;
    static const struct fl_col_def pcols[] = {
        { "ts", FL_T_TS }, { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR },
        { "src_port", FL_T_U16 }, { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 },
        { "ip_len", FL_T_U32 }, { "tcp_flags", FL_T_U8 },
    };
    static const struct fl_col_def fcols[] = {
        { "flow_start", FL_T_TS }, { "flow_end", FL_T_TS }, { "proto", FL_T_U8 },
        { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 },
        { "dst_port", FL_T_U16 }, { "duration", FL_T_DUR }, { "packets", FL_T_U64 },
        { "bytes", FL_T_U64 }, { "fwd_packets", FL_T_U64 }, { "fwd_bytes", FL_T_U64 },
        { "rev_packets", FL_T_U64 }, { "rev_bytes", FL_T_U64 }, { "tcp_flags", FL_T_U8 },
        { "fwd_tcp_flags", FL_T_U8 }, { "rev_tcp_flags", FL_T_U8 },
    };
    printf("%llu M records per run, batches of %u, one core\n",
           (unsigned long long)(total / 1000000), ROWS);
    one("packets", pcols, 8, fill_packets, total, hosts, NULL);
    one("packets", pcols, 8, fill_packets, total, hosts, "{windows: [1m]}");
    one("packets", pcols, 8, fill_packets, total, hosts, "{hosts: [10.0.0.0/8]}");
    one("flows", fcols, 17, fill_flows, total, hosts, NULL);
    return 0;
}
