/* graph.c: the stage graph of a parsed pipeline: duplicate ids, from:
 * entries naming no stage, cycles, and a topological order (sources first).
 *
 * Ports (`from: sflow.counters`) and kinds (inputs take no from:) need the
 * plugins, so they are the core's check, not this file's. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct graph {
    const struct fl_conf *c;
    size_t n;
    size_t **up;         /* up[i][0..n_up[i]): stages i reads from (by index) */
    size_t *n_up;
    size_t **up_entry;   /* the from: entry of each edge, for positions */
    bool *live;          /* still in the set being searched for cycles */
};

static size_t graph_find(const struct fl_conf *c, const char *id, size_t len)
{
    for (size_t i = 0; i < c->n_stages; i++)
        if (strlen(c->stages[i].id) == len && !strncmp(c->stages[i].id, id, len))
            return i;
    return c->n_stages;
}

static void graph_dangling(const struct fl_conf *c, struct fl_diags *d, size_t i, size_t k)
{
    const char *f = c->stages[i].from[k], *dot = strchr(f, '.');
    char id[256];
    const char **ids = malloc(c->n_stages * sizeof(*ids));
    const char *best = NULL;
    snprintf(id, sizeof(id), "%.*s", (int)(dot ? (size_t)(dot - f) : strlen(f)), f);
    if (ids) {
        for (size_t j = 0; j < c->n_stages; j++)
            ids[j] = c->stages[j].id;
        best = fl_suggest(id, ids, c->n_stages);
        free(ids);
    }
    if (best)
        fl_diags_add(d, c->stages[i].from_pos[k], "from: unknown stage \"%s\"; did you mean \"%s\"?",
                     id, best);
    else
        fl_diags_add(d, c->stages[i].from_pos[k], "from: unknown stage \"%s\"", id);
}

static int graph_build(struct graph *g, struct fl_diags *d)
{
    const struct fl_conf *c = g->c;
    g->n = c->n_stages;
    if (!(g->up = calloc(g->n + 1, sizeof(*g->up))) || !(g->n_up = calloc(g->n + 1, sizeof(*g->n_up)))
        || !(g->up_entry = calloc(g->n + 1, sizeof(*g->up_entry)))
        || !(g->live = calloc(g->n + 1, sizeof(*g->live))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < g->n; i++) {
        const struct fl_stage_conf *s = &c->stages[i];
        if (!(g->up[i] = calloc(s->n_from + 1, sizeof(size_t)))
            || !(g->up_entry[i] = calloc(s->n_from + 1, sizeof(size_t))))
            return -FL_ENOMEM;
        for (size_t k = 0; k < s->n_from; k++) {
            const char *f = s->from[k], *dot = strchr(f, '.');
            size_t j = graph_find(c, f, dot ? (size_t)(dot - f) : strlen(f));
            if (j == g->n) {
                /* the rest of a file cut short may define it */
                if (!c->partial)
                    graph_dangling(c, d, i, k);
                continue;
            }
            g->up_entry[i][g->n_up[i]] = k;
            g->up[i][g->n_up[i]++] = j;
        }
    }
    return 0;
}

static void graph_free(struct graph *g)
{
    for (size_t i = 0; i < g->n && g->up; i++) {
        free(g->up[i]);
        if (g->up_entry)
            free(g->up_entry[i]);
    }
    free(g->up);
    free(g->up_entry);
    free(g->n_up);
    free(g->live);
}

static bool graph_has_live_up(const struct graph *g, size_t i)
{
    for (size_t k = 0; k < g->n_up[i]; k++)
        if (g->live[g->up[i][k]])
            return true;
    return false;
}

static bool graph_has_live_down(const struct graph *g, size_t i)
{
    for (size_t j = 0; j < g->n; j++)
        if (g->live[j])
            for (size_t k = 0; k < g->n_up[j]; k++)
                if (g->up[j][k] == i)
                    return true;
    return false;
}

/* Drop from the live set every stage with no live source or no live
 * consumer, until none changes: what stays lies on a cycle or between two. */
static void graph_trim(struct graph *g)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < g->n; i++)
            if (g->live[i] && (!graph_has_live_up(g, i) || !graph_has_live_down(g, i))) {
                g->live[i] = false;
                changed = true;
            }
    }
}

/* Every live stage has a live source: walking sources from any of them
 * must come back to a stage already seen. Report that loop, in data-flow
 * order, starting at its first stage in the file, at the from: entry that
 * closes it; then take it out of the set. */
