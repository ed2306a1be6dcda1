/* expr_check.c: the type checker. Resolves field names against the input
 * schema (canonical, alias or IANA names; "did you mean" from the schema's
 * columns) and gives every node its value type, or reports the first type
 * error at the offending part of the text. The typing rules are listed in
 * docs/dsl.md ("Expressions"); the compiler relies on them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr_int.h"
#include "internal.h"

const char *const ex_fn_names[FN_COUNT] = {
    [FN_MIN] = "min", [FN_MAX] = "max", [FN_ABS] = "abs", [FN_LOG] = "log",
    [FN_COALESCE] = "coalesce", [FN_ROUND] = "round", [FN_STARTS_WITH] = "starts_with",
    [FN_CONTAINS] = "contains",
};

const char *ex_vt_name(enum ex_vt vt)
{
    static const char *const n[] = {
        [VT_NONE] = "nothing", [VT_INT] = "int", [VT_FLOAT] = "float", [VT_BOOL] = "bool",
        [VT_STR] = "str", [VT_ADDR] = "addr", [VT_DUR] = "duration", [VT_TS] = "timestamp",
        [VT_CIDR] = "CIDR block",
    };
    return (unsigned)vt < sizeof(n) / sizeof(n[0]) ? n[vt] : "?";
}

enum fl_type ex_vt_column(enum ex_vt vt)
{
    switch (vt) {
    case VT_INT: return FL_T_I64;
    case VT_FLOAT: return FL_T_F64;
    case VT_BOOL: return FL_T_BOOL;
    case VT_STR: return FL_T_STR;
    case VT_ADDR: return FL_T_ADDR;
    case VT_DUR: return FL_T_DUR;
    case VT_TS: return FL_T_TS;
    default: return FL_T_NONE;
    }
}

static int check_fail(struct ex_err *err, const struct ex_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int check_fail(struct ex_err *err, const struct ex_node *n, const char *fmt, ...)
{
    va_list ap;
    err->off = n->off;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -FL_EINVAL;
}

static bool is_num(enum ex_vt t) { return t == VT_INT || t == VT_FLOAT; }

static int check_field(struct ex_node *n, const struct fl_schema *s, struct ex_err *err)
{
    int col = s ? fl_schema_find(s, n->name) : -1;
    if (col < 0) {
        const char *cands[256];
        size_t nc = 0;
        for (uint32_t i = 0; s && i < s->ncols && nc < 256; i++)
            cands[nc++] = s->cols[i]->name;
        const char *near = fl_suggest(n->name, cands, nc);
        if (near)
            return check_fail(err, n, "unknown field \"%s\"; did you mean \"%s\"?", n->name, near);
        if (fl_field_find(n->name))
            return check_fail(err, n, "field \"%s\" is not in this stage's input", n->name);
        for (int f = 0; f < FN_COUNT; f++)
            if (strcmp(n->name, ex_fn_names[f]) == 0)
                return check_fail(err, n, "%s is a function: write %s(...)", n->name, n->name);
        return check_fail(err, n, "unknown field \"%s\"", n->name);
    }
    n->col = col;
    n->ctype = s->cols[col]->type;
    switch (n->ctype) {
    case FL_T_U8: case FL_T_U16: case FL_T_U32: case FL_T_U64: case FL_T_I64:
        n->vt = VT_INT; break;
    case FL_T_F64: n->vt = VT_FLOAT; break;
    case FL_T_BOOL: n->vt = VT_BOOL; break;
    case FL_T_TS: n->vt = VT_TS; break;
    case FL_T_DUR: n->vt = VT_DUR; break;
    case FL_T_ADDR: n->vt = VT_ADDR; break;
    case FL_T_STR: n->vt = VT_STR; break;
    default:
        return check_fail(err, n, "field \"%s\" is %s, which expressions cannot use yet",
                          n->name, fl_type_name(n->ctype));
    }
    return 0;
}

/* Result type of a op b for + - * / %, or VT_NONE if not allowed. */
static enum ex_vt arith_type(int op, enum ex_vt a, enum ex_vt b)
{
    if (is_num(a) && is_num(b)) {
        if (op == TK_SLASH)
            return VT_FLOAT;      /* / is true division, as in VRL or Python */
        return a == VT_INT && b == VT_INT ? VT_INT : VT_FLOAT;
    }
    switch (op) {
    case TK_PLUS:
        if (a == VT_DUR && b == VT_DUR) return VT_DUR;
        if ((a == VT_TS && b == VT_DUR) || (a == VT_DUR && b == VT_TS)) return VT_TS;
        return VT_NONE;
    case TK_MINUS:
        if (a == VT_DUR && b == VT_DUR) return VT_DUR;
        if (a == VT_TS && b == VT_DUR) return VT_TS;
        if (a == VT_TS && b == VT_TS) return VT_DUR;
        return VT_NONE;
    case TK_STAR:
        if ((a == VT_DUR && is_num(b)) || (is_num(a) && b == VT_DUR)) return VT_DUR;
        return VT_NONE;
    case TK_SLASH:
        if (a == VT_DUR && is_num(b)) return VT_DUR;
        if (a == VT_DUR && b == VT_DUR) return VT_FLOAT;
        return VT_NONE;
    case TK_PCT:
        if (a == VT_DUR && b == VT_DUR) return VT_DUR;
        return VT_NONE;
    }
    return VT_NONE;
}

