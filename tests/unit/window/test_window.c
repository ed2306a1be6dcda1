/* test_window.c: the window service (window.c): epoch alignment, a record
 * exactly on a boundary, hopping windows, several lengths closing in order
 * of end, late records, time going backwards, empty windows, one record,
 * end of input mid-window, rows without a time, and the check-time
 * diagnostics of the window list. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/plugin.h>
#include <flowline/window.h>
#include "fl_harness.h"
#include "rt.h"

#define S 1000000000ull

struct closed { uint32_t spec; uint64_t start, end; int records; };

struct log {
    struct closed c[64];
    int n, open, discarded;
};

static int on_open(void *ud, struct fl_window *w)
{
    ((struct log *)ud)->open++;
    return (w->state = calloc(1, sizeof(int))) ? 0 : -FL_ENOMEM;
}

static int on_close(void *ud, struct fl_window *w)
{
    struct log *lg = ud;
    assert_true(lg->n < 64);
    lg->c[lg->n++] = (struct closed){ w->spec, w->start, w->end, *(int *)w->state };
    free(w->state);
    return 0;
}

static void on_discard(void *ud, struct fl_window *w)
{
    ((struct log *)ud)->discarded++;
    free(w->state);
}

static const struct fl_window_ops ops = { on_open, on_close, on_discard };

struct fixture {
    struct fl_ctx *ctx;
    const struct fl_schema *s;
    struct fl_windows *ws;
    struct log lg;
    struct fl_window_conf conf;
};

static void setup(struct fixture *f, const char *const *wins, size_t n, uint64_t lateness)
{
    static const struct fl_col_def cols[] = { { "ts", FL_T_TS } };
    memset(f, 0, sizeof(*f));
    f->ctx = fl_test_ctx_new();
    assert_int_equal(fl_schema_intern(f->ctx, cols, 1, sizeof(cols[0]), &f->s), 0);
    f->conf.windows.n = n;
    f->conf.windows.v = (char **)wins;
    f->conf.time = (char *)"ts";
    f->conf.allowed_lateness = lateness;
    assert_int_equal(fl_windows_check(f->ctx, &f->conf, &f->s, 1), 0);
    assert_int_equal(fl_windows_new(f->ctx, &f->conf, &ops, sizeof(ops), &f->lg, &f->ws), 0);
}

static void teardown(struct fixture *f)
{
    fl_windows_free(&f->ws);
    assert_null(f->ws);
    fl_test_ctx_destroy(&f->ctx);
}

/* Map records at times t[] (ns; a time of ~0 marks the row missing) and
 * count each into every window that holds it, as a stage does. */
static void push(struct fixture *f, const uint64_t *t, uint32_t rows)
{
    struct fl_batch *b = NULL;
    assert_int_equal(fl_batch_new(f->ctx, f->s, rows, &b), 0);
    for (uint32_t r = 0; r < rows; r++) {
        FL_COL(b, 0, uint64_t)[r] = t[r];
        if (t[r] == ~0ull)
            assert_int_equal(fl_batch_set_missing(b, 0, r), 0);
    }
    b->rows = rows;
    uint32_t n = fl_windows_specs(f->ws);
    struct fl_window **w = calloc((size_t)n * rows, sizeof(*w));
    uint64_t *times = calloc(rows, sizeof(*times));
    assert_int_equal(fl_windows_map(f->ctx, f->ws, b, w, times), 0);
    for (uint32_t k = 0; k < n; k++)
        for (uint32_t r = 0; r < rows; r++)
            for (struct fl_window *x = w[(size_t)k * rows + r]; fl_window_holds(x, times[r]);
                 x = x->older)
                ++*(int *)x->state;
    free(w);
    free(times);
    fl_batch_release(&b);
}

static void assert_closed(const struct closed *c, uint32_t spec, uint64_t start, uint64_t end,
                          int records)
{
    assert_int_equal(c->spec, spec);
    assert_int_equal(c->start, start);
    assert_int_equal(c->end, end);
    assert_int_equal(c->records, records);
}

