/* ctx.c: what a plugin may call with its ctx (plugin.h): emit, counters,
 * clock, progress, diagnostics. Where an emit goes is the runtime's or the
 * test harness's business (ctx->emit); this file only accounts for it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/expr.h>
#include "internal.h"
#include "pipeline.h"
#include "rt.h"

int fl_ctx_init(struct fl_ctx *ctx, struct fl_rt *rt, const char *stage_id, const char *use,
                const struct fl_plugin *p)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->rt = rt;
    ctx->stage_id = stage_id;
    ctx->use = use;
    ctx->plugin = p;
    pthread_mutex_init(&ctx->counter_lock, NULL);
    ctx->pool = fl_batch_pool_new();      /* NULL on ENOMEM: batches are then not recycled */
    return 0;
}

void fl_ctx_fini(struct fl_ctx *ctx)
{
    while (ctx->binds)
        ctx->binds = fl_bind_free(ctx->binds);
    uint32_t n = atomic_load(&ctx->n_counters);
    for (uint32_t i = 0; i < n; i++)
        free((char *)ctx->counters[i].name);
    pthread_mutex_destroy(&ctx->counter_lock);
    fl_batch_pool_drop(ctx->pool);
    ctx->pool = NULL;
}

static struct fl_counter *counter_find(struct fl_ctx *ctx, const char *name, bool create)
{
    uint32_t n = atomic_load_explicit(&ctx->n_counters, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ctx->counters[i].name, name) == 0)
            return &ctx->counters[i];
    if (!create)
        return NULL;
    /* Counters are created by the stage's own thread but read by the main
     * thread (-v, progress): publish the name before the count. */
    struct fl_counter *c = NULL;
    pthread_mutex_lock(&ctx->counter_lock);
    n = atomic_load(&ctx->n_counters);
    for (uint32_t i = 0; i < n && !c; i++)
        if (strcmp(ctx->counters[i].name, name) == 0)
            c = &ctx->counters[i];
    if (!c && n < FL_MAX_COUNTERS) {
        char *copy = strdup(name);
        if (copy) {
            c = &ctx->counters[n];
            c->name = copy;
            atomic_init(&c->v, 0);
            atomic_store_explicit(&ctx->n_counters, n + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&ctx->counter_lock);
    return c;
}

void fl_counter_add(struct fl_ctx *ctx, const char *name, uint64_t n)
{
    struct fl_counter *c = counter_find(ctx, name, true);
    if (c)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
    else
        FL_LOG_WARN_RL(ctx, "more than %d counters: \"%s\" not counted", FL_MAX_COUNTERS, name);
}

uint64_t fl_counter_get(struct fl_ctx *ctx, const char *name)
{
    struct fl_counter *c = counter_find(ctx, name, false);
    return c ? atomic_load_explicit(&c->v, memory_order_relaxed) : 0;
}

size_t fl_plugin_n_ports(const struct fl_plugin *p)
{
    size_t n = 0;
    if (!p->ports)
        return 1;
    while (p->ports[n])
        n++;
    return n;
}

int fl_plugin_port(const struct fl_plugin *p, const char *port)
{
    if (!port)
        return 0;
    if (!p->ports)
        return strcmp(port, "out") == 0 ? 0 : -1;
    for (int i = 0; p->ports[i]; i++)
        if (strcmp(p->ports[i], port) == 0)
            return i;
    return -1;
}

static int emit_port(struct fl_ctx *ctx, int port, struct fl_batch **bp)
{
    struct fl_batch *b = *bp;
    *bp = NULL;
    if (!b)
        return -FL_EINVAL;
    if (b->rows == 0 || !ctx->emit) {
        fl_batch_release(&b);
        return 0;
    }
    fl_counter_add(ctx, "records_out", b->rows);
    return ctx->emit(ctx, port, b);
}

int fl_emit(struct fl_ctx *ctx, struct fl_batch **b)
{
    return emit_port(ctx, 0, b);
}

int fl_emit_keep(struct fl_ctx *ctx, struct fl_batch **b)
{
    struct fl_batch *copy;
    int rc;

    if (!*b || !fl_emits_across(ctx))
        return fl_emit(ctx, b);
    if (!(*b)->rows)
        return 0;
    if ((rc = fl_batch_take_rows(ctx, *b, &copy)) < 0)
        return rc;
    return fl_emit(ctx, &copy);
}

int fl_emit_port(struct fl_ctx *ctx, const char *port, struct fl_batch **b)
{
    int i = fl_plugin_port(ctx->plugin, port);
    if (i < 0) {
        fl_batch_release(b);
        FL_LOG_ERROR(ctx, "emit on unknown port \"%s\"", port);
        return -FL_ENOENT;
    }
    return emit_port(ctx, i, b);
}

bool fl_stopping(struct fl_ctx *ctx)
{
    return atomic_load_explicit(&ctx->rt->stopping, memory_order_relaxed);
}

void fl_progress(struct fl_ctx *ctx, uint64_t done, uint64_t total)
{
    atomic_store_explicit(&ctx->progress_total, total, memory_order_relaxed);
    atomic_store_explicit(&ctx->progress_done, done, memory_order_relaxed);
}

void fl_progress_records(struct fl_ctx *ctx, uint64_t done, uint64_t total)
{
    atomic_store_explicit(&ctx->progress_records, true, memory_order_relaxed);
    fl_progress(ctx, done, total);
}

uint32_t fl_workers(const struct fl_ctx *ctx)
{
    return ctx->conf && ctx->conf->workers > 1 ? ctx->conf->workers : 1;
}

uint32_t fl_worker_index(const struct fl_ctx *ctx)
{
    return ctx->inst ? ctx->inst->worker : 0;
}

const char *fl_stage_id(const struct fl_ctx *ctx)
{
    return ctx->stage_id ? ctx->stage_id : "";
}

/* The with: value of option `name`, given under its name or under its
 * deprecated alias (either name may be asked for), or NULL. */
static const struct fl_ynode *opt_value(const struct fl_ctx *ctx, const char *name)
{
    const struct fl_ynode *with = ctx->conf ? ctx->conf->with : NULL;
    const struct fl_ynode *v = fl_ynode_get(with, name);
    const struct fl_opt *o;
    bool alias;
    if (v || !ctx->plugin || !(o = fl_opt_find(ctx->plugin->opts, name, &alias)))
        return v;
    if (!(v = fl_ynode_get(with, o->name)) && o->alias)
        v = fl_ynode_get(with, o->alias);
    return v;
}

/* Position of option `opt` in the stage's with: map (its value), else the
 * stage itself. */
struct fl_pos fl_ctx_opt_pos(const struct fl_ctx *ctx, const char *opt)
{
    const struct fl_stage_conf *sc = ctx->conf;
    const struct fl_ynode *v = opt ? opt_value(ctx, opt) : NULL;
    if (!sc)
        return (struct fl_pos){ "?", 0, 0 };
    return v ? v->pos : sc->pos;
}

int fl_diag(struct fl_ctx *ctx, const char *opt, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx->rt && ctx->rt->diags)
        fl_diags_add(ctx->rt->diags, fl_ctx_opt_pos(ctx, opt), "stage \"%s\": %s", fl_stage_id(ctx), msg);
    else
        FL_LOG_ERROR(ctx, "%s", msg);
    return -FL_EINVAL;
}

