/* cassandra_session.c: getting output.cassandra to the point where rows can
 * go: a connection to one of `hosts` (tried in turn from the last one that
 * worked, so a node that goes away fails over to the next), STARTUP with
 * CQL_VERSION 3.0.0, SASL PLAIN when the server asks (AUTHENTICATE), the
 * optional CREATE KEYSPACE / CREATE TABLE IF NOT EXISTS, and PREPARE of the
 * INSERT. When no host answers, the next attempt waits a backoff that
 * doubles from backoff_min to backoff_max, each draw in [d/2, d] (the
 * delivery layer's options, which pace its retries of payloads too).
 *
 * What cannot be cured by waiting fails the stage with the server's own
 * words: refused credentials, a server that asks for authentication when
 * none is configured, a statement the server refuses (syntax, invalid,
 * unauthorized, config), a prepared INSERT whose columns are not ours. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cassandra.h"

void cass_log_error(struct cass *s, const char *what, const struct cql_error *e)
{
    char extra[160] = "";
    switch (e->code) {
    case CQL_E_UNAVAILABLE:
        snprintf(extra, sizeof extra, " [consistency %s: %d replicas required, %d alive]",
                 cql_consistency_name(e->consistency), e->required, e->alive);
        break;
    case CQL_E_WRITE_TIMEOUT:
    case CQL_E_WRITE_FAILURE:
        snprintf(extra, sizeof extra, " [consistency %s: %d of %d acknowledged, write type %.*s]",
                 cql_consistency_name(e->consistency), e->received, e->blockfor,
                 (int)e->write_type.len, (const char *)e->write_type.p);
        break;
    default:
        break;
    }
    /* rate-limited per kind of error, so one kind does not hide another */
#define CASS_LOG_ERR_ FL_LOG_WARN_RL(s->ctx, "%s: %s (0x%04x): %.*s%s", what, cql_error_name(e->code), \
                                     (unsigned)e->code, (int)e->message.len, \
                                     (const char *)e->message.p, extra)
    switch (e->code) {
    case CQL_E_UNAVAILABLE: CASS_LOG_ERR_; break;
    case CQL_E_WRITE_TIMEOUT: CASS_LOG_ERR_; break;
    case CQL_E_OVERLOADED: CASS_LOG_ERR_; break;
    case CQL_E_UNPREPARED: CASS_LOG_ERR_; break;
    default: CASS_LOG_ERR_; break;
    }
#undef CASS_LOG_ERR_
}

void cass_session_drop(struct cass *s, const char *why)
{
    if (why)
        FL_LOG_WARN_RL(s->ctx, "connection to %s lost: %s", s->hosts.v[s->host_i], why);
    cql_conn_close(&s->conn);
    s->ready = false;
}

/* Send the queued request (stream 0) and wait for its answer in s->resp.
 * 0, or -FL_EIO (the connection failed or timed out: it is closed). */
static int call(struct cass *s)
{
    uint64_t deadline = cql_mono_ns() + s->request_timeout;
    int rc;
    if (s->conn.out.err)
        return s->conn.out.err;
    for (;;) {
        rc = cql_conn_next(&s->conn, deadline, &s->resp);
        if (rc == -FL_EAGAIN) {
            snprintf(s->conn.err, sizeof s->conn.err, "no answer within request_timeout");
            cql_conn_close(&s->conn);
            return -FL_EIO;
        }
        if (rc < 0)
            return rc == -FL_ENOMEM ? rc : -FL_EIO;
        if (s->resp.h.stream == 0)
            return 0;
        /* events (stream -1) and stray answers are not ours */
    }
}

