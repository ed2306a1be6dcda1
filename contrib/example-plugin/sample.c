/* sample.c: an out-of-tree flowline plugin, transform.sample: keeps one row
 * in every N (systematic sampling). It includes only the installed public
 * headers and links libflowline; build it with
 *
 *   cc -shared -fPIC -o flowline-transform-sample.so sample.c \
 *      $(pkg-config --cflags --libs flowline)
 *
 * and put the .so in a directory named by FLOWLINE_PLUGIN_PATH. */
#include <stddef.h>
#include <stdlib.h>
#include <flowline/plugin.h>

struct sample {
    uint64_t every;     /* option: keep one row in `every` */
    uint64_t seen;      /* rows seen so far, across batches */
};

static const struct fl_opt sample_opts[] = {
    { .name = "every", .type = FL_OPT_UINT, .offset = offsetof(struct sample, every),
      .def = "10", .min = "1", .unit = "rows", .doc = "keep one row in every N" },
    { 0 }
};

/* Output schema = input schema: the rows keep their fields. */
static int sample_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                           size_t n_in, struct fl_schema_decl *const *out)
{
    out[0]->schema = n_in ? in[0] : NULL;
    return 0;
}

static int sample_process(struct fl_ctx *ctx, void *state, struct fl_batch *in)
{
    struct sample *s = state;
    uint64_t *keep = calloc((in->rows + 63) / 64, sizeof(uint64_t));
    struct fl_batch *out = NULL;
    int rc;
    if (!keep)
        return -FL_ENOMEM;
    for (uint32_t r = 0; r < in->rows; r++, s->seen++)
        if (s->seen % s->every == 0)
            keep[r / 64] |= 1ull << (r % 64);
    rc = fl_batch_filter(ctx, in, keep, &out);
    free(keep);
    if (rc < 0)
        return rc;
    fl_counter_add(ctx, "kept", out->rows);
    return fl_emit(ctx, &out);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_TRANSFORM, .name = "sample", .version = "0.1",
                 .summary = "keep one row in every N", .opts = sample_opts,
                 .state_size = sizeof(struct sample), .describe = sample_describe,
                 .process = sample_process);
