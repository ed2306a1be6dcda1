/* window.c: epoch-aligned tumbling and hopping windows (flowline/window.h).
 * It assigns records to windows, opens and closes them in time order and
 * counts late records; what a window holds is the stage's business. */
#include <stdlib.h>
#include <string.h>
#include "../../dsl/opts_int.h"
#include "rt.h"
#include <flowline/window.h>

#define WIN_MAX_SPECS 16
#define WIN_MAX_OVERLAP 64           /* windows of one length that hold a time */
#define WIN_LATENESS_FLOWS 120000000000ull
#define WIN_LATENESS_PACKETS 1000000000ull

struct win_spec {
    uint64_t length, hop;
    struct fl_window *head;          /* newest start first */
    struct fl_window *cache;         /* the window the last record fell into */
};

struct fl_windows {
    struct fl_ctx *ctx;
    struct fl_window_ops ops;
    void *ud;
    int clock;
    uint64_t lateness;
    uint64_t wm;                     /* windows ending at or before it are closed */
    uint64_t max_event;
    uint32_t n;
    struct win_spec spec[WIN_MAX_SPECS];
    struct fl_bind *bind;            /* the time field(s) */
    bool named;                      /* conf->time given: one field, else flow_end, ts */
    uint64_t *now_times;             /* wall clock: one time per row */
    uint32_t now_cap;
};

/* "5m" or "5m/1m" into length and hop; err gets a phrase. */
static int win_parse(const char *text, uint64_t *len, uint64_t *hop, char *err, size_t errlen)
{
    static const struct fl_opt dur = { .name = "windows", .type = FL_OPT_DURATION,
                                       .min = "1ms", .max = "366d" };
    char buf[64];
    union fl_optv v;
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n >= sizeof(buf))
        return fl_optv_err(err, errlen, "\"%s\" is not a window (e.g. 1m, or 5m/1m)", text);
    memcpy(buf, text, n);
    buf[n] = 0;
    int rc = fl_optv_parse(&dur, buf, NULL, &v, err, errlen);
    if (rc < 0)
        return rc;
    *len = *hop = v.u;
    if (!slash)
        return 0;
    if ((rc = fl_optv_parse(&dur, slash + 1, NULL, &v, err, errlen)) < 0)
        return rc;
    *hop = v.u;
    if (*len % *hop)
        return fl_optv_err(err, errlen, "the hop of \"%s\" does not divide its length", text);
    if (*len / *hop > WIN_MAX_OVERLAP)
        return fl_optv_err(err, errlen, "\"%s\" puts a record in more than %d windows",
                           text, WIN_MAX_OVERLAP);
    return 0;
}

int fl_windows_check(struct fl_ctx *ctx, const struct fl_window_conf *conf,
                     const struct fl_schema *const *in, size_t n_in)
{
    int rc = 0;
    char err[160];
    if (conf->windows.n == 0)
        rc = fl_diag(ctx, "windows", "give at least one window length");
    if (conf->windows.n > WIN_MAX_SPECS)
        rc = fl_diag(ctx, "windows", "at most %d window lengths", WIN_MAX_SPECS);
    for (size_t i = 0; i < conf->windows.n && i < WIN_MAX_SPECS; i++) {
        uint64_t len, hop;
        if (win_parse(conf->windows.v[i], &len, &hop, err, sizeof(err)) < 0)
            rc = fl_diag_at(ctx, "windows", conf->windows.v[i], 0, "%s", err);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(conf->windows.v[i], conf->windows.v[j]))
                rc = fl_diag_at(ctx, "windows", conf->windows.v[i], 0,
                                "window \"%s\" is listed twice", conf->windows.v[i]);
    }
    if (conf->clock == FL_WINDOW_WALL)
        return rc;
    if (conf->time) {
        const struct fl_want w = { .name = conf->time, .type = FL_T_TS, .flags = FL_WANT_NAMED };
        struct fl_bind *bd;
        int r = fl_bind_new(ctx, &w, 1, sizeof(w), &bd);
        if (r < 0)
            return r;
        if (fl_bind_check(ctx, bd, "time", in, n_in) < 0)
            rc = -FL_EINVAL;
        fl_bind_destroy(ctx, &bd);
        return rc;
    }
    for (size_t k = 0; k < n_in; k++)
        if (in[k] && fl_schema_find(in[k], "flow_end") < 0 && fl_schema_find(in[k], "ts") < 0)
            rc = fl_diag(ctx, NULL, "the input%s%s has neither flow_end nor ts: name its "
                         "time field with time:",
                         ctx->conf && k < ctx->conf->n_from ? " from stage " : "",
                         ctx->conf && k < ctx->conf->n_from ? ctx->conf->from[k] : "");
    return rc;
}

