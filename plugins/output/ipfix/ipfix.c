/* ipfix.c: output.ipfix, records as IPFIX (RFC 7011) messages over UDP or
 * TCP, or to a file of concatenated messages (RFC 5655).
 *
 * Each batch is written as it arrives: its rows become data records under
 * the template of their schema and address families (ipx_plan.c), packed
 * into messages of at most `mtu` bytes on UDP and 64 KiB on TCP and files
 * (ipx_msg.c), each sent whole (ipx_xport.c). A template goes into the
 * message ahead of its first data record: on TCP once per connection, in a
 * file once per file, on UDP again after every refresh (RFC 7011 §8.4).
 * The header's sequence number counts the data records sent before the
 * message in this stream (one observation domain per stage).
 *
 * Delivery: UDP is best effort; a send that fails (no collector: the
 * kernel reports ECONNREFUSED) loses that message's records, counted in
 * records_dropped, and the export goes on. TCP: a broken connection is
 * reconnected; the batch being sent resumes from the message that failed,
 * in a new stream (templates again, sequence from 0). A file error fails
 * the stage, like the text outputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <flowline/plugin.h>
#include "ipx.h"

#define IPX_MAX_DECLARED 8

struct ipfix {
    /* options */
    char *target;
    char *path;
    uint64_t domain, mtu, refresh, refresh_messages, connect_timeout, rate;
    int time_elements;              /* 0 native, 1 milliseconds */
    bool overwrite, append;
    /* run */
    struct ipx_xport x;
    bool opened;                    /* file: created (at the first record) */
    bool reopen;                    /* file: after SIGHUP, append to what is there */
    struct ipx_plan **plans;
    size_t nplans;
    size_t cur;                     /* plan of the batch at hand */
    uint32_t next_id;
    struct ipx_msg m;
    uint32_t msg_row0;              /* first row of the batch in the open message */
    uint32_t seq;                   /* data records of this stream before the open message */
    uint64_t refreshed_ns, msgs_since_refresh;
    uint64_t next_send_ns;          /* UDP with message_rate: monotonic time of the next send */
    const struct fl_batch *resume_b;  /* TCP: the batch to resume after a reconnect */
    uint64_t resume_seq;
    uint32_t resume_row;
    /* schemas whose left-out columns describe() already reported */
    const struct fl_schema *declared[IPX_MAX_DECLARED];
    /* counted per batch */
    uint64_t c_records, c_messages, c_bytes, c_templates, c_errors, c_dropped, c_large, c_refused;
};

static const char *const time_choices[] = { "native", "milliseconds", NULL };

