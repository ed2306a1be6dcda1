/* pcap.c: input.pcap, packets from a capture file or a live interface,
 * decoded by the core's packet decoder into packet batches (DESIGN.md §2,
 * §8). This file holds the options, the plugin callbacks, the choice of
 * reader, the batch output the readers share and the BPF filter. Reading is
 * elsewhere: pcap_classic.c (classic pcap files, the fast path), pcap_ng.c
 * (pcapng files), pcap_lib.c (libpcap: gzip, pipes, live), pcap_gz.c (the gzip stream). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "pcap_int.h"

static const char *const pcap_readers[] = { "auto", "own", "libpcap", "mmap", NULL };
static const char *const pcap_tunnels[] = { "gre", "vxlan", "geneve", "gtp", "erspan", "teredo",
                                            "ayiya", "ipip", "gre_udp", NULL };
static const char *const pcap_udp_tunnels[] = { "vxlan", "geneve", "gtp", "teredo", "ayiya",
                                                "gre_udp", NULL };

static const struct fl_opt pcap_opts[] = {
    { .name = "path", .type = FL_OPT_PATHS, .offset = offsetof(struct pcap_in, paths),
      .doc = "capture files to read, one after the other as one stream: a file, a glob "
             "(*.pcap), a folder (its files), or a list of them, in name order; - = "
             "standard input. Classic pcap (either byte order, micro- or nanosecond), "
             "pcapng, or either of them gzip'd" },
    { .name = "merge", .type = FL_OPT_BOOL, .offset = offsetof(struct pcap_in, merge),
      .def = "false",
      .doc = "several files: merge their packets by timestamp (captures of several links "
             "taken at the same time) instead of reading them one after the other" },
    { .name = "interface", .type = FL_OPT_STRING, .offset = offsetof(struct pcap_in, interface),
      .doc = "network interface to capture from live (needs CAP_NET_RAW); instead of path" },
    { .name = "bpf", .type = FL_OPT_STRING, .offset = offsetof(struct pcap_in, bpf),
      .doc = "capture filter in tcpdump syntax (pcap-filter(7)); applies to files too" },
    { .name = "snaplen", .type = FL_OPT_UINT, .offset = offsetof(struct pcap_in, snaplen),
      .def = "262144", .min = "64", .max = "262144", .unit = "bytes",
      .doc = "bytes captured per packet on a live interface" },
    { .name = "promiscuous", .type = FL_OPT_BOOL,
      .offset = offsetof(struct pcap_in, promiscuous), .def = "true",
      .doc = "put a live interface into promiscuous mode" },
    { .name = "batch_size", .type = FL_OPT_UINT, .offset = offsetof(struct pcap_in, batch_size),
      .def = "8192", .min = "1", .max = "65536", .unit = "rows",
      .doc = "packets per emitted batch at most (a live capture sends what the kernel has "
             "without waiting to fill one)" },
    { .name = "decap", .type = FL_OPT_LIST, .offset = offsetof(struct pcap_in, decap),
      .def = "false", .choices = pcap_tunnels, .flags = FL_OPT_ALL_NONE,
      .doc = "describe the inner packet of these tunnels instead of the outer one: true "
             "(all), false, or a list of kinds (docs/decoder.md, Tunnels)" },
    { .name = "decap_ports", .type = FL_OPT_MAP,
      .offset = offsetof(struct pcap_in, decap_ports), .choices = pcap_udp_tunnels,
      .doc = "UDP ports per tunnel kind instead of its standard one, e.g. {vxlan: [4789, "
             "8472]} (vxlan 4789, geneve 6081, gtp 2152, teredo 3544, ayiya 5072, "
             "gre_udp 4754)" },
    { .name = "decap_depth", .type = FL_OPT_UINT, .offset = offsetof(struct pcap_in, decap_depth),
      .def = "4", .min = "1", .max = "16", .unit = "tunnels",
      .doc = "tunnels nested in one packet that decap opens at most; deeper ones stay "
             "the packet (counted as decap_fallback)" },
    { .name = "tunnel_columns", .type = FL_OPT_BOOL,
      .offset = offsetof(struct pcap_in, tunnel_columns), .def = "false",
      .doc = "add the columns tunnel (outermost tunnel kind) and tunnel_id (VNI, TEID, "
             "ERSPAN session, GRE key) after the packet columns" },
    { .name = "buffer_size", .type = FL_OPT_SIZE, .offset = offsetof(struct pcap_in, buffer_size),
      .def = "0", .unit = "bytes",
      .doc = "kernel buffer of a live capture; 0 = libpcap's default (2 MiB)" },
    { .name = "reader", .type = FL_OPT_ENUM, .offset = offsetof(struct pcap_in, reader),
      .def = "auto", .choices = pcap_readers,
      .doc = "how files are read: auto = flowline's own readers for classic pcap and "
             "pcapng, libpcap for the rest (gzip, pipes); own or libpcap to force one "
             "(mmap: the former name of own)" },
    { 0 }
};

/* ---- batch output ------------------------------------------------------ */