int fl_windows_new(struct fl_ctx *ctx, const struct fl_window_conf *conf,
                   const struct fl_window_ops *ops, size_t ops_size, void *ud,
                   struct fl_windows **out)
{
    char err[160];
    struct fl_windows *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return -FL_ENOMEM;
    ws->ctx = ctx;
    memcpy(&ws->ops, ops, ops_size < sizeof(ws->ops) ? ops_size : sizeof(ws->ops));
    ws->ud = ud;
    ws->clock = conf->clock;
    ws->named = conf->time != NULL;
    for (size_t i = 0; i < conf->windows.n && ws->n < WIN_MAX_SPECS; i++, ws->n++)
        if (win_parse(conf->windows.v[i], &ws->spec[i].length, &ws->spec[i].hop, err,
                      sizeof(err)) < 0)
            goto fail;
    if (ws->n == 0)
        goto fail;
    const struct fl_want named = { .name = conf->time, .type = FL_T_TS, .flags = FL_WANT_NAMED };
    const struct fl_want dflt[] = { { .name = "flow_end", .type = FL_T_TS },
                                    { .name = "ts", .type = FL_T_TS } };
    if (fl_bind_new(ctx, ws->named ? &named : dflt, ws->named ? 1 : 2, sizeof(named),
                    &ws->bind) < 0)
        goto fail;
    bool flows = ws->named ? !strcmp(conf->time, "flow_end") : true;
    /* The option has no default, so a value other than 0 was given. */
    ws->lateness = conf->allowed_lateness || fl_opt_given(ctx, "allowed_lateness")
                   ? conf->allowed_lateness
                   : flows && conf->clock == FL_WINDOW_EVENT ? WIN_LATENESS_FLOWS
                                                            : WIN_LATENESS_PACKETS;
    *out = ws;
    return 0;
fail:
    free(ws);
    return -FL_EINVAL;
}

uint32_t fl_windows_specs(const struct fl_windows *ws)
{
    return ws->n;
}

/* The open window of spec s starting at start, opened when missing. */
static struct fl_window *win_get(struct fl_windows *ws, struct win_spec *s, uint64_t start,
                                 uint32_t k, int *rc)
{
    struct fl_window **p = &s->head;
    while (*p && (*p)->start > start)
        p = &(*p)->older;
    if (*p && (*p)->start == start)
        return *p;
    struct fl_window *w = calloc(1, sizeof(*w));
    if (!w) {
        *rc = -FL_ENOMEM;
        return NULL;
    }
    w->start = start;
    w->length = s->length;
    w->end = start + s->length;
    w->spec = k;
    if ((*rc = ws->ops.open(ws->ud, w)) < 0) {
        free(w);
        return NULL;
    }
    w->older = *p;
    *p = w;
    return w;
}

/* The newest window of spec k holding t, opening every still-open one
 * that holds it; NULL when late (*late set) or on error (*rc). */
static struct fl_window *win_assign(struct fl_windows *ws, uint32_t k, uint64_t t,
                                    bool *late, int *rc)
{
    struct win_spec *s = &ws->spec[k];
    struct fl_window *c = s->cache;
    /* The common case, without a division: the same newest window, and
     * (hopping) the oldest one holding t, which ends at c->start + hop,
     * still open. */
    if (c && t >= c->start && t - c->start < s->hop && c->start + s->hop > ws->wm)
        return c;
    uint64_t newest = t - t % s->hop;
    if (newest + s->length <= ws->wm) {
        *late = true;
        return NULL;
    }
    struct fl_window *w = NULL;
    /* oldest first, so each insertion walks past the newer ones only once */
    uint64_t first = newest;
    while (first >= s->hop && first - s->hop + s->length > t)
        first -= s->hop;
    for (uint64_t st = first;; st += s->hop) {
        if (st + s->length <= ws->wm)
            *late = true;                   /* held by a window closed already */
        else if (!(w = win_get(ws, s, st, k, rc)))
            return NULL;
        if (st == newest)
            break;
    }
    return s->cache = w;
}

