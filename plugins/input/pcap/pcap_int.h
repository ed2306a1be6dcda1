/* pcap_int.h: what the files of input.pcap share: the instance state (options
 * and run-time objects), the batch output every reader feeds, and the
 * readers themselves (pcap_classic.c: classic pcap files; pcap_ng.c: pcapng
 * files; pcap_lib.c: libpcap for gzip, pipes and live interfaces; pcap_gz.c: the gzip stream). */
#ifndef FL_PLUGIN_PCAP_INT_H
#define FL_PLUGIN_PCAP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <flowline/decode.h>
#include <flowline/plugin.h>
#include <pcap/pcap.h>
#include "fl_files.h"

/* `reader` option values. */
enum pcap_reader {
    PCAP_READER_AUTO, PCAP_READER_OWN, PCAP_READER_LIBPCAP,
    PCAP_READER_MMAP    /* the former name of own: init makes it PCAP_READER_OWN */
};

struct pcap_in {
    /* options */
    struct fl_strlist paths;    /* `path`: files, globs, folders, or "-" */
    bool merge;                 /* several files: by time, not one after another */
    char *interface;
    char *bpf;
    uint64_t snaplen;
    bool promiscuous;
    uint64_t batch_size;
    struct fl_strlist decap;    /* tunnel kinds opened (true: all, false: none) */
    struct fl_strmap decap_ports;   /* kind -> "port,port" */
    uint64_t decap_depth;
    bool tunnel_columns;
    uint64_t buffer_size;
    int reader;                 /* enum pcap_reader */
    /* run time */
    const char *path;           /* the file being read */
    size_t win_cap;             /* the own readers' window (0: 512 KiB; fuzz: small) */
    uint64_t files_done;        /* bytes of the files read before it */
    uint64_t files_total;       /* bytes of all the files (0 = unknown) */
    const struct fl_schema *schema;     /* the packet columns */
    const struct fl_schema *schema_if;  /* the same plus `interface` */
    struct fl_decoder *dec;
    uint32_t n_ports;           /* decap_ports, as the decoder takes them */
    struct fl_decap_port ports[32];
};

#define PCAP_DECAP_PORTS 32u   /* the decoder takes 64 with the standard ones */
/* The decoder's options from the decap options (pcap_decap.c); on a bad
 * value, err and *opt (the option's name) say what is wrong. */
int pcap_decoder_opts(struct pcap_in *st, struct fl_decoder_opts *o, char *err, size_t len,
                      const char **opt);

/* The output side of a read: the batch being filled and what was read
 * since the counters were last reported. One per run(). */
struct pcap_out {
    struct fl_ctx *ctx;
    struct pcap_in *st;
    struct fl_batch *b;
    uint32_t cap;               /* rows per batch */
    bool iface;                 /* batches carry `interface` (st->schema_if) */
    uint64_t read;              /* records read since the last report */
    uint64_t rejected;          /* of which the bpf filter rejected */
};

/* A batch with room for a row in o->b (allocating one if needed), of
 * st->schema_if when o->iface, else st->schema. */
int pcap_out_ready(struct pcap_out *o);
/* Report counters and progress (done of total bytes; total 0 = unknown),
 * and emit the batch when it is full or `final`. */
int pcap_out_report(struct pcap_out *o, uint64_t done, uint64_t total, bool final);
/* Release an unemitted batch (error paths). */
void pcap_out_fini(struct pcap_out *o);

/* Nanoseconds from a pcap timestamp (seconds and fraction in units of
 * 1e9 / mult ns: mult 1000 for microseconds, 1 for nanoseconds). */
static inline uint64_t pcap_ts(uint64_t sec, uint64_t frac, uint64_t mult)
{
    return sec * 1000000000ull + frac * mult;
}

/* A compiled BPF filter applied in user space to what the file readers
 * read (libpcap's own filtering would hide the count of rejected records). */
struct pcap_filter {
    bool on;
    struct bpf_program prog;
};
/* Compile st->bpf for a capture of DLT dlt (pcap_open_dead); logs and
 * returns a negative code when the expression does not compile. */
int pcap_filter_init(struct pcap_filter *f, struct pcap_in *st, struct fl_ctx *ctx, int dlt,
                     uint32_t snaplen);
/* true when the record passes (or there is no filter). */
bool pcap_filter_pass(const struct pcap_filter *f, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen);
void pcap_filter_fini(struct pcap_filter *f);

/* The largest record libpcap accepts for a LINKTYPE (its
 * max_snaplen_for_dlt), and the DLT libpcap reports for it (for
 * pcap_open_dead). pcap_classic.c. */
uint32_t pcap_max_snaplen(uint32_t linktype);
int pcap_dlt(uint32_t linktype);

/* The part of a file a reader walks (pcap_win.c): file bytes [pos, pos +
 * size) at base, of which off are consumed. `last` when it reaches the end
 * of the file. From a file, pcap_win_fill() slides it on; in memory (the
 * fuzz targets) it is the whole input at once. */
