/* zmq_out.c: output.zmq, records to ZeroMQ subscribers (PUB) or pullers
 * (PUSH), as flowline batches (docs/wire-format.md) or one JSON object per
 * record.
 *
 * PUB is built on an XPUB socket: the same wire behaviour for subscribers,
 * but flowline sees their subscriptions (wait_subscribers) and, with
 * ZMQ_XPUB_NODROP, a send that a full subscriber queue refuses returns
 * EAGAIN instead of vanishing, so every drop is counted. PUB never waits:
 * a slow subscriber loses messages (at-most-once, as DESIGN.md §4 says of
 * PUB). Every PUB message has two frames: the topic, then the payload, so
 * a SUB socket's prefix filter applies to the topic alone.
 *
 * PUSH waits while its peers' queues are full or no peer is there
 * (backpressure up the pipeline), in slices of 100 ms so that a stopping
 * pipeline is noticed: once stopping, a send gives up after `linger`, and
 * after `send_timeout` (if set) at any time, counting what it dropped. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <flowline/plugin.h>
#include <flowline/wire.h>
#include "fl_text.h"
#include "fl_zmq.h"

#define ZO_LAYOUTS 4
#define ZO_SLICE_MS 100
#define ZO_POOL 8

/* Encoded batches are handed to ZeroMQ without a copy (zmq_msg_init_data),
 * and ZeroMQ's I/O thread hands each buffer back here once sent. Reusing a
 * few buffers keeps their pages: a fresh buffer of a few hundred KiB per
 * batch cost a page fault per 4 KiB, more than the encoding itself
 * (docs/performance.md). */
struct zo_buf {
    struct zo_pool *pool;
    struct fl_wire_buf w;
    bool keep;                  /* a send failed: closing the message keeps the buffer */
};

struct zo_pool {
    pthread_mutex_t lock;
    unsigned n;
    struct zo_buf *free[ZO_POOL];
};

enum { ZO_PUB = 0, ZO_PUSH };
enum { ZO_BATCH = 0, ZO_JSON };

struct zout {
    /* options */
    struct fl_zmq_opts z;
    int socket, format, time_format;
    char *topic;
    struct fl_strlist fields;
    uint64_t send_timeout, wait_subscribers, wait_timeout;
    /* run */
    struct fl_zmq zs;
    const char *topic_use;              /* topic, or the stage id */
    bool waited;                        /* wait_subscribers done */
    bool gave_up;                       /* push: a send timed out while stopping */
    uint64_t subscribers;
    struct zo_pool pool;
    bool pool_init;
    struct fl_text_buf tb;
    struct fl_text_layout *lay[ZO_LAYOUTS];
    unsigned lay_next;
    /* counted per batch */
    uint64_t c_records, c_messages, c_bytes, c_rec_drop, c_msg_drop;
};

static const char *const socket_choices[] = { "pub", "push", NULL };
static const char *const format_choices[] = { "batch", "json", NULL };

static const struct fl_opt zout_opts[] = {
    FL_ZMQ_OPTS(struct zout, z, "auto binds (input.zmq connects by default)"),
    { .name = "socket", .type = FL_OPT_ENUM, .offset = offsetof(struct zout, socket),
      .def = "pub", .choices = socket_choices,
      .doc = "pub: every subscriber gets every message, a slow one loses messages (counted); "
             "push: each message goes to one puller, and sending waits while they are behind" },
    { .name = "format", .type = FL_OPT_ENUM, .offset = offsetof(struct zout, format),
      .def = "batch", .choices = format_choices,
      .doc = "batch: one message per batch in flowline's binary batch format "
             "(docs/wire-format.md), read by input.zmq; json: one message per record, a JSON "
             "object as output.json writes it" },
    { .name = "topic", .type = FL_OPT_STRING, .offset = offsetof(struct zout, topic),
      .doc = "pub: the first frame of every message, which subscribers filter on by prefix; "
             "default: this stage's id" },
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(struct zout, fields),
      .doc = "json: keys in order (any field name, written as given); default: every field "
             "of each batch" },
    { .name = "time_format", .type = FL_OPT_ENUM, .offset = offsetof(struct zout, time_format),
      .def = "rfc3339", .choices = FL_TEXT_SINK_TIME_FORMATS,
      .doc = "json: timestamps as RFC 3339 UTC with nanoseconds, epoch nanoseconds or epoch "
             "seconds" },
    { .name = "send_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct zout, send_timeout), .def = "0",
      .doc = "push: drop (and count) a message no puller took within this time; 0 = wait "
             "as long as the pipeline runs" },
    { .name = "wait_subscribers", .type = FL_OPT_UINT,
      .offset = offsetof(struct zout, wait_subscribers), .def = "0", .max = "100000",
      .unit = "subscriptions",
      .doc = "pub: before the first message, wait (at most wait_timeout) until this many "
             "subscriptions have arrived, so subscribers that start first miss nothing" },
    { .name = "wait_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct zout, wait_timeout), .def = "10s",
      .doc = "pub: how long wait_subscribers waits" },
    { 0 }
};

