/* flowline/window.h: time windows, one implementation for every
 * aggregation (docs/windows.md).
 *
 * A stage lists window lengths (`windows: [10s, 1m, 5m/1m]`); a length
 * alone is a tumbling window, "L/H" a hopping (sliding) window of length L
 * that starts every H (H divides L). Windows are aligned to multiples of their hop since
 * the Unix epoch, as InfluxDB's GROUP BY time() is: a 1m window always
 * starts on a whole minute.
 *
 * Each record belongs, per length, to the windows whose [start, end)
 * holds its time: its event time (the `time` field, default flow_end when
 * the input has it, else ts) or, with `clock: wall`, the wall clock when it
 * arrives. The stage keeps its own aggregate per open window (w->state);
 * the service opens windows as records need them and closes them, oldest
 * end first, once the watermark passes their end: the watermark is the
 * later of the stage clock and the latest event time seen, minus
 * `allowed_lateness`. A record whose window has closed already is counted
 * as `late` and not merged. At end of input every open window closes.
 * Windows nobody's record fell into are never opened and give no rows.
 *
 * Use:
 *   state:    struct fl_window_conf win;  struct fl_windows *ws;
 *   opts:     FL_WINDOW_OPTS(struct agm, win, "[1m]"),
 *   describe: fl_windows_check(ctx, &st->win, in, n_in);
 *             output columns: FL_WINDOW_COLS first
 *   init:     fl_windows_new(ctx, &st->win, &ops, sizeof(ops), st, &st->ws);
 *   process:  fl_windows_map(ctx, st->ws, b, wins) -> wins[k * rows + r] is
 *             the newest window of length k holding row r (NULL: late or no
 *             time); with hopping windows follow ->older while
 *             fl_window_holds(w, t) for the others.
 *   tick:     fl_windows_advance(st->ws, now)   (calls ops.close)
 *   drain:    fl_windows_close_all(st->ws)
 *   fini:     fl_windows_free(&st->ws)           (calls ops.discard)
 *
 * ABI: added in 2.3. struct fl_window_conf is written by the option parser
 * into the plugin's state and is fixed for the ABI major; struct
 * fl_window is the core's and only grows at its end; struct
 * fl_window_ops travels with its size. */
#ifndef FLOWLINE_WINDOW_H
#define FLOWLINE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/error.h>
#include <flowline/opts.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_ctx;

enum fl_window_clock { FL_WINDOW_EVENT = 0, FL_WINDOW_WALL = 1 };

/* The window options as the option parser writes them. */
struct fl_window_conf {
    struct fl_strlist windows;   /* "10s", "5m/1m" */
    char *time;                  /* time field; NULL = flow_end, else ts */
    uint64_t allowed_lateness;   /* ns */
    int clock;                   /* enum fl_window_clock */
};

/* The option rows of the window options, for a plugin's table: `stype_` is
 * the plugin's state struct, `member_` its struct fl_window_conf, `defwin_`
 * the default window list as YAML ("[1m]"). (The parameters must not be
 * named like a designator of struct fl_opt: a parameter `type` replaced
 * `.type =` and no table using the macro compiled.) allowed_lateness, when not
 * given, is 2m for flow records (time flow_end: a flow reaches the stage
 * up to the flow meter's idle timeout after it ended) and 1s otherwise. */
/* The `clock` choices, in enum fl_window_clock order: a file-scope array
 * in each user, not a compound literal, which at block scope is no
 * constant (a table of options inside a function did not compile), and
 * not an exported object (data symbols of the core are one more thing a
 * plugin binds to at load; the ABI exports functions only). */
