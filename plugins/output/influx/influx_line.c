/* influx_line.c: records to InfluxDB line protocol.
 *
 *   measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]
 *
 * Escaping (InfluxDB line protocol reference): in the measurement, commas
 * and spaces get a backslash; in tag keys, tag values and field keys,
 * commas, equals signs and spaces. String field values are double-quoted
 * with '"' and '\' backslash-escaped. A newline cannot be written in a
 * name or tag value (it ends the line): it becomes a space there, counted
 * as newlines_replaced. Missing and empty tag values leave the tag out (the
 * protocol has no empty tag value); missing fields are left out; a record
 * with no field left is not written (records_no_fields). NaN and infinite
 * floats have no line-protocol form: left out (floats_nonfinite).
 *
 * Types: unsigned and signed integers, durations (ns) and non-time
 * timestamps (ns since the epoch) are integers with the `i` suffix; a u64
 * above 2^63-1 is clamped (u64_clamped) unless `unsigned: uint` writes the
 * `u` suffix (InfluxDB 1.8+/2.x; 1.6 refuses it). f64 are floats, bool
 * true/false, addresses and MACs strings (as tags: their text), bytes
 * lowercase hex strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fl_text.h"
#include "influx.h"

#define HOUR_NS 3600000000000ull

/* Append s escaped for a name (measurement: which = 0) or a tag key, tag
 * value or field key (which = 1). */
static int esc_name(struct fl_dbuf *b, const char *s, size_t n, int which, uint64_t *nl,
                    size_t extra)
{
    int rc = fl_dbuf_reserve(b, 2 * n + extra);
    if (rc < 0)
        return rc;
    uint8_t *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n' || c == '\r') {
            (*nl)++;
            c = ' ';
        }
        if (c == ',' || c == ' ' || (which && c == '='))
            *o++ = '\\';
        *o++ = (uint8_t)c;
    }
    b->len = (size_t)(o - b->p);
    return 0;
}

/* A string field value, quotes included. extra: room to keep after it
 * (the rest of the row's non-string values write unchecked). */
