/* observe.c: what a running pipeline tells its operator: the stage
 * counters (-v, SIGUSR1), the end-of-run summary of what was lost, the
 * periodic --stats lines, and the Prometheus text of --metrics. Reading
 * only: counters are atomics the stages add to, read here from the main
 * thread (or the metrics thread) while the stages run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
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
    static const char *const suffixes[] = { "_dropped", "_drops", "_missing_field", "_rejected" };
    static const char *const names[] = { "bad_record", "frag_unjoined", "series_limited" };
    size_t len = strlen(name);
    /* ARP, LLDP, ...; 802.11 beacons, ACKs, null data: nothing a flow
     * could use (drop_encrypted is a loss: traffic that went unmetered) */
    if (strcmp(name, "drop_not_ip") == 0 || strcmp(name, "drop_not_data") == 0)
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

/* ---- --stats: one line per interval ------------------------------------ */
struct stats_acc { uint64_t lost; };

static void stats_loss(const struct fl_stage *st, const char *name, void *arg)
{
    if (fl_counter_is_loss(name))
        ((struct stats_acc *)arg)->lost += stage_counter(st, name);
}

/* Per stage since the last line: records in and out per second, records
 * lost, and batches waiting on its input link (up to 2 * LINK_HWM per
 * producer instance). On a terminal a short human line, else logfmt. */
void fl_stats_print(struct fl_pipeline *p, struct fl_stats *s, uint64_t now, bool tty, FILE *out)
{
    double secs = s->last_ns ? (double)(now - s->last_ns) / 1e9 : 0;
    if (!s->prev && !(s->prev = calloc(p->n * 3, sizeof(*s->prev))))
        return;
    if (!tty) {
        char ts[32];
        time_t t = (time_t)(now / 1000000000u);
        struct tm tm;
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        fprintf(out, "ts=%s", ts);
    }
    for (size_t k = 0; k < p->n; k++) {
        const struct fl_stage *st = &p->stages[p->order[k]];
        uint64_t *prev = &s->prev[p->order[k] * 3], queued = 0;
        struct stats_acc a = { 0 };
        uint64_t in = stage_counter(st, "records_in"), rout = stage_counter(st, "records_out");
        each_name(st, stats_loss, &a);
        for (uint32_t w = 0; w < st->n_inst; w++)
            queued += atomic_load_explicit(&st->inst[w].queued, memory_order_relaxed);
        double in_s = secs > 0 ? (double)(in - prev[0]) / secs : 0;
        double out_s = secs > 0 ? (double)(rout - prev[1]) / secs : 0;
        uint64_t lost = a.lost - prev[2];
        if (tty)
            fprintf(out, "%s%s in %.3g/s out %.3g/s q %llu lost %llu", k ? " | " : "",
                    st->conf->id, in_s, out_s, (unsigned long long)queued,
                    (unsigned long long)lost);
        else
            fprintf(out, " %s.in_per_s=%.0f %s.out_per_s=%.0f %s.queued=%llu %s.lost=%llu",
                    st->conf->id, in_s, st->conf->id, out_s, st->conf->id,
                    (unsigned long long)queued, st->conf->id, (unsigned long long)lost);
        prev[0] = in;
        prev[1] = rout;
        prev[2] = a.lost;
    }
    fputc('\n', out);
    fflush(out);
    s->last_ns = now;
}

void fl_stats_free(struct fl_stats *s)
{
    free(s->prev);
    s->prev = NULL;
}

/* ---- Prometheus text (--metrics) ---------------------------------------- */
static void name_add(const struct fl_stage *st, const char *name, void *arg)
{
    struct { const char **v; size_t n, cap; } *names = arg;
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->v[i], name) == 0)
            return;
    if (names->n == names->cap) {
        size_t cap = names->cap ? names->cap * 2 : 64;
        const char **v = realloc(names->v, cap * sizeof(*v));
        if (!v)
            return;
        names->v = v;
        names->cap = cap;
    }
    names->v[names->n++] = name;
}

