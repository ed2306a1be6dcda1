/* test_ipfix.c: input.ipfix through the harness, as a pipeline runs it.
 * - Every IPFIX and NetFlow v9 file of ../shared/data: the data records,
 *   template records and template-less data sets its README states.
 * - Against tshark's own decoder: record counts and byte and packet totals
 *   of an IPFIX and a NetFlow v9 capture (skipped without tshark).
 * - Messages built here, sent as a capture of exporter traffic (raw IPv4
 *   frames, UDP): reduced-size encoding, variable-length strings, an
 *   unknown enterprise element, NetFlow v9 uptime times, options data and
 *   the sampling rate joined onto flows, sequence loss, withdrawal.
 * - Hostile input: the datagram that crashes libfixbuf 2.4.1, every cut
 *   point of a message, lengths past the end, zero-length sets and fields,
 *   data before its template, a template flood, a version mix. */
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

/* ---- running the plugin -------------------------------------------------- */

static struct fl_harness *run_file(const char *path, const char *extra)
{
    char yaml[2048];
    struct fl_harness *h = NULL;
    snprintf(yaml, sizeof yaml, "{path: \"%s\"%s%s}", path, extra ? ", " : "", extra ? extra : "");
    assert_int_equal(fl_harness_new("input.ipfix", yaml, NULL, &h), 0);
    assert_int_equal(fl_harness_run(h), 0);
    return h;
}

static uint64_t cnt(struct fl_harness *h, const char *name)
{
    return fl_harness_counter(h, name);
}

/* Rows emitted on a port ("out" or "options"). */
static uint64_t port_rows(struct fl_harness *h, const char *port)
{
    uint64_t n = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++)
        if (strcmp(fl_harness_out_port(h, i), port) == 0)
            n += fl_harness_out(h, i)->rows;
    return n;
}

/* Sum of a u64 column over the "out" batches that have it. */
static uint64_t col_sum(struct fl_harness *h, const char *name)
{
    uint64_t s = 0;
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        const struct fl_batch *b = fl_harness_out(h, i);
        int c = fl_schema_find(b->schema, name);
        if (strcmp(fl_harness_out_port(h, i), "out") != 0 || c < 0)
            continue;
        for (uint32_t r = 0; r < b->rows; r++)
            if (fl_batch_is_valid(b, (uint32_t)c, r))
                s += FL_COL(b, c, uint64_t)[r];
    }
    return s;
}

/* The first "out" row's batch (and index) holding column name. */
static const struct fl_batch *first_with(struct fl_harness *h, const char *name, int *col)
{
    for (size_t i = 0; i < fl_harness_n_out(h); i++) {
        const struct fl_batch *b = fl_harness_out(h, i);
        if (strcmp(fl_harness_out_port(h, i), "out") == 0 && b->rows &&
            (*col = fl_schema_find(b->schema, name)) >= 0)
            return b;
    }
    return NULL;
}

/* ---- the shared files ------------------------------------------------------ */

