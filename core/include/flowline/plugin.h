/* flowline/plugin.h: the plugin ABI (DESIGN.md §3).
 *
 * A plugin is a shared object exporting one symbol, fl_plugin_entry, made
 * with FL_PLUGIN_DEFINE(...). The loader reads it before calling anything and
 * refuses a plugin whose abi_major differs from the core's or whose abi_minor
 * is newer, with one line naming the file and both versions. The core copies
 * struct_size bytes of the descriptor, so fields appended in later minors
 * read as zero from older plugins; likewise it reads the option table with
 * the plugin's opt_size as the row stride.
 *
 * Threading contract: one instance (state) is only ever called from one
 * thread at a time; describe() may run without init() (flowline check) and
 * must do no I/O. A plugin keeps no mutable globals.
 *
 * Life of an instance: options parsed into state -> describe -> init ->
 * start -> run (inputs) or process/tick (others) -> drain -> fini. */
#ifndef FLOWLINE_PLUGIN_H
#define FLOWLINE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/bind.h>
#include <flowline/error.h>
#include <flowline/log.h>
#include <flowline/opts.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2.0: option rows and column definitions travel with their size, schema
 * columns and describe()'s outputs are pointer arrays (docs/decisions.md).
 * 2.1: fl_plugin.flags, fl_workers(). 2.2: flowline/expr.h, fl_diag_at(),
 * fl_name_suggest(). 2.3: flowline/window.h; fl_plugin.wall_tick, fl_wake_at(),
 * flowline/deliver.h (the delivery layer of network outputs), flowline/wire.h
 * (the binary batch encoding). 2.4: fl_emit_keep(). */
#define FL_ABI_MAJOR 2
#define FL_ABI_MINOR 4

enum fl_kind {
    FL_KIND_INPUT = 1, FL_KIND_TRANSFORM, FL_KIND_AGGREGATE, FL_KIND_ANALYSIS,
    FL_KIND_OUTPUT
};

/* What describe() declares for one output port. The core allocates one per
 * port (zeroed) and hands describe() pointers to them. */
struct fl_schema_decl {
    const struct fl_schema *schema;  /* NULL = open: fields known at run time */
    FL_GROWN_TAIL
};

struct fl_ctx;   /* the core's per-stage context; plugins only pass it back */

struct fl_plugin {
    uint32_t abi_major, abi_minor;   /* FL_ABI_MAJOR/MINOR the plugin was built with */
    uint32_t struct_size;            /* sizeof(struct fl_plugin) at build time */
    uint32_t opt_size;               /* sizeof(struct fl_opt) at build time: the
                                      * stride of the opts table */
    enum fl_kind kind;
    const char *name;                /* "pcap": used as input.pcap */
    const char *version, *summary;
    const struct fl_opt *opts;       /* zero-terminated table, or NULL */
    const char *const *ports;        /* named outputs, NULL-terminated; NULL = one, "out" */
    size_t state_size;               /* the core allocates and zeroes it */
    /* Declare the output schema of each port (out[port]->schema; ports in
     * the order of `ports`) from the input schemas (NULL entries in `in` are
     * open). Pure: no I/O, no threads. Report problems with fl_diag().
     * Returns 0 or a negative code. */
    int  (*describe)(struct fl_ctx *, void *state,
                     const struct fl_schema *const *in, size_t n_in,
                     struct fl_schema_decl *const *out);
    int  (*init)(struct fl_ctx *, void *state);
    int  (*start)(struct fl_ctx *, void *state);
    /* Non-inputs: one batch, borrowed (fl_batch_retain() to keep it).
     * 0, -FL_EAGAIN (offer the same batch again later) or a negative code
     * (the stage failed; the pipeline stops and drains). */
    int  (*process)(struct fl_ctx *, void *state, struct fl_batch *in);
    /* Inputs: read and emit until fl_stopping() or end of input; 0 at a
     * clean end. */
    int  (*run)(struct fl_ctx *, void *state);
    /* The stage clock advanced to now_ns (record time for files, wall time
     * for live input): fire timeouts and windows. */
    int  (*tick)(struct fl_ctx *, void *state, uint64_t now_ns);
    /* Every input has ended: emit what is still held (open flows, windows). */
    int  (*drain)(struct fl_ctx *, void *state);
    void (*fini)(struct fl_ctx *, void *state);
    /* Optional. SIGHUP (logrotate, systemctl reload): reopen output files
     * (the old name may have been moved away), later reload databases.
     * Called from the stage's own thread, between batches. */
    int  (*reload)(struct fl_ctx *, void *state);
    /* 2.1: FL_PLUGIN_* flags (a plugin built for 2.0 reads as 0). */
    uint32_t flags;
    /* 2.3, optional: the wall clock reached the time the stage asked for
     * with fl_wake_at() (flush a buffer on time, retry a send), whatever
     * the stage clock is (record time when reading files). Called from the
     * stage's own thread, between batches. */
    int  (*wall_tick)(struct fl_ctx *, void *state, uint64_t now_ns);
    FL_GROWN_TAIL
};

/* An input that may run as several instances (`workers: N`), each reading
 * its own share of the source (a socket opened with SO_REUSEPORT, a
 * consumer group). Inputs without it run as one instance. 2.3: also an
 * output whose instances may each write to the destination on their own
 * (a network output: one connection and spool per instance); its records
 * are spread row by row (or by partition_by). Other outputs run as one. */
#define FL_PLUGIN_INSTANCES 0x1u

/* The one exported symbol. Use as:
 *   FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "csv", ...); */
