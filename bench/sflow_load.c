/* sflow_load.c: sFlow v5 load for bench/sflow.sh. Sends datagrams of 7
 * flow samples (each one raw packet header record of 128 bytes: Ethernet,
 * IPv4, TCP; rate 1 in 1000) from agent 192.0.2.1 to HOST:PORT at RATE
 * samples per second for SECONDS, in bursts of 32 (sendmmsg) paced against
 * the clock, with datagram and sample sequence numbers as an agent counts
 * them. Prints the samples and datagrams sent.
 *
 *   sflow_load 127.0.0.1 6343 1000000 3 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SAMPLES 7
#define HDR 128
#define BURST 32

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
    return p + 4;
}

/* The 128 captured bytes of a 1000-byte TCP packet of flow n. */
static void header(uint8_t *h, uint64_t n)
{
    memset(h, 0, HDR);
    memcpy(h, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00", 14);
    uint8_t *ip = h + 14;
    ip[0] = 0x45, ip[2] = 986 >> 8, ip[3] = 986 & 0xff, ip[8] = 64, ip[9] = 6;
    put32(ip + 12, 0x0a000000u | (uint32_t)(n & 0xffff));
    put32(ip + 16, 0xc0a80000u | (uint32_t)((n >> 16) & 0xffff));
    uint8_t *tcp = ip + 20;
    tcp[0] = (uint8_t)((1024 + n % 50000) >> 8), tcp[1] = (uint8_t)(1024 + n % 50000);
    tcp[2] = 443 >> 8, tcp[3] = 443 & 0xff, tcp[12] = 0x50, tcp[13] = 0x10;
}

static size_t datagram(uint8_t *buf, uint32_t seq, uint64_t sample, uint32_t uptime)
{
    uint8_t *p = buf;
    p = put32(p, 5);
    p = put32(p, 1);                    /* agent: IPv4 */
    p = put32(p, 0xc0000201u);
    p = put32(p, 0);                    /* sub-agent */
    p = put32(p, seq);
    p = put32(p, uptime);
    p = put32(p, SAMPLES);
    for (int s = 0; s < SAMPLES; s++, sample++) {
        p = put32(p, 1);                /* enterprise 0, format 1: flow sample */
        p = put32(p, 4 * 8 + 4 * 2 + 4 * 4 + HDR);
        p = put32(p, (uint32_t)sample + 1);
        p = put32(p, 3);                /* source: ifIndex 3 */
        p = put32(p, 1000);             /* sampling rate */
        p = put32(p, (uint32_t)(sample + 1) * 1000);
        p = put32(p, 0);                /* drops */
        p = put32(p, 3);
        p = put32(p, 4);
        p = put32(p, 1);                /* one record */
        p = put32(p, 1);                /* raw packet header */
        p = put32(p, 4 * 4 + HDR);
        p = put32(p, 1);                /* Ethernet */
        p = put32(p, 1000 + 4);         /* frame length (with FCS) */
        p = put32(p, 4);                /* stripped */
        p = put32(p, HDR);
        header(p, sample);
        p += HDR;
    }
    return (size_t)(p - buf);
}

int main(int argc, char **argv)
{
    static uint8_t bufs[BURST][1500];
    struct mmsghdr hdr[BURST];
    struct iovec iov[BURST];
    struct sockaddr_in to = { .sin_family = AF_INET };
    uint64_t rate, secs, sent = 0, dgrams = 0, start, end;
    int fd;

    if (argc != 5) {
        fprintf(stderr, "usage: sflow_load HOST PORT SAMPLES_PER_SECOND SECONDS\n");
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
        uint64_t due = start + (uint64_t)((double)sent * 1e9 / (double)rate), t = now_ns();
        if (due > t) {
            struct timespec ts = { 0, (long)(due - t) };
            if (due - t > 20000)
                nanosleep(&ts, NULL);
            continue;
        }
        for (int i = 0; i < BURST; i++) {
            size_t n = datagram(bufs[i], (uint32_t)(dgrams + (uint64_t)i + 1),
                                sent + (uint64_t)i * SAMPLES, (uint32_t)((t - start) / 1000000));
            iov[i] = (struct iovec){ bufs[i], n };
            hdr[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
        }
        int k = sendmmsg(fd, hdr, BURST, 0);
        if (k <= 0)
            continue;
        dgrams += (uint64_t)k;
        sent += (uint64_t)k * SAMPLES;
    }
    double el = (double)(now_ns() - start) / 1e9;
    printf("%llu samples %llu datagrams %.2f s %.0f samples/s\n", (unsigned long long)sent,
           (unsigned long long)dgrams, el, (double)sent / el);
    return 0;
}
