/* expr_parse.c: the expression grammar, by recursive descent, into a tree
 * (struct ex_node). Precedence, loosest first: or; and; not; comparisons
 * and `in` (not chained); + -; * / %; unary -. It resolves nothing: field
 * names and types are the checker's (expr_check.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "expr_int.h"

#define EX_MAX_DEPTH 200

struct parser {
    const char *text;
    size_t pos;
    struct ex_token tok;        /* the current token */
    struct ex_err *err;
    int depth;
};

void ex_node_free(struct ex_node *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->nargs; i++)
        ex_node_free(n->args[i]);
    free(n->args);
    free(n->name);
    if (n->kind == EX_LIT && n->vt == VT_STR)
        free(n->v.s.p);
    free(n);
}

static int next(struct parser *p)
{
    free(p->tok.str);
    p->tok.str = NULL;
    return ex_lex(p->text, &p->pos, &p->tok, p->err);
}

static int fail(struct parser *p, size_t off, const char *fmt, const char *arg)
{
    p->err->off = off;
    snprintf(p->err->msg, sizeof(p->err->msg), fmt, arg);
    return -FL_EINVAL;
}

static int expected(struct parser *p, const char *what)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "expected %s, found %s", what, ex_tok_text(p->tok.kind));
    return fail(p, p->tok.off, "%s", msg);
}

static struct ex_node *node_new(enum ex_kind k, uint32_t off, uint32_t len)
{
    struct ex_node *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = k;
        n->off = off;
        n->len = len;
        n->col = -1;
    }
    return n;
}

static int add_arg(struct ex_node *n, struct ex_node *a)
{
    struct ex_node **v = realloc(n->args, (n->nargs + 1) * sizeof(*v));
    if (!v) {
        ex_node_free(a);
        return -FL_ENOMEM;
    }
    n->args = v;
    n->args[n->nargs++] = a;
    return 0;
}

/* A node over [a.off, end): its source span. */
static void span_to(struct ex_node *n, const struct ex_node *first, size_t end)
{
    n->off = first->off;
    n->len = (uint32_t)(end - first->off);
}

static int parse_or(struct parser *p, struct ex_node **out);