int pcap_out_ready(struct pcap_out *o)
{
    if (o->b)
        return 0;
    return fl_batch_new(o->ctx, o->iface ? o->st->schema_if : o->st->schema, o->cap, &o->b);
}

int pcap_out_report(struct pcap_out *o, uint64_t done, uint64_t total, bool final)
{
    int rc = 0;

    fl_decoder_flush(o->st->dec, o->ctx);
    if (o->read)
        fl_counter_add(o->ctx, "packets_read", o->read);
    if (o->rejected)
        fl_counter_add(o->ctx, "bpf_rejected", o->rejected);
    o->read = o->rejected = 0;
    if (total)   /* the files before this one count too */
        fl_progress(o->ctx, o->st->files_done + done,
                    o->st->files_total ? o->st->files_total : total);
    /* An empty batch is kept for the next rows (pcap_out_fini frees it);
     * so is a full one whose rows went out as a copy (fl_emit_keep). */
    if (o->b && o->b->rows && (final || o->b->rows >= o->b->cap))
        rc = fl_emit_keep(o->ctx, &o->b);
    return rc;
}

void pcap_out_fini(struct pcap_out *o)
{
    fl_batch_release(&o->b);
}

/* ---- BPF --------------------------------------------------------------- */

int pcap_filter_init(struct pcap_filter *f, struct pcap_in *st, struct fl_ctx *ctx, int dlt,
                     uint32_t snaplen)
{
    pcap_t *dead;
    int rc = 0;

    memset(f, 0, sizeof *f);
    if (!st->bpf || !*st->bpf)
        return 0;
    dead = pcap_open_dead(dlt, (int)snaplen);
    if (!dead)
        return -FL_ENOMEM;
    if (pcap_compile(dead, &f->prog, st->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        FL_LOG_ERROR(ctx, "bpf \"%s\" does not compile for link type %s: %s", st->bpf,
                     pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?",
                     pcap_geterr(dead));
        rc = -FL_EINVAL;
        goto out;
    }
    f->on = true;
out:
    pcap_close(dead);
    return rc;
}

bool pcap_filter_pass(const struct pcap_filter *f, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen)
{
    struct pcap_pkthdr h;

    if (!f->on)
        return true;
    memset(&h.ts, 0, sizeof h.ts);
    h.caplen = caplen;
    h.len = wirelen;
    return pcap_offline_filter(&f->prog, &h, data) != 0;
}

void pcap_filter_fini(struct pcap_filter *f)
{
    if (f->on)
        pcap_freecode(&f->prog);
    f->on = false;
}

/* ---- callbacks --------------------------------------------------------- */

/* The decoder's schema (packet columns, then tunnel and tunnel_id when
 * asked), and the same with `interface` last (for
 * files that describe several capture interfaces). */
static int pcap_schemas(struct fl_ctx *ctx, struct pcap_in *st, const struct fl_decoder_opts *o)
{
    struct fl_col_def cols[64];
    uint32_t n;
    int rc;

    if ((rc = fl_decoder_schema(ctx, o, sizeof(*o), &st->schema)) < 0)
        return rc;
    n = st->schema->ncols;
    if (n >= sizeof(cols) / sizeof(cols[0]))
        return -FL_ERANGE;
    for (uint32_t i = 0; i < n; i++)
        cols[i] = (struct fl_col_def){ st->schema->cols[i]->name, st->schema->cols[i]->type };
    cols[n] = (struct fl_col_def){ "interface", FL_T_U32 };
    return fl_schema_intern(ctx, cols, n + 1, sizeof(cols[0]), &st->schema_if);
}

static int pcap_in_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                         size_t n_in, struct fl_schema_decl *const *out)
{
    struct pcap_in *st = state;
    bool file = st->paths.n > 0, live = st->interface && *st->interface;
    int rc = 0, prc;

    if (file && live)
        rc = fl_diag(ctx, "interface", "give either path (a capture file) or interface "
                     "(live capture), not both");
    else if (!file && !live)
        rc = fl_diag(ctx, NULL, "input.pcap needs path (a capture file) or interface "
                     "(a live interface)");
    if (st->reader == PCAP_READER_MMAP)
        st->reader = PCAP_READER_OWN;
    if (live && fl_opt_given(ctx, "reader"))
        rc = fl_diag(ctx, "reader", "reader applies to files; a live interface is read "
                     "by libpcap");
    if (st->bpf && *st->bpf) {
        /* Syntax errors are caught at check time; Ethernet accepts every
         * primitive, the link type of a file is only known when it is read. */
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
        struct bpf_program prog;
        if (dead && pcap_compile(dead, &prog, st->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0)
            rc = fl_diag(ctx, "bpf", "bad filter \"%s\": %s", st->bpf, pcap_geterr(dead));
        else if (dead)
            pcap_freecode(&prog);
        if (dead)
            pcap_close(dead);
    }
    {
        struct fl_decoder_opts o;
        const char *opt;
        char err[256];
        if (pcap_decoder_opts(st, &o, err, sizeof(err), &opt) < 0)
            rc = fl_diag(ctx, opt, "option \"%s\": %s", opt, err);
        if ((prc = pcap_schemas(ctx, st, &o)) < 0)
            return prc;
    }
    out[0]->schema = st->schema;
    if (file) {
        char **files, err[512];
        size_t n;
        if (fl_files(&st->paths, &files, &n, err, sizeof(err)) < 0)
            rc = fl_diag(ctx, "path", "%s", err);
        for (size_t i = 0; i < n && rc >= 0; i++) {
            if ((prc = fl_path_declare(ctx, "path", files[i], FL_PATH_READ)) < 0)
                rc = prc;
            /* A pcapng file of several interfaces gives `interface` too. */
            if (st->reader != PCAP_READER_LIBPCAP && pcap_ng_peek_ifs(files[i]) > 1)
                out[0]->schema = st->schema_if;
        }
        fl_files_free(files, n);
    }
    return rc;
}

static int pcap_in_init(struct fl_ctx *ctx, void *state)
{
    struct pcap_in *st = state;
    struct fl_decoder_opts o;
    const char *opt;
    char err[256];
    int rc;

    if (pcap_decoder_opts(st, &o, err, sizeof(err), &opt) < 0) {
        FL_LOG_ERROR(ctx, "%s: %s", opt, err);
        return -FL_EINVAL;
    }
    if (!st->schema_if && (rc = pcap_schemas(ctx, st, &o)) < 0)
        return rc;
    return fl_decoder_new(&o, sizeof(o), &st->dec);
}

/* One file: the own readers for classic pcap and pcapng, else libpcap. */
static int pcap_in_file(struct fl_ctx *ctx, struct pcap_in *st)
{
    int rc;
    if (st->reader != PCAP_READER_LIBPCAP && strcmp(st->path, "-") != 0) {
        rc = pcap_classic_run(st, ctx);
        if (rc == PCAP_FALLBACK)
            rc = pcap_ng_run(st, ctx);
        if (rc != PCAP_FALLBACK)
            return rc;
        if (st->reader == PCAP_READER_OWN) {
            FL_LOG_ERROR(ctx, "%s: not an uncompressed pcap or pcapng file (reader: own "
                         "reads only those)", st->path);
            return -FL_EPROTO;
        }
    }
    return pcap_lib_file_run(st, ctx);
}

/* Every file `path` names, one after the other: one stream, one clock
 * (a later file's older packets are simply late for the stages after). */
static int pcap_in_run(struct fl_ctx *ctx, void *state)
{
    struct pcap_in *st = state;
    char **files, err[512];
    size_t n;
    int rc;

    if (st->interface && *st->interface)
        return pcap_lib_live_run(st, ctx);
    if ((rc = fl_files(&st->paths, &files, &n, err, sizeof(err))) < 0) {
        FL_LOG_ERROR(ctx, "%s", err);
        return rc;
    }
    st->files_total = st->files_done = 0;
    for (size_t i = 0; i < n && n > 1; i++) {
        struct stat sb;
        st->files_total += stat(files[i], &sb) == 0 ? (uint64_t)sb.st_size : 0;
    }
    if (st->merge && n > 1)
        rc = pcap_lib_merge_run(st, ctx, files, n);
    for (size_t i = 0; i < n && rc == 0 && !(st->merge && n > 1) && !fl_stopping(ctx); i++) {
        struct stat sb;
        st->path = files[i];
        rc = pcap_in_file(ctx, st);
        st->files_done += n > 1 && stat(files[i], &sb) == 0 ? (uint64_t)sb.st_size : 0;
    }
    st->path = NULL;
    fl_files_free(files, n);
    return rc;
}

static void pcap_in_fini(struct fl_ctx *ctx, void *state)
{
    struct pcap_in *st = state;
    fl_decoder_destroy(&st->dec);
}

FL_PLUGIN_DEFINE(
    .kind = FL_KIND_INPUT,
    .name = "pcap",
    .version = "1.0",
    .summary = "packets from a capture file (pcap, pcapng, gzip) or a live interface",
    .opts = pcap_opts,
    .state_size = sizeof(struct pcap_in),
    .describe = pcap_in_describe,
    .init = pcap_in_init,
    .run = pcap_in_run,
    .fini = pcap_in_fini,
);
