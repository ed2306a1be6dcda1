/* text_layout.c: layouts of fl_text.h: a list of output fields bound to
 * one schema, formatting whole batches as CSV rows or JSON lines with the
 * cell formatters of text_fmt.c. It does not write files (text_file.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/plugin.h>
#include "fl_text.h"
#include "text_num.h"

/* Literals (separators, JSON keys) are copied TEXT_LIT_FAST bytes at a
 * time, one fixed-size copy per step (longer ones take several steps); the
 * literal buffer and row_max have the slack. */
#define TEXT_LIT_FAST 16
/* Timestamp columns with a prefix cache of their own (text_num.h); more
 * share the last one. */
#define TEXT_TS_SLOTS 4

/* What a step of a row does, decided once per layout from the column
 * type, the format and the time form, so the row loop has one switch per
 * cell and no format tests. */
enum text_op {
    TEXT_OP_MISSING = 0,   /* the schema lacks the field: always missing */
    TEXT_OP_LIT,           /* only the literal: a piece of a long one */
    TEXT_OP_U8, TEXT_OP_U16, TEXT_OP_U32, TEXT_OP_U64, TEXT_OP_I64,
    TEXT_OP_BOOL, TEXT_OP_DUR,
    TEXT_OP_F64,           /* CSV: nan/inf as text */
    TEXT_OP_F64_JSON,      /* non-finite: null */
    TEXT_OP_TS_RFC,        /* RFC 3339, quoted in JSON */
    TEXT_OP_TS_NUM,        /* epoch_ns / epoch_s */
    TEXT_OP_ADDR, TEXT_OP_MAC,   /* quoted in JSON */
    TEXT_OP_STR, TEXT_OP_BYTES
};

/* An output field as the user named it. */
struct text_field {
    int col;             /* schema column, -1 = always missing */
    enum fl_type type;
};

/* The per-schema plan of a row: literal, then cell, for each field. */
struct text_step {
    uint32_t pre;        /* literal before the cell, in lay->lit */
    uint8_t pre_len;     /* <= TEXT_LIT_FAST */
    uint8_t op;          /* enum text_op */
    uint8_t slot;        /* TEXT_OP_TS_RFC: its prefix cache */
    int col;             /* schema column; -1 for MISSING and LIT */
};

/* A str or bytes cell's bytes. */
struct text_span_ref {
    const char *s;
    uint32_t n;
    bool str;
};

struct fl_text_layout {
    struct fl_text_style st;
    const struct fl_schema *schema;
    size_t n;
    struct text_field *f;
    struct text_step *step;
    size_t nstep;
    char **names;        /* as given, for the CSV header */
    struct fl_text_buf lit;   /* separators and JSON keys */
    uint32_t end, end_len;    /* literal after the last value (<= 3 bytes) */
    size_t row_max;      /* bytes a row takes at most, besides str/bytes cells */
    bool quote;          /* JSON: quote times, addresses, MACs */
    char miss[4];        /* a missing value: "null", "\"\"" or nothing */
    uint8_t miss_len;
    /* Bytes a str cell cannot be copied as is with: CSV, the separator,
     * '"', CR, LF; JSON, '"', '\\' and controls; both, non-ASCII (UTF-8
     * is checked on the general path). */
    uint8_t special[256];
};

static int text_lit_add(struct fl_text_layout *l, const char *s, size_t n)
{
    return fl_text_buf_put(&l->lit, s, n);
}

