/* csv.c: output.csv, records as CSV (RFC 4180) to a file or stdout, with
 * rotation. Formatting and writing are flowline/text.h's; this file binds
 * the `fields` option to each input schema, keeps one column set per file
 * and counts what it wrote.
 *
 * Columns: `fields` as written, or else the fields of the first input
 * schema (declared at check time, or of the first batch when the input is
 * open). A later batch whose schema differs is written under the same
 * header: its columns are matched by name, a missing one is an empty cell
 * and an extra one is dropped (both logged once per schema), so every file
 * has one header and rows of equal width. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/plugin.h>
#include <flowline/text.h>

#define CSV_LAYOUTS 8   /* schemas bound at once (an IPFIX input has a few) */

struct csv {
    /* options */
    char *path;
    struct fl_strlist fields;
    bool header;
    char *separator;
    uint64_t rotate_size, rotate_interval, flush_interval;
    int time_format;
    /* run time */
    const struct fl_schema *declared;   /* input schema from describe; NULL = open */
    const char *const *cols;            /* output columns; NULL until known */
    const char **first_cols;            /* owned array when taken from a schema */
    size_t ncols;
    struct fl_text_file *file;
    struct fl_text_layout *lay[CSV_LAYOUTS];
    unsigned lay_next;
    bool header_due;                    /* the current file still needs its header */
    uint64_t bytes_counted;
};

static const char *const csv_time_formats[] = { "rfc3339", "epoch_ns", "epoch_s", NULL };

static const struct fl_opt csv_opts[] = {
    { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(struct csv, path),
      .def = "-", .doc = "file to write; \"-\" = standard output" },
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(struct csv, fields),
      .doc = "columns in order (canonical, IANA or alias names, printed as written); "
             "default: every field of the input" },
    { .name = "header", .type = FL_OPT_BOOL, .offset = offsetof(struct csv, header),
      .def = "true", .doc = "write a header line at the start of each file" },
    { .name = "separator", .type = FL_OPT_STRING, .offset = offsetof(struct csv, separator),
      .def = ",", .doc = "one-character cell separator (\"\\t\" for TSV)" },
    { .name = "rotate_size", .type = FL_OPT_SIZE, .offset = offsetof(struct csv, rotate_size),
      .def = "0", .unit = "bytes",
      .doc = "start a new file when this one reaches this size; 0 = never" },
    { .name = "rotate_interval", .type = FL_OPT_DURATION,
      .offset = offsetof(struct csv, rotate_interval), .def = "0",
      .doc = "start a new file every interval of the wall clock, aligned to the epoch "
             "(1h = on the hour UTC); 0 = never" },
    { .name = "flush_interval", .type = FL_OPT_DURATION,
      .offset = offsetof(struct csv, flush_interval), .def = "1s",
      .doc = "write buffered rows at most this long after they arrive; 0 = only when "
             "the 1 MiB buffer is full" },
    { .name = "time_format", .type = FL_OPT_ENUM, .offset = offsetof(struct csv, time_format),
      .def = "rfc3339", .choices = csv_time_formats,
      .doc = "timestamps as RFC 3339 UTC with nanoseconds, epoch nanoseconds or epoch "
             "seconds" },
    { 0 }
};

static int csv_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                        size_t n_in, struct fl_schema_decl *const *out)
{
    struct csv *c = state;
    int rc = 0;
    const char *sep = c->separator ? c->separator : ",";
    if (strlen(sep) != 1 || strchr("\"\r\n", sep[0]))
        rc = fl_diag(ctx, "separator",
                     "separator must be one character other than '\"', CR or LF, not \"%s\"",
                     sep);
    if (c->path && strcmp(c->path, "-") == 0 && (c->rotate_size || c->rotate_interval))
        rc = fl_diag(ctx, c->rotate_size ? "rotate_size" : "rotate_interval",
                     "standard output cannot be rotated; set path to a file");
    c->declared = n_in ? in[0] : NULL;
    int frc = fl_text_fields_check(ctx, "fields", c->declared, &c->fields);
    if (frc < 0)
        rc = frc;
    out[0]->schema = NULL;   /* terminal: nothing flows on */
    return rc;
}

