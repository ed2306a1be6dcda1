/* cql_build.h: CQL v4 response frames as a server writes them, built from
 * the spec's notation (native_protocol_v4.spec §4.2, §9) with the codec's
 * own writer, for the unit test (test_cql.c) and the fuzz target's seeds
 * (tests/fuzz/fuzz_cql.c). Each cql_build_* appends one whole frame. */
#ifndef FL_CQL_BUILD_H
#define FL_CQL_BUILD_H

#include <string.h>
#include "cql.h"

static inline size_t cqlb_begin(struct cql_wr *w, uint8_t opcode, int16_t stream, uint8_t flags)
{
    size_t f = cql_wr_frame_begin(w, opcode, stream);
    if (!w->err) {
        w->p[f] = CQL_VERSION_RESP;
        w->p[f + 1] = flags;
    }
    return f;
}

static inline void cqlb_str(struct cql_wr *w, const char *s)
{
    cql_wr_string(w, s, strlen(s));
}

static inline void cql_build_ready(struct cql_wr *w, int16_t stream)
{
    size_t f = cqlb_begin(w, CQL_OP_READY, stream, 0);
    cql_wr_frame_end(w, f);
}

static inline void cql_build_authenticate(struct cql_wr *w, int16_t stream)
{
    size_t f = cqlb_begin(w, CQL_OP_AUTHENTICATE, stream, 0);
    cqlb_str(w, "org.apache.cassandra.auth.PasswordAuthenticator");
    cql_wr_frame_end(w, f);
}

static inline void cql_build_auth_success(struct cql_wr *w, int16_t stream, bool null_token)
{
    size_t f = cqlb_begin(w, CQL_OP_AUTH_SUCCESS, stream, 0);
    if (null_token)
        cql_wr_null(w);
    else
        cql_wr_bytes(w, "tok", 3);
    cql_wr_frame_end(w, f);
}

static inline void cql_build_supported(struct cql_wr *w, int16_t stream)
{
    size_t f = cqlb_begin(w, CQL_OP_SUPPORTED, stream, 0);
    cql_wr_u16(w, 2);
    cqlb_str(w, "COMPRESSION");
    cql_wr_u16(w, 2);
    cqlb_str(w, "snappy");
    cqlb_str(w, "lz4");
    cqlb_str(w, "CQL_VERSION");
    cql_wr_u16(w, 1);
    cqlb_str(w, "3.4.5");
    cql_wr_frame_end(w, f);
}

/* An ERROR with the body its code has (§9). */
static inline void cql_build_error(struct cql_wr *w, int16_t stream, int32_t code, const char *msg)
{
    size_t f = cqlb_begin(w, CQL_OP_ERROR, stream, 0);
    cql_wr_i32(w, code);
    cqlb_str(w, msg);
    switch (code) {
    case CQL_E_UNAVAILABLE:
        cql_wr_u16(w, CQL_QUORUM);
        cql_wr_i32(w, 2);
        cql_wr_i32(w, 1);
        break;
    case CQL_E_WRITE_TIMEOUT:
        cql_wr_u16(w, CQL_ONE);
        cql_wr_i32(w, 0);
        cql_wr_i32(w, 1);
        cqlb_str(w, "BATCH_LOG");
        break;
    case CQL_E_READ_TIMEOUT:
        cql_wr_u16(w, CQL_ALL);
        cql_wr_i32(w, 1);
        cql_wr_i32(w, 3);
        cql_wr_u8(w, 1);
        break;
    case CQL_E_READ_FAILURE:
        cql_wr_u16(w, CQL_ALL);
        cql_wr_i32(w, 1);
        cql_wr_i32(w, 3);
        cql_wr_i32(w, 2);
        cql_wr_u8(w, 0);
        break;
    case CQL_E_WRITE_FAILURE:
        cql_wr_u16(w, CQL_LOCAL_QUORUM);
        cql_wr_i32(w, 1);
        cql_wr_i32(w, 2);
        cql_wr_i32(w, 1);
        cqlb_str(w, "SIMPLE");
        break;
    case CQL_E_FUNCTION_FAILURE:
        cqlb_str(w, "ks");
        cqlb_str(w, "fn");
        cql_wr_u16(w, 2);
        cqlb_str(w, "int");
        cqlb_str(w, "text");
        break;
    case CQL_E_ALREADY_EXISTS:
        cqlb_str(w, "flows");
        cqlb_str(w, "t");
        break;
    case CQL_E_UNPREPARED:
        cql_wr_short_bytes(w, "0123456789abcdef", 16);
        break;
    }
    cql_wr_frame_end(w, f);
}

