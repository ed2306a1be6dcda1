/* conf.c: a pipeline file (DESIGN.md §5) from YAML tree to struct fl_conf:
 * the top-level keys, include:, each stage's id/use/from/with/workers/
 * partition_by/node,
 * and the graph checks (duplicate ids, dangling from:, cycles, topological
 * order).
 *
 * Every problem goes to the diagnostic list and the walk goes on, so one run
 * reports all of a file's errors. Plugins are not known here: whether a
 * plugin exists, takes from:, or accepts its options is the core's check
 * (core/src/pipeline.c, dsl/opts_parse.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

#define CONF_MAX_INCLUDE_DEPTH 16
#define CONF_MAX_FILE (16u << 20)
#define CONF_MAX_WORKERS 1024

static const char *const conf_top_keys[] = { "version", "stages", "include", "nodes" };
static const char *const conf_stage_keys[] = { "id", "use", "from", "with", "workers", "chain",
                                                "partition_by", "node" };
static const char *const conf_kinds[] = { "input", "transform", "aggregate", "analysis", "output" };

#define CONF_N(a) (sizeof(a) / sizeof((a)[0]))

struct conf_build {
    struct fl_conf *c;
    struct fl_diags *d;
    /* the files being read, outermost first: include cycle detection */
    char *real[CONF_MAX_INCLUDE_DEPTH + 1];
    const char *shown[CONF_MAX_INCLUDE_DEPTH + 1];
    size_t depth;
    size_t stage_items;            /* stage entries seen, valid or not */
    struct fl_pos stages_pos;      /* the top file's stages: value */
    struct fl_pos nodes_pos;       /* the top file's nodes: key, if any */
};

static int conf_file(struct conf_build *b, const char *name, const char *buf, size_t len);

const char *fl_kind_name(enum fl_kind k)
{
    if (k >= FL_KIND_INPUT && k <= FL_KIND_OUTPUT)
        return conf_kinds[k - FL_KIND_INPUT];
    return "unknown";
}

static bool conf_is_id(const char *s, size_t len)
{
    if (!len || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!(s[i] == '_' || s[i] == '-' || (s[i] >= '0' && s[i] <= '9')
              || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    return true;
}

/* The directory part of a display name: "." for a bare name, so relative
 * paths stay relative (and messages short) when the file is in cwd. */
static char *conf_dirname(const char *name)
{
    const char *slash = strrchr(name, '/');
    if (!slash)
        return strdup(".");
    if (slash == name)
        return strdup("/");
    return strndup(name, (size_t)(slash - name));
}

static char *conf_join(const char *dir, const char *path)
{
    char *out;
    if (path[0] == '/' || !strcmp(dir, "."))
        return strdup(path);
    if (asprintf(&out, "%s/%s", dir, path) < 0)
        return NULL;
    return out;
}

/* Reads a regular file whole; *why says why not (for the diagnostic). */
static int conf_read(const char *path, char **buf, size_t *len, const char **why)
{
    struct stat st;
    char *p = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *why = NULL;
    if (fd < 0)
        goto fail;
    if (fstat(fd, &st) < 0)
        goto fail;
    if (!S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        goto fail;
    }
    if ((uint64_t)st.st_size > CONF_MAX_FILE) {
        *why = "larger than 16 MiB";
        goto fail;
    }
    if (!(p = malloc((size_t)st.st_size + 1)))
        goto fail;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, p + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;                 /* a file that shrank: take what is there */
        n += (size_t)r;
    }
    p[n] = 0;
    close(fd);
    *buf = p;
    *len = n;
    return 0;
fail:
    if (!*why)
        *why = strerror(errno);
    free(p);
    if (fd >= 0)
        close(fd);
    return -FL_EIO;
}

static int conf_keep_root(struct fl_conf *c, struct fl_ynode *root)
{
    struct fl_ynode **r = realloc(c->roots, (c->n_roots + 1) * sizeof(*r));
    if (!r) {
        fl_ynode_free(&root);
        return -FL_ENOMEM;
    }
    c->roots = r;
    c->roots[c->n_roots++] = root;
    return 0;
}

static void conf_unknown_key(struct conf_build *b, struct fl_pos pos, const char *what,
                             const char *key, const char *const *cands, size_t n)
{
    const char *best = fl_suggest(key, cands, n);
    if (best) {
        fl_diags_add(b->d, pos, "unknown %s \"%s\"; did you mean \"%s\"?", what, key, best);
        return;
    }
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
        strncat(list, cands[i], sizeof(list) - strlen(list) - 1);
    }
    fl_diags_add(b->d, pos, "unknown %s \"%s\" (expected one of: %s)", what, key, list);
}

