/* fl_zmq.c: sockets, CURVE keys and connection events for output.zmq and
 * input.zmq (fl_zmq.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "fl_zmq.h"

static bool z85_key_ok(const char *s, size_t n)
{
    uint8_t raw[32];
    char text[FL_ZMQ_KEY_LEN + 1];
    if (n != FL_ZMQ_KEY_LEN)
        return false;
    memcpy(text, s, n);
    text[n] = 0;
    return zmq_z85_decode(raw, text) != NULL;
}

/* The value of `name = "..."` in a certificate file, or NULL. */
static const char *cert_value(const char *text, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += nl) {
        if (p != text && !isspace((unsigned char)p[-1]))
            continue;
        const char *q = p + nl;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q++ != '=')
            continue;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '"')
            continue;
        const char *end = strchr(++q, '"');
        if (!end)
            return NULL;
        *len = (size_t)(end - q);
        return q;
    }
    return NULL;
}

int fl_zmq_key(const char *value, bool secret, char out[FL_ZMQ_KEY_LEN + 1], char *err,
               size_t errlen)
{
    if (z85_key_ok(value, strlen(value))) {
        memcpy(out, value, FL_ZMQ_KEY_LEN + 1);
        return 0;
    }
    FILE *f = fopen(value, "r");
    if (!f) {
        snprintf(err, errlen, "\"%s\" is neither a 40-character Z85 key nor a readable key "
                 "file (%s)", value, strerror(errno));
        return -FL_EINVAL;
    }
    char text[4096];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    size_t len = 0;
    const char *k = cert_value(text, secret ? "secret-key" : "public-key", &len);
    if (!k) {       /* a bare key, maybe with a newline */
        k = text;
        while (*k && isspace((unsigned char)*k))
            k++;
        len = strlen(k);
        while (len && isspace((unsigned char)k[len - 1]))
            len--;
    }
    if (!z85_key_ok(k, len)) {
        snprintf(err, errlen, "key file %s holds no %s key (40 characters of Z85%s)", value,
                 secret ? "secret" : "public",
                 secret ? ", or a `secret-key = \"...\"` line" : ", or a `public-key = \"...\"` line");
        return -FL_EINVAL;
    }
    memcpy(out, k, FL_ZMQ_KEY_LEN);
    out[FL_ZMQ_KEY_LEN] = 0;
    return 0;
}

int fl_zmq_describe(struct fl_ctx *ctx, const struct fl_zmq_opts *o)
{
    char key[FL_ZMQ_KEY_LEN + 1], pub[FL_ZMQ_KEY_LEN + 1], err[512];
    int rc = 0;

    if (o->endpoint && strncmp(o->endpoint, "tcp://", 6) && strncmp(o->endpoint, "ipc://", 6)
        && strncmp(o->endpoint, "inproc://", 9))
        rc = fl_diag(ctx, "endpoint", "ZeroMQ endpoints are tcp://host:port or ipc://path, "
                     "not \"%s\"", o->endpoint);
    if ((o->server_key || o->secret_key || o->public_key) && !zmq_has("curve"))
        return fl_diag(ctx, o->server_key ? "curve_server_key" : "curve_secret_key",
                       "this libzmq was built without CURVE");
    if (o->server_key && fl_zmq_key(o->server_key, false, key, err, sizeof err) < 0)
        rc = fl_diag(ctx, "curve_server_key", "%s", err);
    if (o->secret_key && fl_zmq_key(o->secret_key, true, key, err, sizeof err) < 0)
        rc = fl_diag(ctx, "curve_secret_key", "%s", err);
    else if (o->secret_key && o->public_key) {
        char derived[FL_ZMQ_KEY_LEN + 1];
        if (fl_zmq_key(o->public_key, false, pub, err, sizeof err) < 0)
            rc = fl_diag(ctx, "curve_public_key", "%s", err);
        else if (zmq_curve_public(derived, key) == 0 && strcmp(derived, pub) != 0)
            rc = fl_diag(ctx, "curve_public_key", "this public key is not the one of "
                         "curve_secret_key");
    }
    if (o->public_key && !o->secret_key)
        rc = fl_diag(ctx, "curve_public_key", "a public key needs its curve_secret_key");
    return rc;
}

static int setopt_int(struct fl_ctx *ctx, void *s, int opt, int v, const char *what)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) == 0)
        return 0;
    FL_LOG_ERROR(ctx, "cannot set %s: %s", what, zmq_strerror(zmq_errno()));
    return -FL_EIO;
}

static int set_curve(struct fl_ctx *ctx, void *s, const struct fl_zmq_opts *o)
{
    char secret[FL_ZMQ_KEY_LEN + 1], pub[FL_ZMQ_KEY_LEN + 1], server[FL_ZMQ_KEY_LEN + 1];
    char err[512];

    if (!o->server_key && !o->secret_key)
        return 0;
    if (o->secret_key && fl_zmq_key(o->secret_key, true, secret, err, sizeof err) < 0)
        goto bad;
    if (o->server_key) {            /* client: the server's key, and a pair of our own */
        if (fl_zmq_key(o->server_key, false, server, err, sizeof err) < 0)
            goto bad;
        if (!o->secret_key) {
            if (zmq_curve_keypair(pub, secret) != 0)
                goto zerr;
        } else if (zmq_curve_public(pub, secret) != 0) {
            goto zerr;
        }
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, FL_ZMQ_KEY_LEN + 1) != 0
            || zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, FL_ZMQ_KEY_LEN + 1) != 0
            || zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret, FL_ZMQ_KEY_LEN + 1) != 0)
            goto zerr;
        return 0;
    }
    int one = 1;                    /* server */
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) != 0
        || zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret, FL_ZMQ_KEY_LEN + 1) != 0)
        goto zerr;
    return 0;
