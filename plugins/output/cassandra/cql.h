/* cql.h: the CQL native protocol, version 4, as output.cassandra speaks it
 * (Apache Cassandra's native_protocol_v4.spec). Four parts, one file each:
 *
 *  - cql_frame.c: frame headers, and the primitive notations ([short],
 *    [int], [string], [long string], [bytes], [value], [string map]) written
 *    into a growable buffer and read back from a bounded one;
 *  - cql_resp.c: the response decoder (ERROR with each code's body, READY,
 *    AUTHENTICATE, AUTH_CHALLENGE, AUTH_SUCCESS, SUPPORTED, RESULT of every
 *    kind, EVENT);
 *  - cql_req.c: the requests flowline sends (STARTUP, AUTH_RESPONSE, QUERY,
 *    PREPARE, EXECUTE, BATCH, OPTIONS);
 *  - cql_value.c: CQL type names and codes, and a flowline cell as the
 *    [value] of a column of a given CQL type.
 *
 * Nothing here does I/O or logs: the decoder reads only the bytes it is
 * given (every length checked against what is left), and everything it
 * returns points into them. Not part of the plugin ABI. */
#ifndef FL_CQL_H
#define FL_CQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <flowline/error.h>
#include <flowline/record.h>

#define CQL_VERSION_REQ 0x04u      /* request frames of protocol v4 */
#define CQL_VERSION_RESP 0x84u     /* response frames: direction bit set */
#define CQL_HDR_LEN 9u
#define CQL_MAX_BODY (256u << 20)  /* the spec's limit on a frame body */
#define CQL_MAX_STREAMS 32768u     /* stream ids 0..32767 (negative: server events) */
#define CQL_MAX_COLS 1024u         /* columns a decoded metadata block may hold */
#define CQL_MAX_TYPE_DEPTH 16      /* nested collection/tuple/UDT types */

/* Header flags (spec §2.2). */
#define CQL_FLAG_COMPRESSION 0x01u
#define CQL_FLAG_TRACING 0x02u
#define CQL_FLAG_CUSTOM_PAYLOAD 0x04u
#define CQL_FLAG_WARNING 0x08u

enum cql_opcode {
    CQL_OP_ERROR = 0x00, CQL_OP_STARTUP = 0x01, CQL_OP_READY = 0x02,
    CQL_OP_AUTHENTICATE = 0x03, CQL_OP_OPTIONS = 0x05, CQL_OP_SUPPORTED = 0x06,
    CQL_OP_QUERY = 0x07, CQL_OP_RESULT = 0x08, CQL_OP_PREPARE = 0x09,
    CQL_OP_EXECUTE = 0x0A, CQL_OP_REGISTER = 0x0B, CQL_OP_EVENT = 0x0C,
    CQL_OP_BATCH = 0x0D, CQL_OP_AUTH_CHALLENGE = 0x0E, CQL_OP_AUTH_RESPONSE = 0x0F,
    CQL_OP_AUTH_SUCCESS = 0x10
};

/* Consistency levels (spec §3). */
enum cql_consistency {
    CQL_ANY = 0x0000, CQL_ONE = 0x0001, CQL_TWO = 0x0002, CQL_THREE = 0x0003,
    CQL_QUORUM = 0x0004, CQL_ALL = 0x0005, CQL_LOCAL_QUORUM = 0x0006,
    CQL_EACH_QUORUM = 0x0007, CQL_SERIAL = 0x0008, CQL_LOCAL_SERIAL = 0x0009,
    CQL_LOCAL_ONE = 0x000A
};

/* Error codes (spec §9). */
enum cql_error_code {
    CQL_E_SERVER = 0x0000, CQL_E_PROTOCOL = 0x000A, CQL_E_AUTH = 0x0100,
    CQL_E_UNAVAILABLE = 0x1000, CQL_E_OVERLOADED = 0x1001, CQL_E_BOOTSTRAPPING = 0x1002,
    CQL_E_TRUNCATE = 0x1003, CQL_E_WRITE_TIMEOUT = 0x1100, CQL_E_READ_TIMEOUT = 0x1200,
    CQL_E_READ_FAILURE = 0x1300, CQL_E_FUNCTION_FAILURE = 0x1400,
    CQL_E_WRITE_FAILURE = 0x1500, CQL_E_SYNTAX = 0x2000, CQL_E_UNAUTHORIZED = 0x2100,
    CQL_E_INVALID = 0x2200, CQL_E_CONFIG = 0x2300, CQL_E_ALREADY_EXISTS = 0x2400,
    CQL_E_UNPREPARED = 0x2500
};