/* ---- one stage ----------------------------------------------------------- */

static void conf_stage_free(struct fl_stage_conf *s)
{
    for (size_t i = 0; i < s->n_from; i++)
        free(s->from[i]);
    free(s->from);
    free(s->from_pos);
    for (size_t i = 0; i < s->n_partition_by; i++)
        free(s->partition_by[i]);
    free(s->partition_by);
    free(s->partition_by_pos);
    free(s->id);
    free(s->use);
    free(s->node);
    free(s->dir);
    memset(s, 0, sizeof(*s));
}

static void conf_use(struct conf_build *b, struct fl_stage_conf *s, const struct fl_ynode *v)
{
    const char *dot = NULL;
    /* A bare name ("pcap") goes on to the loader, which suggests its kind. */
    if (v->kind == FL_Y_SCALAR && !strchr(v->str, '.') && conf_is_id(v->str, strlen(v->str))) {
        s->use = strdup(v->str);
        s->use_pos = v->pos;
        return;
    }
    if (v->kind != FL_Y_SCALAR || !(dot = strchr(v->str, '.')) || dot == v->str
        || !conf_is_id(dot + 1, strlen(dot + 1))) {
        fl_diags_add(b->d, v->pos, "use: expected kind.name (e.g. aggregate.flowmeter), got %s%s%s",
                     v->kind == FL_Y_SCALAR ? "\"" : "",
                     v->kind == FL_Y_SCALAR ? v->str : v->kind == FL_Y_MAP ? "a mapping" : "a list",
                     v->kind == FL_Y_SCALAR ? "\"" : "");
        return;
    }
    size_t klen = (size_t)(dot - v->str);
    for (size_t i = 0; i < CONF_N(conf_kinds); i++)
        if (strlen(conf_kinds[i]) == klen && !strncmp(conf_kinds[i], v->str, klen)) {
            s->use = strdup(v->str);
            s->use_pos = v->pos;
            return;
        }
    char kind[64];
    snprintf(kind, sizeof(kind), "%.*s", (int)(klen < 63 ? klen : 63), v->str);
    const char *best = fl_suggest(kind, conf_kinds, CONF_N(conf_kinds));
    if (best)
        fl_diags_add(b->d, v->pos, "unknown plugin kind \"%s\" in \"%s\"; did you mean \"%s\"?",
                     kind, v->str, best);
    else
        fl_diags_add(b->d, v->pos, "unknown plugin kind \"%s\" in \"%s\" (kinds: input, transform,"
                     " aggregate, analysis, output)", kind, v->str);
}

static void conf_from(struct conf_build *b, struct fl_stage_conf *s, const struct fl_ynode *v)
{
    const struct fl_ynode *one = v;
    size_t n = v->kind == FL_Y_SEQ ? v->n : 1;
    if (v->kind == FL_Y_MAP || fl_ynode_is_null(v)) {
        fl_diags_add(b->d, v->pos, "from: expected a stage id or a list of ids");
        return;
    }
    if (!n) {
        fl_diags_add(b->d, v->pos, "from: is an empty list");
        return;
    }
    if (!(s->from = calloc(n, sizeof(*s->from))) || !(s->from_pos = calloc(n, sizeof(*s->from_pos))))
        return;
    for (size_t i = 0; i < n; i++) {
        if (v->kind == FL_Y_SEQ)
            one = v->items[i];
        if (one->kind != FL_Y_SCALAR) {
            fl_diags_add(b->d, one->pos, "from: expected a stage id, got a %s",
                         one->kind == FL_Y_MAP ? "mapping" : "list");
            continue;
        }
        /* Which stage it names, if any, is the graph's check (with a
         * suggestion), made once the whole file is known. */
        if (fl_ynode_is_null(one)) {
            fl_diags_add(b->d, one->pos, "from: expected a stage id, got nothing");
            continue;
        }
        if (!(s->from[s->n_from] = strdup(one->str)))
            return;
        s->from_pos[s->n_from++] = one->pos;
    }
}

