/* cassandra.c: output.cassandra, records as rows of a Cassandra table over
 * the CQL native protocol v4, written in flowline (no C driver is
 * packaged). Options, the stage's life cycle, and process(): rows are
 * encoded as their bound values (cassandra_schema.c) into the payloads of
 * the delivery layer (flowline/deliver.h: batch_size rows per payload,
 * flush on time, retry with backoff, spool), which hands each payload to
 * cassandra_send.c to go out over the session (cassandra_session.c).
 *
 * Delivery: at-least-once. A payload leaves memory (or the spool) only
 * once the server answered every request of it; a payload that failed
 * part way is sent again whole, so a row may be written twice, and an
 * INSERT of the same values is an idempotent upsert: the table ends the
 * same. The table's column types decide how values are encoded: when
 * columns: gives them all, rows are encoded (and spooled) before the
 * server was ever reached, and the prepared INSERT must then agree; else
 * the first batch waits for the first session. */
#include <stdlib.h>
#include <string.h>
#include "cassandra.h"

static const char *const consistency_choices[] = {
    "any", "one", "two", "three", "quorum", "all", "local_quorum", "each_quorum",
    "serial", "local_serial", "local_one", NULL
};
static const char *const unit_choices[] = { "s", "ms", "us", "ns", NULL };

static const struct fl_opt cass_opts[] = {
    { .name = "hosts", .type = FL_OPT_LIST, .offset = offsetof(struct cass, hosts),
      .flags = FL_OPT_REQUIRED,
      .doc = "contact points, host:port ([v6]:port; port 9042 when left out); tried in turn, "
             "the next one when a node fails" },
    { .name = "keyspace", .type = FL_OPT_STRING, .offset = offsetof(struct cass, keyspace),
      .flags = FL_OPT_REQUIRED, .doc = "keyspace of the table" },
    { .name = "table", .type = FL_OPT_STRING, .offset = offsetof(struct cass, table),
      .flags = FL_OPT_REQUIRED, .doc = "table the rows go into" },
    { .name = "columns", .type = FL_OPT_MAP, .offset = offsetof(struct cass, columns),
      .doc = "the table's columns in order, each `TYPE` (the field of the column's name, "
             "aliases included: srcaddr is src_addr), `FIELD TYPE` or `[FIELD, TYPE]`, or "
             "`FIELD` (the table's type); default: every input field, its own name and type" },
    { .name = "primary_key", .type = FL_OPT_STRING, .offset = offsetof(struct cass, primary_key),
      .doc = "PRIMARY KEY of CREATE TABLE, e.g. \"(srcaddr, dstaddr), srcp, dstp, proto\"; "
             "rows missing a key value are skipped (counted); default: the first column" },
    { .name = "create", .type = FL_OPT_BOOL, .offset = offsetof(struct cass, create),
      .def = "false",
      .doc = "CREATE KEYSPACE and CREATE TABLE IF NOT EXISTS from columns and primary_key "
             "before the first row" },
    { .name = "replication", .type = FL_OPT_STRING, .offset = offsetof(struct cass, replication),
      .def = "{'class': 'SimpleStrategy', 'replication_factor': 1}",
      .doc = "replication map of CREATE KEYSPACE" },
    { .name = "user", .type = FL_OPT_STRING, .offset = offsetof(struct cass, user),
      .doc = "user for PLAIN authentication (PasswordAuthenticator)" },
    { .name = "password", .type = FL_OPT_STRING, .offset = offsetof(struct cass, password),
      .doc = "its password (use ${ENV} substitution to keep it out of the file)" },
    { .name = "consistency", .type = FL_OPT_ENUM, .offset = offsetof(struct cass, consistency),
      .def = "local_one", .choices = consistency_choices,
      .doc = "consistency level of every write" },
    { .name = "batch_rows", .type = FL_OPT_UINT, .offset = offsetof(struct cass, batch_rows),
      .def = "1", .min = "1", .max = "65535", .unit = "rows",
      .doc = "rows per request: 1 sends an EXECUTE per row (what Cassandra prefers for rows "
             "of many partitions), more an unlogged BATCH" },
    { .name = "in_flight", .type = FL_OPT_UINT, .offset = offsetof(struct cass, in_flight),
      .def = "64", .min = "1", .max = "32767", .unit = "requests",
      .doc = "requests outstanding at once on the connection (distinct stream ids)" },
    { .name = "time_unit", .type = FL_OPT_ENUM, .offset = offsetof(struct cass, time_unit),
      .def = "ms", .choices = unit_choices,
      .doc = "unit of ts and dur fields written into integer columns (timestamp columns are "
             "always milliseconds, double columns seconds)" },
    { .name = "connect_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct cass, connect_timeout), .def = "5s", .min = "1ms",
      .doc = "how long a connection attempt may take" },
    { .name = "request_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct cass, request_timeout), .def = "12s", .min = "1ms",
      .doc = "how long an answer may take before the connection counts as failed" },
    { .name = "drop_invalid", .type = FL_OPT_BOOL, .offset = offsetof(struct cass, drop_invalid),
      .def = "false",
      .doc = "rows the server refuses as invalid are counted (records_rejected) and dropped; "
             "by default such a refusal stops the pipeline with the server's message" },
    FL_DELIVER_OPTS(struct cass, dl),
    { 0 }
};

