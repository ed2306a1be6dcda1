/* test_pcap.c: input.pcap loaded as a plugin through the harness.
 *
 * - Real captures from ../shared/data/pcap against numbers tshark computed
 *   independently (expected.tsv, written by expected.sh): records read,
 *   IP packets, TCP and UDP packets, wire bytes of IP packets.
 * - Every capture in ../shared/data/pcap through both readers (flowline's
 *   own reader and libpcap): no crash, and the same rows, cell for cell,
 *   and the same counters.
 * - Files written here: every byte order and timestamp resolution, a cut
 *   last record, an impossible record length, gzip, empty and non-capture
 *   files, a named pipe, batch sizes, BPF filters.
 * - A live capture on the loopback interface (root only). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/socket.h>
#ifdef PCAP_TEST_ZLIB
#include <zlib.h>
#endif

#include <flowline/decode.h>
#include "fl_harness.h"
#include "pcap_test.h"
#include "rt.h"

#ifndef PCAP_TEST_DIR
#error "PCAP_TEST_DIR (this directory, for expected.tsv) must be defined by the build"
#endif

static const char *data_dir;   /* .../shared/data/pcap */
static char tmp_dir[256];

/* ---- helpers ------------------------------------------------------------ */

static void data_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", data_dir, name);
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmp_dir, name);
}

/* Totals over every row. */
struct totals {
    uint64_t rows, tcp, udp, frame_bytes, ip_bytes, v6;
    uint64_t t_first, t_last;
};

static void totals_of(struct fl_harness *h, struct totals *t)
{
    struct cur c = {h, 0, 0};
    const struct fl_batch *b;
    uint32_t r;
    memset(t, 0, sizeof *t);
    while ((b = cur_next(&c, &r))) {
        uint8_t proto = CELL(b, FL_PKT_PROTO, uint8_t, r);
        if (t->rows == 0)
            t->t_first = CELL(b, FL_PKT_TS, uint64_t, r);
        t->t_last = CELL(b, FL_PKT_TS, uint64_t, r);
        t->rows++;
        t->tcp += proto == 6;
        t->udp += proto == 17;
        t->v6 += CELL(b, FL_PKT_IP_VERSION, uint8_t, r) == 6;
        t->frame_bytes += CELL(b, FL_PKT_FRAME_LEN, uint32_t, r);
        t->ip_bytes += CELL(b, FL_PKT_IP_LEN, uint32_t, r);
    }
}

static uint64_t drops_of(struct fl_harness *h)
{
    return fl_harness_counter(h, "drop_truncated") + fl_harness_counter(h, "drop_not_ip") +
           fl_harness_counter(h, "unsupported_linktype") + fl_harness_counter(h, "drop_bad_ip") +
           fl_harness_counter(h, "drop_bad_l4") + fl_harness_counter(h, "drop_bad_exthdr") +
           fl_harness_counter(h, "drop_encrypted") + fl_harness_counter(h, "drop_not_data") +
           fl_harness_counter(h, "drop_bad_link");
}

/* ---- fixture ------------------------------------------------------------ */

static int setup_group(void **state)
{
    static char dir[1024];
    const char *d = fl_test_data_dir();
    (void)state;
    if (!d)
        return -1;
    snprintf(dir, sizeof dir, "%s/pcap", d);
    data_dir = dir;
    return fl_test_tmpdir("pcap", tmp_dir, sizeof tmp_dir);
}

static int teardown_group(void **state)
{
    (void)state;
    fl_test_rmdir(tmp_dir);
    return 0;
}

/* ---- against tshark ----------------------------------------------------- */

/* expected.tsv: file, mode (outer, or decap: the innermost packet), frames,
 * IP frames, TCP, UDP, wire bytes of IP frames, IPv6 frames, as tshark
 * counts them (see expected.sh). */
