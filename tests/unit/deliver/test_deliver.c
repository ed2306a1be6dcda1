/* test_deliver.c: the delivery layer (flowline/deliver.h) with a send
 * callback that is the test's own "server": it records every payload it
 * takes, and fails (retry) or refuses (reject) when told to. The layer,
 * its spool files and its counters are the real ones. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <flowline/deliver.h>
#include "fl_harness.h"
#include "rt.h"

struct server {
    int mode;                  /* FL_DELIVER_OK, _RETRY or _REJECT */
    unsigned calls;
    char got[1 << 16];         /* payloads taken, concatenated */
    size_t got_len;
    uint32_t got_n, payloads;
};

static int srv_send(void *arg, const uint8_t *buf, size_t len, uint32_t n, uint32_t *rej)
{
    struct server *s = arg;
    s->calls++;
    if (s->mode != FL_DELIVER_OK)
        return s->mode;
    (void)rej;
    if (s->got_len + len < sizeof(s->got)) {
        memcpy(s->got + s->got_len, buf, len);
        s->got_len += len;
    }
    s->got_n += n;
    s->payloads++;
    return FL_DELIVER_OK;
}

static const struct fl_deliver_ops srv_ops = { .send = srv_send };

static struct fl_deliver_opts opts(void)
{
    return (struct fl_deliver_opts){ .batch_size = 10, .batch_bytes = 1 << 20,
                                     .flush_interval = 50000000, .retry_time = 30000000000ull,
                                     .backoff_min = 1000000, .backoff_max = 4000000,
                                     .queue_max = 2, .spool_max = 1 << 20 };
}

/* One record "<i>," in the open payload. */
static void add_rec(struct fl_deliver *d, unsigned i)
{
    char t[16];
    int n = snprintf(t, sizeof(t), "%u,", i);
    assert_int_equal(fl_dbuf_append(fl_deliver_buf(d), t, (size_t)n), 0);
    assert_int_equal(fl_deliver_add(d, 1), 0);
}

