/* metrics.c: input.metrics, the pipeline's own stage counters as records,
 * so they can go to any output (InfluxDB, Kafka, a file) like other data.
 * Every `interval` of the wall clock it emits one row per (stage, worker,
 * counter): ts, stage, plugin, worker, counter, value (counters are totals
 * since the start). It ends, with a last round, when every other input of
 * the pipeline has ended, or when the pipeline stops. */
#include <stddef.h>
#include <time.h>
#include <flowline/plugin.h>

struct metrics {
    uint64_t interval;
};

static const struct fl_opt metrics_opts[] = {
    { .name = "interval", .type = FL_OPT_DURATION, .offset = offsetof(struct metrics, interval),
      .def = "10s", .min = "100ms", .max = "1d", .doc = "how often the counters are emitted" },
    { 0 }
};

static int metrics_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                            size_t n_in, struct fl_schema_decl *const *out)
{
    return fl_counters_schema(ctx, &out[0]->schema);
}

static int metrics_emit(struct fl_ctx *ctx)
{
    struct fl_batch *b;
    int rc = fl_counters_batch(ctx, &b);
    return rc < 0 ? rc : fl_emit(ctx, &b);
}

static int metrics_run(struct fl_ctx *ctx, void *state)
{
    struct metrics *m = state;
    uint64_t next = fl_now_ns() + m->interval;
    int rc = 0;
    while (rc == 0 && !fl_stopping(ctx) && !fl_others_done(ctx)) {
        struct timespec ts = { 0, 50000000 };   /* 50 ms: stops and ends are seen soon */
        nanosleep(&ts, NULL);
        uint64_t now = fl_now_ns();
        if (now >= next) {
            rc = metrics_emit(ctx);
            next = now + m->interval;
        }
        fl_watermark(ctx, now);
    }
    return rc < 0 ? rc : metrics_emit(ctx);   /* the totals at the end */
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_INPUT, .name = "metrics", .version = "1.0",
                 .summary = "the pipeline's own stage counters as records, every interval",
                 .opts = metrics_opts, .state_size = sizeof(struct metrics),
                 .describe = metrics_describe, .run = metrics_run);
