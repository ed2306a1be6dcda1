/* influx.h: output.influx's state, shared by its files.
 *
 * influx.c: options, life cycle, process; influx_line.c: records to line
 * protocol (plans per schema, escaping, the series guard); influx_send.c:
 * one payload to the server (HTTP through libcurl, or UDP datagrams). */
#ifndef FL_INFLUX_H
#define FL_INFLUX_H

#include <stdbool.h>
#include <stdint.h>
#include <flowline/deliver.h>
#include <flowline/plugin.h>

enum influx_prec { PREC_NS, PREC_US, PREC_MS, PREC_S };
enum influx_api { API_AUTO, API_V1, API_V2 };
enum influx_uint { UINT_INT, UINT_U };

struct influx_col { int col; enum fl_type type; char *key; size_t key_len; };

/* How one input schema becomes lines. */
struct influx_plan {
    const struct fl_schema *schema;
    struct influx_col *tags, *fields;   /* tags sorted by key (as InfluxDB stores them) */
    size_t n_tags, n_fields;
    int time_col;                        /* -1: no timestamp, the server's time */
    size_t row_max;                      /* bytes a row can take, strings aside */
};

#define INFLUX_PLANS 8

/* At most max_series distinct tag sets per hour: an open-addressing set
 * of 64-bit hashes, emptied when the hour is over. */
struct influx_series {
    uint64_t *slot;     /* 0 = empty */
    size_t cap, n, max;
    uint64_t window_start;
};

struct influx {
    /* options */
    char *url, *db, *rp, *user, *password, *org, *bucket, *token, *measurement, *time;
    struct fl_strlist tags, fields;
    int precision, api, unsigned_as;
    bool gzip;
    uint64_t timeout, max_series, udp_payload;
    struct fl_deliver_opts dl;
    /* run */
    struct fl_ctx *ctx;
    struct fl_deliver *d;
    char *meas_esc;                      /* measurement, escaped */
    size_t meas_len;
    struct influx_plan plans[INFLUX_PLANS];
    size_t n_plans, next_evict;
    struct influx_series series;
    struct influx_net *net;              /* influx_send.c */
};

/* influx_line.c */
int influx_line_init(struct influx *s);
void influx_line_fini(struct influx *s);
/* Append the lines of rows [from, to) of b to the open payload; counts
 * what it had to leave out. */
int influx_encode(struct influx *s, const struct fl_batch *b);
/* Line-protocol escapes (exposed for the tests' sake through the plugin's
 * behaviour only). */

/* influx_send.c */
int influx_net_open(struct influx *s);
void influx_net_close(struct influx *s);
int influx_send(void *arg, const uint8_t *buf, size_t len, uint32_t n, uint32_t *n_rejected);

#endif