static int graph_report_cycle(struct graph *g, struct fl_diags *d, size_t start)
{
    size_t *walk = calloc(g->n + 1, sizeof(*walk)), *seen = calloc(g->n, sizeof(*seen));
    size_t len = 0, cur = start, first, lo;
    char msg[1024] = "cycle: ";
    int rc = -FL_ENOMEM;
    if (!walk || !seen)
        goto fail;
    while (!seen[cur]) {
        seen[cur] = len + 1;
        walk[len++] = cur;
        for (size_t k = 0; k < g->n_up[cur]; k++)
            if (g->live[g->up[cur][k]]) {
                cur = g->up[cur][k];
                break;
            }
    }
    first = seen[cur] - 1;                   /* walk[first..len) is the loop, upstream order */
    lo = first;
    for (size_t i = first; i < len; i++)
        if (walk[i] < walk[lo])
            lo = i;
    /* walk goes to sources; data flows the other way: print backwards from lo */
    for (size_t n = 0, i = lo; n <= len - first; n++) {
        strncat(msg, g->c->stages[walk[i]].id, sizeof(msg) - strlen(msg) - 1);
        if (n < len - first)
            strncat(msg, " -> ", sizeof(msg) - strlen(msg) - 1);
        i = i == first ? len - 1 : i - 1;
    }
    /* walk[lo] reads from the next stage of the walk (its source on the loop) */
    size_t src = lo + 1 < len ? walk[lo + 1] : walk[first], at = walk[lo], entry = 0;
    for (size_t k = 0; k < g->n_up[at]; k++)
        if (g->up[at][k] == src) {
            entry = g->up_entry[at][k];
            break;
        }
    fl_diags_add(d, g->c->stages[at].from_pos[entry], "%s", msg);
    for (size_t i = first; i < len; i++)
        g->live[walk[i]] = false;
    rc = 0;
fail:
    free(walk);
    free(seen);
    return rc;
}

int fl_conf_check_graph(const struct fl_conf *c, struct fl_diags *d, size_t *order)
{
    struct graph g = { .c = c };
    size_t errors = d->errors, done = 0, *indeg = NULL, *queue = NULL, qh = 0, qt = 0;
    int rc = -FL_ENOMEM;

    for (size_t i = 0; i < c->n_stages; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->stages[i].id, c->stages[j].id)) {
                const struct fl_pos *p = &c->stages[j].id_pos;
                if (p->file == c->stages[i].id_pos.file)
                    fl_diags_add(d, c->stages[i].id_pos, "duplicate stage id \"%s\" (first at line %u)",
                                 c->stages[i].id, p->line);
                else
                    fl_diags_add(d, c->stages[i].id_pos, "duplicate stage id \"%s\" (first at %s:%u)",
                                 c->stages[i].id, p->file ? p->file : "?", p->line);
                break;
            }
    if ((rc = graph_build(&g, d)) < 0)
        goto fail;

    /* Kahn's algorithm, sources in file order, so the order is stable. */
    rc = -FL_ENOMEM;
    if (!(indeg = calloc(g.n + 1, sizeof(*indeg))) || !(queue = calloc(g.n + 1, sizeof(*queue))))
        goto fail;
    for (size_t i = 0; i < g.n; i++)
        if (!(indeg[i] = g.n_up[i]))
            queue[qt++] = i;
    while (qh < qt) {
        size_t i = queue[qh++];
        if (order)
            order[done] = i;
        done++;
        for (size_t j = 0; j < g.n; j++)
            for (size_t k = 0; k < g.n_up[j]; k++)
                if (g.up[j][k] == i && --indeg[j] == 0)
                    queue[qt++] = j;
    }
    if (done < g.n) {
        for (size_t i = 0; i < g.n; i++)
            g.live[i] = indeg[i] > 0;
        graph_trim(&g);
        for (size_t i = 0; i < g.n; i++)
            if (g.live[i]) {
                if ((rc = graph_report_cycle(&g, d, i)) < 0)
                    goto fail;
                graph_trim(&g);
            }
    }
    rc = d->errors > errors || c->partial ? -FL_EINVAL : 0;
fail:
    if (rc == -FL_ENOMEM)
        fl_diags_add(d, (struct fl_pos){ NULL, 0, 0 }, "out of memory checking the stage graph");
    free(indeg);
    free(queue);
    graph_free(&g);
    return rc;
}
