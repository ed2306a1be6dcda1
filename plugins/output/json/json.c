/* json.c: output.json, records as JSON lines (one object per line, RFC 8259
 * values) to a file or stdout, with rotation. The text sink
 * (plugins/lib/text) does the work; this file is the option table.
 *
 * Keys: `fields` as written, or else every field of each batch's own
 * schema (JSON lines describe themselves, so batches of different schemas
 * may share a file). A missing value, and a field of `fields` that the
 * input lacks, is null: the key is kept, so all lines of one schema have
 * the same keys. */
#include <stddef.h>
#include <flowline/plugin.h>
#include "fl_text.h"

struct json {
    struct fl_text_sink sink;   /* first: the sink's callbacks take this state */   /* path, fields, rotation, time_format */
};

_Static_assert(offsetof(struct json, sink) == 0, "the text sink begins the state");

static const struct fl_opt json_opts[] = {
    FL_TEXT_SINK_OPTS(struct json, sink),
    { 0 }
};

static int json_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                         size_t n_in, struct fl_schema_decl *const *out)
{
    struct json *j = state;
    j->sink.style = (struct fl_text_style){ .format = FL_TEXT_JSON };
    return fl_text_sink_describe(ctx, &j->sink, in, n_in);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "json", .version = "1.0",
                 .summary = "write records as JSON lines to a file or stdout, with rotation",
                 .opts = json_opts, .state_size = sizeof(struct json),
                 .describe = json_describe, FL_TEXT_SINK_CALLBACKS);
