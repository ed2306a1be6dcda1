/* fl_harness.c: one plugin in memory for tests (see fl_harness.h). It uses
 * the same loader, option parser and ctx as the runtime; only where emits
 * go differs (a list here, links there). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fl_harness.h"
#include "loader.h"
#include "rt.h"

struct fl_harness {
    struct fl_diags diags;      /* owns the file names in conf positions */
    struct fl_rt rt;
    struct fl_loader ld;
    struct fl_conf *conf;
    const struct fl_plugin *p;
    struct fl_ctx ctx;
    void *state;
    bool inited;
    struct fl_schema_decl out[16], *out_ptr[16];
    struct fl_batch **emitted;
    int *ports;
    size_t n, cap;
    uint64_t rows;
};

static int harness_emit(struct fl_ctx *ctx, int port, struct fl_batch *b)
{
    struct fl_harness *h = ctx->emit_arg;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct fl_batch **v = realloc(h->emitted, cap * sizeof(*v));
        int *pv = realloc(h->ports, cap * sizeof(*pv));
        if (v)
            h->emitted = v;
        if (pv)
            h->ports = pv;
        if (!v || !pv) {
            fl_batch_release(&b);
            return -FL_ENOMEM;
        }
        h->cap = cap;
    }
    h->rows += b->rows;
    h->ports[h->n] = port;
    h->emitted[h->n++] = b;
    return 0;
}

int fl_harness_new(const char *use, const char *with_yaml, const struct fl_schema *in,
                   struct fl_harness **out)
{
    struct fl_harness *h = calloc(1, sizeof(*h));
    const struct fl_plugin_lib *lib;
    char err[512], *doc = NULL;
    int rc = -FL_ENOMEM;

    if (!h)
        return -FL_ENOMEM;
    struct fl_diags *d = &h->diags;
    if (fl_rt_init(&h->rt) < 0 || fl_loader_init(&h->ld) < 0)
        goto fail;
    if ((rc = fl_loader_get(&h->ld, use, &lib, err, sizeof(err))) < 0) {
        fprintf(stderr, "harness: %s\n", err);
        goto fail;
    }
    h->p = &lib->desc;
    /* The options come through the real DSL: a one-stage pipeline. */
    if (asprintf(&doc, "version: 1\nstages:\n  - id: test\n    use: %s\n    with: %s\n", use,
                 with_yaml ? with_yaml : "{}") < 0) {
        rc = -FL_ENOMEM;
        goto fail;
    }
    fl_conf_parse("harness.yaml", doc, strlen(doc), d, &h->conf);
    if (!h->conf || h->conf->n_stages != 1) {
        rc = -FL_EINVAL;
        goto fail;
    }
    fl_ctx_init(&h->ctx, &h->rt, "test", lib->use, h->p);
    h->ctx.conf = &h->conf->stages[0];
    h->ctx.emit = harness_emit;
    h->ctx.emit_arg = h;
    if (!(h->state = calloc(1, h->p->state_size ? h->p->state_size : 1))) {
        rc = -FL_ENOMEM;
        goto fail;
    }
    char cwd[4096];
    if ((rc = fl_opts_parse(h->p->opts, h->conf->stages[0].with, getcwd(cwd, sizeof(cwd)) ? cwd : ".",
                            "stage \"test\"", h->state, d)) < 0)
        goto fail;
    h->rt.diags = d;
    if (h->p->describe) {
        const struct fl_schema *ins[1] = { in };
        for (size_t i = 0; i < 16; i++)
            h->out_ptr[i] = &h->out[i];
        rc = h->p->describe(&h->ctx, h->state, ins, in ? 1 : 0, h->out_ptr);
    }
    h->rt.diags = NULL;
    if (rc < 0 || d->errors)
        goto fail;
    if (h->p->init && (rc = h->p->init(&h->ctx, h->state)) < 0)
        goto fail;
    h->inited = true;
    if (h->p->start && (rc = h->p->start(&h->ctx, h->state)) < 0)
        goto fail;
    free(doc);
    *out = h;
    return 0;
fail:
    fl_diags_print(d, stderr);
    if (rc >= 0)
        rc = -FL_EINVAL;
    free(doc);
    fl_harness_destroy(&h);
    return rc;
}

struct fl_ctx *fl_harness_ctx(struct fl_harness *h) { return &h->ctx; }
const struct fl_schema *fl_harness_out_schema(struct fl_harness *h) { return h->out[0].schema; }

int fl_harness_push(struct fl_harness *h, struct fl_batch *b)
{
    fl_counter_add(&h->ctx, "records_in", b->rows);
    return h->p->process ? h->p->process(&h->ctx, h->state, b) : -FL_EINVAL;
}

int fl_harness_tick(struct fl_harness *h, uint64_t now_ns)
{
    return h->p->tick ? h->p->tick(&h->ctx, h->state, now_ns) : 0;
}

