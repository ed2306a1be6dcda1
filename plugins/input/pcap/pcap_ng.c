/* pcap_ng.c: flowline's own reader of pcapng files (issue 16), next to
 * pcap_classic.c for classic pcap. libpcap reads a pcapng file only while
 * every interface has the link type and snap length of the first one, and
 * skips the rest of the file at the first that differs (Wireshark writes
 * such files when capturing on several interfaces); this reader takes any
 * number of interfaces, each with its own link type, snap length,
 * if_tsresol (10^-n or 2^-n) and if_tsoffset, in sections of either byte
 * order. Enhanced (6), simple (3) and obsolete (2) packet blocks are read;
 * every other block is skipped by its length.
 *
 * The block walk (pcap_ng_walk) works on a window (pcap_win.c): of the
 * file in pcap_ng_run(), of a memory buffer in the fuzz target.
 *
 * Damage, counted, never read past the buffer:
 * - a block cut short by the end of the file ends it: truncated_record;
 * - a block whose framing is broken (length under 12 or not a multiple of
 *   4, trailing length different, an unknown byte-order magic, a file not
 *   starting with a section header) ends it: bad_record, since the next
 *   block cannot be found;
 * - a block whose frame is sound but whose content is not (a packet naming
 *   an unknown interface, a captured length beyond the block, a packet or
 *   interface block too short, an unusable if_tsresol) is skipped and
 *   counted as drop_bad_block; reading goes on.
 * Every complete packet before the damage is kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pcap_int.h"

#define NG_SHB 0x0A0D0D0Au
#define NG_IDB 1u
#define NG_PB 2u
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1A2B3C4Du
#define NG_OPT_TSRESOL 9u
#define NG_OPT_TSOFFSET 14u
/* Interfaces per section kept (64 bytes each); later ones are counted as
 * drop_bad_block, and so are their packets. Real captures have a handful. */
#define NG_MAX_IFS (1u << 16)
static inline uint32_t ng_u32(const uint8_t *p, bool swap)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return swap ? __builtin_bswap32(v) : v;
}

static inline uint16_t ng_u16(const uint8_t *p, bool swap)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return swap ? __builtin_bswap16(v) : v;
}

/* Timestamp units to ns, exactly (floor, as Wireshark does): 10^-n with
 * n <= 9 is a multiplication, the rest goes through 128 bits. */
static uint64_t ng_ts(const struct pcap_ng_if *f, uint64_t units)
{
    unsigned __int128 v;

    if (f->mul)
        v = (unsigned __int128)units * f->mul;
    else if (f->pow2)
        v = ((unsigned __int128)units * 1000000000u) >> f->exp;
    else
        v = (unsigned __int128)units / f->div;
    return (uint64_t)v + (uint64_t)f->tsoffset * 1000000000u;
}

/* The filter for link type lt, compiled the first time it is met (one per
 * distinct link type, kept across sections). */
static int ng_filter_for(struct pcap_ng *g, uint32_t lt, uint32_t snap, int *idx)
{
    struct pcap_filter *nf;
    uint32_t *nlt;
    int rc;

    *idx = -1;
    if (!g->st->bpf || !*g->st->bpf)
        return 0;
    for (size_t i = 0; i < g->n_flt; i++)
        if (g->flt_lt[i] == lt) {
            *idx = (int)i;
            return 0;
        }
    nf = realloc(g->flt, (g->n_flt + 1) * sizeof *nf);
    if (!nf)
        return -FL_ENOMEM;
    g->flt = nf;
    nlt = realloc(g->flt_lt, (g->n_flt + 1) * sizeof *nlt);
    if (!nlt)
        return -FL_ENOMEM;
    g->flt_lt = nlt;
    if ((rc = pcap_filter_init(&g->flt[g->n_flt], g->st, g->ctx, pcap_dlt(lt), snap)) < 0)
        return rc;
    g->flt_lt[g->n_flt] = lt;
    *idx = (int)g->n_flt++;
    return 0;
}

