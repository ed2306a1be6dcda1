/* json.c: output.json, records as JSON lines (one object per line, RFC 8259
 * values) to a file or stdout, with rotation. Formatting and writing are
 * flowline/text.h's; this file binds the `fields` option to each input
 * schema and counts what it wrote.
 *
 * Keys: `fields` as written, or else every field of each batch's own
 * schema (JSON lines describe themselves, so batches of different schemas
 * may share a file). A missing value, and a field of `fields` that the
 * input lacks, is null: the key is kept, so all lines of one schema have
 * the same keys. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/plugin.h>
#include <flowline/text.h>

#define JSON_LAYOUTS 8   /* schemas bound at once (an IPFIX input has a few) */

struct json {
    /* options */
    char *path;
    struct fl_strlist fields;
    uint64_t rotate_size, rotate_interval, flush_interval;
    int time_format;
    /* run time */
    struct fl_text_file *file;
    struct fl_text_layout *lay[JSON_LAYOUTS];
    unsigned lay_next;
    uint64_t bytes_counted;
};

static const char *const json_time_formats[] = { "rfc3339", "epoch_ns", "epoch_s", NULL };

static const struct fl_opt json_opts[] = {
    { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(struct json, path),
      .def = "-", .doc = "file to write; \"-\" = standard output" },
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(struct json, fields),
      .doc = "keys in order (canonical, IANA or alias names, written as given); "
             "default: every field of the input" },
    { .name = "rotate_size", .type = FL_OPT_SIZE, .offset = offsetof(struct json, rotate_size),
      .def = "0", .unit = "bytes",
      .doc = "start a new file when this one reaches this size; 0 = never" },
    { .name = "rotate_interval", .type = FL_OPT_DURATION,
      .offset = offsetof(struct json, rotate_interval), .def = "0",
      .doc = "start a new file every interval of the wall clock, aligned to the epoch "
             "(1h = on the hour UTC); 0 = never" },
    { .name = "flush_interval", .type = FL_OPT_DURATION,
      .offset = offsetof(struct json, flush_interval), .def = "1s",
      .doc = "write buffered lines at most this long after they arrive; 0 = only when "
             "the 1 MiB buffer is full" },
    { .name = "time_format", .type = FL_OPT_ENUM, .offset = offsetof(struct json, time_format),
      .def = "rfc3339", .choices = json_time_formats,
      .doc = "timestamps as RFC 3339 UTC strings with nanoseconds, epoch nanoseconds or "
             "epoch seconds (numbers)" },
    { 0 }
};

static int json_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                         size_t n_in, struct fl_schema_decl *const *out)
{
    struct json *j = state;
    int rc = 0;
    if (j->path && strcmp(j->path, "-") == 0 && (j->rotate_size || j->rotate_interval))
        rc = fl_diag(ctx, j->rotate_size ? "rotate_size" : "rotate_interval",
                     "standard output cannot be rotated; set path to a file");
    int frc = fl_text_fields_check(ctx, "fields", n_in ? in[0] : NULL, &j->fields);
    if (frc < 0)
        rc = frc;
    out[0]->schema = NULL;   /* terminal: nothing flows on */
    return rc;
}

/* The layout for schema s: bound once per schema, kept for the next batch. */
static int json_bind(struct fl_ctx *ctx, struct json *j, const struct fl_schema *s,
                     struct fl_text_layout **out)
{
    for (unsigned i = 0; i < JSON_LAYOUTS; i++)
        if (j->lay[i] && fl_text_layout_schema(j->lay[i]) == s) {
            *out = j->lay[i];
            return 0;
        }
    struct fl_text_style st = { .format = FL_TEXT_JSON,
                                .time = (enum fl_text_time)j->time_format };
    const char *const *names = j->fields.n ? (const char *const *)j->fields.v : NULL;
    struct fl_text_layout *l;
    int rc = fl_text_layout_new(&st, s, names, j->fields.n, &l);
    if (rc < 0)
        return rc;
    unsigned slot = j->lay_next++ % JSON_LAYOUTS;
    fl_text_layout_destroy(&j->lay[slot]);
    j->lay[slot] = l;
    for (size_t i = 0; i < j->fields.n; i++)
        if (fl_text_layout_col(l, i) < 0)
            FL_LOG_WARN(ctx, "field \"%s\" is not in the input (schema %llu); written as null",
                        j->fields.v[i], (unsigned long long)s->id);
    *out = l;
    return 0;
}