static uint8_t text_op_of(enum fl_type t, const struct fl_text_style *st)
{
    switch (t) {
    case FL_T_U8:    return TEXT_OP_U8;
    case FL_T_U16:   return TEXT_OP_U16;
    case FL_T_U32:   return TEXT_OP_U32;
    case FL_T_U64:   return TEXT_OP_U64;
    case FL_T_I64:   return TEXT_OP_I64;
    case FL_T_BOOL:  return TEXT_OP_BOOL;
    case FL_T_DUR:   return TEXT_OP_DUR;
    case FL_T_F64:   return st->format == FL_TEXT_JSON ? TEXT_OP_F64_JSON : TEXT_OP_F64;
    case FL_T_TS:    return st->time == FL_TEXT_TIME_RFC3339 ? TEXT_OP_TS_RFC : TEXT_OP_TS_NUM;
    case FL_T_ADDR:  return TEXT_OP_ADDR;
    case FL_T_MAC:   return TEXT_OP_MAC;
    case FL_T_STR:   return TEXT_OP_STR;
    case FL_T_BYTES: return TEXT_OP_BYTES;
    default:         return TEXT_OP_MISSING;
    }
}

/* Most bytes a fixed-size cell takes, quotes included. */
#define TEXT_CELL_ROOM (FL_TEXT_CELL_MAX + 2)

/* The steps of field i, whose literal is lit[pre, pre + len). */
static int text_plan_field(struct fl_text_layout *l, size_t cap, const struct text_field *f,
                           uint32_t pre, uint32_t len, unsigned *nts)
{
    while (len > TEXT_LIT_FAST) {
        if (l->nstep == cap)
            return -FL_ENOMEM;   /* cannot happen: cap counts every piece */
        l->step[l->nstep++] = (struct text_step){
            .pre = pre, .pre_len = TEXT_LIT_FAST, .op = TEXT_OP_LIT, .col = -1
        };
        pre += TEXT_LIT_FAST;
        len -= TEXT_LIT_FAST;
    }
    if (l->nstep == cap)
        return -FL_ENOMEM;
    struct text_step *s = &l->step[l->nstep++];
    *s = (struct text_step){ .pre = pre, .pre_len = (uint8_t)len, .col = f->col,
                             .op = f->col >= 0 ? text_op_of(f->type, &l->st) : TEXT_OP_MISSING };
    if (s->op == TEXT_OP_MISSING)
        s->col = -1;
    if (s->op == TEXT_OP_TS_RFC)
        s->slot = (uint8_t)(*nts < TEXT_TS_SLOTS ? (*nts)++ : TEXT_TS_SLOTS - 1);
    return 0;
}