/* An interface description block: body (after type and length) of n bytes. */
static int ng_idb(struct pcap_ng *g, const uint8_t *p, size_t n)
{
    struct pcap_ng_if f = { .mul = 1000 }, *nv;
    bool swap = g->swap;
    size_t off = 8;
    int rc;

    if (n < 8) {
        g->bad_blocks++;
        f.unusable = true;
    } else {
        f.linktype = ng_u16(p, swap);
        f.max = pcap_max_snaplen(f.linktype);
        f.snap = ng_u32(p + 4, swap);
        if (f.snap == 0 || f.snap > f.max)
            f.snap = f.max;     /* libpcap's rule */
    }
    while (!f.unusable && off + 4 <= n) {
        uint16_t code = ng_u16(p + off, swap), len = ng_u16(p + off + 2, swap);
        size_t room = n - off - 4;
        if (code == 0 || len > room)
            break;
        if (code == NG_OPT_TSRESOL && len >= 1) {
            uint8_t r = p[off + 4], e = r & 0x7f;
            f.mul = 0;
            f.pow2 = r & 0x80;
            f.exp = e;
            if (!f.pow2 && e <= 9) {
                f.mul = 1;
                for (unsigned i = e; i < 9; i++)
                    f.mul *= 10;
            } else if (!f.pow2 && e <= 38) {
                f.div = 1;
                for (unsigned i = 9; i < e; i++)
                    f.div *= 10;
            } else if (!f.pow2) {
                f.unusable = true;  /* finer than 10^-38 s: no such clock */
                g->bad_blocks++;
            }
        } else if (code == NG_OPT_TSOFFSET && len >= 8) {
            uint64_t v;
            memcpy(&v, p + off + 4, 8);
            f.tsoffset = (int64_t)(swap ? __builtin_bswap64(v) : v);
        }
        off += 4 + (((size_t)len + 3) & ~(size_t)3);
    }
    if (g->n_if >= NG_MAX_IFS) {
        g->bad_blocks += !f.unusable;   /* a bound on memory: a file of IDBs */
        return 0;
    }
    if (!f.unusable && (rc = ng_filter_for(g, f.linktype, f.snap, &f.filter)) < 0)
        return rc;
    if (g->n_if == g->cap_if) {
        size_t cap = g->cap_if ? 2 * g->cap_if : 4;
        nv = realloc(g->ifs, cap * sizeof *nv);
        if (!nv)
            return -FL_ENOMEM;
        g->ifs = nv;
        g->cap_if = cap;
    }
    g->ifs[g->n_if++] = f;
    return 0;
}

/* A packet of the section's interface ifc: data of caplen bytes (already
 * within the block), wire length len, time in the interface's units. */
static inline void ng_packet(struct pcap_ng *g, struct pcap_out *o, uint32_t ifc,
                             uint64_t units, const uint8_t *data, uint32_t caplen, uint32_t len)
{
    const struct pcap_ng_if *f = &g->ifs[ifc];
    struct fl_batch *b = o->b;

    if (caplen > f->snap)
        caplen = f->snap;
    o->read++;
    if (f->filter >= 0 && !pcap_filter_pass(&g->flt[f->filter], data, caplen, len)) {
        o->rejected++;
        return;
    }
    /* `interface` is the index in the section, as Wireshark's
     * frame.interface_id (frame.section_number tells sections apart). */
    if (fl_decode(o->st->dec, (int)f->linktype, ng_ts(f, units), data, caplen, len, b) == 1 &&
        o->iface)
        FL_COL(b, b->schema->ncols - 1, uint32_t)[b->rows - 1] = ifc;
}

/* A section header at g->off with at least 12 bytes left: its byte order. */
static bool ng_shb(struct pcap_ng *g, const uint8_t *h)
{
    uint32_t bom;
    memcpy(&bom, h + 8, 4);
    if (bom == NG_BOM)
        g->swap = false;
    else if (bom == __builtin_bswap32(NG_BOM))
        g->swap = true;
    else
        return false;
    g->if_base += g->n_if;
    g->n_if = 0;        /* interfaces belong to their section */
    g->in_section = true;
    return true;
}

