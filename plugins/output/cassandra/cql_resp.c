/* cql_resp.c: the CQL v4 response decoder (native_protocol_v4.spec §4.2,
 * §9): one frame body into a struct cql_resp whose slices point into the
 * body. Every length is checked against what is left; a frame whose body
 * has bytes the message does not account for is malformed too, so a
 * misparse cannot pass silently. Frames flowline never asked for
 * (compressed: it negotiates no compression) are refused. */
#include <string.h>
#include <strings.h>
#include "cql.h"

#define TRY(x) do { if ((rc = (x)) < 0) return rc; } while (0)

/* [option]: a type id and, for parameterised types, their parameters.
 * Only the top-level id is kept; nesting is bounded. */
static int rd_type(struct cql_rd *r, uint16_t *code, int depth)
{
    int rc;
    uint16_t id, n, sub;
    struct cql_slice s;
    if (depth > CQL_MAX_TYPE_DEPTH)
        return -FL_EPROTO;
    TRY(cql_rd_u16(r, &id));
    *code = id;
    switch (id) {
    case CQL_T_CUSTOM:
        return cql_rd_string(r, &s);   /* the Java class name */
    case CQL_T_LIST:
    case CQL_T_SET:
        return rd_type(r, &sub, depth + 1);
    case CQL_T_MAP:
        TRY(rd_type(r, &sub, depth + 1));
        return rd_type(r, &sub, depth + 1);
    case CQL_T_UDT:
        TRY(cql_rd_string(r, &s));     /* keyspace */
        TRY(cql_rd_string(r, &s));     /* type name */
        TRY(cql_rd_u16(r, &n));
        for (uint16_t i = 0; i < n; i++) {
            TRY(cql_rd_string(r, &s));
            TRY(rd_type(r, &sub, depth + 1));
        }
        return 0;
    case CQL_T_TUPLE:
        TRY(cql_rd_u16(r, &n));
        for (uint16_t i = 0; i < n; i++)
            TRY(rd_type(r, &sub, depth + 1));
        return 0;
    default:
        /* a plain type: 0x0001..0x0014 (0x000A, text, is gone since v3) */
        return id >= CQL_T_ASCII && id <= CQL_T_TINYINT && id != 0x000A ? 0 : -FL_EPROTO;
    }
}

/* Column specs after a metadata block's flags and counts (§4.2.5.2). */
static int rd_col_specs(struct cql_rd *r, struct cql_meta *m)
{
    int rc;
    struct cql_slice gks = { 0 }, gtable = { 0 };
    bool global = m->flags & 0x0001;
    if (global) {
        TRY(cql_rd_string(r, &gks));
        TRY(cql_rd_string(r, &gtable));
    }
    for (int32_t i = 0; i < m->ncols; i++) {
        struct cql_col c = { .ks = gks, .table = gtable };
        if (!global) {
            TRY(cql_rd_string(r, &c.ks));
            TRY(cql_rd_string(r, &c.table));
        }
        TRY(cql_rd_string(r, &c.name));
        TRY(rd_type(r, &c.type, 0));
        if (m->cols)
            m->cols[i] = c;
    }
    return 0;
}

/* Rows metadata / Prepared result_metadata: <flags><columns_count>
 * [<paging_state>][<global_table_spec>?<col_spec_i>...]. */
static int rd_result_meta(struct cql_rd *r, struct cql_meta *m)
{
    int rc;
    TRY(cql_rd_i32(r, &m->flags));
    TRY(cql_rd_i32(r, &m->ncols));
    if (m->ncols < 0)
        return -FL_EPROTO;
    if ((uint32_t)m->ncols > CQL_MAX_COLS)
        return -FL_ERANGE;
    if (m->flags & 0x0002)
        TRY(cql_rd_bytes(r, &m->paging_state));
    m->no_metadata = m->flags & 0x0004;
    if (m->no_metadata)
        return 0;
    return rd_col_specs(r, m);
}

