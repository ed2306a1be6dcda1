/* cassandra.c: output.cassandra, records as rows of a Cassandra table over
 * the CQL native protocol v4, written in flowline (no C driver is
 * packaged). Options, the stage's life cycle, and process(): each batch is
 * encoded into one payload of bound values (cassandra_schema.c) and
 * delivered (cassandra_send.c) over the session (cassandra_session.c).
 *
 * Delivery: at-least-once. process() returns only when the server took
 * every row of the batch; while it cannot (no host answers, a write timed
 * out), process() returns -FL_EAGAIN and the runtime offers the same batch
 * again after a backoff, holding the pipeline back. A row may be written
 * twice (a request whose answer was lost is sent again); an INSERT of the
 * same values is an idempotent upsert, so the table ends the same. */
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
    { .name = "reconnect_min", .type = FL_OPT_DURATION,
      .offset = offsetof(struct cass, reconnect_min), .def = "100ms", .min = "1ms",
      .doc = "wait after the first failed round of connection attempts; doubles, with jitter" },
    { .name = "reconnect_max", .type = FL_OPT_DURATION,
      .offset = offsetof(struct cass, reconnect_max), .def = "10s", .min = "1ms",
      .doc = "longest wait between rounds of connection attempts" },
    { .name = "drop_invalid", .type = FL_OPT_BOOL, .offset = offsetof(struct cass, drop_invalid),
      .def = "false",
      .doc = "rows the server refuses as invalid are counted (rows_rejected) and dropped; "
             "by default such a refusal stops the pipeline with the server's message" },
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
    if (s->reconnect_min > s->reconnect_max)
        rc = fl_diag(ctx, "reconnect_min", "is longer than reconnect_max");
    int crc = cass_cols_configure(ctx, s, in, n_in);
    if (crc < 0)
        return crc;
    for (size_t i = 0; i < n_in; i++)
        if (cass_cols_check(ctx, s, in[i]) < 0)
            rc = -FL_EINVAL;
    return rc;
}

static int cass_start(struct fl_ctx *ctx, void *state)
{
    struct cass *s = state;
    s->ctx = ctx;
    s->conn.fd = -1;
    s->conn.bind_cols = s->bind_cols;
    s->conn.result_cols = s->result_cols;
    if (!(s->insert_cql = cass_insert_cql(s)))
        return -FL_ENOMEM;
    /* the first connection now, so a wrong password or table stops the
     * pipeline before any record is read; a server that is down is only
     * a warning (the rows wait) */
    int rc = cass_session_ensure(s);
    return rc == -FL_EAGAIN ? 0 : rc;
}

static void count(struct fl_ctx *ctx, struct cass *s)
{
    static const char *const names[] = {
        "rows_written", "requests", "bytes", "rows_rejected", "retries", "connects",
        "errors_unavailable", "errors_write_timeout", "errors_overloaded", "errors_other",
        "values_out_of_range", "rows_missing_key"
    };
    uint64_t *v[] = { &s->c_rows, &s->c_requests, &s->c_bytes, &s->c_rejected, &s->c_retries,
                      &s->c_reconnects, &s->c_unavailable, &s->c_write_timeout,
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
    uint32_t n = 0, rejected = 0;
    int rc;
    /* the table's types are needed to encode: the first batch waits for
     * the first session */
    if ((rc = cass_session_ensure(s)) < 0)
        goto out;
    if (s->plan.schema != b->schema && (rc = bind_plan(s, b->schema)) < 0)
        goto out;
    s->payload.len = 0;
    for (uint32_t r = 0; r < b->rows; r++) {
        rc = cass_encode_row(s, b, r);
        if (rc < 0)
            goto out;
        n += rc == 0;
    }
    switch (cass_send_rows(s, s->payload.p, s->payload.len, n, &rejected)) {
    case CASS_OK:
        rc = 0;
        break;
    case CASS_REJECT:
        s->c_rejected += rejected;
        rc = 0;
        break;
    case CASS_RETRY:
        rc = -FL_EAGAIN;
        break;
    case CASS_FATAL:
        rc = s->fatal ? s->fatal : -FL_EIO;
        break;
    }
out:
    count(ctx, s);
    return rc;
}

static int cass_drain(struct fl_ctx *ctx, void *state)
{
    count(ctx, state);
    return 0;
}

static void cass_fini(struct fl_ctx *ctx, void *state)
{
    struct cass *s = state;
    (void)ctx;
    cql_conn_free(&s->conn);
    cql_wr_free(&s->payload);
    free(s->insert_cql);
    free(s->row_off);
    free(s->stream_chunk);
    free(s->chunk_state);
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
    .drain = cass_drain,
    .fini = cass_fini,
);
