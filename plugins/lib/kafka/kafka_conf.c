/* kafka_conf.c: librdkafka client configuration from a stage's options,
 * and librdkafka's log and error events into the stage's log (fl_kafka.h).
 * Producing and consuming are the plugins' own. */
#include <string.h>
#include <flowline/plugin.h>
#include "fl_kafka.h"

/* librdkafka calls this from its own threads; the core's log is
 * thread-safe. syslog levels: 0..3 errors, 4 warnings, 5..6 notices. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct fl_ctx *ctx = fl_kafka_ctx(rd_kafka_opaque(rk));
    if (level <= 3)
        FL_LOG_ERROR_RL(ctx, "librdkafka %s: %s", fac, buf);
    else if (level == 4)
        FL_LOG_WARN_RL(ctx, "librdkafka %s: %s", fac, buf);
    else if (level <= 6)
        FL_LOG_INFO(ctx, "librdkafka %s: %s", fac, buf);
    else
        FL_LOG_DEBUG(ctx, "librdkafka %s: %s", fac, buf);
}

/* Served by rd_kafka_poll() on the stage's thread. Most errors are
 * transient (a broker went away; librdkafka reconnects and retries), so
 * they are warnings; a fatal one (the idempotent producer lost its state)
 * is an error and the plugin notices it on its next call. */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct fl_ctx *ctx = fl_kafka_ctx(opaque);
    fl_counter_add(ctx, "client_errors", 1);
    if (err == RD_KAFKA_RESP_ERR__FATAL)
        FL_LOG_ERROR(ctx, "kafka: fatal: %s", reason);
    else
        FL_LOG_WARN_RL(ctx, "kafka: %s: %s", rd_kafka_err2name(err), reason);
    (void)rk;
}

static int kafka_conf_set(struct fl_ctx *ctx, rd_kafka_conf_t *c, const char *opt,
                          const char *key, const char *val)
{
    char err[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(c, key, val, err, sizeof(err));
    if (r == RD_KAFKA_CONF_OK)
        return 0;
    if (opt && strcmp(opt, "properties") == 0)
        return fl_diag_at(ctx, opt, key, 0, "librdkafka property \"%s\": %s", key, err);
    return fl_diag(ctx, opt, "librdkafka property \"%s\": %s", key, err);
}

int fl_kafka_conf_new(struct fl_ctx *ctx, void *state, const char *brokers,
                      const char *const *defs, const struct fl_strmap *props,
                      rd_kafka_conf_t **out)
{
    int rc = 0;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!c)
        return -FL_ENOMEM;
    if (kafka_conf_set(ctx, c, "brokers", "bootstrap.servers", brokers) < 0)
        rc = -FL_EINVAL;
    for (size_t i = 0; defs && defs[i]; i += 2)
        if (kafka_conf_set(ctx, c, NULL, defs[i], defs[i + 1]) < 0)
            rc = -FL_EINVAL;
    for (size_t i = 0; props && i < props->n; i++)
        if (kafka_conf_set(ctx, c, "properties", props->key[i], props->val[i]) < 0)
            rc = -FL_EINVAL;
    if (rc < 0) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    rd_kafka_conf_set_opaque(c, state);
    rd_kafka_conf_set_log_cb(c, kafka_log_cb);
    rd_kafka_conf_set_error_cb(c, kafka_error_cb);
    *out = c;
    return 0;
}

const char *fl_kafka_conf_get(rd_kafka_conf_t *conf, const char *key, char *buf, size_t len)
{
    size_t n = len;
    if (rd_kafka_conf_get(conf, key, buf, &n) != RD_KAFKA_CONF_OK && len)
        buf[0] = '\0';
    return buf;
}
