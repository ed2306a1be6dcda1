/* flowline/deliver.h: the delivery layer of network outputs (ABI 2.3).
 *
 * Every output whose unit of delivery is an encoded payload (a buffer of
 * InfluxDB lines, a CQL batch, a Kafka message set) leaves the hard part
 * to this layer: the plugin encodes records into the open payload and
 * sends one payload when asked; the layer owns the rest, the same way for
 * every output:
 *
 *   - batching: a payload is closed at `batch_size` records or
 *     `batch_bytes` bytes, or `flush_interval` after its first record
 *     (wall clock, also when the stage clock is record time: the layer
 *     asks the runtime for a wall tick, fl_wake_at(), only while something
 *     is buffered, so an idle output uses no CPU);
 *   - the send's result: FL_DELIVER_OK, FL_DELIVER_RETRY (connection
 *     failure, 5xx, timeout) or FL_DELIVER_REJECT (the server refused the
 *     content: retrying cannot help; counted as records_rejected, the
 *     plugin logs why, never retried);
 *   - retry with exponential backoff (`backoff_min` doubling to
 *     `backoff_max`, each delay drawn uniformly from [d/2, d]: jitter, so
 *     many collectors do not hammer a recovering server in step);
 *   - backpressure: while retrying, at most `queue_max` payloads wait in
 *     memory; then fl_deliver_ready() returns -FL_EAGAIN and process()
 *     passes it on, so the runtime offers the batch again later and the
 *     stages upstream block (no unbounded memory);
 *   - past `retry_time` of failing, closed payloads go to an on-disk spool
 *     in `spool_dir` (bounded by `spool_max` bytes) and the pipeline runs
 *     on; retries continue at `backoff_max`, and when the server is back
 *     the spool is replayed in order before anything newer. The spool
 *     survives a restart: a new run finds it and replays it first;
 *   - only past the spool budget (or with no `spool_dir`) payloads are
 *     dropped, counted as records_dropped and logged;
 *   - fl_deliver_drain() (the plugin's drain()) sends everything buffered;
 *     what the server does not take is spooled (or, without a spool, retried
 *     for `retry_time` and then dropped, counted).
 *
 * Counters of the stage: records_sent, records_rejected, retries (failed
 * attempts), records_spooled, records_replayed (from the spool, also
 * counted in records_sent), records_dropped, payloads_sent, bytes_sent,
 * spool_corrupt (unreadable spool records, skipped). records_dropped and
 * records_rejected are losses (flowline run --strict).
 *
 * Guarantee: at-least-once. A payload is removed from memory or the spool
 * only after the send callback said OK or REJECT; after a crash the spool
 * segment being replayed is replayed again from its start (duplicates).
 *
 * Use in a plugin:
 *
 *   struct out { struct fl_deliver_opts dl; struct fl_deliver *d; ... };
 *   static const struct fl_opt out_opts[] = {
 *       ...its own rows...,
 *       FL_DELIVER_OPTS(struct out, dl),
 *       { 0 } };
 *   init:      fl_deliver_new(ctx, &s->dl, &ops, s, &s->d);
 *   process:   if ((rc = fl_deliver_ready(s->d)) < 0) return rc;
 *              for each row: encode into fl_deliver_buf(s->d);
 *                            fl_deliver_add(s->d, 1);
 *   wall_tick: return fl_deliver_tick(s->d, now_ns);
 *   drain:     return fl_deliver_drain(s->d);
 *   fini:      fl_deliver_free(&s->d);
 *
 * All calls come from the stage's own thread. */
#ifndef FLOWLINE_DELIVER_H
#define FLOWLINE_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <flowline/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The common options, filled by the FL_DELIVER_OPTS rows. A value type the
 * core writes into plugin state: fixed for the ABI major (spare room at
 * the end for later options). */
struct fl_deliver_opts {
    uint64_t batch_size;      /* records per payload */
    uint64_t batch_bytes;     /* bytes per payload (a record is never split) */
    uint64_t flush_interval;  /* ns: a payload's longest wait */
    uint64_t retry_time;      /* ns of failing before spooling (or dropping) */
    uint64_t backoff_min;     /* ns: first retry delay */
    uint64_t backoff_max;     /* ns: retry delay cap */
    uint64_t queue_max;       /* payloads held in memory while retrying */
    char *spool_dir;          /* NULL: no spool */
    uint64_t spool_max;       /* bytes on disk */
    uint64_t spare_[6];
};

/* The option rows of struct fl_deliver_opts `m` inside the plugin state
 * struct `T`: the same names, defaults and docs in every network output. */
