/* test_pcapng.c: input.pcap's own pcapng reader (pcap_ng.c) through the
 * harness, on files written here with ngw.h:
 * - two sections (little- and big-endian), five interfaces with Ethernet
 *   and raw IP link types, if_tsresol 10^-6, 10^-9, 10^-3 and 2^-20,
 *   if_tsoffset; enhanced, simple and obsolete packet blocks and an
 *   unknown block: every row and timestamp against values computed here
 *   and against tshark (skipped with a message when tshark is missing);
 *   libpcap reads less of the same file (it refuses the second interface);
 * - every cut point of that file: no crash, the packets of the complete
 *   blocks before the cut, truncated_record counted;
 * - corrupt blocks: bad lengths, trailing length mismatch, an unknown
 *   interface, a captured length beyond the block;
 * - bpf per interface link type;
 * - captures of ../shared/data/pcap converted with editcap -F pcapng (when
 *   editcap is installed): the same rows as the classic reader on the
 *   original and as libpcap on the converted file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <cmocka.h>

#include <flowline/decode.h>
#include "fl_harness.h"
#include "ngw.h"
#include "pcap_test.h"

static const char *data_dir;   /* .../shared/data/pcap */
static char tmp_dir[256];

/* ---- helpers ------------------------------------------------------------ */

/* ---- the mixed file ----------------------------------------------------- */

#define MIX_PKTS 8
#define MIX_MAX_BLOCKS 32

struct mix {
    uint8_t buf[4096];
    size_t size;
    uint8_t src[MIX_PKTS];          /* last byte of each row's source address */
    uint64_t ts[MIX_PKTS];          /* each row's time, ns, computed here */
    uint32_t ifc[MIX_PKTS];         /* each row's interface, its index in its section */
    size_t ends[MIX_MAX_BLOCKS];    /* offset after each block */
    bool pkt[MIX_MAX_BLOCKS];       /* that block is a packet */
    size_t n_blocks;
    size_t unknown_at;              /* offset of the unknown block */
};

static void mix_mark(struct mix *m, struct ngw *w, bool pkt)
{
    m->ends[m->n_blocks] = w->n;
    m->pkt[m->n_blocks++] = pkt;
}

static void build_mix(struct mix *m)
{
    struct ngw w = {m->buf, 0, 0};
    uint8_t f[64];
    const uint64_t s = 1700000000ull;
    uint64_t u3 = (s << 20) + 777777;
    unsigned k = 0;

    memset(m, 0, sizeof *m);
    w.buf = m->buf;
    ngw_shb(&w, 0);
    mix_mark(m, &w, false);
    ngw_idb(&w, 1, 0, -1, 0);               /* 0: Ethernet, microseconds */
    mix_mark(m, &w, false);
    ngw_idb(&w, 101, 128, 9, 100);          /* 1: raw IP, ns, +100 s */
    mix_mark(m, &w, false);
    ngw_idb(&w, 1, 65535, 0x80 | 20, 0);    /* 2: Ethernet, 2^-20 s */
    mix_mark(m, &w, false);

    ngw_frame(f, 1);
    ngw_epb(&w, 6, 0, s * 1000000 + 123456, f, 60, 60);
    m->src[k] = 1, m->ts[k++] = (s * 1000000 + 123456) * 1000;
    mix_mark(m, &w, true);
    ngw_frame(f, 2);
    ngw_epb(&w, 6, 1, s * 1000000000 + 987654321, f + 14, 46, 46);
    m->src[k] = 2, m->ts[k++] = (s + 100) * 1000000000 + 987654321;
    mix_mark(m, &w, true);
    ngw_frame(f, 3);
    ngw_epb(&w, 6, 2, u3, f, 60, 64);
    /* floor(u3 * 1e9 / 2^20), in parts that fit 64 bits */
    m->src[k] = 3, m->ts[k++] = s * 1000000000 + 777777ull * 1000000000 / (1u << 20);
    mix_mark(m, &w, true);
    ngw_frame(f, 4);
    ngw_spb(&w, f, 60);                     /* interface 0, no time */
    m->src[k] = 4, m->ts[k++] = 0;
    mix_mark(m, &w, true);
    ngw_frame(f, 5);
    ngw_epb(&w, 2, 1, (s + 1) * 1000000000 + 5, f + 14, 46, 46);   /* obsolete PB */
    m->src[k] = 5, m->ts[k++] = (s + 101) * 1000000000 + 5;
    mix_mark(m, &w, true);
    m->unknown_at = w.n;
    ngw_block(&w, 0x0BAD0001, "unknown body", 12);
    mix_mark(m, &w, false);
    ngw_frame(f, 6);
    ngw_epb(&w, 6, 0, (s + 2) * 1000000 + 1, f, 60, 60);
    m->src[k] = 6, m->ts[k++] = ((s + 2) * 1000000 + 1) * 1000;
    mix_mark(m, &w, true);

    ngw_shb(&w, 1);                         /* a big-endian section */
    mix_mark(m, &w, false);
    ngw_idb(&w, 101, 0, 9, 0);              /* 0: raw IP, ns */
    mix_mark(m, &w, false);
    ngw_idb(&w, 1, 0, 3, -10);              /* 1: Ethernet, ms, -10 s */
    mix_mark(m, &w, false);
    ngw_frame(f, 7);
    ngw_epb(&w, 6, 1, (s + 3) * 1000 + 250, f, 60, 60);
    m->src[k] = 7, m->ts[k++] = (s + 3 - 10) * 1000000000 + 250000000;
    mix_mark(m, &w, true);
    ngw_frame(f, 8);
    ngw_epb(&w, 6, 0, (s + 4) * 1000000000 + 42, f + 14, 46, 46);
    m->src[k] = 8, m->ts[k++] = (s + 4) * 1000000000 + 42;
    mix_mark(m, &w, true);
    m->size = w.n;
    assert_int_equal(k, MIX_PKTS);
    memcpy(m->ifc, (uint32_t[MIX_PKTS]){0, 1, 2, 0, 1, 0, 1, 0}, sizeof m->ifc);
}

