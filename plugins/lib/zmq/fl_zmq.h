/* fl_zmq.h: what output.zmq and input.zmq share: the socket options every
 * ZeroMQ endpoint of theirs has (endpoint, bind or connect, high-water mark,
 * linger, CURVE keys), opening the socket, and watching its connection
 * events so that a failed CURVE handshake is counted and logged.
 *
 * A static library linked into those plugins (plugins/lib/zmq), not part
 * of the plugin ABI. Each stage instance owns its own ZeroMQ context: no
 * process-wide state.
 *
 * CURVE (RFC 26/CurveZMQ): the side with curve_secret_key and no
 * curve_server_key is the server (it proves it holds the secret key whose
 * public half clients were given); the side with curve_server_key is a
 * client, with its own key pair (curve_public_key + curve_secret_key) or a
 * fresh one per run. A key is 40 characters of Z85 or the path of a key
 * file: a bare Z85 key, or the ZeroMQ certificate format (`public-key =
 * "..."`, `secret-key = "..."` lines, as zcert and `flowline keygen`
 * write). */
#ifndef FL_ZMQ_H
#define FL_ZMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/plugin.h>

#define FL_ZMQ_KEY_LEN 40   /* Z85 text of a 32-byte key */

/* The options, filled by the core (FL_ZMQ_OPTS). */
struct fl_zmq_opts {
    char *endpoint;
    int mode;                   /* 0 auto, 1 bind, 2 connect */
    uint64_t hwm, linger;
    char *server_key, *secret_key, *public_key;
};

#define FL_ZMQ_MODES ((const char *const[]){ "auto", "bind", "connect", NULL })

#define FL_ZMQ_OPTS(T, m, AUTO_DOC)                                                        \
    { .name = "endpoint", .type = FL_OPT_ENDPOINT, .offset = offsetof(T, m.endpoint),      \
      .flags = FL_OPT_REQUIRED,                                                            \
      .doc = "ZeroMQ endpoint: tcp://host:port (tcp://0.0.0.0:5556 to bind every "         \
             "address, tcp://[::1]:5556), ipc:///path/socket" },                           \
    { .name = "mode", .type = FL_OPT_ENUM, .offset = offsetof(T, m.mode), .def = "auto",   \
      .choices = FL_ZMQ_MODES, .doc = "bind the endpoint or connect to it; " AUTO_DOC },    \
    { .name = "hwm", .type = FL_OPT_UINT, .offset = offsetof(T, m.hwm), .def = "0",        \
      .max = "10000000", .unit = "messages",                                               \
      .doc = "high-water mark: messages ZeroMQ queues per peer; 0 = 32 batches (up to "    \
             "~25 MB of flow records) or 10000 JSON records" },                            \
    { .name = "linger", .type = FL_OPT_DURATION, .offset = offsetof(T, m.linger),          \
      .def = "1s", .max = "1h",                                                            \
      .doc = "at shutdown, how long queued messages may still be sent (ZMQ_LINGER); "      \
             "also how long a blocked send waits once the pipeline is stopping" },         \
    { .name = "curve_server_key", .type = FL_OPT_STRING, .offset = offsetof(T, m.server_key), \
      .doc = "CURVE client: the server's public key (Z85 or a key file); the "             \
             "connection is encrypted and the server authenticated" },                     \
    { .name = "curve_secret_key", .type = FL_OPT_STRING, .offset = offsetof(T, m.secret_key), \
      .doc = "CURVE: this side's secret key (Z85 or a key file); alone it makes this "     \
             "side the CURVE server" },                                                    \
    { .name = "curve_public_key", .type = FL_OPT_STRING, .offset = offsetof(T, m.public_key), \
      .doc = "CURVE: this side's public key (Z85 or a key file; default: derived from "    \
             "the secret key)" }

/* In describe(): check the endpoint scheme and the keys (readable, valid
 * Z85, public matching secret), reporting at the option. */
int fl_zmq_describe(struct fl_ctx *ctx, const struct fl_zmq_opts *o);

/* Read a key: Z85 text or a key file. secret selects `secret-key` in a
 * certificate file. out gets 40 characters and a NUL. Returns 0 or
 * -FL_EINVAL with a reason in err. */
int fl_zmq_key(const char *value, bool secret, char out[FL_ZMQ_KEY_LEN + 1], char *err,
               size_t errlen);

/* A socket with its context and monitor. */
struct fl_zmq {
    void *zctx, *sock, *mon;
    uint64_t handshake_failures;    /* also a stage counter */
};

/* The default high-water marks (messages): a batch message holds thousands
 * of records, so few of them keep memory bounded (DESIGN.md §4). */
#define FL_ZMQ_HWM_BATCH 32
#define FL_ZMQ_HWM_RECORD 10000

/* Make the context and a socket of `type` (ZMQ_PUB ...), set the HWM (both
 * directions; hwm_auto when o->hwm is 0), linger, CURVE; bind when o->mode
 * is bind or (auto and bind_auto), else connect. Errors are logged; -FL_EIO. */
int fl_zmq_open(struct fl_ctx *ctx, struct fl_zmq *z, const struct fl_zmq_opts *o, int type,
                bool bind_auto, uint64_t hwm_auto);
/* Read the socket's pending connection events: count them (stage
 * counters handshake_failures, peers_connected, peers_disconnected) and
 * log handshake failures (rate-limited). Cheap when there are none. */
void fl_zmq_events(struct fl_ctx *ctx, struct fl_zmq *z);
/* Close the socket (waiting at most its linger) and the context. */
void fl_zmq_close(struct fl_zmq *z);

#endif
