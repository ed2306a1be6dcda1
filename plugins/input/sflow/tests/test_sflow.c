/* test_sflow.c: input.sflow through the harness, as a pipeline runs it.
 * - Every sFlow capture of ../shared/data: flow and counter sample counts
 *   as its README states them and as tshark's sFlow dissector counts them.
 * - Against tshark field by field: flow sample sequence numbers, sampling
 *   rates, sample pools, input interfaces and the sampled packets' IP
 *   addresses; counter samples' interface indexes and octet counters.
 * - Datagrams built here (a capture of raw IPv4 frames): IPv6 agent,
 *   sub-agent, sampled IPv4/IPv6/Ethernet records, extended switch/router/
 *   gateway, unknown records and samples, VLAN/LAG/processor counters,
 *   sequence loss, counter rates with 32- and 64-bit wraps and a restart,
 *   raw datagram files.
 * - Hostile input: every cut point, lengths past the end, huge counts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/record.h>
#include "fl_harness.h"

static char tmp_dir[256];
static const char *data_dir;

static struct fl_harness *run_file(const char *path, const char *extra)
{
    char yaml[2048];
    struct fl_harness *h = NULL;
    snprintf(yaml, sizeof yaml, "{path: \"%s\"%s%s}", path, extra ? ", " : "", extra ? extra : "");
    assert_int_equal(fl_harness_new("input.sflow", yaml, NULL, &h), 0);
    assert_int_equal(fl_harness_run(h), 0);
    return h;
}

static uint64_t cnt(struct fl_harness *h, const char *name) { return fl_harness_counter(h, name); }

static uint64_t port_rows(struct fl_harness *h, const char *port)
{
    uint64_t n = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++)
        if (strcmp(fl_harness_out_port(h, i), port) == 0)
            n += fl_harness_out(h, i)->rows;
    return n;
}

/* Row `row` (over all batches of port) : its batch and index. */
static const struct fl_batch *row_at(struct fl_harness *h, const char *port, uint64_t row,
                                     uint32_t *r)
{
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        const struct fl_batch *b = fl_harness_out(h, i);
        if (strcmp(fl_harness_out_port(h, i), port) != 0)
            continue;
        if (row < b->rows) {
            *r = (uint32_t)row;
            return b;
        }
        row -= b->rows;
    }
    fail_msg("no row %llu on %s", (unsigned long long)row, port);
    return NULL;
}

/* A cell as an unsigned number (u8..u64, bool); -1 when missing. */
static int64_t val(struct fl_harness *h, const char *port, uint64_t row, const char *col)
{
    uint32_t r;
    const struct fl_batch *b = row_at(h, port, row, &r);
    int c = fl_schema_find(b->schema, col);
    if (c < 0)
        fail_msg("no column %s", col);
    if (!fl_batch_is_valid(b, (uint32_t)c, r))
        return -1;
    switch (b->schema->cols[c]->type) {
    case FL_T_U8: case FL_T_BOOL: return FL_COL(b, c, uint8_t)[r];
    case FL_T_U16: return FL_COL(b, c, uint16_t)[r];
    case FL_T_U32: return FL_COL(b, c, uint32_t)[r];
    case FL_T_U64: case FL_T_TS: case FL_T_I64: case FL_T_DUR: return FL_COL(b, c, int64_t)[r];
    case FL_T_F64: return (int64_t)(FL_COL(b, c, double)[r] * 1000);   /* milli-units */
    default: fail_msg("column %s: not a number", col);
    }
    return 0;
}

/* A cell as text: addresses (IPv4 without mapping), macs, strings. */
static const char *text(struct fl_harness *h, const char *port, uint64_t row, const char *col)
{
    static char buf[4096];
    uint32_t r;
    const struct fl_batch *b = row_at(h, port, row, &r);
    int c = fl_schema_find(b->schema, col);
    assert_true(c >= 0);
    if (!fl_batch_is_valid(b, (uint32_t)c, r))
        return "-";
    if (b->schema->cols[c]->type == FL_T_ADDR) {
        const uint8_t *a = FL_COL(b, c, struct fl_addr)[r].b;
        if (fl_addr_is_v4(&FL_COL(b, c, struct fl_addr)[r]))
            snprintf(buf, sizeof buf, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        else
            snprintf(buf, sizeof buf, "%02x%02x::%02x%02x", a[0], a[1], a[14], a[15]);
    } else if (b->schema->cols[c]->type == FL_T_MAC) {
        const uint8_t *m = (const uint8_t *)b->data[c] + 6 * (size_t)r;
        snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                 m[5]);
    } else {
        struct fl_span s = FL_COL(b, c, struct fl_span)[r];
        snprintf(buf, sizeof buf, "%.*s", (int)s.len, fl_batch_bytes(b, s));
    }
    return buf;
}