/* ns from tshark's frame.time_epoch ("1700000000.123456000"). */
static uint64_t epoch_ns(const char *s)
{
    uint64_t sec = strtoull(s, (char **)&s, 10), ns = 0;
    int digits = 0;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9' && digits < 9; s++, digits++)
            ns = ns * 10 + (uint64_t)(*s - '0');
    for (; digits < 9; digits++)
        ns *= 10;
    return sec * 1000000000 + ns;
}

static void test_mixed_file(void **state)
{
    static struct mix m;
    struct fl_harness *h = NULL, *lib = NULL;
    char path[512], cmd[1024], line[256];
    struct cur c;
    const struct fl_batch *b;
    uint32_t r;
    unsigned k = 0;
    FILE *p;
    (void)state;

    build_mix(&m);
    snprintf(path, sizeof path, "%s/mixed.pcapng", tmp_dir);
    write_file(path, m.buf, m.size);
    assert_int_equal(open_run(path, "reader: auto", &h), 0);
    assert_int_equal(fl_harness_counter(h, "packets_read"), MIX_PKTS);
    assert_int_equal(fl_harness_out_rows(h), MIX_PKTS);
    assert_int_equal(fl_harness_counter(h, "bad_record") + fl_harness_counter(h, "truncated_record") +
                     fl_harness_counter(h, "drop_bad_block"), 0);
    c = (struct cur){h, 0, 0};
    while ((b = cur_next(&c, &r))) {
        assert_true(k < MIX_PKTS);
        assert_int_equal(CELL(b, FL_PKT_SRC_ADDR, struct fl_addr, r).b[15], m.src[k]);
        assert_int_equal(fl_schema_find(b->schema, "interface"), (int)b->schema->ncols - 1);
        assert_int_equal(CELL(b, b->schema->ncols - 1, uint32_t, r), m.ifc[k]);
        if (CELL(b, FL_PKT_TS, uint64_t, r) != m.ts[k])
            fail_msg("row %u: ts %llu, expected %llu", k,
                     (unsigned long long)CELL(b, FL_PKT_TS, uint64_t, r),
                     (unsigned long long)m.ts[k]);
        k++;
    }

    /* libpcap gives up at the second interface (another link type) */
    assert_int_equal(open_run(path, "reader: libpcap", &lib), 0);
    assert_true(fl_harness_counter(lib, "packets_read") < MIX_PKTS);
    assert_int_equal(fl_harness_counter(lib, "bad_record"), 1);
    print_message("mixed file: own reader %d packets, libpcap %llu\n", MIX_PKTS,
                  (unsigned long long)fl_harness_counter(lib, "packets_read"));
    fl_harness_destroy(&lib);

    /* tshark's view of the same file */
    snprintf(cmd, sizeof cmd, "tshark -r '%s' -T fields -e frame.time_epoch -e ip.src "
             "-e frame.interface_id 2>/dev/null",
             path);
    p = system("command -v tshark >/dev/null 2>&1") == 0 ? popen(cmd, "r") : NULL;
    if (!p) {
        print_message("tshark not found: the comparison with tshark is skipped\n");
    } else {
        k = 0;
        c = (struct cur){h, 0, 0};
        while (fgets(line, sizeof line, p)) {
            char *tab = strchr(line, '\t');
            unsigned a, bb, cc, d, ifc;
            b = cur_next(&c, &r);
            assert_non_null(b);
            assert_non_null(tab);
            assert_int_equal(sscanf(tab + 1, "%u.%u.%u.%u\t%u", &a, &bb, &cc, &d, &ifc), 5);
            assert_int_equal(CELL(b, FL_PKT_SRC_ADDR, struct fl_addr, r).b[15], d);
            assert_int_equal(CELL(b, b->schema->ncols - 1, uint32_t, r), ifc);
            /* a simple packet block has no time: tshark leaves it empty */
            if (line[0] != '\t' && epoch_ns(line) != CELL(b, FL_PKT_TS, uint64_t, r))
                fail_msg("row %u: tshark %s, flowline %llu", k, line,
                         (unsigned long long)CELL(b, FL_PKT_TS, uint64_t, r));
            k++;
        }
        assert_int_equal(pclose(p), 0);
        assert_int_equal(k, MIX_PKTS);
    }
    fl_harness_destroy(&h);
}