int fl_text_layout_new(const struct fl_text_style *st, const struct fl_schema *s,
                       const char *const *names, const int *cols, size_t n,
                       struct fl_text_layout **out)
{
    int rc = -FL_ENOMEM;
    uint32_t *pre = NULL;   /* each field's literal in l->lit; [n]: the end */
    struct fl_text_layout *l = calloc(1, sizeof *l);
    if (!l)
        return -FL_ENOMEM;
    l->st = *st;
    if (!l->st.sep)
        l->st.sep = ',';
    if (l->st.format != FL_TEXT_CSV && l->st.format != FL_TEXT_JSON) {
        rc = -FL_EINVAL;
        goto fail;
    }
    l->schema = s;
    l->n = names ? n : s->ncols;
    l->f = calloc(l->n ? l->n : 1, sizeof *l->f);
    l->names = calloc(l->n ? l->n : 1, sizeof *l->names);
    pre = calloc(l->n + 1, sizeof *pre);
    if (!l->f || !l->names || !pre)
        goto fail;
    bool json = l->st.format == FL_TEXT_JSON;
    l->quote = json;
    if (json) {
        memcpy(l->miss, "null", 4);
        l->miss_len = 4;
    } else if (l->n == 1) {
        memcpy(l->miss, "\"\"", 2);   /* a blank line would be skipped */
        l->miss_len = 2;
    }
    for (unsigned c = 0; c < 256; c++)
        l->special[c] = c >= 0x80 ||
                        (json ? c < 0x20 || c == '"' || c == '\\'
                              : c == (unsigned char)l->st.sep || c == '"' || c == '\n' || c == '\r');
    /* The literals first (the buffer moves while it grows), then the plan. */
    size_t nstep = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *name = names ? names[i] : s->cols[i]->name;
        struct text_field *f = &l->f[i];
        l->names[i] = strdup(name);
        if (!l->names[i])
            goto fail;
        f->col = !names ? (int)i : cols ? cols[i] : fl_schema_find(s, name);
        f->type = f->col >= 0 ? s->cols[f->col]->type : FL_T_NONE;
        pre[i] = (uint32_t)l->lit.len;
        if (json) {
            if ((rc = text_lit_add(l, i ? "," : "{", 1)) < 0 ||
                (rc = fl_text_json_str(&l->lit, name, strlen(name))) < 0 ||
                (rc = text_lit_add(l, ":", 1)) < 0)
                goto fail;
        } else if (i && (rc = text_lit_add(l, &l->st.sep, 1)) < 0) {
            goto fail;
        }
        size_t len = l->lit.len - pre[i];
        nstep += 1 + (len ? (len - 1) / TEXT_LIT_FAST : 0);
        l->row_max += len + TEXT_LIT_FAST + TEXT_CELL_ROOM;
    }
    l->end = (uint32_t)l->lit.len;
    pre[l->n] = l->end;
    if (json && (rc = text_lit_add(l, l->n ? "}\n" : "{}\n", l->n ? 2 : 3)) < 0)
        goto fail;
    if (!json && (rc = text_lit_add(l, "\n", 1)) < 0)
        goto fail;
    l->end_len = (uint32_t)(l->lit.len - l->end);
    l->row_max += 8 + TEXT_LIT_FAST;
    /* Padding, so fixed-size copies of the last literals stay inside. */
    if ((rc = fl_text_buf_reserve(&l->lit, TEXT_LIT_FAST)) < 0)
        goto fail;
    memset(l->lit.p + l->lit.len, 0, TEXT_LIT_FAST);
    rc = -FL_ENOMEM;
    l->step = calloc(nstep ? nstep : 1, sizeof *l->step);
    if (!l->step)
        goto fail;
    unsigned nts = 0;
    for (size_t i = 0; i < l->n; i++)
        if ((rc = text_plan_field(l, nstep, &l->f[i], pre[i], pre[i + 1] - pre[i], &nts)) < 0)
            goto fail;
    free(pre);
    *out = l;
    return 0;
fail:
    free(pre);
    fl_text_layout_destroy(&l);
    return rc;
}

void fl_text_layout_destroy(struct fl_text_layout **lp)
{
    struct fl_text_layout *l = *lp;
    if (!l)
        return;
    if (l->names)
        for (size_t i = 0; i < l->n; i++)
            free(l->names[i]);
    free(l->names);
    free(l->f);
    free(l->step);
    fl_text_buf_free(&l->lit);
    free(l);
    *lp = NULL;
}

const struct fl_schema *fl_text_layout_schema(const struct fl_text_layout *l)
{
    return l->schema;
}

size_t fl_text_layout_nfields(const struct fl_text_layout *l)
{
    return l->n;
}

int fl_text_layout_col(const struct fl_text_layout *l, size_t i)
{
    return i < l->n ? l->f[i].col : -1;
}

int fl_text_layout_header(const struct fl_text_layout *l, struct fl_text_buf *b)
{
    if (l->st.format != FL_TEXT_CSV)
        return 0;
    for (size_t i = 0; i < l->n; i++) {
        int rc;
        if (i && (rc = fl_text_buf_put(b, &l->st.sep, 1)) < 0)
            return rc;
        if ((rc = fl_text_csv_str(b, l->names[i], strlen(l->names[i]), l->st.sep)) < 0)
            return rc;
    }
    return fl_text_buf_put(b, "\n", 1);
}

/* A str or bytes cell: these grow the buffer, so they go through it. */
static int text_var_cell(const struct fl_text_layout *l, const struct text_span_ref *ref,
                         struct fl_text_buf *buf)
{
    const char *s = ref->s;
    uint32_t n = ref->n;
    bool json = l->st.format == FL_TEXT_JSON;
    int rc;
    if (ref->str)
        return json ? fl_text_json_str(buf, s, n) : fl_text_csv_str(buf, s, n, l->st.sep);
    /* Quoted in JSON; in CSV only when empty, as "" tells an empty value
     * from a missing one. */
    bool q = json || !n;
    if (q && (rc = fl_text_buf_put(buf, "\"", 1)) < 0)
        return rc;
    if ((rc = fl_text_hex(buf, s, n)) < 0)
        return rc;
    return q ? fl_text_buf_put(buf, "\"", 1) : 0;
}