static int rd_schema_change(struct cql_rd *r, struct cql_resp *o)
{
    int rc;
    TRY(cql_rd_string(r, &o->change_type));
    TRY(cql_rd_string(r, &o->target));
    TRY(cql_rd_string(r, &o->sc_keyspace));
    const struct cql_slice *t = &o->target;
#define IS(s) (t->len == sizeof(s) - 1 && memcmp(t->p, s, sizeof(s) - 1) == 0)
    if (IS("KEYSPACE"))
        return 0;
    if (IS("TABLE") || IS("TYPE"))
        return cql_rd_string(r, &o->sc_name);
    if (IS("FUNCTION") || IS("AGGREGATE")) {
        TRY(cql_rd_string(r, &o->sc_name));
        return cql_rd_string_list(r, &o->n_sc_args);
    }
#undef IS
    return -FL_EPROTO;
}

static int rd_prepared(struct cql_rd *r, struct cql_resp *o)
{
    int rc;
    int32_t flags, ncols, npk;
    TRY(cql_rd_short_bytes(r, &o->prepared_id));
    if (o->prepared_id.len == 0)
        return -FL_EPROTO;
    TRY(cql_rd_i32(r, &flags));
    TRY(cql_rd_i32(r, &ncols));
    TRY(cql_rd_i32(r, &npk));
    if (ncols < 0 || npk < 0 || npk > ncols)
        return -FL_EPROTO;
    if ((uint32_t)ncols > CQL_MAX_COLS)
        return -FL_ERANGE;
    o->bind.flags = flags;
    o->bind.ncols = ncols;
    o->n_pk = npk;
    for (int32_t i = 0; i < npk; i++) {
        TRY(cql_rd_u16(r, &o->pk[i]));
        if (o->pk[i] >= (uint32_t)ncols)
            return -FL_EPROTO;
    }
    TRY(rd_col_specs(r, &o->bind));
    return rd_result_meta(r, &o->result);
}

static int rd_rows(struct cql_rd *r, struct cql_resp *o)
{
    int rc;
    struct cql_slice v;
    TRY(rd_result_meta(r, &o->result));
    TRY(cql_rd_i32(r, &o->nrows));
    if (o->nrows < 0)
        return -FL_EPROTO;
    size_t at = r->off;
    /* each value is at least its 4-byte length: an absurd count ends at
     * the first value past the body */
    for (int64_t i = 0; i < (int64_t)o->nrows * o->result.ncols; i++)
        TRY(cql_rd_bytes(r, &v));
    o->rows = (struct cql_slice){ .p = r->p + at, .len = (uint32_t)(r->off - at) };
    return 0;
}

static int rd_result(struct cql_rd *r, struct cql_resp *o)
{
    int rc;
    TRY(cql_rd_i32(r, &o->kind));
    switch (o->kind) {
    case CQL_RESULT_VOID:
        return 0;
    case CQL_RESULT_ROWS:
        return rd_rows(r, o);
    case CQL_RESULT_SET_KEYSPACE:
        return cql_rd_string(r, &o->keyspace);
    case CQL_RESULT_PREPARED:
        return rd_prepared(r, o);
    case CQL_RESULT_SCHEMA_CHANGE:
        return rd_schema_change(r, o);
    default:
        return -FL_EPROTO;
    }
}

