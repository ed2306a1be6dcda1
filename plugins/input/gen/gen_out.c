/* gen_out.c: the files input.gen writes: a classic pcap (nanosecond
 * timestamps, magic 0xa1b23c4d, native byte order, LINKTYPE_ETHERNET) through
 * one large buffer written with few write() calls, and the ground truth
 * JSON beside it (<path>.truth.json). Also the start-time parser, because
 * the time is only a string option.
 *
 * It does not decide what is written: gen.c fills the buffer with records. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* asprintf */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gen.h"

int gen_pcap_open(struct fl_ctx *ctx, struct gen *g)
{
    uint32_t magic = 0xa1b23c4du, zone = 0, sigfigs = 0, snap = (uint32_t)g->snaplen, link = 1;
    uint16_t major = 2, minor = 4;

    g->fd = open(g->path, O_WRONLY | O_CREAT | O_CLOEXEC | (g->overwrite ? O_TRUNC : O_EXCL), 0644);
    if (g->fd < 0) {
        FL_LOG_ERROR(ctx, "cannot create %s: %s%s", g->path, strerror(errno),
                     errno == EEXIST ? " (overwrite: true replaces it)" : "");
        return -FL_EIO;
    }
    g->fd_open = true;
    uint8_t *h = g->buf;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &major, 2);
    memcpy(h + 6, &minor, 2);
    memcpy(h + 8, &zone, 4);
    memcpy(h + 12, &sigfigs, 4);
    memcpy(h + 16, &snap, 4);
    memcpy(h + 20, &link, 4);
    g->buf_len = 24;
    return 0;
}

int gen_pcap_flush(struct fl_ctx *ctx, struct gen *g)
{
    size_t done = 0;
    if (!g->fd_open) {
        g->buf_len = 0;
        return 0;
    }
    while (done < g->buf_len) {
        ssize_t n = write(g->fd, g->buf + done, g->buf_len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            FL_LOG_ERROR(ctx, "writing %s: %s", g->path, n < 0 ? strerror(errno) : "short write");
            return -FL_EIO;
        }
        done += (size_t)n;
    }
    g->buf_len = 0;
    return 0;
}

int gen_pcap_close(struct fl_ctx *ctx, struct gen *g)
{
    int rc = 0;
    if (!g->fd_open)
        return 0;
    rc = gen_pcap_flush(ctx, g);
    if (close(g->fd) < 0 && rc == 0) {
        FL_LOG_ERROR(ctx, "closing %s: %s", g->path, strerror(errno));
        rc = -FL_EIO;
    }
    g->fd_open = false;
    return rc;
}

static void gen_json_tally(FILE *f, const char *name, const struct gen_tally *t, bool comma)
{
    fprintf(f, "    \"%s\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"flows\": %" PRIu64 "}%s\n",
            name, t->packets, t->bytes, t->flows, comma ? "," : "");
}

