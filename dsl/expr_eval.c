/* expr_eval.c: runs a compiled expression over a batch, a chunk of
 * EX_CHUNK rows at a time, one typed loop per operation (the compiler
 * vectorises them), and writes the result column or a row mask. Missing
 * values travel as validity bitmaps beside the cells: an operation's
 * result is valid where its inputs are (and, for division, where the
 * divisor is not zero); `and`/`or` follow three-valued logic, coalesce
 * takes the first valid. Cells of invalid rows hold arbitrary values and
 * are never looked at. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "expr_int.h"

#define NW(n) (((n) + 63) / 64)

/* Validity of a result that is valid where both inputs are. */
static void valid_and(struct ex_reg *d, const struct ex_reg *a, const struct ex_reg *b, uint32_t n)
{
    const uint64_t *va = a ? a->valid : NULL, *vb = b ? b->valid : NULL;
    if (!va || !vb) {
        d->valid = va ? va : vb;
        return;
    }
    for (uint32_t w = 0; w < NW(n); w++)
        d->vbuf[w] = va[w] & vb[w];
    d->valid = d->vbuf;
}

/* Clear the validity of rows whose bad[i] is set (division by zero, log of
 * a non-positive number, a float out of the integer range). */
static void valid_clear(struct ex_reg *d, const uint8_t *bad, uint32_t n)
{
    uint64_t any = 0;
    for (uint32_t i = 0; i < n; i++)
        any |= bad[i];
    if (!any)
        return;
    if (d->valid != d->vbuf) {
        if (d->valid)
            memcpy(d->vbuf, d->valid, NW(n) * 8);
        else
            memset(d->vbuf, 0xff, NW(n) * 8);
        d->valid = d->vbuf;
    }
    for (uint32_t i = 0; i < n; i++)
        if (bad[i])
            d->vbuf[i / 64] &= ~(1ull << (i % 64));
}

static bool is_valid(const struct ex_reg *r, uint32_t i)
{
    return !r->valid || (r->valid[i / 64] >> (i % 64) & 1);
}

#define I64(r) ((int64_t *)(r)->buf)
#define CI64(r) ((const int64_t *)(r)->data)
#define F64(r) ((double *)(r)->buf)
#define CF64(r) ((const double *)(r)->data)
#define U8(r) ((uint8_t *)(r)->buf)
#define CU8(r) ((const uint8_t *)(r)->data)
#define CSTR(r) ((const struct ex_str *)(r)->data)
#define CADDR(r) ((const struct fl_addr *)(r)->data)

/* Integer arithmetic wraps (two's complement): done in uint64_t, where
 * overflow is defined. */
#define LOOP_BIN(T_OUT, T_IN, expr) do {                                    \
        T_OUT *o_ = (T_OUT *)d->buf;                                        \
        const T_IN *x_ = (const T_IN *)a->data, *y_ = (const T_IN *)b->data;\
        for (uint32_t i = 0; i < n; i++) {                                  \
            T_IN x = x_[i], y = y_[i];                                      \
            o_[i] = (T_OUT)(expr);                                          \
        }                                                                   \
        valid_and(d, a, b, n);                                              \
    } while (0)

#define LOOP_UN(T_OUT, T_IN, expr) do {                                     \
        T_OUT *o_ = (T_OUT *)d->buf;                                        \
        const T_IN *x_ = (const T_IN *)a->data;                             \
        for (uint32_t i = 0; i < n; i++) {                                  \
            T_IN x = x_[i];                                                 \
            o_[i] = (T_OUT)(expr);                                          \
        }                                                                   \
        d->valid = a->valid;                                                \
    } while (0)

static int str_cmp(struct ex_str x, struct ex_str y)
{
    int c = memcmp(x.p, y.p, x.n < y.n ? x.n : y.n);
    return c ? c : (x.n > y.n) - (x.n < y.n);
}

static bool str_contains(struct ex_str h, struct ex_str nd)
{
    if (nd.n == 0)
        return true;
    if (nd.n > h.n)
        return false;
    return memmem(h.p, h.n, nd.p, nd.n) != NULL;
}

