/* influx.c: output.influx, records as InfluxDB line protocol over HTTP(S)
 * (v1 /write or v2 /api/v2/write) or UDP.
 *
 * Each record is one point: `measurement`, the fields named in `tags` as
 * tags, the others (or those in `fields`) as fields, the `time` field
 * (default flow_end, else ts) as its timestamp in `precision`. Encoding is
 * influx_line.c's, sending influx_send.c's; batching, retries, the spool
 * and backpressure are the core delivery layer's (flowline/deliver.h), so
 * the guarantee is at-least-once (README). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <flowline/expr.h>
#include "influx.h"

static const char *const precisions[] = { "ns", "us", "ms", "s", NULL };
static const char *const apis[] = { "auto", "v1", "v2", NULL };
static const char *const unsigneds[] = { "int", "uint", NULL };

#define O(f) offsetof(struct influx, f)
static const struct fl_opt influx_opts[] = {
    { .name = "url", .type = FL_OPT_STRING, .offset = O(url), .flags = FL_OPT_REQUIRED,
      .doc = "the server: http://host:8086, https://..., or udp://host:8089 for the UDP listener" },
    { .name = "api", .type = FL_OPT_ENUM, .offset = O(api), .def = "auto", .choices = apis,
      .doc = "v1 (/write: db, rp, user, password) or v2 (/api/v2/write: org, bucket, token); "
             "auto: v2 when org, bucket or token is given" },
    { .name = "db", .type = FL_OPT_STRING, .offset = O(db), .def = "flowline",
      .doc = "v1: the database" },
    { .name = "rp", .type = FL_OPT_STRING, .offset = O(rp),
      .doc = "v1: the retention policy (the database's default if not given)" },
    { .name = "user", .type = FL_OPT_STRING, .offset = O(user), .doc = "v1: user name (HTTP basic auth)" },
    { .name = "password", .type = FL_OPT_STRING, .offset = O(password), .doc = "v1: password" },
    { .name = "org", .type = FL_OPT_STRING, .offset = O(org), .doc = "v2: the organization" },
    { .name = "bucket", .type = FL_OPT_STRING, .offset = O(bucket), .doc = "v2: the bucket" },
    { .name = "token", .type = FL_OPT_STRING, .offset = O(token), .doc = "v2: the API token" },
    { .name = "measurement", .type = FL_OPT_STRING, .offset = O(measurement), .def = "flows",
      .doc = "the measurement every point is written to" },
    { .name = "tags", .type = FL_OPT_LIST, .offset = O(tags),
      .doc = "fields written as tags (indexed: keep their distinct values few)" },
    { .name = "fields", .type = FL_OPT_LIST, .offset = O(fields),
      .doc = "fields written as fields; not given: every field that is not a tag or the time" },
    { .name = "time", .type = FL_OPT_STRING, .offset = O(time),
      .doc = "the timestamp field (a ts field); not given: flow_end, else ts, else the server's time" },
    { .name = "precision", .type = FL_OPT_ENUM, .offset = O(precision), .def = "ns",
      .choices = precisions, .doc = "timestamp precision sent to the server (truncated)" },
    { .name = "unsigned", .type = FL_OPT_ENUM, .offset = O(unsigned_as), .def = "int",
      .choices = unsigneds,
      .doc = "u64 values as int (i suffix, clamped at 2^63-1 and counted; InfluxDB 1.x) or "
             "uint (u suffix: InfluxDB 1.8+ with uint support, 2.x)" },
    { .name = "gzip", .type = FL_OPT_BOOL, .offset = O(gzip), .def = "true",
      .doc = "compress request bodies (Content-Encoding: gzip)" },
    { .name = "timeout", .type = FL_OPT_DURATION, .offset = O(timeout), .def = "10s", .min = "1ms",
      .doc = "longest wait for one request (connect included); then it is retried" },
    { .name = "max_series", .type = FL_OPT_UINT, .offset = O(max_series), .def = "0",
      .max = "100000000", .unit = "tag sets",
      .doc = "at most this many distinct tag sets per hour (0: no limit); records with "
             "more are not written, counted as series_limited" },
    { .name = "udp_payload", .type = FL_OPT_SIZE, .offset = O(udp_payload), .def = "1400",
      .min = "256", .max = "65000", .unit = "bytes",
      .doc = "udp://: most bytes per datagram (whole lines)" },
    FL_DELIVER_OPTS(struct influx, dl),
    { 0 }
};

static int no_field(struct fl_ctx *ctx, const char *opt, const char *key, const char *name,
                    const struct fl_schema *sc)
{
    const char *cands[256];
    size_t n = 0;
    for (uint32_t c = 0; c < sc->ncols && n < 256; c++)
        cands[n++] = sc->cols[c]->name;
    const char *best = fl_name_suggest(name, cands, n);
    return fl_diag_at(ctx, opt, key, 0, "the input has no field \"%s\"%s%s%s", name,
                      best ? "; did you mean \"" : "", best ? best : "", best ? "\"?" : "");
}

static int check_list(struct fl_ctx *ctx, const char *opt, const struct fl_strlist *l,
                      const struct fl_schema *const *in, size_t n_in)
{
    for (size_t i = 0; i < l->n; i++)
        for (size_t k = 0; k < n_in; k++)
            if (in[k] && fl_schema_find(in[k], l->v[i]) < 0)
                return no_field(ctx, opt, l->v[i], l->v[i], in[k]);
    return 0;
}

static int influx_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                           size_t n_in, struct fl_schema_decl *const *out)
{
    struct influx *s = state;
    (void)out;
    if (strncmp(s->url, "http://", 7) != 0 && strncmp(s->url, "https://", 8) != 0
        && strncmp(s->url, "udp://", 6) != 0)
        return fl_diag(ctx, "url", "url must start with http://, https:// or udp://, not \"%s\"",
                       s->url);
    if (strncmp(s->url, "udp://", 6) == 0 && !strchr(s->url + 6, ':'))
        return fl_diag(ctx, "url", "udp:// needs a port (udp://127.0.0.1:8089)");
    bool v2 = s->api == API_V2 || (s->api == API_AUTO && (s->bucket || s->org || s->token));
    if (v2 && strncmp(s->url, "udp://", 6) != 0 && !s->bucket)
        return fl_diag(ctx, "bucket", "the v2 API needs a bucket");
    if (!*s->measurement)
        return fl_diag(ctx, "measurement", "the measurement name cannot be empty");
    int rc = check_list(ctx, "tags", &s->tags, in, n_in);
    if (rc == 0)
        rc = check_list(ctx, "fields", &s->fields, in, n_in);
    for (size_t k = 0; rc == 0 && s->time && k < n_in; k++) {
        int c = in[k] ? fl_schema_find(in[k], s->time) : 0;
        if (c < 0)
            rc = no_field(ctx, "time", NULL, s->time, in[k]);
        else if (in[k] && in[k]->cols[c]->type != FL_T_TS)
            rc = fl_diag(ctx, "time", "\"%s\" is a %s, not a ts", s->time,
                         fl_type_name(in[k]->cols[c]->type));
    }
    return rc;
}

static int influx_init(struct fl_ctx *ctx, void *state)
{
    struct influx *s = state;
    s->ctx = ctx;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -FL_EIO;
    int rc = influx_line_init(s);
    if (rc == 0)
        rc = influx_net_open(s);
    if (rc == 0) {
        struct fl_deliver_ops ops = { .send = influx_send };
        rc = fl_deliver_new(ctx, &s->dl, &ops, s, &s->d);
    }
    return rc;
}

static int influx_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct influx *s = state;
    (void)ctx;
    int rc = fl_deliver_ready(s->d);
    if (rc < 0)
        return rc;
    return influx_encode(s, b);
}

static int influx_wall_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    struct influx *s = state;
    (void)ctx;
    return fl_deliver_tick(s->d, now_ns);
}

static int influx_drain(struct fl_ctx *ctx, void *state)
{
    struct influx *s = state;
    (void)ctx;
    return s->d ? fl_deliver_drain(s->d) : 0;
}

static void influx_fini(struct fl_ctx *ctx, void *state)
{
    struct influx *s = state;
    (void)ctx;
    fl_deliver_free(&s->d);
    influx_net_close(s);
    influx_line_fini(s);
    if (s->ctx)
        curl_global_cleanup();
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "influx", .version = "1.0",
                 .summary = "write records as InfluxDB line protocol over HTTP(S) (v1 or v2 API) "
                            "or UDP, with retries and an on-disk spool",
                 .opts = influx_opts, .state_size = sizeof(struct influx),
                 .describe = influx_describe, .init = influx_init, .process = influx_process,
                 .wall_tick = influx_wall_tick, .drain = influx_drain, .fini = influx_fini,
                 .flags = FL_PLUGIN_INSTANCES);
