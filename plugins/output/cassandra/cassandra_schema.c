/* cassandra_schema.c: which table columns output.cassandra writes, from
 * which fields, and the CQL statements about them.
 *
 * `columns:` maps each column to "TYPE", "FIELD TYPE" ([FIELD, TYPE]) or
 * "FIELD": a lone word that is a CQL type name is the type and the field
 * has the column's name (so the seed's `srcaddr: text` reads src_addr by
 * its alias); otherwise it is the field and the type is the one the input
 * field maps to by default. Without `columns:`, every field of the input
 * schema is a column of its own name and default type. The types matter
 * for CREATE TABLE and for the check; what is written follows the types
 * the server reports for the prepared INSERT (cassandra_session.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cassandra.h"

bool cass_ident_ok(const char *s)
{
    if (!s || !isalpha((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return strlen(s) <= 48;   /* Cassandra's limit for names */
}

void cass_cols_free(struct cass *s)
{
    s->ncols = 0;
    s->plan.schema = NULL;
}

static const struct fl_schema *first_schema(const struct fl_schema *const *in, size_t n_in)
{
    for (size_t i = 0; i < n_in; i++)
        if (in[i])
            return in[i];
    return NULL;
}

/* Split "a b", "a,b" into at most two words; returns the count (3: more). */
static int words(const char *v, char w[2][64])
{
    int n = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t k = strcspn(p, " ,\t");
        if (n == 2 || k >= 64)
            return 3;
        memcpy(w[n], p, k);
        w[n][k] = 0;
        n++;
        p += k;
    }
    return n;
}

static int add_col(struct fl_ctx *ctx, struct cass *s, const char *name, const char *field,
                   uint16_t type, bool known)
{
    struct cass_col *c = &s->cols[s->ncols];
    if (strlen(name) >= sizeof(c->name) || strlen(field) >= sizeof(c->field))
        return fl_diag(ctx, "columns", "column \"%.40s...\" or its field: a name longer than %d "
                       "bytes", name, CASS_NAME_MAX - 1);
    strcpy(c->name, name);
    strcpy(c->field, field);
    for (char *p = c->name; *p; p++)   /* unquoted CQL names fold to lower case */
        *p = (char)tolower((unsigned char)*p);
    c->type = type;
    c->type_known = known;
    c->key = false;
    s->ncols++;
    return 0;
}