static void load(struct fl_expr *e, struct ex_reg *d, const struct ex_op *op,
                 const struct fl_batch *in, uint32_t row0, uint32_t n)
{
    uint32_t col = op->aux;
    const char *base = in->data[col];
    d->valid = in->valid[col] ? in->valid[col] + row0 / 64 : NULL;
    switch (op->code) {
    case OP_LOAD_I64: d->data = base + (size_t)row0 * 8; break;
    case OP_LOAD_F64: d->data = base + (size_t)row0 * 8; break;
    case OP_LOAD_BOOL: d->data = base + row0; break;
    case OP_LOAD_ADDR: d->data = base + (size_t)row0 * sizeof(struct fl_addr); break;
    case OP_LOAD_U8:
        for (uint32_t i = 0; i < n; i++)
            I64(d)[i] = ((const uint8_t *)base)[row0 + i];
        break;
    case OP_LOAD_U16:
        for (uint32_t i = 0; i < n; i++)
            I64(d)[i] = ((const uint16_t *)base)[row0 + i];
        break;
    case OP_LOAD_U32:
        for (uint32_t i = 0; i < n; i++)
            I64(d)[i] = ((const uint32_t *)base)[row0 + i];
        break;
    default: {  /* OP_LOAD_STR */
        const struct fl_span *sp = (const struct fl_span *)base + row0;
        struct ex_str *o = (struct ex_str *)d->buf;
        for (uint32_t i = 0; i < n; i++)
            o[i] = (struct ex_str){ fl_batch_bytes(in, sp[i]), sp[i].len };
    }
    }
    (void)e;
}

static void run_in(const struct ex_set *s, struct ex_reg *d, const struct ex_reg *a, int code,
                   uint32_t n)
{
    uint8_t *o = U8(d);
    memset(o, 0, n);
    for (uint32_t k = 0; k < s->n; k++) {
        switch (code) {
        case OP_IN_I: {
            int64_t v = s->i[k];
            for (uint32_t i = 0; i < n; i++)
                o[i] |= CI64(a)[i] == v;
            break;
        }
        case OP_IN_F: {
            double v = s->f[k];
            for (uint32_t i = 0; i < n; i++)
                o[i] |= CF64(a)[i] == v;
            break;
        }
        case OP_IN_S:
            for (uint32_t i = 0; i < n; i++)
                o[i] |= str_cmp(CSTR(a)[i], s->s[k]) == 0;
            break;
        default: {
            /* The block as two masked 64-bit halves: two loads, two ands,
             * two compares per row. */
            uint64_t nh, nl, mh, ml;
            unsigned p = s->prefix[k];
            memcpy(&nh, s->a[k].b, 8);
            memcpy(&nl, s->a[k].b + 8, 8);
            nh = __builtin_bswap64(nh);
            nl = __builtin_bswap64(nl);
            mh = p >= 64 ? ~0ull : p ? ~0ull << (64 - p) : 0;
            ml = p >= 128 ? ~0ull : p > 64 ? ~0ull << (128 - p) : 0;
            nh &= mh;
            nl &= ml;
            for (uint32_t i = 0; i < n; i++) {
                uint64_t h, l;
                memcpy(&h, CADDR(a)[i].b, 8);
                memcpy(&l, CADDR(a)[i].b + 8, 8);
                o[i] |= (uint8_t)(((__builtin_bswap64(h) & mh) == nh)
                                  & ((__builtin_bswap64(l) & ml) == nl));
            }
        }
        }
    }
    d->valid = a->valid;
}

/* and/or with missing values (Kleene): false and missing = false, true or
 * missing = true, otherwise missing if either is. */
static void run_logic(struct ex_reg *d, const struct ex_reg *a, const struct ex_reg *b,
                      bool is_and, uint32_t n)
{
    const uint8_t *x = CU8(a), *y = CU8(b);
    uint8_t *o = U8(d);
    if (is_and)
        for (uint32_t i = 0; i < n; i++)
            o[i] = x[i] & y[i];
    else
        for (uint32_t i = 0; i < n; i++)
            o[i] = x[i] | y[i];
    if (!a->valid && !b->valid) {
        d->valid = NULL;
        return;
    }
    for (uint32_t w = 0; w < NW(n); w++) {
        uint64_t va = a->valid ? a->valid[w] : ~0ull, vb = b->valid ? b->valid[w] : ~0ull;
        uint64_t xa = 0, yb = 0;   /* bits of the decisive value: false (and) / true (or) */
        uint32_t end = w * 64 + 64 < n ? 64 : n - w * 64;
        for (uint32_t j = 0; j < end; j++) {
            uint32_t i = w * 64 + j;
            xa |= (uint64_t)(is_and ? !x[i] : x[i]) << j;
            yb |= (uint64_t)(is_and ? !y[i] : y[i]) << j;
        }
        d->vbuf[w] = (va & vb) | (va & xa) | (vb & yb);
    }
    d->valid = d->vbuf;
}