static int esc_str(struct fl_dbuf *b, const char *s, size_t n, size_t extra)
{
    int rc = fl_dbuf_reserve(b, 2 * n + 2 + extra);
    if (rc < 0)
        return rc;
    uint8_t *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            *o++ = '\\';
        *o++ = (uint8_t)s[i];
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    const struct influx_col *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static bool listed(const struct fl_strlist *l, const struct fl_schema *sc, int col)
{
    for (size_t i = 0; i < l->n; i++)
        if (fl_schema_find(sc, l->v[i]) == col)
            return true;
    return false;
}

static int key_of(struct influx_col *c, const char *name)
{
    struct fl_dbuf t = { 0 };
    uint64_t nl = 0;
    int rc = esc_name(&t, name, strlen(name), 1, &nl, 0);
    if (rc == 0)
        rc = fl_dbuf_append(&t, "", 1);
    if (rc < 0) {
        free(t.p);
        return rc;
    }
    c->key = (char *)t.p;
    c->key_len = t.len - 1;
    return 0;
}

static void plan_free(struct influx_plan *p)
{
    for (size_t i = 0; i < p->n_tags; i++)
        free(p->tags[i].key);
    for (size_t i = 0; i < p->n_fields; i++)
        free(p->fields[i].key);
    free(p->tags);
    free(p->fields);
    memset(p, 0, sizeof(*p));
}

/* The time column: `time` as given, else flow_end, else ts. */
static int time_col(const struct influx *s, const struct fl_schema *sc)
{
    int c = -1;
    if (s->time && *s->time)
        c = fl_schema_find(sc, s->time);
    else if ((c = fl_schema_find(sc, "flow_end")) < 0)
        c = fl_schema_find(sc, "ts");
    return c >= 0 && sc->cols[c]->type == FL_T_TS ? c : -1;
}

static int plan_build(struct influx *s, const struct fl_schema *sc, struct influx_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->schema = sc;
    p->time_col = time_col(s, sc);
    if (!(p->tags = calloc(sc->ncols + 1, sizeof(*p->tags)))
        || !(p->fields = calloc(sc->ncols + 1, sizeof(*p->fields))))
        goto nomem;
    for (uint32_t i = 0; i < sc->ncols; i++) {
        int col = (int)i;
        if (col == p->time_col)
            continue;
        bool tag = listed(&s->tags, sc, col);
        if (!tag && s->fields.n && !listed(&s->fields, sc, col))
            continue;
        struct influx_col *c = tag ? &p->tags[p->n_tags] : &p->fields[p->n_fields];
        c->col = col;
        c->type = sc->cols[i]->type;
        if (key_of(c, sc->cols[i]->name) < 0)
            goto nomem;
        if (tag)
            p->n_tags++;
        else
            p->n_fields++;
    }
    qsort(p->tags, p->n_tags, sizeof(*p->tags), cmp_key);
    /* Every non-string value fits FL_TEXT_CELL_MAX (+ its suffix); a tag
     * value may double when escaped; strings reserve for themselves. */
    p->row_max = s->meas_len + 2 * 24 + 4;
    for (size_t i = 0; i < p->n_tags; i++)
        p->row_max += p->tags[i].key_len + 2 + 2 * FL_TEXT_CELL_MAX;
    for (size_t i = 0; i < p->n_fields; i++)
        p->row_max += p->fields[i].key_len + 2 + FL_TEXT_CELL_MAX + 2;
    return 0;
nomem:
    plan_free(p);
    return -FL_ENOMEM;
}

static struct influx_plan *plan_for(struct influx *s, const struct fl_schema *sc)
{
    for (size_t i = 0; i < s->n_plans; i++)
        if (s->plans[i].schema == sc)
            return &s->plans[i];
    struct influx_plan *p;
    if (s->n_plans < INFLUX_PLANS) {
        p = &s->plans[s->n_plans++];
    } else {   /* a stream of ever new schemas: reuse slots round-robin */
        p = &s->plans[s->next_evict++ % INFLUX_PLANS];
        plan_free(p);
    }
    if (plan_build(s, sc, p) < 0) {
        if (p == &s->plans[s->n_plans - 1] && s->n_plans && !p->schema)
            s->n_plans--;
        return NULL;
    }
    return p;
}

int influx_line_init(struct influx *s)
{
    struct fl_dbuf t = { 0 };
    uint64_t nl = 0;
    const char *m = s->measurement ? s->measurement : "flows";
    if (esc_name(&t, m, strlen(m), 0, &nl, 0) < 0 || fl_dbuf_append(&t, "", 1) < 0) {
        free(t.p);
        return -FL_ENOMEM;
    }
    s->meas_esc = (char *)t.p;
    s->meas_len = t.len - 1;
    if (s->max_series) {
        size_t cap = 16;
        while (cap < s->max_series * 2)
            cap *= 2;
        if (!(s->series.slot = calloc(cap, sizeof(uint64_t))))
            return -FL_ENOMEM;
        s->series.cap = cap;
        s->series.max = s->max_series;
    }
    return 0;
}

void influx_line_fini(struct influx *s)
{
    for (size_t i = 0; i < s->n_plans; i++)
        plan_free(&s->plans[i]);
    s->n_plans = 0;
    free(s->meas_esc);
    s->meas_esc = NULL;
    free(s->series.slot);
    s->series.slot = NULL;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    return h ? h : 1;
}

/* Is this tag set allowed this hour? Adds it while there is room. */
static bool series_ok(struct influx_series *g, uint64_t h, uint64_t now)
{
    if (now - g->window_start >= HOUR_NS || now < g->window_start) {
        memset(g->slot, 0, g->cap * sizeof(*g->slot));
        g->n = 0;
        g->window_start = now;
    }
    size_t i = (size_t)h & (g->cap - 1);
    while (g->slot[i]) {
        if (g->slot[i] == h)
            return true;
        i = (i + 1) & (g->cap - 1);
    }
    if (g->n >= g->max)
        return false;
    g->slot[i] = h;
    g->n++;
    return true;
}

static uint64_t prec_div(int prec)
{
    return prec == PREC_S ? 1000000000u : prec == PREC_MS ? 1000000u : prec == PREC_US ? 1000u : 1u;
}

struct tallies { uint64_t nl, clamped, nonfinite, no_fields, series; };

/* The text of a tag value at row r (no escaping), into t. 0 if empty. */
static size_t tag_text(const struct fl_batch *b, const struct influx_col *c, uint32_t r,
                       char *t, const char **out)
{
    const void *d = b->data[c->col];
    char *e = t;
    *out = t;
    switch (c->type) {
    case FL_T_U8: e = fl_text_u64(t, ((const uint8_t *)d)[r]); break;
    case FL_T_U16: e = fl_text_u64(t, ((const uint16_t *)d)[r]); break;
    case FL_T_U32: e = fl_text_u64(t, ((const uint32_t *)d)[r]); break;
    case FL_T_U64: e = fl_text_u64(t, ((const uint64_t *)d)[r]); break;
    case FL_T_I64: case FL_T_DUR: e = fl_text_i64(t, ((const int64_t *)d)[r]); break;
    case FL_T_TS: e = fl_text_u64(t, ((const uint64_t *)d)[r]); break;
    case FL_T_F64: e = fl_text_f64(t, ((const double *)d)[r]); break;
    case FL_T_BOOL: e = fl_text_bool(t, ((const bool *)d)[r]); break;
    case FL_T_ADDR: e = fl_text_addr(t, &((const struct fl_addr *)d)[r]); break;
    case FL_T_MAC: e = fl_text_mac(t, ((const uint8_t *)d) + 6 * (size_t)r); break;
    case FL_T_STR: case FL_T_BYTES: {
        struct fl_span sp = ((const struct fl_span *)d)[r];
        *out = fl_batch_bytes(b, sp);
        return sp.len;
    }
    default: break;
    }
    return (size_t)(e - t);
}

/* One field "key=value" (with its leading comma unless first). Returns 1
 * if written, 0 if left out, negative on ENOMEM. */
static int put_field(struct influx *s, struct fl_dbuf *o, const struct fl_batch *b,
                     const struct influx_col *c, uint32_t r, bool first, struct tallies *t,
                     size_t row_max)
{
    const void *d = b->data[c->col];
    char num[FL_TEXT_CELL_MAX + 2], *e = num;
    const char *sv = NULL;
    size_t sl = 0;
    bool str = false, hex = false;
    switch (c->type) {
    case FL_T_U8: e = fl_text_u64(num, ((const uint8_t *)d)[r]); *e++ = 'i'; break;
    case FL_T_U16: e = fl_text_u64(num, ((const uint16_t *)d)[r]); *e++ = 'i'; break;
    case FL_T_U32: e = fl_text_u64(num, ((const uint32_t *)d)[r]); *e++ = 'i'; break;
    case FL_T_TS: case FL_T_U64: {
        uint64_t v = ((const uint64_t *)d)[r];
        if (s->unsigned_as == UINT_U) {
            e = fl_text_u64(num, v);
            *e++ = 'u';
        } else {
            if (v > (uint64_t)INT64_MAX) {
                v = (uint64_t)INT64_MAX;
                t->clamped++;
            }
            e = fl_text_u64(num, v);
            *e++ = 'i';
        }
        break;
    }
    case FL_T_I64: case FL_T_DUR: e = fl_text_i64(num, ((const int64_t *)d)[r]); *e++ = 'i'; break;
    case FL_T_F64: {
        double v = ((const double *)d)[r];
        if (v != v || v - v != 0) {
            t->nonfinite++;
            return 0;
        }
        e = fl_text_f64(num, v);
        break;
    }
    case FL_T_BOOL: e = fl_text_bool(num, ((const bool *)d)[r]); break;
    case FL_T_ADDR: e = fl_text_addr(num, &((const struct fl_addr *)d)[r]); str = true; break;
    case FL_T_MAC: e = fl_text_mac(num, ((const uint8_t *)d) + 6 * (size_t)r); str = true; break;
    case FL_T_STR: case FL_T_BYTES: {
        struct fl_span sp = ((const struct fl_span *)d)[r];
        sv = fl_batch_bytes(b, sp);
        sl = sp.len;
        str = true;
        hex = c->type == FL_T_BYTES;
        break;
    }
    default:
        return 0;
    }
    int rc;   /* room for everything but strings: reserved per row (row_max) */
    if (!first)
        o->p[o->len++] = ',';
    memcpy(o->p + o->len, c->key, c->key_len);
    o->len += c->key_len;
    o->p[o->len++] = '=';
    if (!str) {
        memcpy(o->p + o->len, num, (size_t)(e - num));
        o->len += (size_t)(e - num);
        return 1;
    }
    if (!sv) {   /* address, MAC: short, within row_max */
        o->p[o->len++] = '"';
        memcpy(o->p + o->len, num, (size_t)(e - num));
        o->len += (size_t)(e - num);
        o->p[o->len++] = '"';
        return 1;
    }
    if (hex) {
        static const char hx[] = "0123456789abcdef";
        if ((rc = fl_dbuf_reserve(o, 2 * sl + 2 + row_max)) < 0)
            return rc;
        o->p[o->len++] = '"';
        for (size_t i = 0; i < sl; i++) {
            o->p[o->len++] = (uint8_t)hx[(uint8_t)sv[i] >> 4];
            o->p[o->len++] = (uint8_t)hx[(uint8_t)sv[i] & 15];
        }
        o->p[o->len++] = '"';
        return 1;
    }
    return esc_str(o, sv, sl, row_max) < 0 ? -FL_ENOMEM : 1;
}

static int encode_row(struct influx *s, const struct influx_plan *p, const struct fl_batch *b,
                      uint32_t r, uint64_t now, struct tallies *t)
{
    struct fl_dbuf *o = fl_deliver_buf(s->d);
    size_t start = o->len;
    int rc = fl_dbuf_reserve(o, p->row_max);
    if (rc < 0)
        return rc;
    memcpy(o->p + o->len, s->meas_esc, s->meas_len);
    o->len += s->meas_len;
    for (size_t i = 0; rc == 0 && i < p->n_tags; i++) {
        const struct influx_col *c = &p->tags[i];
        if (!fl_batch_is_valid(b, (uint32_t)c->col, r))
            continue;
        char tb[FL_TEXT_CELL_MAX];
        const char *v;
        size_t n = tag_text(b, c, r, tb, &v);
        if (!n)
            continue;
        o->p[o->len++] = ',';   /* within row_max (strings keep it free after them) */
        memcpy(o->p + o->len, c->key, c->key_len);
        o->len += c->key_len;
        o->p[o->len++] = '=';
        rc = esc_name(o, v, n, 1, &t->nl, p->row_max);
    }
    if (rc < 0)
        goto fail;
    if (s->series.slot && !series_ok(&s->series, hash_bytes(o->p + start, o->len - start), now)) {
        t->series++;
        o->len = start;
        return 0;
    }
    o->p[o->len++] = ' ';   /* within row_max: strings reserve their own room */
    int n_out = 0;
    for (size_t i = 0; i < p->n_fields; i++) {
        const struct influx_col *c = &p->fields[i];
        if (!fl_batch_is_valid(b, (uint32_t)c->col, r))
            continue;
        if ((rc = put_field(s, o, b, c, r, n_out == 0, t, p->row_max)) < 0)
            goto fail;
        n_out += rc;
    }
    if (!n_out) {
        t->no_fields++;
        o->len = start;
        return 0;
    }
    if (p->time_col >= 0 && fl_batch_is_valid(b, (uint32_t)p->time_col, r)) {
        o->p[o->len++] = ' ';
        uint64_t ts = ((const uint64_t *)b->data[p->time_col])[r] / prec_div(s->precision);
        char *e = fl_text_u64((char *)o->p + o->len, ts);
        o->len = (size_t)((uint8_t *)e - o->p);
    }
    o->p[o->len++] = '\n';
    return 1;
fail:
    o->len = start;
    return rc;
}

int influx_encode(struct influx *s, const struct fl_batch *b)
{
    struct influx_plan *p = plan_for(s, b->schema);
    if (!p)
        return -FL_ENOMEM;
    struct tallies t = { 0 };
    uint64_t now = s->series.slot ? fl_now_ns() : 0;
    int rc = 0;
    for (uint32_t r = 0; r < b->rows; r++) {
        if ((rc = encode_row(s, p, b, r, now, &t)) < 0)
            break;
        if (rc > 0 && (rc = fl_deliver_add(s->d, 1)) < 0)
            break;
    }
    if (t.nl)
        fl_counter_add(s->ctx, "newlines_replaced", t.nl);
    if (t.clamped)
        fl_counter_add(s->ctx, "u64_clamped", t.clamped);
    if (t.nonfinite)
        fl_counter_add(s->ctx, "floats_nonfinite", t.nonfinite);
    if (t.no_fields)
        fl_counter_add(s->ctx, "records_no_fields", t.no_fields);
    if (t.series) {
        fl_counter_add(s->ctx, "series_limited", t.series);
        FL_LOG_WARN_RL(s->ctx, "max_series: %zu tag sets this hour; %llu records with new ones "
                       "not written", s->series.n, (unsigned long long)t.series);
    }
    return rc < 0 ? rc : 0;
}