static void test_against_tshark(void **state)
{
    char path[1024], line[1024];
    FILE *f;
    int files = 0;
    (void)state;
    f = fopen(PCAP_TEST_DIR "/expected.tsv", "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        char name[512], mode[16], opts[64];
        unsigned long long frames, ip, tcp, udp, bytes, v6;
        struct fl_harness *h = NULL;
        struct totals t;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "%511s %15s %llu %llu %llu %llu %llu %llu", name, mode, &frames, &ip,
                   &tcp, &udp, &bytes, &v6) != 8)
            fail_msg("expected.tsv: bad line: %s", line);
        data_path(path, sizeof path, name);
        for (int reader = 0; reader < 2; reader++) {
            snprintf(opts, sizeof opts, "reader: %s, decap: %s", reader ? "libpcap" : "auto",
                     strcmp(mode, "decap") == 0 ? "true" : "false");
            int rc = open_run(path, opts, &h);
            if (rc < 0)
                fail_msg("%s: run failed: %s", name, fl_strerror(rc));
            totals_of(h, &t);
            if (fl_harness_counter(h, "packets_read") != frames || t.rows != ip || t.tcp != tcp ||
                t.udp != udp || t.frame_bytes != bytes || t.v6 != v6)
                fail_msg("%s (%s): read %llu rows %llu tcp %llu udp %llu bytes %llu v6 %llu; "
                         "tshark: %llu %llu %llu %llu %llu %llu", name, opts,
                         (unsigned long long)fl_harness_counter(h, "packets_read"),
                         (unsigned long long)t.rows, (unsigned long long)t.tcp,
                         (unsigned long long)t.udp, (unsigned long long)t.frame_bytes,
                         (unsigned long long)t.v6, frames, ip, tcp, udp, bytes, v6);
            /* nothing read vanishes: a row or a counted drop */
            assert_int_equal(fl_harness_counter(h, "packets_read"), t.rows + drops_of(h));
            fl_harness_destroy(&h);
        }
        files++;
    }
    fclose(f);
    assert_true(files >= 30);
}

/* ---- every capture, both readers --------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_every_capture_both_readers(void **state)
{
    DIR *dir = opendir(data_dir);
    struct dirent *e;
    char **names = NULL, path[1024];
    size_t n = 0, compared = 0, fallback = 0, differ = 0;
    uint64_t packets = 0;
    (void)state;
    assert_non_null(dir);
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        assert_non_null(names);
        names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, name_cmp);
    assert_true(n > 100);

    for (size_t i = 0; i < n; i++) {
        struct fl_harness *a = NULL, *b = NULL;
        int ra, rb;
        data_path(path, sizeof path, names[i]);
        ra = open_run(path, "reader: own", &a);
        rb = open_run(path, "reader: libpcap", &b);
        if (rb < 0)
            fail_msg("%s: libpcap reader failed: %s", names[i], fl_strerror(rb));
        assert_int_equal(fl_harness_counter(b, "packets_read"),
                         fl_harness_out_rows(b) + drops_of(b));
        packets += fl_harness_counter(b, "packets_read");
        if (ra == -FL_EPROTO) {
            fallback++;          /* not a file the own readers take */
        } else {
            const char *why;
            if (ra < 0)
                fail_msg("%s: own reader failed: %s", names[i], fl_strerror(ra));
            if ((why = same_output(a, b))) {
                print_error("%s: own and libpcap readers differ: %s\n", names[i], why);
                differ++;
            }
            compared++;
        }
        fl_harness_destroy(&a);
        fl_harness_destroy(&b);
        free(names[i]);
    }
    free(names);
    print_message("%zu captures, %zu compared between readers, %zu libpcap only, "
                  "%llu records\n", n, compared, fallback, (unsigned long long)packets);
    assert_int_equal(differ, 0);
    assert_true(compared > 100);
}

/* ---- files written here -------------------------------------------------- */

/* A small Ethernet/IPv4/UDP frame; i varies the source port. */
static size_t frame(uint8_t *p, unsigned i)
{
    static const uint8_t hdr[] = {
        0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
        0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        0, 0, 0, 53, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};
    memcpy(p, hdr, sizeof hdr);
    p[34] = (uint8_t)((1000 + i) >> 8);
    p[35] = (uint8_t)(1000 + i);
    return sizeof hdr;
}

static void put32(uint8_t *p, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(be ? v >> (24 - 8 * i) : v >> (8 * i));
}
static void put16(uint8_t *p, uint16_t v, int be)
{
    p[be ? 0 : 1] = (uint8_t)(v >> 8);
    p[be ? 1 : 0] = (uint8_t)v;
}