/* RESULT kinds (spec §4.2.5). */
enum cql_result_kind {
    CQL_RESULT_VOID = 1, CQL_RESULT_ROWS = 2, CQL_RESULT_SET_KEYSPACE = 3,
    CQL_RESULT_PREPARED = 4, CQL_RESULT_SCHEMA_CHANGE = 5
};

/* Data type option ids (spec §4.2.5.2). "text" is varchar in v4. */
enum cql_type {
    CQL_T_CUSTOM = 0x0000, CQL_T_ASCII = 0x0001, CQL_T_BIGINT = 0x0002,
    CQL_T_BLOB = 0x0003, CQL_T_BOOLEAN = 0x0004, CQL_T_COUNTER = 0x0005,
    CQL_T_DECIMAL = 0x0006, CQL_T_DOUBLE = 0x0007, CQL_T_FLOAT = 0x0008,
    CQL_T_INT = 0x0009, CQL_T_TIMESTAMP = 0x000B, CQL_T_UUID = 0x000C,
    CQL_T_VARCHAR = 0x000D, CQL_T_VARINT = 0x000E, CQL_T_TIMEUUID = 0x000F,
    CQL_T_INET = 0x0010, CQL_T_DATE = 0x0011, CQL_T_TIME = 0x0012,
    CQL_T_SMALLINT = 0x0013, CQL_T_TINYINT = 0x0014, CQL_T_LIST = 0x0020,
    CQL_T_MAP = 0x0021, CQL_T_SET = 0x0022, CQL_T_UDT = 0x0030, CQL_T_TUPLE = 0x0031
};

/* ---- frames ------------------------------------------------------------ */
struct cql_hdr {
    uint8_t version, flags;
    int16_t stream;
    uint8_t opcode;
    uint32_t length;     /* of the body that follows the 9 header bytes */
};

/* Decode a response header from p[0..n). 0; -FL_EAGAIN when n < 9 (read
 * more); -FL_EPROTO for a version other than v4's response, or a body
 * longer than CQL_MAX_BODY. */
int cql_hdr_decode(const uint8_t *p, size_t n, struct cql_hdr *h);

/* A growable output buffer; zero-initialise. Writers never fail one by
 * one: the first allocation failure sets err (-FL_ENOMEM), later writes
 * do nothing, and the caller checks err once per frame. */
struct cql_wr {
    uint8_t *p;
    size_t len, cap;
    int err;
};
void cql_wr_free(struct cql_wr *w);
int cql_wr_grow(struct cql_wr *w, size_t n);
/* Room for n more bytes; 0 or w->err. Inline: called per value. */
static inline int cql_wr_reserve(struct cql_wr *w, size_t n)
{
    if (!w->err && w->cap - w->len >= n)
        return 0;
    return cql_wr_grow(w, n);
}
static inline void cql_wr_raw(struct cql_wr *w, const void *s, size_t n)
{
    if (cql_wr_reserve(w, n) < 0)
        return;
    if (n)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}
void cql_wr_u8(struct cql_wr *w, uint8_t v);
void cql_wr_u16(struct cql_wr *w, uint16_t v);
static inline void cql_wr_i32(struct cql_wr *w, int32_t v)
{
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u };
    cql_wr_raw(w, b, 4);
}
void cql_wr_i64(struct cql_wr *w, int64_t v);
void cql_wr_string(struct cql_wr *w, const char *s, size_t n);       /* [string] */
void cql_wr_long_string(struct cql_wr *w, const char *s, size_t n);  /* [long string] */
void cql_wr_short_bytes(struct cql_wr *w, const void *s, size_t n);  /* [short bytes] */
void cql_wr_bytes(struct cql_wr *w, const void *s, size_t n);        /* [bytes]/[value] */
void cql_wr_null(struct cql_wr *w);                                  /* [value] null (-1) */
/* Start a request frame at the end of w; returns its offset for
 * cql_wr_frame_end(), which fills in the body length. */
size_t cql_wr_frame_begin(struct cql_wr *w, uint8_t opcode, int16_t stream);
void cql_wr_frame_end(struct cql_wr *w, size_t frame_off);

/* A bounded reader. Every read checks what is left; a read past the end
 * returns -FL_EPROTO and leaves the reader where it was. */
