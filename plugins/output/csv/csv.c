/* csv.c: output.csv, records as CSV (RFC 4180) to a file or stdout, with
 * rotation. The text sink (plugins/lib/text) does the work: binding the
 * columns, formatting, writing, rotating, counting. This file is the
 * option table and what only CSV has: a header line and a separator.
 *
 * Columns: `fields` as written, or else the fields of the first input
 * schema (declared at check time, or of the first batch when the input is
 * open). A later batch whose schema differs is written under the same
 * header: its columns are matched by name, a missing one is an empty cell
 * and an extra one is dropped (both logged once per schema), so every file
 * has one header and rows of equal width. */
#include <stddef.h>
#include <string.h>
#include <flowline/plugin.h>
#include "fl_text.h"

struct csv {
    struct fl_text_sink sink;   /* first: the sink's callbacks take this state */   /* path, fields, rotation, time_format */
    bool header;
    char *separator;
};

_Static_assert(offsetof(struct csv, sink) == 0, "the text sink begins the state");

static const struct fl_opt csv_opts[] = {
    FL_TEXT_SINK_OPTS(struct csv, sink),
    { .name = "header", .type = FL_OPT_BOOL, .offset = offsetof(struct csv, header),
      .def = "true", .doc = "write a header line at the start of each file" },
    { .name = "separator", .type = FL_OPT_STRING, .offset = offsetof(struct csv, separator),
      .def = ",", .doc = "one-character cell separator (\"\\t\" for TSV)" },
    { 0 }
};

static int csv_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                        size_t n_in, struct fl_schema_decl *const *out)
{
    struct csv *c = state;
    const char *sep = c->separator ? c->separator : ",";
    int rc = 0;
    if (strlen(sep) != 1 || strchr("\"\r\n", sep[0]))
        rc = fl_diag(ctx, "separator",
                     "separator must be one character other than '\"', CR or LF, not \"%s\"",
                     sep);
    c->sink.style = (struct fl_text_style){ .format = FL_TEXT_CSV, .sep = sep[0] };
    c->sink.header = c->header;
    int src = fl_text_sink_describe(ctx, &c->sink, in, n_in);
    return rc < 0 ? rc : src;
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "csv", .version = "1.0",
                 .summary = "write records as CSV to a file or stdout, with rotation",
                 .opts = csv_opts, .state_size = sizeof(struct csv),
                 .describe = csv_describe, FL_TEXT_SINK_CALLBACKS);