static void conf_workers(struct conf_build *b, struct fl_stage_conf *s, const struct fl_ynode *v)
{
    char *end = NULL;
    unsigned long w = 0;
    if (v->kind == FL_Y_SCALAR && v->str[0] >= '0' && v->str[0] <= '9') {
        errno = 0;
        w = strtoul(v->str, &end, 10);
    }
    if (!end || *end || errno || w < 1 || w > CONF_MAX_WORKERS) {
        fl_diags_add(b->d, v->pos, "workers: expected a whole number from 1 to %d, got %s%s%s",
                     CONF_MAX_WORKERS, v->kind == FL_Y_SCALAR ? "\"" : "",
                     v->kind == FL_Y_SCALAR ? v->str : "a collection",
                     v->kind == FL_Y_SCALAR ? "\"" : "");
        return;
    }
    s->workers = (uint32_t)w;
    s->workers_pos = v->pos;
}

/* partition_by: one field name or a list of them. Whether the fields exist
 * is checked against the input schema once plugins are bound
 * (core/src/partition.c). */
static void conf_partition_by(struct conf_build *b, struct fl_stage_conf *s, const struct fl_ynode *v)
{
    size_t n = v->kind == FL_Y_SEQ ? v->n : 1;
    s->partition_pos = v->pos;
    if (fl_ynode_is_null(v))
        return;                        /* partition_by: ~ is the default key */
    if (v->kind == FL_Y_MAP || !n) {
        fl_diags_add(b->d, v->pos, "partition_by: expected a field name or a list of field names");
        return;
    }
    if (!(s->partition_by = calloc(n, sizeof(*s->partition_by)))
        || !(s->partition_by_pos = calloc(n, sizeof(*s->partition_by_pos)))) {
        fl_diags_add(b->d, v->pos, "partition_by: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct fl_ynode *one = v->kind == FL_Y_SEQ ? v->items[i] : v;
        if (one->kind != FL_Y_SCALAR || fl_ynode_is_null(one)) {
            fl_diags_add(b->d, one->pos, "partition_by: expected a field name");
            continue;
        }
        for (size_t k = 0; k < s->n_partition_by; k++)
            if (!strcmp(s->partition_by[k], one->str)) {
                fl_diags_add(b->d, one->pos, "partition_by: field \"%s\" is listed twice", one->str);
                goto next;
            }
        if (!(s->partition_by[s->n_partition_by] = strdup(one->str))) {
            fl_diags_add(b->d, one->pos, "partition_by: out of memory");
            return;
        }
        s->partition_by_pos[s->n_partition_by++] = one->pos;
    next:;
    }
}

/* An absent or null with: becomes an empty mapping at the stage, so option
 * errors about what is missing still have a position. It is kept among the
 * conf's roots, which own every tree. */
static const struct fl_ynode *conf_empty_with(struct conf_build *b, struct fl_pos pos)
{
    struct fl_ynode *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = FL_Y_MAP;
    n->pos = pos;
    return conf_keep_root(b->c, n) == 0 ? n : NULL;
}

static int conf_stage(struct conf_build *b, const struct fl_ynode *m, const char *dir)
{
    struct fl_stage_conf s = { .pos = m->pos, .workers = 1, .workers_pos = m->pos };
    const struct fl_ynode *with = NULL;
    bool has_id = false, has_use = false;
    struct fl_stage_conf *v;

    if (m->kind != FL_Y_MAP) {
        fl_diags_add(b->d, m->pos, "a stage must be a mapping (id:, use:, from:, with:)");
        return 0;
    }
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i];
        const struct fl_ynode *val = m->items[i];
        if (!strcmp(k, "id")) {
            has_id = true;
            if (val->kind != FL_Y_SCALAR || !conf_is_id(val->str, strlen(val->str)))
                fl_diags_add(b->d, val->pos, "bad stage id \"%s\": use letters, digits, _ and -,"
                             " starting with a letter or _", val->kind == FL_Y_SCALAR ? val->str : "");
            /* kept even when bad: from: may name it, and it was reported once */
            if (val->kind == FL_Y_SCALAR && val->str[0] && !(s.id = strdup(val->str)))
                goto nomem;
            s.id_pos = val->pos;
        } else if (!strcmp(k, "use")) {
            has_use = true;
            conf_use(b, &s, val);
        } else if (!strcmp(k, "from"))
            conf_from(b, &s, val);
        else if (!strcmp(k, "with")) {
            if (val->kind == FL_Y_MAP)
                with = val;
            else if (!fl_ynode_is_null(val))
                fl_diags_add(b->d, val->pos, "with: expected a mapping of options");
        } else if (!strcmp(k, "workers"))
            conf_workers(b, &s, val);
        else if (!strcmp(k, "chain")) {
            s.chain_pos = val->pos;
            if (val->kind == FL_Y_SCALAR && !strcmp(val->str, "true"))
                s.chain = true;
            else if (val->kind != FL_Y_SCALAR || strcmp(val->str, "false"))
                fl_diags_add(b->d, val->pos, "chain: expected true or false");
        }
        else if (!strcmp(k, "partition_by"))
            conf_partition_by(b, &s, val);
        else if (!strcmp(k, "node")) {
            if (val->kind != FL_Y_SCALAR || fl_ynode_is_null(val))
                fl_diags_add(b->d, val->pos, "node: expected a node name");
            else if (!(s.node = strdup(val->str)))
                goto nomem;
            s.node_pos = val->pos;
        } else
            conf_unknown_key(b, m->key_pos[i], "stage key", k, conf_stage_keys, CONF_N(conf_stage_keys));
    }
    if (!m->partial) {
        if (!has_id)
            fl_diags_add(b->d, m->pos, "stage has no id:");
        else if (!has_use)
            fl_diags_add(b->d, m->pos, "stage \"%s\" has no use:", s.id ? s.id : "");
    }
    /* A stage cut short by a syntax error, or one nobody can name, is not
     * handed on: what it lacks was already reported (or is unreadable). */
    if (m->partial || !s.id)
        goto drop;
    if (!with)
        with = conf_empty_with(b, m->pos);
    s.with = with;
    if (!(s.dir = strdup(dir)))
        goto nomem;
    if (!(v = realloc(b->c->stages, (b->c->n_stages + 1) * sizeof(*v))))
        goto nomem;
    b->c->stages = v;
    b->c->stages[b->c->n_stages++] = s;
    return 0;