int fl_windows_map(struct fl_ctx *ctx, struct fl_windows *ws, const struct fl_batch *b,
                   struct fl_window **wins, uint64_t *times)
{
    uint32_t rows = b->rows;
    const uint64_t *t;
    const uint64_t *valid = NULL;
    int rc = 0;
    if (ws->clock == FL_WINDOW_WALL) {
        if (rows > ws->now_cap) {
            uint64_t *p = realloc(ws->now_times, rows * sizeof(*p));
            if (!p)
                return -FL_ENOMEM;
            ws->now_times = p;
            ws->now_cap = rows;
        }
        uint64_t now = fl_now_ns();
        for (uint32_t r = 0; r < rows; r++)
            ws->now_times[r] = now;
        t = ws->now_times;
    } else {
        if ((rc = fl_bind_batch(ctx, ws->bind, b)) < 0 && rc != -FL_ENOENT)
            return rc;
        size_t f = ws->named || fl_bind_col(ws->bind, 0) >= 0 ? 0 : 1;
        if (rc < 0 || fl_bind_col(ws->bind, f) < 0) {   /* no time field: no window */
            memset(wins, 0, (size_t)ws->n * rows * sizeof(*wins));
            fl_counter_add(ctx, "records_no_time", rows);
            return 0;
        }
        t = fl_bind_data(ws->bind, f);
        valid = fl_bind_valid(ws->bind, f);
    }
    uint64_t late = 0, no_time = 0, max = ws->max_event;
    for (uint32_t r = 0; r < rows; r++) {
        if (!fl_bind_row_valid(valid, r)) {
            no_time++;
            for (uint32_t k = 0; k < ws->n; k++)
                wins[(size_t)k * rows + r] = NULL;
            continue;
        }
        if (t[r] > max)
            max = t[r];
        for (uint32_t k = 0; k < ws->n; k++) {
            bool is_late = false;
            struct fl_window *w = win_assign(ws, k, t[r], &is_late, &rc);
            if (rc < 0)
                return rc;
            wins[(size_t)k * rows + r] = w;
            late += is_late;
        }
        if (times)
            times[r] = t[r];
    }
    ws->max_event = max;
    if (late)
        fl_counter_add(ctx, "late", late);
    if (no_time)
        fl_counter_add(ctx, "records_no_time", no_time);
    return 0;
}

/* Close the open windows ending at or before wm, earliest end first. */
static int win_close_upto(struct fl_windows *ws, uint64_t wm)
{
    int rc = 0;
    for (;;) {
        struct fl_window **best = NULL;
        for (uint32_t k = 0; k < ws->n; k++) {
            struct fl_window **p = &ws->spec[k].head;
            while (*p && (*p)->older)
                p = &(*p)->older;           /* the oldest: lists are short */
            if (*p && (*p)->end <= wm && (!best || (*p)->end < (*best)->end))
                best = p;
        }
        if (!best)
            return rc;
        struct fl_window *w = *best;
        *best = NULL;
        if (ws->spec[w->spec].cache == w)
            ws->spec[w->spec].cache = NULL;
        int r = ws->ops.close(ws->ud, w);
        if (r < 0 && rc == 0)
            rc = r;
        free(w);
    }
}

int fl_windows_advance(struct fl_windows *ws, uint64_t now_ns)
{
    uint64_t clock = ws->clock == FL_WINDOW_WALL ? fl_now_ns() : now_ns;
    if (ws->max_event > clock)
        clock = ws->max_event;
    if (clock <= ws->lateness)
        return 0;
    uint64_t wm = clock - ws->lateness;
    if (wm <= ws->wm)
        return 0;
    ws->wm = wm;
    return win_close_upto(ws, wm);
}

int fl_windows_close_all(struct fl_windows *ws)
{
    int rc = win_close_upto(ws, UINT64_MAX);
    ws->wm = UINT64_MAX;   /* anything after end of input is late */
    return rc;
}

void fl_windows_free(struct fl_windows **wsp)
{
    struct fl_windows *ws = *wsp;
    if (!ws)
        return;
    for (uint32_t k = 0; k < ws->n; k++)
        for (struct fl_window *w = ws->spec[k].head, *next; w; w = next) {
            next = w->older;
            if (ws->ops.discard)
                ws->ops.discard(ws->ud, w);
            free(w);
        }
    fl_bind_destroy(ws->ctx, &ws->bind);
    free(ws->now_times);
    free(ws);
    *wsp = NULL;
}
