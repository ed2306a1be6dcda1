/* text_sink.c: the sink of fl_text.h: everything a text output stage does
 * besides choosing its format: checking its options, binding its columns to
 * each input schema through the core's typed binding, formatting batches
 * with a layout, writing and rotating the file, counting and reporting
 * errors. output.csv and output.json are this plus their option tables. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/plugin.h>
#include "fl_text.h"

static bool sink_all_fields(const struct fl_text_sink *s)
{
    return s->style.format == FL_TEXT_JSON && s->fields.n == 0;
}

/* The columns: `fields` (named by the user), or the fields of schema sc,
 * as a binding (it keeps their names). */
static int sink_columns(struct fl_ctx *ctx, struct fl_text_sink *s, const struct fl_schema *sc)
{
    bool named = s->fields.n > 0;
    size_t n = named ? s->fields.n : sc->ncols;
    struct fl_want *w = calloc(n ? n : 1, sizeof(*w));
    if (!w)
        return -FL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        w[i] = (struct fl_want){ .name = named ? s->fields.v[i] : sc->cols[i]->name,
                                 .flags = named ? FL_WANT_NAMED : 0 };
    s->n = n;
    int rc = fl_bind_new(ctx, w, n, sizeof(w[0]), &s->bind);
    free(w);
    return rc;
}

int fl_text_sink_describe(struct fl_ctx *ctx, struct fl_text_sink *s,
                          const struct fl_schema *const *in, size_t n_in)
{
    int rc = 0;
    bool rotating = s->rotate_size || s->rotate_interval;
    s->style.time = (enum fl_text_time)s->time_format;
    if (s->path && strcmp(s->path, "-") == 0 && rotating)
        rc = fl_diag(ctx, s->rotate_size ? "rotate_size" : "rotate_interval",
                     "standard output cannot be rotated; set path to a file");
    if (s->overwrite && s->append)
        rc = fl_diag(ctx, "append", "append and overwrite exclude each other");
    int prc = fl_path_declare(ctx, "path", s->path, FL_PATH_WRITE
                              | (s->overwrite || s->append || rotating ? FL_PATH_KEEPS_EXISTING : 0));
    if (prc < 0)
        return prc;
    if (!s->bind && !sink_all_fields(s) && (s->fields.n || (n_in && in[0]))) {
        int crc = sink_columns(ctx, s, s->fields.n ? NULL : in[0]);
        if (crc < 0)
            return crc;
    }
    if (s->bind && s->fields.n && fl_bind_check(ctx, s->bind, "fields", in, n_in) < 0)
        rc = -FL_EINVAL;
    return rc;
}

/* The CSV header from the column names, quoted like any cell. */
static int sink_header(struct fl_text_sink *s, struct fl_text_buf *b)
{
    char sep = s->style.sep ? s->style.sep : ',';
    int rc;
    s->header_due = false;
    if (!s->header || s->style.format != FL_TEXT_CSV)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        const char *name = fl_bind_name(s->bind, i);
        if ((i && (rc = fl_text_buf_put(b, &sep, 1)) < 0)
            || (rc = fl_text_csv_str(b, name, strlen(name), sep)) < 0)
            return rc;
    }
    return fl_text_buf_put(b, "\n", 1);
}

/* File writer callback: a new file starts. An open input without `fields`
 * gives the columns, and so the header, only with its first batch. */
static int sink_on_start(void *arg, struct fl_text_buf *b)
{
    struct fl_text_sink *s = arg;
    s->header_due = true;
    return s->bind ? sink_header(s, b) : 0;
}

static int sink_io_error(struct fl_ctx *ctx, struct fl_text_sink *s, int rc, const char *what)
{
    FL_LOG_ERROR(ctx, "%s \"%s\": %s", what, s->file ? fl_text_file_path(s->file) : s->path,
                 rc == -FL_EIO ? strerror(errno) : fl_strerror(rc));
    return rc;
}

/* The file is opened with the first record, never before. */
static int sink_open(struct fl_ctx *ctx, struct fl_text_sink *s)
{
    struct fl_text_file_conf fc = {
        .path = s->path ? s->path : "-",
        .existing = s->overwrite && !s->reopened ? FL_TEXT_EXISTING_TRUNCATE
                  : s->append || s->reopened ? FL_TEXT_EXISTING_APPEND : FL_TEXT_EXISTING_REFUSE,
        .rotate_size = s->rotate_size, .rotate_interval = s->rotate_interval,
        .flush_interval = s->flush_interval,
        .on_start = sink_on_start, .arg = s,
    };
    int rc = fl_text_file_open(&fc, fl_now_ns(), &s->file);
    if (rc == -FL_EIO && errno == EEXIST)
        FL_LOG_ERROR(ctx, "\"%s\" exists; flowline does not replace a file unasked "
                     "(overwrite: true replaces it, append: true adds to it)", fc.path);
    else if (rc < 0)
        sink_io_error(ctx, s, rc, "cannot open");
    return rc;
}

/* A CSV file has the columns of the first schema: say once per schema
 * which fields of a later one have no column. */
static void sink_warn_dropped(struct fl_ctx *ctx, const struct fl_text_sink *s,
                              const struct fl_schema *sc)
{
    for (uint32_t j = 0; j < sc->ncols; j++) {
        bool used = false;
        for (size_t i = 0; i < s->n && !used; i++)
            used = s->cols[i] == (int)j;
        if (!used)
            FL_LOG_WARN(ctx, "input field \"%s\" (schema %llu) is not a column of this file "
                        "(columns come from the first input); dropped",
                        sc->cols[j]->name, (unsigned long long)sc->id);
    }
}