static int zout_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                         size_t n_in, struct fl_schema_decl *const *out)
{
    struct zout *s = state;
    int rc = fl_zmq_describe(ctx, &s->z);
    (void)out;
    if (s->fields.n && s->format != ZO_JSON)
        rc = fl_diag(ctx, "fields", "fields selects JSON keys; the batch format sends every "
                     "field (choose them with transform.expr's select)");
    if (s->topic && s->socket != ZO_PUB)
        rc = fl_diag(ctx, "topic", "only pub messages carry a topic");
    if (s->send_timeout && s->socket != ZO_PUSH)
        rc = fl_diag(ctx, "send_timeout", "pub never waits: send_timeout is for push");
    if (s->wait_subscribers && s->socket != ZO_PUB)
        rc = fl_diag(ctx, "wait_subscribers", "only pub has subscribers");
    /* `fields` named against the declared inputs, as output.json does */
    for (size_t i = 0; i < s->fields.n; i++) {
        bool found = false, open = false;
        for (size_t k = 0; k < n_in; k++)
            open |= !in[k], found |= in[k] && fl_schema_find(in[k], s->fields.v[i]) >= 0;
        if (!found && !open && n_in)
            rc = fl_diag(ctx, "fields", "field \"%s\" is not in the input", s->fields.v[i]);
    }
    return rc;
}

static int zout_start(struct fl_ctx *ctx, void *state)
{
    struct zout *s = state;
    int rc = fl_zmq_open(ctx, &s->zs, &s->z, s->socket == ZO_PUB ? ZMQ_XPUB : ZMQ_PUSH, true,
                         s->format == ZO_JSON ? FL_ZMQ_HWM_RECORD : FL_ZMQ_HWM_BATCH);
    if (rc < 0)
        return rc;
    int one = 1, slice = ZO_SLICE_MS;
    if (s->socket == ZO_PUB &&
        (zmq_setsockopt(s->zs.sock, ZMQ_XPUB_NODROP, &one, sizeof one) != 0 ||
         zmq_setsockopt(s->zs.sock, ZMQ_XPUB_VERBOSE, &one, sizeof one) != 0))
        goto zerr;
    if (s->socket == ZO_PUSH &&
        zmq_setsockopt(s->zs.sock, ZMQ_SNDTIMEO, &slice, sizeof slice) != 0)
        goto zerr;
    s->topic_use = s->topic ? s->topic : fl_stage_id(ctx);
    pthread_mutex_init(&s->pool.lock, NULL);
    s->pool_init = true;
    return 0;
zerr:
    FL_LOG_ERROR(ctx, "cannot set up the socket: %s", zmq_strerror(zmq_errno()));
    return -FL_EIO;
}

