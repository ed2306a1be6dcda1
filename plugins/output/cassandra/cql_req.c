/* cql_req.c: the CQL v4 requests output.cassandra sends (spec §4.1), each
 * one whole frame with header flags 0 (no compression, no tracing, no
 * custom payload). Query flags carry only what is used: values on EXECUTE,
 * nothing on QUERY and BATCH; no paging (inserts return nothing), no
 * client timestamps (the coordinator's), no skip_metadata (an INSERT has
 * no result metadata to skip). */
#include <string.h>
#include "cql.h"

#define CQL_QFLAG_VALUES 0x01u

void cql_req_startup(struct cql_wr *w, int16_t stream)
{
    size_t f = cql_wr_frame_begin(w, CQL_OP_STARTUP, stream);
    cql_wr_u16(w, 1);                       /* [string map] of one entry */
    cql_wr_string(w, "CQL_VERSION", 11);
    cql_wr_string(w, "3.0.0", 5);
    cql_wr_frame_end(w, f);
}

void cql_req_options(struct cql_wr *w, int16_t stream)
{
    size_t f = cql_wr_frame_begin(w, CQL_OP_OPTIONS, stream);
    cql_wr_frame_end(w, f);
}

void cql_req_auth_plain(struct cql_wr *w, int16_t stream, const char *user, const char *pass)
{
    size_t nu = strlen(user), np = strlen(pass);
    size_t f = cql_wr_frame_begin(w, CQL_OP_AUTH_RESPONSE, stream);
    cql_wr_i32(w, (int32_t)(nu + np + 2));  /* [bytes]: the SASL PLAIN token */
    cql_wr_u8(w, 0);
    cql_wr_raw(w, user, nu);
    cql_wr_u8(w, 0);
    cql_wr_raw(w, pass, np);
    cql_wr_frame_end(w, f);
}

void cql_req_query(struct cql_wr *w, int16_t stream, const char *cql, uint16_t consistency)
{
    size_t f = cql_wr_frame_begin(w, CQL_OP_QUERY, stream);
    cql_wr_long_string(w, cql, strlen(cql));
    cql_wr_u16(w, consistency);
    cql_wr_u8(w, 0);                        /* flags: no values, no paging */
    cql_wr_frame_end(w, f);
}

void cql_req_prepare(struct cql_wr *w, int16_t stream, const char *cql)
{
    size_t f = cql_wr_frame_begin(w, CQL_OP_PREPARE, stream);
    cql_wr_long_string(w, cql, strlen(cql));
    cql_wr_frame_end(w, f);
}

size_t cql_req_execute_begin(struct cql_wr *w, int16_t stream, struct cql_slice id,
                             uint16_t consistency, uint16_t nvalues)
{
    size_t f = cql_wr_frame_begin(w, CQL_OP_EXECUTE, stream);
    cql_wr_short_bytes(w, id.p, id.len);
    cql_wr_u16(w, consistency);
    cql_wr_u8(w, CQL_QFLAG_VALUES);
    cql_wr_u16(w, nvalues);
    return f;
}

void cql_req_execute_end(struct cql_wr *w, size_t frame_off)
{
    cql_wr_frame_end(w, frame_off);
}

size_t cql_req_batch_begin(struct cql_wr *w, int16_t stream, uint8_t type, uint16_t nstmts)
{
    size_t f = cql_wr_frame_begin(w, CQL_OP_BATCH, stream);
    cql_wr_u8(w, type);
    cql_wr_u16(w, nstmts);
    return f;
}

void cql_req_batch_stmt(struct cql_wr *w, struct cql_slice id, uint16_t nvalues)
{
    cql_wr_u8(w, 1);                        /* kind 1: a prepared statement id */
    cql_wr_short_bytes(w, id.p, id.len);
    cql_wr_u16(w, nvalues);
}

void cql_req_batch_end(struct cql_wr *w, size_t frame_off, uint16_t consistency)
{
    cql_wr_u16(w, consistency);
    cql_wr_u8(w, 0);                        /* flags: no serial consistency, timestamp */
    cql_wr_frame_end(w, frame_off);
}