nomem:
    conf_stage_free(&s);
    return -FL_ENOMEM;
drop:
    conf_stage_free(&s);
    return 0;
}

/* ---- files and include: ---------------------------------------------------- */

static void conf_include_one(struct conf_build *b, const struct fl_ynode *v, const char *dir)
{
    char *path = NULL, *buf = NULL, *real = NULL;
    const char *why;
    size_t len;

    if (v->kind != FL_Y_SCALAR || !v->str[0] || fl_ynode_is_null(v)) {
        fl_diags_add(b->d, v->pos, "include: expected a file name or a list of file names");
        return;
    }
    if (!(path = conf_join(dir, v->str)))
        goto fail;
    if (b->depth > CONF_MAX_INCLUDE_DEPTH) {
        fl_diags_add(b->d, v->pos, "include \"%s\": includes nested deeper than %d files",
                     v->str, CONF_MAX_INCLUDE_DEPTH);
        goto fail;
    }
    if (!(real = realpath(path, NULL)) || conf_read(path, &buf, &len, &why) < 0) {
        if (!real)
            why = strerror(errno);
        fl_diags_add(b->d, v->pos, "include \"%s\": cannot read %s: %s", v->str, path, why);
        goto fail;
    }
    for (size_t i = 0; i < b->depth; i++)
        if (b->real[i] && !strcmp(b->real[i], real)) {
            char chain[1024] = "";
            for (size_t j = i; j < b->depth; j++) {
                strncat(chain, b->shown[j], sizeof(chain) - strlen(chain) - 1);
                strncat(chain, " -> ", sizeof(chain) - strlen(chain) - 1);
            }
            strncat(chain, path, sizeof(chain) - strlen(chain) - 1);
            fl_diags_add(b->d, v->pos, "include cycle: %s", chain);
            goto fail;
        }
    b->real[b->depth] = real;
    conf_file(b, path, buf, len);
    b->real[b->depth] = NULL;
fail:
    free(real);
    free(path);
    free(buf);
}

