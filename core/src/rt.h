/* core/src/rt.h: the runtime's context objects, shared by core files.
 *
 * struct fl_rt is the one runtime per `flowline run/check` (schemas, the stop
 * flag, diagnostics while checking); struct fl_ctx is what a plugin instance
 * sees: its stage, its counters, and how its emits leave (a link to the
 * next stages, or a capture list in the test harness). Nothing here is
 * global: every piece of mutable state hangs off an fl_rt. */
#ifndef FL_RT_H
#define FL_RT_H

#include <pthread.h>
#include <stdatomic.h>
#include "internal.h"

struct fl_schema_node;   /* interned schema (record.c) */

struct fl_rt {
    pthread_mutex_t schema_lock;
    struct fl_schema_node **schema_tab;   /* open hash by content */
    size_t schema_cap, schema_n;
    uint64_t schema_next_id;
    atomic_bool stopping;                 /* signal or failed stage */
    _Atomic uint64_t reload_gen;          /* SIGHUPs so far */
    struct fl_pipeline *pipeline;         /* the pipeline this rt belongs to, or NULL */
    size_t inputs_total;                  /* input instances of the running pipeline */
    _Atomic size_t inputs_finished;       /* ... whose run() has returned */
    struct fl_diags *diags;               /* set while checking: fl_diag() goes here */
    int log_progress;                     /* stderr is a TTY: draw the progress bar */
    struct fl_path_decl *paths;           /* files stages read/write (paths.c) */
    size_t n_paths;
};

int fl_rt_init(struct fl_rt *rt);
void fl_rt_fini(struct fl_rt *rt);

#define FL_MAX_COUNTERS 48
struct fl_counter { const char *name; _Atomic uint64_t v; };

struct fl_inst;    /* pipeline.h */

struct fl_ctx {
    struct fl_rt *rt;
    const char *stage_id;                 /* "flows" */
    const char *use;                      /* "aggregate.flowmeter" */
    const struct fl_plugin *plugin;
    struct fl_inst *inst;                 /* NULL outside a running pipeline */
    /* Where emits go: the runtime's links, or the test harness. Takes the
     * reference. port is an index into plugin->ports (0 = default). */
    int (*emit)(struct fl_ctx *ctx, int port, struct fl_batch *b);
    void *emit_arg;
    /* Options: the stage's with: node (positions for fl_diag, fl_opt_given). */
    const struct fl_stage_conf *conf;
    /* Counters (records in/out are kept by the runtime in the same table). */
    struct fl_counter counters[FL_MAX_COUNTERS];
    _Atomic uint32_t n_counters;
    pthread_mutex_t counter_lock;         /* creation only; adds are atomic */
    struct fl_bind *binds;                /* fl_bind_new()'s, freed with the ctx */
    /* Inputs: progress, read by the main thread for the progress bar. */
    _Atomic uint64_t progress_done, progress_total;
    atomic_bool progress_records;         /* counted in records, not bytes */
    struct fl_batch_pool *pool;           /* record.c: recycled batches (NULL: none) */
    uint64_t wake_at;                     /* fl_wake_at(): wall ns, 0 = none */
};

int fl_ctx_init(struct fl_ctx *ctx, struct fl_rt *rt, const char *stage_id,
                const char *use, const struct fl_plugin *p);
void fl_ctx_fini(struct fl_ctx *ctx);
/* record.c: whether span s lies within b's arena and holds exactly the len
 * bytes at p (a span cached across rows is checked before it is reused:
 * batches are recycled, so their address says nothing). */
bool fl_batch_span_holds(const struct fl_batch *b, struct fl_span s, const void *p,
                         uint32_t len);

/* record.c: the ctx's pool of released batches, for fl_batch_new(). */
struct fl_batch_pool *fl_batch_pool_new(void);
void fl_batch_pool_drop(struct fl_batch_pool *p);
uint64_t fl_counter_get(struct fl_ctx *ctx, const char *name);
/* paths.c: check the declared files across stages (after describe), and
 * free them. */
void fl_paths_check(struct fl_rt *rt, struct fl_diags *d);
void fl_paths_free(struct fl_rt *rt);
/* Position of option `opt` of the ctx's stage (its value), else the stage. */
struct fl_pos fl_ctx_opt_pos(const struct fl_ctx *ctx, const char *opt);

/* bind.c: free one binding; returns the next one of its ctx's list. */
struct fl_bind *fl_bind_free(struct fl_bind *bd);

/* Index of a port name in the plugin's ports (0 for NULL/"out"), or -1. */
int fl_plugin_port(const struct fl_plugin *p, const char *port);
size_t fl_plugin_n_ports(const struct fl_plugin *p);

#endif