/* A str cell that needs neither quoting nor escaping nor UTF-8 repair, as
 * most are (names, states, reasons): copied at p with its JSON quotes,
 * checked while copying. Returns the end, or NULL (p's bytes are then
 * scratch) for the general path. Short cells only, so the copy stays in
 * the room row_max keeps for a cell. */
static inline char *text_str_plain(const struct fl_text_layout *l, char *p,
                                   const char *s, uint32_t n)
{
    if (n == 0 || n > FL_TEXT_CELL_MAX - 2)
        return NULL;   /* CSV quotes an empty string: the general path */
    unsigned bad = 0;
    char *q = p + l->quote;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        q[i] = (char)c;
        bad |= l->special[c];
    }
    if (bad)
        return NULL;
    q += n;
    if (l->quote) {
        *p = '"';
        *q++ = '"';
    }
    return q;
}

/* Cells that do not fit a fixed-size cell's room: the general path, which
 * appends to buf and makes room for the rest of the row again. Returns the
 * new end, or NULL with *rc set. */
static char *text_var_step(const struct fl_text_layout *l, const struct text_step *st,
                           const void *d, uint32_t r, const char *arena,
                           struct fl_text_buf *buf, char *p, int *rc)
{
    struct fl_span sp = ((const struct fl_span *)d)[r];
    struct text_span_ref ref = {
        .s = sp.len ? arena + sp.off : "", .n = sp.len, .str = st->op == TEXT_OP_STR,
    };
    char *e = ref.str ? text_str_plain(l, p, ref.s, ref.n) : NULL;
    if (e)
        return e;
    buf->len = (size_t)(p - buf->p);
    if ((*rc = text_var_cell(l, &ref, buf)) < 0 ||
        (*rc = fl_text_buf_reserve(buf, l->row_max)) < 0)
        return NULL;
    return buf->p + buf->len;
}

/* One row at buf->p + buf->len (room for row_max bytes reserved), buf->len
 * advanced past it. `check`: some column of the batch has a validity
 * bitmap. Dispatch is a computed goto (GCC and Clang): one indirect jump
 * per cell, where a switch adds a range check and a table base. */
