/* pcap_lib.c: input.pcap's libpcap readers: files the mmap reader leaves
 * (pcapng, gzip'd captures through pcap_gz.c, anything odd) and live
 * interfaces. Timestamps are asked for in nanoseconds; records go through
 * the same decoder and batch output as the mmap reader's.
 *
 * A live capture is non-blocking and polled with a 100 ms timeout, so the
 * loop sees fl_stopping() and sends a watermark at least that often while
 * the interface is quiet; a partial batch goes out as soon as the kernel
 * has nothing more, so a slow link is not held back by batching. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "pcap_int.h"

#define PCAP_LIVE_POLL_MS 100

struct pcap_lib_run {
    struct pcap_out *o;
    const struct pcap_filter *flt;      /* files: user-space filter */
    int dlt;
    uint64_t mult;
    int64_t classic_unit;   /* classic pcap file: ns per fraction unit; 0 = other */
};

/* The classic format's time fields are unsigned 32-bit (so files work past
 * 2038), but libpcap reads those of a native-order file as signed and
 * sign-extends them (and scales microseconds to nanoseconds after that).
 * Undo it, so both readers give the same time for any field value. */
static void pcap_lib_unsign(const struct pcap_lib_run *r, int64_t *sec, int64_t *frac)
{
    if (!r->classic_unit)
        return;
    if (*sec < 0)
        *sec += (int64_t)1 << 32;
    if (*frac < 0)
        *frac += ((int64_t)1 << 32) * r->classic_unit;
}

static void pcap_lib_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct pcap_lib_run *r = (struct pcap_lib_run *)user;
    int64_t sec = h->ts.tv_sec, frac = h->ts.tv_usec;

    r->o->read++;
    if (r->flt->on && !pcap_filter_pass(r->flt, data, h->caplen, h->len)) {
        r->o->rejected++;
        return;
    }
    if (__builtin_expect(sec < 0 || frac < 0, 0))
        pcap_lib_unsign(r, &sec, &frac);
    fl_decode(r->o->st->dec, r->dlt, pcap_ts((uint64_t)sec, (uint64_t)frac, r->mult),
              data, h->caplen, h->len, r->o->b);
}

/* ns per timestamp fraction unit of a classic pcap file from its magic;
 * 0 for anything else (pcapng). */
static int64_t pcap_lib_classic_unit(const uint8_t m[4])
{
    uint32_t magic = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    switch (magic) {
    case 0xa1b2c3d4: case 0xd4c3b2a1: return 1000;
    case 0xa1b23c4d: case 0x4d3cb2a1: return 1;
    default: return 0;
    }
}

/* What a libpcap read error means for the counters: the end of a file cut
 * short, or a record libpcap refuses (its messages say which). */
static void pcap_lib_read_error(struct pcap_in *st, struct fl_ctx *ctx, pcap_t *p)
{
    const char *msg = pcap_geterr(p);

    if (strstr(msg, "truncated") || strstr(msg, "cut short"))
        fl_counter_add(ctx, "truncated_record", 1);
    else
        fl_counter_add(ctx, "bad_record", 1);
    FL_LOG_WARN(ctx, "%s: %s: the rest of the file is skipped", st->path, msg);
}

/* Open st->path for libpcap: standard input, a gzip'd file through
 * pcap_gz.c or the file itself. *total: its size (0 = unknown); *gz_done:
 * the compressed bytes read so far, for progress (NULL: use the FILE's
 * position). Logs and returns a negative code on failure. */
static int pcap_lib_open(struct pcap_in *st, struct fl_ctx *ctx, pcap_t **out, uint64_t *total,
                         uint64_t **gz_done, int64_t *classic_unit)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    uint8_t magic[4] = {0, 0, 0, 0};
    struct stat sb;
    bool regular;
    FILE *fp;
    int rc;

    *total = 0;
    *gz_done = NULL;
    if (strcmp(st->path, "-") == 0) {   /* standard input: plain or gzip'd */
        int fd = dup(STDIN_FILENO);
        fp = fd < 0 ? NULL : pcap_gz_open(NULL, fd, gz_done, magic);
    } else {
        fp = fopen(st->path, "rb");
    }
    if (!fp) {
        rc = errno == ENOENT ? -FL_ENOENT : -FL_EIO;
        FL_LOG_ERROR(ctx, "cannot open %s: %s", st->path, strerror(errno));
        return rc;
    }
    regular = fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode);
    if (regular)
        *total = (uint64_t)sb.st_size;
    /* Peek at the magic only where the stream can go back: a pipe goes to
     * libpcap untouched (so it cannot be gzip'd). */
    if (regular && fread(magic, 1, 4, fp) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        fclose(fp);
        fp = pcap_gz_open(st->path, -1, gz_done, magic);
        if (!fp) {
            FL_LOG_ERROR(ctx, "%s: %s", st->path, errno == ENOTSUP
                         ? "gzip-compressed, and this flowline was built without zlib"
                         : strerror(errno));
            return -FL_EIO;
        }
    } else if (regular) {
        rewind(fp);
    }
    *classic_unit = pcap_lib_classic_unit(magic);
    *out = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!*out) {
        fclose(fp);
        FL_LOG_ERROR(ctx, "%s is not a capture file flowline can read: %s", st->path, err);
        return -FL_EPROTO;
    }
    return 0;
}