/* Every cut point: the packets of the complete blocks before it, and a
 * cut inside a block counted as truncated_record. */
static void test_every_cut(void **state)
{
    static struct mix m;
    char path[512];
    (void)state;
    build_mix(&m);
    snprintf(path, sizeof path, "%s/cut.pcapng", tmp_dir);
    for (size_t cut = 12; cut < m.size; cut++) {
        struct fl_harness *h = NULL;
        uint64_t want = 0;
        bool boundary = false;
        for (size_t i = 0; i < m.n_blocks; i++) {
            want += m.pkt[i] && m.ends[i] <= cut;
            boundary |= m.ends[i] == cut;
        }
        write_file(path, m.buf, cut);
        assert_int_equal(open_run(path, "reader: auto", &h), 0);
        if (fl_harness_counter(h, "packets_read") != want ||
            fl_harness_out_rows(h) != want ||
            fl_harness_counter(h, "truncated_record") != (boundary ? 0 : 1))
            fail_msg("cut at %zu: %llu packets, truncated_record %llu; expected %llu, %d", cut,
                     (unsigned long long)fl_harness_counter(h, "packets_read"),
                     (unsigned long long)fl_harness_counter(h, "truncated_record"),
                     (unsigned long long)want, !boundary);
        fl_harness_destroy(&h);
    }
}

static void put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Corrupt framing ends the file (bad_record); corrupt content skips the
 * block (drop_bad_block). The packets before are kept either way. */
