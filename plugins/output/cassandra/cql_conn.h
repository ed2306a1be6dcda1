/* cql_conn.h: one TCP connection to a CQL node (cql_conn.c). Frames to
 * send are appended to `out` (cql_req_*), sent by cql_conn_flush() or
 * while waiting for responses in cql_conn_next(). */
#ifndef FL_CQL_CONN_H
#define FL_CQL_CONN_H

#include "cql.h"

struct cql_conn {
    int fd;                     /* -1: closed */
    struct cql_wr out;          /* frames not yet sent, from out_off */
    size_t out_off;
    uint8_t *in;                /* received bytes: in[in_off .. in_len) unread */
    size_t in_len, in_off, in_cap;
    struct cql_col *bind_cols, *result_cols;   /* CQL_MAX_COLS each, for decoding */
    char err[256];              /* why the last call failed */
};

uint64_t cql_mono_ns(void);
/* "host:port", "[v6]:port" or "host" (port 9042) into host and port. */
int cql_hostport_split(const char *hp, char *host, size_t hlen, char *port, size_t plen);
/* Connect (closing any earlier connection) within timeout_ns. */
int cql_conn_open(struct cql_conn *c, const char *hostport, uint64_t timeout_ns);
/* Send what is queued; 0, -FL_EAGAIN at the deadline, -FL_EIO (closed). */
int cql_conn_flush(struct cql_conn *c, uint64_t deadline);
/* Send what the socket takes now, without waiting. */
int cql_conn_send_some(struct cql_conn *c);
/* The next response frame, decoded into r (its slices valid until the next
 * call); sends queued frames meanwhile. 0; -FL_EAGAIN at the deadline;
 * -FL_EIO (closed) or -FL_EPROTO (malformed: closed too), err says why. */
int cql_conn_next(struct cql_conn *c, uint64_t deadline, struct cql_resp *r);
void cql_conn_close(struct cql_conn *c);
void cql_conn_free(struct cql_conn *c);

#endif