int gen_truth_write(struct fl_ctx *ctx, const struct gen *g)
{
    const struct gen_truth *t = &g->truth;
    char *name = NULL;
    FILE *f = NULL;
    int rc = -FL_ENOMEM;

    if (asprintf(&name, "%s.truth.json", g->path) < 0) {
        name = NULL;
        goto fail;
    }
    if (!(f = fopen(name, "w"))) {
        FL_LOG_ERROR(ctx, "cannot create %s: %s", name, strerror(errno));
        rc = -FL_EIO;
        goto fail;
    }
    fprintf(f, "{\n  \"generator\": \"input.gen\",\n  \"complete\": %s,\n  \"seed\": %" PRIu64 ",\n",
            t->complete ? "true" : "false", g->seed);
    fprintf(f, "  \"options\": {\"packets\": %" PRIu64 ", \"flows\": %" PRIu64 ", \"concurrency\": %" PRIu64
            ", \"hosts\": %" PRIu32 ", \"ipv6\": %.17g, \"vlan\": %.17g, \"rate\": %.17g, \"max_gap_ns\": %" PRIu64
            ", \"start\": \"%s\", \"snaplen\": %" PRIu64 "},\n",
            g->packets, g->flows, g->concurrency, g->n_hosts, g->ipv6, g->vlan, g->rate, g->max_gap,
            g->start, g->snaplen);
    fprintf(f, "  \"packets\": %" PRIu64 ",\n  \"bytes\": %" PRIu64 ",\n  \"frames_bytes\": %" PRIu64
            ",\n  \"captured_bytes\": %" PRIu64 ",\n  \"payload_bytes\": %" PRIu64 ",\n",
            t->packets, t->bytes, t->frames_bytes, t->captured_bytes, t->payload_bytes);
    fprintf(f, "  \"sessions\": %" PRIu64 ",\n  \"biflows\": %" PRIu64 ",\n  \"max_gap_ns\": %" PRIu64
            ",\n  \"max_duration_ns\": %" PRIu64 ",\n  \"max_open_sessions\": %" PRIu64 ",\n",
            t->sessions, t->biflows, t->max_gap, t->max_duration, t->max_active);
    fprintf(f, "  \"first_ts_ns\": %" PRIu64 ",\n  \"last_ts_ns\": %" PRIu64 ",\n  \"duration_ns\": %" PRIu64 ",\n",
            t->first_ts, t->last_ts, t->last_ts - t->first_ts);
    fprintf(f, "  \"vlan\": {\"packets\": %" PRIu64 ", \"flows\": %" PRIu64 "},\n", t->vlan_packets, t->vlan_flows);
    fprintf(f, "  \"tcp_end\": {\"fin\": %" PRIu64 ", \"rst\": %" PRIu64 ", \"short\": %" PRIu64
            ", \"open\": %" PRIu64 "},\n", t->tcp_fin, t->tcp_rst, t->tcp_short, t->tcp_open);
    static const char *const cs[GEN_CS_COUNT] = {
        [GEN_CS_S0] = "S0", [GEN_CS_S1] = "S1", [GEN_CS_SF] = "SF", [GEN_CS_REJ] = "REJ",
        [GEN_CS_RSTO] = "RSTO", [GEN_CS_RSTR] = "RSTR", [GEN_CS_OTH] = "OTH",
    };
    fprintf(f, "  \"conn_state\": {");
    for (int i = 0; i < GEN_CS_COUNT; i++)
        fprintf(f, "\"%s\": %" PRIu64 "%s", cs[i], t->conn_state[i], i + 1 < GEN_CS_COUNT ? ", " : "},\n");
    fprintf(f, "  \"by_proto\": {\n");
    gen_json_tally(f, "tcp", &t->proto[GEN_P_TCP], true);
    gen_json_tally(f, "udp", &t->proto[GEN_P_UDP], true);
    gen_json_tally(f, "icmp", &t->proto[GEN_P_ICMP], true);
    gen_json_tally(f, "icmpv6", &t->proto[GEN_P_ICMP6], false);
    fprintf(f, "  },\n  \"by_ip_version\": {\n");
    gen_json_tally(f, "4", &t->ver[0], true);
    gen_json_tally(f, "6", &t->ver[1], false);
    fprintf(f, "  }\n}\n");
    rc = 0;
fail:
    /* `|`, not `||`: fclose must run even when ferror already failed */
    if (f && (ferror(f) | fclose(f)) && rc == 0) {
        FL_LOG_ERROR(ctx, "writing %s failed", name);
        rc = -FL_EIO;
    }
    free(name);
    return rc;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (civil-from-days
 * inverted, valid for every year >= 1). */
static int64_t gen_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = y / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int gen_digits(const char **s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return -FL_EINVAL;
        v = v * 10 + (unsigned)(**s - '0');
    }
    *out = v;
    return 0;
}

int gen_parse_time(const char *s, uint64_t *out_ns)
{
    static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
    uint64_t frac = 0;
    int sign = 0;

    if (!s || gen_digits(&s, 4, &y) || *s++ != '-' || gen_digits(&s, 2, &mo) || *s++ != '-' ||
        gen_digits(&s, 2, &d) || (*s != 'T' && *s != 't' && *s != ' '))
        return -FL_EINVAL;
    s++;
    if (gen_digits(&s, 2, &h) || *s++ != ':' || gen_digits(&s, 2, &mi) || *s++ != ':' ||
        gen_digits(&s, 2, &sec))
        return -FL_EINVAL;
    if (*s == '.') {
        int n = 0;
        for (s++; *s >= '0' && *s <= '9'; s++, n++)
            if (n < 9)
                frac = frac * 10 + (uint64_t)(*s - '0');
        if (n == 0)
            return -FL_EINVAL;
        for (; n < 9; n++)
            frac *= 10;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (gen_digits(&s, 2, &oh) || *s++ != ':' || gen_digits(&s, 2, &om) || oh > 23 || om > 59)
            return -FL_EINVAL;
    } else {
        return -FL_EINVAL;
    }
    if (*s || y < 1970 || y > 2500 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))) || h > 23 || mi > 59 || sec > 60)
        return -FL_EINVAL;
    int64_t t = gen_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                sign * (int64_t)(oh * 3600 + om * 60);
    if (t < 0)
        return -FL_ERANGE;
    *out_ns = (uint64_t)t * 1000000000u + frac;
    return 0;
}
