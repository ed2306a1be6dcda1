/* kafka.c: input.kafka, records from Kafka topics with librdkafka's
 * consumer, as a member of a consumer group (`workers: N` runs N members).
 *
 * At-least-once: offsets are committed only after the records of the
 * messages they cover went downstream (fl_emit returned), never by
 * librdkafka on its own (enable.auto.commit and enable.auto.offset.store
 * are off). When the group takes partitions away (a rebalance), what was
 * read from them is emitted and committed before they go, so the member
 * that gets them next starts where this one stopped: two members of a
 * group together see every message once unless one of them dies, and a
 * restart re-reads at most the records that had not gone downstream.
 *
 * Messages: json (one object) or csv (one row), the forms output.kafka
 * writes, into the schema declared by `fields`; or batch (flowline/wire.h),
 * which describes itself and goes downstream as it came. A message that is not a
 * record of it is counted (messages_bad), logged and skipped, and its
 * offset committed like any other. Every message is destroyed. */
#include <stdlib.h>
#include <string.h>
#include <flowline/wire.h>
#include "fl_kafka.h"
#include "kafka_int.h"

enum kafka_format { KAFKA_JSON = 0, KAFKA_CSV, KAFKA_BATCH };

struct kafka_in {
    struct fl_ctx *ctx;              /* first: fl_kafka_ctx() */
    /* options */
    char *brokers, *group;
    struct fl_strlist topics, fields;
    int format;
    struct fl_strmap properties;
    uint64_t batch_size, batch_timeout;
    bool stop_at_end;
    /* from describe */
    const struct fl_schema *schema;
    char **names;                    /* per column: the key/name as written in `fields` */
    /* run time */
    rd_kafka_t *rk;
    struct kafka_parser ps;
    struct fl_wire_dec *dec;         /* format batch */
    struct fl_batch *b;              /* rows read, not yet emitted */
    uint64_t since;                  /* wall clock of the first row not emitted or
                                      * offset not committed; 0 = none */
    rd_kafka_topic_partition_list_t *offs;     /* next offset per partition read into b */
    rd_kafka_topic_partition_list_t *assigned; /* .offset: 1 = at its end (stop_at_end) */
    uint64_t n_msgs, n_bad, n_bytes;
    int fail;                        /* an error inside a callback */
    bool emitted;                    /* something went downstream */
    uint64_t ev_max, ev_wall;        /* latest record time sent, and when (wall) */
};

static const char *const kafka_formats[] = { "json", "csv", "batch", NULL };

static const struct fl_opt kafka_opts[] = {
    { .name = "brokers", .type = FL_OPT_STRING, .offset = offsetof(struct kafka_in, brokers),
      .flags = FL_OPT_REQUIRED,
      .doc = "bootstrap brokers, host:port[,host:port...] (librdkafka's bootstrap.servers)" },
    { .name = "topics", .type = FL_OPT_LIST, .offset = offsetof(struct kafka_in, topics),
      .flags = FL_OPT_REQUIRED, .doc = "topics to consume (a name starting with ^ is a regex)" },
    { .name = "group", .type = FL_OPT_STRING, .offset = offsetof(struct kafka_in, group),
      .flags = FL_OPT_REQUIRED,
      .doc = "consumer group: members share the partitions and the committed offsets" },
    { .name = "format", .type = FL_OPT_ENUM, .offset = offsetof(struct kafka_in, format),
      .def = "json", .choices = kafka_formats,
      .doc = "message value: json (one object), csv (one row, cells in the order of `fields`) "
             "or batch (flowline's binary batch encoding, which describes itself)" },
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(struct kafka_in, fields),
      .doc = "json and csv: the record's fields, in csv's cell order, as name (a known field: "
             "its type) or name:type (u8..u64, i64, f64, bool, ts, dur, addr, mac, str, bytes)" },
    { .name = "properties", .type = FL_OPT_MAP, .offset = offsetof(struct kafka_in, properties),
      .doc = "librdkafka consumer properties (CONFIGURATION.md), over flowline's defaults "
             "auto.offset.reset=earliest; enable.auto.commit and enable.auto.offset.store "
             "stay false" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct kafka_in, batch_size),
      .def = "4096", .min = "1", .max = "1048576", .unit = "records",
      .doc = "records per batch sent downstream" },
    { .name = "batch_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct kafka_in, batch_timeout), .def = "100ms", .min = "1ms",
      .doc = "send a partial batch downstream at most this long after its first record" },
    { .name = "stop_at_end", .type = FL_OPT_BOOL, .offset = offsetof(struct kafka_in, stop_at_end),
      .def = "false",
      .doc = "end when every partition assigned to this member has been read to its end "
             "(a replay); otherwise run until stopped" },
    { 0 }
};

