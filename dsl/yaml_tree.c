/* yaml_tree.c: one YAML document from a buffer into a tree of fl_ynode that
 * keeps every node's file:line:column (DESIGN.md §5).
 *
 * libyaml's event parser does the syntax; this file adds what libyaml does
 * not: duplicate keys are errors (libyaml accepts them), ${ENV} and
 * ${ENV:-default} are substituted in scalar values, aliases are expanded into
 * copies (and `<<` merge keys applied) within a node budget, and a syntax
 * error leaves the tree read so far, marked partial, so the checks after it
 * can still report what is wrong in the part that was read. It does not know
 * what a pipeline is: conf.c gives the tree its meaning. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "internal.h"

/* A pipeline file is small; these bounds keep a hostile or broken one (an
 * alias bomb, 100k nested brackets, a map of 1M keys checked pairwise for
 * duplicates) from costing more than a fraction of a second. */
#define YTREE_MAX_DEPTH 256
#define YTREE_MAX_NODES 100000
#define YTREE_MAX_KEYS 10000

enum ytree_key_action { YTREE_KEY_ADD, YTREE_KEY_DROP, YTREE_KEY_REPLACE, YTREE_KEY_MERGE };

struct ytree_frame {
    struct fl_ynode *node;
    char *anchor;                 /* registered once the node is complete */
    /* maps: the key waiting for its value */
    bool have_key;
    char *key;
    struct fl_pos key_pos;
    enum ytree_key_action action;
    size_t replace_at;
    bool *merged;                 /* per pair: came from a << merge, may be overridden */
    size_t merged_cap;
};

struct ytree_anchor { char *name; struct fl_ynode *node; };

struct ytree {
    struct fl_diags *d;
    const char *file;
    const char *buf;
    size_t len;
    struct ytree_frame stack[YTREE_MAX_DEPTH];
    size_t depth;
    struct ytree_anchor *anchors;
    size_t n_anchors;
    /* Nodes taken out of the tree (a duplicate key's value, a merge source)
     * stay alive until the end: an anchor may still point at them. */
    struct fl_ynode **grave;
    size_t n_grave, grave_cap;
    struct fl_ynode *root;
    size_t n_nodes, n_docs;
    size_t n_aliases;              /* aliases expanded (copies count as nodes) */
    int rc;
    bool stop;
};

