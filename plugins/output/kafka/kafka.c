/* kafka.c: output.kafka, records to a Kafka topic with librdkafka's
 * producer: one message per record (json, csv) keyed by a field, so that
 * consumers can partition by host, or batches in flowline's binary
 * encoding (batch: flowline/wire.h), one message per key and at most
 * batch_records rows.
 *
 * Delivery (docs/decisions.md, "output.kafka and no silent loss"): the
 * idempotent producer by default (no duplicates or reordering from
 * librdkafka's own retries); librdkafka queues and retries while brokers
 * are away, with no message timeout by default, so nothing is given up
 * while flowline runs; when its queue is full, process() answers
 * -FL_EAGAIN and the core holds the input back (backpressure); every
 * delivery report is counted (messages_delivered, messages_failed); at
 * shutdown the queue is flushed for at most flush_timeout and what is left
 * is counted (messages_undelivered) and logged. At-least-once overall.
 *
 * Not here: text forms (plugins/lib/text), the client configuration and
 * librdkafka's logs (plugins/lib/kafka). */
#include <stdlib.h>
#include <string.h>
#include <flowline/plugin.h>
#include <flowline/wire.h>
#include "fl_kafka.h"
#include "fl_text.h"
#include "kafka_int.h"

enum kafka_format { KAFKA_JSON = 0, KAFKA_CSV, KAFKA_BATCH };

/* A keyed partitioner of librdkafka (its hash over the key modulo the
 * partition count, no availability check, so callable outside a
 * partitioner callback). */
typedef int32_t (*kafka_hash_fn)(const rd_kafka_topic_t *, const void *, size_t, int32_t,
                                 void *, void *);

/* One input schema's layout and key column, resolved once. */
struct kafka_lay {
    const struct fl_schema *schema;
    struct fl_text_layout *lay;
    int key_col;                 /* -1: no key (none asked, or the schema lacks it) */
};

#define KAFKA_LAYS 8

struct kafka {
    struct fl_ctx *ctx;              /* first: fl_kafka_ctx() */
    /* options */
    char *brokers, *topic, *key;
    int format, time_format;
    struct fl_strlist fields;
    struct fl_strmap properties;
    uint64_t flush_timeout, batch_records;
    /* run time */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    struct kafka_lay lays[KAFKA_LAYS];
    unsigned lay_next;
    struct fl_text_buf msg, keybuf;
    struct kafka_groups groups;      /* batch format: rows by key */
    struct fl_wire_buf wire;
    const struct fl_batch *resume;   /* a batch refused with -FL_EAGAIN (and its seq:
                                      * the core may give up on it while stopping,
                                      * and a new batch reuse its address) ... */
    uint64_t resume_seq;
    uint32_t resume_row;             /* ... and its first row not yet queued (batch
                                      * format: position in groups.rows) */
    /* delivery reports since the last fl_counter_add (callbacks run in
     * rd_kafka_poll on the stage thread, so plain integers do) */
    uint64_t n_delivered, n_failed, n_undelivered, bytes_delivered;
    int group_key_col;               /* kafka_row_partition's column */
    kafka_hash_fn hash;              /* the partitioner's hash over a key */
    int32_t nparts;                  /* the topic's partitions (batch format) */
    uint64_t nparts_at;              /* when nparts was learnt (refreshed each minute) */
    uint32_t spread;                 /* partitions for rows without a key, in turn */
    bool stopping;                   /* purging at shutdown: reports count as undelivered */
};

static const char *const kafka_formats[] = { "json", "csv", "batch", NULL };