/* <code><message> and the code's own fields (§9). */
static int rd_error(struct cql_rd *r, struct cql_error *e)
{
    int rc;
    uint16_t n;
    TRY(cql_rd_i32(r, &e->code));
    TRY(cql_rd_string(r, &e->message));
    switch (e->code) {
    case CQL_E_UNAVAILABLE:
        TRY(cql_rd_u16(r, &e->consistency));
        TRY(cql_rd_i32(r, &e->required));
        return cql_rd_i32(r, &e->alive);
    case CQL_E_WRITE_TIMEOUT:
        TRY(cql_rd_u16(r, &e->consistency));
        TRY(cql_rd_i32(r, &e->received));
        TRY(cql_rd_i32(r, &e->blockfor));
        return cql_rd_string(r, &e->write_type);
    case CQL_E_READ_TIMEOUT:
        TRY(cql_rd_u16(r, &e->consistency));
        TRY(cql_rd_i32(r, &e->received));
        TRY(cql_rd_i32(r, &e->blockfor));
        return cql_rd_u8(r, &e->data_present);
    case CQL_E_READ_FAILURE:
        TRY(cql_rd_u16(r, &e->consistency));
        TRY(cql_rd_i32(r, &e->received));
        TRY(cql_rd_i32(r, &e->blockfor));
        TRY(cql_rd_i32(r, &e->numfailures));
        return cql_rd_u8(r, &e->data_present);
    case CQL_E_WRITE_FAILURE:
        TRY(cql_rd_u16(r, &e->consistency));
        TRY(cql_rd_i32(r, &e->received));
        TRY(cql_rd_i32(r, &e->blockfor));
        TRY(cql_rd_i32(r, &e->numfailures));
        return cql_rd_string(r, &e->write_type);
    case CQL_E_FUNCTION_FAILURE:
        TRY(cql_rd_string(r, &e->keyspace));
        TRY(cql_rd_string(r, &e->function));
        TRY(cql_rd_string_list(r, &n));
        e->n_arg_types = n;
        return 0;
    case CQL_E_ALREADY_EXISTS:
        TRY(cql_rd_string(r, &e->keyspace));
        return cql_rd_string(r, &e->table);
    case CQL_E_UNPREPARED:
        return cql_rd_short_bytes(r, &e->unprepared_id);
    default:
        return 0;
    }
}

/* [string multimap]: the keys, and the first CQL_VERSION value. */
static int rd_supported(struct cql_rd *r, struct cql_resp *o)
{
    int rc;
    uint16_t nv;
    struct cql_slice k, v;
    TRY(cql_rd_u16(r, &o->n_options));
    for (uint16_t i = 0; i < o->n_options; i++) {
        TRY(cql_rd_string(r, &k));
        TRY(cql_rd_u16(r, &nv));
        for (uint16_t j = 0; j < nv; j++) {
            TRY(cql_rd_string(r, &v));
            if (j == 0 && k.len == 11 && memcmp(k.p, "CQL_VERSION", 11) == 0)
                o->cql_version = v;
        }
    }
    return 0;
}

static int rd_event(struct cql_rd *r, struct cql_resp *o)
{
    int rc;
    uint8_t addr[16], alen;
    int32_t port;
    TRY(cql_rd_string(r, &o->event_type));
    const struct cql_slice *t = &o->event_type;
    if ((t->len == 15 && memcmp(t->p, "TOPOLOGY_CHANGE", 15) == 0) ||
        (t->len == 13 && memcmp(t->p, "STATUS_CHANGE", 13) == 0)) {
        TRY(cql_rd_string(r, &o->change_type));
        return cql_rd_inet(r, addr, &alen, &port);
    }
    if (t->len == 13 && memcmp(t->p, "SCHEMA_CHANGE", 13) == 0)
        return rd_schema_change(r, o);
    return -FL_EPROTO;
}

