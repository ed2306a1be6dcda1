/* test_influx.c: output.influx loaded through the harness, writing to an
 * HTTP/1.1 peer that is the test's own code: a thread that accepts one
 * keep-alive connection at a time, keeps each request (request line,
 * headers, body) and answers with the status and body the test set. The
 * plugin, its libcurl connection and the delivery layer are the real ones. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <flowline/plugin.h>
#include "fl_harness.h"

struct peer {
    int lfd, port;
    pthread_t th;
    pthread_mutex_t mu;
    int status;                 /* answer with this */
    char answer[256];           /* and this body */
    char head[4096];            /* the last request's line and headers */
    char body[1 << 16];         /* every body so far, concatenated */
    size_t body_len;
    int requests;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    for (;;) {
        int c = accept(p->lfd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[1 << 16];
        size_t have = 0;
        for (;;) {
            char *end;
            while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
                ssize_t n = recv(c, buf + have, sizeof(buf) - have, 0);
                if (n <= 0)
                    goto next;
                have += (size_t)n;
            }
            size_t hlen = (size_t)(end - buf) + 4, len = 0;
            const char *cl = strcasestr(buf, "content-length:");
            if (cl && cl < end)
                len = strtoul(cl + 15, NULL, 10);
            while (have < hlen + len) {
                ssize_t n = recv(c, buf + have, sizeof(buf) - have, 0);
                if (n <= 0)
                    goto next;
                have += (size_t)n;
            }
            pthread_mutex_lock(&p->mu);
            snprintf(p->head, sizeof(p->head), "%.*s", (int)hlen, buf);
            if (p->body_len + len < sizeof(p->body)) {
                memcpy(p->body + p->body_len, buf + hlen, len);
                p->body_len += len;
                p->body[p->body_len] = 0;
            }
            p->requests++;
            char resp[512];
            int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n%s",
                             p->status, strlen(p->answer), p->answer);
            pthread_mutex_unlock(&p->mu);
            if (send(c, resp, (size_t)n, 0) < 0)
                goto next;
            memmove(buf, buf + hlen + len, have - hlen - len);
            have -= hlen + len;
        }
next:
        close(c);
    }
}

static struct peer *peer_new(void)
{
    struct peer *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->status = 204;
    pthread_mutex_init(&p->mu, NULL);
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(p->lfd, 4), 0);
    assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &al), 0);
    p->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
    return p;
}

static void peer_free(struct peer *p)
{
    shutdown(p->lfd, SHUT_RDWR);
    close(p->lfd);
    pthread_join(p->th, NULL);
    free(p);
}

static struct fl_ctx *tctx;
static const struct fl_schema *flow_s;
static const struct fl_col_def cols[] = {
    { "flow_end", FL_T_TS }, { "proto", FL_T_U8 }, { "application", FL_T_STR },
    { "note", FL_T_STR }, { "bytes", FL_T_U64 }, { "duration", FL_T_DUR },
    { "ps_avg", FL_T_F64 }, { "fwd", FL_T_BOOL }, { "src_addr", FL_T_ADDR },
};

static int group_setup(void **st)
{
    (void)st;
    tctx = fl_test_ctx_new();
    return fl_schema_intern(tctx, cols, 9, sizeof(cols[0]), &flow_s);
}

static int group_teardown(void **st)
{
    (void)st;
    fl_test_ctx_destroy(&tctx);
    return 0;
}

/* Three records: plain; special characters, a u64 past 2^63-1, NaN; an
 * empty tag value and a missing field. */
static struct fl_batch *batch3(void)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(tctx, flow_s, 3, &b), 0);
    static const char *apps[] = { "web", "a b,c=d\\e\nf", "" };
    static const char *notes[] = { "plain", "say \"hi\" \\ ok, x=y", "n" };
    uint64_t bytes[] = { 1500, UINT64_MAX, 7 };
    double ps[] = { 0.25, NAN, 1e300 };
    for (uint32_t r = 0; r < 3; r++) {
        FL_COL(b, 0, uint64_t)[r] = 1767225600123456789ull + r;
        FL_COL(b, 1, uint8_t)[r] = r == 2 ? 17 : 6;
        assert_int_equal(fl_batch_put_bytes(b, apps[r], (uint32_t)strlen(apps[r]),
                                            &FL_COL(b, 2, struct fl_span)[r]), 0);
        assert_int_equal(fl_batch_put_bytes(b, notes[r], (uint32_t)strlen(notes[r]),
                                            &FL_COL(b, 3, struct fl_span)[r]), 0);
        FL_COL(b, 4, uint64_t)[r] = bytes[r];
        FL_COL(b, 5, int64_t)[r] = 1250000000 * (int64_t)(r + 1);
        FL_COL(b, 6, double)[r] = ps[r];
        FL_COL(b, 7, bool)[r] = r == 1;
        struct fl_addr a = { .b = { [10] = 0xff, [11] = 0xff, 10, 0, 0, (uint8_t)(r + 1) } };
        FL_COL(b, 8, struct fl_addr)[r] = a;
    }
    b->rows = 3;
    assert_int_equal(fl_batch_set_missing(b, 5, 2), 0);   /* duration of row 2 */
    return b;
}

static struct fl_harness *start(struct peer *p, const char *extra)
{
    char yaml[1024];
    bool gz = extra && strstr(extra, "gzip");   /* else plain bodies, to compare */
    snprintf(yaml, sizeof(yaml), "{url: \"http://127.0.0.1:%d\", db: \"d b\", %s"
             "tags: [proto, application], backoff_min: 5ms, %s}", p->port,
             gz ? "" : "gzip: false, ", extra ? extra : "");
    struct fl_harness *h;
    assert_int_equal(fl_harness_new("output.influx", yaml, flow_s, &h), 0);
    return h;
}