/* primary_key: "(a, b), c, d" or "a, b": every name a column. */
static int mark_keys(struct fl_ctx *ctx, struct cass *s)
{
    int rc = 0;
    if (!s->primary_key) {
        if (s->ncols)
            s->cols[0].key = true;
        return 0;
    }
    const char *p = s->primary_key;
    int depth = 0, nkeys = 0;
    while (*p) {
        if (*p == '(' || *p == ')') {
            depth += *p == '(' ? 1 : -1;
            if (depth < 0 || depth > 1)
                return fl_diag(ctx, "primary_key", "unbalanced parentheses in \"%s\"",
                               s->primary_key);
            p++;
            continue;
        }
        if (*p == ',' || isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        size_t k = 0;
        while (isalnum((unsigned char)p[k]) || p[k] == '_')
            k++;
        if (!k)
            return fl_diag(ctx, "primary_key", "unexpected '%c' in \"%s\"", *p, s->primary_key);
        bool found = false;
        for (size_t i = 0; i < s->ncols; i++)
            if (strlen(s->cols[i].name) == k && strncasecmp(s->cols[i].name, p, k) == 0)
                found = s->cols[i].key = true;
        if (!found)
            rc = fl_diag(ctx, "primary_key", "\"%.*s\" is not one of the columns", (int)k, p);
        nkeys++;
        p += k;
    }
    if (depth)
        return fl_diag(ctx, "primary_key", "unbalanced parentheses in \"%s\"", s->primary_key);
    if (!nkeys)
        return fl_diag(ctx, "primary_key", "names no column");
    return rc;
}

int cass_cols_configure(struct fl_ctx *ctx, struct cass *s, const struct fl_schema *const *in,
                        size_t n_in)
{
    const struct fl_schema *sch = first_schema(in, n_in);
    int rc = 0;
    cass_cols_free(s);
    s->cols_from_schema = false;
    s->types_given = false;
    if (!s->columns.n) {
        if (!sch)
            return fl_diag(ctx, NULL, "the input's fields are known only at run time: "
                                      "list the table's columns in columns:");
        if (sch->ncols > CASS_MAX_COLS)
            return fl_diag(ctx, NULL, "the input has %u fields, more than %d columns",
                           sch->ncols, CASS_MAX_COLS);
        for (uint32_t i = 0; i < sch->ncols; i++)
            if ((rc = add_col(ctx, s, sch->cols[i]->name, sch->cols[i]->name,
                              cql_type_default(sch->cols[i]->type), false)) < 0)
                return rc;
        s->cols_from_schema = true;
        return mark_keys(ctx, s);
    }
    if (s->columns.n > CASS_MAX_COLS)
        return fl_diag(ctx, "columns", "more than %d columns", CASS_MAX_COLS);
    for (size_t i = 0; i < s->columns.n; i++) {
        const char *name = s->columns.key[i];
        char w[2][64];
        int n = words(s->columns.val[i], w);
        uint16_t type = 0;
        const char *field = name;
        bool known = true;
        if (!cass_ident_ok(name)) {
            rc = fl_diag_at(ctx, "columns", name, 0, "\"%s\" is not a column name CQL takes "
                            "unquoted (a letter, then letters, digits, _)", name);
            continue;
        }
        if (n == 2) {
            field = w[0];
            if (cql_type_from_name(w[1], &type) < 0) {
                rc = fl_diag_at(ctx, "columns", name, 0, "column %s: \"%s\" is not a CQL type "
                            "flowline writes", name, w[1]);
                continue;
            }
        } else if (n == 1) {
            if (cql_type_from_name(w[0], &type) < 0) {
                field = w[0];
                known = false;
            }
        } else {
            rc = fl_diag_at(ctx, "columns", name, 0, "column %s: give TYPE, FIELD TYPE or "
                            "FIELD, not \"%s\"", name, s->columns.val[i]);
            continue;
        }
        if (!fl_field_find(field) && (!sch || fl_schema_find(sch, field) < 0)) {
            const char *sug = fl_field_suggest(field);
            if (n == 1)
                rc = fl_diag_at(ctx, "columns", name, 0, "column %s: \"%s\" is neither a CQL "
                                "type nor a field%s%s%s", name, field,
                                sug ? "; did you mean \"" : "", sug ? sug : "", sug ? "\"?" : "");
            else
                rc = fl_diag_at(ctx, "columns", name, 0, "column %s: unknown field \"%s\"%s%s%s",
                                name, field, sug ? "; did you mean \"" : "", sug ? sug : "",
                                sug ? "\"?" : "");
            continue;
        }
        if (!known) {
            const struct fl_field *f = fl_field_find(field);
            int ci = sch ? fl_schema_find(sch, field) : -1;
            type = cql_type_default(ci >= 0 ? sch->cols[ci]->type : f ? f->type : FL_T_STR);
        }
        if (known && type == CQL_T_COUNTER) {
            /* counters change only by UPDATE c = c + ?, and a re-sent
             * increment would count twice: not what an at-least-once
             * writer of INSERTs can offer */
            rc = fl_diag_at(ctx, "columns", name, 0, "column %s: counter columns take UPDATE, "
                            "not INSERT; output.cassandra writes INSERTs (use bigint)", name);
            continue;
        }
        int arc = add_col(ctx, s, name, field, type, known);
        if (arc < 0)
            return arc;
    }
    s->types_given = true;
    for (size_t i = 0; i < s->ncols; i++)
        s->types_given &= s->cols[i].type_known;
    int krc = mark_keys(ctx, s);
    return rc < 0 ? rc : krc;
}

/* In describe(): every field present in the input (when it is known) and
 * convertible to its column's type. */
int cass_cols_check(struct fl_ctx *ctx, struct cass *s, const struct fl_schema *in)
{
    int rc = 0;
    if (!in)
        return 0;
    for (size_t i = 0; i < s->ncols; i++) {
        const struct cass_col *c = &s->cols[i];
        int ci = fl_schema_find(in, c->field);
        if (ci < 0) {
            if (c->key)
                rc = fl_diag(ctx, s->cols_from_schema ? NULL : "columns",
                             "column %s is part of the primary key but the input has no field "
                             "\"%s\"", c->name, c->field);
            else
                FL_LOG_WARN(ctx, "column %s: the input has no field \"%s\": written as null",
                            c->name, c->field);
            continue;
        }
        const char *why = cql_conv_why_not(in->cols[ci]->type, c->type);
        if (why && s->cols_from_schema)
            rc = fl_diag(ctx, NULL, "column %s (%s): field \"%s\" is %s: %s", c->name,
                         cql_type_name(c->type), c->field, fl_type_name(in->cols[ci]->type), why);
        else if (why)
            rc = fl_diag_at(ctx, "columns", c->name, 0, "column %s (%s): field \"%s\" is %s: %s",
                            c->name, cql_type_name(c->type), c->field,
                            fl_type_name(in->cols[ci]->type), why);
    }
    return rc;
}

/* ---- statements ---------------------------------------------------------- */

static char *join(const char *head, const struct cass *s, int what, const char *tail)
{
    size_t n = strlen(head) + strlen(tail) + 1;
    for (size_t i = 0; i < s->ncols; i++)
        n += strlen(s->cols[i].name) + 16;
    char *q = malloc(n), *p = q;
    if (!q)
        return NULL;
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < s->ncols; i++) {
        const char *sep = i ? ", " : "";
        if (what == 0)
            p += sprintf(p, "%s%s %s", sep, s->cols[i].name, cql_type_name(s->cols[i].type));
        else if (what == 1)
            p += sprintf(p, "%s%s", sep, s->cols[i].name);
        else
            p += sprintf(p, "%s?", sep);
    }
    sprintf(p, "%s", tail);
    return q;
}

