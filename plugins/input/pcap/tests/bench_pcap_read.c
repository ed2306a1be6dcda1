/* bench_pcap_read.c: the input stage alone: input.pcap reads FILE through
 * the harness (no consumer stage) and the best of REPEAT runs is printed
 * as packets/s. The harness keeps every batch, so keep files to a few
 * million packets. Not part of ctest.
 *
 *   build/bench_pcap_read FILE [READER] [REPEAT]     READER: auto | libpcap */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "fl_harness.h"

int main(int argc, char **argv)
{
    const char *reader = argc > 2 ? argv[2] : "auto";
    int repeat = argc > 3 ? atoi(argv[3]) : 3;
    double best = 0;
    unsigned long long n = 0;
    char yaml[4096];

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [auto|libpcap] [REPEAT]\n", argv[0]);
        return 2;
    }
    snprintf(yaml, sizeof yaml, "{path: \"%s\", reader: %s}", argv[1], reader);
    for (int i = 0; i < repeat; i++) {
        struct fl_harness *h = NULL;
        struct timespec t0, t1;
        double s;
        if (fl_harness_new("input.pcap", yaml, NULL, &h) < 0)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (fl_harness_run(h) < 0)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        n = (unsigned long long)fl_harness_counter(h, "packets_read");
        if (!best || s < best)
            best = s;
        fl_harness_destroy(&h);
    }
    printf("%s reader %s: %llu packets, best %.3f s, %.2f Mpps\n", argv[1], reader, n, best,
           (double)n / best / 1e6);
    return 0;
}