/* A classic pcap file of n frames in memory: byte order be, nanosecond
 * magic nano, version minor, snaplen. Returns its size. */
static size_t build_pcap(uint8_t *buf, unsigned n, int be, int nano, int minor, uint32_t snap)
{
    size_t off = 24;
    put32(buf, nano ? 0xa1b23c4d : 0xa1b2c3d4, be);
    put16(buf + 4, 2, be);
    put16(buf + 6, (uint16_t)minor, be);
    put32(buf + 8, 0, be);
    put32(buf + 12, 0, be);
    put32(buf + 16, snap, be);
    put32(buf + 20, 1, be);
    for (unsigned i = 0; i < n; i++) {
        size_t len = frame(buf + off + 16, i);
        put32(buf + off, 1700000000 + i, be);
        put32(buf + off + 4, nano ? 123456789 : 123456, be);
        put32(buf + off + 8, (uint32_t)len, be);
        put32(buf + off + 12, (uint32_t)len + 4, be);
        off += 16 + len;
    }
    return off;
}

static void test_byte_orders_and_resolutions(void **state)
{
    static uint8_t buf[1 << 16];
    char path[512];
    struct fl_harness *ref = NULL;
    (void)state;
    for (int v = 0; v < 4; v++) {
        int be = v & 1, nano = v >> 1;
        struct fl_harness *h = NULL;
        size_t n = build_pcap(buf, 100, be, nano, 4, 65535);
        tmp_path(path, sizeof path, "orders.pcap");
        write_file(path, buf, n);
        for (int reader = 0; reader < 2; reader++) {
            struct totals t;
            assert_int_equal(open_run(path, reader ? "reader: libpcap" : "reader: own", &h), 0);
            totals_of(h, &t);
            assert_int_equal(t.rows, 100);
            assert_int_equal(t.udp, 100);
            assert_int_equal(t.frame_bytes, 100 * (46 + 4));
            assert_int_equal(t.t_first, 1700000000ull * 1000000000ull +
                                        (nano ? 123456789ull : 123456000ull));
            assert_int_equal(t.t_last, 1700000099ull * 1000000000ull +
                                       (nano ? 123456789ull : 123456000ull));
            const struct fl_batch *b = fl_harness_out(h, 0);
            assert_int_equal(CELL(b, FL_PKT_SRC_PORT, uint16_t, 5), 1005);
            assert_int_equal(CELL(b, FL_PKT_PAYLOAD_LEN, uint32_t, 5), 4);
            if (!nano && !be && !reader)
                ref = h;
            else {
                if (!nano) {
                    const char *why = same_output(ref, h);
                    if (why)
                        fail_msg("variant %d reader %d: %s", v, reader, why);
                }
                fl_harness_destroy(&h);
            }
        }
    }
    fl_harness_destroy(&ref);
}

/* Old files (version 2.0-2.2) have caplen and len swapped; libpcap swaps
 * them back, and so must the own reader. */
static void test_old_version_lengths(void **state)
{
    static uint8_t buf[1 << 14];
    char path[512];
    size_t n = build_pcap(buf, 10, 0, 0, 2, 65535);
    struct fl_harness *a = NULL, *b = NULL;
    (void)state;
    for (size_t off = 24; off < n;) {     /* write len where caplen goes */
        uint8_t t[4];
        uint32_t cap = buf[off + 8] | buf[off + 9] << 8;
        memcpy(t, buf + off + 8, 4);
        memcpy(buf + off + 8, buf + off + 12, 4);
        memcpy(buf + off + 12, t, 4);
        off += 16 + cap;
    }
    tmp_path(path, sizeof path, "old.pcap");
    write_file(path, buf, n);
    assert_int_equal(open_run(path, "reader: own", &a), 0);
    assert_int_equal(open_run(path, "reader: libpcap", &b), 0);
    assert_int_equal(fl_harness_out_rows(a), 10);
    assert_null(same_output(a, b));
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);
}

/* A file cut inside its last record, and one whose record claims more than
 * any link type allows: read up to there, counted, a clean end (rc 0). */