static void ytree_error(struct ytree *t, struct fl_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ytree_error(struct ytree *t, struct fl_pos pos, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    fl_diags_add(t->d, pos, "%s", msg ? msg : fmt);
    free(msg);
    if (t->rc == 0)
        t->rc = -FL_EINVAL;
}

static void ytree_nomem(struct ytree *t)
{
    fl_diags_add(t->d, (struct fl_pos){ t->file, 0, 0 }, "out of memory while reading YAML");
    t->rc = -FL_ENOMEM;
    t->stop = true;
}

static struct fl_pos ytree_pos(const struct ytree *t, yaml_mark_t m)
{
    /* libyaml 0.2.5 marks are 0-based */
    return (struct fl_pos){ t->file, (uint32_t)m.line + 1, (uint32_t)m.column + 1 };
}

static struct fl_ynode *ytree_node_new(struct ytree *t, enum fl_ynode_kind kind, struct fl_pos pos)
{
    struct fl_ynode *n;
    if (++t->n_nodes > YTREE_MAX_NODES) {
        if (!t->stop)
            ytree_error(t, pos, t->n_aliases
                        ? "more than %d YAML values once aliases are expanded (aliases "
                          "expanding without bound?)"
                        : "more than %d YAML values: too large for a pipeline file",
                        YTREE_MAX_NODES);
        t->stop = true;
        return NULL;
    }
    if (!(n = calloc(1, sizeof(*n)))) {
        ytree_nomem(t);
        return NULL;
    }
    n->kind = kind;
    n->pos = pos;
    return n;
}

void fl_ynode_free(struct fl_ynode **np)
{
    struct fl_ynode *n = *np;
    *np = NULL;
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        fl_ynode_free(&n->items[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->key_pos);
    free(n->str);
    free(n);
}

const struct fl_ynode *fl_ynode_get(const struct fl_ynode *m, const char *key)
{
    if (!m || m->kind != FL_Y_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0)
            return m->items[i];
    return NULL;
}

bool fl_ynode_is_null(const struct fl_ynode *n)
{
    if (!n || n->kind != FL_Y_SCALAR || n->quoted)
        return false;
    return !n->str[0] || !strcmp(n->str, "~") || !strcmp(n->str, "null")
        || !strcmp(n->str, "Null") || !strcmp(n->str, "NULL");
}

static void ytree_bury(struct ytree *t, struct fl_ynode *n)
{
    if (!n)
        return;
    if (t->n_grave == t->grave_cap) {
        size_t cap = t->grave_cap ? t->grave_cap * 2 : 8;
        struct fl_ynode **g = realloc(t->grave, cap * sizeof(*g));
        if (!g) {
            /* no anchor may point at freed memory: forget them all */
            for (size_t i = 0; i < t->n_anchors; i++)
                free(t->anchors[i].name);
            t->n_anchors = 0;
            fl_ynode_free(&n);
            ytree_nomem(t);
            return;
        }
        t->grave = g;
        t->grave_cap = cap;
    }
    t->grave[t->n_grave++] = n;
}

/* Append to a seq (key == NULL) or a map; takes key and item. */
static int ytree_append(struct ytree *t, struct fl_ynode *n, char *key, struct fl_pos kpos,
                        struct fl_ynode *item)
{
    size_t cap = n->n + 1;
    struct fl_ynode **items = realloc(n->items, cap * sizeof(*items));
    if (!items)
        goto fail;
    n->items = items;
    if (n->kind == FL_Y_MAP) {
        char **keys = realloc(n->keys, cap * sizeof(*keys));
        if (!keys)
            goto fail;
        n->keys = keys;
        struct fl_pos *kp = realloc(n->key_pos, cap * sizeof(*kp));
        if (!kp)
            goto fail;
        n->key_pos = kp;
        n->keys[n->n] = key;
        n->key_pos[n->n] = kpos;
    }
    n->items[n->n++] = item;
    return 0;
fail:
    free(key);
    ytree_bury(t, item);
    ytree_nomem(t);
    return -FL_ENOMEM;
}

static struct fl_ynode *ytree_copy(struct ytree *t, const struct fl_ynode *src, size_t depth)
{
    struct fl_ynode *n;
    if (depth > YTREE_MAX_DEPTH) {
        if (!t->stop)
            ytree_error(t, src->pos, "YAML nested deeper than %d levels", YTREE_MAX_DEPTH);
        t->stop = true;
        return NULL;
    }
    if (!(n = ytree_node_new(t, src->kind, src->pos)))
        return NULL;
    n->quoted = src->quoted;
    n->from_env = src->from_env;
    if (src->str && !(n->str = strdup(src->str)))
        goto nomem;
    for (size_t i = 0; i < src->n; i++) {
        char *key = NULL;
        struct fl_ynode *item = ytree_copy(t, src->items[i], depth + 1);
        if (!item)
            goto fail;
        if (src->kind == FL_Y_MAP && !(key = strdup(src->keys[i]))) {
            fl_ynode_free(&item);
            goto nomem;
        }
        if (ytree_append(t, n, key, src->kind == FL_Y_MAP ? src->key_pos[i] : src->pos, item) < 0)
            goto fail;
    }
    return n;
nomem:
    ytree_nomem(t);
fail:
    fl_ynode_free(&n);
    return NULL;
}

static int ytree_mark_merged(struct ytree *t, struct ytree_frame *f, size_t i, bool merged)
{
    if (i >= f->merged_cap) {
        size_t cap = f->merged_cap ? f->merged_cap * 2 : 8;
        while (cap <= i)
            cap *= 2;
        bool *m = realloc(f->merged, cap * sizeof(*m));
        if (!m) {
            ytree_nomem(t);
            return -FL_ENOMEM;
        }
        memset(m + f->merged_cap, 0, (cap - f->merged_cap) * sizeof(*m));
        f->merged = m;
        f->merged_cap = cap;
    }
    f->merged[i] = merged;
    return 0;
}

/* `<<: *base` or `<<: [*a, *b]`: copy the pairs whose key the map lacks, in
 * order, so the first source wins and explicit keys (before or after) win
 * over all of them (YAML merge key semantics). */
static void ytree_merge_one(struct ytree *t, struct ytree_frame *f, const struct fl_ynode *src)
{
    struct fl_ynode *m = f->node;
    for (size_t i = 0; i < src->n && !t->stop; i++) {
        if (fl_ynode_get(m, src->keys[i]))
            continue;
        char *key = strdup(src->keys[i]);
        struct fl_ynode *item = key ? ytree_copy(t, src->items[i], t->depth) : NULL;
        if (!key || !item) {
            free(key);
            if (!t->stop)
                ytree_nomem(t);
            return;
        }
        if (ytree_append(t, m, key, src->key_pos[i], item) < 0
            || ytree_mark_merged(t, f, m->n - 1, true) < 0)
            return;
    }
}

static void ytree_merge(struct ytree *t, struct ytree_frame *f, struct fl_ynode *v)
{
    if (v->kind == FL_Y_MAP)
        ytree_merge_one(t, f, v);
    else if (v->kind == FL_Y_SEQ) {
        for (size_t i = 0; i < v->n; i++)
            if (v->items[i]->kind != FL_Y_MAP)
                ytree_error(t, v->items[i]->pos, "<< merges mappings only");
            else
                ytree_merge_one(t, f, v->items[i]);
    } else
        ytree_error(t, v->pos, "<< expects a mapping or a list of mappings");
    ytree_bury(t, v);
}

/* A key arrived in map frame f: decide now (in document order) what its
 * value will do, so a duplicate is reported at the second key. */
static void ytree_key(struct ytree *t, struct ytree_frame *f, char *key, struct fl_pos pos, bool plain)
{
    const struct fl_ynode *m = f->node;
    f->have_key = true;
    f->key = key;
    f->key_pos = pos;
    f->action = YTREE_KEY_ADD;
    if (plain && strcmp(key, "<<") == 0) {
        f->action = YTREE_KEY_MERGE;
        return;
    }
    if (m->n >= YTREE_MAX_KEYS) {
        ytree_error(t, pos, "a mapping with more than %d keys", YTREE_MAX_KEYS);
        t->stop = true;
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->keys[i], key) != 0)
            continue;
        if (i < f->merged_cap && f->merged[i]) {
            f->action = YTREE_KEY_REPLACE;
            f->replace_at = i;
        } else {
            ytree_error(t, pos, "duplicate key \"%s\" (first at line %u)", key, m->key_pos[i].line);
            f->action = YTREE_KEY_DROP;
        }
        return;
    }
}

