/* cassandra_send.c: delivering a payload of encoded rows (each row its
 * bound [value]s in column order, as cass_encode_row wrote them) to the
 * server: cut into requests of `batch_rows` rows, an EXECUTE for one row
 * or an unlogged BATCH of the prepared INSERT for several, up to
 * `in_flight` requests outstanding on distinct stream ids (1..in_flight;
 * 0 is the session's), answers matched back by stream id.
 *
 * The payload holds no statement id and no stream id, so it can wait,
 * be spooled, and be sent again on another connection after the server
 * prepared the statement anew.
 *
 * Outcome of a payload: OK when every request was answered with a
 * RESULT; RETRY when a connection failed or timed out, or a request was
 * answered with an error a later attempt may cure (Unavailable,
 * Write_timeout, Overloaded, ...), or Unprepared (the server forgot the
 * statement: the session prepares it again before the retry). The whole
 * payload is then sent again: rows already written are written again,
 * which for INSERTs (upserts of the same values) changes nothing.
 * REJECT (drop_invalid) or FATAL for errors about the request itself
 * (Invalid, Syntax, Unauthorized, ...): retrying cannot help. */
#include <stdlib.h>
#include <string.h>
#include "cassandra.h"

/* Row boundaries of the payload; -FL_EPROTO if it is not ncols values per
 * row (a spool written by another configuration). */
static int index_rows(struct cass *s, const uint8_t *buf, size_t len, uint32_t n)
{
    if (s->row_cap < (size_t)n + 1) {
        size_t *p = realloc(s->row_off, ((size_t)n + 1) * sizeof *p);
        if (!p)
            return -FL_ENOMEM;
        s->row_off = p;
        s->row_cap = (size_t)n + 1;
    }
    struct cql_rd r = { .p = buf, .len = len };
    struct cql_slice v;
    for (uint32_t i = 0; i < n; i++) {
        s->row_off[i] = r.off;
        for (size_t c = 0; c < s->ncols; c++)
            if (cql_rd_bytes(&r, &v) < 0)
                return -FL_EPROTO;
    }
    s->row_off[n] = r.off;
    return r.off == len ? 0 : -FL_EPROTO;
}

static int alloc_streams(struct cass *s)
{
    if (!s->stream_chunk) {
        s->stream_chunk = malloc((s->in_flight + 1) * sizeof *s->stream_chunk);
        s->free_sids = malloc((s->in_flight + 1) * sizeof *s->free_sids);
        if (!s->stream_chunk || !s->free_sids) {
            free(s->stream_chunk);
            free(s->free_sids);
            s->stream_chunk = NULL;
            s->free_sids = NULL;
            return -FL_ENOMEM;
        }
    }
    return 0;
}

static void put_request(struct cass *s, int16_t sid, const uint8_t *buf, uint32_t r0, uint32_t r1)
{
    struct cql_wr *w = &s->conn.out;
    struct cql_slice id = { .p = s->prepared_id, .len = s->prepared_len };
    size_t f;
    if (r1 - r0 == 1) {
        f = cql_req_execute_begin(w, sid, id, (uint16_t)s->consistency, (uint16_t)s->ncols);
        cql_wr_raw(w, buf + s->row_off[r0], s->row_off[r1] - s->row_off[r0]);
        cql_req_execute_end(w, f);
    } else {
        f = cql_req_batch_begin(w, sid, CQL_BATCH_UNLOGGED, (uint16_t)(r1 - r0));
        for (uint32_t r = r0; r < r1; r++) {
            cql_req_batch_stmt(w, id, (uint16_t)s->ncols);
            cql_wr_raw(w, buf + s->row_off[r], s->row_off[r + 1] - s->row_off[r]);
        }
        cql_req_batch_end(w, f, (uint16_t)s->consistency);
    }
    s->c_bytes += w->len - f;
}