static const struct fl_opt ipfix_opts[] = {
    { .name = "target", .type = FL_OPT_ENDPOINT, .offset = offsetof(struct ipfix, target),
      .doc = "collector to send to: udp://host:port or tcp://host:port "
             "(IPv6 as udp://[::1]:4739); or use path" },
    { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(struct ipfix, path),
      .doc = "file to write instead: concatenated IPFIX messages (RFC 5655)" },
    { .name = "observation_domain", .type = FL_OPT_UINT,
      .offset = offsetof(struct ipfix, domain), .def = "0", .max = "4294967295",
      .doc = "observation domain id in every message header (0 = no specific domain)" },
    { .name = "mtu", .type = FL_OPT_SIZE, .offset = offsetof(struct ipfix, mtu),
      .def = "1400", .min = "256", .max = "65535", .unit = "bytes",
      .doc = "UDP: largest message (one datagram); a single record that does not fit is "
             "sent alone in a larger one. TCP and files use 65535" },
    { .name = "template_refresh", .type = FL_OPT_DURATION,
      .offset = offsetof(struct ipfix, refresh), .def = "60s",
      .doc = "UDP: send templates again before their next use once this much wall time "
             "has passed since the last refresh; 0 = never" },
    { .name = "template_refresh_messages", .type = FL_OPT_UINT,
      .offset = offsetof(struct ipfix, refresh_messages), .def = "0", .unit = "messages",
      .doc = "UDP: also refresh templates after this many messages; 0 = never" },
    { .name = "time_elements", .type = FL_OPT_ENUM,
      .offset = offsetof(struct ipfix, time_elements), .def = "native", .choices = time_choices,
      .doc = "native: the registry's element for time columns (flowStartNanoseconds, "
             "flowDurationMicroseconds); milliseconds: their millisecond element where the "
             "registry has one (flowStartMilliseconds, for collectors such as nfdump 1.7)" },
    { .name = "message_rate", .type = FL_OPT_UINT, .offset = offsetof(struct ipfix, rate),
      .def = "0", .max = "1000000000", .unit = "messages/s",
      .doc = "UDP: send at most this many messages per second, so a burst (a flow meter "
             "flushing at the end of a file) does not overflow the collector's socket buffer; "
             "0 = no limit" },
    { .name = "connect_timeout", .type = FL_OPT_DURATION,
      .offset = offsetof(struct ipfix, connect_timeout), .def = "5s", .min = "1ms",
      .doc = "TCP: how long a connection attempt may take" },
    { .name = "overwrite", .type = FL_OPT_BOOL, .offset = offsetof(struct ipfix, overwrite),
      .def = "false", .doc = "path: replace an existing file (otherwise it is refused)" },
    { .name = "append", .type = FL_OPT_BOOL, .offset = offsetof(struct ipfix, append),
      .def = "false", .doc = "path: add messages to an existing file" },
    { 0 }
};

struct skip_arg {
    struct fl_ctx *ctx;
    const struct fl_schema *s;
};

static void skip_warn(void *arg, const char *name, const char *why)
{
    struct skip_arg *a = arg;
    FL_LOG_WARN(a->ctx, "field \"%s\" is not exported: %s", name, why);
}

static int ipfix_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                          size_t n_in, struct fl_schema_decl *const *out)
{
    struct ipfix *s = state;
    int rc = 0;
    (void)out;
    if (!s->target == !s->path)
        return fl_diag(ctx, s->path ? "path" : NULL,
                       "give either target (udp://host:port, tcp://host:port) or path");
    if (s->path && strcmp(s->path, "-") == 0)
        rc = fl_diag(ctx, "path", "IPFIX is binary: write it to a file, not to standard output");
    if (s->overwrite && s->append)
        rc = fl_diag(ctx, "append", "append and overwrite exclude each other");
    if (s->target) {
        struct ipx_xport x = { 0 };
        if (ipx_xport_parse(&x, s->target) < 0)
            rc = fl_diag(ctx, "target", "target must be udp://host:port or tcp://host:port, "
                                        "not \"%s\"", s->target);
        ipx_xport_free(&x);
    } else if (s->path) {
        int prc = fl_path_declare(ctx, "path", s->path,
                                  FL_PATH_WRITE | (s->overwrite || s->append
                                                   ? FL_PATH_KEEPS_EXISTING : 0));
        if (prc < 0)
            return prc;
    }
    /* Say once, at check time, which declared fields have no element. */
    for (size_t i = 0; i < n_in; i++) {
        if (!in[i])
            continue;
        bool seen = false;
        for (size_t k = 0; k < IPX_MAX_DECLARED && s->declared[k] && !seen; k++)
            seen = s->declared[k] == in[i];
        if (seen)
            continue;
        struct skip_arg a = { ctx, in[i] };
        struct ipx_plan *p;
        if (ipx_plan_new(in[i], s->time_elements == 1, skip_warn, &a, &p) < 0)
            return -FL_ENOMEM;
        if (!p->n)
            rc = fl_diag(ctx, NULL, "no field of the input has an IPFIX element");
        ipx_plan_free(&p);
        for (size_t k = 0; k < IPX_MAX_DECLARED; k++)
            if (!s->declared[k]) {
                s->declared[k] = in[i];
                break;
            }
    }
    return rc;
}

