/* pipeline.h: a pipeline file bound to plugins (pipeline.c) and run as one
 * thread per stage linked by ZeroMQ inproc PUSH/PULL (runtime.c). */
#ifndef FL_PIPELINE_H
#define FL_PIPELINE_H

#include <stdio.h>
#include "loader.h"
#include "partition.h"
#include "rt.h"

struct fl_edge { size_t stage; int port; };   /* an upstream: stage index, its port */

/* One running instance of a stage: `workers: N` gives N, each with its own
 * context (counters), plugin state and thread. Worker 0 uses the stage's
 * own ctx and state, the ones `flowline check` parsed and described. */
struct fl_inst {
    struct fl_stage *st;
    uint32_t worker;
    struct fl_ctx *ctx;
    void *state;
    struct fl_link *link;                /* runtime.c */
    int cpu;                             /* pinned to this CPU (affinity.c), or -1 */
    bool chained;                        /* chain: true: no thread of its own, its
                                          * source's thread runs it (runtime.c) */
    bool inited;
    _Atomic uint64_t queued;             /* batches sent to it, not yet received */
    uint64_t reload_seen;                /* the rt's reload generation it acted on */
};

struct fl_stage {
    struct fl_ctx ctx;
    const struct fl_stage_conf *conf;
    const struct fl_plugin *plugin;      /* NULL if it could not be loaded */
    void *state;
    bool opts_ok, described, inited;
    size_t n_up;
    struct fl_edge *up;                  /* from: entries, resolved */
    size_t n_ports;
    struct fl_schema_decl *out;          /* describe() result per port */
    struct fl_schema_decl **out_ptr;     /* &out[port]: what describe() gets */
    struct fl_part part;                 /* how workers: N splits the input */
    uint32_t n_inst;                     /* conf->workers while running, else 0 */
    struct fl_inst *inst;                /* runtime.c */
};

struct fl_pipeline {
    struct fl_diags diags;               /* owns the file names positions point at */
    struct fl_rt rt;
    struct fl_loader loader;
    struct fl_conf *conf;
    size_t n;
    struct fl_stage *stages;
    size_t *order;                       /* topological, sources first */
    bool graph_ok;
    bool check_files;                    /* inputs, outputs (paths.c) */
    uint64_t losses;                     /* after a run: records dropped, cut short,
                                          * unsupported (observe.c) */
};

/* Parse, check and describe a pipeline; every problem goes to (*out)->diags,
 * which lives as long as the pipeline (positions point into it). Returns 0
 * when the pipeline is runnable; *out is set unless memory ran out.
 * lo may be NULL (check files, no overrides). */
struct fl_load_opts {
    bool no_files;               /* skip checking the files stages read and write
                                  * (flowline graph draws a pipeline whose files
                                  * are elsewhere) */
    const char *const *sets;     /* --set STAGE.OPTION=VALUE, applied in order */
    size_t n_sets;
};
int fl_pipeline_load(const char *path, const struct fl_load_opts *lo, struct fl_pipeline **out);
int fl_pipeline_parse(const char *name, const char *buf, size_t len,
                      const struct fl_load_opts *lo, struct fl_pipeline **out);
void fl_pipeline_free(struct fl_pipeline **p);
/* Another instance of a checked stage for workers: N: a fresh ctx and a
 * state with the options parsed again from with: (nothing a plugin owns is
 * shared) and described again, as flowline check did for the first. */
int fl_stage_clone(struct fl_pipeline *p, struct fl_stage *st, struct fl_ctx *ctx, void **state);
void fl_stage_clone_free(struct fl_stage *st, struct fl_ctx *ctx, void **state);
void fl_pipeline_graph(const struct fl_pipeline *p, bool dot, FILE *out);

struct fl_run_opts {
    int verbose;
    bool progress;
    bool pin;
    uint64_t stats_ns;           /* --stats: a line per interval; 0 = none */
    const char *metrics;         /* --metrics [addr:]port; NULL = none */
};
/* init, start, run every stage until the inputs end or SIGINT/SIGTERM, then
 * drain. Returns 0 if every stage ended cleanly. */
int fl_pipeline_run(struct fl_pipeline *p, const struct fl_run_opts *o);

/* observe.c: the counters of every stage (workers: the sum, then each);
 * whether a counter counts lost records (drop_*, unsupported_*,
 * truncated_*, *_dropped, *_drops, *_missing_field, bad_record,
 * frag_unjoined; not drop_not_ip); the one-line summary of those, if any
 * (returns their sum). */
void fl_counters_print(struct fl_pipeline *p, FILE *out);
bool fl_counter_is_loss(const char *name);
uint64_t fl_losses_print(struct fl_pipeline *p, FILE *out);
/* --stats lines; s starts zeroed and is freed with fl_stats_free. */
struct fl_stats { uint64_t last_ns; uint64_t *prev; };
void fl_stats_print(struct fl_pipeline *p, struct fl_stats *s, uint64_t now, bool tty, FILE *out);
void fl_stats_free(struct fl_stats *s);
/* Prometheus text of every stage counter (flowline_<name>_total, labels
 * stage, plugin, worker), queued batches, and process figures. */
void fl_metrics_text(struct fl_pipeline *p, uint64_t start_ns, FILE *out);
/* metrics.c: serve fl_metrics_text on http://[ADDR:]PORT/metrics. */
struct fl_metrics;
int fl_metrics_start(struct fl_pipeline *p, const char *spec, uint64_t start_ns,
                     struct fl_metrics **out);
void fl_metrics_stop(struct fl_metrics **m);

/* The affinity plan (affinity.c): set inst->cpu for the threads to pin
 * (none unless enabled and a stage has workers), and pin the calling
 * thread to cpu (-1: leave it alone). */
void fl_pin_plan(struct fl_pipeline *p, bool enabled);
void fl_pin_self(int cpu);

#endif