static void test_shared_files(void **state)
{
    /* data records (flow + options), template records (both kinds) and
     * data sets without a known template, as ../shared/data/README.md
     * states them for each file */
    static const struct { const char *file; uint64_t records, templates, no_tmpl; } t[] = {
        { "ipfix/ipfixcol2_example_flows.ipfix", 3979, 8, 0 },
        { "ipfix/ndpi_netflow-fritz.pcap", 0, 3, 0 },
        { "ipfix/pmacct_100-IPFIXv10-CISCO__traffic-00.pcap", 12, 2, 0 },
        { "ipfix/pmacct_103-IPFIXv10-CISCO-pretag-JSON_encoding__traffic-00.pcap", 12, 2, 0 },
        { "ipfix/pmacct_104-IPFIXv10-IPv6-CISCO-sampling_option__traffic-00.pcap", 4, 5, 0 },
        { "ipfix/pmacct_106-IPFIXv10-HUAWEI-vrf_name__traffic-00.pcap", 4, 3, 0 },
        { "ipfix/pmacct_111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources__traffic-01.pcap", 13, 5, 0 },
        { "ipfix/pmacct_112-IPFIXv10-CISCO-options-map-reassignment__traffic-00.pcap", 85, 9, 4 },
        { "ipfix/pmacct_400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources__traffic-00.pcap", 995, 398, 0 },
        { "ipfix/pmacct_400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources__traffic-01.pcap", 447, 130, 0 },
        { "ipfix/pmacct_401-IPFIXv10-BMP-IPv6-CISCO-MPLS-multiple-sources__traffic-00.pcap", 1099, 405, 0 },
        { "ipfix/pmacct_401-IPFIXv10-BMP-IPv6-CISCO-MPLS-multiple-sources__traffic-01.pcap", 1067, 413, 0 },
        { "ipfix/pmacct_402-IPFIXv10-BMP-IPv6-high-availability__traffic-00.pcap", 1067, 413, 0 },
        { "ipfix/pmacct_403-IPFIXv10-BMP-IPv6-CISCO-locrib-peerdown-vrf__traffic-00.pcap", 804, 215, 0 },
        { "netflow9/ndpi_netflowv9.pcap", 0, 0, 23 },
        { "netflow9/pmacct_101-NFv9-CISCO-cust_primitives__traffic-00.pcap", 51, 1, 0 },
        { "netflow9/pmacct_102-NFv9-CISCO-f2rd-pretag-sampling-reload__traffic-00.pcap", 35, 4, 0 },
        { "netflow9/pmacct_111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources__traffic-00.pcap", 11, 1, 0 },
    };
    char path[1024];
    (void)state;

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct fl_harness *h;
        snprintf(path, sizeof path, "%s/%s", data_dir, t[i].file);
        h = run_file(path, NULL);
        if (port_rows(h, "out") + port_rows(h, "options") != t[i].records ||
            cnt(h, "records") + cnt(h, "options_records") != t[i].records ||
            cnt(h, "templates") != t[i].templates || cnt(h, "drop_no_template") != t[i].no_tmpl)
            fail_msg("%s: %llu+%llu records, %llu templates, %llu without template; "
                     "expected %llu, %llu, %llu", t[i].file,
                     (unsigned long long)port_rows(h, "out"),
                     (unsigned long long)port_rows(h, "options"),
                     (unsigned long long)cnt(h, "templates"),
                     (unsigned long long)cnt(h, "drop_no_template"),
                     (unsigned long long)t[i].records, (unsigned long long)t[i].templates,
                     (unsigned long long)t[i].no_tmpl);
        fl_harness_destroy(&h);
    }
}

/* tshark's cflow dissector on the same capture: records, bytes, packets. */
static void tshark_totals(const char *path, uint64_t *recs, uint64_t *bytes, uint64_t *pkts)
{
    char cmd[2048], line[65536];
    FILE *p;

    *recs = *bytes = *pkts = 0;
    snprintf(cmd, sizeof cmd, "tshark -r '%s' -d udp.port==9991,cflow -Y cflow -T fields "
             "-e cflow.octets -e cflow.packets 2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        char *tab = strchr(line, '\t'), *s;
        if (!tab)
            continue;
        *tab = 0;
        for (s = line; *s && *s != '\n';) {
            *bytes += strtoull(s, &s, 10);
            (*recs)++;
            s += *s == ',';
        }
        for (s = tab + 1; *s && *s != '\n';) {
            *pkts += strtoull(s, &s, 10);
            s += *s == ',';
        }
    }
    assert_int_equal(pclose(p), 0);
}

static void test_vs_tshark(void **state)
{
    static const char *const files[] = {
        "ipfix/pmacct_100-IPFIXv10-CISCO__traffic-00.pcap",
        "netflow9/pmacct_101-NFv9-CISCO-cust_primitives__traffic-00.pcap",
        "netflow9/pmacct_102-NFv9-CISCO-f2rd-pretag-sampling-reload__traffic-00.pcap",
    };
    char path[1024];
    (void)state;

    if (system("command -v tshark >/dev/null 2>&1") != 0) {
        print_message("tshark not found: the comparison with tshark is skipped\n");
        return;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        uint64_t recs, bytes, pkts;
        struct fl_harness *h;
        snprintf(path, sizeof path, "%s/%s", data_dir, files[i]);
        tshark_totals(path, &recs, &bytes, &pkts);
        h = run_file(path, NULL);
        print_message("%s: %llu records, %llu bytes, %llu packets (tshark: %llu, %llu, %llu)\n",
                      files[i], (unsigned long long)port_rows(h, "out"),
                      (unsigned long long)col_sum(h, "bytes"),
                      (unsigned long long)col_sum(h, "packets"), (unsigned long long)recs,
                      (unsigned long long)bytes, (unsigned long long)pkts);
        assert_true(recs > 0);
        assert_int_equal(port_rows(h, "out"), recs);
        assert_int_equal(col_sum(h, "bytes"), bytes);
        assert_int_equal(col_sum(h, "packets"), pkts);
        fl_harness_destroy(&h);
    }
}