static const struct fl_opt kafka_opts[] = {
    { .name = "brokers", .type = FL_OPT_STRING, .offset = offsetof(struct kafka, brokers),
      .flags = FL_OPT_REQUIRED,
      .doc = "bootstrap brokers, host:port[,host:port...] (librdkafka's bootstrap.servers)" },
    { .name = "topic", .type = FL_OPT_STRING, .offset = offsetof(struct kafka, topic),
      .flags = FL_OPT_REQUIRED, .doc = "topic to produce to" },
    { .name = "key", .type = FL_OPT_STRING, .offset = offsetof(struct kafka, key),
      .doc = "field whose value, as text, is the message key (src_addr: one host's records "
             "go to one partition); default: no key (partitions chosen at random)" },
    { .name = "format", .type = FL_OPT_ENUM, .offset = offsetof(struct kafka, format),
      .def = "json", .choices = kafka_formats,
      .doc = "message value: json (one object), csv (one row, no header: the order of "
             "`fields`) or batch (flowline's binary batch encoding)" },
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(struct kafka, fields),
      .doc = "fields in order (canonical, IANA or alias names, written as given); "
             "default: every field of the input" },
    { .name = "time_format", .type = FL_OPT_ENUM, .offset = offsetof(struct kafka, time_format),
      .def = "rfc3339", .choices = FL_TEXT_SINK_TIME_FORMATS,
      .doc = "timestamps in json and csv (and keys) as RFC 3339 UTC with nanoseconds, "
             "epoch nanoseconds or epoch seconds" },
    { .name = "properties", .type = FL_OPT_MAP, .offset = offsetof(struct kafka, properties),
      .doc = "librdkafka producer properties (CONFIGURATION.md), over flowline's defaults "
             "enable.idempotence=true, partitioner=murmur2_random, message.timeout.ms=0" },
    { .name = "batch_records", .type = FL_OPT_UINT,
      .offset = offsetof(struct kafka, batch_records), .def = "1000", .min = "1",
      .max = "1048576", .unit = "records",
      .doc = "format batch: records per message at most (keep messages under the "
             "brokers' message.max.bytes)" },
    { .name = "flush_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct kafka, flush_timeout), .def = "30s", .min = "0s",
      .doc = "at shutdown, wait at most this long for queued messages to be delivered; "
             "the rest is counted as messages_undelivered" },
    { 0 }
};

/* flowline's producer defaults (the user's properties override them):
 * no duplicates from retries; keys partitioned like the Java client, so
 * mixed consumers agree; retry until the broker is back instead of timing
 * messages out (the queue filling up holds the pipeline back). */
static const char *const kafka_producer_defaults[] = {
    "enable.idempotence", "true",
    "partitioner", "murmur2_random",
    "message.timeout.ms", "0",
    NULL
};

static int kafka_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                          size_t n_in, struct fl_schema_decl *const *out)
{
    struct kafka *k = state;
    int rc = 0;
    (void)out;
    if (k->topic && !k->topic[0])
        rc = fl_diag(ctx, "topic", "topic must not be empty");
    if (k->format == KAFKA_BATCH && (k->fields.n || fl_opt_given(ctx, "time_format")))
        rc = fl_diag(ctx, k->fields.n ? "fields" : "time_format",
                     "format batch sends every field in binary; fields and time_format are "
                     "for json and csv");
    if (k->key) {
        struct fl_bind *bd;
        struct fl_want w = { .name = k->key, .flags = FL_WANT_NAMED };
        if (fl_bind_new(ctx, &w, 1, sizeof(w), &bd) < 0)
            return -FL_ENOMEM;
        if (fl_bind_check(ctx, bd, "key", in, n_in) < 0)
            rc = -FL_EINVAL;
        fl_bind_destroy(ctx, &bd);
    }
    if (k->fields.n) {
        struct fl_bind *bd;
        struct fl_want *w = calloc(k->fields.n, sizeof(*w));
        if (!w)
            return -FL_ENOMEM;
        for (size_t i = 0; i < k->fields.n; i++)
            w[i] = (struct fl_want){ .name = k->fields.v[i], .flags = FL_WANT_NAMED };
        int brc = fl_bind_new(ctx, w, k->fields.n, sizeof(w[0]), &bd);
        free(w);
        if (brc < 0)
            return brc;
        if (fl_bind_check(ctx, bd, "fields", in, n_in) < 0)
            rc = -FL_EINVAL;
        fl_bind_destroy(ctx, &bd);
    }
    /* librdkafka checks every property now, so `flowline check` reports
     * a misspelt one at its line. */
    rd_kafka_conf_t *conf;
    k->ctx = ctx;
    if (k->brokers && fl_kafka_conf_new(ctx, k, k->brokers, kafka_producer_defaults,
                                        &k->properties, &conf) == 0)
        rd_kafka_conf_destroy(conf);
    else
        rc = -FL_EINVAL;
    return rc;
}

static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kafka *k = m->_private;
    (void)rk;
    (void)opaque;
    if (!m->err) {
        k->n_delivered++;
        k->bytes_delivered += m->len;
    } else if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE
               || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT || k->stopping) {
        k->n_undelivered++;
    } else {
        k->n_failed++;
        FL_LOG_ERROR_RL(k->ctx, "topic %s: message not delivered: %s", k->topic,
                        rd_kafka_err2str(m->err));
    }
}

/* Serve delivery reports and errors, and move their counts to the stage's
 * counters (once per call, not per message). */
