/* dsl/expr_int.h: the expression language's internals, shared by its
 * lexer, parser, checker, compiler and evaluator (and by the unit tests,
 * whose row-at-a-time reference walks the same tree). Plugins use
 * flowline/expr.h. */
#ifndef FL_EXPR_INT_H
#define FL_EXPR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/expr.h>

/* ---- Tokens (expr_lex.c) ---------------------------------------------- */
enum ex_tok {
    TK_EOF, TK_INT, TK_FLOAT, TK_DUR, TK_STR, TK_ADDR, TK_CIDR, TK_IDENT,
    TK_LP, TK_RP, TK_COMMA, TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PCT,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_AND, TK_OR, TK_NOT, TK_IN,
    TK_TRUE, TK_FALSE
};

struct ex_token {
    enum ex_tok kind;
    uint32_t off, len;          /* bytes in the source text */
    int64_t i;                  /* TK_INT, TK_DUR (ns) */
    double f;                   /* TK_FLOAT */
    struct fl_addr addr;        /* TK_ADDR, TK_CIDR (IPv4 mapped) */
    uint8_t prefix;             /* TK_CIDR: bits of addr (IPv4: 96 + n) */
    char *str;                  /* TK_STR (unescaped, malloc'd), TK_IDENT: NULL */
    uint32_t str_len;
};

/* Where an error is and what it says. */
struct ex_err { size_t off; char msg[200]; };

/* Read the token at text[*pos] and advance *pos. -FL_EINVAL with err set
 * on a malformed token, -FL_ENOMEM. */
int ex_lex(const char *text, size_t *pos, struct ex_token *t, struct ex_err *err);
const char *ex_tok_text(enum ex_tok k);   /* "+", "and", "a number", ... */

/* ---- Tree (expr_parse.c) ---------------------------------------------- */
/* Value types: what a node computes, wider than column types (every
 * integer column is read as INT). */
enum ex_vt { VT_NONE, VT_INT, VT_FLOAT, VT_BOOL, VT_STR, VT_ADDR, VT_DUR, VT_TS, VT_CIDR };

enum ex_kind {
    EX_LIT,        /* v: a literal of type vt */
    EX_FIELD,      /* name, col */
    EX_NEG, EX_NOT,                        /* args[0] */
    EX_BIN,        /* op (TK_PLUS .. TK_GE, TK_AND, TK_OR), args[0..1] */
    EX_IN,         /* args[0] in (args[1..]); negate: "not in" */
    EX_CALL        /* fn, args */
};

enum ex_fn { FN_MIN, FN_MAX, FN_ABS, FN_LOG, FN_COALESCE, FN_ROUND, FN_STARTS_WITH,
             FN_CONTAINS, FN_COUNT };

struct ex_node {
    enum ex_kind kind;
    uint32_t off, len;          /* source span, for messages */
    enum ex_vt vt;              /* set by the checker (literals: by the parser) */
    int op;                     /* EX_BIN: token; EX_CALL: enum ex_fn; EX_IN: negate */
    union {
        int64_t i;              /* INT, DUR, TS, BOOL */
        double f;
        struct { char *p; uint32_t n; } s;
        struct { struct fl_addr a; uint8_t prefix; } addr;   /* ADDR (prefix 128), CIDR */
    } v;
    char *name;                 /* EX_FIELD */
    int col;                    /* EX_FIELD: column index after checking */
    enum fl_type ctype;         /* EX_FIELD: the column's type */
    struct ex_node **args;
    uint32_t nargs;
};

extern const char *const ex_fn_names[FN_COUNT];

int ex_parse(const char *text, struct ex_node **out, struct ex_err *err);
void ex_node_free(struct ex_node *n);

/* ---- Checking (expr_check.c) ------------------------------------------ */
/* Resolve fields against schema and set every node's vt. */
int ex_check(struct ex_node *n, const struct fl_schema *schema, struct ex_err *err);
const char *ex_vt_name(enum ex_vt vt);
enum fl_type ex_vt_column(enum ex_vt vt);

/* Is a of the cidr (net, prefix bits of the 128)? */
static inline bool ex_cidr_has(const struct fl_addr *net, unsigned prefix, const struct fl_addr *a)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    for (unsigned i = 0; i < full; i++)
        if (a->b[i] != net->b[i])
            return false;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((a->b[full] & m) != net->b[full])
            return false;
    }
    return true;
}

/* ---- Program (expr_compile.c, expr_eval.c) ----------------------------- */
#define EX_CHUNK 1024u          /* rows per pass; a multiple of 64 */

struct ex_str { const char *p; uint32_t n; };

struct ex_reg {
    enum ex_vt vt;
    void *buf;                  /* own cells: EX_CHUNK * 16 bytes */
    uint64_t *vbuf;             /* own validity: EX_CHUNK / 64 words */
    const void *data;           /* this chunk's cells (buf or a column) */
    const uint64_t *valid;      /* this chunk's validity, NULL = all valid */
    bool is_const;              /* filled once at compile time */
};

struct ex_op {
    uint16_t code;              /* enum ex_code (expr_eval.c) */
    uint16_t dst, a, b;         /* registers */
    uint32_t aux;               /* column, set index, ... */
};

struct ex_set {                 /* the literals of an `in` list */
    enum ex_vt vt;
    uint32_t n;
    int64_t *i; double *f; struct ex_str *s;
    struct fl_addr *a; uint8_t *prefix;
};

struct fl_expr {
    const struct fl_schema *schema;
    enum ex_vt vt;
    struct ex_reg *regs; uint32_t nregs;
    struct ex_op *ops; uint32_t nops;
    struct ex_set *sets; uint32_t nsets;
    char **strs; uint32_t nstrs;   /* string literals' bytes */
    uint32_t result;            /* register */
};

/* Op codes and the evaluation of one chunk (rows [row0, row0 + n)). */
enum ex_code {
    OP_LOAD_I64, OP_LOAD_U8, OP_LOAD_U16, OP_LOAD_U32, OP_LOAD_F64, OP_LOAD_BOOL,
    OP_LOAD_ADDR, OP_LOAD_STR,
    OP_I2F, OP_F2I, OP_B2I,
    OP_ADD_I, OP_SUB_I, OP_MUL_I, OP_MOD_I, OP_DIV_I,
    OP_ADD_F, OP_SUB_F, OP_MUL_F, OP_DIV_F, OP_MOD_F,
    OP_NEG_I, OP_NEG_F, OP_ABS_I, OP_ABS_F, OP_LOG, OP_ROUND, OP_ROUND_N,
    OP_MIN_I, OP_MAX_I, OP_MIN_F, OP_MAX_F,
    OP_EQ_I, OP_NE_I, OP_LT_I, OP_LE_I, OP_GT_I, OP_GE_I,
    OP_EQ_F, OP_NE_F, OP_LT_F, OP_LE_F, OP_GT_F, OP_GE_F,
    OP_EQ_S, OP_NE_S, OP_LT_S, OP_LE_S, OP_GT_S, OP_GE_S,
    OP_EQ_A, OP_NE_A, OP_LT_A, OP_LE_A, OP_GT_A, OP_GE_A,
    OP_AND, OP_OR, OP_NOT,
    OP_IN_I, OP_IN_F, OP_IN_S, OP_IN_A,
    OP_COALESCE, OP_STARTS_WITH, OP_CONTAINS,
    OP_COUNT
};
void ex_run_chunk(struct fl_expr *e, const struct fl_batch *in, uint32_t row0, uint32_t n);

#endif