/* The output columns from schema s, when `fields` is not given. */
static int csv_cols_from(struct csv *c, const struct fl_schema *s)
{
    c->first_cols = calloc(s->ncols ? s->ncols : 1, sizeof *c->first_cols);
    if (!c->first_cols)
        return -FL_ENOMEM;
    for (uint32_t i = 0; i < s->ncols; i++)
        c->first_cols[i] = s->cols[i]->name;   /* interned: live as long as s */
    c->cols = c->first_cols;
    c->ncols = s->ncols;
    return 0;
}

/* The header line from the columns (quoted like any cell). */
static int csv_write_header(struct csv *c, struct fl_text_buf *b)
{
    char sep = c->separator ? c->separator[0] : ',';
    int rc;
    c->header_due = false;
    if (!c->header)
        return 0;
    for (size_t i = 0; i < c->ncols; i++) {
        if (i && (rc = fl_text_buf_put(b, &sep, 1)) < 0)
            return rc;
        if ((rc = fl_text_csv_str(b, c->cols[i], strlen(c->cols[i]), sep)) < 0)
            return rc;
    }
    return fl_text_buf_put(b, "\n", 1);
}

/* File writer callback: a new file starts. The header needs the columns,
 * which an open input without `fields` only gives with its first batch. */
static int csv_on_start(void *arg, struct fl_text_buf *b)
{
    struct csv *c = arg;
    c->header_due = true;
    return c->cols ? csv_write_header(c, b) : 0;
}

/* The layout for schema s: bound once per schema, kept for the next batch. */
static int csv_bind(struct fl_ctx *ctx, struct csv *c, const struct fl_schema *s,
                    struct fl_text_layout **out)
{
    for (unsigned i = 0; i < CSV_LAYOUTS; i++)
        if (c->lay[i] && fl_text_layout_schema(c->lay[i]) == s) {
            *out = c->lay[i];
            return 0;
        }
    int rc;
    if (!c->cols && (rc = csv_cols_from(c, s)) < 0)
        return rc;
    struct fl_text_style st = { .format = FL_TEXT_CSV,
                                .time = (enum fl_text_time)c->time_format,
                                .sep = c->separator ? c->separator[0] : ',' };
    struct fl_text_layout *l;
    if ((rc = fl_text_layout_new(&st, s, c->cols, c->ncols, &l)) < 0)
        return rc;
    unsigned slot = c->lay_next++ % CSV_LAYOUTS;
    fl_text_layout_destroy(&c->lay[slot]);
    c->lay[slot] = l;
    for (size_t i = 0; i < c->ncols; i++)
        if (fl_text_layout_col(l, i) < 0)
            FL_LOG_WARN(ctx, "field \"%s\" is not in the input (schema %llu); "
                        "written as empty cells", c->cols[i], (unsigned long long)s->id);
    for (uint32_t j = 0; j < s->ncols; j++) {
        bool used = false;
        for (size_t i = 0; i < c->ncols && !used; i++)
            used = fl_text_layout_col(l, i) == (int)j;
        if (!used && c->fields.n == 0)
            FL_LOG_WARN(ctx, "input field \"%s\" (schema %llu) is not a column of this "
                        "file (columns come from the first input); dropped",
                        s->cols[j]->name, (unsigned long long)s->id);
    }
    *out = l;
    return 0;
}

static int csv_init(struct fl_ctx *ctx, void *state)
{
    struct csv *c = state;
    if (c->fields.n) {
        c->cols = (const char *const *)c->fields.v;
        c->ncols = c->fields.n;
    } else if (c->declared) {
        return csv_cols_from(c, c->declared);
    }
    return 0;
}