/* Counter names are [a-z0-9_] by convention; anything else becomes '_'. */
static void metric_name(FILE *out, const char *name)
{
    fputs("flowline_", out);
    for (const char *c = name; *c; c++)
        fputc((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ? *c : '_', out);
}

void fl_metrics_text(struct fl_pipeline *p, uint64_t start_ns, FILE *out)
{
    struct { const char **v; size_t n, cap; } names = { 0 };
    for (size_t k = 0; k < p->n; k++)
        each_name(&p->stages[p->order[k]], name_add, &names);
    /* One family per counter name, its samples together (the format wants
     * them contiguous). Names stay valid: counters are never removed. */
    for (size_t i = 0; i < names.n; i++) {
        fputs("# TYPE ", out);
        metric_name(out, names.v[i]);
        fputs("_total counter\n", out);
        for (size_t k = 0; k < p->n; k++) {
            const struct fl_stage *st = &p->stages[p->order[k]];
            for (uint32_t w = 0; w < n_insts(st); w++) {
                struct fl_ctx *c = inst_ctx(st, w);
                if (!ctx_has(c, names.v[i]))
                    continue;
                metric_name(out, names.v[i]);
                fprintf(out, "_total{stage=\"%s\",plugin=\"%s\",worker=\"%u\"} %llu\n",
                        st->conf->id, st->ctx.use, w,
                        (unsigned long long)fl_counter_get(c, names.v[i]));
            }
        }
    }
    free(names.v);
    fputs("# HELP flowline_queued_batches batches sent to a stage instance, not yet read\n"
          "# TYPE flowline_queued_batches gauge\n", out);
    for (size_t k = 0; k < p->n; k++) {
        const struct fl_stage *st = &p->stages[p->order[k]];
        for (uint32_t w = 0; w < st->n_inst; w++)
            fprintf(out, "flowline_queued_batches{stage=\"%s\",plugin=\"%s\",worker=\"%u\"} %llu\n",
                    st->conf->id, st->ctx.use, w,
                    (unsigned long long)atomic_load(&st->inst[w].queued));
    }
    struct rusage ru;
    long pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm) {
        if (fscanf(statm, "%*d %ld", &pages) != 1)
            pages = 0;
        fclose(statm);
    }
    getrusage(RUSAGE_SELF, &ru);
    fprintf(out, "# TYPE flowline_process_resident_memory_bytes gauge\n"
            "flowline_process_resident_memory_bytes %lld\n"
            "# TYPE flowline_process_cpu_seconds_total counter\n"
            "flowline_process_cpu_seconds_total %.3f\n"
            "# TYPE flowline_uptime_seconds gauge\n"
            "flowline_uptime_seconds %.3f\n",
            (long long)pages * sysconf(_SC_PAGESIZE),
            (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
                + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
            (double)(fl_now_ns() - start_ns) / 1e9);
}

/* ---- the counters as records (input.metrics) ---------------------------- */
static const struct fl_col_def counters_cols[] = {
    { "ts", FL_T_TS }, { "stage", FL_T_STR }, { "plugin", FL_T_STR }, { "worker", FL_T_U32 },
    { "counter", FL_T_STR }, { "value", FL_T_U64 },
};

int fl_counters_schema(struct fl_ctx *ctx, const struct fl_schema **out)
{
    return fl_schema_intern(ctx, counters_cols, sizeof(counters_cols) / sizeof(*counters_cols),
                            sizeof(counters_cols[0]), out);
}

bool fl_others_done(struct fl_ctx *ctx)
{
    const struct fl_rt *rt = ctx->rt;
    return atomic_load(&rt->inputs_finished) + 1 >= rt->inputs_total;
}

int fl_counters_batch(struct fl_ctx *ctx, struct fl_batch **out)
{
    const struct fl_schema *s;
    struct fl_pipeline *p = ctx->rt->pipeline;
    uint32_t rows = 0;
    int rc;
    *out = NULL;
    if ((rc = fl_counters_schema(ctx, &s)) < 0)
        return rc;
    for (size_t k = 0; p && k < p->n; k++)
        for (uint32_t w = 0; w < p->stages[k].n_inst; w++)
            rows += atomic_load(&p->stages[k].inst[w].ctx->n_counters);
    struct fl_batch *b;
    if ((rc = fl_batch_new(ctx, s, rows ? rows : 1, &b)) < 0)
        return rc;
    uint64_t now = fl_now_ns();
    for (size_t k = 0; p && k < p->n && rc == 0; k++) {
        const struct fl_stage *st = &p->stages[p->order[k]];
        for (uint32_t w = 0; w < st->n_inst && rc == 0; w++) {
            struct fl_ctx *c = st->inst[w].ctx;
            uint32_t n = atomic_load(&c->n_counters);
            for (uint32_t i = 0; i < n && b->rows < rows && rc == 0; i++) {
                uint32_t r = b->rows;
                FL_COL(b, 0, uint64_t)[r] = now;
                FL_COL(b, 3, uint32_t)[r] = w;
                FL_COL(b, 5, uint64_t)[r] = atomic_load(&c->counters[i].v);
                const char *txt[3] = { st->conf->id, st->ctx.use, c->counters[i].name };
                static const int col[3] = { 1, 2, 4 };
                for (int j = 0; j < 3 && rc == 0; j++)
                    rc = fl_batch_put_bytes(b, txt[j], (uint32_t)strlen(txt[j]),
                                            &FL_COL(b, col[j], struct fl_span)[r]);
                b->rows++;
            }
        }
    }
    b->t_min = b->t_max = now;
    if (rc < 0)
        fl_batch_release(&b);
    *out = b;
    return rc;
}