#define FL_DELIVER_OPTS(T, m)                                                      \
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(T, m.batch_size), \
      .def = "5000", .min = "1", .max = "10000000", .unit = "records",                     \
      .doc = "records per request: a request is sent when it holds this many" },           \
    { .name = "batch_bytes", .type = FL_OPT_SIZE, .offset = offsetof(T, m.batch_bytes), \
      .def = "1MiB", .min = "1KiB", .max = "256MiB", .unit = "bytes",                      \
      .doc = "bytes per request: a request is sent when it reaches this size" },           \
    { .name = "flush_interval", .type = FL_OPT_DURATION,                                   \
      .offset = offsetof(T, m.flush_interval), .def = "1s", .min = "1ms",          \
      .doc = "longest a record waits in a request that is not full (wall clock)" },       \
    { .name = "retry_time", .type = FL_OPT_DURATION, .offset = offsetof(T, m.retry_time), \
      .def = "30s", .min = "0s",                                                            \
      .doc = "how long a failing request is retried, holding the pipeline back, "          \
             "before it is spooled (or dropped without spool_dir)" },                      \
    { .name = "backoff_min", .type = FL_OPT_DURATION,                                      \
      .offset = offsetof(T, m.backoff_min), .def = "100ms", .min = "1ms",          \
      .doc = "first retry delay; it doubles on each failure, with jitter" },              \
    { .name = "backoff_max", .type = FL_OPT_DURATION,                                      \
      .offset = offsetof(T, m.backoff_max), .def = "10s", .min = "1ms",            \
      .doc = "longest retry delay" },                                                      \
    { .name = "queue_max", .type = FL_OPT_UINT, .offset = offsetof(T, m.queue_max), \
      .def = "4", .min = "1", .max = "1024", .unit = "requests",                           \
      .doc = "requests held in memory while retrying before the pipeline is held back" },  \
    { .name = "spool_dir", .type = FL_OPT_PATH, .offset = offsetof(T, m.spool_dir), \
      .doc = "folder for requests the server did not take within retry_time; "             \
             "replayed in order when it is back, also after a restart" },                  \
    { .name = "spool_max", .type = FL_OPT_SIZE, .offset = offsetof(T, m.spool_max), \
      .def = "1GiB", .min = "64KiB", .unit = "bytes",                                      \
      .doc = "most bytes kept in spool_dir; past it requests are dropped (counted)" }

enum fl_deliver_result {
    FL_DELIVER_OK = 0,      /* the server took it */
    FL_DELIVER_RETRY,       /* try again later: connection, timeout, 5xx */
    FL_DELIVER_REJECT       /* the server refused the content: not retried */
};

struct fl_deliver_ops {
    /* Send one payload: len bytes holding n records, as the plugin encoded
     * them (it may wrap them, e.g. in a frame header). Returns an
     * fl_deliver_result. On FL_DELIVER_REJECT *n_rejected starts at n; a
     * partial write (some lines refused) lowers it. Must not block longer
     * than the plugin's own timeout. */
    int (*send)(void *arg, const uint8_t *buf, size_t len, uint32_t n, uint32_t *n_rejected);
    /* Room for later callbacks (NULL: absent). The plugin fills this struct
     * and the core copies it whole, so it is fixed for the ABI major (no
     * FL_GROWN_TAIL): use designated initializers, which zero the rest. */
    void (*spare_[4])(void);
};

/* A growable byte buffer: the open payload. */
struct fl_dbuf { uint8_t *p; size_t len, cap; };
/* Room for `more` bytes at p + len (len unchanged). 0 or -FL_ENOMEM. */
FL_API int fl_dbuf_reserve(struct fl_dbuf *b, size_t more);
FL_API int fl_dbuf_append(struct fl_dbuf *b, const void *p, size_t n);

struct fl_deliver;

/* In init(): the layer for this stage instance. With o->spool_dir, the
 * folder is created if missing and spool files of an earlier run of this
 * stage (named after the stage id and worker) are found and queued for
 * replay first. ops is copied; arg is passed to send. */
FL_API int fl_deliver_new(struct fl_ctx *ctx, const struct fl_deliver_opts *o,
                          const struct fl_deliver_ops *ops, void *arg, struct fl_deliver **out);
/* In fini(): free. Payloads still held (drain() not called) are counted
 * as dropped. */
FL_API void fl_deliver_free(struct fl_deliver **d);

/* At the start of process(): retry what is due, then 0 if a batch may be
 * encoded now, or -FL_EAGAIN (hold the pipeline back: return it from
 * process()). */
FL_API int fl_deliver_ready(struct fl_deliver *d);
/* The open payload: append one record's encoding, then fl_deliver_add(). */
FL_API struct fl_dbuf *fl_deliver_buf(struct fl_deliver *d);
/* n records were appended to the open payload; closes and sends it when it
 * is full. Returns 0 or a negative code (out of memory). A record that did
 * not fit may be undone by the caller before calling this (buf->len). */
FL_API int fl_deliver_add(struct fl_deliver *d, uint32_t n);
/* Records in the open payload (0: the next record starts a payload). */
FL_API uint32_t fl_deliver_open_records(const struct fl_deliver *d);
/* Close the open payload now and try to send what is due. */
FL_API int fl_deliver_flush(struct fl_deliver *d);
/* From the plugin's wall_tick(): flush on time, retry, replay the spool. */
FL_API int fl_deliver_tick(struct fl_deliver *d, uint64_t now_ns);
/* From drain(): deliver or spool everything held. */
FL_API int fl_deliver_drain(struct fl_deliver *d);

/* Draws for tests and bench: the delay before retry number `attempt`
 * (0 = first retry) with the options' backoff and this layer's jitter. */
FL_API uint64_t fl_deliver_backoff(struct fl_deliver *d, unsigned attempt);

#ifdef __cplusplus
}
#endif
#endif