/* At-least-once needs the offsets in flowline's hands (see above); a new
 * group starts at the oldest message, like Telegraf's and Fluent Bit's. */
static const char *const kafka_consumer_defaults[] = {
    "auto.offset.reset", "earliest",
    "enable.partition.eof", "true",
    NULL
};
static const char *const kafka_consumer_fixed[] = {
    "enable.auto.commit", "false",
    "enable.auto.offset.store", "false",
    NULL
};

/* `fields` into the schema: "name" takes the registry's type, "name:type"
 * names any field. */
static int kafka_schema(struct fl_ctx *ctx, struct kafka_in *k)
{
    size_t n = k->fields.n;
    int rc = 0;
    struct fl_col_def *cols = calloc(n, sizeof(*cols));
    char **names = calloc(n + 1, sizeof(*names));
    if (!cols || !names) {
        rc = -FL_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *item = k->fields.v[i], *colon = strchr(item, ':');
        size_t len = colon ? (size_t)(colon - item) : strlen(item);
        if (!(names[i] = strndup(item, len))) {
            rc = -FL_ENOMEM;
            goto done;
        }
        const struct fl_field *f = fl_field_find(names[i]);
        if (colon) {
            enum fl_type t = fl_type_from_name(colon + 1);
            if (t == FL_T_NONE) {
                rc = fl_diag_at(ctx, "fields", item, len + 1, "unknown type \"%s\" (u8, u16, "
                                "u32, u64, i64, f64, bool, ts, dur, addr, mac, str, bytes)",
                                colon + 1);
                continue;
            }
            if (f && f->type != t) {
                rc = fl_diag_at(ctx, "fields", item, len + 1, "field %s is of type %s, not %s",
                                names[i], fl_type_name(f->type), colon + 1);
                continue;
            }
            cols[i] = (struct fl_col_def){ .name = f ? f->name : names[i], .type = t };
        } else if (f) {
            cols[i] = (struct fl_col_def){ .name = f->name, .type = f->type };
        } else {
            const char *sug = fl_field_suggest(names[i]);
            rc = fl_diag_at(ctx, "fields", item, 0,
                            "unknown field \"%s\"%s%s%s; give its type as %s:TYPE", names[i],
                            sug ? " (did you mean " : "", sug ? sug : "", sug ? "?)" : "",
                            names[i]);
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0)
                rc = fl_diag_at(ctx, "fields", k->fields.v[i], 0, "field %s is listed twice",
                                cols[i].name);
    if (rc == 0)
        rc = fl_schema_intern(ctx, cols, n, sizeof(cols[0]), &k->schema);
done:
    if (names)
        for (size_t i = 0; i < n; i++)
            free(names[i]);
    free(names);
    free(cols);
    return rc;
}

/* The names messages use: `fields` without their types (allocated in
 * init, not describe, which `flowline check` runs without fini). */
static int kafka_names(struct kafka_in *k)
{
    if (!(k->names = calloc(k->fields.n + 1, sizeof(*k->names))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < k->fields.n; i++)
        if (!(k->names[i] = strndup(k->fields.v[i], strcspn(k->fields.v[i], ":"))))
            return -FL_ENOMEM;
    return 0;
}

static int kafka_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                          size_t n_in, struct fl_schema_decl *const *out)
{
    struct kafka_in *k = state;
    int rc = 0;
    (void)in;
    (void)n_in;
    k->ctx = ctx;
    if (k->format == KAFKA_BATCH) {
        if (k->fields.n)
            rc = fl_diag(ctx, "fields", "format batch describes its own fields; `fields` is "
                         "for json and csv");
    } else if (k->fields.n == 0)
        rc = fl_diag(ctx, "fields", "format %s needs `fields`: the records' fields "
                     "(name or name:type), since the messages do not declare them",
                     kafka_formats[k->format]);
    else if (!k->schema && kafka_schema(ctx, k) < 0)
        rc = -FL_EINVAL;
    for (size_t i = 0; i < k->properties.n; i++)
        for (size_t j = 0; kafka_consumer_fixed[j]; j += 2)
            if (strcmp(k->properties.key[i], kafka_consumer_fixed[j]) == 0)
                rc = fl_diag_at(ctx, "properties", k->properties.key[i], 0,
                                "%s is flowline's: offsets are committed once the records "
                                "went downstream", kafka_consumer_fixed[j]);
    rd_kafka_conf_t *conf;
    if (k->brokers && fl_kafka_conf_new(ctx, k, k->brokers, kafka_consumer_defaults,
                                        &k->properties, &conf) == 0)
        rd_kafka_conf_destroy(conf);
    else
        rc = -FL_EINVAL;
    out[0]->schema = k->schema;
    return rc;
}

/* ---- Emitting and committing ------------------------------------------ */

/* Send the rows read downstream, then commit the offsets past the
 * messages they came from (async normally, sync before partitions go). */
/* Hand b downstream, noting its record time for the idle watermark. */
static int kafka_emit(struct kafka_in *k, struct fl_batch **b)
{
    k->emitted = true;
    k->ev_wall = fl_now_ns();
    if ((*b)->t_max > k->ev_max)
        k->ev_max = (*b)->t_max;
    return fl_emit(k->ctx, b);
}

static int kafka_flush(struct kafka_in *k, bool sync)
{
    int rc = 0;
    if (k->b && k->b->rows) {
        rc = kafka_emit(k, &k->b);
    }
    fl_batch_release(&k->b);
    k->since = 0;
    if (k->n_msgs) {
        fl_counter_add(k->ctx, "messages_read", k->n_msgs);
        fl_counter_add(k->ctx, "bytes_read", k->n_bytes);
        k->n_msgs = k->n_bytes = 0;
    }
    if (k->n_bad) {
        fl_counter_add(k->ctx, "messages_bad", k->n_bad);
        k->n_bad = 0;
    }
    if (rc < 0)
        return rc;   /* not downstream: not committed */
    if (k->offs->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_commit(k->rk, k->offs, sync ? 0 : 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            FL_LOG_WARN_RL(k->ctx, "offset commit: %s (the records may be read again)",
                           rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(k->offs);
        k->offs = rd_kafka_topic_partition_list_new(8);
    }
    return 0;
}

static void kafka_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct kafka_in *k = opaque;
    (void)rk;
    (void)offsets;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        fl_counter_add(k->ctx, "commit_errors", 1);
        FL_LOG_WARN_RL(k->ctx, "offset commit: %s (the records may be read again)",
                       rd_kafka_err2str(err));
    }
}

/* Served inside rd_kafka_consumer_poll() on the stage's thread. Before
 * partitions go, what was read from them goes downstream and is committed
 * synchronously, so their next owner starts after it. */
static void kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct kafka_in *k = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        FL_LOG_INFO(k->ctx, "assigned %d partitions", parts->cnt);
        fl_counter_add(k->ctx, "rebalances", 1);
        if (!coop) {
            rd_kafka_topic_partition_list_destroy(k->assigned);
            k->assigned = rd_kafka_topic_partition_list_new(parts->cnt);
        }
        for (int i = 0; i < parts->cnt; i++)
            rd_kafka_topic_partition_list_add(k->assigned, parts->elems[i].topic,
                                              parts->elems[i].partition)->offset = 0;
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        return;
    }
    FL_LOG_INFO(k->ctx, "revoked %d partitions", parts->cnt);
    if (kafka_flush(k, true) < 0)
        k->fail = -FL_EIO;
    for (int i = 0; i < parts->cnt; i++)
        rd_kafka_topic_partition_list_del(k->assigned, parts->elems[i].topic,
                                          parts->elems[i].partition);
    if (coop)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

