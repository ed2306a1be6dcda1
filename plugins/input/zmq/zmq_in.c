/* zmq_in.c: input.zmq, batches from output.zmq (or any sender of
 * docs/wire-format.md messages) over ZeroMQ SUB or PULL.
 *
 * Only the batch format is read: it carries its schema, so the stage's
 * output is open (fields known at run time, like IPFIX) and nothing has to
 * be declared twice. JSON from outside senders would need a declared schema
 * and a parser; see docs/decisions.md.
 *
 * A message is one frame (PULL) or a topic frame and a payload frame (SUB,
 * as output.zmq's PUB sends); anything else, and a payload that does not
 * decode, is counted in messages_bad, logged (rate-limited) with the
 * decoder's reason, and dropped. The stage's clock is record time: each
 * batch advances it to its t_max, and while nothing arrives it moves on
 * with the wall clock from the last batch's time, so windows downstream
 * still close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <flowline/plugin.h>
#include <flowline/wire.h>
#include "fl_zmq.h"

#define ZI_POLL_MS 100
#define ZI_BURST 256            /* messages read per poll before checking for a stop */

enum { ZI_SUB = 0, ZI_PULL };

struct zin {
    /* options */
    struct fl_zmq_opts z;
    int socket, format;
    struct fl_strlist topics;
    uint64_t idle_timeout, max_schemas;
    /* run */
    struct fl_zmq zs;
    struct fl_wire_dec *dec;
    uint64_t last_t, last_wall;         /* record time of the last batch, wall time then */
    /* counted per poll */
    uint64_t c_msgs, c_records, c_bytes, c_bad;
};

static const char *const socket_choices[] = { "sub", "pull", NULL };
static const char *const format_choices[] = { "batch", NULL };

static const struct fl_opt zin_opts[] = {
    FL_ZMQ_OPTS(struct zin, z, "auto connects (output.zmq binds by default)"),
    { .name = "socket", .type = FL_OPT_ENUM, .offset = offsetof(struct zin, socket),
      .def = "sub", .choices = socket_choices,
      .doc = "sub: subscribe to a publisher (output.zmq socket: pub); pull: take messages "
             "from pushers (output.zmq socket: push)" },
    { .name = "format", .type = FL_OPT_ENUM, .offset = offsetof(struct zin, format),
      .def = "batch", .choices = format_choices,
      .doc = "batch: flowline's binary batch format (docs/wire-format.md), which carries "
             "its schema" },
    { .name = "topic", .type = FL_OPT_LIST, .offset = offsetof(struct zin, topics),
      .doc = "sub: topic prefixes to subscribe to (one or a list); default: every topic" },
    { .name = "idle_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct zin, idle_timeout), .def = "0",
      .doc = "end the input after this long without a message; 0 = run until stopped" },
    { .name = "max_schemas", .type = FL_OPT_UINT, .offset = offsetof(struct zin, max_schemas),
      .def = "64", .min = "1", .max = "100000", .unit = "schemas",
      .doc = "schemas kept by fingerprint (a steady stream of one schema builds it once)" },
    { 0 }
};

static int zin_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                        size_t n_in, struct fl_schema_decl *const *out)
{
    struct zin *s = state;
    (void)in;
    (void)n_in;
    out[0]->schema = NULL;          /* open: each batch brings its schema */
    int rc = fl_zmq_describe(ctx, &s->z);
    if (s->topics.n && s->socket != ZI_SUB)
        rc = fl_diag(ctx, "topic", "only sub filters by topic");
    return rc;
}

static int zin_start(struct fl_ctx *ctx, void *state)
{
    struct zin *s = state;
    int rc = fl_zmq_open(ctx, &s->zs, &s->z, s->socket == ZI_SUB ? ZMQ_SUB : ZMQ_PULL,
                         false, FL_ZMQ_HWM_BATCH);
    if (rc < 0)
        return rc;
    if (s->socket == ZI_SUB) {
        for (size_t i = 0; i < s->topics.n || (i == 0 && !s->topics.n); i++) {
            const char *t = s->topics.n ? s->topics.v[i] : "";
            if (zmq_setsockopt(s->zs.sock, ZMQ_SUBSCRIBE, t, strlen(t)) != 0) {
                FL_LOG_ERROR(ctx, "cannot subscribe: %s", zmq_strerror(zmq_errno()));
                return -FL_EIO;
            }
        }
    }
    return fl_wire_dec_new(ctx, (uint32_t)s->max_schemas, &s->dec);
}

static void count(struct fl_ctx *ctx, struct zin *s)
{
    static const char *const names[] = { "messages_received", "records_received",
                                         "bytes_received", "messages_bad" };
    uint64_t *v[] = { &s->c_msgs, &s->c_records, &s->c_bytes, &s->c_bad };
    for (size_t i = 0; i < 4; i++)
        if (*v[i]) {
            fl_counter_add(ctx, names[i], *v[i]);
            *v[i] = 0;
        }
}