/* Windows start on multiples of their length since the epoch; a record
 * exactly on a boundary opens the next window; end of input closes the
 * window it is in the middle of. */
static void test_tumbling_boundaries(void **st)
{
    static const char *const wins[] = { "10s" };
    struct fixture f;
    setup(&f, wins, 1, 1);   /* 1 ns: the watermark is the clock */
    const uint64_t base = 1700000003ull * S;   /* not a multiple of 10 s */
    const uint64_t t[] = { base, 1700000009ull * S + S - 1, 1700000010ull * S,
                           1700000013ull * S };
    push(&f, t, 4);
    assert_int_equal(fl_windows_advance(f.ws, 1700000010ull * S + 1), 0);
    assert_int_equal(f.lg.n, 1);   /* [..00, ..10) closed on the clock */
    assert_closed(&f.lg.c[0], 0, 1700000000ull * S, 1700000010ull * S, 2);
    assert_int_equal(fl_windows_close_all(f.ws), 0);
    assert_int_equal(f.lg.n, 2);
    assert_closed(&f.lg.c[1], 0, 1700000010ull * S, 1700000020ull * S, 2);
    assert_int_equal(fl_counter_get(f.ctx, "late"), 0);
    teardown(&f);
}

/* "2s/1s": a record belongs to two windows; windows close in end order. */
static void test_hopping(void **st)
{
    static const char *const wins[] = { "2s/1s" };
    struct fixture f;
    setup(&f, wins, 1, 1);
    const uint64_t t[] = { 10 * S + S / 2, 11 * S + S / 2 };
    push(&f, t, 2);
    assert_int_equal(fl_windows_close_all(f.ws), 0);
    assert_int_equal(f.lg.n, 3);
    assert_closed(&f.lg.c[0], 0, 9 * S, 11 * S, 1);
    assert_closed(&f.lg.c[1], 0, 10 * S, 12 * S, 2);
    assert_closed(&f.lg.c[2], 0, 11 * S, 13 * S, 1);
    teardown(&f);
}

/* Several lengths in one stage: each record counts once per length, and
 * windows close earliest end first across lengths. */
static void test_several_lengths(void **st)
{
    static const char *const wins[] = { "1m", "10s" };
    struct fixture f;
    setup(&f, wins, 2, 1);
    uint64_t t[12];
    for (int i = 0; i < 12; i++)
        t[i] = 60 * S + (uint64_t)i * 5 * S;   /* 60 s .. 115 s */
    push(&f, t, 12);
    assert_int_equal(fl_windows_advance(f.ws, 125 * S + 1), 0);
    assert_int_equal(f.lg.n, 7);
    for (int i = 0; i < 5; i++)
        assert_closed(&f.lg.c[i], 1, (60 + 10 * (uint64_t)i) * S, (70 + 10 * (uint64_t)i) * S, 2);
    /* 1m ends at 120 s like the sixth 10 s window; equal ends keep spec order */
    assert_closed(&f.lg.c[5], 0, 60 * S, 120 * S, 12);
    assert_closed(&f.lg.c[6], 1, 110 * S, 120 * S, 2);
    teardown(&f);
}

/* allowed_lateness: within it a record older than the newest goes to its
 * (still open) window; past it, it is counted late and merged nowhere,
 * also when its window was never opened. Time going backwards is fine. */