/* Hand n out and read the next token; n is freed if that fails. */
static int take(struct parser *p, struct ex_node *n, struct ex_node **out)
{
    int rc = next(p);
    if (rc < 0) {
        ex_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static int parse_primary(struct parser *p, struct ex_node **out)
{
    struct ex_token *t = &p->tok;
    struct ex_node *n = NULL;
    int rc;
    switch (t->kind) {
    case TK_INT: case TK_FLOAT: case TK_DUR: case TK_STR: case TK_ADDR: case TK_CIDR:
    case TK_TRUE: case TK_FALSE:
        if (!(n = node_new(EX_LIT, t->off, t->len)))
            return -FL_ENOMEM;
        switch (t->kind) {
        case TK_INT: n->vt = VT_INT; n->v.i = t->i; break;
        case TK_DUR: n->vt = VT_DUR; n->v.i = t->i; break;
        case TK_FLOAT: n->vt = VT_FLOAT; n->v.f = t->f; break;
        case TK_TRUE: case TK_FALSE: n->vt = VT_BOOL; n->v.i = t->kind == TK_TRUE; break;
        case TK_STR:
            n->vt = VT_STR;
            n->v.s.p = t->str;
            n->v.s.n = t->str_len;
            t->str = NULL;
            break;
        default:
            n->vt = t->kind == TK_CIDR ? VT_CIDR : VT_ADDR;
            n->v.addr.a = t->addr;
            n->v.addr.prefix = t->prefix;
        }
        return take(p, n, out);
    case TK_LP: {
        if ((rc = next(p)) < 0 || (rc = parse_or(p, &n)) < 0)
            return rc;
        if (t->kind != TK_RP) {
            ex_node_free(n);
            return expected(p, "\")\"");
        }
        return take(p, n, out);
    }
    case TK_IDENT: {
        uint32_t off = t->off, len = t->len;
        char *name = strndup(p->text + off, len);
        if (!name)
            return -FL_ENOMEM;
        if ((rc = next(p)) < 0) {
            free(name);
            return rc;
        }
        if (t->kind != TK_LP) {
            if (!(n = node_new(EX_FIELD, off, len))) {
                free(name);
                return -FL_ENOMEM;
            }
            n->name = name;
            *out = n;
            return 0;
        }
        if (!(n = node_new(EX_CALL, off, len))) {
            free(name);
            return -FL_ENOMEM;
        }
        n->name = name;
        if ((rc = next(p)) < 0)
            goto fail;
        if (t->kind != TK_RP) {
            for (;;) {
                struct ex_node *a = NULL;
                if ((rc = parse_or(p, &a)) < 0 || (rc = add_arg(n, a)) < 0)
                    goto fail;
                if (t->kind == TK_RP)
                    break;
                if (t->kind != TK_COMMA) {
                    rc = expected(p, "\",\" or \")\"");
                    goto fail;
                }
                if ((rc = next(p)) < 0)
                    goto fail;
            }
        }
        n->len = t->off + t->len - off;
        return take(p, n, out);
    }
    default:
        return expected(p, "a value");
    }
fail:
    ex_node_free(n);
    return rc;
}

static int parse_unary(struct parser *p, struct ex_node **out)
{
    if (p->tok.kind != TK_MINUS)
        return parse_primary(p, out);
    uint32_t off = p->tok.off;
    struct ex_node *a = NULL, *n;
    int rc;
    if (++p->depth > EX_MAX_DEPTH)
        return fail(p, off, "%s", "expression nested too deeply");
    if ((rc = next(p)) < 0 || (rc = parse_unary(p, &a)) < 0)
        return rc;
    p->depth--;
    /* Fold into a numeric literal, so -1 in an `in` list is a literal. */
    if (a->kind == EX_LIT && (a->vt == VT_INT || a->vt == VT_DUR || a->vt == VT_FLOAT)) {
        if (a->vt == VT_FLOAT)
            a->v.f = -a->v.f;
        else
            a->v.i = -a->v.i;
        a->len += a->off - off;
        a->off = off;
        *out = a;
        return 0;
    }
    if (!(n = node_new(EX_NEG, off, 0))) {
        ex_node_free(a);
        return -FL_ENOMEM;
    }
    if ((rc = add_arg(n, a)) < 0) {
        ex_node_free(n);
        return rc;
    }
    n->len = a->off + a->len - off;
    *out = n;
    return 0;
}

static int binary(struct ex_node **lhs, int op, struct ex_node *rhs)
{
    struct ex_node *n = node_new(EX_BIN, 0, 0);
    int rc;
    if (!n) {
        ex_node_free(rhs);
        return -FL_ENOMEM;
    }
    n->op = op;
    span_to(n, *lhs, rhs->off + rhs->len);
    if ((rc = add_arg(n, *lhs)) < 0) {
        ex_node_free(rhs);
        free(n);
        return rc;
    }
    *lhs = n;
    return add_arg(n, rhs);
}

/* One level of left-associative binary operators ops[0..nops). */
static int parse_level(struct parser *p, const enum ex_tok *ops, int nops,
                       int (*sub)(struct parser *, struct ex_node **), struct ex_node **out)
{
    struct ex_node *lhs = NULL;
    int rc = sub(p, &lhs);
    if (rc < 0)
        return rc;
    for (;;) {
        int op = -1;
        for (int i = 0; i < nops; i++)
            if (p->tok.kind == ops[i])
                op = ops[i];
        if (op < 0)
            break;
        struct ex_node *rhs = NULL;
        if ((rc = next(p)) < 0 || (rc = sub(p, &rhs)) < 0 || (rc = binary(&lhs, op, rhs)) < 0) {
            ex_node_free(lhs);
            return rc;
        }
    }
    *out = lhs;
    return 0;
}

static int parse_mul(struct parser *p, struct ex_node **out)
{
    static const enum ex_tok ops[] = {TK_STAR, TK_SLASH, TK_PCT};
    return parse_level(p, ops, 3, parse_unary, out);
}

static int parse_add(struct parser *p, struct ex_node **out)
{
    static const enum ex_tok ops[] = {TK_PLUS, TK_MINUS};
    return parse_level(p, ops, 2, parse_mul, out);
}

/* The right side of `in`: a parenthesised list, or one address/CIDR. */
static int parse_in(struct parser *p, struct ex_node *n)
{
    int rc;
    if (p->tok.kind != TK_LP) {
        struct ex_node *a = NULL;
        if (p->tok.kind != TK_CIDR && p->tok.kind != TK_ADDR)
            return expected(p, "\"(\" or a CIDR block after \"in\"");
        if ((rc = parse_primary(p, &a)) < 0)
            return rc;
        return add_arg(n, a);
    }
    if ((rc = next(p)) < 0)
        return rc;
    for (;;) {
        struct ex_node *a = NULL;
        if ((rc = parse_add(p, &a)) < 0 || (rc = add_arg(n, a)) < 0)
            return rc;
        if (p->tok.kind == TK_RP)
            break;
        if (p->tok.kind != TK_COMMA)
            return expected(p, "\",\" or \")\"");
        if ((rc = next(p)) < 0)
            return rc;
    }
    n->len = p->tok.off + 1 - n->off;
    return next(p);
}

static int parse_cmp(struct parser *p, struct ex_node **out)
{
    struct ex_node *lhs = NULL, *rhs = NULL;
    int rc = parse_add(p, &lhs);
    if (rc < 0)
        return rc;
    enum ex_tok k = p->tok.kind;
    if (k >= TK_EQ && k <= TK_GE) {
        uint32_t opoff = p->tok.off;
        if ((rc = next(p)) < 0 || (rc = parse_add(p, &rhs)) < 0 || (rc = binary(&lhs, k, rhs)) < 0)
            goto fail;
        lhs->op = k;
        (void)opoff;
    } else if (k == TK_IN || k == TK_NOT) {
        struct ex_node *n = node_new(EX_IN, lhs->off, 0);
        if (!n) {
            rc = -FL_ENOMEM;
            goto fail;
        }
        if ((rc = add_arg(n, lhs)) < 0) {
            free(n);
            return rc;
        }
        lhs = n;
        if (k == TK_NOT) {
            n->op = 1;
            if ((rc = next(p)) < 0)
                goto fail;
            if (p->tok.kind != TK_IN) {
                rc = expected(p, "\"in\" after \"not\"");
                goto fail;
            }
        }
        if ((rc = next(p)) < 0 || (rc = parse_in(p, n)) < 0)
            goto fail;
        struct ex_node *last = n->args[n->nargs - 1];
        if (n->off + n->len < last->off + last->len)
            n->len = last->off + last->len - n->off;
    }
    if (p->tok.kind >= TK_EQ && p->tok.kind <= TK_GE) {
        rc = fail(p, p->tok.off, "%s", "comparisons do not chain: write (a < b) and (b < c)");
        goto fail;
    }
    *out = lhs;
    return 0;
fail:
    ex_node_free(lhs);
    return rc;
}

static int parse_not(struct parser *p, struct ex_node **out)
{
    if (p->tok.kind != TK_NOT)
        return parse_cmp(p, out);
    uint32_t off = p->tok.off;
    struct ex_node *a = NULL, *n;
    int rc;
    if (++p->depth > EX_MAX_DEPTH)
        return fail(p, off, "%s", "expression nested too deeply");
    if ((rc = next(p)) < 0 || (rc = parse_not(p, &a)) < 0)
        return rc;
    p->depth--;
    if (!(n = node_new(EX_NOT, off, a->off + a->len - off))) {
        ex_node_free(a);
        return -FL_ENOMEM;
    }
    if ((rc = add_arg(n, a)) < 0) {
        ex_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static int parse_and(struct parser *p, struct ex_node **out)
{
    static const enum ex_tok ops[] = {TK_AND};
    return parse_level(p, ops, 1, parse_not, out);
}

static int parse_or(struct parser *p, struct ex_node **out)
{
    static const enum ex_tok ops[] = {TK_OR};
    int rc;
    if (++p->depth > EX_MAX_DEPTH)
        return fail(p, p->tok.off, "%s", "expression nested too deeply");
    rc = parse_level(p, ops, 1, parse_and, out);
    p->depth--;
    return rc;
}

int ex_parse(const char *text, struct ex_node **out, struct ex_err *err)
{
    struct parser p = { .text = text, .err = err };
    struct ex_node *n = NULL;
    int rc;
    *out = NULL;
    if ((rc = next(&p)) < 0)
        goto done;
    if (p.tok.kind == TK_EOF) {
        rc = fail(&p, 0, "%s", "empty expression");
        goto done;
    }
    if ((rc = parse_or(&p, &n)) < 0)
        goto done;
    if (p.tok.kind != TK_EOF) {
        rc = expected(&p, "an operator or the end");
        ex_node_free(n);
        goto done;
    }
    *out = n;
done:
    free(p.tok.str);
    if (rc == -FL_ENOMEM)
        snprintf(err->msg, sizeof(err->msg), "out of memory");
    return rc;
}