/* A complete node goes into its parent (or becomes the root). */
static void ytree_attach(struct ytree *t, struct fl_ynode *n)
{
    struct ytree_frame *f;
    if (!t->depth) {
        t->root = n;
        return;
    }
    f = &t->stack[t->depth - 1];
    if (f->node->kind == FL_Y_SEQ) {
        ytree_append(t, f->node, NULL, n->pos, n);
        return;
    }
    f->have_key = false;
    switch (f->action) {
    case YTREE_KEY_ADD:
        if (ytree_append(t, f->node, f->key, f->key_pos, n) == 0)
            ytree_mark_merged(t, f, f->node->n - 1, false);
        break;
    case YTREE_KEY_REPLACE:
        ytree_bury(t, f->node->items[f->replace_at]);
        f->node->items[f->replace_at] = n;
        f->node->key_pos[f->replace_at] = f->key_pos;
        f->merged[f->replace_at] = false;
        free(f->key);
        break;
    case YTREE_KEY_DROP:
        ytree_bury(t, n);
        free(f->key);
        break;
    case YTREE_KEY_MERGE:
        free(f->key);
        ytree_merge(t, f, n);
        break;
    }
    f->key = NULL;
}

static void ytree_anchor_add(struct ytree *t, char *name, struct fl_ynode *n)
{
    struct ytree_anchor *a = realloc(t->anchors, (t->n_anchors + 1) * sizeof(*a));
    if (!a) {
        free(name);
        ytree_nomem(t);
        return;
    }
    t->anchors = a;
    t->anchors[t->n_anchors++] = (struct ytree_anchor){ name, n };
}