/* Can values of a and b be compared (after int -> float)? */
static bool comparable(enum ex_vt a, enum ex_vt b)
{
    return (is_num(a) && is_num(b)) || (a == b && a != VT_CIDR && a != VT_NONE);
}

static const char *op_text(int op)
{
    return ex_tok_text((enum ex_tok)op);
}

static int check_call(struct ex_node *n, struct ex_err *err)
{
    int fn = -1;
    for (int f = 0; f < FN_COUNT; f++)
        if (strcmp(n->name, ex_fn_names[f]) == 0)
            fn = f;
    if (fn < 0) {
        const char *near = fl_suggest(n->name, (const char *const *)ex_fn_names, FN_COUNT);
        if (near)
            return check_fail(err, n, "unknown function \"%s\"; did you mean \"%s\"?", n->name, near);
        return check_fail(err, n, "unknown function \"%s\" (there are min, max, abs, log, "
                          "coalesce, round, starts_with, contains)", n->name);
    }
    n->op = fn;
    uint32_t na = n->nargs;
    struct ex_node **a = n->args;
    switch (fn) {
    case FN_MIN: case FN_MAX: case FN_COALESCE: {
        if (na < (fn == FN_COALESCE ? 1u : 2u))
            return check_fail(err, n, "%s() takes at least %s arguments", n->name,
                              fn == FN_COALESCE ? "1" : "2");
        enum ex_vt t = a[0]->vt;
        for (uint32_t i = 1; i < na; i++) {
            enum ex_vt u = a[i]->vt;
            if (is_num(t) && is_num(u))
                t = t == VT_INT && u == VT_INT ? VT_INT : VT_FLOAT;
            else if (t != u)
                return check_fail(err, a[i], "%s() argument %u is %s, the first is %s",
                                  n->name, i + 1, ex_vt_name(u), ex_vt_name(a[0]->vt));
        }
        if (fn != FN_COALESCE && !is_num(t) && t != VT_DUR && t != VT_TS)
            return check_fail(err, a[0], "%s() takes numbers, durations or timestamps, not %s",
                              n->name, ex_vt_name(t));
        if (t == VT_CIDR)
            return check_fail(err, a[0], "a CIDR block is only a value after \"in\"");
        n->vt = t;
        return 0;
    }
    case FN_ABS: case FN_LOG:
        if (na != 1)
            return check_fail(err, n, "%s() takes 1 argument", n->name);
        if (!is_num(a[0]->vt) && !(fn == FN_ABS && a[0]->vt == VT_DUR))
            return check_fail(err, a[0], "%s() takes a number, not %s", n->name, ex_vt_name(a[0]->vt));
        n->vt = fn == FN_LOG ? VT_FLOAT : a[0]->vt;
        return 0;
    case FN_ROUND:
        if (na != 1 && na != 2)
            return check_fail(err, n, "round() takes 1 or 2 arguments");
        if (!is_num(a[0]->vt))
            return check_fail(err, a[0], "round() takes a number, not %s", ex_vt_name(a[0]->vt));
        if (na == 2) {
            if (a[1]->kind != EX_LIT || a[1]->vt != VT_INT || a[1]->v.i < -15 || a[1]->v.i > 15)
                return check_fail(err, a[1], "round()'s digits are an integer from -15 to 15");
            n->vt = VT_FLOAT;
        } else {
            n->vt = VT_INT;
        }
        return 0;
    default:    /* starts_with, contains */
        if (na != 2)
            return check_fail(err, n, "%s() takes 2 arguments", n->name);
        for (uint32_t i = 0; i < 2; i++)
            if (a[i]->vt != VT_STR)
                return check_fail(err, a[i], "%s() takes strings, not %s", n->name, ex_vt_name(a[i]->vt));
        n->vt = VT_BOOL;
        return 0;
    }
}