bad:
    FL_LOG_ERROR(ctx, "CURVE: %s", err);
    return -FL_EINVAL;
zerr:
    FL_LOG_ERROR(ctx, "CURVE: %s", zmq_strerror(zmq_errno()));
    return -FL_EIO;
}

int fl_zmq_open(struct fl_ctx *ctx, struct fl_zmq *z, const struct fl_zmq_opts *o, int type,
                bool bind_auto, uint64_t hwm_auto)
{
    char mon_ep[64];
    int rc = -FL_EIO;
    bool bind = o->mode == 1 || (o->mode == 0 && bind_auto);
    int linger_ms = (int)(o->linger / 1000000u);
    uint64_t h = o->hwm ? o->hwm : hwm_auto;
    int hwm = h > 0x7fffffff ? 0x7fffffff : (int)h;

    memset(z, 0, sizeof(*z));
    if (!(z->zctx = zmq_ctx_new()) || !(z->sock = zmq_socket(z->zctx, type))) {
        FL_LOG_ERROR(ctx, "cannot make a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if ((rc = setopt_int(ctx, z->sock, ZMQ_LINGER, linger_ms, "ZMQ_LINGER")) < 0
        || (rc = setopt_int(ctx, z->sock, ZMQ_SNDHWM, hwm, "ZMQ_SNDHWM")) < 0
        || (rc = setopt_int(ctx, z->sock, ZMQ_RCVHWM, hwm, "ZMQ_RCVHWM")) < 0
        || (rc = setopt_int(ctx, z->sock, ZMQ_IPV6, 1, "ZMQ_IPV6")) < 0
        || (rc = set_curve(ctx, z->sock, o)) < 0)
        goto fail;
    /* connection events over an inproc PAIR, named after this socket */
    snprintf(mon_ep, sizeof mon_ep, "inproc://fl-zmq-monitor-%p", z->sock);
    if (zmq_socket_monitor(z->sock, mon_ep, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                           ZMQ_EVENT_DISCONNECTED) == 0
        && (z->mon = zmq_socket(z->zctx, ZMQ_PAIR))) {
        int zero = 0;
        zmq_setsockopt(z->mon, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(z->mon, mon_ep) != 0) {
            zmq_close(z->mon);
            z->mon = NULL;
        }
    }
    if ((bind ? zmq_bind(z->sock, o->endpoint) : zmq_connect(z->sock, o->endpoint)) != 0) {
        FL_LOG_ERROR(ctx, "cannot %s %s: %s", bind ? "bind" : "connect to", o->endpoint,
                     zmq_strerror(zmq_errno()));
        rc = -FL_EIO;
        goto fail;
    }
    FL_LOG_INFO(ctx, "%s %s%s", bind ? "bound to" : "connecting to", o->endpoint,
                o->server_key ? " (CURVE client)" : o->secret_key ? " (CURVE server)" : "");
    return 0;
fail:
    fl_zmq_close(z);
    return rc;
}

void fl_zmq_events(struct fl_ctx *ctx, struct fl_zmq *z)
{
    for (int k = 0; z->mon && k < 64; k++) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, z->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
        }
        char where[256] = "";
        zmq_msg_init(&addr);
        if (zmq_msg_more(&ev) && zmq_msg_recv(&addr, z->mon, 0) >= 0)
            snprintf(where, sizeof where, "%.*s", (int)zmq_msg_size(&addr),
                     (const char *)zmq_msg_data(&addr));
        zmq_msg_close(&addr);
        zmq_msg_close(&ev);
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            fl_counter_add(ctx, "peers_connected", 1);
            break;
        case ZMQ_EVENT_DISCONNECTED:
            fl_counter_add(ctx, "peers_disconnected", 1);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            z->handshake_failures++;
            fl_counter_add(ctx, "handshake_failures", 1);
            FL_LOG_WARN_RL(ctx, "handshake with a peer on %s failed (%s 0x%x): a wrong CURVE "
                           "key, or a peer with/without CURVE where this side differs", where,
                           event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "authentication"
                           : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol" : "error",
                           value);
            break;
        default:
            break;
        }
    }
}

void fl_zmq_close(struct fl_zmq *z)
{
    /* the monitored socket first (its linger bounds the wait), then the
     * monitor, whose linger is 0; zmq_ctx_term then has nothing to wait for
     * beyond the linger */
    if (z->sock) {
        zmq_socket_monitor(z->sock, NULL, 0);
        zmq_close(z->sock);
    }
    if (z->mon)
        zmq_close(z->mon);
    if (z->zctx)
        zmq_ctx_term(z->zctx);
    memset(z, 0, sizeof(*z));
}