static struct fl_ynode *ytree_anchor_find(struct ytree *t, const char *name)
{
    for (size_t i = t->n_anchors; i-- > 0;)   /* a redefined anchor: the latest */
        if (strcmp(t->anchors[i].name, name) == 0)
            return t->anchors[i].node;
    return NULL;
}

static bool ytree_env_name_char(char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

/* ${NAME} and ${NAME:-default} (default also when set but empty); $${ is a
 * literal ${. The result is a string: it is never read as YAML again.
 * *from_env: the result begins with the value of an environment variable. */
static int ytree_subst(struct ytree *t, const char *in, struct fl_pos pos, char **out,
                       bool *from_env)
{
    *from_env = false;
    size_t cap = strlen(in) + 1, n = 0;
    char *s = malloc(cap);
    if (!s)
        goto nomem;
    for (const char *p = in; *p;) {
        const char *add = p, *name, *end;
        size_t alen = 1, nlen;
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            add = p + 1;
            alen = 2;
            p += 3;
        } else if (p[0] == '$' && p[1] == '{') {
            name = p + 2;
            if (!(end = strchr(name, '}'))) {
                ytree_error(t, pos, "unterminated \"${\" in value");
                goto fail;
            }
            for (nlen = 0; ytree_env_name_char(name[nlen], nlen == 0); nlen++)
                ;
            if (!nlen || (name + nlen != end && strncmp(name + nlen, ":-", 2) != 0)) {
                ytree_error(t, pos, "bad environment variable reference \"%.*s\"",
                            (int)(end - p + 1), p);
                goto fail;
            }
            char var[256];
            if (nlen >= sizeof(var)) {
                ytree_error(t, pos, "environment variable name too long");
                goto fail;
            }
            memcpy(var, name, nlen);
            var[nlen] = 0;
            add = getenv(var);
            if (name + nlen != end && (!add || !*add)) {
                add = name + nlen + 2;                 /* the default */
                alen = (size_t)(end - add);
            } else if (!add) {
                ytree_error(t, pos, "environment variable \"%s\" is not set"
                            " (write ${%s:-default} for a fallback)", var, var);
                goto fail;
            } else {
                alen = strlen(add);
                *from_env |= n == 0 && alen > 0;
            }
            p = end + 1;
        } else
            p++;
        if (n + alen + 1 > cap) {
            cap = (n + alen + 1) * 2;
            char *g = realloc(s, cap);
            if (!g)
                goto nomem;
            s = g;
        }
        memcpy(s + n, add, alen);
        n += alen;
    }
    s[n] = 0;
    *out = s;
    return 0;
nomem:
    ytree_nomem(t);
fail:
    free(s);
    return -FL_EINVAL;
}

