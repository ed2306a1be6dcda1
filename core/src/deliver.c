/* deliver.c: the delivery layer of network outputs (flowline/deliver.h).
 *
 * States: normal (closed payloads wait in a small memory queue, sent in
 * order; a failing head is retried with backoff and holds the pipeline
 * back once queue_max payloads wait) and degraded (the head has failed
 * for retry_time: everything goes to the spool, or past its budget is
 * dropped, and the pipeline runs on). Any successful send leaves degraded.
 * While the spool holds anything, new payloads go behind it, so the server
 * sees payloads in the order they were made. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <flowline/deliver.h>
#include "internal.h"
#include "rt.h"
#include "spool.h"

#define SENDS_PER_CALL 64   /* bound one call's work; the rest at the next wall tick */

struct payload { uint8_t *p; size_t len, cap; uint32_t n; };

struct fl_deliver {
    struct fl_ctx *ctx;
    struct fl_deliver_opts o;
    struct fl_deliver_ops ops;
    void *arg;
    struct fl_dbuf open;         /* the payload being filled */
    struct fl_dbuf spare;        /* a sent payload's buffer, reused for the next
                                  * (no regrowing a 1 MiB buffer per request) */
    uint32_t open_n;
    uint64_t open_since;         /* wall ns of its first record */
    struct payload *q;           /* ring of closed payloads, oldest at q_head */
    size_t q_head, q_n, q_cap;
    struct fl_spool *spool;      /* NULL without spool_dir */
    bool degraded;
    uint64_t fail_since;         /* wall ns of the first failure in a row; 0 = none */
    unsigned attempt;            /* failures in a row */
    uint64_t next_try;           /* no attempt before this wall ns */
    uint64_t rng;                /* xorshift64 state for jitter */
};

