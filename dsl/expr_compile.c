/* expr_compile.c: a checked tree -> a program of typed vector operations
 * over registers (one per tree node, each a chunk of EX_CHUNK cells), and
 * the public fl_expr_* API around it. Conversions the typing rules imply
 * (int -> float, duration * float) become explicit operations here, so
 * the evaluator's kernels each see one cell type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr_int.h"

static int reg_new(struct fl_expr *e, enum ex_vt vt, uint32_t *out)
{
    if (e->nregs >= UINT16_MAX)
        return -FL_ERANGE;
    struct ex_reg *r = realloc(e->regs, (e->nregs + 1) * sizeof(*r));
    if (!r)
        return -FL_ENOMEM;
    e->regs = r;
    r = &e->regs[e->nregs];
    memset(r, 0, sizeof(*r));
    r->vt = vt;
    r->buf = aligned_alloc(64, EX_CHUNK * 16);
    r->vbuf = aligned_alloc(64, EX_CHUNK / 8);
    if (!r->buf || !r->vbuf) {
        free(r->buf);
        free(r->vbuf);
        return -FL_ENOMEM;
    }
    r->data = r->buf;
    *out = e->nregs++;
    return 0;
}

static int emit(struct fl_expr *e, enum ex_code code, enum ex_vt vt, uint32_t a, uint32_t b,
                uint32_t aux, uint32_t *dst)
{
    int rc = reg_new(e, vt, dst);
    if (rc < 0)
        return rc;
    struct ex_op *ops = realloc(e->ops, (e->nops + 1) * sizeof(*ops));
    if (!ops)
        return -FL_ENOMEM;
    e->ops = ops;
    ops[e->nops++] = (struct ex_op){ .code = (uint16_t)code, .dst = (uint16_t)*dst,
                                     .a = (uint16_t)a, .b = (uint16_t)b, .aux = aux };
    return 0;
}

/* Register r as float (an int, duration or timestamp is converted). */
static int as_float(struct fl_expr *e, uint32_t r, uint32_t *out)
{
    if (e->regs[r].vt == VT_FLOAT) {
        *out = r;
        return 0;
    }
    return emit(e, OP_I2F, VT_FLOAT, r, 0, 0, out);
}

static int keep_str(struct fl_expr *e, const char *p, uint32_t n, const char **out)
{
    char **v = realloc(e->strs, (e->nstrs + 1) * sizeof(*v));
    if (!v)
        return -FL_ENOMEM;
    e->strs = v;
    if (!(v[e->nstrs] = malloc(n + 1)))
        return -FL_ENOMEM;
    memcpy(v[e->nstrs], p, n);
    v[e->nstrs][n] = '\0';
    *out = v[e->nstrs++];
    return 0;
}

static int gen_const(struct fl_expr *e, const struct ex_node *n, uint32_t *out)
{
    int rc = reg_new(e, n->vt, out);
    if (rc < 0)
        return rc;
    struct ex_reg *r = &e->regs[*out];
    r->is_const = true;
    for (uint32_t i = 0; i < EX_CHUNK; i++) {
        switch (n->vt) {
        case VT_FLOAT: ((double *)r->buf)[i] = n->v.f; break;
        case VT_BOOL: ((uint8_t *)r->buf)[i] = (uint8_t)n->v.i; break;
        case VT_ADDR: ((struct fl_addr *)r->buf)[i] = n->v.addr.a; break;
        case VT_STR: break;
        default: ((int64_t *)r->buf)[i] = n->v.i;
        }
    }
    if (n->vt == VT_STR) {
        const char *p;
        if ((rc = keep_str(e, n->v.s.p, n->v.s.n, &p)) < 0)
            return rc;
        for (uint32_t i = 0; i < EX_CHUNK; i++)
            ((struct ex_str *)r->buf)[i] = (struct ex_str){ p, n->v.s.n };
    }
    return 0;
}