int pcap_ng_walk(struct pcap_ng *g, struct pcap_out *o, uint64_t limit)
{
    const uint64_t first = o->read;
    int rc;

    while (o->b->rows < o->b->cap && o->read - first < limit) {
        const uint8_t *h = g->win.base + g->win.off;
        size_t left = g->win.size - g->win.off;
        uint32_t type, len;

        if (left < 12) {
            if (!g->win.last)
                g->need = 12;
            else
                g->eof = true, g->truncated = left != 0;
            break;
        }
        type = ng_u32(h, false);
        if (type == NG_SHB) {
            if (!ng_shb(g, h)) {
                g->bad = true;
                g->why = "a section header with an unknown byte-order magic";
                break;
            }
        } else if (!g->in_section) {
            g->bad = true;
            g->why = "not a pcapng block where a section header must be";
            break;
        } else {
            type = ng_u32(h, g->swap);
        }
        len = ng_u32(h + 4, g->swap);
        if (len < 12 || len % 4 != 0) {
            g->bad = true;
            g->why = "a block length under 12 or not a multiple of 4";
            break;
        }
        if (len > left) {
            if (!g->win.last)
                g->need = len;
            else
                g->eof = g->truncated = true;
            break;
        }
        if (ng_u32(h + len - 4, g->swap) != len) {
            g->bad = true;
            g->why = "a block whose trailing length differs from its leading one";
            break;
        }
        g->win.off += len;
        const uint8_t *p = h + 8;   /* the body, n bytes */
        size_t n = len - 12;
        if (type == NG_EPB || type == NG_PB) {
            uint32_t ifc, caplen;
            if (n < 20) {
                g->bad_blocks++;
                continue;
            }
            ifc = type == NG_EPB ? ng_u32(p, g->swap) : ng_u16(p, g->swap);
            caplen = ng_u32(p + 12, g->swap);
            if (ifc >= g->n_if || g->ifs[ifc].unusable || caplen > n - 20) {
                g->bad_blocks++;
                continue;
            }
            uint64_t units = (uint64_t)ng_u32(p + 4, g->swap) << 32 | ng_u32(p + 8, g->swap);
            ng_packet(g, o, ifc, units, p + 20, caplen, ng_u32(p + 16, g->swap));
        } else if (type == NG_SPB) {
            uint32_t wire, caplen;
            if (n < 4 || g->n_if == 0 || g->ifs[0].unusable) {
                g->bad_blocks++;
                continue;
            }
            wire = ng_u32(p, g->swap);
            caplen = wire < n - 4 ? wire : (uint32_t)(n - 4);
            /* no timestamp: 0, as libpcap and Wireshark give */
            ng_packet(g, o, 0, 0, p + 4, caplen, wire);
        } else if (type == NG_IDB) {
            if ((rc = ng_idb(g, p, n)) < 0)
                return rc;
            /* A second interface after packets: the rows from here on
             * carry `interface`, in batches of that schema (ng_read). */
            if (!o->iface && g->if_base + g->n_if > 1) {
                o->iface = true;
                break;
            }
        }
    }
    return 0;
}

/* Interface description blocks in data before the first packet block, or
 * before the end of data or damage (not a pcapng file: 0). */
static size_t ng_count_ifs(const uint8_t *data, size_t size)
{
    size_t off = 0, n = 0;
    bool swap = false;

    while (size - off >= 12) {
        const uint8_t *h = data + off;
        uint32_t type = ng_u32(h, false), len;
        if (type == NG_SHB) {
            uint32_t bom;
            memcpy(&bom, h + 8, 4);
            if (bom != NG_BOM && bom != __builtin_bswap32(NG_BOM))
                break;
            swap = bom != NG_BOM;
        } else if (off == 0) {
            break;
        }
        type = ng_u32(h, swap);
        len = ng_u32(h + 4, swap);
        if (type == NG_EPB || type == NG_PB || type == NG_SPB || len < 12 || len % 4 != 0 ||
            len > size - off)
            break;
        n += type == NG_IDB;
        off += len;
    }
    return n;
}

size_t pcap_ng_peek_ifs(const char *path)
{
    uint8_t buf[65536];
    ssize_t got;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;

    if (fd < 0)
        return 0;
    /* only a regular file: a pipe's bytes would be gone for the run */
    got = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? pread(fd, buf, sizeof buf, 0) : -1;
    close(fd);
    return got > 0 ? ng_count_ifs(buf, (size_t)got) : 0;
}