int fl_bytes_reserve(uint8_t **p, size_t *cap, size_t len, size_t more)
{
    if (*cap - len >= more)
        return 0;
    if (more > SIZE_MAX / 2 - len)
        return -FL_ENOMEM;
    size_t n = *cap ? *cap : 4096;
    while (n - len < more)
        n *= 2;
    uint8_t *q = realloc(*p, n);
    if (!q)
        return -FL_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int fl_dbuf_reserve(struct fl_dbuf *b, size_t more)
{
    return fl_bytes_reserve(&b->p, &b->cap, b->len, more);
}

int fl_dbuf_append(struct fl_dbuf *b, const void *p, size_t n)
{
    int rc = fl_dbuf_reserve(b, n);
    if (rc == 0 && n) {
        memcpy(b->p + b->len, p, n);
        b->len += n;
    }
    return rc;
}

uint64_t fl_deliver_backoff(struct fl_deliver *d, unsigned attempt)
{
    uint64_t v = d->o.backoff_min;
    for (unsigned i = 0; i < attempt && v < d->o.backoff_max; i++)
        v *= 2;
    if (v > d->o.backoff_max)
        v = d->o.backoff_max;
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return v / 2 + d->rng % (v - v / 2 + 1);
}

static void drop(struct fl_deliver *d, uint32_t n, const char *why)
{
    fl_counter_add(d->ctx, "records_dropped", n);
    FL_LOG_ERROR_RL(d->ctx, "dropped %u records: %s", n, why);
}

/* Hand a closed payload on: to the spool while it holds anything (order)
 * or while degraded, else to the memory queue. Takes p->p. */
static int enqueue(struct fl_deliver *d, struct payload p)
{
    if (d->spool && (d->degraded || !fl_spool_empty(d->spool))) {
        int rc = fl_spool_put(d->spool, p.p, p.len, p.n);
        if (rc == 0)
            fl_counter_add(d->ctx, "records_spooled", p.n);
        else
            drop(d, p.n, rc == -FL_EFULL ? "the spool is full (spool_max)"
                                          : "the spool cannot be written");
        free(p.p);
        return 0;
    }
    if (d->q_n == d->q_cap) {
        size_t cap = d->q_cap ? d->q_cap * 2 : 8;
        struct payload *nq = malloc(cap * sizeof(*nq));
        if (!nq) {
            free(p.p);
            drop(d, p.n, "out of memory");
            return -FL_ENOMEM;
        }
        for (size_t i = 0; i < d->q_n; i++)
            nq[i] = d->q[(d->q_head + i) % d->q_cap];
        free(d->q);
        d->q = nq;
        d->q_head = 0;
        d->q_cap = cap;
    }
    d->q[(d->q_head + d->q_n++) % d->q_cap] = p;
    /* Degraded without a spool: keep the newest queue_max, drop the oldest. */
    while (d->degraded && d->q_n > d->o.queue_max) {
        struct payload *h = &d->q[d->q_head];
        drop(d, h->n, "the server is failing past retry_time and there is no spool_dir");
        free(h->p);
        d->q_head = (d->q_head + 1) % d->q_cap;
        d->q_n--;
    }
    return 0;
}

/* Move the memory queue to the spool (in order) or, without one, drop it. */
static void degrade(struct fl_deliver *d, const char *why)
{
    if (!d->degraded)
        FL_LOG_WARN(d->ctx, "%s: %s", why, d->spool ? "spooling to disk and retrying"
                                                    : "dropping and retrying");
    d->degraded = true;
    size_t n = d->q_n;
    struct payload *tmp = malloc((n ? n : 1) * sizeof(*tmp));
    if (!tmp) {
        for (; d->q_n; d->q_n--, d->q_head = (d->q_head + 1) % d->q_cap) {
            drop(d, d->q[d->q_head].n, "out of memory");
            free(d->q[d->q_head].p);
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        tmp[i] = d->q[(d->q_head + i) % d->q_cap];
    d->q_n = 0;
    d->q_head = 0;
    for (size_t i = 0; i < n; i++)
        (void)enqueue(d, tmp[i]);
    free(tmp);
}

static void close_open(struct fl_deliver *d)
{
    if (!d->open_n)
        return;
    struct payload p = { d->open.p, d->open.len, d->open.cap, d->open_n };
    d->open = d->spare;
    d->open.len = 0;
    d->spare = (struct fl_dbuf){ 0 };
    d->open_n = 0;
    (void)enqueue(d, p);
}

/* Try the oldest payload, and on while they go through. Returns false
 * when the server failed (the next try is scheduled). */
static bool pump(struct fl_deliver *d, uint64_t now, bool draining)
{
    for (int sends = 0; sends < SENDS_PER_CALL || draining; sends++) {
        if (now < d->next_try)
            return false;
        const uint8_t *buf;
        size_t len;
        uint32_t n;
        bool from_spool = d->spool && fl_spool_peek(d->spool, &buf, &len, &n) == 0;
        if (!from_spool) {
            if (!d->q_n)
                return true;
            struct payload *h = &d->q[d->q_head];
            buf = h->p;
            len = h->len;
            n = h->n;
        }
        uint32_t rej = n;
        int r = d->ops.send(d->arg, buf, len, n, &rej);
        if (r != FL_DELIVER_REJECT)
            rej = 0;
        if (r == FL_DELIVER_RETRY) {
            fl_counter_add(d->ctx, "retries", 1);
            if (!d->fail_since)
                d->fail_since = now;
            d->next_try = now + fl_deliver_backoff(d, d->attempt++);
            if (!d->degraded && (now - d->fail_since >= d->o.retry_time || (draining && d->spool)))
                degrade(d, draining ? "stopping while the server fails"
                                    : "the server has failed for retry_time");
            return false;
        }
        if (r == FL_DELIVER_REJECT) {
            if (rej > n)
                rej = n;
            fl_counter_add(d->ctx, "records_rejected", rej);
            n -= rej;
        } else if (r != FL_DELIVER_OK) {
            FL_LOG_ERROR_RL(d->ctx, "send returned %d, taken as delivered", r);
        }
        fl_counter_add(d->ctx, "records_sent", n);
        fl_counter_add(d->ctx, "payloads_sent", 1);
        fl_counter_add(d->ctx, "bytes_sent", len);
        if (d->fail_since)
            FL_LOG_INFO(d->ctx, "the server takes requests again");
        d->fail_since = 0;
        d->attempt = 0;
        d->next_try = 0;
        d->degraded = false;
        if (from_spool) {
            fl_counter_add(d->ctx, "records_replayed", n);   /* sent ones, like records_sent */
            fl_spool_pop(d->spool);
        } else {
            struct payload *h = &d->q[d->q_head];
            if (!d->spare.p && h->cap <= d->o.batch_bytes * 2)
                d->spare = (struct fl_dbuf){ h->p, 0, h->cap };
            else
                free(h->p);
            d->q_head = (d->q_head + 1) % d->q_cap;
            d->q_n--;
        }
        now = fl_now_ns();
    }
    return true;
}

/* Ask for a wall tick at the earliest thing due: the open payload's flush
 * time, the next retry, or at once while a replay is under way. */
static void schedule(struct fl_deliver *d)
{
    uint64_t at = 0;
    if (d->open_n)
        at = d->open_since + d->o.flush_interval;
    if (d->q_n || (d->spool && !fl_spool_empty(d->spool))) {
        uint64_t t = d->next_try ? d->next_try : fl_now_ns();
        if (!at || t < at)
            at = t;
    }
    fl_wake_at(d->ctx, at);
}

int fl_deliver_new(struct fl_ctx *ctx, const struct fl_deliver_opts *o,
                   const struct fl_deliver_ops *ops, void *arg, struct fl_deliver **out)
{
    struct fl_deliver *d = calloc(1, sizeof(*d));
    if (!d)
        return -FL_ENOMEM;
    d->ctx = ctx;
    d->o = *o;
    if (!d->o.batch_size)
        d->o.batch_size = 5000;
    if (!d->o.batch_bytes)
        d->o.batch_bytes = 1u << 20;
    if (!d->o.queue_max)
        d->o.queue_max = 4;
    if (!d->o.backoff_min)
        d->o.backoff_min = 1000000;
    if (d->o.backoff_max < d->o.backoff_min)
        d->o.backoff_max = d->o.backoff_min;
    d->ops = *ops;
    d->arg = arg;
    d->rng = fl_now_ns() ^ (uint64_t)(uintptr_t)d ^ 0x9e3779b97f4a7c15ull;
    if (!d->rng)
        d->rng = 1;
    if (o->spool_dir && *o->spool_dir) {
        char name[96];
        const char *id = fl_stage_id(ctx);
        if (fl_workers(ctx) > 1)
            snprintf(name, sizeof(name), "%.80s-w%u", id ? id : "out", fl_worker_index(ctx));
        else
            snprintf(name, sizeof(name), "%.80s", id ? id : "out");
        int rc = fl_spool_open(ctx, o->spool_dir, name, o->spool_max ? o->spool_max : 1ull << 30,
                               &d->spool);
        if (rc < 0) {
            free(d);
            return rc;
        }
    }
    *out = d;
    schedule(d);   /* a spool from an earlier run: replay it soon */
    return 0;
}

void fl_deliver_free(struct fl_deliver **dp)
{
    struct fl_deliver *d = *dp;
    if (!d)
        return;
    uint64_t lost = d->open_n;
    for (size_t i = 0; i < d->q_n; i++) {
        struct payload *p = &d->q[(d->q_head + i) % d->q_cap];
        lost += p->n;
        free(p->p);
    }
    if (lost)
        drop(d, (uint32_t)lost, "still held at shutdown");
    free(d->q);
    free(d->open.p);
    free(d->spare.p);
    fl_spool_close(&d->spool);
    free(d);
    *dp = NULL;
}

int fl_deliver_ready(struct fl_deliver *d)
{
    uint64_t now = fl_now_ns();
    (void)pump(d, now, false);
    int rc = 0;
    if (!d->degraded && d->q_n >= d->o.queue_max) {
        /* Stopping: spool now instead of holding shutdown for retry_time. */
        if (d->spool && fl_stopping(d->ctx))
            degrade(d, "stopping while the server fails");
        else
            rc = -FL_EAGAIN;
    }
    schedule(d);
    return rc;
}

struct fl_dbuf *fl_deliver_buf(struct fl_deliver *d)
{
    return &d->open;
}

uint32_t fl_deliver_open_records(const struct fl_deliver *d)
{
    return d->open_n;
}

int fl_deliver_add(struct fl_deliver *d, uint32_t n)
{
    if (!d->open_n && n)
        d->open_since = fl_now_ns();
    d->open_n += n;
    if (d->open_n < d->o.batch_size && d->open.len < d->o.batch_bytes) {
        if (d->open_n == n)
            schedule(d);   /* the first record: its flush time */
        return 0;
    }
    return fl_deliver_flush(d);
}

int fl_deliver_flush(struct fl_deliver *d)
{
    close_open(d);
    (void)pump(d, fl_now_ns(), false);
    schedule(d);
    return 0;
}

int fl_deliver_tick(struct fl_deliver *d, uint64_t now_ns)
{
    if (d->open_n && now_ns >= d->open_since + d->o.flush_interval)
        close_open(d);
    (void)pump(d, now_ns, false);
    schedule(d);
    return 0;
}

int fl_deliver_drain(struct fl_deliver *d)
{
    close_open(d);
    for (;;) {
        uint64_t now = fl_now_ns();
        if (now < d->next_try) {
            uint64_t w = d->next_try - now;
            struct timespec ts = { (time_t)(w / 1000000000u), (long)(w % 1000000000u) };
            nanosleep(&ts, NULL);
            now = fl_now_ns();
        }
        if (pump(d, now, true))
            break;
        /* Spooled (or being dropped) and the server still fails: what is
         * left is safe on disk for the next run. */
        if (d->degraded && d->q_n == 0 && d->spool)
            break;
        if (d->degraded && !d->spool) {
            while (d->q_n) {
                struct payload *h = &d->q[d->q_head];
                drop(d, h->n, "the server failed past retry_time while stopping");
                free(h->p);
                d->q_head = (d->q_head + 1) % d->q_cap;
                d->q_n--;
            }
            break;
        }
    }
    if (d->spool)
        (void)fl_spool_sync(d->spool);
    fl_wake_at(d->ctx, 0);
    return 0;
}