/* ---- the shared files ----------------------------------------------------- */

static bool have_tshark(void)
{
    if (system("command -v tshark >/dev/null 2>&1") == 0)
        return true;
    print_message("tshark not found: the comparison with tshark is skipped\n");
    return false;
}

/* tshark's fields, one line per datagram, comma-joined per field; the
 * values of field k concatenated (comma-separated) over the file. */
static char *tshark_col(const char *path, const char *field)
{
    char cmd[2048], line[65536];
    size_t cap = 1 << 20, n = 0;
    char *out = calloc(1, cap);
    FILE *p;
    snprintf(cmd, sizeof cmd, "tshark -r '%s' -d udp.port==6343,sflow -Y sflow -T fields "
             "-e %s 2>/dev/null", path, field);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (!*line)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", line);
    }
    assert_int_equal(pclose(p), 0);
    return out;
}

static uint64_t count_in(const char *list, unsigned a, unsigned b)
{
    uint64_t n = 0;
    for (const char *s = list; *s;) {
        unsigned v = (unsigned)strtoul(s, (char **)&s, 10);
        n += v == a || v == b;
        s += *s == ',';
    }
    return n;
}

static void test_shared_files(void **state)
{
    /* ../shared/data/README.md: flow and counter samples per file (the
     * segv capture's datagram is cut by its UDP length to 8 bytes: tshark
     * finds it malformed, and so do we) */
    static const struct { const char *file; uint64_t flows, counters, unknown_ctr; } t[] = {
        { "sflow/ndpi_sflow.pcap", 1, 8, 0 },
        { "sflow/tcpdump_sflow-print-v6.pcap", 13, 48, 0 },
        { "sflow/tcpdump_sflow_expanded.pcap", 1, 0, 0 },
        { "sflow/tcpdump_sflow_multiple_counter_30_pdus.pcap", 0, 144, 12 },
        { "sflow/tcpdump_sflow_print-segv.pcap", 0, 0, 0 },
    };
    char path[1024];
    bool ts = have_tshark();
    (void)state;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct fl_harness *h;
        snprintf(path, sizeof path, "%s/%s", data_dir, t[i].file);
        h = run_file(path, NULL);
        print_message("%s: %llu flow rows, %llu counter rows\n", t[i].file,
                      (unsigned long long)port_rows(h, "out"),
                      (unsigned long long)port_rows(h, "counters"));
        assert_int_equal(port_rows(h, "out"), t[i].flows);
        assert_int_equal(cnt(h, "flow_samples"), t[i].flows);
        assert_int_equal(port_rows(h, "counters"), t[i].counters);
        assert_int_equal(cnt(h, "unknown_counter_record"), t[i].unknown_ctr);
        if (ts) {
            char *types = tshark_col(path, "sflow_245.sampletype");
            assert_int_equal(count_in(types, 1, 3), port_rows(h, "out"));
            assert_int_equal(count_in(types, 2, 4), port_rows(h, "counters"));
            free(types);
        }
        if (i == 4)
            assert_int_equal(cnt(h, "drop_short"), 1);
        if (i == 3)     /* NetFlow v5 sent to the same port */
            assert_int_equal(cnt(h, "udp_other"), 5);
        fl_harness_destroy(&h);
    }
}

/* Our column `col` over port's rows, comma-joined (as tshark prints). */
static char *ours(struct fl_harness *h, const char *port, const char *col)
{
    size_t cap = 1 << 20, n = 0;
    char *out = calloc(1, cap);
    for (uint64_t r = 0; r < port_rows(h, port); r++) {
        int64_t v = val(h, port, r, col);
        if (v < 0)
            continue;       /* a sample without that record: tshark prints nothing */
        n += (size_t)snprintf(out + n, cap - n, "%s%lld", n ? "," : "", (long long)v);
    }
    return out;
}