static int fatal(struct cass *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fatal(struct cass *s, int rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    FL_LOG_ERROR(s->ctx, "%s", msg);
    s->fatal = rc;
    return rc;
}

/* An ERROR answer during setup: retryable ones mean "try again later"
 * (-FL_EIO), the rest are fatal. */
static int setup_error(struct cass *s, const char *host, const char *what)
{
    const struct cql_error *e = &s->resp.error;
    char buf[160];
    if (cql_error_retryable(e->code) || e->code == CQL_E_OVERLOADED) {
        snprintf(buf, sizeof buf, "%s %s", host, what);
        cass_log_error(s, buf, e);
        snprintf(s->conn.err, sizeof s->conn.err, "%s", cql_error_name(e->code));
        return -FL_EIO;
    }
    return fatal(s, -FL_EINVAL, "%s refused %s: %s (0x%04x): %.*s", host, what,
                 cql_error_name(e->code), (unsigned)e->code, (int)e->message.len,
                 (const char *)e->message.p);
}

static int startup(struct cass *s, const char *host)
{
    int rc;
    cql_req_startup(&s->conn.out, 0);
    if ((rc = call(s)) < 0)
        return rc;
    if (s->resp.h.opcode == CQL_OP_READY)
        return 0;
    if (s->resp.h.opcode == CQL_OP_ERROR)
        return setup_error(s, host, "STARTUP");
    if (s->resp.h.opcode != CQL_OP_AUTHENTICATE)
        goto unexpected;
    if (!s->user)
        return fatal(s, -FL_EINVAL, "%s asks for authentication (%.*s): set user and password",
                     host, (int)s->resp.authenticator.len, (const char *)s->resp.authenticator.p);
    cql_req_auth_plain(&s->conn.out, 0, s->user, s->password ? s->password : "");
    if ((rc = call(s)) < 0)
        return rc;
    if (s->resp.h.opcode == CQL_OP_AUTH_SUCCESS)
        return 0;
    if (s->resp.h.opcode == CQL_OP_ERROR)
        return fatal(s, -FL_EINVAL, "%s refused the credentials of user: %.*s", host,
                     (int)s->resp.error.message.len, (const char *)s->resp.error.message.p);
    if (s->resp.h.opcode == CQL_OP_AUTH_CHALLENGE)
        return fatal(s, -FL_EINVAL, "%s answered PLAIN authentication with a challenge: "
                     "only PLAIN (PasswordAuthenticator) is supported", host);
unexpected:
    snprintf(s->conn.err, sizeof s->conn.err, "unexpected answer (opcode 0x%02x) to the handshake",
             s->resp.h.opcode);
    cql_conn_close(&s->conn);
    return -FL_EIO;
}

static int query(struct cass *s, const char *host, const char *cql, const char *what)
{
    int rc;
    cql_req_query(&s->conn.out, 0, cql, (uint16_t)s->consistency);
    if ((rc = call(s)) < 0)
        return rc;
    if (s->resp.h.opcode == CQL_OP_ERROR) {
        /* IF NOT EXISTS makes this rare, but two collectors racing to
         * create the same table may see it */
        if (s->resp.error.code == CQL_E_ALREADY_EXISTS)
            return 0;
        return setup_error(s, host, what);
    }
    return s->resp.h.opcode == CQL_OP_RESULT ? 0 : -FL_EIO;
}

static int prepare(struct cass *s, const char *host)
{
    int rc;
    cql_req_prepare(&s->conn.out, 0, s->insert_cql);
    if ((rc = call(s)) < 0)
        return rc;
    if (s->resp.h.opcode == CQL_OP_ERROR)
        return setup_error(s, host, "the INSERT (PREPARE)");
    if (s->resp.h.opcode != CQL_OP_RESULT || s->resp.kind != CQL_RESULT_PREPARED) {
        snprintf(s->conn.err, sizeof s->conn.err, "PREPARE answered with opcode 0x%02x",
                 s->resp.h.opcode);
        cql_conn_close(&s->conn);
        return -FL_EIO;
    }
    const struct cql_meta *m = &s->resp.bind;
    if ((size_t)m->ncols != s->ncols || s->resp.prepared_id.len > sizeof s->prepared_id)
        return fatal(s, -FL_EPROTO, "%s prepared the INSERT with %d bound values, not %zu",
                     host, m->ncols, s->ncols);
    for (size_t i = 0; i < s->ncols; i++) {
        struct cass_col *c = &s->cols[i];
        const struct cql_col *b = &m->cols[i];
        if (b->name.len != strlen(c->name) || strncasecmp((const char *)b->name.p, c->name,
                                                          b->name.len) != 0)
            return fatal(s, -FL_EPROTO, "%s prepared the INSERT with bound value %zu named "
                         "%.*s, not %s", host, i, (int)b->name.len, (const char *)b->name.p,
                         c->name);
        if (c->type_known && b->type != c->type)
            return fatal(s, -FL_EINVAL, "%s: column %s of %s.%s is %s, but columns: says %s",
                         host, c->name, s->keyspace, s->table, cql_type_name(b->type),
                         cql_type_name(c->type));
        c->type = b->type;      /* the table's type decides the conversion */
        c->type_known = true;
    }
    memcpy(s->prepared_id, s->resp.prepared_id.p, s->resp.prepared_id.len);
    s->prepared_len = (uint16_t)s->resp.prepared_id.len;
    s->prepared_once = true;
    s->plan.schema = NULL;      /* types may have changed: bind again */
    return 0;
}

static int open_one(struct cass *s, const char *host)
{
    int rc;
    if ((rc = cql_conn_open(&s->conn, host, s->connect_timeout)) < 0)
        return rc;
    if ((rc = startup(s, host)) < 0)
        return rc;
    if (s->create && !s->created) {
        char *ks = cass_create_keyspace_cql(s), *tb = cass_create_table_cql(s);
        rc = !ks || !tb ? -FL_ENOMEM : query(s, host, ks, "CREATE KEYSPACE");
        if (rc == 0)
            rc = query(s, host, tb, "CREATE TABLE");
        free(ks);
        free(tb);
        if (rc < 0)
            return rc;
        s->created = true;
    }
    return prepare(s, host);
}

static uint64_t jitter(struct cass *s, uint64_t d)
{
    /* a cheap per-stage generator: spreading reconnects needs no quality */
    uint64_t x = (uint64_t)(uintptr_t)s ^ cql_mono_ns();
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return d / 2 + (d / 2 ? x % (d / 2 + 1) : 0);
}

int cass_session_ensure(struct cass *s, bool gate)
{
    if (s->fatal)
        return s->fatal;
    if (s->ready && s->conn.fd >= 0)
        return 0;
    s->ready = false;
    uint64_t now = cql_mono_ns();
    if (gate && now < s->next_connect_ns)
        return -FL_EAGAIN;
    for (size_t k = 0; k < s->hosts.n; k++) {
        size_t i = (s->host_i + k) % s->hosts.n;
        const char *host = s->hosts.v[i];
        int rc = open_one(s, host);
        if (rc == 0) {
            if (s->backoff_ns)
                FL_LOG_INFO(s->ctx, "connected to %s", host);
            s->host_i = i;
            s->backoff_ns = 0;
            s->ready = true;
            s->c_reconnects++;
            return 0;
        }
        if (s->fatal || rc == -FL_ENOMEM) {
            cql_conn_close(&s->conn);
            return s->fatal ? s->fatal : rc;
        }
        FL_LOG_WARN_RL(s->ctx, "%s: %s", host, s->conn.err);
        cql_conn_close(&s->conn);
    }
    s->backoff_ns = s->backoff_ns ? s->backoff_ns * 2 : s->dl.backoff_min;
    if (s->backoff_ns > s->dl.backoff_max)
        s->backoff_ns = s->dl.backoff_max;
    s->next_connect_ns = cql_mono_ns() + jitter(s, s->backoff_ns);
    return -FL_EAGAIN;
}
