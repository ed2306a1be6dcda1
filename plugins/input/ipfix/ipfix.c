/* ipfix.c: input.ipfix, an IPFIX (RFC 7011) and NetFlow v9 (RFC 3954)
 * collector. Messages come from the sockets of `listen` (through the core's
 * network layer: UDP, and TCP for IPFIX) or from the files of `path`
 * (ipfix_file.c); ipfix_msg.c validates and decodes them, ipfix_tmpl.c
 * keeps the templates. Flow records leave on port "out", options data
 * records (sampling, interface names, ...) on port "options", as batches
 * per template whose columns carry the field registry's names. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/log.h>
#include "fl_collect.h"
#include "fl_files.h"
#include "ipfix_int.h"

#define IPFIX_PORT 4739

struct ipfix_in {
    /* options */
    struct fl_strlist listen;
    struct fl_strlist paths;
    uint64_t rcvbuf;
    uint64_t batch_size;
    uint64_t template_timeout;
    uint64_t max_templates;
    char *template_file;
    /* run time */
    struct fl_endpoint *eps;
    size_t n_eps;
    struct ipfix_dec dec;
    uint64_t last_save;
};

static const struct fl_opt ipfix_opts[] = {
    { .name = "listen", .type = FL_OPT_LIST, .offset = offsetof(struct ipfix_in, listen),
      .doc = "endpoints to collect on, one or a list: udp://[::]:4739 (IPv4 exporters too), "
             "tcp://0.0.0.0:4739 (IPFIX over TCP, several exporters at once), "
             "udp://239.1.1.1:2055 (a multicast group, joined); default udp://[::]:4739 "
             "when no path is given" },
    { .name = "path", .type = FL_OPT_PATHS, .offset = offsetof(struct ipfix_in, paths),
      .doc = "files to read instead, in order, templates carried from one to the next: a "
             "file, a glob, a folder or a list. IPFIX files (RFC 5655), raw NetFlow v9 "
             "datagrams, and pcap/pcapng captures of exporter traffic (every UDP payload, "
             "the exporter being the IP source)" },
    { .name = "rcvbuf", .type = FL_OPT_SIZE, .offset = offsetof(struct ipfix_in, rcvbuf),
      .def = "8MiB", .unit = "bytes",
      .doc = "socket receive buffer (SO_RCVBUF; a warning says when the kernel gives less)" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct ipfix_in, batch_size),
      .def = "1024", .min = "1", .max = "65536", .unit = "rows",
      .doc = "records per emitted batch (a batch also leaves every 100 ms when the "
             "socket is idle)" },
    { .name = "template_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct ipfix_in, template_timeout), .def = "30m",
      .doc = "UDP: a template not refreshed for this long is forgotten (RFC 7011 §8.4); "
             "0 = never" },
    { .name = "template_file", .type = FL_OPT_PATH,
      .offset = offsetof(struct ipfix_in, template_file),
      .doc = "keep the templates of UDP and file exporters in this file: written (atomically) "
             "when they change, loaded at start, so a restarted collector decodes data that "
             "arrives before the exporters send their templates again" },
    { .name = "max_templates", .type = FL_OPT_UINT,
      .offset = offsetof(struct ipfix_in, max_templates), .def = "1024", .min = "1",
      .max = "65536",
      .doc = "templates kept per exporter and observation domain; beyond, the least "
             "recently used goes (template_evicted)" },
    { 0 }
};

/* The sources: sockets or files (plugins/lib/collect). */
static struct fl_sources ipfix_sources(const struct ipfix_in *st)
{
    return (struct fl_sources){ .listen = &st->listen, .paths = &st->paths,
                                .dflt = "udp://[::]:4739", .port = IPFIX_PORT, .udp_only = false };
}

static const char *const ipfix_ports[] = { "out", "options", NULL };

static int ipfix_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                          size_t n_in, struct fl_schema_decl *const *out)
{
    struct ipfix_in *st = state;
    const struct fl_sources src = ipfix_sources(st);
    int rc, prc;
    (void)in;
    (void)n_in;

    rc = fl_sources_check(ctx, &src);
    if (st->template_file &&
        (prc = fl_path_declare(ctx, "template_file", st->template_file,
                               FL_PATH_WRITE | FL_PATH_KEEPS_EXISTING)) < 0)
        rc = prc;
    /* Columns follow the exporters' templates: known at run time. */
    out[0]->schema = NULL;
    out[1]->schema = NULL;
    return rc;
}