static void test_corrupt_blocks(void **state)
{
    static struct mix m;
    static uint8_t buf[1024];
    struct ngw w = {buf, 0, 0};
    struct fl_harness *h = NULL;
    char path[512];
    uint8_t f[64];
    size_t at;
    (void)state;
    snprintf(path, sizeof path, "%s/bad.pcapng", tmp_dir);

    for (int v = 0; v < 4; v++) {
        build_mix(&m);
        if (v == 0)
            put32le(m.buf + m.unknown_at + 4, 26);     /* not a multiple of 4 */
        else if (v == 1)
            put32le(m.buf + m.unknown_at + 4, 8);      /* under 12 */
        else if (v == 2)
            put32le(m.buf + m.unknown_at + 20, 28);    /* trailing length differs */
        else
            memcpy(m.buf + m.unknown_at + 8, "\xde\xad", 2);   /* body only: harmless */
        write_file(path, m.buf, m.size);
        assert_int_equal(open_run(path, NULL, &h), 0);
        assert_int_equal(fl_harness_counter(h, "packets_read"), v == 3 ? MIX_PKTS : 5);
        assert_int_equal(fl_harness_out_rows(h), v == 3 ? MIX_PKTS : 5);
        assert_int_equal(fl_harness_counter(h, "bad_record"), v == 3 ? 0 : 1);
        fl_harness_destroy(&h);
    }

    /* unknown interface, caplen beyond the block, a short packet block */
    ngw_shb(&w, 0);
    ngw_idb(&w, 1, 0, -1, 0);
    ngw_frame(f, 1);
    ngw_epb(&w, 6, 0, 1, f, 60, 60);
    ngw_epb(&w, 6, 9, 2, f, 60, 60);            /* interface 9: none */
    at = w.n;
    ngw_epb(&w, 6, 0, 3, f, 60, 60);
    put32le(buf + at + 20, 61);                 /* caplen beyond the block */
    ngw_block(&w, 6, "short", 5);               /* EPB without its fields */
    ngw_block(&w, 3, "", 0);                    /* SPB without its length */
    ngw_epb(&w, 6, 0, 4, f, 60, 60);
    write_file(path, buf, w.n);
    assert_int_equal(open_run(path, NULL, &h), 0);
    assert_int_equal(fl_harness_counter(h, "packets_read"), 2);
    assert_int_equal(fl_harness_out_rows(h), 2);
    assert_int_equal(fl_harness_counter(h, "drop_bad_block"), 4);
    assert_int_equal(fl_harness_counter(h, "bad_record"), 0);
    fl_harness_destroy(&h);

    /* interfaces beyond the 65536th of a section: counted, not kept */
    {
        size_t cap = 70000 * 24 + 1024;   /* an IDB here is 24 bytes */
        uint8_t *big = malloc(cap);
        struct ngw bw = {big, 0, 0};
        assert_non_null(big);
        ngw_shb(&bw, 0);
        for (unsigned i = 0; i < 65537; i++)
            ngw_idb(&bw, 1, 0, -1, 0);
        ngw_epb(&bw, 6, 65536, 1, f, 60, 60);  /* the one not kept */
        ngw_epb(&bw, 6, 65535, 2, f, 60, 60);
        assert_true(bw.n <= cap);
        write_file(path, big, bw.n);
        free(big);
        assert_int_equal(open_run(path, NULL, &h), 0);
        assert_int_equal(fl_harness_counter(h, "packets_read"), 1);
        assert_int_equal(fl_harness_counter(h, "drop_bad_block"), 2);
        fl_harness_destroy(&h);
    }

    /* a section header with a bad byte-order magic */
    w.n = 0;
    ngw_shb(&w, 0);
    buf[8] = 0x55;
    write_file(path, buf, w.n);
    assert_int_equal(open_run(path, NULL, &h), 0);
    assert_int_equal(fl_harness_counter(h, "bad_record"), 1);
    fl_harness_destroy(&h);
}

/* One filter per link type: the same expression on Ethernet and raw IP. */
static void test_bpf_per_linktype(void **state)
{
    static struct mix m;
    struct fl_harness *h = NULL;
    char path[512];
    struct cur c;
    const struct fl_batch *b;
    uint32_t r;
    unsigned k = 0;
    (void)state;
    build_mix(&m);
    snprintf(path, sizeof path, "%s/bpf.pcapng", tmp_dir);
    write_file(path, m.buf, m.size);
    assert_int_equal(open_run(path, "bpf: \"src host 10.0.0.2 or src host 10.0.0.7 or "
                              "src host 10.0.0.3\"", &h), 0);
    assert_int_equal(fl_harness_counter(h, "packets_read"), MIX_PKTS);
    assert_int_equal(fl_harness_counter(h, "bpf_rejected"), MIX_PKTS - 3);
    c = (struct cur){h, 0, 0};
    while ((b = cur_next(&c, &r))) {
        static const uint8_t want[] = {2, 3, 7};
        assert_true(k < 3);
        assert_int_equal(CELL(b, FL_PKT_SRC_ADDR, struct fl_addr, r).b[15], want[k]);
        k++;
    }
    assert_int_equal(k, 3);
    fl_harness_destroy(&h);
}

/* A file of one interface has no `interface` column; one whose second
 * interface is described after packets of the first gets it from there
 * on, in a new batch (the rows before keep theirs). */
static void test_late_interface(void **state)
{
    uint8_t buf[1024], f[64];
    struct ngw w = {buf, 0, 0};
    struct fl_harness *h = NULL;
    char path[512];
    struct cur c;
    const struct fl_batch *b;
    uint32_t r;
    unsigned k = 0;
    (void)state;

    ngw_shb(&w, 0);
    ngw_idb(&w, 1, 0, -1, 0);
    for (uint8_t i = 1; i <= 2; i++) {
        ngw_frame(f, i);
        ngw_epb(&w, 6, 0, i, f, 60, 60);
    }
    ngw_idb(&w, 101, 0, -1, 0);
    ngw_frame(f, 3);
    ngw_epb(&w, 6, 1, 3, f + 14, 46, 46);
    ngw_frame(f, 4);
    ngw_epb(&w, 6, 0, 4, f, 60, 60);
    snprintf(path, sizeof path, "%s/late.pcapng", tmp_dir);
    write_file(path, buf, w.n);
    assert_int_equal(open_run(path, NULL, &h), 0);
    c = (struct cur){h, 0, 0};
    while ((b = cur_next(&c, &r))) {
        int col = fl_schema_find(b->schema, "interface");
        assert_int_equal(CELL(b, FL_PKT_SRC_ADDR, struct fl_addr, r).b[15], k + 1);
        if (k < 2) {
            assert_int_equal(col, -1);
        } else {
            assert_int_equal(col, (int)b->schema->ncols - 1);
            assert_int_equal(CELL(b, col, uint32_t, r), k == 2 ? 1 : 0);
        }
        k++;
    }
    assert_int_equal(k, 4);
    fl_harness_destroy(&h);
}

