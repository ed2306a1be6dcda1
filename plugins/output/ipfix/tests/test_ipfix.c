/* test_ipfix.c: output.ipfix loaded as a plugin through the harness, its
 * messages read back by a small RFC 7011 reader written here: the exact
 * encoding of each kind of column (addresses by family, reduced and
 * widened integers, NTP-format nanoseconds, durations in the element's
 * unit, floats and strings under FL_PEN, variable-length fields with 1-
 * and 3-byte lengths, an enterprise "pen:id" column, missing values), one
 * template per address-family combination, a column without an element
 * left out, sequence numbers and template refresh over UDP, records too
 * large for any message, option errors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include <flowline/plugin.h>
#include "fl_harness.h"

static struct fl_ctx *tctx;
static const struct fl_schema *mix_s;
static char dir[64], path[128], yaml[512];

static const struct fl_col_def mix_cols[] = {
    { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR }, { "proto", FL_T_U8 },
    { "tcp_flags", FL_T_U8 }, { "packets", FL_T_U64 }, { "flow_start", FL_T_TS },
    { "duration", FL_T_DUR }, { "ps_avg", FL_T_F64 }, { "application", FL_T_STR },
    { "src_mac", FL_T_MAC }, { "29305:12", FL_T_BYTES }, { "ratio", FL_T_F64 },
};
#define MIX_N (sizeof mix_cols / sizeof mix_cols[0])

static int group_setup(void **state)
{
    tctx = fl_test_ctx_new();
    assert_non_null(tctx);
    assert_int_equal(fl_schema_intern(tctx, mix_cols, MIX_N, sizeof(mix_cols[0]), &mix_s), 0);
    return 0;
}

static int group_teardown(void **state)
{
    fl_test_ctx_destroy(&tctx);
    return 0;
}

static int setup(void **state)
{
    assert_int_equal(fl_test_tmpdir("out_ipfix", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/flows.ipfix", dir);
    return 0;
}

static int teardown(void **state)
{
    fl_test_rmdir(dir);
    return 0;
}

static void addr(struct fl_addr *a, const char *text)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, text, a->b + 12) == 1)
        a->b[10] = a->b[11] = 0xff;
    else
        assert_int_equal(inet_pton(AF_INET6, text, a->b), 1);
}

static char longstr[70000];

/* Row 0 IPv4/IPv4, row 1 IPv6/IPv6 with packets missing and a 300-byte
 * string, row 2 IPv4/IPv6; then rows 3.. repeat row 0. */
static struct fl_batch *mix(struct fl_harness *h, uint32_t n)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), mix_s, n, &b), 0);
    memset(longstr, 'x', sizeof longstr);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = i < 3 ? i : 0;
        static const char *const src[] = { "10.0.0.1", "2001:db8::1", "10.0.0.3" };
        static const char *const dst[] = { "192.0.2.2", "2001:db8::2", "2001:db8::3" };
        addr(&FL_COL(b, 0, struct fl_addr)[i], src[k]);
        addr(&FL_COL(b, 1, struct fl_addr)[i], dst[k]);
        FL_COL(b, 2, uint8_t)[i] = 6;
        FL_COL(b, 3, uint8_t)[i] = 0x12;
        FL_COL(b, 4, uint64_t)[i] = 5 + i;
        FL_COL(b, 5, uint64_t)[i] = 1767225600500000000ull;
        FL_COL(b, 6, int64_t)[i] = 1500000000;
        FL_COL(b, 7, double)[i] = 2.5;
        assert_int_equal(fl_batch_put_bytes(b, k == 1 ? longstr : "dns", k == 1 ? 300 : 3,
                                            &FL_COL(b, 8, struct fl_span)[i]), 0);
        uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
        memcpy((uint8_t *)b->data[9] + 6 * i, mac, 6);
        assert_int_equal(fl_batch_put_bytes(b, "\xab\xcd", k == 0 ? 2 : 0,
                                            &FL_COL(b, 10, struct fl_span)[i]), 0);
        FL_COL(b, 11, double)[i] = 0.5;
    }
    if (n > 1)
        assert_int_equal(fl_batch_set_missing(b, 4, 1), 0);
    b->rows = n;
    return b;
}

