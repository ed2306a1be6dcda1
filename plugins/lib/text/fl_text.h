/* fl_text.h: text output support shared by output.csv, output.json and
 * any built-in plugin that writes records as text (DESIGN.md §7, §8).
 *
 * A static library linked into those plugins (plugins/lib/text), not part
 * of the plugin ABI: libflowline.so exports only what every plugin needs.
 *
 * Four layers, each usable alone:
 *  1. cell formatters: one value of any column type (record.h) as text,
 *     hand-rolled (no printf per cell), locale-independent;
 *  2. layouts: a list of output fields bound to one schema, which formats
 *     whole batches as CSV rows or JSON lines into a growable buffer;
 *  3. a buffered file writer: path or "-" (stdout), one write() per buffer,
 *     rotation by size and/or time;
 *  4. a sink: the whole of a text output stage (options, binding `fields`
 *     to each input schema, layouts, the file, counters, errors), so a
 *     plugin is its option table and its format.
 *
 * Text forms (the same in CSV and JSON unless said):
 *  - u8..u64, i64: decimal.
 *  - f64: the shortest decimal that reads back (strtod) as the same double,
 *    fixed notation for 1e-4 <= |v| < 1e17, otherwise %g-like exponent form
 *    ("1.5e-07", "1e+20"); "-0" keeps its sign. Non-finite values: "nan",
 *    "inf", "-inf" in CSV; null in JSON (JSON has no such numbers).
 *  - bool: true / false.
 *  - ts: RFC 3339 UTC with nanoseconds, always 9 digits so that text sorts
 *    like time ("2026-01-01T00:00:00.123456789Z"; quoted in JSON), or epoch
 *    nanoseconds ("1767225600123456789"), or epoch seconds with the
 *    fraction trimmed ("1767225600.123456789", "1767225600").
 *  - dur: seconds, fraction trimmed of trailing zeros ("1.25", "0.000001",
 *    "3", "-0.5").
 *  - addr: IPv4-mapped addresses as dotted quad ("192.0.2.1"), others as
 *    RFC 5952 canonical IPv6 ("2001:db8::1"); IPv4-compatible ::a.b.c.d
 *    (deprecated, RFC 4291 §2.5.5.1) is printed in hex ("::102:304").
 *  - mac: "00:1a:2b:3c:4d:5e".
 *  - str: UTF-8; each maximal invalid subsequence becomes U+FFFD (the
 *    Unicode "best practice"), so files are always valid UTF-8. CSV quotes
 *    (RFC 4180) a cell holding the separator, '"', CR or LF, or one that is
 *    empty (so "" is an empty string and an empty cell is a missing value).
 *    JSON escapes '"', '\\' and every control character below 0x20.
 *  - bytes: lowercase hex ("0a1bff"; quoted in JSON, and in CSV when
 *    empty, like an empty str).
 *  - missing values (validity bitmap): an empty cell in CSV (but "" when
 *    the row has a single column, since readers skip blank lines); null in
 *    JSON (the key is kept, so every line of one layout has the same keys).
 *
 * Threading: every function works only on the objects passed in; distinct
 * objects may be used from distinct threads. */
#ifndef FLOWLINE_TEXT_H
#define FLOWLINE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/bind.h>
#include <flowline/error.h>
#include <flowline/opts.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_ctx;

/* ---- Growable buffer --------------------------------------------------
 * p[0..len) holds text (not NUL-terminated). Zero-initialise to start;
 * fl_text_buf_free() releases. */
struct fl_text_buf {
    char *p;
    size_t len, cap;
};