/* ---- Reading ------------------------------------------------------------ */

static void kafka_at_end(struct kafka_in *k, const rd_kafka_message_t *m, bool end)
{
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
        k->assigned, rd_kafka_topic_name(m->rkt), m->partition);
    if (p)
        p->offset = end;
}

static bool kafka_all_at_end(const struct kafka_in *k)
{
    if (!k->assigned->cnt)
        return false;
    for (int i = 0; i < k->assigned->cnt; i++)
        if (!k->assigned->elems[i].offset)
            return false;
    return true;
}

/* Format batch: every batch of the message downstream as it is. */
static int kafka_message_batch(struct kafka_in *k, const rd_kafka_message_t *m)
{
    const char *p = m->payload;
    size_t off = 0, used;
    while (off < m->len) {
        struct fl_batch *bt;
        int rc = fl_wire_decode(k->dec, p + off, m->len - off, &bt, &used);
        if (rc == -FL_ENOMEM)
            return rc;
        if (rc < 0) {
            k->n_bad++;
            FL_LOG_WARN_RL(k->ctx, "%s [%d] offset %lld: not a flowline batch: %s; skipped",
                           rd_kafka_topic_name(m->rkt), (int)m->partition,
                           (long long)m->offset, fl_wire_dec_error(k->dec));
            return 0;
        }
        off += used;
        if ((rc = kafka_emit(k, &bt)) < 0)
            return rc;
    }
    return 0;
}