static void ytree_on_scalar(struct ytree *t, const yaml_event_t *ev)
{
    struct fl_pos pos = ytree_pos(t, ev->start_mark);
    const char *tag = (const char *)ev->data.scalar.tag;
    size_t len = ev->data.scalar.length;
    struct ytree_frame *f = t->depth ? &t->stack[t->depth - 1] : NULL;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
        && !(tag && strcmp(tag, YAML_STR_TAG) == 0);
    char *str;

    if (memchr(ev->data.scalar.value, 0, len))
        ytree_error(t, pos, "a NUL character in a value");
    if (!(str = strndup((const char *)ev->data.scalar.value, len))) {
        ytree_nomem(t);
        return;
    }
    if (f && f->node->kind == FL_Y_MAP && !f->have_key) {
        ytree_key(t, f, str, pos, plain);
        if (ev->data.scalar.anchor)   /* legal YAML, but nothing here would use it */
            ytree_error(t, pos, "anchors on keys are not supported");
        return;
    }
    bool from_env = false;
    bool verbatim = false;
    if (ev->start_mark.line == ev->end_mark.line
        && (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
            || ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE
            || ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        && !strstr(str, "${")) {
        /* Count characters, not bytes: libyaml's columns are characters.
         * Over libyaml's buffer: str ends early at a NUL in the value. */
        const unsigned char *v = ev->data.scalar.value;
        size_t chars = 0;
        for (size_t i = 0; i < len; i++)
            chars += (v[i] & 0xc0) != 0x80;
        chars += ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? 0 : 2;
        verbatim = ev->end_mark.column - ev->start_mark.column == chars;
    }
    if (strstr(str, "${")) {
        char *sub;
        if (ytree_subst(t, str, pos, &sub, &from_env) == 0) {
            free(str);
            str = sub;
        }
    }
    struct fl_ynode *n = ytree_node_new(t, FL_Y_SCALAR, pos);
    if (!n) {
        free(str);
        return;
    }
    n->str = str;
    n->quoted = !plain;
    n->from_env = from_env;
    n->verbatim = verbatim;
    if (ev->data.scalar.anchor) {
        char *a = strdup((const char *)ev->data.scalar.anchor);
        if (!a)
            ytree_nomem(t);
        else
            ytree_anchor_add(t, a, n);
    }
    ytree_attach(t, n);
}

static void ytree_on_start(struct ytree *t, const yaml_event_t *ev, enum fl_ynode_kind kind)
{
    struct fl_pos pos = ytree_pos(t, ev->start_mark);
    const yaml_char_t *anchor = kind == FL_Y_MAP ? ev->data.mapping_start.anchor
                                                 : ev->data.sequence_start.anchor;
    struct ytree_frame *f = t->depth ? &t->stack[t->depth - 1] : NULL;
    struct fl_ynode *n;

    if (f && f->node->kind == FL_Y_MAP && !f->have_key) {
        ytree_error(t, pos, "a key must be a plain value, not a %s",
                    kind == FL_Y_MAP ? "mapping" : "list");
        t->stop = true;
        return;
    }
    if (t->depth == YTREE_MAX_DEPTH) {
        ytree_error(t, pos, "YAML nested deeper than %d levels", YTREE_MAX_DEPTH);
        t->stop = true;
        return;
    }
    if (!(n = ytree_node_new(t, kind, pos)))
        return;
    f = &t->stack[t->depth++];
    memset(f, 0, sizeof(*f));
    f->node = n;
    if (anchor && !(f->anchor = strdup((const char *)anchor)))
        ytree_nomem(t);
}

static void ytree_on_end(struct ytree *t)
{
    struct ytree_frame *f = &t->stack[--t->depth];
    struct fl_ynode *n = f->node;
    free(f->merged);
    free(f->key);
    if (f->anchor)
        ytree_anchor_add(t, f->anchor, n);
    ytree_attach(t, n);
}

static void ytree_on_alias(struct ytree *t, const yaml_event_t *ev)
{
    struct fl_pos pos = ytree_pos(t, ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    struct ytree_frame *f = t->depth ? &t->stack[t->depth - 1] : NULL;
    const struct fl_ynode *src = ytree_anchor_find(t, name);
    struct fl_ynode *n;

    t->n_aliases++;
    if (!src) {
        ytree_error(t, pos, "alias \"*%s\" names no anchor defined before it", name);
        if (f && f->node->kind == FL_Y_MAP && !f->have_key) {
            /* as a key: drop the pair it would have started */
            f->have_key = true;
            f->key = NULL;
            f->action = YTREE_KEY_DROP;
            return;
        }
        if (!(n = ytree_node_new(t, FL_Y_SCALAR, pos)) || !(n->str = strdup(""))) {
            fl_ynode_free(&n);
            return;
        }
        ytree_attach(t, n);
        return;
    }
    if (f && f->node->kind == FL_Y_MAP && !f->have_key) {
        char *key;
        if (src->kind != FL_Y_SCALAR) {
            ytree_error(t, pos, "a key must be a plain value, not an alias of a %s",
                        src->kind == FL_Y_MAP ? "mapping" : "list");
            t->stop = true;
            return;
        }
        if (!(key = strdup(src->str))) {
            ytree_nomem(t);
            return;
        }
        ytree_key(t, f, key, pos, !src->quoted);
        return;
    }
    if ((n = ytree_copy(t, src, t->depth)))
        ytree_attach(t, n);
}

/* libyaml stopped: report its first problem where it saw it. Reader errors
 * (bad UTF-8) carry a byte offset instead of a mark. */
static void ytree_syntax_error(struct ytree *t, const yaml_parser_t *p)
{
    struct fl_pos pos = ytree_pos(t, p->problem_mark);
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        ytree_nomem(t);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        size_t off = p->problem_offset < t->len ? p->problem_offset : t->len;
        pos.line = 1;
        pos.col = 1;
        for (size_t i = 0; i < off; i++)
            if (t->buf[i] == '\n') {
                pos.line++;
                pos.col = 1;
            } else
                pos.col++;
    }
    if (p->context)
        ytree_error(t, pos, "%s (%s at line %zu)", problem, p->context, p->context_mark.line + 1);
    else
        ytree_error(t, pos, "%s", problem);
}

/* Close what is still open after the parse stopped, marking it partial. */
static void ytree_close_partial(struct ytree *t)
{
    while (t->depth) {
        struct ytree_frame *f = &t->stack[t->depth - 1];
        f->node->partial = true;
        if (f->anchor) {          /* never complete: no alias may use it */
            free(f->anchor);
            f->anchor = NULL;
        }
        ytree_on_end(t);
    }
}

int fl_ynode_parse(const char *name, const char *buf, size_t len,
                   struct fl_diags *d, struct fl_ynode **out)
{
    struct ytree *t = calloc(1, sizeof(*t));
    yaml_parser_t parser;
    yaml_event_t ev;
    bool done = false;
    int rc;

    *out = NULL;
    if (!t)
        return -FL_ENOMEM;
    t->d = d;
    t->buf = buf;
    t->len = len;
    if (!(t->file = fl_diags_file(d, name))) {
        free(t);
        return -FL_ENOMEM;
    }
    if (!yaml_parser_initialize(&parser)) {
        free(t);
        return -FL_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    while (!done && !t->stop) {
        if (!yaml_parser_parse(&parser, &ev)) {
            ytree_syntax_error(t, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++t->n_docs > 1) {
                ytree_error(t, ytree_pos(t, ev.start_mark),
                            "a second YAML document: a pipeline file holds one");
                t->stop = true;
            }
            break;
        case YAML_SCALAR_EVENT:
            ytree_on_scalar(t, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            ytree_on_start(t, &ev, FL_Y_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            ytree_on_start(t, &ev, FL_Y_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            ytree_on_end(t);
            break;
        case YAML_ALIAS_EVENT:
            ytree_on_alias(t, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    ytree_close_partial(t);
    yaml_parser_delete(&parser);

    *out = t->root;
    rc = t->rc;
    for (size_t i = 0; i < t->n_grave; i++)
        fl_ynode_free(&t->grave[i]);
    for (size_t i = 0; i < t->n_anchors; i++)
        free(t->anchors[i].name);
    free(t->grave);
    free(t->anchors);
    free(t);
    return rc;
}