static void conf_include(struct conf_build *b, const struct fl_ynode *v, const char *dir)
{
    if (v->kind == FL_Y_SEQ)
        for (size_t i = 0; i < v->n; i++)
            conf_include_one(b, v->items[i], dir);
    else
        conf_include_one(b, v, dir);
}

static void conf_version(struct conf_build *b, const struct fl_ynode *v)
{
    if (v->kind == FL_Y_SCALAR && !strcmp(v->str, "1")) {
        b->c->version = 1;
        return;
    }
    if (v->kind == FL_Y_SCALAR && !fl_ynode_is_null(v))
        fl_diags_add(b->d, v->pos, "unsupported version \"%s\": this flowline reads version 1", v->str);
    else
        fl_diags_add(b->d, v->pos, "version: expected 1");
}

/* The top-level mapping of the top file or of an included file. */
static int conf_root(struct conf_build *b, const struct fl_ynode *root, const char *dir)
{
    bool top = b->depth == 1, has_version = false, has_stages = false;   /* conf_file counted it */
    int rc = 0;

    if (root->kind != FL_Y_MAP) {
        fl_diags_add(b->d, root->pos, "expected a mapping with version: and stages:");
        return 0;
    }
    for (size_t i = 0; i < root->n && rc == 0; i++) {
        const char *k = root->keys[i];
        const struct fl_ynode *v = root->items[i];
        if (!strcmp(k, "version")) {
            has_version = true;
            conf_version(b, v);
        } else if (!strcmp(k, "stages")) {
            has_stages = true;
            if (top && v->kind == FL_Y_SEQ)
                b->stages_pos = v->pos;
            if (v->kind != FL_Y_SEQ) {
                if (!fl_ynode_is_null(v))
                    fl_diags_add(b->d, v->pos, "stages: expected a list of stages");
                continue;
            }
            b->stage_items += v->n;
            for (size_t j = 0; j < v->n && rc == 0; j++)
                rc = conf_stage(b, v->items[j], dir);
        } else if (!strcmp(k, "include"))
            conf_include(b, v, dir);
        else if (!strcmp(k, "nodes")) {
            if (!top)
                fl_diags_add(b->d, root->key_pos[i], "nodes: belongs in the top-level pipeline file");
            else if (v->kind == FL_Y_MAP) {
                b->c->nodes = v;
                b->nodes_pos = root->key_pos[i];
            }
            else if (!fl_ynode_is_null(v))
                fl_diags_add(b->d, v->pos, "nodes: expected a mapping of node names");
        } else
            conf_unknown_key(b, root->key_pos[i], "top-level key", k, conf_top_keys, CONF_N(conf_top_keys));
    }
    if (top && !root->partial) {
        if (!has_version)
            fl_diags_add(b->d, root->pos, "missing version: (write version: 1)");
        if (!has_stages)
            fl_diags_add(b->d, root->pos, "missing stages: (a list of stages)");
    }
    return rc;
}