static void kafka_poll(struct kafka *k, int timeout_ms)
{
    rd_kafka_poll(k->rk, timeout_ms);
    if (k->n_delivered) {
        fl_counter_add(k->ctx, "messages_delivered", k->n_delivered);
        fl_counter_add(k->ctx, "bytes_delivered", k->bytes_delivered);
        k->n_delivered = k->bytes_delivered = 0;
    }
    if (k->n_failed) {
        fl_counter_add(k->ctx, "messages_failed", k->n_failed);
        k->n_failed = 0;
    }
    if (k->n_undelivered) {
        fl_counter_add(k->ctx, "messages_undelivered", k->n_undelivered);
        k->n_undelivered = 0;
    }
}

/* The keyed hash of the configured partitioner (random ones spread rows
 * without a key themselves, see above). */
static kafka_hash_fn kafka_hash_of(const char *partitioner)
{
    if (strncmp(partitioner, "consistent", 10) == 0)
        return rd_kafka_msg_partitioner_consistent;
    if (strncmp(partitioner, "fnv1a", 5) == 0)
        return rd_kafka_msg_partitioner_fnv1a;
    return rd_kafka_msg_partitioner_murmur2;
}

static int kafka_init(struct fl_ctx *ctx, void *state)
{
    struct kafka *k = state;
    rd_kafka_conf_t *conf;
    char err[512];
    k->ctx = ctx;
    int rc = fl_kafka_conf_new(ctx, k, k->brokers, kafka_producer_defaults, &k->properties, &conf);
    if (rc < 0)
        return rc;
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    char part[64];
    k->hash = kafka_hash_of(fl_kafka_conf_get(conf, "partitioner", part, sizeof(part)));
    FL_LOG_DEBUG(ctx, "partitioner %s", part);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        return fl_diag(ctx, "properties", "librdkafka producer: %s", err);
    }
    k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL);
    if (!k->rkt) {
        FL_LOG_ERROR(ctx, "topic %s: %s", k->topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -FL_EINVAL;
    }
    return 0;
}

static struct kafka_lay *kafka_layout(struct kafka *k, const struct fl_schema *s)
{
    for (unsigned i = 0; i < KAFKA_LAYS; i++)
        if (k->lays[i].schema == s)
            return &k->lays[i];
    struct kafka_lay *e = &k->lays[k->lay_next++ % KAFKA_LAYS];
    fl_text_layout_destroy(&e->lay);
    e->schema = NULL;
    struct fl_text_style st = {
        .format = k->format == KAFKA_CSV ? FL_TEXT_CSV : FL_TEXT_JSON,
        .time = (enum fl_text_time)k->time_format,
    };
    if (fl_text_layout_new(&st, s, k->fields.n ? (const char *const *)k->fields.v : NULL, NULL,
                           k->fields.n, &e->lay) < 0)
        return NULL;
    e->schema = s;
    e->key_col = k->key ? fl_schema_find(s, k->key) : -1;
    if (k->key && e->key_col < 0)
        FL_LOG_WARN(k->ctx, "key field %s is not in this input's records: they go without a key",
                    k->key);
    return e;
}

/* The key of row r: the text form of its cell (a string's own bytes), or
 * none when the value is missing. */
static int kafka_key_text(struct kafka *k, const struct fl_batch *b, int col, uint32_t r,
                          struct fl_text_buf *kb)
{
    char *p, *e;
    if (col < 0 || !fl_batch_is_valid(b, (uint32_t)col, r))
        return 0;
    enum fl_type t = b->schema->cols[col]->type;
    if (t == FL_T_STR || t == FL_T_BYTES) {
        struct fl_span sp = FL_COL(b, col, struct fl_span)[r];
        return fl_text_buf_put(kb, fl_batch_bytes(b, sp), sp.len);
    }
    int rc = fl_text_buf_reserve(kb, FL_TEXT_CELL_MAX);
    if (rc < 0)
        return rc;
    p = kb->p + kb->len;
    const void *d = b->data[col];
    switch (t) {
    case FL_T_U8:   e = fl_text_u64(p, ((const uint8_t *)d)[r]); break;
    case FL_T_U16:  e = fl_text_u64(p, ((const uint16_t *)d)[r]); break;
    case FL_T_U32:  e = fl_text_u64(p, ((const uint32_t *)d)[r]); break;
    case FL_T_U64:  e = fl_text_u64(p, ((const uint64_t *)d)[r]); break;
    case FL_T_I64:  e = fl_text_i64(p, ((const int64_t *)d)[r]); break;
    case FL_T_F64:  e = fl_text_f64(p, ((const double *)d)[r]); break;
    case FL_T_BOOL: e = fl_text_bool(p, ((const bool *)d)[r]); break;
    case FL_T_TS:   e = fl_text_ts(p, ((const uint64_t *)d)[r], (enum fl_text_time)k->time_format); break;
    case FL_T_DUR:  e = fl_text_dur(p, ((const int64_t *)d)[r]); break;
    case FL_T_ADDR: e = fl_text_addr(p, &((const struct fl_addr *)d)[r]); break;
    case FL_T_MAC:  e = fl_text_mac(p, (const uint8_t *)d + 6u * r); break;
    default:        e = p; break;
    }
    kb->len += (size_t)(e - p);
    return 0;
}

