/* pipeline.c: from a parsed pipeline file to stages bound to plugins.
 *
 * This is all of `flowline check`: the DSL's own checks (syntax, types of
 * the file, graph), then per stage the plugin (unknown name, refused ABI),
 * the shape of from: (inputs take none, others need one, ports exist), the
 * options against the plugin's table, and describe() along the graph so
 * every field a stage names is checked against what its source declares.
 * Nothing here calls init() or starts threads. */
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"

static void suggest_plugin(struct fl_pipeline *p, struct fl_diags *d, const struct fl_stage_conf *sc)
{
    char **names = NULL;
    size_t n = 0;
    const char *best = NULL;
    if (fl_loader_list(&p->loader, &names, &n) == 0) {
        /* "pcap" for "input.pcap": a name without its kind. */
        for (size_t i = 0; i < n && !best && !strchr(sc->use, '.'); i++)
            if (strchr(names[i], '.') && strcmp(strchr(names[i], '.') + 1, sc->use) == 0)
                best = names[i];
        if (!best)
            best = fl_suggest(sc->use, (const char *const *)names, n);
    }
    if (best)
        fl_diags_add(d, sc->use_pos, "unknown plugin \"%s\"; did you mean \"%s\"?", sc->use, best);
    else
        fl_diags_add(d, sc->use_pos, "unknown plugin \"%s\"", sc->use);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static size_t stage_index(const struct fl_pipeline *p, const char *id, size_t len)
{
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->stages[i].conf->id) == len && strncmp(p->stages[i].conf->id, id, len) == 0)
            return i;
    return p->n;
}

/* from: entries -> (stage, port). Dangling ids were reported by the graph
 * check; here only ports and kinds. */