static int gen_set(struct fl_expr *e, const struct ex_node *n, enum ex_vt vt, uint32_t *idx)
{
    struct ex_set *sets = realloc(e->sets, (e->nsets + 1) * sizeof(*sets));
    if (!sets)
        return -FL_ENOMEM;
    e->sets = sets;
    struct ex_set *s = &sets[e->nsets++];
    memset(s, 0, sizeof(*s));
    s->vt = vt;
    uint32_t k = n->nargs - 1;
    if (!(s->i = calloc(k, sizeof(*s->i))) || !(s->f = calloc(k, sizeof(*s->f)))
        || !(s->s = calloc(k, sizeof(*s->s))) || !(s->a = calloc(k, sizeof(*s->a)))
        || !(s->prefix = calloc(k, 1)))
        return -FL_ENOMEM;
    for (uint32_t j = 0; j < k; j++) {
        const struct ex_node *it = n->args[j + 1];
        int rc;
        switch (vt) {
        case VT_FLOAT: s->f[j] = it->vt == VT_FLOAT ? it->v.f : (double)it->v.i; break;
        case VT_STR:
            if ((rc = keep_str(e, it->v.s.p, it->v.s.n, &s->s[j].p)) < 0)
                return rc;
            s->s[j].n = it->v.s.n;
            break;
        case VT_ADDR:
            s->a[j] = it->v.addr.a;
            s->prefix[j] = it->v.addr.prefix;
            break;
        default: s->i[j] = it->v.i;
        }
        s->n++;
    }
    *idx = e->nsets - 1;
    return 0;
}

static int gen(struct fl_expr *e, const struct ex_node *n, uint32_t *out);

static int gen_cmp(struct fl_expr *e, int op, uint32_t a, uint32_t b, uint32_t *out)
{
    enum ex_vt ta = e->regs[a].vt, tb = e->regs[b].vt;
    int base, rc;
    if (ta == VT_FLOAT || tb == VT_FLOAT) {
        if ((rc = as_float(e, a, &a)) < 0 || (rc = as_float(e, b, &b)) < 0)
            return rc;
        base = OP_EQ_F;
    } else if (ta == VT_STR) {
        base = OP_EQ_S;
    } else if (ta == VT_ADDR) {
        base = OP_EQ_A;
    } else {
        if (ta == VT_BOOL && ((rc = emit(e, OP_B2I, VT_INT, a, 0, 0, &a)) < 0
                              || (rc = emit(e, OP_B2I, VT_INT, b, 0, 0, &b)) < 0))
            return rc;
        base = OP_EQ_I;
    }
    return emit(e, (enum ex_code)(base + (op - TK_EQ)), VT_BOOL, a, b, 0, out);
}

static int gen_arith(struct fl_expr *e, const struct ex_node *n, uint32_t a, uint32_t b,
                     uint32_t *out)
{
    enum ex_vt ta = e->regs[a].vt, tb = e->regs[b].vt, t = n->vt;
    int op = n->op, rc;
    static const enum ex_code int_ops[] = {
        [TK_PLUS] = OP_ADD_I, [TK_MINUS] = OP_SUB_I, [TK_STAR] = OP_MUL_I,
        [TK_SLASH] = OP_DIV_I, [TK_PCT] = OP_MOD_I };
    static const enum ex_code float_ops[] = {
        [TK_PLUS] = OP_ADD_F, [TK_MINUS] = OP_SUB_F, [TK_STAR] = OP_MUL_F,
        [TK_SLASH] = OP_DIV_F, [TK_PCT] = OP_MOD_F };
    /* A duration times or over a float: computed in float, back to ns. */
    bool via_float = t == VT_FLOAT || (t == VT_DUR && (ta == VT_FLOAT || tb == VT_FLOAT));
    if (!via_float)
        return emit(e, int_ops[op], t, a, b, 0, out);
    if ((rc = as_float(e, a, &a)) < 0 || (rc = as_float(e, b, &b)) < 0)
        return rc;
    if (t == VT_FLOAT)
        return emit(e, float_ops[op], t, a, b, 0, out);
    uint32_t f;
    if ((rc = emit(e, float_ops[op], VT_FLOAT, a, b, 0, &f)) < 0)
        return rc;
    return emit(e, OP_F2I, VT_DUR, f, 0, 0, out);
}