static int text_row(const struct fl_text_layout *l, const struct fl_batch *bt, uint32_t r,
                    const char *arena, struct text_ts_cache *tc, struct fl_text_buf *buf,
                    bool check)
{
    static const void *const go[] = {
        [TEXT_OP_MISSING] = &&op_missing, [TEXT_OP_LIT] = &&op_next,
        [TEXT_OP_U8] = &&op_u8, [TEXT_OP_U16] = &&op_u16, [TEXT_OP_U32] = &&op_u32,
        [TEXT_OP_U64] = &&op_u64, [TEXT_OP_I64] = &&op_i64, [TEXT_OP_BOOL] = &&op_bool,
        [TEXT_OP_DUR] = &&op_dur, [TEXT_OP_F64] = &&op_f64, [TEXT_OP_F64_JSON] = &&op_f64_json,
        [TEXT_OP_TS_RFC] = &&op_ts_rfc, [TEXT_OP_TS_NUM] = &&op_ts_num,
        [TEXT_OP_ADDR] = &&op_addr, [TEXT_OP_MAC] = &&op_mac,
        [TEXT_OP_STR] = &&op_var, [TEXT_OP_BYTES] = &&op_var,
    };
    const char *lit = l->lit.p;
    const bool q = l->quote;
    void *const *data = bt->data;
    char *p = buf->p + buf->len;
    int rc = 0;
    const struct text_step *st = l->step, *se = l->step + l->nstep;
    uint64_t u;
#define TEXT_D(T) (((const T *)data[st->col])[r])
    for (; st < se; st++) {
        memcpy(p, lit + st->pre, TEXT_LIT_FAST);
        p += st->pre_len;
        if (check && st->col >= 0) {
            const uint64_t *vb = bt->valid[st->col];
            if (vb && !(vb[r >> 6] >> (r & 63) & 1))
                goto op_missing;
        }
        goto *go[st->op];
    op_missing:
        memcpy(p, l->miss, 4);
        p += l->miss_len;
        continue;
    op_u8:  u = TEXT_D(uint8_t);  goto dec;
    op_u16: u = TEXT_D(uint16_t); goto dec;
    op_u32: u = TEXT_D(uint32_t); goto dec;
    op_u64: u = TEXT_D(uint64_t);
    dec:
        p = text_u64(p, u);
        continue;
    op_i64:
        p = text_i64(p, TEXT_D(int64_t));
        continue;
    op_bool:
        p = fl_text_bool(p, TEXT_D(uint8_t) != 0);
        continue;
    op_dur:
        p = text_dur(p, TEXT_D(int64_t));
        continue;
    op_f64:
        p = text_f64(p, TEXT_D(double));
        continue;
    op_f64_json: {
        double v = TEXT_D(double);
        if (!isfinite(v)) {
            memcpy(p, "null", 4);
            p += 4;
        } else {
            p = text_f64(p, v);
        }
        continue;
    }
    op_ts_rfc:
        *p = '"';
        p = text_rfc3339(p + q, TEXT_D(uint64_t), &tc[st->slot]);
        *p = '"';
        p += q;
        continue;
    op_ts_num:
        p = fl_text_ts_cached(p, TEXT_D(uint64_t), l->st.time, &tc[0]);
        continue;
    op_addr: {
        const struct fl_addr *a = &TEXT_D(struct fl_addr);
        *p = '"';
        p += q;
        p = text_addr_is_v4(a) ? text_ipv4(p, a->b + 12) : fl_text_addr(p, a);
        *p = '"';
        p += q;
        continue;
    }
    op_mac:
        *p = '"';
        p = fl_text_mac(p + q, (const uint8_t *)data[st->col] + 6 * (size_t)r);
        *p = '"';
        p += q;
        continue;
    op_var:
        if (!(p = text_var_step(l, st, data[st->col], r, arena, buf, p, &rc)))
            return rc;
        continue;
    op_next:;
    }
#undef TEXT_D
    memcpy(p, lit + l->end, TEXT_LIT_FAST);
    p += l->end_len;
    buf->len = (size_t)(p - buf->p);
    return 0;
}

int fl_text_layout_rows(const struct fl_text_layout *l, const struct fl_batch *bt,
                        uint32_t *row, struct fl_text_buf *buf, size_t limit)
{
    if (bt->schema != l->schema)
        return -FL_EINVAL;
    const char *arena = fl_batch_bytes(bt, (struct fl_span){ 0, 0 });
    /* Flow records rarely have missing values: without a bitmap in any
     * column the row loop skips the test. */
    bool check = false;
    for (size_t i = 0; i < l->nstep; i++)
        check |= l->step[i].col >= 0 && bt->valid[l->step[i].col];
    uint32_t r = *row;
    int rc = 0;
    struct text_ts_cache tc[TEXT_TS_SLOTS];
    for (int i = 0; i < TEXT_TS_SLOTS; i++)
        tc[i] = (struct text_ts_cache)TEXT_TS_CACHE_INIT;
    size_t row_start = buf->len;
    while (r < bt->rows) {
        row_start = buf->len;
        if (buf->cap - buf->len < l->row_max &&
            (rc = fl_text_buf_reserve(buf, l->row_max)) < 0)
            break;
        if ((rc = text_row(l, bt, r, arena, tc, buf, check)) < 0)
            break;
        r++;
        if (buf->len >= limit)
            break;
    }
    if (rc < 0)
        buf->len = row_start;   /* never leave half a row to be written */
    *row = r;
    return rc;
}