static void test_truncated_and_bad_records(void **state)
{
    static uint8_t buf[1 << 14];
    char path[512];
    size_t n = build_pcap(buf, 20, 0, 0, 4, 65535);
    (void)state;
    tmp_path(path, sizeof path, "cut.pcap");
    for (size_t cut = 1; cut <= 16 + 46; cut += 15) {
        write_file(path, buf, n - cut);
        struct fl_harness *a = NULL, *b = NULL;
        assert_int_equal(open_run(path, "reader: own", &a), 0);
        assert_int_equal(open_run(path, "reader: libpcap", &b), 0);
        assert_int_equal(fl_harness_counter(a, "packets_read"), 19);
        assert_int_equal(fl_harness_counter(a, "truncated_record"), 1);
        assert_int_equal(fl_harness_out_rows(a), 19);
        assert_null(same_output(a, b));
        fl_harness_destroy(&a);
        fl_harness_destroy(&b);
    }

    /* record 11 claims 1 GB captured */
    size_t off = 24;
    for (int i = 0; i < 10; i++)
        off += 16 + 46;
    put32(buf + off + 8, 1u << 30, 0);
    tmp_path(path, sizeof path, "bad.pcap");
    write_file(path, buf, n);
    struct fl_harness *a = NULL, *b = NULL;
    assert_int_equal(open_run(path, "reader: own", &a), 0);
    assert_int_equal(open_run(path, "reader: libpcap", &b), 0);
    assert_int_equal(fl_harness_counter(a, "packets_read"), 10);
    assert_int_equal(fl_harness_counter(a, "bad_record"), 1);
    assert_null(same_output(a, b));
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);

    /* a record longer than the file's snaplen is cut to it, as libpcap does */
    n = build_pcap(buf, 20, 0, 0, 4, 40);
    tmp_path(path, sizeof path, "snap.pcap");
    write_file(path, buf, n);
    assert_int_equal(open_run(path, "reader: own", &a), 0);
    assert_int_equal(open_run(path, "reader: libpcap", &b), 0);
    assert_int_equal(fl_harness_counter(a, "packets_read"), 20);
    assert_int_equal(fl_harness_counter(a, "drop_truncated"), 20);  /* UDP header cut */
    assert_null(same_output(a, b));
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);

    /* only a header: nothing, cleanly */
    tmp_path(path, sizeof path, "header.pcap");
    write_file(path, buf, 24);
    assert_int_equal(open_run(path, NULL, &a), 0);
    assert_int_equal(fl_harness_out_rows(a), 0);
    fl_harness_destroy(&a);
}

/* The own readers see a file through a 512 KiB window (pcap_win.c):
 * records that straddle its edge, a record longer than the window, and
 * files cut anywhere near an edge read exactly as libpcap reads them. */
static void test_window_edges(void **state)
{
    const unsigned n = 30000;           /* 62-byte records: 1.86 MB */
    size_t size, big = 700 * 1024;
    uint8_t *buf = malloc(24 + (size_t)n * 62 + 2 * (16 + big));
    char path[512];
    struct fl_harness *a = NULL, *b = NULL;
    (void)state;
    assert_non_null(buf);
    tmp_path(path, sizeof path, "window.pcap");
    size = build_pcap(buf, n, 0, 0, 4, 65535);
    for (size_t cut = 0; cut <= 62 * 3; cut += 31) {
        write_file(path, buf, size - cut);
        assert_int_equal(open_run(path, "reader: own", &a), 0);
        assert_int_equal(open_run(path, "reader: libpcap", &b), 0);
        assert_int_equal(fl_harness_counter(a, "packets_read"), n - (cut + 61) / 62);
        assert_int_equal(fl_harness_counter(a, "truncated_record"), cut % 62 != 0);
        assert_null(same_output(a, b));
        fl_harness_destroy(&a);
        fl_harness_destroy(&b);
    }

    /* D-Bus (link type 231) allows records of 128 MiB: one of 700 KiB
     * between two small ones grows the window; cut inside it, it is a
     * truncated record and the window grows no further than the file. */
    size = build_pcap(buf, 2, 0, 0, 4, 0);
    put32(buf + 20, 231, 0);
    memmove(buf + 24 + 62 + 16 + big, buf + 24 + 62, 62);
    put32(buf + 24 + 62, 1700000000, 0);
    put32(buf + 24 + 62 + 4, 0, 0);
    put32(buf + 24 + 62 + 8, (uint32_t)big, 0);
    put32(buf + 24 + 62 + 12, (uint32_t)big, 0);
    memset(buf + 24 + 62 + 16, 0x5a, big);
    size += 16 + big;
    write_file(path, buf, size);
    assert_int_equal(open_run(path, "reader: own", &a), 0);
    assert_int_equal(open_run(path, "reader: libpcap", &b), 0);
    assert_int_equal(fl_harness_counter(a, "packets_read"), 3);
    assert_int_equal(fl_harness_counter(a, "truncated_record"), 0);
    assert_null(same_output(a, b));
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);
    write_file(path, buf, 24 + 62 + 16 + big / 2);
    assert_int_equal(open_run(path, "reader: own", &a), 0);
    assert_int_equal(fl_harness_counter(a, "packets_read"), 1);
    assert_int_equal(fl_harness_counter(a, "truncated_record"), 1);
    fl_harness_destroy(&a);
    free(buf);
}