static int gen_call(struct fl_expr *e, const struct ex_node *n, uint32_t *out)
{
    uint32_t r[2], acc;
    int rc;
    switch (n->op) {
    case FN_MIN: case FN_MAX: case FN_COALESCE: {
        bool fl = n->vt == VT_FLOAT;
        if ((rc = gen(e, n->args[0], &acc)) < 0 || (fl && (rc = as_float(e, acc, &acc)) < 0))
            return rc;
        for (uint32_t i = 1; i < n->nargs; i++) {
            enum ex_code c = n->op == FN_COALESCE ? OP_COALESCE
                             : n->op == FN_MIN ? (fl ? OP_MIN_F : OP_MIN_I) : (fl ? OP_MAX_F : OP_MAX_I);
            if ((rc = gen(e, n->args[i], &r[0])) < 0 || (fl && (rc = as_float(e, r[0], &r[0])) < 0)
                || (rc = emit(e, c, n->vt, acc, r[0], 0, &acc)) < 0)
                return rc;
        }
        *out = acc;
        return 0;
    }
    case FN_ABS:
        if ((rc = gen(e, n->args[0], &r[0])) < 0)
            return rc;
        return emit(e, n->vt == VT_FLOAT ? OP_ABS_F : OP_ABS_I, n->vt, r[0], 0, 0, out);
    case FN_LOG:
        if ((rc = gen(e, n->args[0], &r[0])) < 0 || (rc = as_float(e, r[0], &r[0])) < 0)
            return rc;
        return emit(e, OP_LOG, VT_FLOAT, r[0], 0, 0, out);
    case FN_ROUND:
        if ((rc = gen(e, n->args[0], &r[0])) < 0)
            return rc;
        if (n->nargs == 2) {
            if ((rc = as_float(e, r[0], &r[0])) < 0)
                return rc;
            return emit(e, OP_ROUND_N, VT_FLOAT, r[0], 0, (uint32_t)(n->args[1]->v.i + 15), out);
        }
        if (e->regs[r[0]].vt == VT_INT) {
            *out = r[0];
            return 0;
        }
        return emit(e, OP_ROUND, VT_INT, r[0], 0, 0, out);
    default:
        if ((rc = gen(e, n->args[0], &r[0])) < 0 || (rc = gen(e, n->args[1], &r[1])) < 0)
            return rc;
        return emit(e, n->op == FN_STARTS_WITH ? OP_STARTS_WITH : OP_CONTAINS, VT_BOOL,
                    r[0], r[1], 0, out);
    }
}

static int gen(struct fl_expr *e, const struct ex_node *n, uint32_t *out)
{
    uint32_t a, b, idx;
    int rc;
    switch (n->kind) {
    case EX_LIT:
        return gen_const(e, n, out);
    case EX_FIELD: {
        enum ex_code c;
        switch (n->ctype) {
        case FL_T_U8: c = OP_LOAD_U8; break;
        case FL_T_U16: c = OP_LOAD_U16; break;
        case FL_T_U32: c = OP_LOAD_U32; break;
        case FL_T_F64: c = OP_LOAD_F64; break;
        case FL_T_BOOL: c = OP_LOAD_BOOL; break;
        case FL_T_ADDR: c = OP_LOAD_ADDR; break;
        case FL_T_STR: c = OP_LOAD_STR; break;
        default: c = OP_LOAD_I64;   /* u64, i64, ts, dur: read as int64 in place */
        }
        return emit(e, c, n->vt, 0, 0, (uint32_t)n->col, out);
    }
    case EX_NEG:
        if ((rc = gen(e, n->args[0], &a)) < 0)
            return rc;
        return emit(e, n->vt == VT_FLOAT ? OP_NEG_F : OP_NEG_I, n->vt, a, 0, 0, out);
    case EX_NOT:
        if ((rc = gen(e, n->args[0], &a)) < 0)
            return rc;
        return emit(e, OP_NOT, VT_BOOL, a, 0, 0, out);
    case EX_BIN:
        if ((rc = gen(e, n->args[0], &a)) < 0 || (rc = gen(e, n->args[1], &b)) < 0)
            return rc;
        if (n->op == TK_AND || n->op == TK_OR)
            return emit(e, n->op == TK_AND ? OP_AND : OP_OR, VT_BOOL, a, b, 0, out);
        if (n->op >= TK_EQ && n->op <= TK_GE)
            return gen_cmp(e, n->op, a, b, out);
        return gen_arith(e, n, a, b, out);
    case EX_IN: {
        enum ex_vt t = n->args[0]->vt;
        bool fl = t == VT_FLOAT;
        for (uint32_t i = 1; i < n->nargs && t == VT_INT; i++)
            fl |= n->args[i]->vt == VT_FLOAT;
        if ((rc = gen(e, n->args[0], &a)) < 0 || (fl && (rc = as_float(e, a, &a)) < 0))
            return rc;
        enum ex_vt st = fl ? VT_FLOAT : t == VT_DUR ? VT_INT : t;
        if ((rc = gen_set(e, n, st, &idx)) < 0)
            return rc;
        enum ex_code c = st == VT_FLOAT ? OP_IN_F : st == VT_STR ? OP_IN_S
                         : st == VT_ADDR ? OP_IN_A : OP_IN_I;
        if ((rc = emit(e, c, VT_BOOL, a, 0, idx, out)) < 0)
            return rc;
        return n->op ? emit(e, OP_NOT, VT_BOOL, *out, 0, 0, out) : 0;
    }
    case EX_CALL:
        return gen_call(e, n, out);
    }
    return -FL_EINVAL;
}