/* ---- a reader of what was sent ---------------------------------------- */
static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)g16(p) << 16 | g16(p + 2); }

struct msgs {
    uint32_t n, seq[64], records[64], templates[64];
    uint16_t tmpl_id[16];
    const uint8_t *tmpl[16];     /* template records as sent (first time) */
    size_t ntmpl;
    const uint8_t *rec[64];      /* data records, first bytes (for comparisons) */
    uint16_t rec_set[64];
    size_t nrec;
};

/* Walk messages in p[0..len): every length consistent, no set padding
 * (each set ends exactly at its last record; records need the template's
 * lengths, so data sets are only counted by the template's fixed size
 * when it has no variable-length field). */
static void read_msgs(const uint8_t *p, size_t len, struct msgs *m)
{
    memset(m, 0, sizeof *m);
    size_t off = 0;
    while (off < len) {
        assert_true(len - off >= 16);
        assert_int_equal(g16(p + off), 10);
        uint16_t mlen = g16(p + off + 2);
        assert_true(mlen >= 16 && off + mlen <= len);
        assert_true(m->n < 64);
        m->seq[m->n] = g32(p + off + 8);
        size_t s = off + 16;
        while (s < off + mlen) {
            uint16_t sid = g16(p + s), slen = g16(p + s + 2);
            assert_true(slen >= 4 && s + slen <= off + mlen);
            if (sid == 2) {
                for (size_t r = s + 4; r < s + slen;) {
                    uint16_t nf = g16(p + r + 2);
                    size_t rl = 4;
                    for (uint16_t f = 0; f < nf; f++)
                        rl += (g16(p + r + rl) & 0x8000) ? 8 : 4;
                    if (m->ntmpl < 16) {
                        m->tmpl_id[m->ntmpl] = g16(p + r);
                        m->tmpl[m->ntmpl++] = p + r;
                    }
                    m->templates[m->n]++;
                    r += rl;
                    assert_true(r <= s + slen);
                }
            } else {
                assert_true(sid >= 256);
                if (m->nrec < 64) {
                    m->rec_set[m->nrec] = sid;
                    m->rec[m->nrec++] = p + s + 4;
                }
                m->records[m->n]++;   /* sets here hold one record or are counted by the caller */
            }
            s += slen;
        }
        assert_int_equal(s, off + mlen);
        m->n++;
        off += mlen;
    }
}

static void push(struct fl_harness *h, struct fl_batch *b)
{
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
}

