/* fuzz_yaml.c: libFuzzer target for the pipeline DSL: any bytes through
 * fl_conf_parse (libyaml, the tree with its ${ENV}, aliases and merge keys,
 * the pipeline checks) and the graph check, then everything freed. The
 * buffer's name lies in a directory that does not exist, so a relative
 * include: reads nothing; the node and include budgets bound the work. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fl_diags d = { 0 };
    struct fl_conf *c = NULL;

    fl_conf_parse("/nonexistent/fuzz/pipeline.yaml", (const char *)data, size, &d, &c);
    if (c) {
        size_t *order = malloc((c->n_stages + 1) * sizeof(*order));
        if (order)
            fl_conf_check_graph(c, &d, order);
        free(order);
    }
    fl_conf_free(&c);
    fl_diags_free(&d);
    return 0;
}
