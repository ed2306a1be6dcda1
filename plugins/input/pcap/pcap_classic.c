/* pcap_classic.c: flowline's own reader of classic pcap files (DESIGN.md §8):
 * the records are walked in a window of the file (pcap_win.c) straight
 * into the decoder, with no call per packet beyond fl_decode(). It reads both
 * byte orders and both timestamp resolutions (magic a1b2c3d4: microseconds,
 * a1b23c4d: nanoseconds) and treats odd records the way libpcap does, so
 * the two readers give identical batches: the lengths of files older than
 * version 2.3 are swapped back, a record longer than the file's snaplen is
 * cut to it, one longer than libpcap's maximum ends the file (counted
 * "bad_record"), as does a record cut short by the end of the file
 * ("truncated_record").
 *
 * Anything else (pcapng, gzip, pipes, other versions) is left to libpcap
 * (pcap_lib.c) by returning PCAP_FALLBACK before doing anything. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pcap_int.h"

#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR 16u

/* The file header, decoded. */
struct pcap_classic_file {
    bool swap;              /* byte order differs from the host's */
    uint32_t mult;          /* ns per timestamp fraction unit */
    uint32_t linktype;
    uint32_t snap;          /* records longer are cut to this */
    uint32_t max;           /* records longer end the file */
    int lengths;            /* 0 as written, 1 swapped, 2 swapped if caplen > len */
};

/* Where the walk stopped, beside the window's own position. */
struct pcap_classic_state {
    struct pcap_win win;
    size_t need;            /* !eof && !bad: bytes the next record needs */
    bool eof, truncated, bad;
    uint32_t bad_caplen;
};

static inline uint32_t pcap_classic_u32(const uint8_t *p, bool swap)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return swap ? __builtin_bswap32(v) : v;
}

/* The largest record libpcap accepts for a link type (its
 * max_snaplen_for_dlt): 256 KiB but for D-Bus (128 MiB), EBHSCR (8 MiB)
 * and USBPcap (1 MiB). */
uint32_t pcap_max_snaplen(uint32_t linktype)
{
    switch (linktype) {
    case 231: return 128u * 1024 * 1024;    /* DBUS */
    case 279: return 8u * 1024 * 1024;      /* EBHSCR */
    case 249: return 1024u * 1024;          /* USBPCAP */
    default: return 262144;
    }
}

/* The DLT libpcap would report for a LINKTYPE (for pcap_open_dead). Only
 * LINKTYPE_RAW differs among the link types whose filters matter here. */
int pcap_dlt(uint32_t linktype)
{
    return linktype == 101 ? DLT_RAW : (int)linktype;
}

static int pcap_classic_header(const uint8_t *h, struct pcap_classic_file *f)
{
    uint32_t magic;
    uint16_t major, minor;

    memcpy(&magic, h, 4);
    switch (magic) {
    case 0xa1b2c3d4: f->swap = false; f->mult = 1000; break;
    case 0xd4c3b2a1: f->swap = true; f->mult = 1000; break;
    case 0xa1b23c4d: f->swap = false; f->mult = 1; break;
    case 0x4d3cb2a1: f->swap = true; f->mult = 1; break;
    default: return PCAP_FALLBACK;
    }
    memcpy(&major, h + 4, 2);
    memcpy(&minor, h + 6, 2);
    if (f->swap) {
        major = __builtin_bswap16(major);
        minor = __builtin_bswap16(minor);
    }
    if (major != 2)
        return PCAP_FALLBACK;   /* libpcap decides what to say about it */
    /* Writers before 2.3 put caplen and len the other way round; 2.3 files
     * may be either (libpcap's rule). */
    f->lengths = minor < 3 ? 1 : minor == 3 ? 2 : 0;
    /* The upper bits carry FCS information, not the link type. */
    f->linktype = pcap_classic_u32(h + 20, f->swap) & 0x03ffffff;
    f->max = pcap_max_snaplen(f->linktype);
    f->snap = pcap_classic_u32(h + 16, f->swap);
    if (f->snap == 0 || f->snap > f->max)
        f->snap = f->max;
    return 0;
}

/* Read records into o->b until it is full, `limit` records were read, or
 * the file ends. `swap` is a constant at each call site, so the compiler
 * makes one loop per byte order. */