static void stream_restart(struct ipfix *s)
{
    s->seq = 0;
    for (size_t i = 0; i < s->nplans; i++)
        for (size_t k = 0; k < s->plans[i]->ntmpl; k++)
            s->plans[i]->tmpl[k].sent = false;
}

static int ipfix_start(struct fl_ctx *ctx, void *state)
{
    struct ipfix *s = state;
    int rc;
    s->next_id = IPX_TMPL_MIN;
    s->x.fd = -1;
    if (s->path) {
        s->x.kind = IPX_FILE;
        if (!(s->x.what = strdup(s->path)))
            return -FL_ENOMEM;
    } else if ((rc = ipx_xport_parse(&s->x, s->target)) < 0) {
        return rc;
    }
    s->x.connect_timeout_ns = s->connect_timeout;
    if ((rc = ipx_msg_init(&s->m, IPX_MSG_MAX)) < 0)
        return rc;
    s->m.max = s->x.kind == IPX_UDP ? (size_t)s->mtu : IPX_MSG_MAX;
    s->refreshed_ns = fl_now_ns();
    if (s->x.kind == IPX_FILE)
        return 0;   /* created with the first record */
    if ((rc = ipx_xport_open(&s->x)) < 0) {
        FL_LOG_ERROR(ctx, "cannot %s %s: %s", s->x.kind == IPX_TCP ? "connect to" : "send to",
                     s->x.what, ipx_xport_strerror(&s->x, errno));
        return rc;
    }
    return 0;
}