static void test_errors(void **state)
{
    char path[512];
    struct fl_harness *h = NULL;
    (void)state;

    tmp_path(path, sizeof path, "missing.pcap");
    assert_int_equal(open_run(path, NULL, &h), -FL_ENOENT);
    fl_harness_destroy(&h);
    assert_int_equal(open_run(path, "reader: libpcap", &h), -FL_ENOENT);
    fl_harness_destroy(&h);

    tmp_path(path, sizeof path, "text.pcap");
    write_file(path, "this is not a capture file, but it is long enough\n", 51);
    assert_int_equal(open_run(path, NULL, &h), -FL_EPROTO);
    fl_harness_destroy(&h);
    assert_int_equal(open_run(path, "reader: own", &h), -FL_EPROTO);
    fl_harness_destroy(&h);

    tmp_path(path, sizeof path, "empty.pcap");
    write_file(path, "", 0);
    assert_int_equal(open_run(path, NULL, &h), -FL_EPROTO);
    fl_harness_destroy(&h);

    /* a directory */
    assert_true(open_run(tmp_dir, NULL, &h) < 0);
    fl_harness_destroy(&h);

    /* configuration: exactly one of path and interface; a filter that
     * does not compile; a reader for a live interface */
    assert_int_equal(fl_harness_new("input.pcap", "{}", NULL, &h), -FL_EINVAL);
    assert_int_equal(fl_harness_new("input.pcap", "{path: x.pcap, interface: lo}", NULL, &h),
                     -FL_EINVAL);
    assert_int_equal(fl_harness_new("input.pcap", "{path: x.pcap, bpf: \"tcp port\"}", NULL, &h),
                     -FL_EINVAL);
    assert_int_equal(fl_harness_new("input.pcap", "{interface: lo, reader: own}", NULL, &h),
                     -FL_EINVAL);
    assert_int_equal(fl_harness_new("input.pcap", "{path: x.pcap, batch_size: 0}", NULL, &h),
                     -FL_EINVAL);
    assert_null(h);
    assert_int_equal(fl_harness_new("input.pcap", "{path: x.pcap}", NULL, &h), 0);
    assert_non_null(fl_harness_out_schema(h));
    assert_int_equal(fl_harness_out_schema(h)->ncols, FL_PKT_NCOLS);
    fl_harness_destroy(&h);
}

static void test_batch_size(void **state)
{
    char path[1024];
    struct fl_harness *a = NULL, *b = NULL;
    (void)state;
    data_path(path, sizeof path, "ndpi_1kxun.pcap");
    assert_int_equal(open_run(path, "batch_size: 7", &a), 0);
    assert_int_equal(open_run(path, "batch_size: 65536", &b), 0);
    assert_true(fl_harness_out_rows(a) > 1000);
    for (size_t i = 0; i + 1 < fl_harness_n_out(a); i++)
        assert_int_equal(fl_harness_out(a, i)->rows, 7);
    assert_int_equal(fl_harness_n_out(b), 1);
    assert_null(same_output(a, b));
    /* batch time ranges cover their rows */
    for (size_t i = 0; i < fl_harness_n_out(a); i++) {
        const struct fl_batch *x = fl_harness_out(a, i);
        for (uint32_t r = 0; r < x->rows; r++) {
            uint64_t ts = CELL(x, FL_PKT_TS, uint64_t, r);
            assert_true(ts >= x->t_min && ts <= x->t_max);
        }
    }
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);
}