static void test_lines(void **st)
{
    (void)st;
    struct peer *p = peer_new();
    struct fl_harness *h = start(p, "measurement: \"net flows,x\"");
    struct fl_batch *b = batch3();
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    const char *want =
        "net\\ flows\\,x,application=web,proto=6 note=\"plain\",bytes=1500i,duration=1250000000i,"
        "ps_avg=0.25,fwd=false,src_addr=\"10.0.0.1\" 1767225600123456789\n"
        "net\\ flows\\,x,application=a\\ b\\,c\\=d\\e\\ f,proto=6 note=\"say \\\"hi\\\" \\\\ ok, x=y\","
        "bytes=9223372036854775807i,duration=2500000000i,fwd=true,src_addr=\"10.0.0.2\" "
        "1767225600123456790\n"
        "net\\ flows\\,x,proto=17 note=\"n\",bytes=7i,ps_avg=1e+300,fwd=false,"
        "src_addr=\"10.0.0.3\" 1767225600123456791\n";
    assert_string_equal(p->body, want);
    assert_non_null(strstr(p->head, "POST /write?db=d%20b&precision=n HTTP/1.1"));
    assert_int_equal(fl_harness_counter(h, "records_sent"), 3);
    assert_int_equal(fl_harness_counter(h, "u64_clamped"), 1);
    assert_int_equal(fl_harness_counter(h, "floats_nonfinite"), 1);
    assert_int_equal(fl_harness_counter(h, "newlines_replaced"), 1);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    peer_free(p);
}

static void test_v2_uint_precision(void **st)
{
    (void)st;
    struct peer *p = peer_new();
    struct fl_harness *h = start(p, "org: lab, bucket: b1, token: s3cret, unsigned: uint, "
                                    "precision: s, fields: [bytes]");
    struct fl_batch *b = batch3();
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_non_null(strstr(p->head, "POST /api/v2/write?org=lab&bucket=b1&precision=s HTTP/1.1"));
    assert_non_null(strstr(p->head, "Authorization: Token s3cret"));
    assert_null(strstr(p->head, "Expect:"));
    assert_non_null(strstr(p->body, ",proto=6 bytes=18446744073709551615u 1767225600\n"));
    assert_int_equal(fl_harness_counter(h, "u64_clamped"), 0);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    peer_free(p);
}

static void test_gzip_header(void **st)
{
    (void)st;
    struct peer *p = peer_new();
    struct fl_harness *h = start(p, "gzip: true");
    struct fl_batch *b = batch3();
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_non_null(strstr(p->head, "Content-Encoding: gzip"));
    assert_true((unsigned char)p->body[0] == 0x1f && (unsigned char)p->body[1] == 0x8b);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    peer_free(p);
}

/* max_series: 2 allows two tag sets; the third record's is new: left out. */
static void test_max_series(void **st)
{
    (void)st;
    struct peer *p = peer_new();
    struct fl_harness *h = start(p, "max_series: 2");
    struct fl_batch *b = batch3();
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_push(h, b), 0);   /* the same two sets again: allowed */
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_counter(h, "records_sent"), 4);
    assert_int_equal(fl_harness_counter(h, "series_limited"), 2);
    assert_null(strstr(p->body, "proto=17"));
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    peer_free(p);
}

/* A 400 naming two bad lines of three: two rejected, one sent, no retry. */
static void test_400_partial(void **st)
{
    (void)st;
    struct peer *p = peer_new();
    p->status = 400;
    snprintf(p->answer, sizeof(p->answer), "{\"error\":\"partial write: unable to parse 'a': x\\n"
             "unable to parse 'b': y\"}");
    struct fl_harness *h = start(p, NULL);
    struct fl_batch *b = batch3();
    assert_int_equal(fl_harness_push(h, b), 0);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(p->requests, 1);
    assert_int_equal(fl_harness_counter(h, "records_rejected"), 2);
    assert_int_equal(fl_harness_counter(h, "records_sent"), 1);
    assert_int_equal(fl_harness_counter(h, "retries"), 0);
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    peer_free(p);
}

/* A 503 is retried until the server takes it. */
static void test_503_retried(void **st)
{
    (void)st;
    struct peer *p = peer_new();
    p->status = 503;
    struct fl_harness *h = start(p, "batch_size: 3");
    struct fl_batch *b = batch3();
    assert_int_equal(fl_harness_push(h, b), 0);   /* full: sent at once, refused */
    assert_int_equal(fl_harness_counter(h, "retries"), 1);
    pthread_mutex_lock(&p->mu);
    p->status = 204;
    p->body_len = 0;
    pthread_mutex_unlock(&p->mu);
    assert_int_equal(fl_harness_drain(h), 0);
    assert_int_equal(fl_harness_counter(h, "records_sent"), 3);
    assert_int_equal(fl_harness_counter(h, "records_dropped"), 0);
    assert_non_null(strstr(p->body, "proto=17"));
    fl_batch_release(&b);
    fl_harness_destroy(&h);
    peer_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_v2_uint_precision),
        cmocka_unit_test(test_gzip_header),
        cmocka_unit_test(test_max_series),
        cmocka_unit_test(test_400_partial),
        cmocka_unit_test(test_503_retried),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