/* The exact bytes of the three templates and records. */
static void test_file_encoding(void **state)
{
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s, observation_domain: 42}", path);
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), 0);
    push(h, mix(h, 3));
    assert_int_equal(fl_harness_counter(h, "records_out"), 3);
    assert_int_equal(fl_harness_counter(h, "messages"), 1);
    assert_int_equal(fl_harness_counter(h, "templates"), 3);
    uint64_t bytes = fl_harness_counter(h, "bytes");
    assert_int_equal(fl_harness_drain(h), 0);
    fl_harness_destroy(&h);
    size_t len;
    uint8_t *p = (uint8_t *)fl_test_slurp(path, &len);
    assert_non_null(p);
    assert_int_equal(len, bytes);
    struct msgs m;
    read_msgs(p, len, &m);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.seq[0], 0);
    assert_int_equal(g32(p + 12), 42);
    assert_int_equal(m.ntmpl, 3);
    /* Template 256 (IPv4, IPv4): `ratio` has no element and is left out. */
    static const uint8_t t256[] = {
        1, 0, 0, 11,
        0, 8, 0, 4,   0, 12, 0, 4,   0, 4, 0, 1,   0, 6, 0, 2,   0, 2, 0, 8,
        0, 156, 0, 8,   0, 162, 0, 4,
        0x80, 4, 0, 8, 0, 0, 0xf0, 0xee,          /* ps_avg: FL_PEN 61678, id 4 */
        0, 96, 0xff, 0xff,   0, 56, 0, 6,
        0x80, 12, 0xff, 0xff, 0, 0, 0x72, 0x79,   /* 29305:12 */
    };
    assert_int_equal(m.tmpl_id[0], 256);
    assert_memory_equal(m.tmpl[0], t256, sizeof t256);
    /* Template 257: both IPv6; 258: IPv4 source, IPv6 destination. */
    assert_int_equal(m.tmpl_id[1], 257);
    assert_int_equal(g16(m.tmpl[1] + 4), 27);
    assert_int_equal(g16(m.tmpl[1] + 6), 16);
    assert_int_equal(g16(m.tmpl[1] + 8), 28);
    assert_int_equal(m.tmpl_id[2], 258);
    assert_int_equal(g16(m.tmpl[2] + 4), 8);
    assert_int_equal(g16(m.tmpl[2] + 8), 28);
    assert_int_equal(m.nrec, 3);
    assert_int_equal(m.rec_set[0], 256);
    assert_int_equal(m.rec_set[1], 257);
    assert_int_equal(m.rec_set[2], 258);
    static const uint8_t r0[] = {
        10, 0, 0, 1,   192, 0, 2, 2,   6,   0, 0x12,   0, 0, 0, 0, 0, 0, 0, 5,
        0xed, 0x00, 0x37, 0x80, 0x80, 0, 0, 0,      /* NTP: 2026-01-01T00:00:00.5Z */
        0x00, 0x16, 0xe3, 0x60,                     /* 1.5 s in microseconds */
        0x40, 0x04, 0, 0, 0, 0, 0, 0,               /* 2.5 */
        3, 'd', 'n', 's',   2, 0, 0, 0, 0, 1,   2, 0xab, 0xcd,
    };
    assert_memory_equal(m.rec[0], r0, sizeof r0);
    /* Set lengths: header + exactly the record (no padding). */
    assert_int_equal(g16(m.rec[0] - 2), 4 + sizeof r0);
    /* Row 1: IPv6 addresses, packets missing (zero), 300-byte string with
     * the 3-byte length form. */
    const uint8_t *r1 = m.rec[1];
    assert_int_equal(r1[15], 1);
    assert_int_equal(r1[31], 2);
    static const uint8_t zero8[8] = { 0 };
    assert_memory_equal(r1 + 35, zero8, 8);
    const uint8_t *app = r1 + 35 + 8 + 8 + 4 + 8;
    assert_int_equal(app[0], 255);
    assert_int_equal(g16(app + 1), 300);
    assert_int_equal(app[3], 'x');
    assert_int_equal(g16(r1 - 2), 4 + 32 + 1 + 2 + 8 + 8 + 4 + 8 + 3 + 300 + 6 + 1);
    free(p);
}

static struct fl_batch *plain(struct fl_harness *h, uint32_t n);

/* UDP: messages bounded by mtu, sequence numbers counting records,
 * templates again every template_refresh_messages messages. */
static void test_udp_refresh(void **state)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml,
             "{target: \"udp://127.0.0.1:%u\", mtu: 256, template_refresh_messages: 3}",
             ntohs(sa.sin_port));
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), 0);
    push(h, plain(h, 40));
    uint64_t msgs = fl_harness_counter(h, "messages");
    assert_int_equal(fl_harness_counter(h, "records_out"), 40);
    assert_true(msgs >= 10);
    uint8_t buf[2048];
    uint32_t seq = 0, total = 0;
    for (uint64_t k = 0; k < msgs; k++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        assert_true(n >= 16 && n <= 256);
        struct msgs m;
        read_msgs(buf, (size_t)n, &m);
        assert_int_equal(m.seq[0], seq);
        /* The template leads messages 0, 3, 6, ... */
        assert_int_equal(m.templates[0], k % 3 == 0 ? 1 : 0);
        /* Records per message: the data set's length over the record's. */
        const uint8_t *set = buf + 16 + (m.templates[0] ? g16(buf + 18) : 0);
        uint32_t recs = (g16(set + 2) - 4) / 47;   /* 45 fixed + two empty lengths */
        assert_int_equal((g16(set + 2) - 4) % 47, 0);
        seq += recs;
        total += recs;
    }
    assert_int_equal(total, 40);
    fl_harness_destroy(&h);
    close(fd);
}