static int kafka_message(struct kafka_in *k, const rd_kafka_message_t *m)
{
    int rc;
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (!k->since)
        k->since = fl_now_ns();
    if (k->format == KAFKA_BATCH) {
        k->n_msgs++;
        k->n_bytes += m->len;
        if ((rc = kafka_message_batch(k, m)) < 0)
            return rc;
        goto offset;
    }
    if (!k->b && (rc = fl_batch_new(k->ctx, k->schema, (uint32_t)k->batch_size, &k->b)) < 0)
        return rc;
    uint32_t r = k->b->rows;
    rc = k->format == KAFKA_CSV ? kafka_parse_csv(&k->ps, m->payload, m->len, k->b, r)
                                : kafka_parse_json(&k->ps, m->payload, m->len, k->b, r);
    if (rc == -FL_ENOMEM)
        return rc;
    k->n_msgs++;
    k->n_bytes += m->len;
    if (rc < 0) {
        k->n_bad++;
        FL_LOG_WARN_RL(k->ctx, "%s [%d] offset %lld: not a %s record of `fields`; skipped",
                       topic, (int)m->partition, (long long)m->offset,
                       kafka_formats[k->format]);
    } else {
        k->b->rows++;
    }
offset:;
    rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(k->offs, topic,
                                                                       m->partition);
    if (!p)
        p = rd_kafka_topic_partition_list_add(k->offs, topic, m->partition);
    p->offset = m->offset + 1;
    kafka_at_end(k, m, false);
    if (k->b && k->b->rows == k->b->cap)
        return kafka_flush(k, false);
    return 0;
}