/* ---- messages built here ------------------------------------------------------ */

struct mb {
    uint8_t b[65536];
    size_t n;
    size_t set;         /* start of the open set */
};

static void put8(struct mb *m, uint8_t v) { m->b[m->n++] = v; }
static void put16(struct mb *m, uint16_t v) { put8(m, (uint8_t)(v >> 8)); put8(m, (uint8_t)v); }
static void put32(struct mb *m, uint32_t v) { put16(m, (uint16_t)(v >> 16)); put16(m, (uint16_t)v); }
static void put64(struct mb *m, uint64_t v) { put32(m, (uint32_t)(v >> 32)); put32(m, (uint32_t)v); }
static void putn(struct mb *m, const void *p, size_t n) { memcpy(m->b + m->n, p, n); m->n += n; }
static void set16(struct mb *m, size_t at, uint16_t v) { m->b[at] = (uint8_t)(v >> 8); m->b[at + 1] = (uint8_t)v; }

static void ipfix_hdr(struct mb *m, uint32_t export, uint32_t seq, uint32_t domain)
{
    m->n = 0;
    put16(m, 10);
    put16(m, 0);
    put32(m, export);
    put32(m, seq);
    put32(m, domain);
}

static void nf9_hdr(struct mb *m, uint16_t count, uint32_t uptime_ms, uint32_t secs,
                    uint32_t seq, uint32_t source)
{
    m->n = 0;
    put16(m, 9);
    put16(m, count);
    put32(m, uptime_ms);
    put32(m, secs);
    put32(m, seq);
    put32(m, source);
}

static void set_open(struct mb *m, uint16_t id)
{
    m->set = m->n;
    put16(m, id);
    put16(m, 0);
}

static void set_close(struct mb *m)
{
    set16(m, m->set + 2, (uint16_t)(m->n - m->set));
}

static void ipfix_end(struct mb *m)
{
    set16(m, 2, (uint16_t)m->n);
}

/* A capture of UDP datagrams from 192.0.2.<src> (LINKTYPE_IPV4). */
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

static void cap_add(struct cap *c, uint8_t src, const struct mb *m, size_t claim)
{
    uint8_t ip[28] = { 0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 0, 127, 0, 0, 1 };
    uint32_t rec[4] = { c->t++, 0, (uint32_t)(28 + m->n), (uint32_t)(28 + m->n) };
    size_t ulen = 8 + (claim ? claim : m->n);
    ip[2] = (uint8_t)((20 + ulen) >> 8);
    ip[3] = (uint8_t)(20 + ulen);
    ip[15] = src;
    ip[20] = 0x30, ip[21] = 0x39;           /* source port 12345 */
    ip[22] = 0x12, ip[23] = 0x83;           /* destination port 4739 */
    ip[24] = (uint8_t)(ulen >> 8);
    ip[25] = (uint8_t)ulen;
    assert_int_equal(fwrite(rec, 1, 16, c->f), 16);
    assert_int_equal(fwrite(ip, 1, 28, c->f), 28);
    assert_int_equal(fwrite(m->b, 1, m->n, c->f), m->n);
}

static void cap_close(struct cap *c)
{
    assert_int_equal(fclose(c->f), 0);
}

static const char *tmp_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
    return p;
}

/* An IPFIX template 256: sourceIPv4Address, octetDeltaCount in 4 bytes
 * (reduced size), interfaceName (variable length), enterprise 9 element 7
 * (unknown here, 2 bytes), flowStartSeconds. */
static void tmpl_256(struct mb *m)
{
    set_open(m, 2);
    put16(m, 256);
    put16(m, 5);
    put16(m, 8), put16(m, 4);
    put16(m, 1), put16(m, 4);
    put16(m, 82), put16(m, 0xffff);
    put16(m, 0x8007), put16(m, 2), put32(m, 9);
    put16(m, 150), put16(m, 4);
    set_close(m);
}