/* Make room for n more bytes after len (grows geometrically). */
int fl_text_buf_reserve(struct fl_text_buf *b, size_t n);
void fl_text_buf_free(struct fl_text_buf *b);
static inline int fl_text_buf_put(struct fl_text_buf *b, const void *s, size_t n)
{
    if (n == 0)         /* b->p may still be NULL: no pointer arithmetic on it */
        return 0;
    if (b->cap - b->len < n) {
        int rc = fl_text_buf_reserve(b, n);
        if (rc < 0)
            return rc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* ---- Cell formatters --------------------------------------------------
 * Fixed-size forms write at p and return the end; the caller guarantees
 * FL_TEXT_CELL_MAX bytes at p. Nothing is NUL-terminated or quoted. */
#define FL_TEXT_CELL_MAX 64

enum fl_text_time {
    FL_TEXT_TIME_RFC3339 = 0,   /* 2026-01-01T00:00:00.123456789Z */
    FL_TEXT_TIME_EPOCH_NS,      /* 1767225600123456789 */
    FL_TEXT_TIME_EPOCH_S        /* 1767225600.123456789, fraction trimmed */
};

char *fl_text_u64(char *p, uint64_t v);
char *fl_text_i64(char *p, int64_t v);
/* Shortest round-trip text; "nan"/"inf"/"-inf" for non-finite values. */
char *fl_text_f64(char *p, double v);
char *fl_text_bool(char *p, bool v);
char *fl_text_ts(char *p, uint64_t ns, enum fl_text_time tf);
char *fl_text_dur(char *p, int64_t ns);
char *fl_text_addr(char *p, const struct fl_addr *a);
char *fl_text_mac(char *p, const uint8_t mac[6]);

/* Variable-size forms append to b (growing it). */
/* A CSV cell: as is, or quoted with '"' doubled when it must be (see above). */
int fl_text_csv_str(struct fl_text_buf *b, const char *s, size_t n, char sep);
/* A JSON string with its quotes. */
int fl_text_json_str(struct fl_text_buf *b, const char *s, size_t n);
/* Lowercase hex of n bytes, no quotes. */
int fl_text_hex(struct fl_text_buf *b, const void *s, size_t n);

/* ---- Reading the forms back ------------------------------------------
 * One unquoted, unescaped value s[0..n) (not NUL-terminated) of type t
 * into the cell at `cell` (fl_type_size(t) bytes); str and bytes cells go
 * into b's arena. Accepted: what the formatters write, and
 *  - integers: decimal, range-checked for the type (i64 with a '-');
 *  - f64: decimal or exponent form, "nan", "inf", "-inf" (no hex floats);
 *  - bool: true, false, 1, 0;
 *  - ts: RFC 3339 with 'Z' or a +hh:mm/-hh:mm offset and 0..9 fraction
 *    digits; an epoch number with a fraction, or below 1e12, in seconds;
 *    a larger integer in nanoseconds;
 *  - dur: seconds with an optional sign and fraction;
 *  - addr: dotted quad (stored IPv4-mapped) or any IPv6 text form;
 *  - mac: six hex pairs joined by ':' or '-';
 *  - bytes: hex digits, either case.
 * Returns 0, -FL_EINVAL (not a value of the type) or -FL_ENOMEM. */
int fl_text_parse(enum fl_type t, const char *s, size_t n, struct fl_batch *b, void *cell);

/* ---- Layouts ----------------------------------------------------------
 * A layout is the list of output fields bound to one schema: built once per
 * schema (compare batch->schema to fl_text_layout_schema()), then used for
 * every batch of that schema. */
enum fl_text_format {
    FL_TEXT_CSV = 0,   /* cells joined by sep, rows end in "\n" */
    FL_TEXT_JSON       /* one object per line: {"key":value,...}\n */
};

struct fl_text_style {
    enum fl_text_format format;
    enum fl_text_time time;
    char sep;            /* CSV separator; 0 = ',' */
};

struct fl_text_layout;   /* opaque */

/* Bind output fields to schema s. names[0..n) are the fields as the user
 * wrote them, each the CSV header cell and the JSON key; cols[i] is the
 * column of s that field i reads (-1: the schema lacks it, always
 * missing; cols == NULL: resolved with fl_schema_find).
 * names == NULL: every column of s, in order, under its own name.
 * The layout copies what it needs from names; s must outlive it (schemas
 * live as long as the runtime). */
int fl_text_layout_new(const struct fl_text_style *st, const struct fl_schema *s,
                       const char *const *names, const int *cols, size_t n,
                       struct fl_text_layout **out);
void fl_text_layout_destroy(struct fl_text_layout **l);
const struct fl_schema *fl_text_layout_schema(const struct fl_text_layout *l);
/* Number of output fields, and the schema column of output field i (-1 if
 * the schema lacks it). */
size_t fl_text_layout_nfields(const struct fl_text_layout *l);
int fl_text_layout_col(const struct fl_text_layout *l, size_t i);
/* Append the CSV header line (names, quoted as needed). JSON: nothing. */
int fl_text_layout_header(const struct fl_text_layout *l, struct fl_text_buf *b);
/* Append rows *row, *row + 1, ... of batch bt (whose schema must be the
 * layout's) until buf->len >= limit or the batch ends; *row is advanced
 * past the rows written (always at least one if any is left). Returns 0 or
 * a negative code (-FL_ENOMEM, -FL_EINVAL for a schema mismatch). */
int fl_text_layout_rows(const struct fl_text_layout *l, const struct fl_batch *bt,
                               uint32_t *row, struct fl_text_buf *buf, size_t limit);

/* ---- Buffered file writer with rotation -------------------------------
 * Text is appended to the writer's buffer (fl_text_file_buf) and written
 * with one write() per buffer when it reaches buf_size, on flush, on
 * rotation and on close; EINTR and short writes are retried, a
 * non-blocking descriptor is waited for with poll().
 *
 * Rotation (a real file only; "-" never rotates): the current file is
 * always `path`. When the file reaches rotate_size bytes (checked at row
 * boundaries, so a file exceeds it by less than one row), or when the wall
 * clock enters a new rotate_interval slot (slots are aligned to the Unix
 * epoch: 1h rotates on the hour UTC), `path` is renamed to
 * `path.YYYYMMDDThhmmssZ` (the UTC time the file was started; "-1", "-2"
 * ... appended if that name exists, never overwriting) and a new `path` is
 * started, which gets the header again through on_start. A file without
 * rows is never rotated (no empty files; its start time moves instead).
 * At open, when rotation is on and `path` already holds data, that file is
 * first renamed aside (named by its modification time), so a restart loses
 * nothing; without rotation an existing file is refused, truncated or
 * appended to (conf.existing).
 *
 * Errors are negative codes (-FL_EIO for a failed system call) with errno
 * left as the call set it, for the caller to log with fl_text_file_path().
 * Not thread-safe: one writer per stage. */
struct fl_text_file;     /* opaque */

/* What opening does with an existing regular file at `path` when rotation
 * is off (with rotation on, it is renamed aside as said above). Other
 * existing files (a FIFO, /dev/null, a terminal) are simply written to. A
 * file appended to that holds data has started already: on_start is not
 * called for it (no second CSV header). */
enum fl_text_existing {
    FL_TEXT_EXISTING_REFUSE = 0,    /* -FL_EIO with errno EEXIST */
    FL_TEXT_EXISTING_TRUNCATE,
    FL_TEXT_EXISTING_APPEND
};

struct fl_text_file_conf {
    const char *path;           /* file to write, "-" = stdout (copied) */
    enum fl_text_existing existing;
    uint64_t rotate_size;       /* bytes; 0 = off */
    uint64_t rotate_interval;   /* ns; 0 = off */
    uint64_t flush_interval;    /* ns: fl_text_file_tick() writes buffered
                                   text older than this; 0 = only when full */
    size_t buf_size;            /* bytes per write(); 0 = 1 MiB */
    /* Called when a file is started (at open and after each rotation) with
     * the empty buffer, e.g. to append a CSV header. NULL = nothing. */
    int (*on_start)(void *arg, struct fl_text_buf *b);
    void *arg;
};

/* Open (created with mode 0666 & ~umask) and start the first file.
 * now_ns: the wall clock (fl_now_ns()), for rotation slots and names. */
int fl_text_file_open(const struct fl_text_file_conf *c, uint64_t now_ns,
                             struct fl_text_file **out);
/* The buffer to append text to. Append whole rows, then commit them. */
struct fl_text_buf *fl_text_file_buf(struct fl_text_file *f);
/* Buffered length at which the next commit writes (and rotates, if the
 * file reached rotate_size): pass it as fl_text_layout_rows()'s limit. */
size_t fl_text_file_limit(const struct fl_text_file *f);
/* `rows` complete rows were appended: write if the buffer reached the
 * limit, rotate if the file reached rotate_size. */
int fl_text_file_commit(struct fl_text_file *f, uint64_t rows);
/* Format every row of a batch with layout l into the file, committing as
 * the buffer fills. *rows is set to the rows written, also on error (an I/O
 * error from a commit is -FL_EIO with errno set). */
int fl_text_file_write(struct fl_text_file *f, const struct fl_text_layout *l,
                              const struct fl_batch *b, uint32_t *rows);
/* Periodic: rotate on a new time slot, write text older than
 * flush_interval. now_ns is the wall clock. */
int fl_text_file_tick(struct fl_text_file *f, uint64_t now_ns);
/* Write everything buffered now. */
int fl_text_file_flush(struct fl_text_file *f);
/* Flush, close and free (*f = NULL), also when the flush fails (the error
 * is returned; text not written is lost). */
int fl_text_file_close(struct fl_text_file **f);
/* The path being written ("-" for stdout), for messages. */
const char *fl_text_file_path(const struct fl_text_file *f);
/* Bytes written with write() so far, over all files; files started. */
uint64_t fl_text_file_bytes(const struct fl_text_file *f);
uint64_t fl_text_file_files(const struct fl_text_file *f);

/* ---- Sink: a whole text output stage ---------------------------------
 * A plugin's state begins with a struct fl_text_sink; its option table
 * holds FL_TEXT_SINK_OPTS(its type, sink); its describe() sets the style and
 * calls fl_text_sink_describe(); its descriptor takes the other callbacks
 * from here (FL_TEXT_SINK_CALLBACKS).
 *
 * Columns: `fields` as written (bound through the core's typed binding,
 * so a name no declared input has is a `flowline check` error, and one a
 * batch lacks is a missing value), or else:
 *  - CSV: the fields of the first input schema (declared, or the first
 *    batch's); a later schema is written under the same header, matched by
 *    name (extra fields dropped, logged once per schema): one header and
 *    rows of equal width per file;
 *  - JSON: each batch's own fields (JSON lines describe themselves).
 * Files are written with the buffered writer above (rotation, flushing on
 * the wall clock, header again at each new file). The file is created when
 * the first record arrives, so a run that fails before (a missing input)
 * or writes nothing leaves what was there; an existing file is replaced
 * only with `overwrite`, added to only with `append` (flowline check
 * says so first). Counters rows_written and bytes_written; I/O errors are
 * logged with the path and fail the stage. */
struct fl_text_sink {
    /* options, written by the core (FL_TEXT_SINK_OPTS) */
    char *path;
    struct fl_strlist fields;
    uint64_t rotate_size, rotate_interval, flush_interval;
    int time_format;                    /* enum fl_text_time */
    bool overwrite, append;
    /* set by the plugin before fl_text_sink_describe() */
    struct fl_text_style style;         /* format, sep; time from time_format */
    bool header;                        /* CSV: a header line per file */
    /* private */
    struct fl_bind *bind;               /* the columns, once known (owned by the ctx:
                                         * describe() allocates nothing else) */
    size_t n;
    int *cols;                          /* per column: its index in `schema` */
    struct fl_text_layout *lay[8];      /* per schema, recently used (IPFIX
                                         * templates interleave) */
    unsigned lay_next;
    const struct fl_text_layout *cur;   /* the one of the batch at hand */
    struct fl_text_file *file;
    bool header_due;
    bool reopened;                      /* after reload: append to what is at path */
    uint64_t bytes_counted;
};

#define FL_TEXT_SINK_TIME_FORMATS ((const char *const[]){ "rfc3339", "epoch_ns", "epoch_s", NULL })

/* The option rows every text output has, for a sink at member m of T. */
#define FL_TEXT_SINK_OPTS(T, m)                                                           \
    { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(T, m.path), .def = "-",     \
      .doc = "file to write; \"-\" = standard output" },                                 \
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(T, m.fields),             \
      .doc = "fields in order (canonical, IANA or alias names, written as given); "       \
             "default: every field of the input" },                                       \
    { .name = "rotate_size", .type = FL_OPT_SIZE, .offset = offsetof(T, m.rotate_size),   \
      .def = "0", .unit = "bytes",                                                        \
      .doc = "start a new file when this one reaches this size; 0 = never" },             \
    { .name = "rotate_interval", .type = FL_OPT_DURATION,                                 \
      .offset = offsetof(T, m.rotate_interval), .def = "0",                               \
      .doc = "start a new file every interval of the wall clock, aligned to the epoch "   \
             "(1h = on the hour UTC); 0 = never" },                                       \
    { .name = "flush_interval", .type = FL_OPT_DURATION,                                  \
      .offset = offsetof(T, m.flush_interval), .def = "1s",                               \
      .doc = "write buffered records at most this long after they arrive; 0 = only when " \
             "the 1 MiB buffer is full" },                                                \
    { .name = "time_format", .type = FL_OPT_ENUM, .offset = offsetof(T, m.time_format),   \
      .def = "rfc3339", .choices = FL_TEXT_SINK_TIME_FORMATS,                             \
      .doc = "timestamps as RFC 3339 UTC with nanoseconds, epoch nanoseconds or epoch "   \
             "seconds" },                                                                 \
    { .name = "overwrite", .type = FL_OPT_BOOL, .offset = offsetof(T, m.overwrite),       \
      .def = "false", .doc = "replace an existing file (otherwise an existing file is "   \
                             "refused; with rotation it is renamed aside instead)" },     \
    { .name = "append", .type = FL_OPT_BOOL, .offset = offsetof(T, m.append),             \
      .def = "false", .doc = "add to an existing file (without rotation)" }

/* In describe(): check the options and `fields` against the declared
 * inputs. */
int fl_text_sink_describe(struct fl_ctx *ctx, struct fl_text_sink *s,
                          const struct fl_schema *const *in, size_t n_in);

/* Plugin callbacks; state is the plugin's, beginning with the sink.
 * tick rotates and flushes on the wall clock. */
int fl_text_sink_process(struct fl_ctx *ctx, void *state, struct fl_batch *b);
int fl_text_sink_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns);
int fl_text_sink_drain(struct fl_ctx *ctx, void *state);
void fl_text_sink_fini(struct fl_ctx *ctx, void *state);
/* SIGHUP: write and close the file; the next record opens `path` again,
 * appending (logrotate moved the old one away, or truncated it). */
int fl_text_sink_reload(struct fl_ctx *ctx, void *state);
#define FL_TEXT_SINK_CALLBACKS                                                   \
    .process = fl_text_sink_process, .reload = fl_text_sink_reload,              \
    .tick = fl_text_sink_tick, .drain = fl_text_sink_drain, .fini = fl_text_sink_fini

#ifdef __cplusplus
}
#endif
#endif