static int kafka_init(struct fl_ctx *ctx, void *state)
{
    struct kafka_in *k = state;
    rd_kafka_conf_t *conf;
    char err[512], cid[128];
    k->ctx = ctx;
    if (k->format == KAFKA_BATCH) {
        if (fl_wire_dec_new(ctx, 0, &k->dec) < 0)
            return -FL_ENOMEM;
    } else {
        if (kafka_names(k) < 0)
            return -FL_ENOMEM;
        k->ps.names = (const char *const *)k->names;
        k->ps.sep = ',';
        if (!(k->ps.seen = calloc(k->schema->ncols, sizeof(bool))))
            return -FL_ENOMEM;
    }
    int rc = fl_kafka_conf_new(ctx, k, k->brokers, kafka_consumer_defaults, &k->properties, &conf);
    if (rc < 0)
        return rc;
    snprintf(cid, sizeof(cid), "flowline-%s-%u", fl_stage_id(ctx), fl_worker_index(ctx));
    if (rd_kafka_conf_set(conf, "group.id", k->group, err, sizeof(err)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "client.id", cid, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return fl_diag(ctx, "group", "%s", err);
    }
    for (size_t j = 0; kafka_consumer_fixed[j]; j += 2)
        rd_kafka_conf_set(conf, kafka_consumer_fixed[j], kafka_consumer_fixed[j + 1], err,
                          sizeof(err));
    rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, kafka_commit_cb);
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        return fl_diag(ctx, "properties", "librdkafka consumer: %s", err);
    }
    rd_kafka_poll_set_consumer(k->rk);
    k->offs = rd_kafka_topic_partition_list_new(8);
    k->assigned = rd_kafka_topic_partition_list_new(8);
    return 0;
}

static int kafka_run(struct fl_ctx *ctx, void *state)
{
    struct kafka_in *k = state;
    int rc = 0;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new((int)k->topics.n);
    for (size_t i = 0; i < k->topics.n; i++)
        rd_kafka_topic_partition_list_add(sub, k->topics.v[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        FL_LOG_ERROR(ctx, "subscribe: %s", rd_kafka_err2str(err));
        return -FL_EIO;
    }
    uint64_t wm_last = 0;
    while (!fl_stopping(ctx) && !k->fail) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 50);
        if (m) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                kafka_at_end(k, m, true);
            else if (m->err)
                FL_LOG_WARN_RL(ctx, "consumer: %s", rd_kafka_message_errstr(m));
            else
                rc = kafka_message(k, m);
            rd_kafka_message_destroy(m);
            if (rc < 0)
                break;
        }
        uint64_t now = fl_now_ns();
        if (k->since && (!m || now - k->since >= k->batch_timeout)
            && (rc = kafka_flush(k, false)) < 0)
            break;
        /* Idle: let downstream windows and timeouts fire. The clock is the
         * records' own time moved on by the wall time since the last ones
         * went down (a replay of old records must not close every window
         * at once); the wall clock for records without times. Before any
         * record there is nothing to time out. */
        if (!m && k->emitted && now - wm_last > 100000000u) {
            fl_watermark(ctx, k->ev_max ? k->ev_max + (now - k->ev_wall) : now);
            wm_last = now;
        }
        if (k->stop_at_end && !k->since && kafka_all_at_end(k))
            break;
    }
    if (rc == 0 && k->fail)
        rc = k->fail;
    int frc = kafka_flush(k, true);
    if (rc == 0)
        rc = frc;
    /* leaves the group (revoking: the callback above commits, nothing is
     * left to emit) */
    err = rd_kafka_consumer_close(k->rk);
    if (err)
        FL_LOG_WARN(ctx, "consumer close: %s", rd_kafka_err2str(err));
    return rc;
}

static void kafka_fini(struct fl_ctx *ctx, void *state)
{
    struct kafka_in *k = state;
    (void)ctx;
    fl_batch_release(&k->b);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    if (k->offs)
        rd_kafka_topic_partition_list_destroy(k->offs);
    if (k->assigned)
        rd_kafka_topic_partition_list_destroy(k->assigned);
    if (k->names)
        for (size_t i = 0; i < k->fields.n; i++)
            free(k->names[i]);
    free(k->names);
    free(k->ps.seen);
    fl_wire_dec_free(&k->dec);
    fl_text_buf_free(&k->ps.buf);
    fl_text_buf_free(&k->ps.key);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_INPUT, .name = "kafka", .version = "1.0",
                 .summary = "consume records from Kafka topics in a consumer group (json, csv "
                            "or batch messages); offsets committed once records went downstream",
                 .opts = kafka_opts, .state_size = sizeof(struct kafka_in),
                 .describe = kafka_describe, .init = kafka_init, .run = kafka_run,
                 .fini = kafka_fini, .flags = FL_PLUGIN_INSTANCES);