static int json_start(struct fl_ctx *ctx, void *state)
{
    struct json *j = state;
    struct fl_text_file_conf fc = {
        .path = j->path ? j->path : "-",
        .rotate_size = j->rotate_size, .rotate_interval = j->rotate_interval,
        .flush_interval = j->flush_interval,
    };
    int rc = fl_text_file_open(&fc, fl_now_ns(), &j->file);
    if (rc < 0)
        FL_LOG_ERROR(ctx, "cannot open \"%s\": %s", fc.path,
                     rc == -FL_EIO ? strerror(errno) : fl_strerror(rc));
    return rc;
}

/* Rows and bytes out, per batch. */
static void json_count(struct fl_ctx *ctx, struct json *j, uint64_t rows)
{
    uint64_t bytes = fl_text_file_bytes(j->file);
    if (rows)
        fl_counter_add(ctx, "rows_written", rows);
    if (bytes != j->bytes_counted)
        fl_counter_add(ctx, "bytes_written", bytes - j->bytes_counted);
    j->bytes_counted = bytes;
}

static int json_io_error(struct fl_ctx *ctx, struct json *j, int rc, const char *what)
{
    FL_LOG_ERROR(ctx, "%s \"%s\": %s", what, fl_text_file_path(j->file),
                 rc == -FL_EIO ? strerror(errno) : fl_strerror(rc));
    return rc;
}

static int json_process(struct fl_ctx *ctx, void *state, struct fl_batch *in)
{
    struct json *j = state;
    struct fl_text_layout *l;
    int rc = json_bind(ctx, j, in->schema, &l);
    if (rc < 0)
        return rc;
    uint32_t rows;
    rc = fl_text_file_write(j->file, l, in, &rows);
    json_count(ctx, j, rows);
    if (rc < 0)
        return json_io_error(ctx, j, rc, "cannot write");
    if ((rc = fl_text_file_tick(j->file, fl_now_ns())) < 0)
        return json_io_error(ctx, j, rc, "cannot write or rotate");
    return 0;
}

/* Wall clock, not the stage clock: rotation and flushing are about the
 * files on disk, also while a recorded capture is replayed. */
static int json_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    struct json *j = state;
    int rc = fl_text_file_tick(j->file, fl_now_ns());
    json_count(ctx, j, 0);
    return rc < 0 ? json_io_error(ctx, j, rc, "cannot write or rotate") : 0;
}

static int json_drain(struct fl_ctx *ctx, void *state)
{
    struct json *j = state;
    int rc = fl_text_file_flush(j->file);
    json_count(ctx, j, 0);
    return rc < 0 ? json_io_error(ctx, j, rc, "cannot write") : 0;
}

static void json_fini(struct fl_ctx *ctx, void *state)
{
    struct json *j = state;
    if (j->file) {
        char *path = strdup(fl_text_file_path(j->file));
        int rc = fl_text_file_close(&j->file);
        if (rc < 0)
            FL_LOG_ERROR(ctx, "cannot write \"%s\": %s", path ? path : "?",
                         rc == -FL_EIO ? strerror(errno) : fl_strerror(rc));
        free(path);
    }
    for (unsigned i = 0; i < JSON_LAYOUTS; i++)
        fl_text_layout_destroy(&j->lay[i]);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "json", .version = "1.0",
                 .summary = "write records as JSON lines to a file or stdout, with rotation",
                 .opts = json_opts, .state_size = sizeof(struct json),
                 .describe = json_describe, .start = json_start,
                 .process = json_process, .tick = json_tick, .drain = json_drain,
                 .fini = json_fini);
