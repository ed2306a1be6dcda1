/* text_layout.c: layouts of fl_text.h: a list of output fields bound to
 * one schema, formatting whole batches as CSV rows or JSON lines with the
 * cell formatters of text_fmt.c. It does not write files (text_file.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/plugin.h>
#include "fl_text.h"
#include "text_int.h"

#define TEXT_LIT_FAST 16

struct text_field {
    int col;             /* schema column, -1 = always missing */
    enum fl_type type;
    uint32_t pre, pre_len;   /* literal before the value in lay->lit */
};

struct fl_text_layout {
    struct fl_text_style st;
    const struct fl_schema *schema;
    size_t n;
    struct text_field *f;
    char **names;        /* as given, for the CSV header */
    struct fl_text_buf lit;   /* separators and JSON keys */
    uint32_t end, end_len;    /* literal after the last value */
    size_t row_max;      /* bytes a row takes at most, besides str/bytes cells */
};

static int text_lit_add(struct fl_text_layout *l, const char *s, size_t n)
{
    return fl_text_buf_put(&l->lit, s, n);
}

/* Most bytes a fixed-size cell takes, quotes included. */
static size_t text_cell_max(enum fl_type t)
{
    (void)t;
    return FL_TEXT_CELL_MAX + 2;
}

int fl_text_layout_new(const struct fl_text_style *st, const struct fl_schema *s,
                       const char *const *names, const int *cols, size_t n,
                       struct fl_text_layout **out)
{
    int rc = -FL_ENOMEM;
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
    if (!l->f || !l->names)
        goto fail;
    bool json = l->st.format == FL_TEXT_JSON;
    l->row_max = 8;
    for (size_t i = 0; i < l->n; i++) {
        const char *name = names ? names[i] : s->cols[i]->name;
        struct text_field *f = &l->f[i];
        l->names[i] = strdup(name);
        if (!l->names[i])
            goto fail;
        f->col = !names ? (int)i : cols ? cols[i] : fl_schema_find(s, name);
        f->type = f->col >= 0 ? s->cols[f->col]->type : FL_T_NONE;
        f->pre = (uint32_t)l->lit.len;
        if (json) {
            if ((rc = text_lit_add(l, i ? "," : "{", 1)) < 0 ||
                (rc = fl_text_json_str(&l->lit, name, strlen(name))) < 0 ||
                (rc = text_lit_add(l, ":", 1)) < 0)
                goto fail;
        } else if (i && (rc = text_lit_add(l, &l->st.sep, 1)) < 0) {
            goto fail;
        }
        f->pre_len = (uint32_t)(l->lit.len - f->pre);
        l->row_max += f->pre_len + text_cell_max(f->type);
    }
    l->end = (uint32_t)l->lit.len;
    if (json && (rc = text_lit_add(l, l->n ? "}\n" : "{}\n", l->n ? 2 : 3)) < 0)
        goto fail;
    if (!json && (rc = text_lit_add(l, "\n", 1)) < 0)
        goto fail;
    l->end_len = (uint32_t)(l->lit.len - l->end);
    l->row_max += l->end_len + TEXT_LIT_FAST;
    /* Padding, so fixed-size copies of the last literals stay inside. */
    if ((rc = fl_text_buf_reserve(&l->lit, TEXT_LIT_FAST)) < 0)
        goto fail;
    memset(l->lit.p + l->lit.len, 0, TEXT_LIT_FAST);
    *out = l;
    return 0;
fail:
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
static int text_var_cell(const struct fl_text_layout *l, const struct fl_batch *bt,
                         const struct text_field *f, uint32_t row, struct fl_text_buf *buf)
{
    struct fl_span sp = FL_COL(bt, f->col, struct fl_span)[row];
    const char *s = sp.len ? fl_batch_bytes(bt, sp) : "";
    bool json = l->st.format == FL_TEXT_JSON;
    int rc;
    if (f->type == FL_T_STR)
        return json ? fl_text_json_str(buf, s, sp.len)
                    : fl_text_csv_str(buf, s, sp.len, l->st.sep);
    /* Quoted in JSON; in CSV only when empty, as "" tells an empty value
     * from a missing one. */
    bool q = json || !sp.len;
    if (q && (rc = fl_text_buf_put(buf, "\"", 1)) < 0)
        return rc;
    if ((rc = fl_text_hex(buf, s, sp.len)) < 0)
        return rc;
    return q ? fl_text_buf_put(buf, "\"", 1) : 0;
}

/* One fixed-size cell at p (room guaranteed by row_max). */
static char *text_cell(const struct fl_text_layout *l, const void *col,
                       enum fl_type t, uint32_t row, char *p, struct text_day_cache *dc)
{
    bool json = l->st.format == FL_TEXT_JSON;
    switch (t) {
    case FL_T_U8:   return fl_text_u64(p, ((const uint8_t *)col)[row]);
    case FL_T_U16:  return fl_text_u64(p, ((const uint16_t *)col)[row]);
    case FL_T_U32:  return fl_text_u64(p, ((const uint32_t *)col)[row]);
    case FL_T_U64:  return fl_text_u64(p, ((const uint64_t *)col)[row]);
    case FL_T_I64:  return fl_text_i64(p, ((const int64_t *)col)[row]);
    case FL_T_BOOL: return fl_text_bool(p, ((const uint8_t *)col)[row] != 0);
    case FL_T_DUR:  return fl_text_dur(p, ((const int64_t *)col)[row]);
    case FL_T_F64: {
        double v = ((const double *)col)[row];
        if (json && !isfinite(v)) {
            memcpy(p, "null", 4);
            return p + 4;
        }
        return fl_text_f64(p, v);
    }
    case FL_T_TS: {
        bool q = json && l->st.time == FL_TEXT_TIME_RFC3339;
        if (q) *p++ = '"';
        p = fl_text_ts_cached(p, ((const uint64_t *)col)[row], l->st.time, dc);
        if (q) *p++ = '"';
        return p;
    }
    case FL_T_ADDR:
        if (json) *p++ = '"';
        p = fl_text_addr(p, &((const struct fl_addr *)col)[row]);
        if (json) *p++ = '"';
        return p;
    case FL_T_MAC:
        if (json) *p++ = '"';
        p = fl_text_mac(p, (const uint8_t *)col + 6 * (size_t)row);
        if (json) *p++ = '"';
        return p;
    default:
        return p;   /* FL_T_NONE and variable types are handled by the caller */
    }
}

int fl_text_layout_rows(const struct fl_text_layout *l, const struct fl_batch *bt,
                        uint32_t *row, struct fl_text_buf *buf, size_t limit)
{
    if (bt->schema != l->schema)
        return -FL_EINVAL;
    const char *lit = l->lit.p;
    bool json = l->st.format == FL_TEXT_JSON;
    uint32_t r = *row;
    int rc = 0;
    struct text_day_cache dc = { .day = UINT64_MAX };
    size_t row_start = buf->len;
    while (r < bt->rows) {
        row_start = buf->len;
        if ((rc = fl_text_buf_reserve(buf, l->row_max)) < 0)
            break;
        char *p = buf->p + buf->len;
        for (size_t i = 0; i < l->n; i++) {
            const struct text_field *f = &l->f[i];
            /* Separators and short keys: a fixed-size copy the compiler
             * inlines (the literal buffer and row_max have the slack). */
            if (f->pre_len <= TEXT_LIT_FAST)
                memcpy(p, lit + f->pre, TEXT_LIT_FAST);
            else
                memcpy(p, lit + f->pre, f->pre_len);
            p += f->pre_len;
            if (f->col < 0 || !fl_batch_is_valid(bt, (uint32_t)f->col, r)) {
                if (json) {
                    memcpy(p, "null", 4);
                    p += 4;
                } else if (l->n == 1) {
                    memcpy(p, "\"\"", 2);   /* a blank line would be skipped */
                    p += 2;
                }
                continue;
            }
            if (f->type == FL_T_STR || f->type == FL_T_BYTES) {
                buf->len = (size_t)(p - buf->p);
                if ((rc = text_var_cell(l, bt, f, r, buf)) < 0 ||
                    (rc = fl_text_buf_reserve(buf, l->row_max)) < 0)
                    goto out;
                p = buf->p + buf->len;
                continue;
            }
            p = text_cell(l, bt->data[f->col], f->type, r, p, &dc);
        }
        memcpy(p, lit + l->end, l->end_len);
        p += l->end_len;
        buf->len = (size_t)(p - buf->p);
        r++;
        if (buf->len >= limit)
            break;
    }
out:
    if (rc < 0)
        buf->len = row_start;   /* never leave half a row to be written */
    *row = r;
    return rc;
}