static void data_256(struct mb *m, uint32_t bytes, const char *name, size_t name_len)
{
    set_open(m, 256);
    put32(m, 0x0a000001);
    put32(m, bytes);
    if (name_len < 255) {
        put8(m, (uint8_t)name_len);
    } else {
        put8(m, 255);
        put16(m, (uint16_t)name_len);
    }
    putn(m, name, name_len);
    put16(m, 0xbeef);
    put32(m, 1700000123);
    set_close(m);
}

static void test_ipfix_encodings(void **state)
{
    static char longname[300];
    struct mb m;
    struct cap c;
    struct fl_harness *h;
    const struct fl_batch *b;
    int col;
    (void)state;

    memset(longname, 'x', sizeof longname);
    cap_open(&c, tmp_path("enc.pcap"));
    ipfix_hdr(&m, 1700000200, 0, 7);
    tmpl_256(&m);
    data_256(&m, 4000000000u, "eth0", 4);
    data_256(&m, 5, longname, sizeof longname);     /* 3-byte length */
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    /* seq 2 would be next: 3 records are missing before this one */
    ipfix_hdr(&m, 1700000201, 5, 7);
    data_256(&m, 7, "lo", 2);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    cap_close(&c);

    h = run_file(tmp_path("enc.pcap"), NULL);
    assert_int_equal(port_rows(h, "out"), 3);
    assert_int_equal(cnt(h, "records_lost"), 3);
    assert_int_equal(col_sum(h, "bytes"), 4000000000ull + 5 + 7);
    b = first_with(h, "interfaceName", &col);
    assert_non_null(b);
    struct fl_span sp = FL_COL(b, col, struct fl_span)[0];
    assert_int_equal(sp.len, 4);
    assert_memory_equal(fl_batch_bytes(b, sp), "eth0", 4);
    sp = FL_COL(b, col, struct fl_span)[1];
    assert_int_equal(sp.len, sizeof longname);
    b = first_with(h, "9:7", &col);
    assert_non_null(b);
    sp = FL_COL(b, col, struct fl_span)[0];
    assert_int_equal(sp.len, 2);
    assert_memory_equal(fl_batch_bytes(b, sp), "\xbe\xef", 2);
    b = first_with(h, "flow_start", &col);
    assert_non_null(b);
    assert_int_equal(FL_COL(b, col, uint64_t)[0], 1700000123ull * 1000000000ull);
    b = first_with(h, "exporter", &col);
    assert_int_equal(FL_COL(b, col, struct fl_addr)[0].b[15], 1);
    assert_int_equal(FL_COL(b, col, struct fl_addr)[0].b[11], 0xff);
    b = first_with(h, "obs_domain", &col);
    assert_int_equal(FL_COL(b, col, uint32_t)[0], 7);
    b = first_with(h, "export_time", &col);
    assert_int_equal(FL_COL(b, col, uint64_t)[0], 1700000200ull * 1000000000ull);
    fl_harness_destroy(&h);
}

/* NetFlow v9: FIRST/LAST_SWITCHED are uptime milliseconds; an options
 * template with a system scope announces samplingInterval, which is then
 * joined onto the flow records of that source id. */