static inline __attribute__((always_inline)) void
pcap_classic_walk(struct pcap_classic_state *w, const struct pcap_classic_file *f,
                  struct pcap_out *o, const struct pcap_filter *flt, uint64_t limit,
                  const bool swap)
{
    struct fl_decoder *dec = o->st->dec;
    struct fl_batch *b = o->b;
    const uint8_t *base = w->win.base;
    size_t off = w->win.off, size = w->win.size;
    uint64_t n = 0;
    const int lt = (int)f->linktype;

    while (b->rows < b->cap && n < limit) {
        const uint8_t *h = base + off;
        uint32_t sec, frac, caplen, len;

        if (size - off < PCAP_REC_HDR) {
            if (!w->win.last) {
                w->need = PCAP_REC_HDR;
                break;
            }
            w->eof = true;
            w->truncated = size != off;
            break;
        }
        sec = pcap_classic_u32(h, swap);
        frac = pcap_classic_u32(h + 4, swap);
        caplen = pcap_classic_u32(h + 8, swap);
        len = pcap_classic_u32(h + 12, swap);
        if (__builtin_expect(f->lengths != 0, 0) && (f->lengths == 1 || caplen > len)) {
            uint32_t t = caplen;
            caplen = len;
            len = t;
        }
        if (__builtin_expect(caplen > f->max, 0)) {
            w->bad = true;
            w->bad_caplen = caplen;
            break;
        }
        if (__builtin_expect(size - off - PCAP_REC_HDR < caplen, 0)) {
            if (!w->win.last) {
                w->need = PCAP_REC_HDR + caplen;
                break;
            }
            w->eof = w->truncated = true;
            break;
        }
        off += PCAP_REC_HDR + caplen;
        n++;
        if (__builtin_expect(caplen > f->snap, 0))
            caplen = f->snap;
        if (flt->on && !pcap_filter_pass(flt, h + PCAP_REC_HDR, caplen, len)) {
            o->rejected++;
            continue;
        }
        fl_decode(dec, lt, pcap_ts(sec, frac, f->mult), h + PCAP_REC_HDR, caplen, len, b);
    }
    if (size == off && w->win.last)
        w->eof = true;
    w->win.off = off;
    o->read += n;
}

int pcap_classic_run(struct pcap_in *st, struct fl_ctx *ctx)
{
    struct pcap_classic_file f;
    struct pcap_classic_state w;
    struct pcap_out o = { .ctx = ctx, .st = st, .cap = (uint32_t)st->batch_size };
    struct pcap_filter flt;
    uint8_t hdr[PCAP_FILE_HDR];
    uint64_t records = 0, size;
    int fd, rc;

    memset(&flt, 0, sizeof flt);
    memset(&w, 0, sizeof w);
    w.win.fd = -1;
    if ((rc = pcap_win_file(st, ctx, &fd, &size)) != 0)
        return rc;
    if (size < PCAP_FILE_HDR || pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
        pcap_classic_header(hdr, &f) != 0) {
        rc = PCAP_FALLBACK;
        goto out;
    }
    if ((rc = pcap_win_open(&w.win, fd, PCAP_FILE_HDR, size, st->win_cap)) < 0 ||
        (rc = pcap_filter_init(&flt, st, ctx, pcap_dlt(f.linktype), f.snap)) < 0)
        goto out;
    w.need = PCAP_REC_HDR;

    for (;;) {
        uint64_t before;
        bool final;
        if ((rc = pcap_out_ready(&o)) < 0)
            goto out;
        before = o.read;
        if (w.need && (rc = pcap_win_fill(&w.win, w.need)) < 0) {
            FL_LOG_ERROR(ctx, "cannot read %s: %s", st->path,
                         rc == -FL_EIO ? strerror(errno) : "out of memory");
            goto out;
        }
        w.need = 0;
        /* A report at least every 4 batches' worth of records keeps counters
         * and progress moving through stretches that decode to nothing. */
        if (f.swap)
            pcap_classic_walk(&w, &f, &o, &flt, 4ull * o.cap, true);
        else
            pcap_classic_walk(&w, &f, &o, &flt, 4ull * o.cap, false);
        records += o.read - before;
        final = w.eof || w.bad || fl_stopping(ctx);
        if ((rc = pcap_out_report(&o, w.win.pos + w.win.off, w.win.file_size, final)) < 0)
            goto out;
        if (final)
            break;
    }
    if (w.truncated) {
        fl_counter_add(ctx, "truncated_record", 1);
        FL_LOG_WARN(ctx, "%s: the last record is cut short at byte %llu of %llu; "
                    "%llu records read", st->path, (unsigned long long)(w.win.pos + w.win.off),
                    (unsigned long long)w.win.file_size, (unsigned long long)records);
    } else if (w.bad) {
        fl_counter_add(ctx, "bad_record", 1);
        FL_LOG_WARN(ctx, "%s: record %llu at byte %llu claims %u captured bytes (at most %u "
                    "for this link type): the rest of the file is skipped", st->path,
                    (unsigned long long)records + 1,
                    (unsigned long long)(w.win.pos + w.win.off), w.bad_caplen, f.max);
    }
    rc = 0;
out:
    pcap_out_fini(&o);
    pcap_filter_fini(&flt);
    pcap_win_close(&w.win);
    close(fd);
    return rc;
}