static int ipfix_init(struct fl_ctx *ctx, void *state)
{
    struct ipfix_in *st = state;
    const struct fl_sources src = ipfix_sources(st);
    int rc;

    if (!st->paths.n && (rc = fl_sources_endpoints(ctx, &src, &st->eps, &st->n_eps)) < 0)
        return rc;
    return ipfix_dec_init(&st->dec, ctx, (uint32_t)st->batch_size, (uint32_t)st->max_templates,
                          st->template_timeout);
}

/* ---- sockets --------------------------------------------------------------- */

/* IPFIX over TCP: the message length is bytes 2-3 of its header. */
static long ipfix_frame(const uint8_t *p, size_t n)
{
    (void)n;
    if (p[0] != 0 || p[1] != IPFIX_VERSION)
        return -1;
    return (long)(p[2] << 8 | p[3]);
}

static int on_msg(void *user, const struct fl_net_msg *m)
{
    struct ipfix_in *st = user;
    return ipfix_dec_message(&st->dec, m->data, m->len, &m->from, m->session, m->ts_ns,
                             m->session == 0);
}

/* Save the templates when they changed, at most once a second. */
static int save_templates(struct ipfix_in *st, uint64_t now, bool final)
{
    if (!st->template_file || !st->dec.templates_changed ||
        (!final && now < st->last_save + 1000000000ull))
        return 0;
    st->last_save = now;
    return ipfix_templates_save(&st->dec, st->template_file);
}

static int on_tick(void *user, uint64_t now)
{
    struct ipfix_in *st = user;
    ipfix_dec_report(&st->dec);
    save_templates(st, now, false);     /* a failed write is logged; collection goes on */
    return ipfix_dec_flush(&st->dec);
}

static void on_close(void *user, uint32_t session)
{
    struct ipfix_in *st = user;
    ipfix_dec_flush(&st->dec);
    ipfix_dec_summary(&st->dec, session);
    ipfix_dec_session_end(&st->dec, session);
}

static int ipfix_run_sockets(struct fl_ctx *ctx, struct ipfix_in *st)
{
    struct fl_netin_opts o = {
        .rcvbuf = st->rcvbuf, .frame_hdr = 4, .frame_len = ipfix_frame,
        .on_msg = on_msg, .on_tick = on_tick, .on_close = on_close, .user = st,
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

static int ipfix_run(struct fl_ctx *ctx, void *state)
{
    struct ipfix_in *st = state;
    char **files, err[512];
    size_t n;
    int rc;

    if (st->template_file && (rc = ipfix_templates_load(&st->dec, st->template_file)) < 0)
        return rc;
    if (!st->paths.n)
        rc = ipfix_run_sockets(ctx, st);
    else if ((rc = fl_files(&st->paths, &files, &n, err, sizeof err)) < 0)
        FL_LOG_ERROR(ctx, "%s", err);
    else {
        for (size_t i = 0; i < n && rc == 0 && !fl_stopping(ctx); i++)
            rc = ipfix_file_read(&st->dec, files[i]);
        fl_files_free(files, n);
    }
    if (rc == 0)
        rc = ipfix_dec_flush(&st->dec);
    if (rc == 0)
        rc = save_templates(st, fl_now_ns(), true);
    ipfix_dec_report(&st->dec);
    ipfix_dec_summary(&st->dec, -1);
    return rc;
}

static void ipfix_fini(struct fl_ctx *ctx, void *state)
{
    struct ipfix_in *st = state;
    (void)ctx;
    ipfix_dec_fini(&st->dec);
    free(st->eps);
    st->eps = NULL;
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_INPUT,
    .name = "ipfix",
    .version = "1.0",
    .summary = "IPFIX and NetFlow v9 records from exporters (UDP, TCP) or files",
    .opts = ipfix_opts,
    .ports = ipfix_ports,
    .state_size = sizeof(struct ipfix_in),
    .describe = ipfix_describe,
    .init = ipfix_init,
    .run = ipfix_run,
    .fini = ipfix_fini,
    .flags = FL_PLUGIN_INSTANCES,   /* listen: with SO_REUSEPORT */
);