static void test_nf9_times_and_sampling(void **state)
{
    struct mb m;
    struct cap c;
    struct fl_harness *h;
    const struct fl_batch *b;
    int col;
    (void)state;

    cap_open(&c, tmp_path("v9.pcap"));
    nf9_hdr(&m, 3, 100000, 1700000000, 1, 3);
    set_open(&m, 0);                    /* template 300 */
    put16(&m, 300), put16(&m, 4);
    put16(&m, 8), put16(&m, 4);         /* IPV4_SRC_ADDR */
    put16(&m, 1), put16(&m, 8);         /* IN_BYTES */
    put16(&m, 22), put16(&m, 4);        /* FIRST_SWITCHED */
    put16(&m, 21), put16(&m, 4);        /* LAST_SWITCHED */
    set_close(&m);
    set_open(&m, 1);                    /* options template 301: system scope */
    put16(&m, 301), put16(&m, 4), put16(&m, 4);
    put16(&m, 1), put16(&m, 4);         /* scope: system */
    put16(&m, 34), put16(&m, 4);        /* SAMPLING_INTERVAL */
    put16(&m, 0);                       /* padding */
    set_close(&m);
    set_open(&m, 300);
    put32(&m, 0x0a000002), put64(&m, 1500), put32(&m, 40000), put32(&m, 90000);
    set_close(&m);
    cap_add(&c, 2, &m, 0);
    nf9_hdr(&m, 2, 101000, 1700000001, 2, 3);
    set_open(&m, 301);
    put32(&m, 0), put32(&m, 100);
    set_close(&m);
    set_open(&m, 300);
    put32(&m, 0x0a000003), put64(&m, 70), put32(&m, 100500), put32(&m, 100900);
    set_close(&m);
    cap_add(&c, 2, &m, 0);
    cap_close(&c);

    h = run_file(tmp_path("v9.pcap"), NULL);
    assert_int_equal(port_rows(h, "out"), 2);
    assert_int_equal(port_rows(h, "options"), 1);
    assert_int_equal(cnt(h, "packets_lost"), 0);
    b = first_with(h, "flow_start", &col);
    assert_non_null(b);
    /* boot = 1700000000 s - 100 s; the flow began 40 s after boot */
    assert_int_equal(FL_COL(b, col, uint64_t)[0], (1700000000ull - 100 + 40) * 1000000000ull);
    col = fl_schema_find(b->schema, "flow_end");
    assert_int_equal(FL_COL(b, col, uint64_t)[0], (1700000000ull - 100 + 90) * 1000000000ull);
    assert_int_equal(fl_schema_find(b->schema, "sampling_rate"), -1);   /* not announced yet */
    b = first_with(h, "sampling_rate", &col);
    assert_non_null(b);
    assert_int_equal(FL_COL(b, col, uint32_t)[0], 100);
    col = fl_schema_find(b->schema, "src_addr");
    assert_int_equal(FL_COL(b, col, struct fl_addr)[0].b[15], 3);
    fl_harness_destroy(&h);
}

/* template_file: templates learned by one run decode the next run's data,
 * which comes without them; a damaged line is skipped and counted. */
static void test_template_file(void **state)
{
    char extra[600];
    struct mb m;
    struct cap c;
    struct fl_harness *h;
    FILE *f;
    (void)state;

    cap_open(&c, tmp_path("tmpl-only.pcap"));
    ipfix_hdr(&m, 1700000200, 0, 5);
    tmpl_256(&m);
    ipfix_end(&m);
    cap_add(&c, 7, &m, 0);
    cap_close(&c);
    cap_open(&c, tmp_path("data-only.pcap"));
    ipfix_hdr(&m, 1700000300, 0, 5);
    data_256(&m, 11, "eth1", 4);
    data_256(&m, 12, "eth2", 4);
    ipfix_end(&m);
    cap_add(&c, 7, &m, 0);
    cap_close(&c);
    snprintf(extra, sizeof extra, "template_file: \"%s\"", tmp_path("templates.txt"));

    h = run_file(tmp_path("data-only.pcap"), extra);    /* nothing known yet */
    assert_int_equal(port_rows(h, "out"), 0);
    assert_int_equal(cnt(h, "drop_no_template"), 2);
    fl_harness_destroy(&h);
    h = run_file(tmp_path("tmpl-only.pcap"), extra);    /* learns and saves */
    assert_int_equal(cnt(h, "templates"), 1);
    fl_harness_destroy(&h);
    h = run_file(tmp_path("data-only.pcap"), extra);    /* a new run decodes */
    assert_int_equal(port_rows(h, "out"), 2);
    assert_int_equal(col_sum(h, "bytes"), 23);
    assert_int_equal(cnt(h, "drop_no_template"), 0);
    fl_harness_destroy(&h);
    h = run_file(tmp_path("data-only.pcap"), NULL);     /* and without the file, not */
    assert_int_equal(port_rows(h, "out"), 0);
    fl_harness_destroy(&h);

    /* a damaged line among good ones */
    f = fopen(tmp_path("templates.txt"), "a");
    assert_non_null(f);
    fputs("10 not-an-address 5 300 0 0 1/8/0\n10 192.0.2.7 5 77 0 0 1/8/0\n", f);
    fclose(f);
    h = run_file(tmp_path("data-only.pcap"), extra);
    assert_int_equal(port_rows(h, "out"), 2);
    assert_int_equal(cnt(h, "template_file_bad_lines"), 2);
    fl_harness_destroy(&h);
}

/* ---- hostile input ------------------------------------------------------------ */

