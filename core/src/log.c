/* log.c: the log sink (stderr) with stage prefixes and per-call-site rate
 * limiting. Level from FLOWLINE_LOG (error|warn|info|debug) or -v/-q. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "rt.h"

static _Atomic int log_level = FL_LOG_LEVEL_WARN;   /* process-wide setting, like stderr itself */

void fl_log_set_level(enum fl_log_level lvl) { atomic_store(&log_level, (int)lvl); }
enum fl_log_level fl_log_level(void) { return (enum fl_log_level)atomic_load_explicit(&log_level, memory_order_relaxed); }

uint64_t fl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fl_log(struct fl_ctx *ctx, enum fl_log_level lvl, struct fl_log_rl *rl, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    size_t off = 0;
    uint64_t suppressed = 0;

    if (rl) {
        uint64_t now = fl_now_ns();
        if (rl->last_ns && now - rl->last_ns < 1000000000u) {
            rl->suppressed++;
            return;
        }
        rl->last_ns = now;
        suppressed = rl->suppressed;
        rl->suppressed = 0;
    }
    off += (size_t)snprintf(line, sizeof(line), "flowline: %s: ", names[lvl]);
    if (ctx && ctx->stage_id)
        off += (size_t)snprintf(line + off, sizeof(line) - off, "stage \"%s\" (%s): ",
                                ctx->stage_id, ctx->use ? ctx->use : "?");
    if (off < sizeof(line)) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
        va_end(ap);
        off = n < 0 ? off : off + (size_t)n;
    }
    if (off >= sizeof(line))
        off = sizeof(line) - 1;
    if (suppressed)
        off += (size_t)snprintf(line + off, sizeof(line) - off, " (%llu similar suppressed)",
                                (unsigned long long)suppressed);
    if (off >= sizeof(line) - 1)
        off = sizeof(line) - 2;
    line[off++] = '\n';
    fwrite(line, 1, off, stderr);   /* one call: lines from threads do not interleave */
}