struct cql_rd {
    const uint8_t *p;
    size_t len, off;
};
/* A slice of the input: text or bytes, not NUL-terminated. null: the
 * [bytes] had a negative length. */
struct cql_slice {
    const uint8_t *p;
    uint32_t len;
    bool null;
};
int cql_rd_u8(struct cql_rd *r, uint8_t *v);
int cql_rd_u16(struct cql_rd *r, uint16_t *v);
int cql_rd_i32(struct cql_rd *r, int32_t *v);
int cql_rd_i64(struct cql_rd *r, int64_t *v);
int cql_rd_skip(struct cql_rd *r, size_t n);
int cql_rd_string(struct cql_rd *r, struct cql_slice *s);       /* [string] */
int cql_rd_long_string(struct cql_rd *r, struct cql_slice *s);  /* [long string] */
int cql_rd_short_bytes(struct cql_rd *r, struct cql_slice *s);  /* [short bytes] */
int cql_rd_bytes(struct cql_rd *r, struct cql_slice *s);        /* [bytes], may be null */
int cql_rd_inet(struct cql_rd *r, uint8_t addr[16], uint8_t *addr_len, int32_t *port);
int cql_rd_string_list(struct cql_rd *r, uint16_t *n);           /* skipped, count kept */

/* ---- responses ---------------------------------------------------------- */
/* One column of a metadata block (prepared bind variables, result rows). */
struct cql_col {
    struct cql_slice ks, table, name;
    uint16_t type;          /* top-level type id; collections' element types skipped */
};

struct cql_error {
    int32_t code;
    struct cql_slice message;
    uint16_t consistency;               /* unavailable, timeouts, failures */
    int32_t required, alive;            /* unavailable */
    int32_t received, blockfor;         /* timeouts, failures */
    int32_t numfailures;                /* read/write failure */
    struct cql_slice write_type;        /* write timeout/failure: SIMPLE, BATCH, ... */
    uint8_t data_present;               /* read timeout/failure */
    struct cql_slice keyspace, table;   /* already exists (table empty: a keyspace) */
    struct cql_slice function;          /* function failure: keyspace in keyspace */
    uint16_t n_arg_types;
    struct cql_slice unprepared_id;     /* unprepared */
};

struct cql_meta {
    int32_t flags, ncols;
    struct cql_slice paging_state;      /* flag 0x0002 */
    bool no_metadata;                   /* flag 0x0004: ncols given, no columns */
    struct cql_col *cols;               /* caller's array, at least min(ncols, CQL_MAX_COLS) */
};

struct cql_resp {
    struct cql_hdr h;
    struct cql_slice tracing_id;        /* flag 0x02: 16 bytes */
    uint16_t n_warnings;                /* flag 0x08: the warnings (skipped) */
    struct cql_slice warning0;          /* the first of them, for the log */
    struct cql_error error;             /* ERROR */
    struct cql_slice authenticator;     /* AUTHENTICATE */
    struct cql_slice token;             /* AUTH_CHALLENGE, AUTH_SUCCESS (may be null) */
    uint16_t n_options;                 /* SUPPORTED: keys of the multimap */
    struct cql_slice cql_version;       /* SUPPORTED: the first CQL_VERSION value */
    int32_t kind;                       /* RESULT */
    struct cql_slice keyspace;          /* RESULT Set_keyspace */
    struct cql_slice change_type, target, sc_keyspace, sc_name;  /* Schema_change, EVENT */
    uint16_t n_sc_args;
    struct cql_slice prepared_id;       /* RESULT Prepared */
    struct cql_meta bind;               /* RESULT Prepared: the bind variables */
    uint16_t pk[CQL_MAX_COLS];          /* ... and which of them are the partition key */
    int32_t n_pk;
    struct cql_meta result;             /* RESULT Prepared and Rows: result columns */
    int32_t nrows;                      /* RESULT Rows */
    struct cql_slice rows;              /* RESULT Rows: the row content, every value checked */
    struct cql_slice event_type;        /* EVENT */
};

/* Decode one response frame: h (already decoded from the frame's first 9
 * bytes) and its body. bind_cols/result_cols: caller arrays of
 * CQL_MAX_COLS entries, or NULL to only validate. 0 or -FL_EPROTO (a
 * malformed or truncated body, an unknown opcode or result kind, a
 * compressed frame, trailing bytes) or -FL_ERANGE (more columns than
 * CQL_MAX_COLS). */