static int conf_file(struct conf_build *b, const char *name, const char *buf, size_t len)
{
    struct fl_ynode *root = NULL;
    char *dir = conf_dirname(name);
    int rc;

    if (!dir)
        return -FL_ENOMEM;
    rc = fl_ynode_parse(name, buf, len, b->d, &root);
    if (!root) {
        if (rc == 0)
            fl_diags_add(b->d, (struct fl_pos){ fl_diags_file(b->d, name), 0, 0 },
                         "empty pipeline file: expected version: and stages:");
        else if (rc != -FL_ENOMEM)
            b->c->partial = true;     /* a syntax error before anything was read */
        free(dir);
        return rc == -FL_ENOMEM ? rc : 0;
    }
    if (root->partial)
        b->c->partial = true;
    if ((rc = conf_keep_root(b->c, root)) < 0) {
        free(dir);
        return rc;
    }
    b->shown[b->depth] = fl_diags_file(b->d, name);
    b->depth++;
    rc = conf_root(b, root, dir);
    b->depth--;
    free(dir);
    return rc;
}

/* Stages cannot span machines yet. nodes: and a node: other than "local"
 * used to pass check and then run everything on this machine without a
 * word; until the runtime can place stages, they are refused here
 * (docs/decisions.md). nodes: is still parsed and kept for that version. */
static void conf_check_nodes(struct conf_build *b)
{
    static const char *const local[] = { "local" };
    if (b->c->nodes)
        fl_diags_add(b->d, b->nodes_pos, "nodes: multi-node pipelines are not supported yet in this"
                     " version; every stage runs on this machine (remove nodes:)");
    for (size_t i = 0; i < b->c->n_stages; i++) {
        const struct fl_stage_conf *s = &b->c->stages[i];
        if (!s->node || !strcmp(s->node, "local"))
            continue;
        if (fl_suggest(s->node, local, 1))
            fl_diags_add(b->d, s->node_pos, "unknown node \"%s\"; did you mean \"local\"?", s->node);
        else
            fl_diags_add(b->d, s->node_pos, "node: \"%s\": multi-node pipelines are not supported yet"
                         " in this version; the only node is \"local\", this machine", s->node);
    }
}

int fl_conf_parse(const char *name, const char *buf, size_t len,
                  struct fl_diags *d, struct fl_conf **out)
{
    struct conf_build b = { .d = d };
    size_t errors = d->errors;
    int rc = -FL_ENOMEM;

    *out = NULL;
    if (!(b.c = calloc(1, sizeof(*b.c))) || !(b.c->file = strdup(name))
        || !(b.c->dir = conf_dirname(name)))
        goto fail;
    b.real[0] = realpath(name, NULL);   /* NULL for a buffer with no file behind it */
    rc = conf_file(&b, name, buf, len);
    free(b.real[0]);
    b.real[0] = NULL;
    if (rc < 0)
        goto fail;
    if (!b.c->n_roots) {                /* nothing readable: nothing to check later */
        fl_conf_free(&b.c);
        return -FL_EINVAL;
    }
    if (b.stages_pos.file && !b.stage_items && !b.c->partial)
        fl_diags_add(d, b.stages_pos, "stages: the pipeline has no stages");
    conf_check_nodes(&b);
    *out = b.c;
    return d->errors > errors ? -FL_EINVAL : 0;
fail:
    free(b.real[0]);
    if (rc == -FL_ENOMEM)
        fl_diags_add(d, (struct fl_pos){ NULL, 0, 0 }, "%s: out of memory", name);
    fl_conf_free(&b.c);
    return rc;
}

int fl_conf_load(const char *path, struct fl_diags *d, struct fl_conf **out)
{
    char *buf;
    size_t len;
    const char *why;
    int rc;

    *out = NULL;
    if (conf_read(path, &buf, &len, &why) < 0) {
        fl_diags_add(d, (struct fl_pos){ fl_diags_file(d, path), 0, 0 }, "cannot read: %s", why);
        return -FL_EIO;
    }
    rc = fl_conf_parse(path, buf, len, d, out);
    free(buf);
    return rc;
}

