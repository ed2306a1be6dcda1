/* zmq_bench.c: records/s and CPU per million records of the binary batch
 * encoding and of output.zmq and input.zmq (bench/zmq.sh,
 * docs/performance.md). Not part of ctest.
 *
 *   build/zmq_bench [RECORDS]      (default 2,000,000)
 *
 * Records are flow records of 30 columns (the shape aggregate.flowmeter
 * emits: times, addresses, ports, counters, a string) in batches of 4096.
 * The plugin runs in this process through the test harness, exactly as a
 * stage thread runs it; its peer (a plain libzmq PULL/SUB or PUSH) runs in
 * a forked process, so this process's CPU time (getrusage: the stage plus
 * its libzmq I/O thread) is flowline's side alone. Wall time runs from the
 * first batch to the peer's last record. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include <flowline/wire.h>
#include "fl_harness.h"
#include "rt.h"

#define ROWS 4096

static const struct fl_col_def cols[] = {
    { "flow_start", FL_T_TS }, { "flow_end", FL_T_TS }, { "duration", FL_T_DUR },
    { "src_addr", FL_T_ADDR }, { "dst_addr", FL_T_ADDR }, { "src_port", FL_T_U16 },
    { "dst_port", FL_T_U16 }, { "proto", FL_T_U8 }, { "ip_version", FL_T_U8 },
    { "packets", FL_T_U64 }, { "bytes", FL_T_U64 }, { "rev_packets", FL_T_U64 },
    { "rev_bytes", FL_T_U64 }, { "payload_bytes", FL_T_U64 }, { "rev_payload_bytes", FL_T_U64 },
    { "tcp_flags", FL_T_U8 }, { "rev_tcp_flags", FL_T_U8 }, { "vlan", FL_T_U16 },
    { "src_mac", FL_T_MAC }, { "dst_mac", FL_T_MAC }, { "ttl_min", FL_T_U8 },
    { "ttl_max", FL_T_U8 }, { "ps_avg", FL_T_F64 }, { "ps_std", FL_T_F64 },
    { "iat_avg", FL_T_F64 }, { "iat_std", FL_T_F64 }, { "syn_count", FL_T_U32 },
    { "fin_count", FL_T_U32 }, { "flow_hash", FL_T_U64 }, { "end_reason", FL_T_STR },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static struct fl_batch *make_batch(struct fl_ctx *ctx, const struct fl_schema *s, uint32_t k)
{
    static const char *const reasons[] = { "idle", "fin", "rst", "active", "eof" };
    struct fl_batch *b;
    uint64_t x = 0x9e3779b97f4a7c15ull * (k + 1);
    if (fl_batch_new(ctx, s, ROWS, &b) < 0)
        exit(1);
    for (uint32_t r = 0; r < ROWS; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        for (uint32_t c = 0; c < NCOLS; c++) {
            size_t sz = fl_type_size(cols[c].type);
            uint8_t *cell = (uint8_t *)b->data[c] + (size_t)r * sz;
            if (cols[c].type == FL_T_STR) {
                const char *t = reasons[x % 5];
                if (fl_batch_put_bytes(b, t, (uint32_t)strlen(t), (struct fl_span *)cell) < 0)
                    exit(1);
            } else if (cols[c].type == FL_T_F64) {
                double d = (double)(x % 100000) / 7.0;
                memcpy(cell, &d, 8);
            } else if (cols[c].type == FL_T_ADDR) {
                struct fl_addr a = { .b = { [10] = 0xff, [11] = 0xff, 10, (uint8_t)x,
                                            (uint8_t)(x >> 8), (uint8_t)(x >> 16) } };
                memcpy(cell, &a, 16);
            } else {
                uint64_t v = c < 2 ? 1767225600000000000ull + x % 1000000000000ull
                                   : x >> (c % 40);
                memcpy(cell, &v, sz);
            }
        }
    }
    b->rows = ROWS;
    b->t_min = 1767225600000000000ull;
    b->t_max = b->t_min + 1000;
    return b;
}

static void report(const char *what, uint64_t recs, double secs, double cpus, double bytes)
{
    printf("| %-44s | %6.2f M/s | %5.2f s | %6.0f B |\n", what, recs / secs / 1e6,
           cpus / recs * 1e6, bytes / recs);
    fflush(stdout);
}

/* ---- the peer process -------------------------------------------------- */
/* Receive until `want` records (batch: rows from each header; json: one per
 * message), write the monotonic time of the last one to fd, exit. */