static int bind_from(struct fl_pipeline *p, struct fl_stage *st, struct fl_diags *d)
{
    const struct fl_stage_conf *sc = st->conf;
    int rc = 0;
    if (st->plugin && st->plugin->kind == FL_KIND_INPUT && sc->n_from) {
        fl_diags_add(d, sc->from_pos[0], "stage \"%s\": input plugins take no from:", sc->id);
        return -FL_EINVAL;
    }
    if (st->plugin && st->plugin->kind != FL_KIND_INPUT && !sc->n_from) {
        fl_diags_add(d, sc->id_pos, "stage \"%s\": needs from:", sc->id);
        return -FL_EINVAL;
    }
    if (!(st->up = calloc(sc->n_from ? sc->n_from : 1, sizeof(*st->up))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < sc->n_from; i++) {
        const char *f = sc->from[i], *dot = strchr(f, '.');
        size_t up = stage_index(p, f, dot ? (size_t)(dot - f) : strlen(f));
        if (up == p->n) {
            rc = -FL_EINVAL;       /* dangling: already reported */
            continue;
        }
        const struct fl_plugin *pp = p->stages[up].plugin;
        int port = 0;
        if (pp && pp->kind == FL_KIND_OUTPUT) {
            fl_diags_add(d, sc->from_pos[i], "stage \"%s\": \"%s\" is an output and has no records to read",
                         sc->id, p->stages[up].conf->id);
            rc = -FL_EINVAL;
        } else if (pp && dot && (port = fl_plugin_port(pp, dot + 1)) < 0) {
            fl_diags_add(d, sc->from_pos[i], "stage \"%s\": \"%s\" (%s) has no output \"%s\"",
                         sc->id, p->stages[up].conf->id, p->stages[up].conf->use, dot + 1);
            rc = -FL_EINVAL;
        }
        st->up[st->n_up++] = (struct fl_edge){ .stage = up, .port = port < 0 ? 0 : port };
    }
    return rc;
}

static int bind_stage(struct fl_pipeline *p, struct fl_stage *st, struct fl_diags *d)
{
    const struct fl_stage_conf *sc = st->conf;
    const struct fl_plugin_lib *lib;
    char err[512], where[300];

    if (!sc->use)
        return 0;                  /* missing or malformed: already reported */
    int rc = fl_loader_get(&p->loader, sc->use, &lib, err, sizeof(err));
    if (rc == -FL_ENOENT) {
        suggest_plugin(p, d, sc);
        return rc;
    }
    if (rc < 0) {
        fl_diags_add(d, sc->use_pos, "%s", err);
        return rc;
    }
    st->plugin = &lib->desc;
    fl_ctx_init(&st->ctx, &p->rt, sc->id, lib->use, st->plugin);
    st->ctx.conf = sc;
    st->n_ports = fl_plugin_n_ports(st->plugin);
    if (!(st->out = calloc(st->n_ports, sizeof(*st->out)))
        || !(st->out_ptr = calloc(st->n_ports, sizeof(*st->out_ptr))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < st->n_ports; i++)
        st->out_ptr[i] = &st->out[i];
    if (!(st->state = calloc(1, st->plugin->state_size ? st->plugin->state_size : 1)))
        return -FL_ENOMEM;
    snprintf(where, sizeof(where), "stage \"%s\" (%s)", sc->id, sc->use);
    st->opts_ok = fl_opts_parse(st->plugin->opts, sc->with, sc->dir ? sc->dir : p->conf->dir, where, st->state, d) == 0;
    return 0;
}

/* describe() in topological order, each stage seeing its sources' output
 * schemas; a stage whose source could not be described is skipped (its
 * source's error is the one worth reading). */
static bool stage_inputs(const struct fl_pipeline *p, const struct fl_stage *st,
                         const struct fl_schema **in)
{
    bool ready = st->plugin && st->opts_ok && st->n_up <= 64;
    for (size_t i = 0; ready && i < st->n_up; i++) {
        const struct fl_stage *src = &p->stages[st->up[i].stage];
        ready = src->described;
        in[i] = ready ? src->out[st->up[i].port].schema : NULL;
    }
    return ready;
}

static void describe_all(struct fl_pipeline *p, struct fl_diags *d)
{
    p->rt.diags = d;
    for (size_t k = 0; k < p->n; k++) {
        struct fl_stage *st = &p->stages[p->order[k]];
        const struct fl_schema *in[64];
        if (!stage_inputs(p, st, in))
            continue;
        if (!st->plugin->describe) {
            st->described = true;      /* open output (or none, for outputs) */
            continue;
        }
        size_t before = d->errors;
        int rc = st->plugin->describe(&st->ctx, st->state, in, st->n_up, st->out_ptr);
        if (rc < 0 && d->errors == before)
            fl_diags_add(d, st->conf->pos, "stage \"%s\": %s", st->conf->id, fl_strerror(rc));
        st->described = rc >= 0;
    }
    p->rt.diags = NULL;
}

/* chain: true runs a stage in the thread of the one stage it reads from
 * (runtime.c): possible only where that thread is one thread and nothing
 * needs this stage to wait on its own. */
static void check_chain(const struct fl_pipeline *p, const struct fl_stage *st, struct fl_diags *d)
{
    const struct fl_stage_conf *sc = st->conf;
    const char *why = NULL;

    if (!sc->chain || !st->plugin)
        return;
    if (st->plugin->kind == FL_KIND_INPUT)
        why = "an input reads no stage to run in";
    else if (st->n_up != 1)
        why = "it runs in the thread of the stage it reads from, so it needs exactly one from:";
    else if (sc->workers > 1)
        why = "a stage with workers has a thread per worker";
    else if (p->stages[st->up[0].stage].conf->workers > 1)
        why = "its source has several workers, each a thread of its own";
    else if (st->plugin->wall_tick)
        why = "it acts on the wall clock (flushes, retries) and needs a thread that can wait";
    if (why)
        fl_diags_add(d, sc->chain_pos, "stage \"%s\" (%s): chain: true is not possible: %s",
                     sc->id, sc->use, why);
}

static int pipeline_bind(struct fl_pipeline *p, struct fl_diags *d)
{
    int rc;
    p->n = p->conf->n_stages;
    if (!(p->stages = calloc(p->n ? p->n : 1, sizeof(*p->stages)))
        || !(p->order = calloc(p->n ? p->n : 1, sizeof(*p->order))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < p->n; i++)
        p->stages[i].conf = &p->conf->stages[i];
    p->graph_ok = fl_conf_check_graph(p->conf, d, p->order) == 0;
    for (size_t i = 0; i < p->n; i++)
        if ((rc = bind_stage(p, &p->stages[i], d)) == -FL_ENOMEM)
            return rc;
    for (size_t i = 0; i < p->n; i++)
        if (p->stages[i].plugin && (rc = bind_from(p, &p->stages[i], d)) == -FL_ENOMEM)
            return rc;
    if (p->graph_ok) {
        describe_all(p, d);
        if (p->check_files)
            fl_paths_check(&p->rt, d);
    }
    for (size_t i = 0; i < p->n; i++) {
        fl_part_check(p, &p->stages[i], d);
        check_chain(p, &p->stages[i], d);
    }
    return d->errors ? -FL_EINVAL : 0;
}

int fl_stage_clone(struct fl_pipeline *p, struct fl_stage *st, struct fl_ctx *ctx, void **state)
{
    const struct fl_stage_conf *sc = st->conf;
    const struct fl_schema *in[64];
    struct fl_schema_decl *out = NULL, **out_ptr = NULL;
    char where[300];
    size_t errors = p->diags.errors;
    int rc = -FL_ENOMEM;

    fl_ctx_init(ctx, &p->rt, sc->id, st->ctx.use, st->plugin);
    ctx->conf = sc;
    if (!(*state = calloc(1, st->plugin->state_size ? st->plugin->state_size : 1))
        || !(out = calloc(st->n_ports, sizeof(*out)))
        || !(out_ptr = calloc(st->n_ports, sizeof(*out_ptr))))
        goto fail;
    for (size_t i = 0; i < st->n_ports; i++)
        out_ptr[i] = &out[i];
    snprintf(where, sizeof(where), "stage \"%s\" (%s)", sc->id, sc->use);
    rc = -FL_EINVAL;
    if (fl_opts_parse(st->plugin->opts, sc->with, sc->dir ? sc->dir : p->conf->dir, where,
                      *state, &p->diags) < 0 || p->diags.errors != errors || !stage_inputs(p, st, in))
        goto fail;
    if (st->plugin->describe && (rc = st->plugin->describe(ctx, *state, in, st->n_up, out_ptr)) < 0)
        goto fail;
    free(out);
    free(out_ptr);
    return 0;
fail:
    free(out);
    free(out_ptr);
    fl_stage_clone_free(st, ctx, state);
    return rc < 0 ? rc : -FL_EINVAL;
}

void fl_stage_clone_free(struct fl_stage *st, struct fl_ctx *ctx, void **state)
{
    if (*state)
        fl_opts_free(st->plugin->opts, *state);
    free(*state);
    *state = NULL;
    fl_ctx_fini(ctx);
}

static int pipeline_new(struct fl_pipeline **out)
{
    struct fl_pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return -FL_ENOMEM;
    if (fl_rt_init(&p->rt) < 0 || fl_loader_init(&p->loader) < 0) {
        fl_pipeline_free(&p);
        return -FL_ENOMEM;
    }
    p->rt.pipeline = p;
    *out = p;
    return 0;
}

/* From a buffer when buf is set, else from the file `name`. */
static int pipeline_read(const char *name, const char *buf, size_t len,
                         const struct fl_load_opts *lo, struct fl_pipeline **out)
{
    static const struct fl_load_opts none = { 0 };
    struct fl_pipeline *p;
    int rc = pipeline_new(&p);
    if (rc < 0)
        return rc;
    *out = p;
    if (!lo)
        lo = &none;
    p->check_files = !lo->no_files;
    /* Errors are in p->diags; only running out of memory is told apart. */
    if (buf)
        rc = fl_conf_parse(name, buf, len, &p->diags, &p->conf);
    else
        rc = fl_conf_load(name, &p->diags, &p->conf);
    if (!p->conf)
        return rc == -FL_ENOMEM ? rc : -FL_EINVAL;
    for (size_t i = 0; i < lo->n_sets; i++)
        if (fl_conf_set(p->conf, lo->sets[i], &p->diags) == -FL_ENOMEM)
            return -FL_ENOMEM;
    rc = pipeline_bind(p, &p->diags);
    return p->diags.errors ? -FL_EINVAL : rc;
}

int fl_pipeline_load(const char *path, const struct fl_load_opts *lo, struct fl_pipeline **out)
{
    return pipeline_read(path, NULL, 0, lo, out);
}

int fl_pipeline_parse(const char *name, const char *buf, size_t len,
                      const struct fl_load_opts *lo, struct fl_pipeline **out)
{
    return pipeline_read(name, buf, len, lo, out);
}

void fl_pipeline_free(struct fl_pipeline **pp)
{
    struct fl_pipeline *p = *pp;
    *pp = NULL;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        if (st->plugin) {
            if (st->state)
                fl_opts_free(st->plugin->opts, st->state);
            fl_ctx_fini(&st->ctx);
        }
        free(st->state);
        free(st->up);
        free(st->out);
        free(st->out_ptr);
    }
    free(p->stages);
    free(p->order);
    fl_conf_free(&p->conf);
    fl_loader_fini(&p->loader);
    fl_rt_fini(&p->rt);
    fl_diags_free(&p->diags);
    free(p);
}

void fl_pipeline_graph(const struct fl_pipeline *p, bool dot, FILE *out)
{
    if (dot)
        fprintf(out, "digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
    for (size_t k = 0; k < p->n; k++) {
        const struct fl_stage *st = &p->stages[p->graph_ok ? p->order[k] : k];
        const struct fl_stage_conf *sc = st->conf;
        char part[200] = "";
        if (sc->workers > 1)
            fl_part_describe(&st->part, part, sizeof(part));
        if (dot) {
            if (sc->workers > 1)   /* a stack of boxes: N instances */
                fprintf(out, "  \"%s\" [label=\"%s\\n%s\\nworkers: %u %s\", peripheries=2];\n",
                        sc->id, sc->id, sc->use, sc->workers, part);
            else
                fprintf(out, "  \"%s\" [label=\"%s\\n%s\"];\n", sc->id, sc->id, sc->use);
            for (size_t i = 0; i < sc->n_from; i++) {
                const char *f = sc->from[i], *d = strchr(f, '.');
                fprintf(out, "  \"%.*s\" -> \"%s\"", d ? (int)(d - f) : (int)strlen(f), f, sc->id);
                if (d)
                    fprintf(out, " [label=\"%s\"]", d + 1);
                fprintf(out, ";\n");
            }
            continue;
        }
        fprintf(out, "%-16s %-22s", sc->id, sc->use);
        for (size_t i = 0; i < sc->n_from; i++)
            fprintf(out, "%s%s", i ? ", " : " <- ", sc->from[i]);
        if (sc->workers > 1)
            fprintf(out, "\n%16s   workers: %u %s", "", sc->workers, part);
        if (sc->chain)
            fprintf(out, "\n%16s   chain: runs in %.*s's thread", "",
                    (int)strcspn(sc->from[0], "."), sc->from[0]);
        if (st->described && st->n_ports && st->out[0].schema) {
            const struct fl_schema *s = st->out[0].schema;
            fprintf(out, "\n%16s   out:", "");
            for (uint32_t c = 0; c < s->ncols; c++)
                fprintf(out, " %s:%s", s->cols[c]->name, fl_type_name(s->cols[c]->type));
        }
        fputc('\n', out);
    }
    if (dot)
        fprintf(out, "}\n");
}