int cql_resp_decode(const struct cql_hdr *h, const uint8_t *body, struct cql_col *bind_cols,
                    struct cql_col *result_cols, struct cql_resp *out);

/* Error code name as the spec spells it ("Unavailable", "Write_timeout"),
 * "Unknown" for others. */
const char *cql_error_name(int32_t code);
/* Errors a later attempt may cure (the replicas or the coordinator were
 * busy): Unavailable, Overloaded, Is_bootstrapping, Truncate, Write_timeout,
 * Write_failure, Server error, Read timeout/failure. Not: syntax, invalid,
 * unauthorized, config, auth, protocol, already exists (the request itself
 * is wrong), nor unprepared (prepare again, then resend). */
bool cql_error_retryable(int32_t code);
const char *cql_consistency_name(uint16_t cl);
/* By name, case-insensitive ("local_quorum"); -FL_EINVAL if unknown. */
int cql_consistency_from_name(const char *name);

/* ---- requests ----------------------------------------------------------- */
/* Each appends one complete frame to w (check w->err). */
void cql_req_startup(struct cql_wr *w, int16_t stream);            /* CQL_VERSION 3.0.0 */
void cql_req_options(struct cql_wr *w, int16_t stream);
/* SASL PLAIN (RFC 4616): "\0user\0password". */
void cql_req_auth_plain(struct cql_wr *w, int16_t stream, const char *user, const char *pass);
void cql_req_query(struct cql_wr *w, int16_t stream, const char *cql, uint16_t consistency);
void cql_req_prepare(struct cql_wr *w, int16_t stream, const char *cql);

/* EXECUTE and BATCH carry bound values that the caller writes between
 * begin and end: for EXECUTE, n [value]s after cql_req_execute_begin; for
 * BATCH, per statement cql_req_batch_stmt() then its n [value]s. */
size_t cql_req_execute_begin(struct cql_wr *w, int16_t stream, struct cql_slice id,
                             uint16_t consistency, uint16_t nvalues);
void cql_req_execute_end(struct cql_wr *w, size_t frame_off);
size_t cql_req_batch_begin(struct cql_wr *w, int16_t stream, uint8_t type, uint16_t nstmts);
void cql_req_batch_stmt(struct cql_wr *w, struct cql_slice id, uint16_t nvalues);
void cql_req_batch_end(struct cql_wr *w, size_t frame_off, uint16_t consistency);
#define CQL_BATCH_LOGGED 0
#define CQL_BATCH_UNLOGGED 1

/* ---- values -------------------------------------------------------------- */
/* A CQL type by name as CREATE TABLE spells it (text, varchar, ascii,
 * int, bigint, smallint, tinyint, varint, double, float, decimal,
 * boolean, timestamp, date, time, inet, blob, counter, uuid, timeuuid),
 * case-insensitive; -FL_EINVAL for others (collections included). */
int cql_type_from_name(const char *name, uint16_t *code);
/* Its name in CREATE TABLE ("text" for varchar); "?" for unknown ids. */
const char *cql_type_name(uint16_t code);
/* The CQL type flowline would pick for a column of type t when the user
 * names none (CREATE TABLE from the input schema). */
uint16_t cql_type_default(enum fl_type t);

/* How integer CQL columns take ts and dur cells (time_unit option). */
enum cql_time_unit { CQL_UNIT_S = 0, CQL_UNIT_MS, CQL_UNIT_US, CQL_UNIT_NS };

/* Can a flowline column of type t be written into a CQL column of type
 * code? NULL if so, else why not (for a diagnostic). */
const char *cql_conv_why_not(enum fl_type t, uint16_t code);

/* Write one cell (cell points at its bytes in the column; str/bytes
 * cells are spans into b's arena) as the [value] of a column of type
 * code. 0; -FL_ERANGE when the value does not fit the column (a null
 * was written instead); -FL_ETYPE when the types do not convert (a null
 * was written). */
int cql_value_put(struct cql_wr *w, uint16_t code, enum fl_type t, const void *cell,
                  const struct fl_batch *b, enum cql_time_unit unit);
/* The same for a pairing already checked with cql_conv_why_not (the hot
 * path: once per column per schema, not per value). */
int cql_value_enc(struct cql_wr *w, uint16_t code, enum fl_type t, const void *cell,
                  const struct fl_batch *b, enum cql_time_unit unit);

#endif