enum cass_send_result cass_send_rows(struct cass *s, const uint8_t *buf, size_t len, uint32_t n,
                                     uint32_t *n_rejected)
{
    uint32_t per = (uint32_t)s->batch_rows;
    size_t nchunks = ((size_t)n + per - 1) / per, next = 0, inflight = 0;
    enum cass_send_result res = CASS_OK;
    int16_t *free_sids;
    size_t nfree = 0;
    int rc;

    *n_rejected = 0;
    if (!n)
        return CASS_OK;
    if ((rc = index_rows(s, buf, len, n)) < 0) {
        if (rc == -FL_ENOMEM)
            return CASS_RETRY;
        FL_LOG_ERROR_RL(s->ctx, "a payload of %u rows is not %zu values per row (spooled by "
                        "another configuration?): dropped", n, s->ncols);
        *n_rejected = n;
        return CASS_REJECT;
    }
    if ((rc = cass_session_ensure(s, false)) < 0)
        return rc == -FL_EAGAIN ? CASS_RETRY : CASS_FATAL;
    if (alloc_streams(s) < 0)
        return CASS_RETRY;
    free_sids = s->free_sids;
    for (int16_t sid = (int16_t)s->in_flight; sid >= 1; sid--) {
        s->stream_chunk[sid] = -1;
        free_sids[nfree++] = sid;
    }
    for (;;) {
        /* fill the window, unless a failure already decided a retry */
        while ((res == CASS_OK || res == CASS_REJECT) && nfree && next < nchunks) {
            int16_t sid = free_sids[--nfree];
            uint32_t r0 = (uint32_t)(next * per), r1 = r0 + per < n ? r0 + per : n;
            put_request(s, sid, buf, r0, r1);
            s->stream_chunk[sid] = (int32_t)next;   /* payloads hold < 2^31 rows */
            next++;
            inflight++;
            s->c_requests++;
        }
        if (s->conn.out.err) {
            cass_session_drop(s, NULL);
            return CASS_RETRY;
        }
        if (!inflight)
            break;
        rc = cql_conn_next(&s->conn, cql_mono_ns() + s->request_timeout, &s->resp);
        if (rc < 0) {
            cass_session_drop(s, rc == -FL_EAGAIN ? "no answer within request_timeout"
                                                  : s->conn.err);
            return CASS_RETRY;
        }
        int16_t sid = s->resp.h.stream;
        if (sid < 1 || (uint64_t)sid > s->in_flight || s->stream_chunk[sid] < 0)
            continue;   /* an event, or nothing we asked */
        size_t c = (size_t)s->stream_chunk[sid];
        uint32_t rows = (uint32_t)((c + 1) * per < n ? per : n - c * per);
        s->stream_chunk[sid] = -1;
        free_sids[nfree++] = sid;
        inflight--;
        if (s->resp.h.opcode == CQL_OP_RESULT) {
            s->c_rows += rows;
            continue;
        }
        if (s->resp.h.opcode != CQL_OP_ERROR) {
            cass_session_drop(s, "unexpected answer to an EXECUTE or BATCH");
            return CASS_RETRY;
        }
        const struct cql_error *e = &s->resp.error;
        if (e->code == CQL_E_UNPREPARED) {
            /* the node lost the statement (restarted): prepare again on a
             * new session, then retry */
            cass_log_error(s, "EXECUTE", e);
            s->ready = false;
            res = CASS_RETRY;
        } else if (cql_error_retryable(e->code)) {
            if (e->code == CQL_E_UNAVAILABLE)
                s->c_unavailable++;
            else if (e->code == CQL_E_WRITE_TIMEOUT)
                s->c_write_timeout++;
            else if (e->code == CQL_E_OVERLOADED)
                s->c_overloaded++;
            else
                s->c_other_errors++;
            cass_log_error(s, "write (will retry)", e);
            res = CASS_RETRY;
        } else {
            s->c_other_errors++;
            *n_rejected += rows;
            if (!s->drop_invalid) {
                FL_LOG_ERROR(s->ctx, "the server refused rows: %s (0x%04x): %.*s",
                             cql_error_name(e->code), (unsigned)e->code, (int)e->message.len,
                             (const char *)e->message.p);
                s->fatal = -FL_EINVAL;
                res = CASS_FATAL;
            } else {
                cass_log_error(s, "rows refused (dropped)", e);
                if (res == CASS_OK)
                    res = CASS_REJECT;
            }
        }
    }
    if (res == CASS_RETRY && !s->ready)
        cass_session_drop(s, NULL);
    return res;
}