static int kafka_key(struct kafka *k, const struct fl_batch *b, int col, uint32_t r)
{
    k->keybuf.len = 0;
    return kafka_key_text(k, b, col, r, &k->keybuf);
}

/* kafka_groups_build's partition function: the partitioner's hash of the
 * key text, as librdkafka would place a json or csv message with that key;
 * rows without a key value go round the partitions. */
static int32_t kafka_row_partition(void *arg, const struct fl_batch *b, uint32_t r,
                                   int32_t nparts)
{
    struct kafka *k = arg;
    k->keybuf.len = 0;
    if (kafka_key_text(k, b, k->group_key_col, r, &k->keybuf) < 0 || k->keybuf.len == 0)
        return (int32_t)(k->spread++ % (uint32_t)nparts);
    return k->hash(k->rkt, k->keybuf.p, k->keybuf.len, nparts, NULL, NULL);
}

/* The topic's partition count, from the brokers' metadata: -FL_EAGAIN
 * while no broker answers (the core offers the batch again later). */
static int kafka_partitions(struct kafka *k)
{
    uint64_t now = fl_now_ns();
    if (k->nparts > 0 && now - k->nparts_at < 60000000000u)
        return 0;
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, k->rkt, &md, 1000);
    if (err) {
        FL_LOG_WARN_RL(k->ctx, "topic %s: no metadata: %s", k->topic, rd_kafka_err2str(err));
        return k->nparts > 0 ? 0 : -FL_EAGAIN;
    }
    int32_t n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    if (md->topic_cnt == 1 && md->topics[0].err)
        FL_LOG_WARN_RL(k->ctx, "topic %s: %s", k->topic, rd_kafka_err2str(md->topics[0].err));
    rd_kafka_metadata_destroy(md);
    if (n <= 0)
        return k->nparts > 0 ? 0 : -FL_EAGAIN;
    k->nparts = n;
    k->nparts_at = now;
    return 0;
}

/* Queue one message; on a full queue, serve delivery reports for up to
 * ~100 ms before giving up with -FL_EAGAIN. */
static int kafka_produce(struct kafka *k, int32_t part, const void *val, size_t len,
                         const char *key, size_t klen)
{
    for (int tries = 0;; tries++) {
        if (rd_kafka_produce(k->rkt, part, RD_KAFKA_MSG_F_COPY, (void *)val, len,
                             klen ? key : NULL, klen, k) == 0)
            return 0;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            k->n_failed++;
            FL_LOG_ERROR_RL(k->ctx, "topic %s: message refused: %s", k->topic,
                            rd_kafka_err2str(err));
            return 0;
        }
        if (tries == 10)
            return -FL_EAGAIN;
        kafka_poll(k, 10);
    }
}

/* Format batch: the rows by the partition of their key (one group without
 * a key), each group cut into messages of at most batch_records rows,
 * without a message key. *pos: where in the grouped rows to start (a
 * resumed batch keeps its groups). */
static int kafka_process_batch(struct kafka *k, struct fl_batch *b, bool resumed, uint32_t *pos,
                               uint32_t *queued)
{
    struct kafka_groups *g = &k->groups;
    int rc;
    if (!resumed) {
        struct kafka_lay *l = k->key ? kafka_layout(k, b->schema) : NULL;
        if (k->key && !l)
            return -FL_ENOMEM;
        k->group_key_col = l ? l->key_col : -1;
        if (k->group_key_col >= 0 && (rc = kafka_partitions(k)) < 0)
            return rc;
        if ((rc = kafka_groups_build(g, b, k->nparts,
                                     k->group_key_col >= 0 ? kafka_row_partition : NULL, k)) < 0)
            return rc;
        *pos = 0;
    }
    uint32_t gi = 0;
    while (*pos < b->rows) {
        while (g->first[gi + 1] <= *pos)
            gi++;
        uint32_t end = g->first[gi + 1];
        if (end - *pos > k->batch_records)
            end = *pos + (uint32_t)k->batch_records;
        struct fl_batch *sub;
        if (*pos == 0 && end == b->rows && g->n == 1)   /* rows in batch order */
            sub = fl_batch_retain(b);
        else if ((rc = kafka_gather(k->ctx, b, g->rows + *pos, end - *pos, &sub)) < 0)
            return rc;
        k->wire.len = 0;
        rc = fl_wire_encode(sub, 0, &k->wire);
        fl_batch_release(&sub);
        if (rc < 0) {
            FL_LOG_ERROR(k->ctx, "batch encoding: %s", fl_strerror(rc));
            return rc;
        }
        if ((rc = kafka_produce(k, g->part[gi], k->wire.p, k->wire.len, NULL, 0)) < 0)
            return rc;
        (*queued)++;
        *pos = end;
    }
    return 0;
}