static void run_coalesce(struct ex_reg *d, const struct ex_reg *a, const struct ex_reg *b,
                         uint32_t n)
{
    size_t cell = d->vt == VT_BOOL ? 1 : d->vt == VT_STR ? sizeof(struct ex_str)
                  : d->vt == VT_ADDR ? sizeof(struct fl_addr) : 8;
    if (!a->valid) {
        memcpy(d->buf, a->data, n * cell);
        d->valid = NULL;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        memcpy((char *)d->buf + i * cell,
               (const char *)(is_valid(a, i) ? a->data : b->data) + i * cell, cell);
    if (!b->valid) {
        d->valid = NULL;
        return;
    }
    for (uint32_t w = 0; w < NW(n); w++)
        d->vbuf[w] = a->valid[w] | b->valid[w];
    d->valid = d->vbuf;
}

void ex_run_chunk(struct fl_expr *e, const struct fl_batch *in, uint32_t row0, uint32_t n)
{
    uint8_t bad[EX_CHUNK];
    for (uint32_t k = 0; k < e->nops; k++) {
        const struct ex_op *op = &e->ops[k];
        struct ex_reg *d = &e->regs[op->dst];
        const struct ex_reg *a = &e->regs[op->a], *b = &e->regs[op->b];
        d->data = d->buf;
        switch (op->code) {
        case OP_LOAD_I64: case OP_LOAD_U8: case OP_LOAD_U16: case OP_LOAD_U32:
        case OP_LOAD_F64: case OP_LOAD_BOOL: case OP_LOAD_ADDR: case OP_LOAD_STR:
            load(e, d, op, in, row0, n);
            break;
        case OP_I2F: LOOP_UN(double, int64_t, (double)x); break;
        case OP_B2I: LOOP_UN(int64_t, uint8_t, x); break;
        case OP_F2I:
            /* A float outside int64's range (or NaN) has no integer: missing. */
            LOOP_UN(int64_t, double, (x >= -9.2233720368547758e18 && x < 9.2233720368547758e18) ? (int64_t)x : 0);
            for (uint32_t i = 0; i < n; i++)
                bad[i] = !(CF64(a)[i] >= -9.2233720368547758e18 && CF64(a)[i] < 9.2233720368547758e18);
            valid_clear(d, bad, n);
            break;
        case OP_ADD_I: LOOP_BIN(int64_t, int64_t, (uint64_t)x + (uint64_t)y); break;
        case OP_SUB_I: LOOP_BIN(int64_t, int64_t, (uint64_t)x - (uint64_t)y); break;
        case OP_MUL_I: LOOP_BIN(int64_t, int64_t, (uint64_t)x * (uint64_t)y); break;
        case OP_DIV_I:
            /* y == -1: negate (wraps for INT64_MIN, where C's / traps). */
            LOOP_BIN(int64_t, int64_t, y == 0 ? 0 : y == -1 ? (int64_t)(0 - (uint64_t)x) : x / y);
            for (uint32_t i = 0; i < n; i++)
                bad[i] = CI64(b)[i] == 0;
            valid_clear(d, bad, n);
            break;
        case OP_MOD_I:
            LOOP_BIN(int64_t, int64_t, (y == 0 || y == -1) ? 0 : x % y);
            for (uint32_t i = 0; i < n; i++)
                bad[i] = CI64(b)[i] == 0;
            valid_clear(d, bad, n);
            break;
        case OP_ADD_F: LOOP_BIN(double, double, x + y); break;
        case OP_SUB_F: LOOP_BIN(double, double, x - y); break;
        case OP_MUL_F: LOOP_BIN(double, double, x * y); break;
        case OP_DIV_F:
            LOOP_BIN(double, double, y == 0 ? 0 : x / y);
            for (uint32_t i = 0; i < n; i++)
                bad[i] = CF64(b)[i] == 0;
            valid_clear(d, bad, n);
            break;
        case OP_MOD_F:
            LOOP_BIN(double, double, y == 0 ? 0 : fmod(x, y));
            for (uint32_t i = 0; i < n; i++)
                bad[i] = CF64(b)[i] == 0;
            valid_clear(d, bad, n);
            break;
        case OP_NEG_I: LOOP_UN(int64_t, int64_t, 0 - (uint64_t)x); break;
        case OP_NEG_F: LOOP_UN(double, double, -x); break;
        case OP_ABS_I: LOOP_UN(int64_t, int64_t, x < 0 ? 0 - (uint64_t)x : (uint64_t)x); break;
        case OP_ABS_F: LOOP_UN(double, double, fabs(x)); break;
        case OP_LOG:
            LOOP_UN(double, double, x > 0 ? log(x) : 0);
            for (uint32_t i = 0; i < n; i++)
                bad[i] = !(CF64(a)[i] > 0);
            valid_clear(d, bad, n);
            break;
        case OP_ROUND:
            LOOP_UN(int64_t, double, (x >= -9.2233720368547758e18 && x < 9.2233720368547758e18) ? (int64_t)round(x) : 0);
            for (uint32_t i = 0; i < n; i++)
                bad[i] = !(CF64(a)[i] >= -9.2233720368547758e18 && CF64(a)[i] < 9.2233720368547758e18);
            valid_clear(d, bad, n);
            break;
        case OP_ROUND_N: {
            int digits = (int)op->aux - 15;
            double scale = pow(10, digits);
            LOOP_UN(double, double, round(x * scale) / scale);
            break;
        }
        case OP_MIN_I: LOOP_BIN(int64_t, int64_t, x < y ? x : y); break;
        case OP_MAX_I: LOOP_BIN(int64_t, int64_t, x > y ? x : y); break;
        case OP_MIN_F: LOOP_BIN(double, double, x < y ? x : y); break;
        case OP_MAX_F: LOOP_BIN(double, double, x > y ? x : y); break;
        case OP_EQ_I: LOOP_BIN(uint8_t, int64_t, x == y); break;
        case OP_NE_I: LOOP_BIN(uint8_t, int64_t, x != y); break;
        case OP_LT_I: LOOP_BIN(uint8_t, int64_t, x < y); break;
        case OP_LE_I: LOOP_BIN(uint8_t, int64_t, x <= y); break;
        case OP_GT_I: LOOP_BIN(uint8_t, int64_t, x > y); break;
        case OP_GE_I: LOOP_BIN(uint8_t, int64_t, x >= y); break;
        case OP_EQ_F: LOOP_BIN(uint8_t, double, x == y); break;
        case OP_NE_F: LOOP_BIN(uint8_t, double, x != y); break;
        case OP_LT_F: LOOP_BIN(uint8_t, double, x < y); break;
        case OP_LE_F: LOOP_BIN(uint8_t, double, x <= y); break;
        case OP_GT_F: LOOP_BIN(uint8_t, double, x > y); break;
        case OP_GE_F: LOOP_BIN(uint8_t, double, x >= y); break;
        case OP_EQ_S: LOOP_BIN(uint8_t, struct ex_str, str_cmp(x, y) == 0); break;
        case OP_NE_S: LOOP_BIN(uint8_t, struct ex_str, str_cmp(x, y) != 0); break;
        case OP_LT_S: LOOP_BIN(uint8_t, struct ex_str, str_cmp(x, y) < 0); break;
        case OP_LE_S: LOOP_BIN(uint8_t, struct ex_str, str_cmp(x, y) <= 0); break;
        case OP_GT_S: LOOP_BIN(uint8_t, struct ex_str, str_cmp(x, y) > 0); break;
        case OP_GE_S: LOOP_BIN(uint8_t, struct ex_str, str_cmp(x, y) >= 0); break;
        case OP_EQ_A: LOOP_BIN(uint8_t, struct fl_addr, memcmp(&x, &y, 16) == 0); break;
        case OP_NE_A: LOOP_BIN(uint8_t, struct fl_addr, memcmp(&x, &y, 16) != 0); break;
        case OP_LT_A: LOOP_BIN(uint8_t, struct fl_addr, memcmp(&x, &y, 16) < 0); break;
        case OP_LE_A: LOOP_BIN(uint8_t, struct fl_addr, memcmp(&x, &y, 16) <= 0); break;
        case OP_GT_A: LOOP_BIN(uint8_t, struct fl_addr, memcmp(&x, &y, 16) > 0); break;
        case OP_GE_A: LOOP_BIN(uint8_t, struct fl_addr, memcmp(&x, &y, 16) >= 0); break;
        case OP_AND: run_logic(d, a, b, true, n); break;
        case OP_OR: run_logic(d, a, b, false, n); break;
        case OP_NOT: LOOP_UN(uint8_t, uint8_t, !x); break;
        case OP_IN_I: case OP_IN_F: case OP_IN_S: case OP_IN_A:
            run_in(&e->sets[op->aux], d, a, op->code, n);
            break;
        case OP_COALESCE: run_coalesce(d, a, b, n); break;
        case OP_STARTS_WITH:
            LOOP_BIN(uint8_t, struct ex_str, x.n >= y.n && memcmp(x.p, y.p, y.n) == 0);
            break;
        case OP_CONTAINS: LOOP_BIN(uint8_t, struct ex_str, str_contains(x, y)); break;
        }
    }
}

static int check_batch(const struct fl_expr *e, const struct fl_batch *in)
{
    return e && in && in->schema == e->schema ? 0 : -FL_EINVAL;
}

int fl_expr_eval(struct fl_expr *e, const struct fl_batch *in, struct fl_batch *dst, uint32_t col)
{
    int rc;
    if ((rc = check_batch(e, in)) < 0 || !dst || col >= dst->schema->ncols
        || dst->schema->cols[col]->type != ex_vt_column(e->vt) || dst->cap < in->rows)
        return rc < 0 ? rc : -FL_EINVAL;
    const struct ex_reg *r = &e->regs[e->result];
    size_t cell = fl_type_size(ex_vt_column(e->vt));
    for (uint32_t row0 = 0; row0 < in->rows; row0 += EX_CHUNK) {
        uint32_t n = in->rows - row0 < EX_CHUNK ? in->rows - row0 : EX_CHUNK;
        ex_run_chunk(e, in, row0, n);
        char *out = (char *)dst->data[col] + (size_t)row0 * cell;
        if (e->vt == VT_STR) {
            for (uint32_t i = 0; i < n; i++) {
                struct fl_span *sp = (struct fl_span *)out + i;
                *sp = (struct fl_span){ 0, 0 };
                if (is_valid(r, i)
                    && (rc = fl_batch_put_bytes(dst, CSTR(r)[i].p, CSTR(r)[i].n, sp)) < 0)
                    return rc;
            }
        } else {
            memcpy(out, r->data, (size_t)n * cell);
        }
        if (r->valid)
            for (uint32_t i = 0; i < n; i++)
                if (!is_valid(r, i) && (rc = fl_batch_set_missing(dst, col, row0 + i)) < 0)
                    return rc;
    }
    return 0;
}

int fl_expr_eval_mask(struct fl_expr *e, const struct fl_batch *in, uint64_t *keep,
                      uint32_t *n_kept)
{
    int rc;
    uint32_t kept = 0;
    if ((rc = check_batch(e, in)) < 0 || e->vt != VT_BOOL)
        return rc < 0 ? rc : -FL_ETYPE;
    const struct ex_reg *r = &e->regs[e->result];
    for (uint32_t row0 = 0; row0 < in->rows; row0 += EX_CHUNK) {
        uint32_t n = in->rows - row0 < EX_CHUNK ? in->rows - row0 : EX_CHUNK;
        ex_run_chunk(e, in, row0, n);
        const uint8_t *v = CU8(r);
        for (uint32_t w = 0; w < NW(n); w++) {
            uint64_t bits = 0;
            uint32_t end = w * 64 + 64 < n ? 64 : n - w * 64;
            for (uint32_t j = 0; j < end; j++)
                bits |= (uint64_t)(v[w * 64 + j] & 1) << j;
            if (r->valid)
                bits &= r->valid[w];
            if (end < 64)
                bits &= (1ull << end) - 1;
            keep[row0 / 64 + w] = bits;
            kept += (uint32_t)__builtin_popcountll(bits);
        }
    }
    if (n_kept)
        *n_kept = kept;
    return 0;
}
