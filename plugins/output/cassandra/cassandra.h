/* cassandra.h: output.cassandra's state, shared by its files:
 *   cassandra.c          options, life cycle, process/drain;
 *   cassandra_schema.c   the column plan (columns:, primary_key:), the
 *                        CREATE and INSERT statements, encoding of rows;
 *   cassandra_session.c  connection, STARTUP, auth, CREATE, PREPARE,
 *                        failover between hosts, reconnect backoff;
 *   cassandra_send.c     sending encoded rows as EXECUTE or unlogged BATCH
 *                        requests, several in flight, and what the
 *                        server's answers mean for delivery. */
#ifndef FL_CASSANDRA_H
#define FL_CASSANDRA_H

#include <flowline/deliver.h>
#include <flowline/plugin.h>
#include "cql.h"
#include "cql_conn.h"

#define CASS_MAX_COLS 256

/* One column of the table that flowline writes. */
#define CASS_NAME_MAX 128   /* bytes of a column or field name, NUL included */

/* Names are held in place, not allocated: describe() fills them, and
 * `flowline check` runs describe() without fini(). */
struct cass_col {
    char name[CASS_NAME_MAX];   /* the table's column */
    char field[CASS_NAME_MAX];  /* the flowline field it takes */
    uint16_t type;          /* CQL type: configured, default, or the table's */
    bool type_known;        /* from columns: / the input schema, or the server */
    bool key;               /* part of the primary key */
};

/* Where each column's cells are in batches of one schema. */
struct cass_plan {
    const struct fl_schema *schema;
    int col[CASS_MAX_COLS];         /* -1: the schema lacks the field */
    enum fl_type ftype[CASS_MAX_COLS];
    size_t fsize[CASS_MAX_COLS];    /* bytes per cell */
};

enum cass_send_result { CASS_OK = 0, CASS_RETRY, CASS_REJECT, CASS_FATAL };

struct cass {
    /* options */
    struct fl_strlist hosts;
    char *keyspace, *table, *user, *password, *replication, *primary_key;
    struct fl_strmap columns;
    int consistency;                /* index = CQL consistency code */
    bool create, drop_invalid;
    uint64_t batch_rows, in_flight, connect_timeout, request_timeout;
    int time_unit;
    struct fl_deliver_opts dl;      /* batching, retry, spool: the delivery layer */
    struct fl_deliver *d;
    /* the table */
    struct cass_col cols[CASS_MAX_COLS];
    size_t ncols;
    bool cols_from_schema;          /* no columns: every input field */
    bool types_given;               /* columns: gave every type: encode before the server answers */
    struct cass_plan plan;
    char *insert_cql;
    /* the session */
    struct fl_ctx *ctx;
    struct cql_conn conn;
    struct cql_col bind_cols[CQL_MAX_COLS], result_cols[CQL_MAX_COLS];
    struct cql_resp resp;
    size_t host_i;                  /* the host connected to, or tried next */
    bool ready;                     /* connected, started, prepared */
    bool created;                   /* CREATE statements went through once */
    bool prepared_once;             /* the table's column types are known */
    uint8_t prepared_id[256];
    uint16_t prepared_len;
    uint64_t next_connect_ns;       /* monotonic: no attempt before */
    uint64_t backoff_ns;
    int fatal;                      /* a non-retryable session error: the stage fails */
    /* sending */
    size_t *row_off;                /* row i of the payload at row_off[i] */
    size_t row_cap;
    int32_t *stream_chunk;          /* per stream id: the request (chunk) in flight, -1 free */
    int16_t *free_sids;             /* stream ids not in flight (a stack) */
    /* counters, added per batch */
    /* (records sent, rejected, retried, spooled: the delivery layer's) */
    uint64_t c_rows, c_requests, c_bytes, c_reconnects;
    uint64_t c_unavailable, c_write_timeout, c_overloaded, c_other_errors;
    uint64_t c_out_of_range, c_missing_key;
};

/* cassandra_schema.c */
int cass_cols_configure(struct fl_ctx *ctx, struct cass *s, const struct fl_schema *const *in,
                        size_t n_in);
int cass_cols_check(struct fl_ctx *ctx, struct cass *s, const struct fl_schema *in);
char *cass_create_keyspace_cql(const struct cass *s);
char *cass_create_table_cql(const struct cass *s);
char *cass_insert_cql(const struct cass *s);
void cass_cols_free(struct cass *s);
bool cass_ident_ok(const char *s);
/* Bind the plan to b's schema (once per schema). */
void cass_plan_bind(struct cass *s, const struct fl_schema *schema);
/* Append row r of b to w; 0, 1 (skipped: a key value missing, counted)
 * or -FL_ENOMEM. */
int cass_encode_row(struct cass *s, struct cql_wr *w, const struct fl_batch *b, uint32_t r);

/* cassandra_session.c */
/* Connected, started, (created,) prepared: 0; -FL_EAGAIN not now (retry
 * later, logged); another code: s->fatal is set, the stage fails. gate:
 * after a failed round, try again only once the reconnect backoff has
 * passed (the delivery layer paces its own retries: no gate there). */
int cass_session_ensure(struct cass *s, bool gate);
void cass_session_drop(struct cass *s, const char *why);
void cass_log_error(struct cass *s, const char *what, const struct cql_error *e);

/* cassandra_send.c */
/* Deliver the n rows encoded in buf[0..len). */
enum cass_send_result cass_send_rows(struct cass *s, const uint8_t *buf, size_t len, uint32_t n,
                                     uint32_t *n_rejected);

#endif