struct pcap_win {
    const uint8_t *base;
    size_t size, off;
    uint64_t pos;
    bool last;
    int fd;                 /* -1: in memory */
    uint8_t *buf;
    size_t cap;
    uint64_t file_size;     /* as fstat said at open, or where reads ended */
};
/* Open st->path for an own reader: 0 with *fd and *size, PCAP_FALLBACK
 * (nothing open) when it is not a regular file (libpcap's), or a negative
 * code, logged, when it cannot be opened. */
int pcap_win_file(struct pcap_in *st, struct fl_ctx *ctx, int *fd, uint64_t *size);
/* A window of cap bytes (0: the default, 512 KiB) on fd from file offset
 * start; nothing read yet (fill first). */
int pcap_win_open(struct pcap_win *w, int fd, uint64_t start, uint64_t file_size, size_t cap);
void pcap_win_mem(struct pcap_win *w, const uint8_t *data, size_t size);
/* Keep the unconsumed bytes and read more, at least `need` of them (the
 * buffer grows for a long record) unless the file ends first. 0, or
 * -FL_EIO (errno set) or -FL_ENOMEM. A no-op on a last window. */
int pcap_win_fill(struct pcap_win *w, size_t need);
void pcap_win_close(struct pcap_win *w);

/* pcap_classic_run() leaves a file it cannot read to libpcap. */
#define PCAP_FALLBACK 1

/* Classic pcap through its window. Returns 0 at the end of the file (a truncated
 * or impossible record ends it cleanly, counted), a negative code on error
 * (logged), or PCAP_FALLBACK without side effects when the file is not a
 * classic pcap file it can map (pcapng, gzip, a pipe, an odd header). */
int pcap_classic_run(struct pcap_in *st, struct fl_ctx *ctx);
/* pcap_ng.c: pcapng. One interface of the section being read. */
struct pcap_ng_if {
    uint32_t linktype;
    uint32_t snap;          /* records longer are cut to this */
    uint32_t max;
    bool unusable;          /* its packets are counted as drop_bad_block */
    bool pow2;              /* if_tsresol 2^-exp */
    uint8_t exp;
    uint64_t mul;           /* ns per unit (10^-exp, exp <= 9), else 0 */
    unsigned __int128 div;  /* units per ns (10^-exp, exp > 9) */
    int64_t tsoffset;       /* if_tsoffset, seconds */
    int filter;             /* index into pcap_ng.flt, -1 = none */
};

/* The state of a walk over the blocks of a pcapng file in memory. */
struct pcap_ng {
    struct pcap_in *st;
    struct fl_ctx *ctx;
    struct pcap_win win;
    size_t need;                /* bytes the next block needs in the window (0: none) */
    bool swap, in_section;
    struct pcap_ng_if *ifs;     /* the section's interfaces */
    size_t n_if, cap_if;
    size_t if_base;             /* interfaces of the sections before (counted only) */
    struct pcap_filter *flt;    /* one per distinct link type */
    uint32_t *flt_lt;
    size_t n_flt;
    bool eof, truncated, bad;   /* why the walk stopped */
    const char *why;            /* bad: what was wrong */
    uint64_t bad_blocks;        /* skipped blocks (drop_bad_block) */
};

/* Walk blocks into o->b until it is full, `limit` records were read, or
 * the walk stops (g->eof, g->bad). Negative on error (no memory, a bpf
 * that does not compile for an interface's link type). */
int pcap_ng_walk(struct pcap_ng *g, struct pcap_out *o, uint64_t limit);
void pcap_ng_fini(struct pcap_ng *g);
/* A whole pcapng file in memory through the walk, with counters and
 * progress (the fuzz target's entry). 0 at the end, also of a damaged
 * file (counted), negative on error. */
int pcap_ng_read(struct pcap_in *st, struct fl_ctx *ctx, const uint8_t *data, size_t size);
/* pcapng through its window; PCAP_FALLBACK without side effects when the file
 * is not one (no section header magic, a pipe, not mappable). */
int pcap_ng_run(struct pcap_in *st, struct fl_ctx *ctx);
/* The interfaces a pcapng file at path describes before its first packet
 * (0 when it is not a readable, uncompressed pcapng file): what describe()
 * uses to declare the `interface` column. */
size_t pcap_ng_peek_ifs(const char *path);

/* A file (pcapng, classic, gzip'd either) through libpcap. */
int pcap_lib_file_run(struct pcap_in *st, struct fl_ctx *ctx);

/* merge: true: the records of several files in time order, through
 * libpcap (any format), as one stream. */
int pcap_lib_merge_run(struct pcap_in *st, struct fl_ctx *ctx, char **files, size_t n);

/* A live interface through libpcap. */
int pcap_lib_live_run(struct pcap_in *st, struct fl_ctx *ctx);

/* A FILE* that reads the decompressed bytes of a gzip file at path, or of
 * descriptor fd when fd >= 0 (taken over, closed also on failure; data that is not gzip'd passes
 * as it is: standard input may be either), and reports the
 * compressed bytes consumed (for progress); magic gets the first 4
 * decompressed bytes (zeros if there are fewer). NULL with errno set, or
 * ENOTSUP when built without zlib. */
FILE *pcap_gz_open(const char *path, int fd, uint64_t **consumed, uint8_t magic[4]);

#endif