static void peer_receive(const char *ep, int type, uint64_t want, int fd, const char *server_key)
{
    void *z = zmq_ctx_new(), *s = zmq_socket(z, type);
    int hwm = 100000;
    if (server_key) {
        char pub[41], sec[41];
        zmq_curve_keypair(pub, sec);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 41);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 41);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 41);
    }
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(s, ep) != 0)
        _exit(1);
    uint64_t got = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (got < want) {
        if (zmq_msg_recv(&m, s, 0) < 0)
            _exit(1);
        if (zmq_msg_more(&m))
            continue;                   /* the topic frame */
        const uint8_t *p = zmq_msg_data(&m);
        uint32_t rows;
        if (zmq_msg_size(&m) >= 16 && memcmp(p, "FLWB", 4) == 0) {
            memcpy(&rows, p + 12, 4);
            got += rows;
        } else {
            got++;
        }
    }
    double t = wall();
    if (write(fd, &t, sizeof t) != sizeof t)
        _exit(1);
    zmq_msg_close(&m);
    zmq_close(s);
    zmq_ctx_term(z);
    _exit(0);
}

/* Push `n` copies of one encoded batch. */
static void peer_send(const char *ep, const struct fl_wire_buf *w, uint64_t n)
{
    void *z = zmq_ctx_new(), *s = zmq_socket(z, ZMQ_PUSH);
    int hwm = 64, linger = 5000;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, ep) != 0)
        _exit(1);
    for (uint64_t i = 0; i < n; i++)
        if (zmq_send(s, w->p, w->len, 0) < 0)
            _exit(1);
    zmq_close(s);
    zmq_ctx_term(z);
    _exit(0);
}

/* ---- output.zmq -------------------------------------------------------- */
static void bench_output(const char *what, const char *with, const char *peer_ep, int peer_type,
                         const char *server_key, struct fl_batch **batches, size_t nb,
                         uint64_t total)
{
    int fds[2];
    if (pipe(fds) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0)
        peer_receive(peer_ep, peer_type, total, fds[1], server_key);
    struct fl_harness *h;
    if (fl_harness_new("output.zmq", with, batches[0]->schema, &h) < 0) {
        fprintf(stderr, "output.zmq: %s\n", with);
        exit(1);
    }
    usleep(200000);                     /* the peer connects (PUB: and subscribes) */
    double c0 = cpu(), t0 = wall();
    uint64_t sent = 0;
    for (size_t i = 0; sent < total; i = (i + 1) % nb) {
        if (fl_harness_push(h, batches[i]) < 0)
            exit(1);
        sent += batches[i]->rows;
    }
    double c1 = cpu();
    double t1;
    if (read(fds[0], &t1, sizeof t1) != sizeof t1)
        t1 = wall();
    double c2 = cpu();                  /* the I/O thread finishing the queue */
    uint64_t bytes = fl_harness_counter(h, "bytes_sent");
    uint64_t dropped = fl_harness_counter(h, "records_dropped");
    fl_harness_destroy(&h);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    (void)c1;
    report(what, total, t1 - t0, c2 - c0, (double)bytes);
    if (dropped)
        printf("  (%" PRIu64 " records dropped)\n", dropped);
}

/* ---- input.zmq --------------------------------------------------------- */
static uint64_t in_rows;
static double in_last;

static int count_emit(struct fl_ctx *ctx, int port, struct fl_batch *b)
{
    (void)ctx;
    (void)port;
    in_rows += b->rows;
    in_last = wall();
    fl_batch_release(&b);
    return 0;
}