static int cass_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                         size_t n_in, struct fl_schema_decl *const *out)
{
    struct cass *s = state;
    int rc = 0;
    (void)out;
    for (size_t i = 0; i < s->hosts.n; i++) {
        char h[256], p[8];
        if (cql_hostport_split(s->hosts.v[i], h, sizeof h, p, sizeof p) < 0)
            rc = fl_diag(ctx, "hosts", "\"%s\" is not host:port", s->hosts.v[i]);
    }
    if (!s->hosts.n)
        rc = fl_diag(ctx, "hosts", "give at least one host:port");
    if (!cass_ident_ok(s->keyspace))
        rc = fl_diag(ctx, "keyspace", "\"%s\" is not a keyspace name CQL takes unquoted",
                     s->keyspace ? s->keyspace : "");
    if (!cass_ident_ok(s->table))
        rc = fl_diag(ctx, "table", "\"%s\" is not a table name CQL takes unquoted",
                     s->table ? s->table : "");
    if (!s->user != !s->password)
        rc = fl_diag(ctx, s->user ? "user" : "password", "user and password go together");
    if (s->dl.backoff_min > s->dl.backoff_max)
        rc = fl_diag(ctx, "backoff_min", "is longer than backoff_max");
    int crc = cass_cols_configure(ctx, s, in, n_in);
    if (crc == -FL_ENOMEM)
        return crc;
    if (crc < 0)
        rc = crc;       /* and check the columns that did parse */
    for (size_t i = 0; i < n_in; i++)
        if (cass_cols_check(ctx, s, in[i]) < 0)
            rc = -FL_EINVAL;
    return rc;
}

static int cass_deliver_send(void *arg, const uint8_t *buf, size_t len, uint32_t n,
                             uint32_t *n_rejected)
{
    struct cass *s = arg;
    switch (cass_send_rows(s, buf, len, n, n_rejected)) {
    case CASS_OK:
        return FL_DELIVER_OK;
    case CASS_RETRY:
        return FL_DELIVER_RETRY;
    case CASS_FATAL:            /* s->fatal: process() stops the stage */
        *n_rejected = n;
        return FL_DELIVER_REJECT;
    default:
        return FL_DELIVER_REJECT;
    }
}

static int cass_start(struct fl_ctx *ctx, void *state)
{
    struct cass *s = state;
    struct fl_deliver_ops ops = { .send = cass_deliver_send };
    s->ctx = ctx;
    s->conn.fd = -1;
    s->conn.bind_cols = s->bind_cols;
    s->conn.result_cols = s->result_cols;
    if (!(s->insert_cql = cass_insert_cql(s)))
        return -FL_ENOMEM;
    int rc = fl_deliver_new(ctx, &s->dl, &ops, s, &s->d);
    if (rc < 0)
        return rc;
    /* the first connection now, so a wrong password or table stops the
     * pipeline before any record is read; a server that is down is only
     * a warning (the rows wait) */
    rc = cass_session_ensure(s, true);
    return rc == -FL_EAGAIN ? 0 : rc;
}

