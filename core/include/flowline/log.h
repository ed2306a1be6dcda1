/* flowline/log.h: logging for plugins and the core.
 *
 * FL_LOG_ERROR(ctx, fmt, ...) and friends prefix the stage id and plugin
 * name. The _RL variants are rate-limited per call site (one line per
 * second; the number suppressed is reported with the next line).
 * Configuration errors never go here: they are diagnostics with file:line. */
#ifndef FLOWLINE_LOG_H
#define FLOWLINE_LOG_H

#include <stdint.h>
#include <flowline/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_ctx;

enum fl_log_level { FL_LOG_LEVEL_ERROR, FL_LOG_LEVEL_WARN, FL_LOG_LEVEL_INFO, FL_LOG_LEVEL_DEBUG };

/* Per-call-site state for rate-limited logging. */
struct fl_log_rl { uint64_t last_ns; uint64_t suppressed; };

FL_API void fl_log(struct fl_ctx *ctx, enum fl_log_level lvl, struct fl_log_rl *rl,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
FL_API enum fl_log_level fl_log_level(void);

#define FL_LOG_(ctx, lvl, rl, ...) \
    do { if ((lvl) <= fl_log_level()) fl_log((ctx), (lvl), (rl), __VA_ARGS__); } while (0)
#define FL_LOG_ERROR(ctx, ...) FL_LOG_(ctx, FL_LOG_LEVEL_ERROR, NULL, __VA_ARGS__)
#define FL_LOG_WARN(ctx, ...)  FL_LOG_(ctx, FL_LOG_LEVEL_WARN, NULL, __VA_ARGS__)
#define FL_LOG_INFO(ctx, ...)  FL_LOG_(ctx, FL_LOG_LEVEL_INFO, NULL, __VA_ARGS__)
#define FL_LOG_DEBUG(ctx, ...) FL_LOG_(ctx, FL_LOG_LEVEL_DEBUG, NULL, __VA_ARGS__)
#define FL_LOG_RL_(ctx, lvl, ...) \
    do { static __thread struct fl_log_rl fl_rl_; FL_LOG_(ctx, lvl, &fl_rl_, __VA_ARGS__); } while (0)
#define FL_LOG_ERROR_RL(ctx, ...) FL_LOG_RL_(ctx, FL_LOG_LEVEL_ERROR, __VA_ARGS__)
#define FL_LOG_WARN_RL(ctx, ...)  FL_LOG_RL_(ctx, FL_LOG_LEVEL_WARN, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