static void test_vs_tshark(void **state)
{
    static const char *const files[] = {
        "sflow/ndpi_sflow.pcap", "sflow/tcpdump_sflow-print-v6.pcap",
        "sflow/tcpdump_sflow_expanded.pcap", "sflow/tcpdump_sflow_multiple_counter_30_pdus.pcap",
    };
    static const struct { const char *port, *ours, *theirs; } cols[] = {
        { "out", "sampling_rate", "sflow.flow_sample.sampling_rate" },
        { "out", "sample_pool", "sflow.flow_sample.sample_pool" },
        { "counters", "if_index", "sflow_245.ifindex" },
        { "counters", "if_in_octets", "sflow_245.ifinoct" },
        { "counters", "if_out_octets", "sflow_245.ifoutoct" },
        { "counters", "if_speed", "sflow_245.ifspeed" },
        { "counters", "eth_fcs_errors", "sflow_245.dot3StatsFCSErrors" },
    };
    char path[1024];
    (void)state;

    if (!have_tshark())
        return;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct fl_harness *h;
        snprintf(path, sizeof path, "%s/%s", data_dir, files[i]);
        h = run_file(path, NULL);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            if (!port_rows(h, cols[c].port))
                continue;
            if (strcmp(cols[c].ours, "eth_fcs_errors") == 0 && i == 0)
                continue;       /* no Ethernet counters in that file */
            if (strcmp(cols[c].ours, "if_index") == 0 && i == 3)
                continue;       /* tshark also prints host adapters' ifIndex as ifindex */
            if (strcmp(cols[c].ours, "eth_fcs_errors") == 0 && i == 3) {
                /* tshark misframes the host-adapters record (0:2001) of the two
                 * host samples and reads what follows as Ethernet counters
                 * (its own expert info says malformed); the README counts 142
                 * ethernet-if records, one per interface sample */
                uint64_t eth = 0;
                for (uint64_t r = 0; r < port_rows(h, "counters"); r++)
                    eth += val(h, "counters", r, "eth_fcs_errors") >= 0;
                assert_int_equal(eth, 142);
                continue;
            }
            char *a = ours(h, cols[c].port, cols[c].ours), *b = tshark_col(path, cols[c].theirs);
            if (strcmp(a, b) != 0)
                fail_msg("%s: %s: ours %.200s, tshark %.200s", files[i], cols[c].ours, a, b);
            free(a);
            free(b);
        }
        /* the sampled packets' IP addresses, as tshark dissects the headers
         * (an IPv4 datagram's own addresses come first: skipped) */
        if (port_rows(h, "out")) {
            char cmd[2048], line[8192];
            uint64_t r = 0;
            snprintf(cmd, sizeof cmd, "tshark -r '%s' -d udp.port==6343,sflow -Y "
                     "sflow_245.header_protocol -T fields -e ipv6.src -e ip.src -e ip.dst "
                     "-E occurrence=a -E aggregator=' ' 2>/dev/null", path);
            FILE *p = popen(cmd, "r");
            assert_non_null(p);
            while (fgets(line, sizeof line, p)) {
                char *v6 = strtok(line, "\t\n"), *srcs, *dsts, *sp, *dp;
                bool outer4 = line[0] == '\t';
                if (!outer4)
                    v6 = strtok(NULL, "\t\n");
                srcs = v6;
                dsts = strtok(NULL, "\t\n");
                assert_non_null(srcs);
                assert_non_null(dsts);
                char *s1 = strtok_r(srcs, " ", &sp), *d1 = strtok_r(dsts, " ", &dp);
                if (outer4) {
                    s1 = strtok_r(NULL, " ", &sp);
                    d1 = strtok_r(NULL, " ", &dp);
                }
                for (; s1 && d1; s1 = strtok_r(NULL, " ", &sp), d1 = strtok_r(NULL, " ", &dp)) {
                    assert_string_equal(text(h, "out", r, "src_addr"), s1);
                    assert_string_equal(text(h, "out", r, "dst_addr"), d1);
                    r++;
                }
            }
            pclose(p);
            assert_int_equal(r, port_rows(h, "out"));
        }
        fl_harness_destroy(&h);
    }
}

/* ---- datagrams built here ---------------------------------------------------- */

struct xb {
    uint8_t b[65536];
    size_t n;
    size_t open[8];
    int depth;
};

static void p32(struct xb *x, uint32_t v)
{
    x->b[x->n++] = (uint8_t)(v >> 24);
    x->b[x->n++] = (uint8_t)(v >> 16);
    x->b[x->n++] = (uint8_t)(v >> 8);
    x->b[x->n++] = (uint8_t)v;
}
static void p64(struct xb *x, uint64_t v) { p32(x, (uint32_t)(v >> 32)); p32(x, (uint32_t)v); }
static void pn(struct xb *x, const void *p, size_t n)
{
    memcpy(x->b + x->n, p, n);
    x->n += n;
    while (x->n & 3)
        x->b[x->n++] = 0;
}
/* A format word and a length patched by end(). */
static void begin(struct xb *x, uint32_t fmt)
{
    p32(x, fmt);
    x->open[x->depth++] = x->n;
    p32(x, 0);
}
static void end(struct xb *x)
{
    size_t at = x->open[--x->depth];
    uint32_t len = (uint32_t)(x->n - at - 4);
    x->b[at] = (uint8_t)(len >> 24), x->b[at + 1] = (uint8_t)(len >> 16);
    x->b[at + 2] = (uint8_t)(len >> 8), x->b[at + 3] = (uint8_t)len;
}