int pcap_lib_file_run(struct pcap_in *st, struct fl_ctx *ctx)
{
    struct pcap_out o = { .ctx = ctx, .st = st, .cap = (uint32_t)st->batch_size };
    struct pcap_filter flt;
    struct pcap_lib_run r = { .o = &o, .flt = &flt };
    uint64_t *gz_done = NULL, total = 0;
    pcap_t *p = NULL;
    int rc;

    memset(&flt, 0, sizeof flt);
    if ((rc = pcap_lib_open(st, ctx, &p, &total, &gz_done, &r.classic_unit)) < 0)
        return rc;
    r.dlt = pcap_datalink(p);
    r.mult = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    if ((rc = pcap_filter_init(&flt, st, ctx, r.dlt, (uint32_t)pcap_snapshot(p))) < 0)
        goto out;

    for (;;) {
        bool final;
        int n;
        uint64_t done;
        if ((rc = pcap_out_ready(&o)) < 0)
            goto out;
        /* At most the batch's free rows: each record adds at most one. */
        n = pcap_dispatch(p, (int)(o.b->cap - o.b->rows), pcap_lib_packet, (u_char *)&r);
        if (n == PCAP_ERROR)
            pcap_lib_read_error(st, ctx, p);
        final = n <= 0 || fl_stopping(ctx);
        if (gz_done)
            done = *gz_done;
        else {
            long pos = ftell(pcap_file(p));
            done = pos > 0 ? (uint64_t)pos : 0;
        }
        if ((rc = pcap_out_report(&o, done, total, final)) < 0)
            goto out;
        if (final)
            break;
    }
    rc = 0;
out:
    pcap_out_fini(&o);
    pcap_filter_fini(&flt);
    pcap_close(p);   /* closes fp (and the gzip stream behind it) */
    return rc;
}

/* libpcap's status as text: its message when it left one, else the code's. */
static const char *pcap_lib_status(pcap_t *p, int status)
{
    const char *msg = pcap_geterr(p);
    return msg && *msg ? msg : pcap_statustostr(status);
}

