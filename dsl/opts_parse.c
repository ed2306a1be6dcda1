/* opts_parse.c: a stage's `with:` mapping into its plugin's state, through
 * the plugin's option table (opts.h): defaults first, then the given values,
 * then what is required and missing. Unknown names get a "did you mean",
 * deprecated aliases a warning; every problem goes to the diagnostic list at
 * the position of the key or value it is about.
 *
 * One value's text is parsed by opts_value.c; this file handles the YAML
 * shapes (scalars, lists, mappings) and the bookkeeping. Strings the parser
 * allocated in the state are the core's: fl_opts_free() releases them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "opts_int.h"

static const char *opts_shape(const struct fl_ynode *n)
{
    return n->kind == FL_Y_MAP ? "a mapping" : n->kind == FL_Y_SEQ ? "a list" : "a value";
}

static int opts_expected(const struct fl_opt *o, const struct fl_ynode *n, char *err, size_t len)
{
    char what[512];
    fl_optv_expected(o, what, sizeof(what));
    if (n->kind != FL_Y_SCALAR)
        return fl_optv_err(err, len, "expected %s, got %s", what, opts_shape(n));
    if (fl_ynode_is_null(n))
        return fl_optv_err(err, len, "expected %s, got nothing", what);
    return fl_optv_err(err, len, "expected %s, got \"%s\"", what, n->str);
}

/* A list, or one value as a list of one. Paths (FL_OPT_PATHS) are resolved
 * like FL_OPT_PATH, each against base_dir unless it came from outside. */
static int opts_list(const struct fl_opt *o, const struct fl_ynode *n, const char *base_dir,
                     union fl_optv *v, char *err, size_t len, struct fl_pos *at)
{
    bool paths = o->type == FL_OPT_PATHS;
    if (fl_ynode_is_null(n))
        return paths ? opts_expected(o, n, err, len) : 0;   /* an empty list */
    if (n->kind == FL_Y_SCALAR)
        return fl_optv_parse(o, n->str, n->from_env ? NULL : base_dir, v, err, len);
    if (n->kind != FL_Y_SEQ)
        return opts_expected(o, n, err, len);
    if (!(v->l.v = calloc(n->n + 1, sizeof(char *))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->kind != FL_Y_SCALAR) {
            *at = n->items[i]->pos;
            return fl_optv_err(err, len, "expected a list of values, got %s in it",
                               opts_shape(n->items[i]));
        }
        if (paths ? fl_optv_path(n->items[i]->str, n->items[i]->from_env ? NULL : base_dir,
                                 &v->l.v[v->l.n]) < 0
                  : !(v->l.v[v->l.n] = strdup(n->items[i]->str)))
            return -FL_ENOMEM;
        v->l.n++;
    }
    return 0;
}

/* A map value is a scalar, or a list of scalars kept as its items joined
 * with commas (opts.h: fl_strmap is fixed for the ABI major). */
static bool opts_map_value_ok(const struct fl_ynode *x)
{
    if (x->kind == FL_Y_SCALAR)
        return true;
    if (x->kind != FL_Y_SEQ)
        return false;
    for (size_t j = 0; j < x->n; j++)
        if (x->items[j]->kind != FL_Y_SCALAR)
            return false;
    return true;
}

static char *opts_map_value(const struct fl_ynode *x)
{
    size_t total = 1;
    char *s;
    if (x->kind == FL_Y_SCALAR)
        return strdup(x->str);
    for (size_t j = 0; j < x->n; j++)
        total += strlen(x->items[j]->str) + 1;
    if (!(s = calloc(1, total)))
        return NULL;
    for (size_t j = 0; j < x->n; j++) {
        if (j)
            strcat(s, ",");
        strcat(s, x->items[j]->str);
    }
    return s;
}