static const char *const fl_window_clocks[] __attribute__((unused)) = { "event", "wall", NULL };
#define FL_WINDOW_OPTS(stype_, member_, defwin_)                                          \
    { .name = "windows", .type = FL_OPT_LIST, .offset = offsetof(stype_, member_.windows), \
      .def = defwin_,                                                                  \
      .doc = "window lengths: \"1m\" tumbling, \"5m/1m\" 5 minutes every minute; "   \
             "aligned to the epoch" },                                                \
    { .name = "time", .type = FL_OPT_STRING, .offset = offsetof(stype_, member_.time),   \
      .doc = "event time field (default flow_end when the input has it, else ts)" },  \
    { .name = "allowed_lateness", .type = FL_OPT_DURATION,                            \
      .offset = offsetof(stype_, member_.allowed_lateness), .min = "0s", .max = "1d",    \
      .doc = "how long a window waits for late records after its end "               \
             "(default 2m for flows, 1s for packets)" },                              \
    { .name = "clock", .type = FL_OPT_ENUM, .offset = offsetof(stype_, member_.clock),   \
      .def = "event", .choices = fl_window_clocks,                                       \
      .doc = "event: the record's time field; wall: its arrival time (live input)" }

/* The columns every windowed row starts with. */
#define FL_WINDOW_COLS                                  \
    { .name = "window_start", .type = FL_T_TS },        \
    { .name = "window_end", .type = FL_T_TS },          \
    { .name = "window", .type = FL_T_DUR }

/* An open window. */
struct fl_window {
    uint64_t start, end;         /* [start, end), ns since the epoch */
    uint64_t length;             /* end - start */
    uint32_t spec;               /* its index in the windows list */
    void *state;                 /* the stage's aggregate, set by ops.open */
    struct fl_window *older;     /* the next older open window of this spec */
    FL_GROWN_TAIL
};

static inline bool fl_window_holds(const struct fl_window *w, uint64_t t)
{
    return w && t >= w->start && t < w->end;
}

struct fl_window_ops {
    /* A window opens for its first record: set w->state. 0 or -FL_E*. */
    int (*open)(void *ud, struct fl_window *w);
    /* Its end has passed (or the input ended): emit its rows, free
     * w->state. 0 or -FL_E* (the stage fails). */
    int (*close)(void *ud, struct fl_window *w);
    /* The stage stops without draining: free w->state. May be NULL. */
    void (*discard)(void *ud, struct fl_window *w);
};

struct fl_windows;   /* opaque */

/* In describe(): the window list, and the time field against the declared
 * inputs (NULL entries are open). Diagnostics at the option. 0 or
 * -FL_EINVAL. */
FL_API int fl_windows_check(struct fl_ctx *ctx, const struct fl_window_conf *conf,
                            const struct fl_schema *const *in, size_t n_in);
/* In init(): the windows of this stage (freed with the stage, or earlier
 * by fl_windows_free). ops_size = sizeof(struct fl_window_ops). */
FL_API int fl_windows_new(struct fl_ctx *ctx, const struct fl_window_conf *conf,
                          const struct fl_window_ops *ops, size_t ops_size, void *ud,
                          struct fl_windows **out);
/* Discard every open window (ops.discard) and free; *ws = NULL. */
FL_API void fl_windows_free(struct fl_windows **ws);
/* How many window lengths (specs) there are. */
FL_API uint32_t fl_windows_specs(const struct fl_windows *ws);

/* Assign every row of b: wins must hold specs * b->rows pointers;
 * wins[k * rows + r] gets the newest open window of spec k that holds row
 * r's time, opening windows as needed, or NULL when the row has no time
 * (counted records_no_time) or every window of spec k that would hold it
 * has closed (counted late). times (may be NULL) gets each row's time.
 * The pointers stay valid until the next advance or close_all. */
FL_API int fl_windows_map(struct fl_ctx *ctx, struct fl_windows *ws, const struct fl_batch *b,
                          struct fl_window **wins, uint64_t *times);
/* The stage clock is now_ns: close the windows the watermark has passed,
 * in order of end. Returns the first error of ops.close, else 0. */
FL_API int fl_windows_advance(struct fl_windows *ws, uint64_t now_ns);
/* End of input: close every open window, in order of end. */
FL_API int fl_windows_close_all(struct fl_windows *ws);

#ifdef __cplusplus
}
#endif
#endif