static void count(struct fl_ctx *ctx, struct cass *s)
{
    static const char *const names[] = {
        "rows_written", "requests", "bytes", "connects",
        "errors_unavailable", "errors_write_timeout", "errors_overloaded", "errors_other",
        "values_out_of_range", "rows_missing_key"
    };
    uint64_t *v[] = { &s->c_rows, &s->c_requests, &s->c_bytes, &s->c_reconnects, &s->c_unavailable, &s->c_write_timeout,
                      &s->c_overloaded, &s->c_other_errors, &s->c_out_of_range,
                      &s->c_missing_key };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (*v[i]) {
            fl_counter_add(ctx, names[i], *v[i]);
            *v[i] = 0;
        }
}

/* Types come from the table (the prepared INSERT): each column's field
 * must convert to it. */
static int bind_plan(struct cass *s, const struct fl_schema *schema)
{
    cass_plan_bind(s, schema);
    for (size_t i = 0; i < s->ncols; i++) {
        if (s->plan.col[i] < 0)
            continue;
        const char *why = cql_conv_why_not(s->plan.ftype[i], s->cols[i].type);
        if (why) {
            FL_LOG_ERROR(s->ctx, "column %s of %s.%s is %s; field \"%s\" is %s: %s",
                         s->cols[i].name, s->keyspace, s->table, cql_type_name(s->cols[i].type),
                         s->cols[i].field, fl_type_name(s->plan.ftype[i]), why);
            s->plan.schema = NULL;
            return s->fatal = -FL_ETYPE;
        }
    }
    return 0;
}

static int cass_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct cass *s = state;
    int rc;
    if ((rc = fl_deliver_ready(s->d)) < 0)
        goto out;
    /* the table's types are needed to encode, unless columns: gave them
     * all (checked against the table when it is reached) */
    if (!s->prepared_once && !s->types_given && (rc = cass_session_ensure(s, true)) < 0)
        goto out;   /* -FL_EAGAIN: the runtime offers the batch again */
    if (s->plan.schema != b->schema && (rc = bind_plan(s, b->schema)) < 0)
        goto out;
    for (uint32_t r = 0; r < b->rows && !s->fatal; r++) {
        struct fl_dbuf *o = fl_deliver_buf(s->d);
        struct cql_wr w = { .p = o->p, .len = o->len, .cap = o->cap };
        rc = cass_encode_row(s, &w, b, r);
        o->p = w.p;             /* both grow with realloc: the buffer moves over */
        o->cap = w.cap;
        if (rc < 0)
            goto out;
        o->len = w.len;
        if (rc == 0 && (rc = fl_deliver_add(s->d, 1)) < 0)
            goto out;
    }
    rc = 0;
out:
    count(ctx, s);
    return s->fatal ? s->fatal : rc;
}

static int cass_wall_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    struct cass *s = state;
    int rc = fl_deliver_tick(s->d, now_ns);
    count(ctx, s);
    return s->fatal ? s->fatal : rc;
}

static int cass_drain(struct fl_ctx *ctx, void *state)
{
    struct cass *s = state;
    int rc = s->d ? fl_deliver_drain(s->d) : 0;
    count(ctx, s);
    return s->fatal ? s->fatal : rc;
}

static void cass_fini(struct fl_ctx *ctx, void *state)
{
    struct cass *s = state;
    (void)ctx;
    fl_deliver_free(&s->d);
    if (s->ctx)     /* started: conn.fd is a socket or -1 (zeroed state would say fd 0) */
        cql_conn_free(&s->conn);
    free(s->insert_cql);
    free(s->row_off);
    free(s->stream_chunk);
    free(s->free_sids);
    cass_cols_free(s);
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_OUTPUT,
    .name = "cassandra",
    .version = "1.0",
    .summary = "rows of a Cassandra table, over the CQL native protocol v4",
    .opts = cass_opts,
    .state_size = sizeof(struct cass),
    .describe = cass_describe,
    .start = cass_start,
    .process = cass_process,
    .wall_tick = cass_wall_tick,
    .drain = cass_drain,
    .fini = cass_fini,
    /* workers: N: a connection, a prepared statement and a spool each */
    .flags = FL_PLUGIN_INSTANCES,
);
