/* sflow.c: input.sflow, an sFlow v5 collector. Datagrams come from the
 * sockets of `listen` (the core's network layer: recvmmsg, SO_RCVBUF,
 * SO_REUSEPORT with workers) or from the files of `path` (sflow_file.c);
 * sflow_dgram.c frames them, sflow_flow.c turns each flow sample into a
 * row of port "out" (the sampled header through the core packet decoder),
 * sflow_ctr.c each counter sample into a row of port "counters". */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/log.h>
#include <flowline/netin.h>
#include "fl_collect.h"
#include "fl_files.h"
#include "sflow_int.h"

struct sflow_in {
    /* options */
    struct fl_strlist listen;
    struct fl_strlist paths;
    uint64_t rcvbuf;
    uint64_t batch_size;
    bool counter_rates;
    uint64_t max_sources;
    /* run time */
    struct fl_endpoint *eps;
    size_t n_eps;
    struct sflow_dec dec;
};

static const struct fl_opt sflow_opts[] = {
    { .name = "listen", .type = FL_OPT_LIST, .offset = offsetof(struct sflow_in, listen),
      .doc = "UDP endpoints to collect on, one or a list: udp://[::]:6343 (IPv4 agents too), "
             "udp://0.0.0.0:6343, udp://239.1.1.1:6343 (a multicast group, joined); default "
             "udp://[::]:6343 when no path is given" },
    { .name = "path", .type = FL_OPT_PATHS, .offset = offsetof(struct sflow_in, paths),
      .doc = "files to read instead, in order: a file, a glob, a folder or a list. pcap/pcapng "
             "captures of agent traffic (every UDP payload that is an sFlow datagram, on any "
             "port) and raw datagram files (one sFlow v5 datagram per file)" },
    { .name = "rcvbuf", .type = FL_OPT_SIZE, .offset = offsetof(struct sflow_in, rcvbuf),
      .def = "8MiB", .unit = "bytes",
      .doc = "socket receive buffer (SO_RCVBUF; a warning says when the kernel gives less)" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct sflow_in, batch_size),
      .def = "1024", .min = "1", .max = "65536", .unit = "rows",
      .doc = "rows per emitted batch, per port (a batch also leaves every 100 ms when the "
             "socket is idle)" },
    { .name = "counter_rates", .type = FL_OPT_BOOL,
      .offset = offsetof(struct sflow_in, counter_rates), .def = "false",
      .doc = "add a <counter>_rate column (per second, f64) for every counter of port "
             "counters: its growth since the same source's previous sample over the agent's "
             "uptime growth; 32- and 64-bit wraps are taken as wraps, an agent restart "
             "(uptime or sequence number going back) starts the baseline again" },
    { .name = "max_sources", .type = FL_OPT_UINT,
      .offset = offsetof(struct sflow_in, max_sources), .def = "65536", .min = "1",
      .max = "16777216",
      .doc = "agents, sub-agents and sample sources whose sequence numbers (and counter "
             "rates) are followed; beyond, new ones are counted as sources_untracked" },
    { 0 }
};

/* The sources: sockets or files (plugins/lib/collect). */
static struct fl_sources sflow_sources(const struct sflow_in *st)
{
    return (struct fl_sources){ .listen = &st->listen, .paths = &st->paths,
                                .dflt = "udp://[::]:6343", .port = SFLOW_PORT, .udp_only = true };
}

static const char *const sflow_ports[] = { "out", "counters", NULL };

static int sflow_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                          size_t n_in, struct fl_schema_decl *const *out)
{
    struct sflow_in *st = state;
    const struct fl_sources src = sflow_sources(st);
    int rc, prc;
    (void)in;
    (void)n_in;

    rc = fl_sources_check(ctx, &src);
    if ((prc = sflow_flow_schema_of(ctx, &out[0]->schema)) < 0 ||
        (prc = sflow_counter_schema(ctx, st->counter_rates, &out[1]->schema)) < 0)
        return prc;
    return rc;
}

static int sflow_init(struct fl_ctx *ctx, void *state)
{
    struct sflow_in *st = state;
    const struct fl_sources src = sflow_sources(st);
    int rc;

    if (!st->paths.n && (rc = fl_sources_endpoints(ctx, &src, &st->eps, &st->n_eps)) < 0)
        return rc;
    return sflow_dec_init(&st->dec, ctx, (uint32_t)st->batch_size, st->counter_rates,
                          (size_t)st->max_sources);
}

static int on_msg(void *user, const struct fl_net_msg *m)
{
    struct sflow_in *st = user;
    return sflow_dec_datagram(&st->dec, m->data, m->len, &m->from, m->ts_ns);
}

static int on_tick(void *user, uint64_t now)
{
    struct sflow_in *st = user;
    (void)now;
    sflow_dec_report(&st->dec);
    return sflow_dec_flush(&st->dec);
}

static int sflow_run_sockets(struct fl_ctx *ctx, struct sflow_in *st)
{
    struct fl_netin_opts o = {
        .rcvbuf = st->rcvbuf, .on_msg = on_msg, .on_tick = on_tick, .user = st,
    };
    struct fl_netin *in;
    int rc;

    if ((rc = fl_netin_open(ctx, st->eps, st->n_eps, &o, sizeof o, &in)) < 0)
        return rc;
    for (size_t i = 0; i < st->n_eps; i++)
        FL_LOG_INFO(ctx, "collecting on %s (port %u)", st->eps[i].text, fl_netin_port(in, i));
    rc = fl_netin_run(in);
    fl_netin_close(&in);
    return rc;
}

static int sflow_run(struct fl_ctx *ctx, void *state)
{
    struct sflow_in *st = state;
    char **files, err[512];
    size_t n;
    int rc;

    if (!st->paths.n)
        rc = sflow_run_sockets(ctx, st);
    else if ((rc = fl_files(&st->paths, &files, &n, err, sizeof err)) < 0)
        FL_LOG_ERROR(ctx, "%s", err);
    else {
        for (size_t i = 0; i < n && rc == 0 && !fl_stopping(ctx); i++)
            rc = sflow_file_read(&st->dec, files[i]);
        fl_files_free(files, n);
    }
    if (rc == 0)
        rc = sflow_dec_flush(&st->dec);
    sflow_dec_report(&st->dec);
    return rc;
}

static void sflow_fini(struct fl_ctx *ctx, void *state)
{
    struct sflow_in *st = state;
    (void)ctx;
    sflow_dec_fini(&st->dec);
    free(st->eps);
    st->eps = NULL;
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_INPUT,
    .name = "sflow",
    .version = "1.0",
    .summary = "sFlow v5 flow samples (decoded headers) and counter samples from agents or files",
    .opts = sflow_opts,
    .ports = sflow_ports,
    .state_size = sizeof(struct sflow_in),
    .describe = sflow_describe,
    .init = sflow_init,
    .run = sflow_run,
    .fini = sflow_fini,
    .flags = FL_PLUGIN_INSTANCES,   /* listen: with SO_REUSEPORT */
);