/* Rows made uniform: IPv4 only (one template), no string or bytes: every
 * record 47 bytes (45 fixed + two empty lengths), packets = 5 + row. */
static struct fl_batch *plain(struct fl_harness *h, uint32_t n)
{
    struct fl_batch *b = mix(h, n);
    for (uint32_t i = 0; i < b->rows; i++) {
        addr(&FL_COL(b, 0, struct fl_addr)[i], "10.0.0.9");
        addr(&FL_COL(b, 1, struct fl_addr)[i], "10.0.0.10");
        FL_COL(b, 8, struct fl_span)[i].len = 0;
        FL_COL(b, 10, struct fl_span)[i].len = 0;
    }
    return b;
}

static size_t recv_all(int fd, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = recv(fd, buf + n, cap - n, 0)) > 0)
        n += (size_t)r;
    return n;
}

/* TCP: the collector closes the connection; the next batch fails, the
 * stage asks to be offered it again (-FL_EAGAIN), reconnects, and resumes
 * from the message that failed in a new stream: templates first, sequence
 * from 0, the remaining rows in order. */
static void test_tcp_reconnect(void **state)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 4), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{target: \"tcp://127.0.0.1:%u\"}", ntohs(sa.sin_port));
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), 0);
    int c1 = accept(ls, NULL, NULL);
    assert_true(c1 >= 0);
    struct fl_batch *a = plain(h, 10);
    push(h, a);
    close(c1);
    usleep(20000);
    const uint32_t n = 20000;
    struct fl_batch *b = plain(h, n);
    int rc = fl_harness_push(h, b);
    assert_int_equal(rc, -FL_EAGAIN);
    assert_int_equal(fl_harness_counter(h, "send_errors"), 1);
    assert_int_equal(fl_harness_push(h, b), 0);   /* offered again: reconnects */
    assert_int_equal(fl_harness_counter(h, "reconnects"), 1);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    int c2 = accept(ls, NULL, NULL);
    assert_true(c2 >= 0);
    size_t cap = (size_t)n * 64 + 65536;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t len = recv_all(c2, buf, cap);
    close(c2);
    close(ls);
    struct msgs m;
    read_msgs(buf, len, &m);
    assert_int_equal(m.seq[0], 0);
    assert_int_equal(m.templates[0], 1);
    assert_int_equal(g16(buf + 16), 2);   /* the first set is the template set */
    /* Walk every record of the new stream: packets 5 + row (row 1: missing,
     * so 0), consecutive rows from where it resumed (row 0 when the first
     * send already failed) to the batch's last; each message's sequence
     * number is the records before it. Rows sent on the dead connection
     * before the failure showed are lost (TCP accepted them). */
    uint64_t first = UINT64_MAX, count = 0;
    for (size_t off = 0; off < len; off += g16(buf + off + 2)) {
        assert_int_equal(g32(buf + off + 8), count);
        size_t end = off + g16(buf + off + 2);
        for (size_t s = off + 16; s < end; s += g16(buf + s + 2)) {
            if (g16(buf + s) == 2)
                continue;
            assert_int_equal((g16(buf + s + 2) - 4) % 47, 0);
            for (size_t r = s + 4; r < s + g16(buf + s + 2); r += 47) {
                uint64_t pk = (uint64_t)g32(buf + r + 11) << 32 | g32(buf + r + 15);
                if (first == UINT64_MAX)
                    first = pk == 0 ? 1 : pk - 5;
                uint64_t row = first + count;
                assert_int_equal(pk, row == 1 ? 0 : 5 + row);
                count++;
            }
        }
    }
    assert_true(first < n);
    assert_int_equal(first + count, n);
    free(buf);
}