static void test_libfixbuf_crash(void **state)
{
    /* libfixbuf 2.4.1 segfaults on this 56-byte datagram */
    static const char *b64 = "AAoAOGsDUPQAAAAAAAAAAQACABQBAAABAAgABAAMAAAAAAAABAABAAgBAAAUCgAAAQr////9//8=";
    char cmd[1024];
    struct fl_harness *h;
    struct mb m;
    struct cap c;
    FILE *f;
    (void)state;

    snprintf(cmd, sizeof cmd, "echo %s | base64 -d > '%s'", b64, tmp_path("crash.bin"));
    assert_int_equal(system(cmd), 0);
    f = fopen(tmp_path("crash.bin"), "rb");
    assert_non_null(f);
    m.n = fread(m.b, 1, sizeof m.b, f);
    fclose(f);
    assert_int_equal(m.n, 56);
    /* as an IPFIX file and as a datagram in a capture */
    h = run_file(tmp_path("crash.bin"), NULL);
    assert_int_equal(cnt(h, "messages"), 1);
    assert_int_equal(cnt(h, "drop_bad_template"), 1);
    assert_int_equal(cnt(h, "drop_bad_set"), 1);
    fl_harness_destroy(&h);
    cap_open(&c, tmp_path("crash.pcap"));
    cap_add(&c, 9, &m, 0);
    cap_close(&c);
    h = run_file(tmp_path("crash.pcap"), NULL);
    assert_int_equal(cnt(h, "drop_bad_template") + cnt(h, "drop_bad_set"), 2);
    assert_int_equal(port_rows(h, "out"), 0);
    fl_harness_destroy(&h);
}

/* Every cut point of a message with a template and two records; and the
 * same message claiming more bytes than it has. */
static void test_every_cut(void **state)
{
    struct mb m, cut;
    struct cap c;
    (void)state;

    ipfix_hdr(&m, 1700000200, 0, 1);
    tmpl_256(&m);
    data_256(&m, 1, "a", 1);
    data_256(&m, 2, "bb", 2);
    ipfix_end(&m);
    cap_open(&c, tmp_path("cut.pcap"));
    for (size_t k = 0; k < m.n; k++) {
        memcpy(cut.b, m.b, k);
        cut.n = k;
        cap_add(&c, (uint8_t)(k % 200 + 1), &cut, m.n);   /* UDP length claims the whole */
    }
    cap_add(&c, 250, &m, 0);
    cap_close(&c);
    struct fl_harness *h = run_file(tmp_path("cut.pcap"), NULL);
    /* only the whole message decodes: 2 records */
    assert_int_equal(port_rows(h, "out"), 2);
    assert_int_equal(cnt(h, "drop_short"), m.n - 4 + 1 - 1);   /* cuts of >= 4 bytes */
    assert_int_equal(cnt(h, "udp_other"), 4);                 /* cuts under 4 bytes */
    fl_harness_destroy(&h);

    /* each set's length cut or stretched inside a whole message */
    cap_open(&c, tmp_path("sets.pcap"));
    for (uint16_t slen = 0; slen < 80; slen++) {
        cut = m;
        set16(&cut, 16 + 2, slen);      /* the template set's length */
        cap_add(&c, 1, &cut, 0);
    }
    cap_close(&c);
    h = run_file(tmp_path("sets.pcap"), NULL);
    assert_true(cnt(h, "drop_bad_set") > 0);
    assert_true(cnt(h, "drop_bad_template") > 0);
    fl_harness_destroy(&h);
}