void pcap_ng_fini(struct pcap_ng *g)
{
    for (size_t i = 0; i < g->n_flt; i++)
        pcap_filter_fini(&g->flt[i]);
    free(g->flt);
    free(g->flt_lt);
    free(g->ifs);
    pcap_win_close(&g->win);
    g->flt = NULL;
    g->flt_lt = NULL;
    g->ifs = NULL;
    g->n_flt = g->n_if = g->cap_if = 0;
}

/* The walk over a window that is filled (from a file) or whole (in
 * memory); pcap_ng_fini() closes it. */
static int ng_read(struct pcap_ng *g, struct pcap_in *st, struct fl_ctx *ctx)
{
    struct pcap_out o = { .ctx = ctx, .st = st, .cap = (uint32_t)st->batch_size };
    uint64_t bad_reported = 0;
    int rc;

    g->need = 12;
    for (;;) {
        bool final;
        if (g->need && (rc = pcap_win_fill(&g->win, g->need)) < 0) {
            FL_LOG_ERROR(ctx, "cannot read %s: %s", st->path,
                         rc == -FL_EIO ? strerror(errno) : "out of memory");
            goto out;
        }
        /* Interfaces described up front (as Wireshark writes them) put
         * `interface` in every row of the file. */
        if (g->win.pos + g->win.off == 0)
            o.iface = ng_count_ifs(g->win.base, g->win.size < 65536 ? g->win.size : 65536) > 1;
        g->need = 0;
        /* The walk met a second interface: the batch so far keeps its
         * schema, the next rows go in one with `interface`. */
        if (o.b && o.iface && o.b->schema != st->schema_if &&
            (rc = o.b->rows ? fl_emit(ctx, &o.b) : (fl_batch_release(&o.b), 0)) < 0)
            goto out;
        if ((rc = pcap_out_ready(&o)) < 0)
            goto out;
        /* At most 4 batches' worth of records between reports keeps
         * counters and progress moving through stretches that decode to
         * nothing. */
        if ((rc = pcap_ng_walk(g, &o, 4ull * o.cap)) < 0)
            goto out;
        if (g->bad_blocks > bad_reported) {
            fl_counter_add(ctx, "drop_bad_block", g->bad_blocks - bad_reported);
            bad_reported = g->bad_blocks;
        }
        final = g->eof || g->bad || fl_stopping(ctx);
        if ((rc = pcap_out_report(&o, g->win.pos + g->win.off, g->win.file_size, final)) < 0)
            goto out;
        if (final)
            break;
    }
    if (g->truncated) {
        fl_counter_add(ctx, "truncated_record", 1);
        FL_LOG_WARN(ctx, "%s: the last block is cut short at byte %llu of %llu", st->path,
                    (unsigned long long)(g->win.pos + g->win.off),
                    (unsigned long long)g->win.file_size);
    } else if (g->bad) {
        fl_counter_add(ctx, "bad_record", 1);
        FL_LOG_WARN(ctx, "%s: %s at byte %llu: the rest of the file is skipped", st->path,
                    g->why, (unsigned long long)(g->win.pos + g->win.off));
    }
    if (g->bad_blocks)
        FL_LOG_WARN(ctx, "%s: %llu unusable blocks skipped (drop_bad_block)", st->path,
                    (unsigned long long)g->bad_blocks);
    rc = 0;
out:
    pcap_out_fini(&o);
    pcap_ng_fini(g);
    return rc;
}

int pcap_ng_read(struct pcap_in *st, struct fl_ctx *ctx, const uint8_t *data, size_t size)
{
    struct pcap_ng g = { .st = st, .ctx = ctx };

    pcap_win_mem(&g.win, data, size);
    return ng_read(&g, st, ctx);
}

int pcap_ng_run(struct pcap_in *st, struct fl_ctx *ctx)
{
    struct pcap_ng g = { .st = st, .ctx = ctx };
    uint8_t magic[4];
    uint64_t size;
    int fd, rc;

    if ((rc = pcap_win_file(st, ctx, &fd, &size)) != 0)
        return rc;
    if (size < 12 || pread(fd, magic, 4, 0) != 4 || ng_u32(magic, false) != NG_SHB) {
        close(fd);
        return PCAP_FALLBACK;
    }
    if ((rc = pcap_win_open(&g.win, fd, 0, size, st->win_cap)) == 0)
        rc = ng_read(&g, st, ctx);
    else
        pcap_ng_fini(&g);
    close(fd);
    return rc;
}