#define FL_PLUGIN_DEFINE(...)                                           \
    FL_API const struct fl_plugin fl_plugin_entry = {                   \
        .abi_major = FL_ABI_MAJOR, .abi_minor = FL_ABI_MINOR,           \
        .struct_size = sizeof(struct fl_plugin),                        \
        .opt_size = sizeof(struct fl_opt), __VA_ARGS__ }

/* ---- What a plugin may call with its ctx ------------------------------ */

/* Hand a batch downstream on the default port. Ownership of the caller's
 * reference moves to the core (*b is set to NULL), also on error. Blocks
 * while the consumer is behind (backpressure). Empty batches are dropped. */
FL_API int fl_emit(struct fl_ctx *ctx, struct fl_batch **b);
/* The same on a named port (plugin->ports). */
FL_API int fl_emit_port(struct fl_ctx *ctx, const char *port, struct fl_batch **b);
/* For a source that fills its batches row by row (a decoder): when a
 * consumer runs in another thread, emit a copy of the rows and keep *b,
 * emptied (no rows, all valid, no strings), to fill again; its lines stay
 * in this core's cache, and the consumer gets lines written once, in
 * order (docs/performance.md, "Fourth round"). Otherwise it is fl_emit()
 * and *b becomes NULL. *b must be the caller's alone (from fl_batch_new(),
 * nothing derived from it). On error *b stays the caller's. Since 2.4. */
FL_API int fl_emit_keep(struct fl_ctx *ctx, struct fl_batch **b);

/* Inputs: true once the pipeline is stopping (signal, or a stage failed). */
FL_API bool fl_stopping(struct fl_ctx *ctx);
/* Inputs: the clock of this input is now ts_ns (record time of a file, wall
 * time of a live source). Emitted batches advance it by their t_max too.
 * Call it while idle so downstream timeouts fire (the core forwards at most
 * one watermark per 100 ms of clock). */
FL_API void fl_watermark(struct fl_ctx *ctx, uint64_t ts_ns);
/* Inputs: true once every other input of the pipeline has ended. An input
 * that only reports on the others (input.metrics) ends then, so it does not
 * keep a pipeline of files running. */
FL_API bool fl_others_done(struct fl_ctx *ctx);
/* A batch of every stage's counters right now, one row per (stage, worker,
 * counter): ts, stage, plugin, worker, counter, value (schema from
 * fl_counters_schema). Outside a running pipeline: no rows. */
FL_API int fl_counters_schema(struct fl_ctx *ctx, const struct fl_schema **out);
FL_API int fl_counters_batch(struct fl_ctx *ctx, struct fl_batch **out);
/* Inputs reading a file: bytes done of total, for the progress bar. */
FL_API void fl_progress(struct fl_ctx *ctx, uint64_t done, uint64_t total);
/* The same for an input whose work is counted in records (input.gen). */
FL_API void fl_progress_records(struct fl_ctx *ctx, uint64_t done, uint64_t total);

/* Add n to this stage's counter `name` (created on first use; printed with
 * -v and served as metrics). Call per batch, not per record. */
FL_API void fl_counter_add(struct fl_ctx *ctx, const char *name, uint64_t n);

/* In describe/init: report a configuration problem at option `opt` (NULL =
 * the stage itself) as file:line:column. Returns -FL_EINVAL. */
FL_API int fl_diag(struct fl_ctx *ctx, const char *opt, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 2.2: the same at byte `offset` inside the scalar value of option `opt`
 * (an expression): when the option is a map, inside its value at `key`;
 * when a list, inside the item equal to `key` (key NULL: the option's own
 * value). Where the value's text cannot be mapped to columns (escapes,
 * folding, several lines), the position is the value's start. */
FL_API int fl_diag_at(struct fl_ctx *ctx, const char *opt, const char *key, size_t offset,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* In describe(): this stage reads (FL_PATH_READ) or writes (FL_PATH_WRITE)
 * the file `path`, the value of option `opt` ("-", stdin or stdout, is not
 * a file). flowline check (and run, before anything starts) then reports
 * at that option: a file to read that cannot be read; a file to write
 * whose folder is missing, that is a folder, that exists while the stage
 * would not keep it (FL_PATH_KEEPS_EXISTING: the user asked to overwrite,
 * append or rotate), or that another stage also reads or writes. */
#define FL_PATH_READ 0x1u
#define FL_PATH_WRITE 0x2u
#define FL_PATH_KEEPS_EXISTING 0x4u
FL_API int fl_path_declare(struct fl_ctx *ctx, const char *opt, const char *path,
                           unsigned flags);

/* The instances of this stage (`workers: N`, 1 without) and which one the
 * ctx is (0 .. N-1). In describe(): the count the pipeline asks for. */
FL_API uint32_t fl_workers(const struct fl_ctx *ctx);
FL_API uint32_t fl_worker_index(const struct fl_ctx *ctx);

/* This stage's id as written in the pipeline ("flows"). */
FL_API const char *fl_stage_id(const struct fl_ctx *ctx);
/* Wall clock, ns since the epoch. */
FL_API uint64_t fl_now_ns(void);
/* 2.3: call the plugin's wall_tick() once the wall clock (fl_now_ns())
 * reaches wall_ns; 0 cancels. One request per stage instance: a new one
 * replaces the old (ask again from wall_tick for the next). Without a
 * request a stage sleeps until a batch comes, so ask only while something
 * waits. */
FL_API void fl_wake_at(struct fl_ctx *ctx, uint64_t wall_ns);

#ifdef __cplusplus
}
#endif
#endif