static const uint8_t agent6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };

static void dgram_hdr(struct xb *x, uint32_t seq, uint32_t uptime, uint32_t nsamples)
{
    x->n = 0;
    x->depth = 0;
    p32(x, 5);
    p32(x, 2);
    pn(x, agent6, 16);
    p32(x, 7);          /* sub-agent */
    p32(x, seq);
    p32(x, uptime);
    p32(x, nsamples);
}

struct cap {
    FILE *f;
    uint32_t t;
};

static void cap_open(struct cap *c, const char *path)
{
    uint32_t hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 228 };
    c->f = fopen(path, "wb");
    assert_non_null(c->f);
    assert_int_equal(fwrite(hdr, 1, 24, c->f), 24);
    c->t = 1700000000;
}

static void cap_add(struct cap *c, const struct xb *x)
{
    uint8_t ip[28] = { 0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 127, 0, 0, 1 };
    uint32_t rec[4] = { c->t++, 0, (uint32_t)(28 + x->n), (uint32_t)(28 + x->n) };
    size_t ulen = 8 + x->n;
    ip[2] = (uint8_t)((20 + ulen) >> 8);
    ip[3] = (uint8_t)(20 + ulen);
    ip[22] = 0x18, ip[23] = 0xc7;           /* 6343 */
    ip[24] = (uint8_t)(ulen >> 8);
    ip[25] = (uint8_t)ulen;
    assert_int_equal(fwrite(rec, 1, 16, c->f), 16);
    assert_int_equal(fwrite(ip, 1, 28, c->f), 28);
    assert_int_equal(fwrite(x->b, 1, x->n, c->f), x->n);
}

static void cap_close(struct cap *c) { assert_int_equal(fclose(c->f), 0); }

static const char *tmp_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    return p;
}

/* A standard flow sample: seq, source 0:3, rate 512, pool, drops, in 3,
 * out (raw word), then the records the caller adds (nrec of them). */
static void flow_open(struct xb *x, uint32_t seq, uint32_t pool, uint32_t drops, uint32_t out,
                      uint32_t nrec)
{
    begin(x, 1);
    p32(x, seq);
    p32(x, 3);
    p32(x, 512);
    p32(x, pool);
    p32(x, drops);
    p32(x, 3);
    p32(x, out);
    p32(x, nrec);
}

static void rec_ipv4_tcp(struct xb *x)
{
    static const uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 0, 0, 2 };
    begin(x, 3);
    p32(x, 1500);       /* length */
    p32(x, 6);
    pn(x, src, 4);
    pn(x, dst, 4);
    p32(x, 40000);
    p32(x, 443);
    p32(x, 0x18);
    p32(x, 0x20);       /* tos */
    end(x);
}

static void rec_switch(struct xb *x)
{
    begin(x, 1001);
    p32(x, 100), p32(x, 3), p32(x, 200), p32(x, 5);
    end(x);
}

static void rec_router(struct xb *x)
{
    static const uint8_t nh[4] = { 192, 0, 2, 254 };
    begin(x, 1002);
    p32(x, 1);
    pn(x, nh, 4);
    p32(x, 24), p32(x, 16);
    end(x);
}

static void rec_gateway(struct xb *x)
{
    static const uint8_t nh[4] = { 198, 51, 100, 1 };
    begin(x, 1003);
    p32(x, 1);
    pn(x, nh, 4);
    p32(x, 65000), p32(x, 64512), p32(x, 64513);
    p32(x, 2);                                  /* segments */
    p32(x, 2), p32(x, 2), p32(x, 65001), p32(x, 65002);   /* sequence */
    p32(x, 1), p32(x, 2), p32(x, 65010), p32(x, 65011);   /* set */
    p32(x, 2), p32(x, 65000u << 16 | 100), p32(x, 65000u << 16 | 200);
    p32(x, 150);
    end(x);
}