/* The shared pcapng captures and shared classic captures converted with
 * editcap: own reader = libpcap on the pcapng file = classic reader on the
 * original (when libpcap reads the pcapng file fully). */
static void test_shared_captures(void **state)
{
    DIR *dir = opendir(data_dir);
    struct dirent *e;
    char src[1024], ng[1024], cmd[2600];
    size_t converted = 0, native = 0, i = 0;
    bool editcap = system("command -v editcap >/dev/null 2>&1") == 0;
    (void)state;
    assert_non_null(dir);
    if (!editcap)
        print_message("editcap not found: classic captures are not converted to pcapng\n");
    while ((e = readdir(dir))) {
        struct fl_harness *own = NULL, *lib = NULL, *classic = NULL;
        size_t len = strlen(e->d_name);
        const char *why;
        if (e->d_name[0] == '.')
            continue;
        snprintf(src, sizeof src, "%s/%s", data_dir, e->d_name);
        if (len > 7 && strcmp(e->d_name + len - 7, ".pcapng") == 0) {
            snprintf(ng, sizeof ng, "%s", src);
            native++;
        } else if (editcap && i++ % 6 == 0) {
            snprintf(ng, sizeof ng, "%s/conv.pcapng", tmp_dir);
            snprintf(cmd, sizeof cmd, "editcap -F pcapng '%s' '%s' >/dev/null 2>&1", src, ng);
            if (system(cmd) != 0)
                continue;
            assert_int_equal(open_run(src, "reader: own", &classic), 0);
            converted++;
        } else {
            continue;
        }
        assert_int_equal(open_run(ng, "reader: auto", &own), 0);
        assert_int_equal(open_run(ng, "reader: libpcap", &lib), 0);
        if (fl_harness_counter(lib, "bad_record") == 0 && (why = same_output(own, lib)))
            fail_msg("%s as pcapng: own reader and libpcap differ: %s", e->d_name, why);
        if (fl_harness_counter(lib, "bad_record") != 0)
            print_message("%s: libpcap stops early (%llu packets), own reader reads %llu\n",
                          e->d_name, (unsigned long long)fl_harness_counter(lib, "packets_read"),
                          (unsigned long long)fl_harness_counter(own, "packets_read"));
        /* editcap keeps what libpcap read: the classic reader's rows */
        if (classic && fl_harness_counter(classic, "bad_record") == 0 &&
            fl_harness_counter(classic, "truncated_record") == 0 &&
            fl_harness_out_rows(classic) != fl_harness_out_rows(own))
            fail_msg("%s: %llu rows from the classic file, %llu from its pcapng", e->d_name,
                     (unsigned long long)fl_harness_out_rows(classic),
                     (unsigned long long)fl_harness_out_rows(own));
        fl_harness_destroy(&own);
        fl_harness_destroy(&lib);
        fl_harness_destroy(&classic);
    }
    closedir(dir);
    print_message("%zu shared pcapng captures, %zu classic captures converted\n", native,
                  converted);
    assert_true(native >= 1);
}

static int setup_group(void **state)
{
    static char dir[1024];
    const char *d = fl_test_data_dir();
    (void)state;
    if (!d)
        return -1;
    snprintf(dir, sizeof dir, "%s/pcap", d);
    data_dir = dir;
    return fl_test_tmpdir("pcapng", tmp_dir, sizeof tmp_dir);
}

static int teardown_group(void **state)
{
    (void)state;
    fl_test_rmdir(tmp_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_file),
        cmocka_unit_test(test_every_cut),
        cmocka_unit_test(test_corrupt_blocks),
        cmocka_unit_test(test_bpf_per_linktype),
        cmocka_unit_test(test_late_interface),
        cmocka_unit_test(test_shared_captures),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