static void test_bpf(void **state)
{
    char path[1024];
    struct fl_harness *all = NULL, *a = NULL, *b = NULL;
    struct totals t0, t;
    (void)state;
    data_path(path, sizeof path, "ndpi_1kxun.pcap");
    assert_int_equal(open_run(path, NULL, &all), 0);
    totals_of(all, &t0);
    assert_int_equal(open_run(path, "bpf: \"tcp\"", &a), 0);
    assert_int_equal(open_run(path, "bpf: \"tcp\", reader: libpcap", &b), 0);
    totals_of(a, &t);
    assert_int_equal(t.rows, t0.tcp);
    assert_int_equal(t.tcp, t0.tcp);
    assert_int_equal(fl_harness_counter(a, "packets_read"),
                     fl_harness_counter(all, "packets_read"));
    assert_int_equal(fl_harness_counter(a, "bpf_rejected"),
                     fl_harness_counter(a, "packets_read") - t0.tcp);
    assert_null(same_output(a, b));
    fl_harness_destroy(&all);
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);

    /* raw-IP link type: the filter is compiled for the file's link type */
    data_path(path, sizeof path, "tcpdump_LINKTYPE_RAW_ipv4.pcap");
    assert_int_equal(open_run(path, "bpf: \"ip\"", &a), 0);
    assert_int_equal(open_run(path, "bpf: \"ip\", reader: libpcap", &b), 0);
    assert_true(fl_harness_out_rows(a) > 0);
    assert_null(same_output(a, b));
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);
}

#ifdef PCAP_TEST_ZLIB
static void gzip_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *p = (uint8_t *)fl_test_slurp(from, &n);
    assert_non_null(p);
    gzFile gz = gzopen(to, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, p, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
    free(p);
}

static void test_gzip(void **state)
{
    static const char *const names[] = {"ndpi_1kxun.pcap", "ndpi_quic-v2.pcapng",
                                        "ndpi_KakaoTalk_chat.pcap"};
    char path[1024], gz[512];
    (void)state;
    for (unsigned i = 0; i < 3; i++) {
        struct fl_harness *a = NULL, *b = NULL;
        data_path(path, sizeof path, names[i]);
        tmp_path(gz, sizeof gz, "capture.gz");
        gzip_file(path, gz);
        assert_int_equal(open_run(path, "reader: libpcap", &a), 0);
        assert_int_equal(open_run(gz, NULL, &b), 0);
        assert_true(fl_harness_out_rows(a) > 0);
        const char *why = same_output(a, b);
        if (why)
            fail_msg("%s gzip'd: %s", names[i], why);
        fl_harness_destroy(&a);
        fl_harness_destroy(&b);
    }
    /* a gzip stream cut short: what was read, then a clean end */
    size_t n;
    uint8_t *p = (uint8_t *)fl_test_slurp(gz, &n);
    assert_non_null(p);
    write_file(gz, p, n / 2);
    free(p);
    struct fl_harness *h = NULL;
    assert_int_equal(open_run(gz, NULL, &h), 0);
    assert_true(fl_harness_counter(h, "packets_read") > 0);
    fl_harness_destroy(&h);
}
#endif

/* A capture through a named pipe: libpcap reads it as it comes (the own
 * reader must leave it alone, or the writer's data is lost). */
struct pipe_writer {
    const char *fifo, *from;
};