/* UDP: templates again once template_refresh has passed (wall clock),
 * before the next data; not within it. */
static void test_udp_refresh_time(void **state)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{target: \"udp://127.0.0.1:%u\", template_refresh: 1s}",
             ntohs(sa.sin_port));
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), 0);
    static const int expect[] = { 1, 0, 1 };   /* first use, within 1 s, after */
    for (int k = 0; k < 3; k++) {
        if (k == 2)
            usleep(1100000);
        push(h, plain(h, 2));
        uint8_t buf[2048];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        assert_true(n > 16);
        struct msgs m;
        read_msgs(buf, (size_t)n, &m);
        assert_int_equal(m.templates[0], expect[k]);
        assert_int_equal(m.seq[0], 2 * k);
    }
    fl_harness_destroy(&h);
    close(fd);
}

/* UDP: a record larger than mtu goes alone in a larger datagram, and the
 * messages after it are bounded again (a regression: the message grew
 * past its buffer). */
static void test_udp_oversize(void **state)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{target: \"udp://127.0.0.1:%u\", mtu: 256}", ntohs(sa.sin_port));
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), 0);
    struct fl_batch *b = mix(h, 60);   /* row 1: a 300-byte string */
    for (uint32_t i = 2; i < b->rows; i++)
        FL_COL(b, 1, struct fl_addr)[i] = FL_COL(b, 1, struct fl_addr)[0];
    push(h, b);
    uint64_t msgs = fl_harness_counter(h, "messages");
    assert_int_equal(fl_harness_counter(h, "records_out"), 60);
    uint8_t buf[2048];
    unsigned big = 0;
    for (uint64_t k = 0; k < msgs; k++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        assert_true(n >= 16);
        struct msgs m;
        read_msgs(buf, (size_t)n, &m);
        big += n > 256;
    }
    assert_int_equal(big, 1);
    fl_harness_destroy(&h);
    close(fd);
}

/* A record no message can hold is dropped and counted; the others go. */
static void test_too_large(void **state)
{
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{path: %s}", path);
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), 0);
    struct fl_batch *b = mix(h, 3);
    /* Row 2: a 65535-byte string (the largest length a field can say)
     * with the rest of the record does not fit in 65535 bytes. */
    assert_int_equal(fl_batch_put_bytes(b, longstr, 65535, &FL_COL(b, 8, struct fl_span)[2]), 0);
    push(h, b);
    assert_int_equal(fl_harness_counter(h, "records_out"), 2);
    assert_int_equal(fl_harness_counter(h, "records_too_large"), 1);
    fl_harness_destroy(&h);
}

static void test_option_errors(void **state)
{
    struct fl_harness *h = NULL;
    assert_int_equal(fl_harness_new("output.ipfix", "{}", mix_s, &h), -FL_EINVAL);
    snprintf(yaml, sizeof yaml, "{path: %s, target: \"udp://127.0.0.1:4739\"}", path);
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), -FL_EINVAL);
    assert_int_equal(fl_harness_new("output.ipfix", "{path: \"-\"}", mix_s, &h), -FL_EINVAL);
    assert_int_equal(fl_harness_new("output.ipfix", "{target: \"zmq://x:1\"}", mix_s, &h),
                     -FL_EINVAL);
    snprintf(yaml, sizeof yaml, "{path: %s, overwrite: true, append: true}", path);
    assert_int_equal(fl_harness_new("output.ipfix", yaml, mix_s, &h), -FL_EINVAL);
    assert_null(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_refresh_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_oversize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