int pcap_lib_live_run(struct pcap_in *st, struct fl_ctx *ctx)
{
    struct pcap_out o = { .ctx = ctx, .st = st, .cap = (uint32_t)st->batch_size };
    struct pcap_filter flt;
    struct pcap_lib_run r = { .o = &o, .flt = &flt };
    char err[PCAP_ERRBUF_SIZE] = "";
    struct bpf_program prog;
    struct pcap_stat ps;
    struct pollfd pfd;
    pcap_t *p;
    int rc, status;

    memset(&flt, 0, sizeof flt);   /* the kernel filters a live capture */
    p = pcap_create(st->interface, err);
    if (!p) {
        FL_LOG_ERROR(ctx, "interface %s: %s", st->interface, err);
        return -FL_EIO;
    }
    pcap_set_snaplen(p, (int)st->snaplen);
    pcap_set_promisc(p, st->promiscuous);
    pcap_set_timeout(p, PCAP_LIVE_POLL_MS);
    if (st->buffer_size)
        pcap_set_buffer_size(p, st->buffer_size > 0x7fffffff ? 0x7fffffff : (int)st->buffer_size);
    /* Nanoseconds where the platform has them; r.mult follows what we got. */
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    status = pcap_activate(p);
    if (status < 0) {
        FL_LOG_ERROR(ctx, "cannot capture on %s: %s (%s)", st->interface,
                     pcap_lib_status(p, status), pcap_statustostr(status));
        rc = status == PCAP_ERROR_NO_SUCH_DEVICE ? -FL_ENOENT : -FL_EIO;
        pcap_close(p);
        return rc;
    }
    if (status > 0)
        FL_LOG_WARN(ctx, "capture on %s: %s", st->interface, pcap_lib_status(p, status));
    r.dlt = pcap_datalink(p);
    r.mult = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    if (st->bpf && *st->bpf) {
        if (pcap_compile(p, &prog, st->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
            pcap_setfilter(p, &prog) < 0) {
            FL_LOG_ERROR(ctx, "bpf \"%s\" on %s: %s", st->bpf, st->interface, pcap_geterr(p));
            rc = -FL_EINVAL;
            goto out;
        }
        pcap_freecode(&prog);
    }
    if (pcap_setnonblock(p, 1, err) < 0) {
        FL_LOG_ERROR(ctx, "interface %s: %s", st->interface, err);
        rc = -FL_EIO;
        goto out;
    }
    pfd.fd = pcap_get_selectable_fd(p);
    pfd.events = POLLIN;
    FL_LOG_INFO(ctx, "capturing on %s (%s)", st->interface,
                pcap_datalink_val_to_name(r.dlt) ? pcap_datalink_val_to_name(r.dlt) : "?");

    rc = 0;
    while (!fl_stopping(ctx)) {
        int n;
        if ((rc = pcap_out_ready(&o)) < 0)
            break;
        n = pcap_dispatch(p, (int)(o.b->cap - o.b->rows), pcap_lib_packet, (u_char *)&r);
        if (n == PCAP_ERROR) {
            FL_LOG_ERROR(ctx, "capture on %s failed: %s", st->interface, pcap_geterr(p));
            rc = -FL_EIO;
            break;
        }
        if (n == PCAP_ERROR_BREAK)
            break;
        if (n > 0 && o.b->rows < o.b->cap)
            continue;                   /* more may be waiting: fill the batch */
        /* Full, or the kernel has nothing more: send what there is. */
        if ((rc = pcap_out_report(&o, 0, 0, true)) < 0)
            break;
        if (n == 0) {
            fl_watermark(ctx, fl_now_ns());
            if (pfd.fd >= 0)
                poll(&pfd, 1, PCAP_LIVE_POLL_MS);
        }
    }
    pcap_out_report(&o, 0, 0, true);
    if (pcap_stats(p, &ps) == 0) {
        fl_counter_add(ctx, "kernel_drops", ps.ps_drop);
        if (ps.ps_ifdrop)
            fl_counter_add(ctx, "interface_drops", ps.ps_ifdrop);
        if (ps.ps_drop)
            FL_LOG_WARN(ctx, "%s: the kernel dropped %u packets (buffer_size may help)",
                        st->interface, ps.ps_drop);
    }
out:
    pcap_out_fini(&o);
    pcap_close(p);
    return rc;
}

/* ---- several files merged by time (merge: true) -------------------------- */
struct pcap_merge_src {
    pcap_t *p;
    const char *path;
    struct pcap_filter flt;
    struct pcap_lib_run r;
    uint64_t *gz_done;
    struct pcap_pkthdr *h;     /* the next record, or NULL at the end */
    const u_char *data;
    uint64_t ts;
};

/* The next record of s (its time in s->ts), or the end (s->h = NULL). */
static void pcap_merge_next(struct pcap_merge_src *s, struct pcap_in *st, struct fl_ctx *ctx)
{
    int rc = pcap_next_ex(s->p, &s->h, &s->data);
    if (rc == 1) {
        int64_t sec = s->h->ts.tv_sec, frac = s->h->ts.tv_usec;
        if (sec < 0 || frac < 0)
            pcap_lib_unsign(&s->r, &sec, &frac);
        s->ts = pcap_ts((uint64_t)sec, (uint64_t)frac, s->r.mult);
        return;
    }
    if (rc == PCAP_ERROR) {
        st->path = s->path;
        pcap_lib_read_error(st, ctx, s->p);
    }
    s->h = NULL;
}

int pcap_lib_merge_run(struct pcap_in *st, struct fl_ctx *ctx, char **files, size_t n)
{
    struct pcap_out o = { .ctx = ctx, .st = st, .cap = (uint32_t)st->batch_size };
    struct pcap_merge_src *src = calloc(n, sizeof(*src));
    uint64_t size;
    int rc = src ? 0 : -FL_ENOMEM;

    for (size_t i = 0; i < n && rc == 0; i++) {
        struct pcap_merge_src *s = &src[i];
        st->path = s->path = files[i];
        s->r = (struct pcap_lib_run){ .o = &o, .flt = &s->flt };
        if ((rc = pcap_lib_open(st, ctx, &s->p, &size, &s->gz_done, &s->r.classic_unit)) < 0)
            break;
        s->r.dlt = pcap_datalink(s->p);
        s->r.mult = pcap_get_tstamp_precision(s->p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
        if ((rc = pcap_filter_init(&s->flt, st, ctx, s->r.dlt, (uint32_t)pcap_snapshot(s->p))) < 0)
            break;
        pcap_merge_next(s, st, ctx);
    }
    /* Always the earliest pending record of all files: a linear scan, as
     * the files are few (captures of a handful of links). */
    while (rc == 0) {
        struct pcap_merge_src *first = NULL;
        for (size_t i = 0; i < n; i++)
            if (src[i].h && (!first || src[i].ts < first->ts))
                first = &src[i];
        bool final = !first || fl_stopping(ctx);
        if (!final && (rc = pcap_out_ready(&o)) < 0)
            break;
        if (!final) {
            pcap_lib_packet((u_char *)&first->r, first->h, first->data);
            pcap_merge_next(first, st, ctx);
            if (o.b->rows < o.b->cap)
                continue;
        }
        uint64_t done = 0;
        for (size_t i = 0; i < n; i++) {
            long pos = src[i].gz_done ? (long)*src[i].gz_done : ftell(pcap_file(src[i].p));
            done += pos > 0 ? (uint64_t)pos : 0;
        }
        if ((rc = pcap_out_report(&o, done, st->files_total, final)) < 0 || final)
            break;
    }
    pcap_out_fini(&o);
    for (size_t i = 0; src && i < n; i++) {
        pcap_filter_fini(&src[i].flt);
        if (src[i].p)
            pcap_close(src[i].p);
    }
    free(src);
    return rc;
}