char *cass_create_keyspace_cql(const struct cass *s)
{
    char *q = NULL;
    if (asprintf(&q, "CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", s->keyspace,
                 s->replication) < 0)
        return NULL;
    return q;
}

char *cass_create_table_cql(const struct cass *s)
{
    char *head = NULL, *tail = NULL, *q = NULL;
    const char *pk = s->primary_key ? s->primary_key : s->cols[0].name;
    if (asprintf(&head, "CREATE TABLE IF NOT EXISTS %s.%s (", s->keyspace, s->table) < 0)
        return NULL;
    if (asprintf(&tail, ", PRIMARY KEY (%s))", pk) < 0)
        goto out;
    q = join(head, s, 0, tail);
out:
    free(head);
    free(tail);
    return q;
}

char *cass_insert_cql(const struct cass *s)
{
    char *head = NULL, *mid, *q = NULL;
    if (asprintf(&head, "INSERT INTO %s.%s (", s->keyspace, s->table) < 0)
        return NULL;
    if (!(mid = join(head, s, 1, ") VALUES (")))
        goto out;
    q = join(mid, s, 2, ")");
    free(mid);
out:
    free(head);
    return q;
}

/* ---- rows ------------------------------------------------------------------ */

void cass_plan_bind(struct cass *s, const struct fl_schema *schema)
{
    s->plan.schema = schema;
    for (size_t i = 0; i < s->ncols; i++) {
        int ci = fl_schema_find(schema, s->cols[i].field);
        s->plan.col[i] = ci;
        s->plan.ftype[i] = ci >= 0 ? schema->cols[ci]->type : FL_T_NONE;
        s->plan.fsize[i] = ci >= 0 ? fl_type_size(s->plan.ftype[i]) : 0;
    }
}

int cass_encode_row(struct cass *s, struct cql_wr *w, const struct fl_batch *b, uint32_t r)
{
    size_t at = w->len;
    for (size_t i = 0; i < s->ncols; i++) {
        int ci = s->plan.col[i];
        if (ci < 0 || !fl_batch_is_valid(b, (uint32_t)ci, r)) {
            if (s->cols[i].key)
                goto skip_key;
            cql_wr_null(w);
            continue;
        }
        enum fl_type t = s->plan.ftype[i];
        const uint8_t *cell = (const uint8_t *)b->data[ci] + (size_t)r * s->plan.fsize[i];
        /* the pairing was checked when the plan was bound (bind_plan) */
        int rc = cql_value_enc(w, s->cols[i].type, t, cell, b, (enum cql_time_unit)s->time_unit);
        if (rc == -FL_ERANGE || rc == -FL_ETYPE) {
            s->c_out_of_range++;
            if (s->cols[i].key)
                goto skip_key;
        }
    }
    return w->err;
skip_key:
    w->len = at;
    s->c_missing_key++;
    return 1;
}