static void test_late_and_backwards(void **st)
{
    static const char *const wins[] = { "10s" };
    struct fixture f;
    setup(&f, wins, 1, 5 * S);
    const uint64_t a[] = { 100 * S, 112 * S, 108 * S };   /* 108: backwards, in time */
    push(&f, a, 3);
    assert_int_equal(fl_windows_advance(f.ws, 0), 0);     /* watermark 107 s */
    assert_int_equal(f.lg.n, 0);
    const uint64_t b[] = { 116 * S };
    push(&f, b, 1);
    assert_int_equal(fl_windows_advance(f.ws, 0), 0);     /* watermark 111 s */
    assert_int_equal(f.lg.n, 1);
    assert_closed(&f.lg.c[0], 0, 100 * S, 110 * S, 2);
    const uint64_t c[] = { 109 * S, 95 * S, 113 * S };    /* two late, one on time */
    push(&f, c, 3);
    assert_int_equal(fl_counter_get(f.ctx, "late"), 2);
    assert_int_equal(fl_windows_close_all(f.ws), 0);
    assert_int_equal(f.lg.n, 2);
    assert_closed(&f.lg.c[1], 0, 110 * S, 120 * S, 3);
    const uint64_t d[] = { 200 * S };                     /* after end of input */
    push(&f, d, 1);
    assert_int_equal(fl_counter_get(f.ctx, "late"), 3);
    teardown(&f);
}

/* Windows nobody's record fell into are never opened; one record makes
 * one window; rows without a time are counted and go nowhere; a stage
 * stopped without draining discards what is open. */
static void test_empty_single_and_missing(void **st)
{
    static const char *const wins[] = { "1s" };
    struct fixture f;
    setup(&f, wins, 1, 1);
    const uint64_t t[] = { 5 * S, ~0ull, 50 * S };
    push(&f, t, 3);
    assert_int_equal(f.lg.open, 2);
    assert_int_equal(fl_counter_get(f.ctx, "records_no_time"), 1);
    assert_int_equal(fl_windows_advance(f.ws, 0), 0);
    assert_int_equal(f.lg.n, 1);
    assert_closed(&f.lg.c[0], 0, 5 * S, 6 * S, 1);
    teardown(&f);   /* the 50 s window is discarded, not closed */
    assert_int_equal(f.lg.discarded, 1);
    assert_int_equal(f.lg.n, 1);
}

/* The window list is checked: durations, hops that divide, duplicates. */
static void test_check_diagnostics(void **st)
{
    static const struct fl_col_def cols[] = { { "bytes", FL_T_U64 } };
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    assert_int_equal(fl_schema_intern(ctx, cols, 1, sizeof(cols[0]), &s), 0);
    static const char *const bad[][1] = { { "5x" }, { "5m/2m" }, { "1m/2m" }, { "1h/1s" } };
    for (size_t i = 0; i < 4; i++) {
        struct fl_window_conf c = { .windows = { 1, (char **)bad[i] }, .time = (char *)"ts" };
        assert_int_equal(fl_windows_check(ctx, &c, NULL, 0), -FL_EINVAL);
    }
    static const char *const dup[] = { "1m", "1m" };
    struct fl_window_conf c = { .windows = { 2, (char **)dup } };
    assert_int_equal(fl_windows_check(ctx, &c, NULL, 0), -FL_EINVAL);
    static const char *const ok[] = { "1m" };
    c.windows = (struct fl_strlist){ 1, (char **)ok };
    assert_int_equal(fl_windows_check(ctx, &c, NULL, 0), 0);
    assert_int_equal(fl_windows_check(ctx, &c, &s, 1), -FL_EINVAL);   /* no time field */
    c.clock = FL_WINDOW_WALL;
    assert_int_equal(fl_windows_check(ctx, &c, &s, 1), 0);             /* wall needs none */
    fl_test_ctx_destroy(&ctx);
}

/* Regression: FL_WINDOW_OPTS in a plugin's option table. Its parameter
 * was named `type`, which replaced the `.type =` designators, so no table
 * using the macro compiled; the rows must point into the plugin's state. */
struct opt_user {
    int other;
    struct fl_window_conf win;
};
static const struct fl_opt opt_user_opts[] = {
    FL_WINDOW_OPTS(struct opt_user, win, "[10s, 1m]"),
    { 0 }
};