static void *pipe_write(void *arg)
{
    struct pipe_writer *w = arg;
    size_t n;
    uint8_t *p = (uint8_t *)fl_test_slurp(w->from, &n);
    assert_non_null(p);
    FILE *f = fopen(w->fifo, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
    free(p);
    return NULL;
}

static void test_pipe(void **state)
{
    char path[1024], fifo[512];
    struct pipe_writer w = {fifo, path};
    struct fl_harness *a = NULL, *b = NULL;
    pthread_t th;
    (void)state;
    data_path(path, sizeof path, "ndpi_1kxun.pcap");
    tmp_path(fifo, sizeof fifo, "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(pthread_create(&th, NULL, pipe_write, &w), 0);
    assert_int_equal(open_run(fifo, NULL, &a), 0);
    pthread_join(th, NULL);
    assert_int_equal(open_run(path, NULL, &b), 0);
    assert_true(fl_harness_out_rows(a) > 1000);
    assert_null(same_output(a, b));
    fl_harness_destroy(&a);
    fl_harness_destroy(&b);
}

/* ---- live ------------------------------------------------------------- */

struct live {
    struct fl_harness *h;
    int rc;
    unsigned short port;
};

static void *live_run(void *arg)
{
    struct live *l = arg;
    l->rc = fl_harness_run(l->h);
    return NULL;
}

static void test_live_loopback(void **state)
{
    struct live l = {0};
    struct sockaddr_in to = {.sin_family = AF_INET};
    pthread_t th;
    char yaml[256];
    int s;
    (void)state;
    /* Root is not enough in a container without CAP_NET_RAW: probe. */
    int probe = socket(AF_PACKET, SOCK_RAW, 0);
    if (probe < 0) {
        print_message("cannot open a packet socket (%s): live capture skipped\n", strerror(errno));
        skip();
    }
    close(probe);
    l.port = (unsigned short)(40000 + getpid() % 20000);
    snprintf(yaml, sizeof yaml, "{interface: lo, bpf: \"udp and dst port %u\", batch_size: 16}",
             l.port);
    if (fl_harness_new("input.pcap", yaml, NULL, &l.h) < 0)
        fail_msg("harness");
    struct fl_ctx *ctx = fl_harness_ctx(l.h);
    assert_int_equal(pthread_create(&th, NULL, live_run, &l), 0);

    s = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s >= 0);
    to.sin_port = htons(l.port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Probe until the capture sees something (it activates in the other
     * thread), then send the counted packets. */
    int probes = 0;
    for (; probes < 100 && fl_counter_get(ctx, "packets_read") == 0; probes++) {
        assert_int_equal(sendto(s, "probe", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
        usleep(50 * 1000);
    }
    assert_true(fl_counter_get(ctx, "packets_read") > 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sendto(s, "0123456789", 10, 0, (struct sockaddr *)&to, sizeof to), 10);
    for (int i = 0; i < 100 && fl_counter_get(ctx, "packets_read") < (uint64_t)probes + 100; i++)
        usleep(20 * 1000);
    atomic_store(&ctx->rt->stopping, true);
    pthread_join(th, NULL);
    close(s);
    assert_int_equal(l.rc, 0);

    struct cur c = {l.h, 0, 0};
    const struct fl_batch *b;
    uint32_t r, tens = 0;
    while ((b = cur_next(&c, &r))) {
        assert_int_equal(CELL(b, FL_PKT_DST_PORT, uint16_t, r), l.port);
        assert_int_equal(CELL(b, FL_PKT_PROTO, uint8_t, r), 17);
        tens += CELL(b, FL_PKT_PAYLOAD_LEN, uint32_t, r) == 10;
        uint64_t ts = CELL(b, FL_PKT_TS, uint64_t, r);
        assert_true(ts > fl_now_ns() - 60ull * 1000000000ull && ts <= fl_now_ns());
    }
    assert_int_equal(tens, 100);
    assert_int_equal(fl_harness_counter(l.h, "kernel_drops"), 0);
    fl_harness_destroy(&l.h);

    /* no such interface */
    struct fl_harness *h = NULL;
    assert_int_equal(fl_harness_new("input.pcap", "{interface: nosuchif0}", NULL, &h), 0);
    assert_true(fl_harness_run(h) < 0);
    fl_harness_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_tshark),
        cmocka_unit_test(test_every_capture_both_readers),
        cmocka_unit_test(test_byte_orders_and_resolutions),
        cmocka_unit_test(test_old_version_lengths),
        cmocka_unit_test(test_truncated_and_bad_records),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_batch_size),
        cmocka_unit_test(test_bpf),
        cmocka_unit_test(test_pipe),
#ifdef PCAP_TEST_ZLIB
        cmocka_unit_test(test_gzip),
#endif
        cmocka_unit_test(test_live_loopback),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