static int csv_start(struct fl_ctx *ctx, void *state)
{
    struct csv *c = state;
    int rc;
    struct fl_text_file_conf fc = {
        .path = c->path ? c->path : "-",
        .rotate_size = c->rotate_size, .rotate_interval = c->rotate_interval,
        .flush_interval = c->flush_interval,
        .on_start = csv_on_start, .arg = c,
    };
    if ((rc = fl_text_file_open(&fc, fl_now_ns(), &c->file)) < 0)
        FL_LOG_ERROR(ctx, "cannot open \"%s\": %s", fc.path,
                     rc == -FL_EIO ? strerror(errno) : fl_strerror(rc));
    return rc;
}

/* Rows and bytes out, per batch. */
static void csv_count(struct fl_ctx *ctx, struct csv *c, uint64_t rows)
{
    uint64_t bytes = fl_text_file_bytes(c->file);
    if (rows)
        fl_counter_add(ctx, "rows_written", rows);
    if (bytes != c->bytes_counted)
        fl_counter_add(ctx, "bytes_written", bytes - c->bytes_counted);
    c->bytes_counted = bytes;
}

static int csv_io_error(struct fl_ctx *ctx, struct csv *c, int rc, const char *what)
{
    FL_LOG_ERROR(ctx, "%s \"%s\": %s", what, fl_text_file_path(c->file),
                 rc == -FL_EIO ? strerror(errno) : fl_strerror(rc));
    return rc;
}

static int csv_process(struct fl_ctx *ctx, void *state, struct fl_batch *in)
{
    struct csv *c = state;
    struct fl_text_layout *l;
    int rc = csv_bind(ctx, c, in->schema, &l);
    if (rc < 0)
        return rc;
    if (c->header_due && (rc = csv_write_header(c, fl_text_file_buf(c->file))) < 0)
        return rc;
    uint32_t rows;
    rc = fl_text_file_write(c->file, l, in, &rows);
    csv_count(ctx, c, rows);
    if (rc < 0)
        return csv_io_error(ctx, c, rc, "cannot write");
    if ((rc = fl_text_file_tick(c->file, fl_now_ns())) < 0)
        return csv_io_error(ctx, c, rc, "cannot write or rotate");
    return 0;
}

/* Wall clock, not the stage clock: rotation and flushing are about the
 * files on disk, also while a recorded capture is replayed. */
static int csv_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    struct csv *c = state;
    int rc = fl_text_file_tick(c->file, fl_now_ns());
    csv_count(ctx, c, 0);
    return rc < 0 ? csv_io_error(ctx, c, rc, "cannot write or rotate") : 0;
}

static int csv_drain(struct fl_ctx *ctx, void *state)
{
    struct csv *c = state;
    int rc = fl_text_file_flush(c->file);
    csv_count(ctx, c, 0);
    return rc < 0 ? csv_io_error(ctx, c, rc, "cannot write") : 0;
}

static void csv_fini(struct fl_ctx *ctx, void *state)
{
    struct csv *c = state;
    if (c->file) {
        char *path = strdup(fl_text_file_path(c->file));
        int rc = fl_text_file_close(&c->file);
        if (rc < 0)
            FL_LOG_ERROR(ctx, "cannot write \"%s\": %s", path ? path : "?",
                         rc == -FL_EIO ? strerror(errno) : fl_strerror(rc));
        free(path);
    }
    for (unsigned i = 0; i < CSV_LAYOUTS; i++)
        fl_text_layout_destroy(&c->lay[i]);
    free(c->first_cols);
    c->first_cols = NULL;
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "csv", .version = "1.0",
                 .summary = "write records as CSV to a file or stdout, with rotation",
                 .opts = csv_opts, .state_size = sizeof(struct csv),
                 .describe = csv_describe, .init = csv_init, .start = csv_start,
                 .process = csv_process, .tick = csv_tick, .drain = csv_drain,
                 .fini = csv_fini);