/* Subscriptions arrive as messages on the XPUB socket: read them all. */
static void read_subscriptions(struct fl_ctx *ctx, struct zout *s)
{
    uint8_t buf[256];
    int n;
    while ((n = zmq_recv(s->zs.sock, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0)
        if (n > 0 && buf[0] == 1)
            s->subscribers++;
    (void)ctx;
}

static void wait_for_subscribers(struct fl_ctx *ctx, struct zout *s)
{
    uint64_t until = fl_now_ns() + s->wait_timeout;
    s->waited = true;
    for (;;) {
        read_subscriptions(ctx, s);
        fl_zmq_events(ctx, &s->zs);
        if (s->subscribers >= s->wait_subscribers)
            return;
        if (fl_now_ns() >= until || fl_stopping(ctx)) {
            FL_LOG_WARN(ctx, "%llu of %llu subscriptions after %.1f s; sending anyway",
                        (unsigned long long)s->subscribers,
                        (unsigned long long)s->wait_subscribers, s->wait_timeout / 1e9);
            return;
        }
        zmq_pollitem_t it = { .socket = s->zs.sock, .events = ZMQ_POLLIN };
        zmq_poll(&it, 1, 50);
    }
}

static struct zo_buf *buf_get(struct zout *s)
{
    struct zo_buf *b = NULL;
    pthread_mutex_lock(&s->pool.lock);
    if (s->pool.n)
        b = s->pool.free[--s->pool.n];
    pthread_mutex_unlock(&s->pool.lock);
    if (!b && (b = calloc(1, sizeof(*b))))
        b->pool = &s->pool;
    if (b)
        b->w.len = 0;
    return b;
}

/* ZeroMQ's free function: may run on its I/O thread. */
static void buf_put(void *data, void *hint)
{
    struct zo_buf *b = hint;
    struct zo_pool *p = b->pool;
    (void)data;
    if (b->keep) {
        b->keep = false;
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->n < ZO_POOL) {
        p->free[p->n++] = b;
        b = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (b) {
        fl_wire_buf_free(&b->w);
        free(b);
    }
}

/* Send one payload (with the topic frame on PUB). true if sent; false if
 * dropped (counted by the caller). -FL_EIO for a socket error. */
static int send_frame(struct zout *s, const void *p, size_t n, struct zo_buf *zb, int flags)
{
    if (!zb)
        return zmq_send(s->zs.sock, p, n, flags);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, zb->w.p, zb->w.len, buf_put, zb) != 0)
        return -1;
    int rc = zmq_msg_send(&m, s->zs.sock, flags);
    if (rc < 0) {               /* not sent: the buffer is still ours */
        int e = zmq_errno();
        zb->keep = true;        /* zmq_msg_close calls buf_put, here on this thread */
        zmq_msg_close(&m);
        errno = e;
    }
    return rc;
}

static int send_one(struct fl_ctx *ctx, struct zout *s, const void *p, size_t n,
                    struct zo_buf *zb)
{
    if (s->socket == ZO_PUB) {
        size_t tl = strlen(s->topic_use);
        if (zmq_send(s->zs.sock, s->topic_use, tl, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
            goto err;
        /* the first frame went: the rest of the message always follows it */
        if (send_frame(s, p, n, zb, 0) < 0)
            goto err;
        return 1;
    }
    uint64_t waited = 0;
    /* once a send has waited out `linger` while stopping, the rest do not
     * wait again: shutdown takes one linger, not one per batch */
    while (send_frame(s, p, n, zb, s->gave_up ? ZMQ_DONTWAIT : 0) < 0) {
        if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
            goto err;
        waited += ZO_SLICE_MS * 1000000ull;
        fl_zmq_events(ctx, &s->zs);
        bool stopping = fl_stopping(ctx);
        if ((stopping && (s->gave_up || waited >= s->z.linger)) ||
            (s->send_timeout && waited >= s->send_timeout)) {
            s->gave_up = stopping;
            FL_LOG_WARN_RL(ctx, "no puller took a message within %.1f s: dropped",
                           waited / 1e9);
            return 0;
        }
    }
    return 1;
err:
    if (zmq_errno() == EAGAIN)          /* PUB: a subscriber's queue is full */
        return 0;
    FL_LOG_ERROR(ctx, "send to %s failed: %s", s->z.endpoint, zmq_strerror(zmq_errno()));
    return -FL_EIO;
}

static const struct fl_text_layout *layout_for(struct fl_ctx *ctx, struct zout *s,
                                               const struct fl_schema *schema, int *rc)
{
    for (unsigned i = 0; i < ZO_LAYOUTS; i++)
        if (s->lay[i] && fl_text_layout_schema(s->lay[i]) == schema)
            return s->lay[i];
    struct fl_text_style st = { .format = FL_TEXT_JSON, .time = s->time_format };
    unsigned slot = s->lay_next++ % ZO_LAYOUTS;
    fl_text_layout_destroy(&s->lay[slot]);
    *rc = fl_text_layout_new(&st, schema, s->fields.n ? (const char *const *)s->fields.v : NULL,
                             NULL, s->fields.n, &s->lay[slot]);
    if (*rc < 0) {
        FL_LOG_ERROR(ctx, "cannot lay out JSON for a schema of %u fields", schema->ncols);
        return NULL;
    }
    return s->lay[slot];
}

static int send_json(struct fl_ctx *ctx, struct zout *s, const struct fl_batch *b)
{
    int rc = 0;
    const struct fl_text_layout *l = layout_for(ctx, s, b->schema, &rc);
    if (!l)
        return rc;
    for (uint32_t row = 0; row < b->rows;) {
        s->tb.len = 0;
        if ((rc = fl_text_layout_rows(l, b, &row, &s->tb, 0)) < 0)
            return rc;
        /* one row, ending in its newline: the message is the object alone */
        if ((rc = send_one(ctx, s, s->tb.p, s->tb.len - 1, NULL)) < 0)
            return rc;
        if (rc) {
            s->c_records++;
            s->c_messages++;
            s->c_bytes += s->tb.len - 1;
        } else {
            s->c_rec_drop++;
            s->c_msg_drop++;
        }
    }
    return 0;
}

static void count(struct fl_ctx *ctx, struct zout *s)
{
    static const char *const names[] = { "records_sent", "messages_sent", "bytes_sent",
                                         "records_dropped", "messages_dropped" };
    uint64_t *v[] = { &s->c_records, &s->c_messages, &s->c_bytes, &s->c_rec_drop,
                      &s->c_msg_drop };
    for (size_t i = 0; i < 5; i++)
        if (*v[i]) {
            fl_counter_add(ctx, names[i], *v[i]);
            *v[i] = 0;
        }
}

static int zout_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct zout *s = state;
    int rc;

    fl_zmq_events(ctx, &s->zs);
    if (s->socket == ZO_PUB) {
        if (!s->waited && s->wait_subscribers)
            wait_for_subscribers(ctx, s);
        read_subscriptions(ctx, s);
    }
    if (s->format == ZO_JSON) {
        rc = send_json(ctx, s, b);
    } else {
        struct zo_buf *zb = buf_get(s);
        if (!zb) {
            rc = -FL_ENOMEM;
            goto out;
        }
        if ((rc = fl_wire_encode(b, 0, &zb->w)) < 0) {
            FL_LOG_ERROR(ctx, "cannot encode a batch of %u rows: %s", b->rows, fl_strerror(rc));
            buf_put(NULL, zb);
            goto out;
        }
        size_t len = zb->w.len;
        /* sent: ZeroMQ owns zb until it calls buf_put; not sent: still ours */
        if ((rc = send_one(ctx, s, zb->w.p, len, zb)) > 0) {
            s->c_records += b->rows;
            s->c_messages++;
            s->c_bytes += len;
        } else {
            buf_put(NULL, zb);
            if (rc == 0) {
                s->c_rec_drop += b->rows;
                s->c_msg_drop++;
            }
        }
    }
out:
    count(ctx, s);
    return rc < 0 ? rc : 0;
}

static int zout_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    struct zout *s = state;
    (void)now_ns;
    fl_zmq_events(ctx, &s->zs);
    if (s->socket == ZO_PUB)
        read_subscriptions(ctx, s);
    return 0;
}

static void zout_fini(struct fl_ctx *ctx, void *state)
{
    struct zout *s = state;
    if (s->zs.sock)
        fl_zmq_events(ctx, &s->zs);
    fl_zmq_close(&s->zs);               /* waits at most `linger` for queued messages;
                                         * every buffer ZeroMQ held is back after it */
    if (s->pool_init) {
        for (unsigned i = 0; i < s->pool.n; i++) {
            fl_wire_buf_free(&s->pool.free[i]->w);
            free(s->pool.free[i]);
        }
        pthread_mutex_destroy(&s->pool.lock);
    }
    fl_text_buf_free(&s->tb);
    for (unsigned i = 0; i < ZO_LAYOUTS; i++)
        fl_text_layout_destroy(&s->lay[i]);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "zmq", .version = "1.0",
                 .summary = "send records over ZeroMQ (PUB with a topic, or PUSH) as flowline "
                            "batches or JSON, with optional CURVE encryption",
                 .opts = zout_opts, .state_size = sizeof(struct zout),
                 .describe = zout_describe, .start = zout_start, .process = zout_process,
                 .tick = zout_tick, .fini = zout_fini);