/* One message (all its frames) from the socket: 1 if read, 0 if none is
 * waiting, negative on a socket error. A batch that decodes is emitted. */
static int read_one(struct fl_ctx *ctx, struct zin *s)
{
    zmq_msg_t f[2];
    size_t nf = 0;
    bool more = true, bad = false;
    int rc = 1;

    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->zs.sock, nf == 0 && !bad ? ZMQ_DONTWAIT : 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&m);
            if (nf == 0 && !bad && e == EAGAIN)
                return 0;
            if (e == EINTR || e == EAGAIN)
                continue;
            FL_LOG_ERROR(ctx, "receive failed: %s", zmq_strerror(e));
            rc = -FL_EIO;
            goto out;
        }
        more = zmq_msg_more(&m);
        if (nf < 2)
            f[nf++] = m;        /* moved: closed below */
        else {
            bad = true;         /* read the rest of the message, keep none of it */
            zmq_msg_close(&m);
        }
    }
    s->c_msgs++;
    size_t want = s->socket == ZI_SUB ? 2 : 1;
    if (bad || nf != want) {
        s->c_bad++;
        FL_LOG_WARN_RL(ctx, "a message of %s frames where %zu were expected (%s): dropped",
                       bad ? "more than 2" : nf == 1 ? "1" : "2", want,
                       s->socket == ZI_SUB ? "topic, batch" : "batch");
        goto out;
    }
    zmq_msg_t *pl = &f[nf - 1];
    struct fl_batch *b;
    s->c_bytes += zmq_msg_size(pl);
    size_t used = 0;
    const char *why;
    int drc = fl_wire_decode(s->dec, zmq_msg_data(pl), zmq_msg_size(pl), &b, &used);
    why = fl_wire_dec_error(s->dec);
    if (drc == 0 && used != zmq_msg_size(pl)) {     /* one batch per message */
        fl_batch_release(&b);
        drc = -FL_EPROTO;
        why = "bytes after the batch";
    }
    if (drc < 0) {
        s->c_bad++;
        if (drc == -FL_ENOMEM) {
            rc = drc;
            goto out;
        }
        FL_LOG_WARN_RL(ctx, "a message of %zu bytes is not a batch: %s: dropped",
                       zmq_msg_size(pl), why);
        goto out;
    }
    s->c_records += b->rows;
    if (b->t_max) {
        s->last_t = b->t_max;
        s->last_wall = fl_now_ns();
    }
    if ((rc = fl_emit(ctx, &b)) == 0)
        rc = 1;
out:
    for (size_t i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
    return rc;
}

static int zin_run(struct fl_ctx *ctx, void *state)
{
    struct zin *s = state;
    uint64_t idle_since = fl_now_ns();
    int rc = 0;

    while (!fl_stopping(ctx)) {
        zmq_pollitem_t it = { .socket = s->zs.sock, .events = ZMQ_POLLIN };
        int n = zmq_poll(&it, 1, ZI_POLL_MS);
        if (n < 0 && zmq_errno() != EINTR) {
            FL_LOG_ERROR(ctx, "poll failed: %s", zmq_strerror(zmq_errno()));
            rc = -FL_EIO;
            break;
        }
        fl_zmq_events(ctx, &s->zs);
        int got = 0;
        for (int k = 0; k < ZI_BURST; k++) {
            if ((rc = read_one(ctx, s)) <= 0)
                break;
            got++;
        }
        count(ctx, s);
        if (rc > 0)                 /* a full burst: more may be waiting */
            rc = 0;
        if (rc == -FL_ESTOP) {
            rc = 0;
            break;
        }
        if (rc < 0)
            break;
        uint64_t now = fl_now_ns();
        if (got) {
            idle_since = now;
            continue;
        }
        if (s->last_t)              /* record time moves on with the wall clock */
            fl_watermark(ctx, s->last_t + (now - s->last_wall));
        if (s->idle_timeout && now - idle_since >= s->idle_timeout) {
            FL_LOG_INFO(ctx, "no message for %.1f s: input ends", s->idle_timeout / 1e9);
            break;
        }
    }
    count(ctx, s);
    return rc;
}

static void zin_fini(struct fl_ctx *ctx, void *state)
{
    struct zin *s = state;
    (void)ctx;
    fl_zmq_close(&s->zs);
    fl_wire_dec_free(&s->dec);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_INPUT, .name = "zmq", .version = "1.0",
                 .summary = "receive flowline batches over ZeroMQ (SUB or PULL), with optional "
                            "CURVE encryption",
                 .opts = zin_opts, .state_size = sizeof(struct zin),
                 .describe = zin_describe, .start = zin_start, .run = zin_run,
                 .fini = zin_fini);
