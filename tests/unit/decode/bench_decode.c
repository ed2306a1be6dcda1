/* bench_decode.c: the packet decoder alone (DESIGN.md §8), for instruction
 * counts before and after a decoder change. Not a test: run
 *   perf stat -e instructions:u build/tests/unit/decode/bench_decode FILE.pcap [ROUNDS] [decap]
 * It reads every frame of FILE.pcap into memory with libpcap first, then
 * decodes all of them ROUNDS times (default 10) into 4096-row packet
 * batches, so the count is dominated by fl_decode(). The loading part is
 * the same before and after a change; compare runs with ROUNDS 0 to
 * subtract it. A third argument `decap` turns decapsulation on (every
 * kind), and it prints the decode time per frame. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <flowline/decode.h>
#include "fl_harness.h"

struct frame { uint64_t ts; uint32_t caplen, wirelen; size_t off; };

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *hdr;
    const u_char *data;
    struct frame *fr = NULL;
    uint8_t *bytes = NULL;
    size_t n = 0, capf = 0, nb = 0, capb = 0;
    long rounds = argc > 2 ? atol(argv[2]) : 10;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.pcap [ROUNDS]\n", argv[0]);
        return 2;
    }
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int lt = pcap_datalink(p);
    while (pcap_next_ex(p, &hdr, &data) == 1) {
        if (n == capf && !(fr = realloc(fr, (capf = capf ? 2 * capf : 1 << 16) * sizeof(*fr))))
            return 1;
        while (nb + hdr->caplen > capb)
            if (!(bytes = realloc(bytes, capb = capb ? 2 * capb : 1 << 24)))
                return 1;
        memcpy(bytes + nb, data, hdr->caplen);
        fr[n++] = (struct frame){ (uint64_t)hdr->ts.tv_sec * 1000000000ull + hdr->ts.tv_usec,
                                  hdr->caplen, hdr->len, nb };
        nb += hdr->caplen;
    }
    pcap_close(p);

    struct fl_ctx *ctx = fl_test_ctx_new();
    const struct fl_schema *s;
    struct fl_decoder *d;
    struct fl_batch *b = NULL;
    uint64_t rows = 0, sum = 0;
    struct fl_decoder_opts o = { .decap = argc > 3 && strcmp(argv[3], "decap") == 0 };
    struct timespec t0, t1;
    if (!ctx || fl_packet_schema(ctx, &s) < 0 || fl_decoder_new(&o, sizeof o, &d) < 0
        || fl_batch_new(ctx, s, 4096, &b) < 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++) {
            if (b->rows == b->cap) {
                sum += FL_COL(b, FL_PKT_FLOW_HASH, uint64_t)[b->rows - 1];
                rows += b->rows;
                b->rows = 0;
            }
            fl_decode(d, lt, fr[i].ts, bytes + fr[i].off, fr[i].caplen, fr[i].wirelen, b);
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rows += b->rows;
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%zu frames x %ld rounds%s: %llu rows (check %llx), %.1f ns/frame\n", n, rounds,
           o.decap ? " (decap)" : "", (unsigned long long)rows, (unsigned long long)sum,
           n && rounds ? ns / ((double)n * (double)rounds) : 0.0);
    fl_batch_release(&b);
    fl_decoder_destroy(&d);
    fl_test_ctx_destroy(&ctx);
    free(fr);
    free(bytes);
    return 0;
}