static int check_in(struct ex_node *n, struct ex_err *err)
{
    enum ex_vt t = n->args[0]->vt;
    if (t != VT_INT && t != VT_FLOAT && t != VT_STR && t != VT_ADDR && t != VT_DUR)
        return check_fail(err, n->args[0], "\"in\" takes a number, duration, string or address, not %s",
                          ex_vt_name(t));
    for (uint32_t i = 1; i < n->nargs; i++) {
        const struct ex_node *it = n->args[i];
        if (it->kind != EX_LIT)
            return check_fail(err, it, "the list after \"in\" takes literal values only");
        bool ok = it->vt == t || (is_num(t) && is_num(it->vt))
                  || (t == VT_ADDR && it->vt == VT_CIDR);
        if (!ok)
            return check_fail(err, it, "%s in a list for %s", ex_vt_name(it->vt), ex_vt_name(t));
    }
    n->vt = VT_BOOL;
    return 0;
}

int ex_check(struct ex_node *n, const struct fl_schema *schema, struct ex_err *err)
{
    int rc;
    if (n->kind == EX_FIELD)
        return check_field(n, schema, err);
    for (uint32_t i = 0; i < n->nargs; i++)
        if ((rc = ex_check(n->args[i], schema, err)) < 0)
            return rc;
    for (uint32_t i = 0; i < (n->kind == EX_IN ? 1 : n->nargs); i++)
        if (n->args[i]->vt == VT_CIDR)
            return check_fail(err, n->args[i], "a CIDR block is only a value after \"in\"");
    switch (n->kind) {
    case EX_LIT:
        return 0;
    case EX_NEG: {
        enum ex_vt t = n->args[0]->vt;
        if (!is_num(t) && t != VT_DUR)
            return check_fail(err, n, "cannot negate %s", ex_vt_name(t));
        n->vt = t;
        return 0;
    }
    case EX_NOT:
        if (n->args[0]->vt != VT_BOOL)
            return check_fail(err, n->args[0], "\"not\" takes a bool, not %s", ex_vt_name(n->args[0]->vt));
        n->vt = VT_BOOL;
        return 0;
    case EX_BIN: {
        enum ex_vt a = n->args[0]->vt, b = n->args[1]->vt;
        if (n->op == TK_AND || n->op == TK_OR) {
            const struct ex_node *bad = a != VT_BOOL ? n->args[0] : b != VT_BOOL ? n->args[1] : NULL;
            if (bad)
                return check_fail(err, bad, "%s takes bools, not %s", op_text(n->op), ex_vt_name(bad->vt));
            n->vt = VT_BOOL;
            return 0;
        }
        if (n->op >= TK_EQ && n->op <= TK_GE) {
            if (!comparable(a, b))
                return check_fail(err, n, "cannot compare %s with %s", ex_vt_name(a), ex_vt_name(b));
            if (a == VT_BOOL && n->op != TK_EQ && n->op != TK_NE)
                return check_fail(err, n, "bools compare only with == and !=");
            n->vt = VT_BOOL;
            return 0;
        }
        if ((n->vt = arith_type(n->op, a, b)) == VT_NONE)
            return check_fail(err, n, "cannot apply %s to %s and %s", op_text(n->op),
                              ex_vt_name(a), ex_vt_name(b));
        return 0;
    }
    case EX_IN:
        return check_in(n, err);
    case EX_CALL:
        return check_call(n, err);
    default:
        return 0;
    }
}