static void count(struct fl_ctx *ctx, struct ipfix *s)
{
    static const char *const names[] = { "records_out", "messages", "bytes", "templates",
                                         "send_errors", "records_dropped", "records_too_large",
                                         "collector_refused" };
    uint64_t *v[] = { &s->c_records, &s->c_messages, &s->c_bytes, &s->c_templates,
                      &s->c_errors, &s->c_dropped, &s->c_large, &s->c_refused };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (*v[i]) {
            fl_counter_add(ctx, names[i], *v[i]);
            *v[i] = 0;
        }
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* message_rate: wait for this message's slot. */
static void pace(struct ipfix *s)
{
    uint64_t now = mono_ns();
    if (s->next_send_ns > now) {
        uint64_t d = s->next_send_ns - now;
        struct timespec ts = { (time_t)(d / 1000000000u), (long)(d % 1000000000u) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        now = s->next_send_ns;
    }
    s->next_send_ns = now + 1000000000u / s->rate;
}

/* Send the open message. UDP failures are counted and the export goes
 * on; a TCP failure returns -FL_EAGAIN (the connection is gone); a file
 * failure fails the stage. */
static int send_msg(struct fl_ctx *ctx, struct ipfix *s)
{
    struct ipx_msg *m = &s->m;
    if (ipx_msg_empty(m))
        return 0;
    ipx_msg_finish(m, (uint32_t)(fl_now_ns() / 1000000000u), s->seq, (uint32_t)s->domain);
    bool refused = false;
    if (s->x.kind == IPX_UDP && s->rate)
        pace(s);
    int rc = ipx_xport_send(&s->x, m->buf, m->len, &refused);
    if (refused) {
        s->c_refused++;
        FL_LOG_WARN_RL(ctx, "%s refuses datagrams (ICMP port unreachable): is the collector "
                       "running? Messages sent meanwhile are lost", s->x.what);
    }
    if (rc == 0) {
        s->c_messages++;
        s->c_bytes += m->len;
        s->c_records += m->records;
        s->c_templates += m->templates;
        s->seq += m->records;
        s->msgs_since_refresh++;
        ipx_msg_reset(m);
        return 0;
    }
    s->c_errors++;
    if (s->x.kind == IPX_FILE) {
        FL_LOG_ERROR(ctx, "cannot write \"%s\": %s", s->x.what, strerror(errno));
        return rc;
    }
    if (s->x.kind == IPX_UDP) {
        FL_LOG_WARN_RL(ctx, "cannot send to %s: %s (%u records lost)", s->x.what,
                       strerror(errno), m->records);
        s->c_dropped += m->records;
        s->seq += m->records;   /* lost on the way: the collector sees the gap */
        uint32_t seq = s->seq;
        stream_restart(s);      /* the templates in it may not have arrived */
        s->seq = seq;
        ipx_msg_reset(m);
        return 0;
    }
    FL_LOG_WARN_RL(ctx, "connection to %s lost: %s; reconnecting", s->x.what, strerror(errno));
    ipx_msg_reset(m);
    stream_restart(s);
    return -FL_EAGAIN;
}

/* The plan of schema sc (made, and its left-out columns said, when new). */
static int plan_for(struct fl_ctx *ctx, struct ipfix *s, const struct fl_schema *sc)
{
    if (s->cur < s->nplans && s->plans[s->cur]->schema == sc)
        return 0;
    for (size_t i = 0; i < s->nplans; i++)
        if (s->plans[i]->schema == sc) {
            s->cur = i;
            return 0;
        }
    bool declared = false;
    for (size_t k = 0; k < IPX_MAX_DECLARED && !declared; k++)
        declared = s->declared[k] == sc;
    struct ipx_plan **pl = realloc(s->plans, (s->nplans + 1) * sizeof *pl);
    if (!pl)
        return -FL_ENOMEM;
    s->plans = pl;
    struct skip_arg a = { ctx, sc };
    int rc = ipx_plan_new(sc, s->time_elements == 1, declared ? NULL : skip_warn, &a,
                          &s->plans[s->nplans]);
    if (rc < 0)
        return rc;
    if (!s->plans[s->nplans]->n)
        FL_LOG_WARN(ctx, "schema %llu has no field with an IPFIX element: its records are "
                    "dropped", (unsigned long long)sc->id);
    s->cur = s->nplans++;
    return 0;
}

/* UDP (RFC 7011 §8.4): templates again after the refresh interval or
 * message count; each goes out before its next data record. */
static void maybe_refresh(struct ipfix *s)
{
    if (s->x.kind != IPX_UDP)
        return;
    uint64_t now = fl_now_ns();
    if ((s->refresh && now - s->refreshed_ns >= s->refresh)
        || (s->refresh_messages && s->msgs_since_refresh >= s->refresh_messages)) {
        uint32_t seq = s->seq;
        stream_restart(s);
        s->seq = seq;
        s->refreshed_ns = now;
        s->msgs_since_refresh = 0;
    }
}

/* Append row r (and its template when not sent yet) to the message,
 * sending the message first when it is full. */
static int put_row(struct fl_ctx *ctx, struct ipfix *s, struct ipx_plan *p,
                   const struct fl_batch *b, uint32_t r)
{
    struct ipx_tmpl *t;
    int rc = ipx_plan_tmpl(p, ipx_plan_mask(p, b, r), &s->next_id, &t);
    if (rc < 0) {
        if (rc == -FL_EFULL)
            FL_LOG_ERROR(ctx, "more than 65280 templates: cannot export more schemas");
        return rc;
    }
    size_t rl = ipx_rec_len(p, t, b, r);
    for (int attempt = 0; rl; attempt++) {
        struct ipx_msg *m = &s->m;
        size_t need = (t->sent ? 0 : IPX_SET_HDR_LEN + t->rec_len) + rl
                    + (!t->sent || m->set_id != t->id ? IPX_SET_HDR_LEN : 0);
        if (need <= m->max - m->len) {
            if (!t->sent) {
                ipx_tmpl_write(p, t, ipx_msg_put(m, 2, t->rec_len));
                m->templates++;
                t->sent = true;
            }
            ipx_rec_write(p, t, b, r, ipx_msg_put(m, t->id, rl));
            m->records++;
            break;
        }
        if (!ipx_msg_empty(m)) {
            if ((rc = send_msg(ctx, s)) < 0)
                return rc;
            s->msg_row0 = r;
            maybe_refresh(s);
            continue;
        }
        /* Alone it exceeds the bound: one larger message (UDP: the IP
         * layer fragments it), or dropped when even 64 KiB is too little. */
        if (attempt > 2 || m->max == IPX_MSG_MAX) {
            rl = 0;
            break;
        }
        m->max = IPX_MSG_MAX;
    }
    s->m.max = s->x.kind == IPX_UDP ? (size_t)s->mtu : IPX_MSG_MAX;
    if (s->m.len > s->m.max) {   /* the oversized one goes out alone */
        if ((rc = send_msg(ctx, s)) < 0)
            return rc;
        s->msg_row0 = r + 1;
    }
    if (!rl) {
        s->c_large++;
        FL_LOG_WARN_RL(ctx, "a record of schema %llu does not fit in a 65535-byte message: "
                       "dropped", (unsigned long long)b->schema->id);
    }
    return 0;
}

static int ipfix_process(struct fl_ctx *ctx, void *state, struct fl_batch *b)
{
    struct ipfix *s = state;
    int rc;
    if (!b->rows)
        return 0;
    if (s->x.kind == IPX_FILE && !s->opened) {
        s->x.existing = s->reopen || s->append ? 2 : s->overwrite ? 1 : 0;
        if (ipx_xport_open(&s->x) < 0) {
            if (errno == EEXIST)
                FL_LOG_ERROR(ctx, "\"%s\" exists; flowline does not replace a file unasked "
                             "(overwrite: true replaces it, append: true adds to it)", s->x.what);
            else
                FL_LOG_ERROR(ctx, "cannot open \"%s\": %s", s->x.what, strerror(errno));
            return -FL_EIO;
        }
        s->opened = true;
        stream_restart(s);
    }
    if (s->x.kind == IPX_TCP && s->x.fd < 0) {
        if (ipx_xport_open(&s->x) < 0) {
            FL_LOG_WARN_RL(ctx, "cannot connect to %s: %s", s->x.what,
                           ipx_xport_strerror(&s->x, errno));
            return -FL_EAGAIN;
        }
        fl_counter_add(ctx, "reconnects", 1);
        stream_restart(s);
    }
    if ((rc = plan_for(ctx, s, b->schema)) < 0)
        return rc;
    struct ipx_plan *p = s->plans[s->cur];
    uint32_t r = 0;
    if (b == s->resume_b && b->seq == s->resume_seq)
        r = s->resume_row;
    s->resume_b = NULL;
    if (!p->n) {
        s->c_dropped += b->rows - r;
        count(ctx, s);
        return 0;
    }
    maybe_refresh(s);
    s->msg_row0 = r;
    for (; r < b->rows && rc == 0; r++)
        rc = put_row(ctx, s, p, b, r);
    if (rc == 0)
        rc = send_msg(ctx, s);
    if (rc == -FL_EAGAIN) {
        s->resume_b = b;
        s->resume_seq = b->seq;
        s->resume_row = s->msg_row0;
    }
    count(ctx, s);
    return rc;
}

/* SIGHUP: close the file; the next record appends to what is at path. */
static int ipfix_reload(struct fl_ctx *ctx, void *state)
{
    struct ipfix *s = state;
    (void)ctx;
    if (s->x.kind != IPX_FILE || !s->opened)
        return 0;
    ipx_xport_close(&s->x);
    s->opened = false;
    s->reopen = true;
    return 0;
}

static void ipfix_fini(struct fl_ctx *ctx, void *state)
{
    struct ipfix *s = state;
    (void)ctx;
    ipx_xport_free(&s->x);
    ipx_msg_free(&s->m);
    for (size_t i = 0; i < s->nplans; i++)
        ipx_plan_free(&s->plans[i]);
    free(s->plans);
    s->plans = NULL;
    s->nplans = 0;
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_OUTPUT, .name = "ipfix", .version = "1.0",
                 .summary = "export records as IPFIX over UDP or TCP, or to a file",
                 .opts = ipfix_opts, .state_size = sizeof(struct ipfix),
                 .describe = ipfix_describe, .start = ipfix_start, .process = ipfix_process,
                 .reload = ipfix_reload, .fini = ipfix_fini);