static void ctr_sample(struct xb *x, uint32_t seq, uint32_t if_index, uint64_t in_octets,
                       uint32_t in_ucast, bool extra)
{
    begin(x, 4);        /* expanded */
    p32(x, seq);
    p32(x, 0), p32(x, if_index);
    p32(x, extra ? 5 : 1);
    begin(x, 1);
    p32(x, if_index), p32(x, 6), p64(x, 10000000000ull), p32(x, 1), p32(x, 3);
    p64(x, in_octets);
    p32(x, in_ucast), p32(x, 1), p32(x, 2), p32(x, 3), p32(x, 4), p32(x, 5);
    p64(x, 999), p32(x, 6), p32(x, 7), p32(x, 8), p32(x, 9), p32(x, 10), p32(x, 0);
    end(x);
    if (extra) {
        static const uint8_t mac1[6] = { 2, 0, 0, 0, 0, 1 }, mac2[6] = { 2, 0, 0, 0, 0, 2 };
        begin(x, 5);    /* VLAN */
        p32(x, 42), p64(x, 5000), p32(x, 1), p32(x, 2), p32(x, 3), p32(x, 4);
        end(x);
        begin(x, 7);    /* LAG */
        pn(x, mac1, 6);
        pn(x, mac2, 6);
        p32(x, 77);
        p32(x, 0x3d3c3b3a);
        for (int i = 0; i < 8; i++)
            p32(x, (uint32_t)i + 1);
        end(x);
        begin(x, 1001); /* processor */
        p32(x, 1234), p32(x, (uint32_t)-1), p32(x, 50);
        p64(x, 1ull << 33), p64(x, 1ull << 30);
        end(x);
        begin(x, 2000); /* host description: not read */
        p32(x, 0);
        end(x);
    }
    end(x);
}