void fl_conf_free(struct fl_conf **cp)
{
    struct fl_conf *c = *cp;
    *cp = NULL;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_stages; i++)
        conf_stage_free(&c->stages[i]);
    for (size_t i = 0; i < c->n_roots; i++)
        fl_ynode_free(&c->roots[i]);
    free(c->stages);
    free(c->roots);
    free(c->file);
    free(c->dir);
    free(c);
}

/* Mark every scalar of n as given from outside the file. */
static void conf_mark_outside(struct fl_ynode *n)
{
    n->from_env = n->kind == FL_Y_SCALAR;
    for (size_t i = 0; i < n->n; i++)
        conf_mark_outside(n->items[i]);
}

int fl_conf_set(struct fl_conf *c, const char *assign, struct fl_diags *d)
{
    struct fl_pos pos = { fl_diags_file(d, "--set"), 1, 1 };
    const char *dot = strchr(assign, '.'), *eq = strchr(assign, '=');
    struct fl_stage_conf *s = NULL;
    struct fl_ynode *val = NULL;

    if (!dot || !eq || eq < dot || dot == assign || eq == dot + 1) {
        fl_diags_add(d, pos, "expected STAGE.OPTION=VALUE, got \"%s\"", assign);
        return -FL_EINVAL;
    }
    for (size_t i = 0; i < c->n_stages && !s; i++)
        if (c->stages[i].id && strlen(c->stages[i].id) == (size_t)(dot - assign)
            && !strncmp(c->stages[i].id, assign, (size_t)(dot - assign)))
            s = &c->stages[i];
    if (!s || !s->with || s->with->kind != FL_Y_MAP) {
        const char *ids[256], *near;
        size_t n = 0;
        char want[128];
        snprintf(want, sizeof(want), "%.*s", (int)(dot - assign), assign);
        for (size_t i = 0; i < c->n_stages && n < 256; i++)
            if (c->stages[i].id)
                ids[n++] = c->stages[i].id;
        if ((near = fl_suggest(want, ids, n)))
            fl_diags_add(d, pos, "%s: no stage \"%s\"; did you mean \"%s\"?", assign, want, near);
        else
            fl_diags_add(d, pos, "%s: no stage \"%s\" in the pipeline", assign, want);
        return -FL_EINVAL;
    }
    if (fl_ynode_parse("--set", eq + 1, strlen(eq + 1), d, &val) < 0)
        return -FL_EINVAL;
    if (!val && !(val = calloc(1, sizeof(*val))))   /* "x.y=": an empty value */
        return -FL_ENOMEM;
    if (!val->str && val->kind == FL_Y_SCALAR && !(val->str = strdup("")))
        goto nomem;
    conf_mark_outside(val);
    /* The conf owns its trees: replace or add the key in place. */
    struct fl_ynode *with = (struct fl_ynode *)s->with;
    char *key = strndup(dot + 1, (size_t)(eq - dot - 1));
    if (!key)
        goto nomem;
    for (size_t i = 0; i < with->n; i++)
        if (strcmp(with->keys[i], key) == 0) {
            fl_ynode_free(&with->items[i]);
            with->items[i] = val;
            free(key);
            return 0;
        }
    char **keys = realloc(with->keys, (with->n + 1) * sizeof(*keys));
    if (keys)
        with->keys = keys;
    struct fl_ynode **items = realloc(with->items, (with->n + 1) * sizeof(*items));
    if (items)
        with->items = items;
    struct fl_pos *kp = realloc(with->key_pos, (with->n + 1) * sizeof(*kp));
    if (kp)
        with->key_pos = kp;
    if (!keys || !items || !kp) {
        free(key);
        goto nomem;
    }
    keys[with->n] = key;
    items[with->n] = val;
    kp[with->n] = val->pos;
    with->n++;
    return 0;
nomem:
    fl_ynode_free(&val);
    return -FL_ENOMEM;
}