static int opts_map(const struct fl_opt *o, const struct fl_ynode *n, union fl_optv *v,
                    char *err, size_t len, struct fl_pos *at)
{
    if (fl_ynode_is_null(n))
        return 0;
    if (n->kind != FL_Y_MAP)
        return opts_expected(o, n, err, len);
    if (!(v->m.key = calloc(n->n + 1, sizeof(char *))) || !(v->m.val = calloc(n->n + 1, sizeof(char *))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        const struct fl_ynode *x = n->items[i];
        char *val;
        if (!opts_map_value_ok(x)) {
            *at = x->pos;
            return fl_optv_err(err, len, "expected a mapping of names to values (or lists of"
                               " values), got %s as the value of \"%s\"",
                               x->kind == FL_Y_SEQ ? "a nested list" : opts_shape(x), n->keys[i]);
        }
        if (!(v->m.key[v->m.n] = strdup(n->keys[i])))
            return -FL_ENOMEM;
        if (!(val = opts_map_value(x))) {
            free(v->m.key[v->m.n]);
            return -FL_ENOMEM;
        }
        v->m.val[v->m.n] = val;
        v->m.n++;
    }
    return 0;
}

/* name is one of o->choices, or an error with a "did you mean". */
static int opts_choice(const struct fl_opt *o, const char *name, const char *what, char *err,
                       size_t len)
{
    size_t n = 0;
    char list[512] = "";
    const char *best;
    for (; o->choices[n]; n++) {
        if (!strcmp(o->choices[n], name))
            return 0;
        strncat(list, n ? ", " : "", sizeof(list) - strlen(list) - 1);
        strncat(list, o->choices[n], sizeof(list) - strlen(list) - 1);
    }
    if (n && (best = fl_suggest(name, o->choices, n)))
        return fl_optv_err(err, len, "unknown %s \"%s\"; did you mean \"%s\"?", what, name, best);
    return fl_optv_err(err, len, "unknown %s \"%s\" (one of %s)", what, name, list);
}

/* A list option with choices (opts.h): with FL_OPT_ALL_NONE a lone true or
 * false (or yes/on, no/off, as for a bool) is every choice or none; every
 * item must be a choice. */
static int opts_list_choices(const struct fl_opt *o, const struct fl_ynode *n, union fl_optv *v,
                             char *err, size_t len, struct fl_pos *at)
{
    if ((o->flags & FL_OPT_ALL_NONE) && n->kind == FL_Y_SCALAR && v->l.n == 1) {
        /* the words FL_OPT_BOOL takes */
        const char *w = v->l.v[0];
        bool all = !strcasecmp(w, "true") || !strcasecmp(w, "yes") || !strcasecmp(w, "on");
        bool none = !strcasecmp(w, "false") || !strcasecmp(w, "no") || !strcasecmp(w, "off");
        if (all || none) {
            size_t k = 0;
            fl_optv_free(o->type, v);
            while (all && o->choices[k])
                k++;
            if (!(v->l.v = calloc(k + 1, sizeof(char *))))
                return -FL_ENOMEM;
            for (size_t i = 0; i < k; i++) {
                if (!(v->l.v[i] = strdup(o->choices[i])))
                    return -FL_ENOMEM;
                v->l.n++;
            }
            return 0;
        }
    }
    for (size_t i = 0; i < v->l.n; i++) {
        if (n->kind == FL_Y_SEQ && i < n->n)
            *at = n->items[i]->pos;
        if (opts_choice(o, v->l.v[i], "value", err, len) < 0)
            return -FL_EINVAL;
    }
    return 0;
}

/* One value node into v; *at is where an error is (the node, or an item). */
static int opts_node(const struct fl_opt *o, const struct fl_ynode *n, const char *base_dir,
                     union fl_optv *v, char *err, size_t len, struct fl_pos *at)
{
    int rc;
    memset(v, 0, sizeof(*v));
    *at = n->pos;
    if (o->type == FL_OPT_LIST || o->type == FL_OPT_PATHS) {
        rc = opts_list(o, n, base_dir, v, err, len, at);
        if (rc == 0 && o->type == FL_OPT_LIST && o->choices)
            rc = opts_list_choices(o, n, v, err, len, at);
        return rc;
    }
    if (o->type == FL_OPT_MAP) {
        rc = opts_map(o, n, v, err, len, at);
        for (size_t i = 0; rc == 0 && o->choices && i < v->m.n; i++)
            if ((rc = opts_choice(o, v->m.key[i], "key", err, len)) < 0 && i < n->n)
                *at = n->key_pos[i];
        return rc;
    }
    if (n->kind != FL_Y_SCALAR)
        return opts_expected(o, n, err, len);
    if (fl_ynode_is_null(n) && !(o->type == FL_OPT_STRING && !n->str[0]))
        return opts_expected(o, n, err, len);
    return fl_optv_parse(o, n->str, n->from_env ? NULL : base_dir, v, err, len);
}

/* Text as a value of o: lists and mappings are read as YAML ("[a, b]",
 * "{k: v}", or one plain value), so a table default looks like the file. */
static int opts_text(const struct fl_opt *o, const char *text, const char *base_dir,
                     union fl_optv *v, char *err, size_t len)
{
    struct fl_diags d = { 0 };
    struct fl_ynode *n = NULL;
    struct fl_pos at;
    int rc;
    if (o->type != FL_OPT_LIST && o->type != FL_OPT_MAP)
        return fl_optv_parse(o, text, base_dir, v, err, len);
    memset(v, 0, sizeof(*v));
    rc = fl_ynode_parse("value", text, strlen(text), &d, &n);
    if (rc < 0 || !n) {
        rc = rc == -FL_ENOMEM ? rc : fl_optv_err(err, len, "%s", d.n ? d.v[0].msg : "empty value");
    } else if ((rc = opts_node(o, n, base_dir, v, err, len, &at)) < 0)
        fl_optv_free(o->type, v);
    fl_ynode_free(&n);
    fl_diags_free(&d);
    return rc;
}

int fl_opt_parse_value(const struct fl_opt *o, const char *text, void *dst, char *err, size_t errlen)
{
    union fl_optv v;
    int rc = opts_text(o, text, NULL, &v, err, errlen);
    if (rc == -FL_ENOMEM)
        fl_optv_err(err, errlen, "out of memory");
    if (rc < 0)
        return rc;
    memcpy(dst, &v, fl_optv_size(o->type));
    return 0;
}

static void opts_store(const struct fl_opt *o, void *state, union fl_optv *v)
{
    union fl_optv old;
    char *dst = (char *)state + o->offset;
    size_t size = fl_optv_size(o->type);
    memset(&old, 0, sizeof(old));
    memcpy(&old, dst, size);
    fl_optv_free(o->type, &old);          /* a default being overridden */
    memcpy(dst, v, size);
}

const struct fl_opt *fl_opt_find(const struct fl_opt *table, const char *key, bool *alias)
{
    for (const struct fl_opt *o = table; o && o->name; o++)
        if (!strcmp(o->name, key)) {
            *alias = false;
            return o;
        }
    for (const struct fl_opt *o = table; o && o->name; o++)
        if (o->alias && !strcmp(o->alias, key)) {
            *alias = true;
            return o;
        }
    return NULL;
}

static void opts_unknown(const struct fl_opt *table, size_t n, const char *key, struct fl_pos pos,
                         const char *where, struct fl_diags *d)
{
    const char **names = calloc(n + 1, sizeof(*names));
    const char *best = NULL;
    char list[512] = "";
    for (size_t i = 0; names && i < n; i++) {
        names[i] = table[i].name;
        strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
        strncat(list, table[i].name, sizeof(list) - strlen(list) - 1);
    }
    if (names)
        best = fl_suggest(key, names, n);
    free(names);
    if (best)
        fl_diags_add(d, pos, "unknown option \"%s\" for %s; did you mean \"%s\"?", key, where, best);
    else if (n)
        fl_diags_add(d, pos, "unknown option \"%s\" for %s (options: %s)", key, where, list);
    else
        fl_diags_add(d, pos, "unknown option \"%s\": %s takes no options", key, where);
}

int fl_opts_parse(const struct fl_opt *table, const struct fl_ynode *with,
                  const char *base_dir, const char *where, void *state,
                  struct fl_diags *d)
{
    struct fl_pos wpos = with ? with->pos : (struct fl_pos){ 0 };
    size_t errors = d->errors, n = 0, *given = NULL;
    char err[768];
    union fl_optv v;
    struct fl_pos at;
    int rc;

    if (!where)
        where = "the plugin";
    while (table && table[n].name)
        n++;
    if (!(given = malloc((n + 1) * sizeof(*given))))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const struct fl_opt *o = &table[i];
        given[i] = SIZE_MAX;
        if (!o->def)
            continue;
        if ((rc = opts_text(o, o->def, base_dir, &v, err, sizeof(err))) == -FL_ENOMEM)
            goto nomem;
        if (rc < 0)
            fl_diags_add(d, wpos, "option \"%s\" for %s: bad default \"%s\" in the plugin: %s",
                         o->name, where, o->def, err);
        else
            opts_store(o, state, &v);
    }
    if (with && with->kind != FL_Y_MAP && !fl_ynode_is_null(with))
        fl_diags_add(d, with->pos, "with: expected a mapping of options for %s", where);
    for (size_t k = 0; with && with->kind == FL_Y_MAP && k < with->n; k++) {
        bool alias;
        const char *key = with->keys[k];
        const struct fl_opt *o = fl_opt_find(table, key, &alias);
        if (!o) {
            opts_unknown(table, n, key, with->key_pos[k], where, d);
            continue;
        }
        size_t i = (size_t)(o - table);
        if (alias)
            fl_diags_warn(d, with->key_pos[k], "option \"%s\" for %s is deprecated; use \"%s\"",
                          key, where, o->name);
        if (given[i] != SIZE_MAX) {
            fl_diags_add(d, with->key_pos[k], "option \"%s\" for %s is given twice (as \"%s\" and"
                         " \"%s\")", o->name, where, with->keys[given[i]], key);
            continue;
        }
        given[i] = k;
        rc = opts_node(o, with->items[k], base_dir, &v, err, sizeof(err), &at);
        if (rc == -FL_ENOMEM) {
            fl_optv_free(o->type, &v);
            goto nomem;
        }
        if (rc < 0) {
            fl_optv_free(o->type, &v);
            fl_diags_add(d, at, "option \"%s\" for %s: %s", o->name, where, err);
            continue;
        }
        opts_store(o, state, &v);
    }
    for (size_t i = 0; i < n; i++)
        if ((table[i].flags & FL_OPT_REQUIRED) && given[i] == SIZE_MAX)
            fl_diags_add(d, wpos, "missing required option \"%s\" for %s", table[i].name, where);
    free(given);
    return d->errors > errors ? -FL_EINVAL : 0;
nomem:
    free(given);
    fl_diags_add(d, wpos, "out of memory parsing the options of %s", where);
    return -FL_ENOMEM;
}

void fl_opts_free(const struct fl_opt *table, void *state)
{
    for (const struct fl_opt *o = table; o && o->name; o++) {
        union fl_optv v;
        char *dst = (char *)state + o->offset;
        size_t size = fl_optv_size(o->type);
        if (o->type != FL_OPT_STRING && o->type != FL_OPT_PATH && o->type != FL_OPT_ENDPOINT
            && o->type != FL_OPT_LIST && o->type != FL_OPT_PATHS && o->type != FL_OPT_MAP)
            continue;
        memset(&v, 0, sizeof(v));
        memcpy(&v, dst, size);
        fl_optv_free(o->type, &v);
        memset(dst, 0, size);
    }
}