static void test_built(void **state)
{
    struct cap c;
    struct xb *x = calloc(1, sizeof *x);
    struct fl_harness *h;
    (void)state;

    cap_open(&c, tmp_path("built.pcap"));
    /* datagram 1: a flow sample with every extended record and an unknown one */
    dgram_hdr(x, 1, 1000, 4);
    flow_open(x, 10, 5120, 0, 4, 5);
    begin(x, 999);
    p32(x, 0xdeadbeef);
    end(x);
    rec_ipv4_tcp(x);
    rec_switch(x);
    rec_router(x);
    rec_gateway(x);
    end(x);
    /* an expanded flow sample: sampled IPv6 UDP + Ethernet, discarded packet */
    begin(x, 3);
    p32(x, 1), p32(x, 0), p32(x, 8), p32(x, 1000), p32(x, 2000), p32(x, 0);
    p32(x, 0), p32(x, 8), p32(x, 1), p32(x, 17);    /* in 8, out: discarded, reason 17 */
    p32(x, 2);
    begin(x, 2);
    {
        static const uint8_t sm[6] = { 0, 1, 2, 3, 4, 5 }, dm[6] = { 6, 7, 8, 9, 10, 11 };
        p32(x, 114);
        pn(x, sm, 6);
        pn(x, dm, 6);
        p32(x, 0x86dd);
    }
    end(x);
    begin(x, 4);
    {
        uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, d6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
        p32(x, 100), p32(x, 17);
        pn(x, s6, 16);
        pn(x, d6, 16);
        p32(x, 5353), p32(x, 53), p32(x, 0), p32(x, 0);
    }
    end(x);
    end(x);
    /* a flow sample with only an Ethernet record: no IP packet */
    flow_open(x, 11, 6000, 3, 0x80000002u, 1);     /* out: 2 interfaces */
    begin(x, 2);
    p32(x, 60), p32(x, 0), p32(x, 0), p32(x, 0), p32(x, 0), p32(x, 0x0806);
    end(x);
    end(x);
    /* an unknown sample type (enterprise 4300) */
    begin(x, 4300u << 12 | 1);
    p32(x, 1);
    end(x);
    cap_add(&c, x);

    /* datagrams 2 and 5 (3, 4 lost): counters; flow sample 12 (none lost),
     * raw IPv4 header and a PPP header */
    dgram_hdr(x, 2, 2000, 3);
    ctr_sample(x, 1, 3, 0xffffffffffffff9cull, 0xfffffff0u, true);
    flow_open(x, 12, 7000, 5, 4, 1);
    begin(x, 1);
    {
        static const uint8_t ip[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 9, 17, 0, 0, 10, 1, 1, 1,
                                        10, 1, 1, 2, 0, 53, 0x30, 0x39, 0, 8, 0, 0 };
        p32(x, 11), p32(x, 28), p32(x, 0), p32(x, 28);
        pn(x, ip, 28);
    }
    end(x);
    end(x);
    flow_open(x, 13, 7001, 5, 4, 1);
    begin(x, 1);
    p32(x, 7), p32(x, 64), p32(x, 0), p32(x, 4), p32(x, 0xff030021);
    end(x);
    end(x);
    cap_add(&c, x);
    dgram_hdr(x, 5, 4000, 1);
    ctr_sample(x, 2, 3, 100, 0x10, false);
    cap_add(&c, x);
    /* an agent restart: uptime and sequence numbers start again */
    dgram_hdr(x, 1, 500, 1);
    ctr_sample(x, 1, 3, 500, 20, false);
    cap_add(&c, x);
    cap_close(&c);

    h = run_file(tmp_path("built.pcap"), "counter_rates: true");
    assert_int_equal(cnt(h, "sflow_datagrams"), 4);
    assert_int_equal(cnt(h, "datagrams_lost"), 2);
    assert_int_equal(cnt(h, "flow_samples"), 5);
    assert_int_equal(port_rows(h, "out"), 3);
    assert_int_equal(cnt(h, "flow_samples_without_ip"), 2);
    assert_int_equal(cnt(h, "unknown_flow_record"), 1);
    assert_int_equal(cnt(h, "unknown_sample_type"), 1);
    assert_int_equal(cnt(h, "unknown_counter_record"), 1);
    assert_int_equal(cnt(h, "flow_samples_lost"), 0);
    assert_int_equal(cnt(h, "agent_drops"), 5);     /* source 0:3: drops 0, 3, 5 */
    assert_true(cnt(h, "sequence_restarts") >= 1);

    /* row 0: sampled IPv4 TCP, extended switch, router, gateway */
    assert_string_equal(text(h, "out", 0, "agent"), "2001::0009");
    assert_int_equal(val(h, "out", 0, "sub_agent"), 7);
    assert_int_equal(val(h, "out", 0, "sequence"), 10);
    assert_int_equal(val(h, "out", 0, "sampling_rate"), 512);
    assert_int_equal(val(h, "out", 0, "sample_pool"), 5120);
    assert_int_equal(val(h, "out", 0, "input_if"), 3);
    assert_int_equal(val(h, "out", 0, "output_if"), 4);
    assert_int_equal(val(h, "out", 0, "discard_reason"), -1);
    assert_string_equal(text(h, "out", 0, "src_addr"), "10.0.0.1");
    assert_string_equal(text(h, "out", 0, "dst_addr"), "10.0.0.2");
    assert_int_equal(val(h, "out", 0, "src_port"), 40000);
    assert_int_equal(val(h, "out", 0, "dst_port"), 443);
    assert_int_equal(val(h, "out", 0, "proto"), 6);
    assert_int_equal(val(h, "out", 0, "tcp_flags"), 0x18);
    assert_int_equal(val(h, "out", 0, "ip_len"), 1500);
    assert_int_equal(val(h, "out", 0, "payload_len"), 1460);
    assert_int_equal(val(h, "out", 0, "ttl"), -1);
    assert_int_equal(val(h, "out", 0, "in_vlan"), 100);
    assert_int_equal(val(h, "out", 0, "in_priority"), 3);
    assert_int_equal(val(h, "out", 0, "out_vlan"), 200);
    assert_int_equal(val(h, "out", 0, "out_priority"), 5);
    assert_string_equal(text(h, "out", 0, "next_hop"), "192.0.2.254");
    assert_int_equal(val(h, "out", 0, "src_mask"), 24);
    assert_int_equal(val(h, "out", 0, "dst_mask"), 16);
    assert_string_equal(text(h, "out", 0, "bgp_next_hop"), "198.51.100.1");
    assert_int_equal(val(h, "out", 0, "router_as"), 65000);
    assert_int_equal(val(h, "out", 0, "src_as"), 64512);
    assert_int_equal(val(h, "out", 0, "src_peer_as"), 64513);
    assert_int_equal(val(h, "out", 0, "dst_peer_as"), 65001);
    assert_int_equal(val(h, "out", 0, "dst_as"), 65011);
    assert_string_equal(text(h, "out", 0, "as_path"), "65001 65002 {65010,65011}");
    assert_string_equal(text(h, "out", 0, "bgp_communities"), "65000:100 65000:200");
    assert_int_equal(val(h, "out", 0, "local_pref"), 150);
    assert_string_equal(text(h, "out", 0, "src_mac"), "-");
    /* row 1: expanded, sampled IPv6 UDP and Ethernet, discarded */
    assert_int_equal(val(h, "out", 1, "source_id_index"), 8);
    assert_int_equal(val(h, "out", 1, "ip_version"), 6);
    assert_int_equal(val(h, "out", 1, "src_port"), 5353);
    assert_int_equal(val(h, "out", 1, "proto"), 17);
    assert_int_equal(val(h, "out", 1, "payload_len"), 52);
    assert_int_equal(val(h, "out", 1, "frame_len"), 114);
    assert_string_equal(text(h, "out", 1, "src_mac"), "00:01:02:03:04:05");
    assert_string_equal(text(h, "out", 1, "dst_mac"), "06:07:08:09:0a:0b");
    assert_int_equal(val(h, "out", 1, "output_if"), -1);
    assert_int_equal(val(h, "out", 1, "discard_reason"), 17);
    assert_int_equal(val(h, "out", 1, "in_vlan"), -1);
    assert_string_equal(text(h, "out", 1, "as_path"), "-");
    /* row 2: a raw IPv4 header (protocol 11); the PPP-only sample counted */
    assert_string_equal(text(h, "out", 2, "src_addr"), "10.1.1.1");
    assert_int_equal(val(h, "out", 2, "ttl"), 9);
    assert_int_equal(val(h, "out", 2, "dst_port"), 12345);
    assert_int_equal(cnt(h, "unsupported_header_protocol"), 1);

    /* counters: VLAN, LAG, processor; rates with wraps; the restart */
    assert_int_equal(port_rows(h, "counters"), 3);
    assert_int_equal(val(h, "counters", 0, "if_index"), 3);
    assert_int_equal(val(h, "counters", 0, "if_speed"), 10000000000ll);
    assert_int_equal(val(h, "counters", 0, "if_admin_up"), 1);
    assert_int_equal(val(h, "counters", 0, "if_oper_up"), 1);
    assert_int_equal(val(h, "counters", 0, "if_out_octets"), 999);
    assert_int_equal(val(h, "counters", 0, "vlan"), 42);
    assert_int_equal(val(h, "counters", 0, "vlan_octets"), 5000);
    assert_int_equal(val(h, "counters", 0, "vlan_discards"), 4);
    assert_string_equal(text(h, "counters", 0, "lag_partner_system_id"), "02:00:00:00:00:02");
    assert_int_equal(val(h, "counters", 0, "lag_attached_agg_id"), 77);
    assert_int_equal(val(h, "counters", 0, "lag_actor_oper_state"), 0x3c);
    assert_int_equal(val(h, "counters", 0, "lag_marker_response_pdus_tx"), 8);
    assert_int_equal(val(h, "counters", 0, "cpu_5s"), 12340);     /* 12.34 % in milli */
    assert_int_equal(val(h, "counters", 0, "cpu_1m"), -1);
    assert_int_equal(val(h, "counters", 0, "mem_total"), 1ll << 33);
    assert_int_equal(val(h, "counters", 0, "agent_uptime"), 2000000000ll);
    assert_int_equal(val(h, "counters", 0, "if_in_octets_rate"), -1);   /* no baseline */
    assert_int_equal(val(h, "counters", 1, "vlan"), -1);
    /* 64-bit wrap: 2^64 - 100 -> 100 in 2 s = 100/s; 32-bit: 0xfffffff0 -> 0x10 = 16/s */
    assert_int_equal(val(h, "counters", 1, "if_in_octets_rate"), 100000);
    assert_int_equal(val(h, "counters", 1, "if_in_ucast_pkts_rate"), 16000);
    assert_int_equal(val(h, "counters", 1, "if_out_octets_rate"), 0);
    assert_int_equal(val(h, "counters", 1, "vlan_octets_rate"), -1);
    assert_int_equal(val(h, "counters", 2, "if_in_octets_rate"), -1);  /* restart */
    assert_int_equal(cnt(h, "counter_samples_lost"), 0);
    fl_harness_destroy(&h);

    /* without counter_rates, no rate column */
    h = run_file(tmp_path("built.pcap"), NULL);
    {
        uint32_t r;
        const struct fl_batch *b = row_at(h, "counters", 0, &r);
        assert_int_equal(fl_schema_find(b->schema, "if_in_octets_rate"), -1);
    }
    fl_harness_destroy(&h);

    /* a raw datagram file, and a list of them */
    dgram_hdr(x, 9, 1, 1);
    ctr_sample(x, 1, 3, 100, 0x10, false);
    FILE *f = fopen(tmp_path("one.dat"), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(x->b, 1, x->n, f), x->n);
    fclose(f);
    char extra[1024];
    snprintf(extra, sizeof extra, "%s", tmp_path("one.dat"));
    h = run_file(extra, NULL);
    assert_int_equal(port_rows(h, "counters"), 1);
    assert_int_equal(val(h, "counters", 0, "if_in_octets"), 100);
    fl_harness_destroy(&h);
    free(x);
}

