/* fl_kafka.h: what output.kafka and input.kafka share about librdkafka:
 * building a client configuration from the stage's options (with
 * flowline's defaults, the user's `properties:` on top, each refused
 * property reported at its line), and librdkafka's log and error events
 * routed into the stage's log.
 *
 * A static library linked into the two Kafka plugins, not part of the
 * plugin ABI. Message formats are not here: the text forms come from
 * plugins/lib/text, the batch encoding from the core. */
#ifndef FLOWLINE_KAFKA_H
#define FLOWLINE_KAFKA_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>
#include <flowline/opts.h>

struct fl_ctx;

/* A new configuration: bootstrap.servers = brokers, then defs (pairs
 * {key, value, key, value, ..., NULL}: flowline's defaults for this
 * client), then every property of props (the user's; they override the
 * defaults). A property librdkafka refuses is reported with fl_diag at its
 * entry of option `properties` (name and librdkafka's reason), so `flowline
 * check` shows it; every one is tried before returning. The client's
 * opaque (rd_kafka_opaque(), the callbacks' opaque argument) is `state`,
 * the plugin's state, which must begin with a struct fl_ctx * (the stage's
 * ctx, which must outlive the client): the log and error callbacks write
 * to its log.
 * Returns 0 (*out owned by the caller: rd_kafka_new() takes it, or
 * rd_kafka_conf_destroy()) or -FL_EINVAL / -FL_ENOMEM. */
int fl_kafka_conf_new(struct fl_ctx *ctx, void *state, const char *brokers,
                      const char *const *defs, const struct fl_strmap *props,
                      rd_kafka_conf_t **out);

/* The ctx at the start of a client's state (see above). */
static inline struct fl_ctx *fl_kafka_ctx(void *state)
{
    return *(struct fl_ctx **)state;
}

/* The value a configuration holds for key (a default, the user's, or
 * librdkafka's own) into buf; "" if unknown. */
const char *fl_kafka_conf_get(rd_kafka_conf_t *conf, const char *key, char *buf, size_t len);

#endif