int cql_resp_decode(const struct cql_hdr *h, const uint8_t *body, struct cql_col *bind_cols,
                    struct cql_col *result_cols, struct cql_resp *o)
{
    int rc;
    struct cql_rd r = { .p = body, .len = h->length };
    memset(o, 0, sizeof *o);
    o->h = *h;
    o->bind.cols = bind_cols;
    o->result.cols = result_cols;
    if (h->version != CQL_VERSION_RESP || (h->flags & CQL_FLAG_COMPRESSION))
        return -FL_EPROTO;
    if (h->flags & CQL_FLAG_TRACING) {
        TRY(cql_rd_skip(&r, 16));
        o->tracing_id = (struct cql_slice){ .p = body, .len = 16 };
    }
    if (h->flags & CQL_FLAG_WARNING) {
        struct cql_slice w;
        TRY(cql_rd_u16(&r, &o->n_warnings));
        for (uint16_t i = 0; i < o->n_warnings; i++) {
            TRY(cql_rd_string(&r, &w));
            if (i == 0)
                o->warning0 = w;
        }
    }
    if (h->flags & CQL_FLAG_CUSTOM_PAYLOAD) {
        uint16_t n;
        struct cql_slice k, v;
        TRY(cql_rd_u16(&r, &n));
        for (uint16_t i = 0; i < n; i++) {
            TRY(cql_rd_string(&r, &k));
            TRY(cql_rd_bytes(&r, &v));
        }
    }
    switch (h->opcode) {
    case CQL_OP_ERROR:
        rc = rd_error(&r, &o->error);
        break;
    case CQL_OP_READY:
        rc = 0;
        break;
    case CQL_OP_AUTHENTICATE:
        rc = cql_rd_string(&r, &o->authenticator);
        break;
    case CQL_OP_AUTH_CHALLENGE:
    case CQL_OP_AUTH_SUCCESS:
        rc = cql_rd_bytes(&r, &o->token);
        break;
    case CQL_OP_SUPPORTED:
        rc = rd_supported(&r, o);
        break;
    case CQL_OP_RESULT:
        rc = rd_result(&r, o);
        break;
    case CQL_OP_EVENT:
        rc = rd_event(&r, o);
        break;
    default:
        return -FL_EPROTO;   /* a request opcode, or unknown */
    }
    if (rc < 0)
        return rc;
    return r.off == r.len ? 0 : -FL_EPROTO;
}

const char *cql_error_name(int32_t code)
{
    switch (code) {
    case CQL_E_SERVER: return "Server error";
    case CQL_E_PROTOCOL: return "Protocol error";
    case CQL_E_AUTH: return "Authentication error";
    case CQL_E_UNAVAILABLE: return "Unavailable";
    case CQL_E_OVERLOADED: return "Overloaded";
    case CQL_E_BOOTSTRAPPING: return "Is_bootstrapping";
    case CQL_E_TRUNCATE: return "Truncate_error";
    case CQL_E_WRITE_TIMEOUT: return "Write_timeout";
    case CQL_E_READ_TIMEOUT: return "Read_timeout";
    case CQL_E_READ_FAILURE: return "Read_failure";
    case CQL_E_FUNCTION_FAILURE: return "Function_failure";
    case CQL_E_WRITE_FAILURE: return "Write_failure";
    case CQL_E_SYNTAX: return "Syntax_error";
    case CQL_E_UNAUTHORIZED: return "Unauthorized";
    case CQL_E_INVALID: return "Invalid";
    case CQL_E_CONFIG: return "Config_error";
    case CQL_E_ALREADY_EXISTS: return "Already_exists";
    case CQL_E_UNPREPARED: return "Unprepared";
    default: return "Unknown";
    }
}

bool cql_error_retryable(int32_t code)
{
    switch (code) {
    case CQL_E_SERVER:
    case CQL_E_UNAVAILABLE:
    case CQL_E_OVERLOADED:
    case CQL_E_BOOTSTRAPPING:
    case CQL_E_TRUNCATE:
    case CQL_E_WRITE_TIMEOUT:
    case CQL_E_READ_TIMEOUT:
    case CQL_E_READ_FAILURE:
    case CQL_E_WRITE_FAILURE:
        return true;
    default:
        return false;
    }
}

static const char *const cl_names[] = {
    "any", "one", "two", "three", "quorum", "all", "local_quorum", "each_quorum",
    "serial", "local_serial", "local_one"
};

const char *cql_consistency_name(uint16_t cl)
{
    return cl < sizeof cl_names / sizeof cl_names[0] ? cl_names[cl] : "?";
}

int cql_consistency_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof cl_names / sizeof cl_names[0]; i++)
        if (strcasecmp(name, cl_names[i]) == 0)
            return (int)i;
    return -FL_EINVAL;
}