/* ---- hostile input ---------------------------------------------------------------- */

static void test_hostile(void **state)
{
    struct xb *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
    struct fl_harness *h;
    struct cap c;
    uint64_t n = 0;
    (void)state;

    /* a datagram with a flow sample and a counter sample, cut at every byte */
    dgram_hdr(x, 1, 1000, 2);
    flow_open(x, 10, 5120, 0, 4, 4);
    rec_ipv4_tcp(x);
    rec_switch(x);
    rec_router(x);
    rec_gateway(x);
    end(x);
    ctr_sample(x, 1, 3, 100, 1, true);
    cap_open(&c, tmp_path("cuts.pcap"));
    for (size_t cut = 0; cut <= x->n; cut++, n++) {
        *y = *x;
        y->n = cut;
        cap_add(&c, y);
    }
    cap_close(&c);
    h = run_file(tmp_path("cuts.pcap"), NULL);
    /* only the whole datagram has both samples; shorter ones are dropped
     * as a whole or per sample, and counted */
    assert_int_equal(port_rows(h, "counters"), 1);
    assert_true(port_rows(h, "out") >= 1);
    assert_true(cnt(h, "drop_short") > 0);
    assert_true(cnt(h, "drop_sample_length") > 0);
    fl_harness_destroy(&h);

    /* bad lengths, one per datagram, each with its reason */
    cap_open(&c, tmp_path("bad.pcap"));
    *y = *x;
    y->b[3] = 4;                            /* version 4 */
    cap_add(&c, y);
    *y = *x;
    y->b[7] = 3;                            /* agent address type 3 */
    cap_add(&c, y);
    *y = *x;
    y->b[36] = 0xff;                        /* sample count huge: bounded by the bytes */
    cap_add(&c, y);
    *y = *x;
    y->b[44] = 0x7f;                        /* first sample's length past the end */
    cap_add(&c, y);
    *y = *x;
    y->b[84] = 0x7f;                        /* first record's length past the sample */
    cap_add(&c, y);
    /* a raw header whose opaque length runs past its record */
    dgram_hdr(y, 2, 1, 1);
    flow_open(y, 11, 1, 0, 0, 1);
    begin(y, 1);
    p32(y, 1), p32(y, 64), p32(y, 0), p32(y, 1000);
    p32(y, 0);
    end(y);
    end(y);
    cap_add(&c, y);
    /* a gateway with a huge segment count, and a counter record too short */
    dgram_hdr(y, 3, 1, 2);
    flow_open(y, 12, 1, 0, 0, 2);
    rec_ipv4_tcp(y);
    begin(y, 1003);
    p32(y, 1), p32(y, 0), p32(y, 1), p32(y, 2), p32(y, 3), p32(y, 0x40000000);
    end(y);
    end(y);
    begin(y, 2);
    p32(y, 1), p32(y, 3), p32(y, 1);
    begin(y, 1);
    p32(y, 1);
    end(y);
    end(y);
    cap_add(&c, y);
    cap_close(&c);
    h = run_file(tmp_path("bad.pcap"), NULL);
    assert_int_equal(cnt(h, "drop_version"), 1);
    assert_int_equal(cnt(h, "drop_agent_type"), 1);
    assert_int_equal(cnt(h, "drop_sample_length"), 2);
    assert_int_equal(cnt(h, "drop_record_length"), 1);
    assert_int_equal(cnt(h, "drop_bad_record"), 3);
    /* the huge sample count still decodes the two samples there are */
    assert_int_equal(port_rows(h, "counters"), 1 + 1);
    fl_harness_destroy(&h);

    /* every byte of the datagram set to 0xff and to 0x00 in turn */
    cap_open(&c, tmp_path("flips.pcap"));
    for (size_t i = 0; i < x->n; i++)
        for (int v = 0; v < 2; v++) {
            *y = *x;
            y->b[i] = v ? 0xff : 0;
            cap_add(&c, y);
        }
    cap_close(&c);
    h = run_file(tmp_path("flips.pcap"), NULL);
    assert_int_equal(cnt(h, "sflow_datagrams") + cnt(h, "drop_version") +
                     cnt(h, "drop_agent_type") + cnt(h, "drop_short") + cnt(h, "udp_other"), 2 * x->n);
    fl_harness_destroy(&h);
    free(x);
    free(y);
}

static int setup(void **state)
{
    (void)state;
    data_dir = fl_test_data_dir();
    return fl_test_tmpdir("sflow", tmp_dir, sizeof tmp_dir);
}

static int teardown(void **state)
{
    (void)state;
    return fl_test_rmdir(tmp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_files),
        cmocka_unit_test(test_vs_tshark),
        cmocka_unit_test(test_built),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