static int kafka_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct kafka *k = state;
    char reason[256];
    uint32_t row = 0, queued = 0;
    int rc = 0;

    kafka_poll(k, 0);
    if (rd_kafka_fatal_error(k->rk, reason, sizeof(reason))) {
        FL_LOG_ERROR(ctx, "topic %s: the producer failed: %s", k->topic, reason);
        return -FL_EIO;
    }
    bool resumed = k->resume == b && k->resume_seq == b->seq;
    if (resumed)
        row = k->resume_row;
    k->resume = NULL;
    if (k->format == KAFKA_BATCH) {
        rc = kafka_process_batch(k, b, resumed, &row, &queued);
        goto done;
    }
    struct kafka_lay *l = kafka_layout(k, b->schema);
    if (!l)
        return -FL_ENOMEM;
    for (; row < b->rows; row++) {
        uint32_t r = row;
        k->msg.len = 0;
        if ((rc = fl_text_layout_rows(l->lay, b, &r, &k->msg, 0)) < 0
            || (rc = kafka_key(k, b, l->key_col, row)) < 0)
            break;
        size_t len = k->msg.len;
        if (len && k->msg.p[len - 1] == '\n')    /* a message is a record, not a line */
            len--;
        if ((rc = kafka_produce(k, RD_KAFKA_PARTITION_UA, k->msg.p, len, k->keybuf.p, k->keybuf.len)) < 0)
            break;
        queued++;
    }
done:
    if (queued)
        fl_counter_add(ctx, "messages_produced", queued);
    if (rc == -FL_EAGAIN) {
        k->resume = b;
        k->resume_seq = b->seq;
        k->resume_row = row;
        fl_counter_add(ctx, "queue_full", 1);
    }
    return rc;
}

static int kafka_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    (void)ctx;
    (void)now_ns;
    kafka_poll(state, 0);
    return 0;
}

/* Deliver what is queued, for at most flush_timeout; what the brokers did
 * not take by then is purged, counted and logged, never dropped silently. */
static int kafka_drain(struct fl_ctx *ctx, void *state)
{
    struct kafka *k = state;
    if (!k->rk)
        return 0;
    rd_kafka_resp_err_t err = rd_kafka_flush(k->rk, (int)(k->flush_timeout / 1000000));
    kafka_poll(k, 0);
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        int left = rd_kafka_outq_len(k->rk);
        FL_LOG_ERROR(ctx, "topic %s: %d messages not delivered within flush_timeout; "
                     "the brokers are unreachable", k->topic, left);
        k->stopping = true;
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 100);
        kafka_poll(k, 0);
    }
    return 0;
}

static void kafka_fini(struct fl_ctx *ctx, void *state)
{
    struct kafka *k = state;
    (void)ctx;
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk) {
        /* not drained (the pipeline failed): count what is lost */
        if (rd_kafka_outq_len(k->rk) > 0) {
            k->stopping = true;
            rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            kafka_poll(k, 100);
        }
        rd_kafka_destroy(k->rk);
    }
    for (unsigned i = 0; i < KAFKA_LAYS; i++)
        fl_text_layout_destroy(&k->lays[i].lay);
    fl_text_buf_free(&k->msg);
    fl_text_buf_free(&k->keybuf);
    kafka_groups_free(&k->groups);
    fl_wire_buf_free(&k->wire);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "kafka", .version = "1.0",
                 .summary = "produce records to a Kafka topic (json, csv or batch messages, "
                            "keyed by a field), idempotent, every delivery counted",
                 .opts = kafka_opts, .state_size = sizeof(struct kafka),
                 .describe = kafka_describe, .init = kafka_init, .process = kafka_process,
                 .tick = kafka_tick, .drain = kafka_drain, .fini = kafka_fini);