static inline void cql_build_void(struct cql_wr *w, int16_t stream, uint8_t flags)
{
    size_t f = cqlb_begin(w, CQL_OP_RESULT, stream, flags);
    if (flags & CQL_FLAG_TRACING)
        cql_wr_raw(w, "0123456789abcdef", 16);
    if (flags & CQL_FLAG_WARNING) {
        cql_wr_u16(w, 1);
        cqlb_str(w, "Batch for [flows.t] is of size 6.2KiB, exceeding specified threshold");
    }
    if (flags & CQL_FLAG_CUSTOM_PAYLOAD) {
        cql_wr_u16(w, 1);
        cqlb_str(w, "k");
        cql_wr_bytes(w, "v", 1);
    }
    cql_wr_i32(w, CQL_RESULT_VOID);
    cql_wr_frame_end(w, f);
}

static inline void cql_build_set_keyspace(struct cql_wr *w, int16_t stream)
{
    size_t f = cqlb_begin(w, CQL_OP_RESULT, stream, 0);
    cql_wr_i32(w, CQL_RESULT_SET_KEYSPACE);
    cqlb_str(w, "flows");
    cql_wr_frame_end(w, f);
}

static inline void cql_build_schema_change(struct cql_wr *w, int16_t stream, const char *target)
{
    size_t f = cqlb_begin(w, CQL_OP_RESULT, stream, 0);
    cql_wr_i32(w, CQL_RESULT_SCHEMA_CHANGE);
    cqlb_str(w, "CREATED");
    cqlb_str(w, target);
    cqlb_str(w, "flows");
    if (strcmp(target, "KEYSPACE") != 0)
        cqlb_str(w, "flowfeaturess");
    if (strcmp(target, "FUNCTION") == 0 || strcmp(target, "AGGREGATE") == 0) {
        cql_wr_u16(w, 1);
        cqlb_str(w, "int");
    }
    cql_wr_frame_end(w, f);
}

/* Prepared INSERT of (srcaddr text, dstaddr text, srcp int, size double),
 * partition key (srcaddr, dstaddr), global table spec; no result metadata. */