int fl_diag_at(struct fl_ctx *ctx, const char *opt, const char *key, size_t offset,
               const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!ctx->rt || !ctx->rt->diags) {
        FL_LOG_ERROR(ctx, "%s", msg);
        return -FL_EINVAL;
    }
    struct fl_pos pos = fl_ctx_opt_pos(ctx, opt);
    const struct fl_ynode *v = opt && ctx->conf ? opt_value(ctx, opt) : NULL;
    if (v && key && v->kind == FL_Y_MAP) {
        v = fl_ynode_get(v, key);
    } else if (v && key && v->kind == FL_Y_SEQ) {
        const struct fl_ynode *item = NULL;
        for (size_t i = 0; i < v->n && !item; i++)
            if (v->items[i]->kind == FL_Y_SCALAR && strcmp(v->items[i]->str, key) == 0)
                item = v->items[i];
        v = item;
    } else if (key) {
        v = NULL;
    }
    if (v)
        pos = v->pos;
    if (v && v->kind == FL_Y_SCALAR && v->verbatim && offset <= strlen(v->str)) {
        uint32_t chars = 0;
        for (size_t i = 0; i < offset; i++)
            chars += ((unsigned char)v->str[i] & 0xc0) != 0x80;
        pos.col += chars + (v->quoted ? 1 : 0);
    }
    fl_diags_add(ctx->rt->diags, pos, "stage \"%s\": %s", fl_stage_id(ctx), msg);
    return -FL_EINVAL;
}

bool fl_opt_given(struct fl_ctx *ctx, const char *name)
{
    return opt_value(ctx, name) != NULL;
}

void fl_wake_at(struct fl_ctx *ctx, uint64_t wall_ns)
{
    ctx->wake_at = wall_ns;
}