void fl_expr_free(struct fl_expr **ep)
{
    struct fl_expr *e = ep ? *ep : NULL;
    if (!e)
        return;
    for (uint32_t i = 0; i < e->nregs; i++) {
        free(e->regs[i].buf);
        free(e->regs[i].vbuf);
    }
    for (uint32_t i = 0; i < e->nsets; i++) {
        free(e->sets[i].i);
        free(e->sets[i].f);
        free(e->sets[i].s);
        free(e->sets[i].a);
        free(e->sets[i].prefix);
    }
    for (uint32_t i = 0; i < e->nstrs; i++)
        free(e->strs[i]);
    free(e->regs);
    free(e->ops);
    free(e->sets);
    free(e->strs);
    free(e);
    *ep = NULL;
}

int fl_expr_compile(const char *text, const struct fl_schema *schema, struct fl_expr **out,
                    size_t *err_off, char *errbuf, size_t errlen)
{
    struct ex_err err = { 0, "" };
    struct ex_node *tree = NULL;
    struct fl_expr *e = NULL;
    int rc;
    *out = NULL;
    if (!text) {
        rc = -FL_EINVAL;
        snprintf(err.msg, sizeof(err.msg), "no expression");
        goto done;
    }
    if ((rc = ex_parse(text, &tree, &err)) < 0 || (rc = ex_check(tree, schema, &err)) < 0)
        goto done;
    if (tree->vt == VT_CIDR) {
        err.off = tree->off;
        snprintf(err.msg, sizeof(err.msg), "a CIDR block is only a value after \"in\"");
        rc = -FL_EINVAL;
        goto done;
    }
    if (!(e = calloc(1, sizeof(*e)))) {
        rc = -FL_ENOMEM;
        goto done;
    }
    e->schema = schema;
    e->vt = tree->vt;
    if ((rc = gen(e, tree, &e->result)) < 0) {
        if (rc == -FL_ERANGE) {
            snprintf(err.msg, sizeof(err.msg), "expression too large");
            rc = -FL_EINVAL;
        }
        goto done;
    }
    *out = e;
    e = NULL;
done:
    if (rc == -FL_ENOMEM)
        snprintf(err.msg, sizeof(err.msg), "out of memory");
    if (err_off)
        *err_off = err.off;
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", rc < 0 ? err.msg : "");
    fl_expr_free(&e);
    ex_node_free(tree);
    return rc;
}

enum fl_type fl_expr_type(const struct fl_expr *e)
{
    return e ? ex_vt_column(e->vt) : FL_T_NONE;
}

const struct fl_schema *fl_expr_schema(const struct fl_expr *e)
{
    return e ? e->schema : NULL;
}
