/* ipfix_load.c: IPFIX load for bench/ipfix.sh. Sends IPFIX over UDP to
 * HOST:PORT at RATE records per second for SECONDS: messages of 30 flow
 * records (IPv4 5-tuple, packets, bytes, start and end in milliseconds;
 * 45 bytes each, 1370-byte datagrams), the template in the first message
 * and every 1000th, sequence numbers as RFC 7011 counts them. Datagrams go
 * out in bursts of 32 (sendmmsg), paced against the clock. Prints the
 * records and messages sent and the rate reached.
 *
 *   ipfix_load 127.0.0.1 4739 1000000 3 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECS 30
#define REC_LEN 45
#define BURST 32

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t *put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return p + 2; }
static uint8_t *put32(uint8_t *p, uint32_t v) { p = put16(p, (uint16_t)(v >> 16)); return put16(p, (uint16_t)v); }
static uint8_t *put64(uint8_t *p, uint64_t v) { p = put32(p, (uint32_t)(v >> 32)); return put32(p, (uint32_t)v); }

/* One message: header, optionally the template, RECS records. */
static size_t message(uint8_t *buf, uint32_t seq, uint64_t flow, int with_template)
{
    static const uint16_t fields[][2] = {
        { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 2, 8 }, { 1, 8 }, { 152, 8 }, { 153, 8 },
    };
    uint8_t *p = buf + 16, *set;
    uint32_t t = (uint32_t)time(NULL);
    uint64_t ms = (uint64_t)t * 1000;

    if (with_template) {
        set = p;
        p = put16(p, 2);
        p += 2;
        p = put16(p, 256);
        p = put16(p, 9);
        for (int i = 0; i < 9; i++) {
            p = put16(p, fields[i][0]);
            p = put16(p, fields[i][1]);
        }
        put16(set + 2, (uint16_t)(p - set));
    }
    set = p;
    p = put16(p, 256);
    p = put16(p, 4 + RECS * REC_LEN);
    for (int r = 0; r < RECS; r++, flow++) {
        p = put32(p, 0x0a000000u | (uint32_t)(flow & 0xffff));
        p = put32(p, 0xc0a80000u | (uint32_t)((flow >> 16) & 0xffff));
        p = put16(p, (uint16_t)(1024 + flow % 50000));
        p = put16(p, 443);
        *p++ = 6;
        p = put64(p, 1 + flow % 100);
        p = put64(p, 40 + flow % 100000);
        p = put64(p, ms - 5000);
        p = put64(p, ms - 10);
    }
    (void)set;
    put16(buf, 10);
    put16(buf + 2, (uint16_t)(p - buf));
    put32(buf + 4, t);
    put32(buf + 8, seq);
    put32(buf + 12, 1);
    return (size_t)(p - buf);
}

int main(int argc, char **argv)
{
    static uint8_t bufs[BURST][1500];
    struct mmsghdr hdr[BURST];
    struct iovec iov[BURST];
    struct sockaddr_in to = { .sin_family = AF_INET };
    uint64_t rate, secs, sent = 0, msgs = 0, start, end;
    int fd;

    if (argc != 5) {
        fprintf(stderr, "usage: ipfix_load HOST PORT RECORDS_PER_SECOND SECONDS\n");
        return 2;
    }
    inet_pton(AF_INET, argv[1], &to.sin_addr);
    to.sin_port = htons((uint16_t)atoi(argv[2]));
    rate = strtoull(argv[3], NULL, 10);
    secs = strtoull(argv[4], NULL, 10);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
        perror("socket");
        return 1;
    }
    start = now_ns();
    end = start + secs * 1000000000u;
    while (now_ns() < end) {
        /* pace: the records sent so far are due at start + sent / rate */
        uint64_t due = start + (uint64_t)((double)sent * 1e9 / (double)rate);
        uint64_t t = now_ns();
        if (due > t) {
            struct timespec ts = { 0, (long)(due - t) };
            if (due - t > 20000)
                nanosleep(&ts, NULL);
            continue;
        }
        for (int i = 0; i < BURST; i++) {
            size_t n = message(bufs[i], (uint32_t)sent + (uint32_t)(i * RECS), sent + (uint64_t)i * RECS,
                               (msgs + (uint64_t)i) % 1000 == 0);
            iov[i] = (struct iovec){ bufs[i], n };
            hdr[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
        }
        int k = sendmmsg(fd, hdr, BURST, 0);
        if (k <= 0)
            continue;   /* ECONNREFUSED before the collector is up: retried */
        msgs += (uint64_t)k;
        sent += (uint64_t)k * RECS;
    }
    double el = (double)(now_ns() - start) / 1e9;
    printf("%llu records %llu messages %.2f s %.0f records/s\n", (unsigned long long)sent,
           (unsigned long long)msgs, el, (double)sent / el);
    return 0;
}