#define SINK_LAYOUTS (sizeof(((struct fl_text_sink *)0)->lay) / sizeof(struct fl_text_layout *))

/* s->cur: the layout for b's schema, from the cache or made (and the
 * dropped fields said) when a schema is new. */
static int sink_layout(struct fl_ctx *ctx, struct fl_text_sink *s, const struct fl_batch *b)
{
    int rc;
    if (s->cur && fl_text_layout_schema(s->cur) == b->schema)
        return 0;
    for (unsigned i = 0; i < SINK_LAYOUTS; i++)
        if (s->lay[i] && fl_text_layout_schema(s->lay[i]) == b->schema) {
            s->cur = s->lay[i];
            return 0;
        }
    if (!s->bind && !sink_all_fields(s) && (rc = sink_columns(ctx, s, b->schema)) < 0)
        return rc;
    const char **names = NULL;
    if (s->bind) {
        if ((!s->cols && !(s->cols = calloc(s->n ? s->n : 1, sizeof(*s->cols))))
            || !(names = calloc(s->n ? s->n : 1, sizeof(*names))))
            return -FL_ENOMEM;
        if ((rc = fl_bind_batch(ctx, s->bind, b)) < 0) {
            free(names);
            return rc;
        }
        for (size_t i = 0; i < s->n; i++) {
            s->cols[i] = fl_bind_col(s->bind, i);
            names[i] = fl_bind_name(s->bind, i);
        }
    }
    struct fl_text_layout **slot = &s->lay[s->lay_next++ % SINK_LAYOUTS];
    fl_text_layout_destroy(slot);
    s->cur = NULL;
    rc = fl_text_layout_new(&s->style, b->schema, names, s->cols, s->n, slot);
    free(names);
    if (rc < 0)
        return rc;
    s->cur = *slot;
    if (s->bind && !s->fields.n)
        sink_warn_dropped(ctx, s, b->schema);
    return 0;
}

/* Rows and bytes out, per batch. */
static void sink_count(struct fl_ctx *ctx, struct fl_text_sink *s, uint64_t rows)
{
    uint64_t bytes = s->file ? fl_text_file_bytes(s->file) : 0;
    if (rows)
        fl_counter_add(ctx, "rows_written", rows);
    if (bytes != s->bytes_counted)
        fl_counter_add(ctx, "bytes_written", bytes - s->bytes_counted);
    s->bytes_counted = bytes;
}

int fl_text_sink_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct fl_text_sink *s = state;
    uint32_t rows;
    int rc;
    if (!b->rows)
        return 0;
    if ((!s->file && (rc = sink_open(ctx, s)) < 0) || (rc = sink_layout(ctx, s, b)) < 0)
        return rc;
    if (s->header_due && (rc = sink_header(s, fl_text_file_buf(s->file))) < 0)
        return rc;
    rc = fl_text_file_write(s->file, s->cur, b, &rows);
    sink_count(ctx, s, rows);
    if (rc < 0)
        return sink_io_error(ctx, s, rc, "cannot write");
    if ((rc = fl_text_file_tick(s->file, fl_now_ns())) < 0)
        return sink_io_error(ctx, s, rc, "cannot write or rotate");
    return 0;
}

/* Wall clock, not the stage clock: rotation and flushing are about the
 * files on disk, also while a recorded capture is replayed. */
int fl_text_sink_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    struct fl_text_sink *s = state;
    int rc = s->file ? fl_text_file_tick(s->file, fl_now_ns()) : 0;
    sink_count(ctx, s, 0);
    return rc < 0 ? sink_io_error(ctx, s, rc, "cannot write or rotate") : 0;
}

int fl_text_sink_drain(struct fl_ctx *ctx, void *state)
{
    struct fl_text_sink *s = state;
    int rc = s->file ? fl_text_file_flush(s->file) : 0;
    sink_count(ctx, s, 0);
    return rc < 0 ? sink_io_error(ctx, s, rc, "cannot write") : 0;
}

/* Write what is buffered, count it and close; the file is opened again
 * with the next record. */
static int sink_close(struct fl_ctx *ctx, struct fl_text_sink *s)
{
    if (!s->file)
        return 0;
    int rc = fl_text_file_flush(s->file);
    sink_count(ctx, s, 0);
    if (rc < 0)
        sink_io_error(ctx, s, rc, "cannot write");
    int rc2 = fl_text_file_close(&s->file);
    if (rc2 < 0 && rc == 0)
        rc = sink_io_error(ctx, s, rc2, "cannot write");
    s->bytes_counted = 0;
    return rc;
}

int fl_text_sink_reload(struct fl_ctx *ctx, void *state)
{
    struct fl_text_sink *s = state;
    if (!s->file || strcmp(fl_text_file_path(s->file), "-") == 0)
        return 0;
    s->reopened = true;
    return sink_close(ctx, s);
}

void fl_text_sink_fini(struct fl_ctx *ctx, void *state)
{
    struct fl_text_sink *s = state;
    sink_close(ctx, s);
    for (unsigned i = 0; i < SINK_LAYOUTS; i++)
        fl_text_layout_destroy(&s->lay[i]);
    s->cur = NULL;
    free(s->cols);
    s->cols = NULL;
}