static void bench_input(const char *ep, const struct fl_wire_buf *w, uint64_t n)
{
    struct fl_harness *h;
    char with[512];
    snprintf(with, sizeof with, "{endpoint: \"%s\", socket: pull, mode: bind, idle_timeout: 1s}", ep);
    if (fl_harness_new("input.zmq", with, NULL, &h) < 0)
        exit(1);
    fl_harness_ctx(h)->emit = count_emit;
    in_rows = 0;
    double c0 = cpu(), t0 = wall();
    pid_t pid = fork();
    if (pid == 0)
        peer_send(ep, w, n);
    if (fl_harness_run(h) < 0)
        exit(1);
    double c1 = cpu();
    waitpid(pid, NULL, 0);
    uint64_t bad = fl_harness_counter(h, "messages_bad");
    fl_harness_destroy(&h);
    /* the idle second at the end polls 10 times: no measurable CPU */
    report("input.zmq batch, ipc PULL", in_rows, in_last - t0, c1 - c0, (double)w->len * n);
    if (in_rows != n * ROWS || bad)
        printf("  (got %" PRIu64 " of %" PRIu64 " records, %" PRIu64 " bad)\n", in_rows,
               n * ROWS, bad);
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_batch *batches[8];
    struct fl_wire_buf w = { 0 };
    char dir[256], ep[300], with[600];

    signal(SIGPIPE, SIG_IGN);
    total = (total + ROWS - 1) / ROWS * ROWS;
    if (!ctx || fl_schema_intern(ctx, cols, NCOLS, sizeof cols[0], &s) < 0 ||
        fl_test_tmpdir("zmqbench", dir, sizeof dir) < 0)
        return 1;
    for (int i = 0; i < 8; i++)
        batches[i] = make_batch(ctx, s, (uint32_t)i);
    printf("%" PRIu64 " records of %zu columns in batches of %d\n\n", total, NCOLS, ROWS);
    printf("| path | records/s | CPU per 1 M records | bytes/record |\n|---|---|---|---|\n");

    /* the codec alone */
    double c0 = cpu(), t0 = wall();
    size_t bytes = 0;
    for (uint64_t r = 0, i = 0; r < total; r += ROWS, i++) {
        w.len = 0;
        if (fl_wire_encode(batches[i % 8], 0, &w) < 0)
            return 1;
        bytes += w.len;
    }
    report("fl_wire_encode", total, wall() - t0, cpu() - c0, (double)bytes);
    struct fl_wire_dec *dec;
    if (fl_wire_dec_new(ctx, 0, &dec) < 0)
        return 1;
    c0 = cpu(), t0 = wall();
    for (uint64_t r = 0; r < total; r += ROWS) {
        struct fl_batch *b;
        if (fl_wire_decode(dec, w.p, w.len, &b, NULL) < 0)
            return 1;
        fl_batch_release(&b);
    }
    report("fl_wire_decode", total, wall() - t0, cpu() - c0, (double)w.len * (total / ROWS));
    fl_wire_dec_free(&dec);

    snprintf(ep, sizeof ep, "ipc://%s/out.sock", dir);
    snprintf(with, sizeof with, "{endpoint: \"%s\", socket: push, format: batch}", ep);
    bench_output("output.zmq batch, ipc PUSH", with, ep, ZMQ_PULL, NULL, batches, 8, total);
    snprintf(with, sizeof with, "{endpoint: \"tcp://127.0.0.1:47391\", socket: push, format: batch}");
    bench_output("output.zmq batch, tcp PUSH", with, "tcp://127.0.0.1:47391", ZMQ_PULL,
                 NULL, batches, 8, total);
    snprintf(with, sizeof with, "{endpoint: \"tcp://127.0.0.1:47392\", socket: pub, "
             "format: batch, wait_subscribers: 1, hwm: 100000}");
    bench_output("output.zmq batch, tcp PUB, 1 subscriber", with, "tcp://127.0.0.1:47392",
                 ZMQ_SUB, NULL, batches, 8, total);
    char pub[41], sec[41];
    zmq_curve_keypair(pub, sec);
    snprintf(with, sizeof with, "{endpoint: \"tcp://127.0.0.1:47393\", socket: push, "
             "format: batch, curve_secret_key: \"%s\"}", sec);
    bench_output("output.zmq batch, tcp PUSH, CURVE", with, "tcp://127.0.0.1:47393", ZMQ_PULL,
                 pub, batches, 8, total);
    snprintf(with, sizeof with, "{endpoint: \"%s\", socket: push, format: json}", ep);
    bench_output("output.zmq json, ipc PUSH (1 message/record)", with, ep, ZMQ_PULL, NULL, batches, 8,
                 total / 4 / ROWS * ROWS);

    w.len = 0;
    if (fl_wire_encode(batches[0], 0, &w) < 0)
        return 1;
    snprintf(ep, sizeof ep, "ipc://%s/in.sock", dir);
    bench_input(ep, &w, total / ROWS);

    for (int i = 0; i < 8; i++)
        fl_batch_release(&batches[i]);
    fl_wire_buf_free(&w);
    fl_test_ctx_destroy(&ctx);
    fl_test_rmdir(dir);
    return 0;
}
