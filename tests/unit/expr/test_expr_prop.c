/* test_expr_prop.c: property test of the evaluator. Random well-typed
 * expressions over random batches (values near the edges: 0, -1, the
 * int64 limits; random missing cells; lengths across chunk boundaries)
 * are evaluated a column at a time by fl_expr_eval and, row by row, by the
 * straightforward tree walk below, written from the rules in docs/dsl.md;
 * every row's validity and value must agree. The seed is printed, and
 * FL_EXPR_SEED=N replays a run. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "expr_int.h"
#include "fl_harness.h"

static const struct fl_col_def cols[] = {
    { "bytes", FL_T_U64 }, { "packets", FL_T_U64 }, { "proto", FL_T_U8 },
    { "dst_port", FL_T_U16 }, { "ps_avg", FL_T_F64 }, { "duration", FL_T_DUR },
    { "src_addr", FL_T_ADDR }, { "end_reason", FL_T_STR }, { "delta", FL_T_I64 },
    { "flag", FL_T_BOOL }, { "ip_len", FL_T_U32 },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static uint64_t rng_state;
static uint64_t rnd(void)   /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static uint32_t pick(uint32_t n) { return (uint32_t)(rnd() % n); }

/* ---- random expressions, fully parenthesised --------------------------- */
struct gen { char buf[8192]; size_t n; };
static void put(struct gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(g->buf + g->n, sizeof(g->buf) - g->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        g->n += (size_t)k < sizeof(g->buf) - g->n ? (size_t)k : sizeof(g->buf) - g->n - 1;
}

static void g_int(struct gen *g, int d);
static void g_float(struct gen *g, int d);
static void g_dur(struct gen *g, int d);
static void g_str(struct gen *g, int d);

static void g_int(struct gen *g, int d)
{
    static const char *const f[] = {"bytes", "packets", "proto", "dst_port", "delta", "ip_len"};
    static const char *const lit[] = {"0", "1", "-1", "7", "255", "9223372036854775807", "-3", "0x10"};
    static const char *const ops[] = {"+", "-", "*", "%"};
    switch (d <= 0 ? pick(2) : pick(10)) {
    case 0: put(g, "%s", f[pick(6)]); return;
    case 1: put(g, "%s", lit[pick(8)]); return;
    case 2: case 3: case 4:
        put(g, "(");
        g_int(g, d - 1);
        put(g, " %s ", ops[pick(4)]);
        g_int(g, d - 1);
        put(g, ")");
        return;
    case 5: put(g, "-("); g_int(g, d - 1); put(g, ")"); return;
    case 6: put(g, "%s(", pick(2) ? "min" : "max"); g_int(g, d - 1); put(g, ", "); g_int(g, d - 1); put(g, ")"); return;
    case 7: put(g, "abs("); g_int(g, d - 1); put(g, ")"); return;
    case 8: put(g, "round("); g_float(g, d - 1); put(g, ")"); return;
    default: put(g, "coalesce("); g_int(g, d - 1); put(g, ", "); g_int(g, d - 1); put(g, ")"); return;
    }
}

static void g_float(struct gen *g, int d)
{
    static const char *const lit[] = {"0.0", "2.5", "-1.5", "1e3", "0.1"};
    static const char *const ops[] = {"+", "-", "*", "/", "%"};
    switch (d <= 0 ? pick(2) : pick(8)) {
    case 0: put(g, "ps_avg"); return;
    case 1: put(g, "%s", lit[pick(5)]); return;
    case 2: case 3:
        put(g, "(");
        if (pick(2)) g_float(g, d - 1); else g_int(g, d - 1);
        put(g, " %s ", ops[pick(5)]);
        g_float(g, d - 1);
        put(g, ")");
        return;
    case 4: put(g, "("); g_int(g, d - 1); put(g, " / "); g_int(g, d - 1); put(g, ")"); return;
    case 5: put(g, "log("); g_float(g, d - 1); put(g, ")"); return;
    case 6: put(g, "round("); g_float(g, d - 1); put(g, ", %d)", (int)pick(5) - 1); return;
    default: put(g, "max("); g_float(g, d - 1); put(g, ", "); g_int(g, d - 1); put(g, ")"); return;
    }
}

static void g_dur(struct gen *g, int d)
{
    static const char *const lit[] = {"0s", "5s", "1m", "250ms", "-1s", "1h30m"};
    switch (d <= 0 ? pick(2) : pick(7)) {
    case 0: put(g, "duration"); return;
    case 1: put(g, "%s", lit[pick(6)]); return;
    case 2: put(g, "("); g_dur(g, d - 1); put(g, pick(2) ? " + " : " - "); g_dur(g, d - 1); put(g, ")"); return;
    case 3: put(g, "("); g_dur(g, d - 1); put(g, " * "); if (pick(2)) g_int(g, d - 1); else g_float(g, d - 1); put(g, ")"); return;
    case 4: put(g, "("); g_dur(g, d - 1); put(g, " / "); if (pick(2)) g_int(g, d - 1); else g_float(g, d - 1); put(g, ")"); return;
    case 5: put(g, "("); g_dur(g, d - 1); put(g, " %% "); g_dur(g, d - 1); put(g, ")"); return;
    default: put(g, "abs("); g_dur(g, d - 1); put(g, ")"); return;
    }
}

static void g_str(struct gen *g, int d)
{
    static const char *const lit[] = {"''", "'idle'", "\"fin\"", "'a'"};
    switch (d <= 0 ? pick(2) : pick(3)) {
    case 0: put(g, "end_reason"); return;
    case 1: put(g, "%s", lit[pick(4)]); return;
    default: put(g, "coalesce("); g_str(g, d - 1); put(g, ", "); g_str(g, d - 1); put(g, ")"); return;
    }
}

static void g_bool(struct gen *g, int d)
{
    static const char *const cmp[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char *const cidr[] = {"10.0.0.0/8", "0.0.0.0/0", "::/0", "2001:db8::/32",
                                       "192.168.1.128/25", "::ffff:0:0/96", "10.0.0.1"};
    switch (d <= 0 ? pick(3) : pick(13)) {
    case 0: put(g, "flag"); return;
    case 1: put(g, pick(2) ? "true" : "false"); return;
    case 2: put(g, "(src_addr in %s)", cidr[pick(7)]); return;
    case 3: put(g, "("); g_int(g, d - 1); put(g, " %s ", cmp[pick(6)]); g_int(g, d - 1); put(g, ")"); return;
    case 4: put(g, "("); g_float(g, d - 1); put(g, " %s ", cmp[pick(6)]); g_int(g, d - 1); put(g, ")"); return;
    case 5: put(g, "("); g_dur(g, d - 1); put(g, " %s ", cmp[pick(6)]); g_dur(g, d - 1); put(g, ")"); return;
    case 6: put(g, "("); g_str(g, d - 1); put(g, " %s ", cmp[pick(6)]); g_str(g, d - 1); put(g, ")"); return;
    case 7: case 8: put(g, "("); g_bool(g, d - 1); put(g, pick(2) ? " and " : " or "); g_bool(g, d - 1); put(g, ")"); return;
    case 9: put(g, "(not "); g_bool(g, d - 1); put(g, ")"); return;
    case 10: put(g, "("); g_int(g, d - 1); put(g, pick(2) ? " in (0, 6, -1, 443, 2.5)" : " not in (1, 17)"); put(g, ")"); return;
    case 11: put(g, "%s(", pick(2) ? "starts_with" : "contains"); g_str(g, d - 1); put(g, ", "); g_str(g, d - 1); put(g, ")"); return;
    default: put(g, "(end_reason in ('idle', 'fin', ''))"); return;
    }
}

/* ---- the reference: one row at a time ---------------------------------- */
struct val { bool ok; enum ex_vt vt; int64_t i; double f; struct ex_str s; struct fl_addr a; };

static double as_f(struct val v) { return v.vt == VT_FLOAT ? v.f : (double)v.i; }
static struct val missing(enum ex_vt vt) { struct val v = { .ok = false, .vt = vt }; return v; }
static struct val mk_i(enum ex_vt vt, int64_t i) { struct val v = { .ok = true, .vt = vt, .i = i }; return v; }
static struct val mk_f(double f) { struct val v = { .ok = true, .vt = VT_FLOAT, .f = f }; return v; }
static struct val mk_b(bool b) { return mk_i(VT_BOOL, b); }
static struct val to_int_range(enum ex_vt vt, double x)
{
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return missing(vt);
    return mk_i(vt, (int64_t)x);
}
static int scmp(struct ex_str a, struct ex_str b)
{
    size_t m = a.n < b.n ? a.n : b.n;
    int c = m ? memcmp(a.p, b.p, m) : 0;
    return c ? c : (a.n > b.n) - (a.n < b.n);
}
static int64_t wrap(uint64_t u) { return (int64_t)u; }

static struct val ref(const struct ex_node *n, const struct fl_batch *b, uint32_t r);

static struct val ref_arith(const struct ex_node *n, struct val x, struct val y)
{
    enum ex_vt t = n->vt;
    if (!x.ok || !y.ok)
        return missing(t);
    int op = n->op;
    if (t == VT_FLOAT || x.vt == VT_FLOAT || y.vt == VT_FLOAT) {
        double a = as_f(x), c = as_f(y), res;
        if ((op == TK_SLASH || op == TK_PCT) && c == 0)
            return missing(t);
        switch (op) {
        case TK_PLUS: res = a + c; break;
        case TK_MINUS: res = a - c; break;
        case TK_STAR: res = a * c; break;
        case TK_SLASH: res = a / c; break;
        default: res = fmod(a, c);
        }
        return t == VT_FLOAT ? mk_f(res) : to_int_range(t, res);
    }
    int64_t a = x.i, c = y.i;
    switch (op) {
    case TK_PLUS: return mk_i(t, wrap((uint64_t)a + (uint64_t)c));
    case TK_MINUS: return mk_i(t, wrap((uint64_t)a - (uint64_t)c));
    case TK_STAR: return mk_i(t, wrap((uint64_t)a * (uint64_t)c));
    case TK_SLASH:
        if (c == 0) return missing(t);
        return mk_i(t, c == -1 ? wrap(0 - (uint64_t)a) : a / c);
    default:
        if (c == 0) return missing(t);
        return mk_i(t, c == -1 ? 0 : a % c);
    }
}

static struct val ref_cmp(int op, struct val x, struct val y)
{
    if (!x.ok || !y.ok)
        return missing(VT_BOOL);
    int c;
    if (x.vt == VT_FLOAT || y.vt == VT_FLOAT) {
        double a = as_f(x), d = as_f(y);
        switch (op) {
        case TK_EQ: return mk_b(a == d);
        case TK_NE: return mk_b(a != d);
        case TK_LT: return mk_b(a < d);
        case TK_LE: return mk_b(a <= d);
        case TK_GT: return mk_b(a > d);
        default: return mk_b(a >= d);
        }
    }
    if (x.vt == VT_STR)
        c = scmp(x.s, y.s);
    else if (x.vt == VT_ADDR)
        c = memcmp(x.a.b, y.a.b, 16);
    else
        c = (x.i > y.i) - (x.i < y.i);
    switch (op) {
    case TK_EQ: return mk_b(c == 0);
    case TK_NE: return mk_b(c != 0);
    case TK_LT: return mk_b(c < 0);
    case TK_LE: return mk_b(c <= 0);
    case TK_GT: return mk_b(c > 0);
    default: return mk_b(c >= 0);
    }
}

static struct val convert(struct val v, enum ex_vt t)
{
    if (v.ok && t == VT_FLOAT && v.vt != VT_FLOAT)
        return mk_f((double)v.i);
    v.vt = t == VT_FLOAT ? VT_FLOAT : v.vt;
    return v;
}

static struct val ref_call(const struct ex_node *n, const struct fl_batch *b, uint32_t r)
{
    struct val a = ref(n->args[0], b, r), c;
    switch (n->op) {
    case FN_MIN: case FN_MAX: case FN_COALESCE: {
        struct val acc = convert(a, n->vt);
        for (uint32_t k = 1; k < n->nargs; k++) {
            c = convert(ref(n->args[k], b, r), n->vt);
            if (n->op == FN_COALESCE) {
                if (!acc.ok) acc = c;
                continue;
            }
            if (!acc.ok || !c.ok) {
                acc = missing(n->vt);
                continue;
            }
            bool less = n->vt == VT_FLOAT ? c.f < acc.f : c.i < acc.i;
            bool more = n->vt == VT_FLOAT ? c.f > acc.f : c.i > acc.i;
            if ((n->op == FN_MIN && less) || (n->op == FN_MAX && more))
                acc = c;
        }
        acc.vt = n->vt;
        return acc;
    }
    case FN_ABS:
        if (!a.ok) return missing(n->vt);
        if (a.vt == VT_FLOAT) return mk_f(fabs(a.f));
        return mk_i(n->vt, a.i < 0 ? wrap(0 - (uint64_t)a.i) : a.i);
    case FN_LOG:
        if (!a.ok || !(as_f(a) > 0)) return missing(VT_FLOAT);
        return mk_f(log(as_f(a)));
    case FN_ROUND:
        if (!a.ok) return missing(n->vt);
        if (n->nargs == 2) {
            double s = pow(10, (double)n->args[1]->v.i);
            return mk_f(round(as_f(a) * s) / s);
        }
        if (a.vt == VT_INT) return a;
        if (!(a.f >= -9223372036854775808.0 && a.f < 9223372036854775808.0)) return missing(VT_INT);
        return mk_i(VT_INT, (int64_t)round(a.f));
    default:
        c = ref(n->args[1], b, r);
        if (!a.ok || !c.ok) return missing(VT_BOOL);
        if (n->op == FN_STARTS_WITH)
            return mk_b(a.s.n >= c.s.n && memcmp(a.s.p, c.s.p, c.s.n) == 0);
        if (c.s.n == 0) return mk_b(true);
        for (uint32_t k = 0; k + c.s.n <= a.s.n; k++)
            if (memcmp(a.s.p + k, c.s.p, c.s.n) == 0)
                return mk_b(true);
        return mk_b(false);
    }
}

static struct val ref(const struct ex_node *n, const struct fl_batch *b, uint32_t r)
{
    struct val x, y;
    switch (n->kind) {
    case EX_LIT:
        x = (struct val){ .ok = true, .vt = n->vt, .i = n->v.i, .f = n->v.f };
        if (n->vt == VT_STR) x.s = (struct ex_str){ n->v.s.p, n->v.s.n };
        if (n->vt == VT_ADDR) x.a = n->v.addr.a;
        return x;
    case EX_FIELD: {
        if (!fl_batch_is_valid(b, (uint32_t)n->col, r))
            return missing(n->vt);
        const void *c = b->data[n->col];
        switch (n->ctype) {
        case FL_T_U8: return mk_i(VT_INT, ((const uint8_t *)c)[r]);
        case FL_T_U16: return mk_i(VT_INT, ((const uint16_t *)c)[r]);
        case FL_T_U32: return mk_i(VT_INT, ((const uint32_t *)c)[r]);
        case FL_T_F64: return mk_f(((const double *)c)[r]);
        case FL_T_BOOL: return mk_b(((const bool *)c)[r]);
        case FL_T_ADDR: x = mk_i(VT_ADDR, 0); x.a = ((const struct fl_addr *)c)[r]; return x;
        case FL_T_STR: {
            struct fl_span s = ((const struct fl_span *)c)[r];
            x = mk_i(VT_STR, 0);
            x.s = (struct ex_str){ fl_batch_bytes(b, s), s.len };
            return x;
        }
        default: return mk_i(n->vt, ((const int64_t *)c)[r]);
        }
    }
    case EX_NEG:
        x = ref(n->args[0], b, r);
        if (!x.ok) return x;
        if (x.vt == VT_FLOAT) return mk_f(-x.f);
        return mk_i(x.vt, wrap(0 - (uint64_t)x.i));
    case EX_NOT:
        x = ref(n->args[0], b, r);
        return x.ok ? mk_b(!x.i) : x;
    case EX_BIN:
        x = ref(n->args[0], b, r);
        y = ref(n->args[1], b, r);
        if (n->op == TK_AND) {
            if ((x.ok && !x.i) || (y.ok && !y.i)) return mk_b(false);
            return x.ok && y.ok ? mk_b(true) : missing(VT_BOOL);
        }
        if (n->op == TK_OR) {
            if ((x.ok && x.i) || (y.ok && y.i)) return mk_b(true);
            return x.ok && y.ok ? mk_b(false) : missing(VT_BOOL);
        }
        if (n->op >= TK_EQ && n->op <= TK_GE)
            return ref_cmp(n->op, x, y);
        return ref_arith(n, x, y);
    case EX_IN: {
        x = ref(n->args[0], b, r);
        if (!x.ok) return missing(VT_BOOL);
        bool hit = false;
        for (uint32_t k = 1; k < n->nargs; k++) {
            const struct ex_node *it = n->args[k];
            if (it->vt == VT_CIDR || x.vt == VT_ADDR)
                hit |= ex_cidr_has(&it->v.addr.a, it->v.addr.prefix, &x.a);
            else if (x.vt == VT_STR)
                hit |= scmp(x.s, (struct ex_str){ it->v.s.p, it->v.s.n }) == 0;
            else if (x.vt == VT_FLOAT || it->vt == VT_FLOAT)
                hit |= as_f(x) == (it->vt == VT_FLOAT ? it->v.f : (double)it->v.i);
            else
                hit |= x.i == it->v.i;
        }
        return mk_b(n->op ? !hit : hit);
    }
    case EX_CALL:
        return ref_call(n, b, r);
    }
    return missing(VT_NONE);
}

/* ---- the property ------------------------------------------------------ */
static int64_t edge_int(void)
{
    static const int64_t e[] = {0, 1, -1, 2, 7, 255, 65535, INT64_MAX, INT64_MIN, 1000000};
    return pick(3) ? (int64_t)pick(2000) - 1000 : e[pick(10)];
}

static struct fl_batch *random_batch(struct fl_ctx *ctx, const struct fl_schema *s, uint32_t rows)
{
    static const char *const strs[] = {"", "idle", "fin", "a", "idler", "active"};
    static const char *const addrs[] = {"10.1.2.3", "10.0.0.1", "192.168.1.200", "192.168.1.1",
                                        "2001:db8::5", "::1", "0.0.0.0", "fe80::1"};
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(ctx, s, rows, &b), 0);
    uint32_t miss = pick(4) ? pick(20) : 0;    /* missing rate in percent, often 0 */
    for (uint32_t r = 0; r < rows; r++) {
        FL_COL(b, 0, uint64_t)[r] = (uint64_t)edge_int();
        FL_COL(b, 1, uint64_t)[r] = (uint64_t)edge_int();
        FL_COL(b, 2, uint8_t)[r] = (uint8_t)(pick(2) ? 6 : pick(256));
        FL_COL(b, 3, uint16_t)[r] = (uint16_t)(pick(2) ? 443 : pick(65536));
        FL_COL(b, 4, double)[r] = pick(4) ? ((double)pick(2000) - 1000) / 8 : 0.0;
        FL_COL(b, 5, int64_t)[r] = pick(2) ? (int64_t)pick(120) * 1000000000 - 5000000000 : edge_int();
        struct fl_addr *a = &FL_COL(b, 6, struct fl_addr)[r];
        memset(a, 0, sizeof(*a));
        const char *txt = addrs[pick(8)];
        if (strchr(txt, ':')) {
            inet_pton(AF_INET6, txt, a->b);
        } else {
            a->b[10] = a->b[11] = 0xff;
            inet_pton(AF_INET, txt, a->b + 12);
        }
        const char *st = strs[pick(6)];
        assert_int_equal(fl_batch_put_bytes(b, st, (uint32_t)strlen(st), &FL_COL(b, 7, struct fl_span)[r]), 0);
        FL_COL(b, 8, int64_t)[r] = edge_int();
        FL_COL(b, 9, bool)[r] = pick(2);
        FL_COL(b, 10, uint32_t)[r] = (uint32_t)rnd();
        for (uint32_t c = 0; c < NCOLS; c++)
            if (miss && pick(100) < miss)
                assert_int_equal(fl_batch_set_missing(b, c, r), 0);
    }
    b->rows = rows;
    return b;
}

static bool same(const struct val *want, const struct fl_batch *ob, uint32_t r, enum fl_type t)
{
    if (!want->ok)
        return !fl_batch_is_valid(ob, 0, r);
    if (!fl_batch_is_valid(ob, 0, r))
        return false;
    switch (t) {
    case FL_T_F64: {
        double g = FL_COL(ob, 0, double)[r];
        return g == want->f || (isnan(g) && isnan(want->f));
    }
    case FL_T_BOOL: return FL_COL(ob, 0, bool)[r] == (want->i != 0);
    case FL_T_STR: {
        struct fl_span s = FL_COL(ob, 0, struct fl_span)[r];
        return s.len == want->s.n && memcmp(fl_batch_bytes(ob, s), want->s.p, s.len) == 0;
    }
    default: return FL_COL(ob, 0, int64_t)[r] == want->i;
    }
}

static void test_property(void **st)
{
    (void)st;
    const char *env = getenv("FL_EXPR_SEED");
    rng_state = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    if (!rng_state)
        rng_state = 1;
    printf("FL_EXPR_SEED=%" PRIu64 "\n", rng_state);
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, cols, NCOLS, sizeof(cols[0]), &s), 0);
    unsigned checked = 0;
    for (int round_ = 0; round_ < 60; round_++) {
        static const uint32_t lens[] = {1, 63, 64, 65, 1023, 1024, 1025, 2500};
        struct fl_batch *b = random_batch(ctx, s, lens[pick(8)]);
        for (int k = 0; k < 40; k++) {
            struct gen g = { .n = 0 };
            int d = 1 + (int)pick(5);
            switch (pick(5)) {
            case 0: g_int(&g, d); break;
            case 1: g_float(&g, d); break;
            case 2: g_dur(&g, d); break;
            case 3: g_str(&g, d); break;
            default: g_bool(&g, d);
            }
            struct fl_expr *e = NULL;
            struct ex_node *tree = NULL;
            struct ex_err err;
            char msg[256];
            if (fl_expr_compile(g.buf, s, &e, NULL, msg, sizeof(msg)) < 0) {
                fprintf(stderr, "does not compile: %s\n  %s\n", g.buf, msg);
                fail();
            }
            assert_int_equal(ex_parse(g.buf, &tree, &err), 0);
            assert_int_equal(ex_check(tree, s, &err), 0);
            enum fl_type t = fl_expr_type(e);
            struct fl_col_def od = { "x", t };
            const struct fl_schema *os;
            struct fl_batch *ob;
            assert_int_equal(fl_schema_intern(ctx, &od, 1, sizeof(od), &os), 0);
            assert_int_equal(fl_batch_new(ctx, os, b->rows, &ob), 0);
            ob->rows = b->rows;
            assert_int_equal(fl_expr_eval(e, b, ob, 0), 0);
            uint64_t *keep = calloc((b->rows + 63) / 64, 8);
            if (t == FL_T_BOOL)
                assert_int_equal(fl_expr_eval_mask(e, b, keep, NULL), 0);
            for (uint32_t r = 0; r < b->rows; r++) {
                struct val want = ref(tree, b, r);
                if (!same(&want, ob, r, t)) {
                    fprintf(stderr, "row %u of %u differs for: %s\n  reference: %s %" PRId64 " %g\n",
                            r, b->rows, g.buf, want.ok ? "valid" : "missing", want.i, want.f);
                    fail();
                }
                if (t == FL_T_BOOL)
                    assert_int_equal(!!(keep[r / 64] >> (r % 64) & 1), want.ok && want.i);
                checked++;
            }
            free(keep);
            fl_batch_release(&ob);
            fl_expr_free(&e);
            ex_node_free(tree);
        }
        fl_batch_release(&b);
    }
    printf("%u rows compared\n", checked);
    fl_test_ctx_destroy(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_property) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
