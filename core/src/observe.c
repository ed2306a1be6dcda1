/* observe.c: what a running pipeline tells its operator: the stage
 * counters (-v, SIGUSR1), the end-of-run summary of what was lost, the
 * periodic --stats lines, and the Prometheus text of --metrics. Reading
 * only: counters are atomics the stages add to, read here from the main
 * thread (or the metrics thread) while the stages run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "pipeline.h"

/* The ctx of instance w of st (the stage's own when it is not running). */
static struct fl_ctx *inst_ctx(const struct fl_stage *st, uint32_t w)
{
    return st->n_inst ? st->inst[w].ctx : (struct fl_ctx *)&st->ctx;
}

static uint32_t n_insts(const struct fl_stage *st)
{
    return st->n_inst ? st->n_inst : 1;
}

/* Counter `name` summed over the instances of st. */
static uint64_t stage_counter(const struct fl_stage *st, const char *name)
{
    uint64_t sum = 0;
    for (uint32_t w = 0; w < n_insts(st); w++)
        sum += fl_counter_get(inst_ctx(st, w), name);
    return sum;
}

static bool ctx_has(struct fl_ctx *c, const char *name)
{
    uint32_t n = atomic_load(&c->n_counters);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(c->counters[i].name, name) == 0)
            return true;
    return false;
}

/* Calls fn once per distinct counter name of st, in order of creation. */
static void each_name(const struct fl_stage *st, void (*fn)(const struct fl_stage *, const char *, void *),
                      void *arg)
{
    for (uint32_t w = 0; w < n_insts(st); w++) {
        struct fl_ctx *c = inst_ctx(st, w);
        uint32_t n = atomic_load(&c->n_counters);
        for (uint32_t i = 0; i < n; i++) {
            const char *name = c->counters[i].name;
            bool seen = false;   /* an earlier worker has it */
            for (uint32_t v = 0; v < w && !seen; v++)
                seen = ctx_has(inst_ctx(st, v), name);
            if (!seen)
                fn(st, name, arg);
        }
    }
}

static void print_one(const struct fl_stage *st, const char *name, void *arg)
{
    FILE *out = arg;
    fprintf(out, " %s=%llu", name, (unsigned long long)stage_counter(st, name));
    for (uint32_t w = 0; st->n_inst > 1 && w < st->n_inst; w++)
        fprintf(out, " %s[%u]=%llu", name, w,
                (unsigned long long)fl_counter_get(st->inst[w].ctx, name));
}

void fl_counters_print(struct fl_pipeline *p, FILE *out)
{
    fprintf(out, "stage counters:\n");
    for (size_t k = 0; k < p->n; k++) {
        const struct fl_stage *st = &p->stages[p->order[k]];
        fprintf(out, "  %s (%s):", st->conf->id, st->ctx.use);
        each_name(st, print_one, out);
        fputc('\n', out);
    }
    fflush(out);
}

bool fl_counter_is_loss(const char *name)
{
    static const char *const prefixes[] = { "drop_", "unsupported_", "truncated_" };
    static const char *const suffixes[] = { "_dropped", "_drops", "_missing_field" };
    static const char *const names[] = { "bad_record", "frag_unjoined" };
    size_t len = strlen(name);
    if (strcmp(name, "drop_not_ip") == 0)   /* ARP, LLDP, ...: nothing a flow could use */
        return false;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
        size_t sl = strlen(suffixes[i]);
        if (len > sl && strcmp(name + len - sl, suffixes[i]) == 0)
            return true;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

struct loss_acc { FILE *out; uint64_t total; const struct fl_stage *last; };

/* "stage: a=1, b=2; next: c=3" for the counters of lost records. */
static void loss_one(const struct fl_stage *st, const char *name, void *arg)
{
    struct loss_acc *a = arg;
    uint64_t v = stage_counter(st, name);
    if (!v || !fl_counter_is_loss(name))
        return;
    if (a->last != st)
        fprintf(a->out, "%s%s:", a->last ? "; " : "", st->conf->id);
    else
        fputc(',', a->out);
    fprintf(a->out, " %s=%llu", name, (unsigned long long)v);
    a->last = st;
    a->total += v;
}

uint64_t fl_losses_print(struct fl_pipeline *p, FILE *out)
{
    char *line = NULL;
    size_t len = 0;
    struct loss_acc a = { .out = open_memstream(&line, &len) };
    if (!a.out)
        return 0;
    for (size_t k = 0; k < p->n; k++)
        each_name(&p->stages[p->order[k]], loss_one, &a);
    fclose(a.out);
    if (a.total && out)
        fprintf(out, "flowline: not every record was used: %s (flowline run -v shows every "
                "counter)\n", line);
    free(line);
    return a.total;
}