static void test_window_opts_macro(void **st)
{
    assert_string_equal(opt_user_opts[0].name, "windows");
    assert_int_equal(opt_user_opts[0].type, FL_OPT_LIST);
    assert_int_equal(opt_user_opts[0].offset, offsetof(struct opt_user, win.windows));
    assert_string_equal(opt_user_opts[0].def, "[10s, 1m]");
    assert_int_equal(opt_user_opts[1].type, FL_OPT_STRING);
    assert_int_equal(opt_user_opts[1].offset, offsetof(struct opt_user, win.time));
    assert_int_equal(opt_user_opts[2].type, FL_OPT_DURATION);
    assert_int_equal(opt_user_opts[2].offset, offsetof(struct opt_user, win.allowed_lateness));
    assert_int_equal(opt_user_opts[3].type, FL_OPT_ENUM);
    assert_string_equal(opt_user_opts[3].choices[1], "wall");
    assert_null(opt_user_opts[4].name);
}

/* Regression: the clock choices were a compound literal, which is a
 * constant only at file scope: a table of options inside a function did
 * not compile. Also: the rows' defaults parse into the window conf. */
struct opts_user {
    int before;
    struct fl_window_conf win;
    int after;
};

static void test_window_opts_block_scope(void **st)
{
    static const struct fl_opt table[] = {
        FL_WINDOW_OPTS(struct opts_user, win, "[1m, 5m/1m]"),
        { 0 }
    };
    struct opts_user u;
    char err[160];
    memset(&u, 0, sizeof(u));
    assert_int_equal(table[3].type, FL_OPT_ENUM);
    assert_int_equal(table[3].offset, offsetof(struct opts_user, win.clock));
    assert_int_equal(fl_opt_parse_value(&table[0], table[0].def,
                                        (char *)&u + table[0].offset, err, sizeof(err)), 0);
    assert_int_equal(u.win.windows.n, 2);
    assert_string_equal(u.win.windows.v[1], "5m/1m");
    assert_int_equal(fl_opt_parse_value(&table[3], "wall", (char *)&u + table[3].offset, err,
                                        sizeof(err)), 0);
    assert_int_equal(u.win.clock, FL_WINDOW_WALL);
    assert_int_equal(u.before, 0);
    assert_int_equal(u.after, 0);
    for (size_t i = 0; i < u.win.windows.n; i++)
        free(u.win.windows.v[i]);
    free(u.win.windows.v);
}

/* A batch whose time field has a type that is no timestamp (a run-time schema,
 * IPFIX) has no usable time: every row's window must read NULL, not
 * what the caller's array held, and no window opens. */
static void test_batch_without_time_field(void **st)
{
    static const char *const wins[] = { "10s" };
    static const struct fl_col_def other[] = { { "ts", FL_T_F64 } };   /* does not widen to ts */
    struct fixture f;
    const struct fl_schema *s2;
    struct fl_batch *b = NULL;
    setup(&f, wins, 1, 1);
    assert_int_equal(fl_schema_intern(f.ctx, other, 1, sizeof(other[0]), &s2), 0);
    assert_int_equal(fl_batch_new(f.ctx, s2, 3, &b), 0);
    for (uint32_t r = 0; r < 3; r++)
        FL_COL(b, 0, double)[r] = 100.0;
    b->rows = 3;
    struct fl_window *w[3] = { (struct fl_window *)&f, (struct fl_window *)&f,
                               (struct fl_window *)&f };
    assert_int_equal(fl_windows_map(f.ctx, f.ws, b, w, NULL), 0);
    for (int r = 0; r < 3; r++)
        assert_null(w[r]);
    assert_int_equal(f.lg.open, 0);
    fl_batch_release(&b);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_opts_macro),
        cmocka_unit_test(test_window_opts_block_scope),
        cmocka_unit_test(test_tumbling_boundaries),
        cmocka_unit_test(test_hopping),
        cmocka_unit_test(test_several_lengths),
        cmocka_unit_test(test_late_and_backwards),
        cmocka_unit_test(test_empty_single_and_missing),
        cmocka_unit_test(test_check_diagnostics),
        cmocka_unit_test(test_batch_without_time_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