int fl_harness_reload(struct fl_harness *h)
{
    return h->p->reload ? h->p->reload(&h->ctx, h->state) : 0;
}

int fl_harness_run(struct fl_harness *h)
{
    return h->p->run ? h->p->run(&h->ctx, h->state) : -FL_EINVAL;
}

int fl_harness_drain(struct fl_harness *h)
{
    return h->p->drain ? h->p->drain(&h->ctx, h->state) : 0;
}

size_t fl_harness_n_out(struct fl_harness *h) { return h->n; }
struct fl_batch *fl_harness_out(struct fl_harness *h, size_t i) { return i < h->n ? h->emitted[i] : NULL; }
uint64_t fl_harness_out_rows(struct fl_harness *h) { return h->rows; }
uint64_t fl_harness_counter(struct fl_harness *h, const char *name) { return fl_counter_get(&h->ctx, name); }

const char *fl_harness_out_port(struct fl_harness *h, size_t i)
{
    if (i >= h->n)
        return NULL;
    return h->p->ports ? h->p->ports[h->ports[i]] : "out";
}

void fl_harness_destroy(struct fl_harness **hp)
{
    struct fl_harness *h = *hp;
    *hp = NULL;
    if (!h)
        return;
    if (h->inited && h->p->fini)
        h->p->fini(&h->ctx, h->state);
    if (h->p && h->state)
        fl_opts_free(h->p->opts, h->state);
    for (size_t i = 0; i < h->n; i++)
        fl_batch_release(&h->emitted[i]);
    free(h->emitted);
    free(h->ports);
    free(h->state);
    if (h->p)
        fl_ctx_fini(&h->ctx);
    fl_conf_free(&h->conf);
    fl_loader_fini(&h->ld);
    fl_rt_fini(&h->rt);
    fl_diags_free(&h->diags);
    free(h);
}

struct test_ctx { struct fl_ctx ctx; struct fl_rt rt; };

struct fl_ctx *fl_test_ctx_new(void)
{
    struct test_ctx *t = calloc(1, sizeof(*t));
    if (!t || fl_rt_init(&t->rt) < 0) {
        free(t);
        return NULL;
    }
    fl_ctx_init(&t->ctx, &t->rt, "test", "test", NULL);
    return &t->ctx;
}

void fl_test_ctx_destroy(struct fl_ctx **ctx)
{
    struct test_ctx *t = (struct test_ctx *)*ctx;   /* ctx is the first member */
    *ctx = NULL;
    if (!t)
        return;
    fl_ctx_fini(&t->ctx);
    fl_rt_fini(&t->rt);
    free(t);
}

const char *fl_test_data_dir(void)
{
    const char *env = getenv("FLOWLINE_TEST_DATA");
    const char *dir = env && *env ? env : getenv("FLOWLINE_TEST_DATA_DEFAULT");
    if (dir && access(dir, R_OK) == 0)
        return dir;
    fprintf(stderr, "test data not found: looked in %s (set FLOWLINE_TEST_DATA to its path, "
            "normally ../shared/data beside the repository)\n", dir ? dir : "(nothing: FLOWLINE_TEST_DATA unset)");
    return NULL;
}

int fl_test_tmpdir(const char *tag, char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t n = strlen(base);
    while (n > 1 && base[n - 1] == '/')
        n--;
    int w = snprintf(buf, len, "%.*s/fl_%s_XXXXXX", (int)n, base, tag);
    if (w < 0 || (size_t)w >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(buf) ? 0 : -1;
}

/* Depth first, so a directory is empty when its own turn comes; lstat, so
 * a link to elsewhere is unlinked, not walked. */
int fl_test_rmdir(const char *dir)
{
    struct stat sb;
    if (lstat(dir, &sb) != 0)
        return -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(dir) == 0 ? 0 : -1;
    int rc = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *p;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
            rc = -1;
            continue;
        }
        if (fl_test_rmdir(p) != 0)
            rc = -1;
        free(p);
    }
    if (d)
        closedir(d);
    else
        rc = -1;
    if (rmdir(dir) != 0)
        rc = -1;
    return rc;
}

char *fl_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t n = 0, cap = 1 << 16;
    char *s = malloc(cap);
    while (s) {
        n += fread(s + n, 1, cap - 1 - n, f);
        if (n < cap - 1)
            break;   /* end of file or an error: ferror() below says which */
        char *t = realloc(s, cap * 2);
        if (!t) {
            free(s);
            s = NULL;
            break;
        }
        s = t;
        cap *= 2;
    }
    if (!s || ferror(f)) {
        int e = s ? EIO : ENOMEM;
        free(s);
        fclose(f);
        errno = e;
        return NULL;
    }
    fclose(f);
    s[n] = 0;
    if (len)
        *len = n;
    return s;
}
