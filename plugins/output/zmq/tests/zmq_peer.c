/* zmq_peer.c: the other end of output.zmq and input.zmq in their tests, a
 * plain libzmq program as an outside consumer would write it.
 *
 *   zmq_peer keygen                       print "PUBLIC SECRET" (Z85)
 *   zmq_peer sub|pull ENDPOINT [opts]     receive; print a summary line
 *   zmq_peer send-bad ENDPOINT [opts]     PUSH malformed messages, then a
 *                                         good batch of 3 rows
 * opts: --bind (default connect), --topic T (sub filter), --server-key K
 *   (CURVE client), --idle S (stop S seconds after the last message, or
 *   after S seconds without any; default 3), --json FILE (write JSON
 *   payloads one per line), --expect-topic T (count PUB topic frames
 *   that differ).
 * Summary: "messages=M records=R bad=B wrong_topic=W frames=F" where a
 * batch payload (docs/wire-format.md) counts its rows and a JSON payload
 * counts one record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include <flowline/wire.h>
#include "fl_harness.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "zmq_peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(2);
}

static void set_int(void *s, int opt, int v)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
        die("setsockopt");
}

static void curve_client(void *s, const char *server_key)
{
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0 || zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 41) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 41) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 41) != 0)
        die("CURVE");
}

static void attach(void *s, const char *ep, int bind)
{
    if ((bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) != 0)
        die(ep);
}

static int receive(void *zctx, int type, const char *ep, int bind, const char *topic,
                   const char *server_key, double idle, const char *json_path,
                   const char *expect_topic)
{
    void *s = zmq_socket(zctx, type);
    struct fl_ctx *ctx = fl_test_ctx_new();
    struct fl_wire_dec *dec;
    FILE *jf = json_path ? fopen(json_path, "w") : NULL;
    unsigned long long msgs = 0, recs = 0, bad = 0, wrong = 0, frames = 0;

    if (!s || !ctx || fl_wire_dec_new(ctx, 0, &dec) < 0 || (json_path && !jf))
        die("setup");
    set_int(s, ZMQ_LINGER, 0);
    set_int(s, ZMQ_RCVHWM, 100000);
    if (server_key)
        curve_client(s, server_key);
    if (type == ZMQ_SUB && zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0)
        die("subscribe");
    attach(s, ep, bind);
    printf("ready\n");
    fflush(stdout);
    double last = now_s();
    while (now_s() - last < idle) {
        zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t f[4];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, s, 0) < 0)
                die("recv");
            more = zmq_msg_more(&m);
            if (n < 4)
                f[n++] = m;
            else
                zmq_msg_close(&m);
        }
        last = now_s();
        msgs++;
        frames += (unsigned)n;
        if (type == ZMQ_SUB && expect_topic &&
            (n < 2 || zmq_msg_size(&f[0]) != strlen(expect_topic) ||
             memcmp(zmq_msg_data(&f[0]), expect_topic, zmq_msg_size(&f[0])) != 0))
            wrong++;
        zmq_msg_t *pl = &f[n - 1];
        const char *p = zmq_msg_data(pl);
        size_t len = zmq_msg_size(pl);
        struct fl_batch *b;
        if (len >= 4 && memcmp(p, "FLWB", 4) == 0) {
            if (fl_wire_decode(dec, p, len, &b, NULL) == 0) {
                recs += b->rows;
                fl_batch_release(&b);
            } else {
                bad++;
            }
        } else if (len >= 2 && p[0] == '{' && p[len - 1] == '}' && !memchr(p, '\n', len)) {
            recs++;
            if (jf)
                fprintf(jf, "%.*s\n", (int)len, p);
        } else {
            bad++;
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
    printf("messages=%llu records=%llu bad=%llu wrong_topic=%llu frames=%llu\n", msgs, recs,
           bad, wrong, frames);
    if (jf)
        fclose(jf);
    fl_wire_dec_free(&dec);
    fl_test_ctx_destroy(&ctx);
    zmq_close(s);
    return 0;
}

static void send_msg(void *s, const void *p, size_t n, int flags)
{
    if (zmq_send(s, p, n, flags) < 0)
        die("send");
}

static int send_bad(void *zctx, const char *ep, int bind)
{
    void *s = zmq_socket(zctx, ZMQ_PUSH);
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *sc;
    struct fl_col_def cols[] = { { "src_port", FL_T_U16 }, { "end_reason", FL_T_STR } };
    struct fl_batch *b;
    struct fl_wire_buf w = { 0 };

    if (!s || !ctx || fl_schema_intern(ctx, cols, 2, sizeof cols[0], &sc) < 0 ||
        fl_batch_new(ctx, sc, 3, &b) < 0)
        die("setup");
    for (uint32_t r = 0; r < 3; r++) {
        FL_COL(b, 0, uint16_t)[r] = (uint16_t)(1000 + r);
        if (fl_batch_put_bytes(b, "idle", 4, &FL_COL(b, 1, struct fl_span)[r]) < 0)
            die("put");
    }
    b->rows = 3;
    if (fl_wire_encode(b, 0, &w) < 0)
        die("encode");
    set_int(s, ZMQ_LINGER, 5000);
    attach(s, ep, bind);
    uint8_t *v2 = malloc(w.len);                             /* 1: another version */
    memcpy(v2, w.p, w.len);
    v2[4] = 2;
    send_msg(s, v2, w.len, 0);
    send_msg(s, "hello, not a batch", 18, 0);               /* 2: not a batch */
    send_msg(s, w.p, w.len - 5, 0);                         /* 3: truncated */
    send_msg(s, "topic", 5, ZMQ_SNDMORE);                    /* 4: two frames to a PULL */
    send_msg(s, w.p, w.len, 0);
    uint8_t *longer = calloc(1, w.len + 4);                  /* 5: bytes after the batch */
    memcpy(longer, w.p, w.len);
    send_msg(s, longer, w.len + 4, 0);
    send_msg(s, w.p, w.len, 0);                              /* good: 3 rows */
    free(longer);
    free(v2);
    fl_wire_buf_free(&w);
    fl_batch_release(&b);
    fl_test_ctx_destroy(&ctx);
    zmq_close(s);                                            /* waits for delivery (linger) */
    printf("sent 5 bad messages and 1 batch of 3 rows\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *topic = "", *server_key = NULL, *json = NULL, *expect = NULL;
    double idle = 3;
    int bind = 0;

    if (argc >= 2 && strcmp(argv[1], "keygen") == 0) {
        char pub[41], sec[41];
        if (zmq_curve_keypair(pub, sec) != 0)
            die("keypair");
        printf("%s %s\n", pub, sec);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: zmq_peer keygen | sub|pull|send-bad ENDPOINT [--bind] "
                        "[--topic T] [--server-key K] [--idle S] [--json FILE] "
                        "[--expect-topic T]\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--bind") == 0)
            bind = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--topic") == 0)
            topic = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--server-key") == 0)
            server_key = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--idle") == 0)
            idle = atof(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--json") == 0)
            json = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--expect-topic") == 0)
            expect = argv[++i];
        else {
            fprintf(stderr, "zmq_peer: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    void *zctx = zmq_ctx_new();
    int rc;
    if (strcmp(argv[1], "send-bad") == 0)
        rc = send_bad(zctx, argv[2], bind);
    else
        rc = receive(zctx, strcmp(argv[1], "sub") == 0 ? ZMQ_SUB : ZMQ_PULL, argv[2], bind,
                     topic, server_key, idle, json, expect);
    zmq_ctx_term(zctx);
    return rc;
}