static char *expect_seq(unsigned from, unsigned to)
{
    static char buf[1 << 16];
    size_t n = 0;
    for (unsigned i = from; i < to; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%u,", i);
    buf[n] = 0;
    return buf;
}

static void sleep_ms(unsigned ms)
{
    usleep(ms * 1000);
}

/* Let the layer retry until the test server has taken everything. */
static void tick_until_idle(struct fl_deliver *d, struct fl_ctx *ctx)
{
    for (int i = 0; i < 2000 && ctx->wake_at; i++) {
        uint64_t now = fl_now_ns();
        if (now < ctx->wake_at)
            sleep_ms(1);
        else
            assert_int_equal(fl_deliver_tick(d, fl_now_ns()), 0);
    }
}

static size_t spool_files(const char *dir)
{
    DIR *dd = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (dd && (de = readdir(dd)))
        n += strstr(de->d_name, ".spool") != NULL;
    if (dd)
        closedir(dd);
    return n;
}

static void test_batch_by_size_and_time(void **st)
{
    (void)st;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { 0 };
    struct fl_deliver_opts o = opts();
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    assert_int_equal(ctx->wake_at, 0);   /* nothing held: no timer */
    for (unsigned i = 0; i < 25; i++)
        add_rec(d, i);
    assert_int_equal(srv.payloads, 2);       /* two full payloads of 10 */
    assert_int_equal(fl_deliver_open_records(d), 5);
    /* The open payload asks for a wall tick at its flush time. */
    assert_true(ctx->wake_at > 0);
    assert_int_equal(fl_deliver_tick(d, ctx->wake_at - 1), 0);
    assert_int_equal(srv.payloads, 2);
    assert_int_equal(fl_deliver_tick(d, ctx->wake_at), 0);
    assert_int_equal(srv.payloads, 3);
    assert_int_equal(ctx->wake_at, 0);
    srv.got[srv.got_len] = 0;
    assert_string_equal(srv.got, expect_seq(0, 25));
    assert_int_equal(fl_counter_get(ctx, "records_sent"), 25);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
}

static void test_backoff_bounds(void **st)
{
    (void)st;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { 0 };
    struct fl_deliver_opts o = opts();
    o.backoff_min = 100000000;      /* 100 ms */
    o.backoff_max = 10000000000ull; /* 10 s */
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    for (unsigned a = 0; a < 12; a++) {
        uint64_t full = o.backoff_min << a;
        if (full > o.backoff_max)
            full = o.backoff_max;
        uint64_t lo = UINT64_MAX, hi = 0;
        for (int k = 0; k < 200; k++) {
            uint64_t v = fl_deliver_backoff(d, a);
            assert_true(v >= full / 2 && v <= full);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        assert_true(hi - lo > full / 10);   /* jittered, not one value */
    }
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
}

static void test_backpressure_then_recovery(void **st)
{
    (void)st;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { .mode = FL_DELIVER_RETRY };
    struct fl_deliver_opts o = opts();
    o.batch_size = 1;
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    unsigned i = 0;
    while (fl_deliver_ready(d) == 0 && i < 100)
        add_rec(d, i++);
    assert_int_equal(i, 2);       /* queue_max payloads, then -FL_EAGAIN */
    assert_int_equal(fl_deliver_ready(d), -FL_EAGAIN);
    sleep_ms(10);
    assert_int_equal(fl_deliver_ready(d), -FL_EAGAIN);
    assert_true(fl_counter_get(ctx, "retries") >= 2);
    srv.mode = FL_DELIVER_OK;
    sleep_ms(10);
    assert_int_equal(fl_deliver_ready(d), 0);
    assert_int_equal(srv.got_n, 2);
    assert_int_equal(fl_counter_get(ctx, "records_dropped"), 0);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
}

static void test_reject_not_retried(void **st)
{
    (void)st;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { .mode = FL_DELIVER_REJECT };
    struct fl_deliver_opts o = opts();
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    for (unsigned i = 0; i < 10; i++)
        add_rec(d, i);
    assert_int_equal(srv.calls, 1);
    tick_until_idle(d, ctx);
    assert_int_equal(fl_deliver_drain(d), 0);
    assert_int_equal(srv.calls, 1);
    assert_int_equal(fl_counter_get(ctx, "records_rejected"), 10);
    assert_int_equal(fl_counter_get(ctx, "retries"), 0);
    assert_int_equal(fl_deliver_ready(d), 0);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
}

/* Server down past retry_time: payloads spool; back up: the spool is
 * replayed first, then what came after, in order. */
static void test_spool_replay_order(void **st)
{
    (void)st;
    char dir[256];
    assert_int_equal(fl_test_tmpdir("spool", dir, sizeof(dir)), 0);
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { .mode = FL_DELIVER_RETRY };
    struct fl_deliver_opts o = opts();
    o.retry_time = 20000000;   /* 20 ms */
    o.spool_dir = dir;
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    unsigned i = 0;
    for (int spins = 0; i < 200 && spins < 5000; spins++) {
        if (fl_deliver_ready(d) == 0)
            add_rec(d, i++);
        else
            sleep_ms(1);
    }
    assert_int_equal(i, 200);     /* after retry_time, no more backpressure */
    assert_true(fl_counter_get(ctx, "records_spooled") >= 150);
    assert_true(spool_files(dir) >= 1);
    assert_int_equal(srv.got_n, 0);
    srv.mode = FL_DELIVER_OK;
    for (; i < 230; i++)         /* newer records while replaying */
        add_rec(d, i);
    assert_int_equal(fl_deliver_drain(d), 0);
    srv.got[srv.got_len] = 0;
    assert_string_equal(srv.got, expect_seq(0, 230));
    assert_int_equal(fl_counter_get(ctx, "records_sent"), 230);
    assert_int_equal(fl_counter_get(ctx, "records_replayed"), fl_counter_get(ctx, "records_spooled"));
    assert_int_equal(fl_counter_get(ctx, "records_dropped"), 0);
    assert_int_equal(spool_files(dir), 0);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
    assert_int_equal(fl_test_rmdir(dir), 0);
}

/* Shutdown with the server down: drain spools; a new layer on the same
 * folder (a restart) replays it in order before anything new. */
static void test_spool_survives_restart(void **st)
{
    (void)st;
    char dir[256];
    assert_int_equal(fl_test_tmpdir("spool", dir, sizeof(dir)), 0);
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { .mode = FL_DELIVER_RETRY };
    struct fl_deliver_opts o = opts();
    o.spool_dir = dir;
    o.queue_max = 100;
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    for (unsigned i = 0; i < 55; i++)
        add_rec(d, i);
    assert_int_equal(fl_deliver_drain(d), 0);   /* retry_time is 30 s: drain spools at once */
    assert_int_equal(fl_counter_get(ctx, "records_spooled"), 55);
    fl_deliver_free(&d);
    assert_int_equal(fl_counter_get(ctx, "records_dropped"), 0);
    fl_test_ctx_destroy(&ctx);
    assert_true(spool_files(dir) >= 1);

    ctx = fl_test_ctx_new();
    struct server srv2 = { 0 };
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv2, &d), 0);
    assert_true(ctx->wake_at > 0);    /* asks to replay at once */
    for (unsigned i = 55; i < 60; i++)
        add_rec(d, i);
    tick_until_idle(d, ctx);
    assert_int_equal(fl_deliver_drain(d), 0);
    srv2.got[srv2.got_len] = 0;
    assert_string_equal(srv2.got, expect_seq(0, 60));
    assert_int_equal(fl_counter_get(ctx, "records_replayed"), 55);
    assert_int_equal(spool_files(dir), 0);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
    assert_int_equal(fl_test_rmdir(dir), 0);
}

/* Past spool_max, payloads are dropped and counted: spooled + dropped is
 * everything, and what was spooled is replayed intact. */