static inline void cql_build_prepared(struct cql_wr *w, int16_t stream)
{
    static const char *const names[] = { "srcaddr", "dstaddr", "srcp", "size" };
    static const uint16_t types[] = { CQL_T_VARCHAR, CQL_T_VARCHAR, CQL_T_INT, CQL_T_DOUBLE };
    size_t f = cqlb_begin(w, CQL_OP_RESULT, stream, 0);
    cql_wr_i32(w, CQL_RESULT_PREPARED);
    cql_wr_short_bytes(w, "\x8f\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 16);
    cql_wr_i32(w, 1);
    cql_wr_i32(w, 4);
    cql_wr_i32(w, 2);
    cql_wr_u16(w, 0);
    cql_wr_u16(w, 1);
    cqlb_str(w, "flows");
    cqlb_str(w, "flowfeaturess");
    for (int i = 0; i < 4; i++) {
        cqlb_str(w, names[i]);
        cql_wr_u16(w, types[i]);
    }
    cql_wr_i32(w, 4);
    cql_wr_i32(w, 0);
    cql_wr_frame_end(w, f);
}

/* Rows of (k int, m map<text, list<int>>, u frozen udt, t tuple<int, blob>,
 * c custom), per-column table specs, 2 rows, a paging state. */
static inline void cql_build_rows(struct cql_wr *w, int16_t stream)
{
    size_t f = cqlb_begin(w, CQL_OP_RESULT, stream, 0);
    cql_wr_i32(w, CQL_RESULT_ROWS);
    cql_wr_i32(w, 0x0002);
    cql_wr_i32(w, 5);
    cql_wr_bytes(w, "page", 4);
    const char *cols[] = { "k", "m", "u", "t", "c" };
    for (int i = 0; i < 5; i++) {
        cqlb_str(w, "ks");
        cqlb_str(w, "tb");
        cqlb_str(w, cols[i]);
        switch (i) {
        case 0:
            cql_wr_u16(w, CQL_T_INT);
            break;
        case 1:
            cql_wr_u16(w, CQL_T_MAP);
            cql_wr_u16(w, CQL_T_VARCHAR);
            cql_wr_u16(w, CQL_T_LIST);
            cql_wr_u16(w, CQL_T_INT);
            break;
        case 2:
            cql_wr_u16(w, CQL_T_UDT);
            cqlb_str(w, "ks");
            cqlb_str(w, "addr");
            cql_wr_u16(w, 2);
            cqlb_str(w, "ip");
            cql_wr_u16(w, CQL_T_INET);
            cqlb_str(w, "port");
            cql_wr_u16(w, CQL_T_SMALLINT);
            break;
        case 3:
            cql_wr_u16(w, CQL_T_TUPLE);
            cql_wr_u16(w, 2);
            cql_wr_u16(w, CQL_T_INT);
            cql_wr_u16(w, CQL_T_BLOB);
            break;
        case 4:
            cql_wr_u16(w, CQL_T_CUSTOM);
            cqlb_str(w, "org.apache.cassandra.db.marshal.DurationType");
            break;
        }
    }
    cql_wr_i32(w, 2);
    for (int r = 0; r < 2; r++) {
        cql_wr_bytes(w, "\0\0\0\x07", 4);
        cql_wr_null(w);
        cql_wr_bytes(w, "udt", 3);
        cql_wr_bytes(w, "", 0);
        cql_wr_bytes(w, "\x02\x04\x06", 3);
    }
    cql_wr_frame_end(w, f);
}

static inline void cql_build_event(struct cql_wr *w, int which)
{
    size_t f = cqlb_begin(w, CQL_OP_EVENT, -1, 0);
    if (which == 0) {
        cqlb_str(w, "STATUS_CHANGE");
        cqlb_str(w, "DOWN");
        cql_wr_u8(w, 4);
        cql_wr_raw(w, "\x7f\0\0\x01", 4);
        cql_wr_i32(w, 9042);
    } else {
        cqlb_str(w, "SCHEMA_CHANGE");
        cqlb_str(w, "DROPPED");
        cqlb_str(w, "TABLE");
        cqlb_str(w, "flows");
        cqlb_str(w, "t");
    }
    cql_wr_frame_end(w, f);
}

/* Every kind above, each on its own stream id: a whole valid session. */
static inline void cql_build_all(struct cql_wr *w)
{
    static const int32_t codes[] = {
        CQL_E_SERVER, CQL_E_PROTOCOL, CQL_E_AUTH, CQL_E_UNAVAILABLE, CQL_E_OVERLOADED,
        CQL_E_BOOTSTRAPPING, CQL_E_TRUNCATE, CQL_E_WRITE_TIMEOUT, CQL_E_READ_TIMEOUT,
        CQL_E_READ_FAILURE, CQL_E_FUNCTION_FAILURE, CQL_E_WRITE_FAILURE, CQL_E_SYNTAX,
        CQL_E_UNAUTHORIZED, CQL_E_INVALID, CQL_E_CONFIG, CQL_E_ALREADY_EXISTS, CQL_E_UNPREPARED
    };
    int16_t s = 0;
    cql_build_ready(w, s++);
    cql_build_authenticate(w, s++);
    cql_build_auth_success(w, s++, true);
    cql_build_auth_success(w, s++, false);
    cql_build_supported(w, s++);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cql_build_error(w, s++, codes[i], "message");
    cql_build_void(w, s++, 0);
    cql_build_void(w, s++, CQL_FLAG_TRACING | CQL_FLAG_WARNING | CQL_FLAG_CUSTOM_PAYLOAD);
    cql_build_set_keyspace(w, s++);
    cql_build_schema_change(w, s++, "KEYSPACE");
    cql_build_schema_change(w, s++, "TABLE");
    cql_build_schema_change(w, s++, "FUNCTION");
    cql_build_prepared(w, s++);
    cql_build_rows(w, s++);
    cql_build_event(w, 0);
    cql_build_event(w, 1);
}

#endif