static void test_bad_sets_and_fields(void **state)
{
    struct mb m;
    struct cap c;
    struct fl_harness *h;
    (void)state;

    cap_open(&c, tmp_path("bad.pcap"));
    /* a zero-length set: nothing after it can be framed */
    ipfix_hdr(&m, 1, 0, 1);
    put16(&m, 2), put16(&m, 0);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    /* a template with a zero-length field, and one with id 100 */
    ipfix_hdr(&m, 1, 0, 2);
    set_open(&m, 2);
    put16(&m, 256), put16(&m, 1), put16(&m, 8), put16(&m, 0);
    set_close(&m);
    set_open(&m, 2);
    put16(&m, 100), put16(&m, 1), put16(&m, 8), put16(&m, 4);
    set_close(&m);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    /* data before its template, then the template, then data */
    ipfix_hdr(&m, 1, 0, 3);
    data_256(&m, 1, "a", 1);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    ipfix_hdr(&m, 1, 0, 3);
    tmpl_256(&m);
    data_256(&m, 2, "b", 1);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    /* a record longer than its set: dropped, the one before kept */
    ipfix_hdr(&m, 1, 1, 3);
    data_256(&m, 3, "c", 1);
    set16(&m, m.set + 2, (uint16_t)(m.n - m.set - 1));
    m.n--;
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    /* withdrawal, then data: no template */
    ipfix_hdr(&m, 1, 1, 3);
    set_open(&m, 2);
    put16(&m, 256), put16(&m, 0);
    set_close(&m);
    data_256(&m, 4, "d", 1);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    /* set ids 0, 1 and 4 are not IPFIX sets; versions 5 and 11 are unknown */
    ipfix_hdr(&m, 1, 1, 4);
    set_open(&m, 4);
    put32(&m, 0);
    set_close(&m);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    m.b[1] = 11;
    cap_add(&c, 1, &m, 0);
    cap_close(&c);

    h = run_file(tmp_path("bad.pcap"), NULL);
    assert_int_equal(port_rows(h, "out"), 1);
    assert_int_equal(cnt(h, "drop_bad_set"), 1);
    assert_int_equal(cnt(h, "drop_bad_template"), 2);
    assert_int_equal(cnt(h, "drop_no_template"), 2);
    assert_int_equal(cnt(h, "drop_bad_record"), 1);
    assert_int_equal(cnt(h, "templates_withdrawn"), 1);
    assert_int_equal(cnt(h, "drop_bad_set_id"), 1);
    assert_int_equal(cnt(h, "udp_other"), 1);     /* version 11 is not a flow export */
    fl_harness_destroy(&h);
}

/* 3000 templates from one exporter: at most max_templates are kept, the
 * rest evicted and counted; the newest still decode. */
static void test_template_flood(void **state)
{
    struct mb m;
    struct cap c;
    struct fl_harness *h;
    (void)state;

    cap_open(&c, tmp_path("flood.pcap"));
    for (int k = 0; k < 30; k++) {
        ipfix_hdr(&m, 1, 0, 1);
        set_open(&m, 2);
        for (int i = 0; i < 100; i++) {
            put16(&m, (uint16_t)(256 + k * 100 + i)), put16(&m, 1);
            put16(&m, 1), put16(&m, 8);
        }
        set_close(&m);
        ipfix_end(&m);
        cap_add(&c, 1, &m, 0);
    }
    ipfix_hdr(&m, 1, 0, 1);
    set_open(&m, 256 + 2999);
    put64(&m, 77);
    set_close(&m);
    set_open(&m, 256);
    put64(&m, 1);
    set_close(&m);
    ipfix_end(&m);
    cap_add(&c, 1, &m, 0);
    cap_close(&c);
    h = run_file(tmp_path("flood.pcap"), "max_templates: 100");
    assert_int_equal(cnt(h, "templates"), 3000);
    assert_int_equal(cnt(h, "template_evicted"), 2900);
    assert_int_equal(port_rows(h, "out"), 1);
    assert_int_equal(col_sum(h, "bytes"), 77);
    assert_int_equal(cnt(h, "drop_no_template"), 1);
    fl_harness_destroy(&h);
}

/* NetFlow v9 and IPFIX from one exporter, in one capture. */
static void test_version_mix(void **state)
{
    char a[1024], b[1024];
    struct fl_harness *h;
    (void)state;
    snprintf(a, sizeof a, "%s/netflow9/pmacct_111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources__traffic-00.pcap",
             data_dir);
    snprintf(b, sizeof b, "%s/ipfix/pmacct_111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources__traffic-01.pcap",
             data_dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mergecap -F pcap -w '%s' '%s' '%s' 2>/dev/null",
             tmp_path("mix.pcap"), a, b);
    if (system(cmd) != 0) {
        print_message("mergecap not found: the version mix is skipped\n");
        return;
    }
    h = run_file(tmp_path("mix.pcap"), NULL);
    assert_int_equal(port_rows(h, "out"), 11 + 13);
    fl_harness_destroy(&h);
}

static int setup(void **state)
{
    (void)state;
    data_dir = fl_test_data_dir();
    return fl_test_tmpdir("ipfix", tmp_dir, sizeof tmp_dir);
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
        cmocka_unit_test(test_ipfix_encodings),
        cmocka_unit_test(test_nf9_times_and_sampling),
        cmocka_unit_test(test_template_file),
        cmocka_unit_test(test_libfixbuf_crash),
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_bad_sets_and_fields),
        cmocka_unit_test(test_template_flood),
        cmocka_unit_test(test_version_mix),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