static void test_spool_budget_drops(void **st)
{
    (void)st;
    char dir[256];
    assert_int_equal(fl_test_tmpdir("spool", dir, sizeof(dir)), 0);
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { .mode = FL_DELIVER_RETRY };
    struct fl_deliver_opts o = opts();
    o.spool_dir = dir;
    o.spool_max = 64 * 1024;
    o.retry_time = 0;
    o.batch_size = 1;
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    static char big[10000];
    memset(big, 'x', sizeof(big));
    for (unsigned i = 0; i < 20; i++) {
        assert_int_equal(fl_deliver_ready(d), 0);
        assert_int_equal(fl_dbuf_append(fl_deliver_buf(d), big, sizeof(big)), 0);
        assert_int_equal(fl_deliver_add(d, 1), 0);
    }
    uint64_t sp = fl_counter_get(ctx, "records_spooled"), dr = fl_counter_get(ctx, "records_dropped");
    assert_int_equal(sp + dr, 20);
    assert_true(sp >= 5 && sp <= 6);      /* 64 KiB / 10 KB */
    srv.mode = FL_DELIVER_OK;
    assert_int_equal(fl_deliver_drain(d), 0);
    assert_int_equal(srv.got_n, sp);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
    assert_int_equal(fl_test_rmdir(dir), 0);
}

/* A torn or damaged spool: the damaged record and the rest of its segment
 * are skipped and counted, never replayed as garbage. */
static void test_spool_corrupt(void **st)
{
    (void)st;
    char dir[256];
    assert_int_equal(fl_test_tmpdir("spool", dir, sizeof(dir)), 0);
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { .mode = FL_DELIVER_RETRY };
    struct fl_deliver_opts o = opts();
    o.spool_dir = dir;
    o.queue_max = 100;
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    for (unsigned i = 0; i < 30; i++)
        add_rec(d, i);
    assert_int_equal(fl_deliver_drain(d), 0);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
    /* Damage the third payload's last byte (records 20..29). */
    char path[512];
    snprintf(path, sizeof(path), "%s/test.0000000000000001.spool", dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t end = lseek(fd, 0, SEEK_END);
    assert_int_equal(pwrite(fd, "#", 1, end - 2), 1);
    close(fd);

    ctx = fl_test_ctx_new();
    struct server srv2 = { 0 };
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv2, &d), 0);
    assert_int_equal(fl_deliver_drain(d), 0);
    srv2.got[srv2.got_len] = 0;
    assert_string_equal(srv2.got, expect_seq(0, 20));
    assert_int_equal(fl_counter_get(ctx, "spool_corrupt"), 1);
    assert_int_equal(spool_files(dir), 0);
    fl_deliver_free(&d);
    fl_test_ctx_destroy(&ctx);
    assert_int_equal(fl_test_rmdir(dir), 0);
}

/* No spool: drain retries for retry_time, then drops, counted. */
static void test_drain_without_spool(void **st)
{
    (void)st;
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct server srv = { .mode = FL_DELIVER_RETRY };
    struct fl_deliver_opts o = opts();
    o.retry_time = 30000000;
    o.queue_max = 100;
    struct fl_deliver *d;
    assert_int_equal(fl_deliver_new(ctx, &o, &srv_ops, &srv, &d), 0);
    for (unsigned i = 0; i < 35; i++)
        add_rec(d, i);
    uint64_t t0 = fl_now_ns();
    assert_int_equal(fl_deliver_drain(d), 0);
    uint64_t took = fl_now_ns() - t0;
    assert_true(took >= 20000000 && took < 2000000000ull);
    assert_int_equal(fl_counter_get(ctx, "records_dropped"), 35);
    assert_true(srv.calls >= 3);
    fl_deliver_free(&d);
    assert_int_equal(fl_counter_get(ctx, "records_dropped"), 35);   /* not counted twice */
    fl_test_ctx_destroy(&ctx);
}

/* The growable buffer doubles from 4 KiB, keeps what it holds, and says
 * no to a size it cannot reach (it used to double until the size wrapped,
 * and loop for ever). */
static void test_dbuf_growth(void **state)
{
    struct fl_dbuf b = { 0 };
    (void)state;
    assert_int_equal(fl_dbuf_append(&b, "abc", 3), 0);
    assert_int_equal(b.cap, 4096);
    assert_int_equal(fl_dbuf_reserve(&b, 10000), 0);
    assert_int_equal(b.cap, 16384);
    assert_memory_equal(b.p, "abc", 3);
    assert_int_equal(fl_dbuf_reserve(&b, SIZE_MAX - 1), -FL_ENOMEM);
    assert_int_equal(b.len, 3);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dbuf_growth),
        cmocka_unit_test(test_batch_by_size_and_time),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_backpressure_then_recovery),
        cmocka_unit_test(test_reject_not_retried),
        cmocka_unit_test(test_spool_replay_order),
        cmocka_unit_test(test_spool_survives_restart),
        cmocka_unit_test(test_spool_budget_drops),
        cmocka_unit_test(test_spool_corrupt),
        cmocka_unit_test(test_drain_without_spool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
