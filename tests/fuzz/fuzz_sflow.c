/* fuzz_sflow.c: libFuzzer target for input.sflow's decoder
 * (plugins/input/sflow: sflow_dgram.c, sflow_flow.c, sflow_ctr.c). An
 * input is a series of datagrams, each after a 2-byte big-endian length
 * (the last one takes what is left), fed to one fresh decoder with counter
 * rates on, so sequence numbers and rate baselines carry from one
 * datagram to the next. Batches are emitted into nothing. Checks: no
 * crash, no read past a datagram (ASan: each is a copy of exactly its
 * length), every datagram counted once (decoded or dropped by a reason).
 *
 * Seeds: `fuzz_sflow --write-seeds CORPUS` writes the UDP payloads of
 * every capture in the test data's sflow/ folder, one seed per file. */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fl_harness.h"
#include "sflow_int.h"
#include "rt.h"

static struct fl_ctx *fuzz_ctx;
static const char *const fuzz_ports[] = { "out", "counters", NULL };
static struct fl_plugin fuzz_plugin = { .name = "sflow", .ports = fuzz_ports };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct fl_addr from = { .b = { [10] = 0xff, [11] = 0xff, [15] = 1 } };
    struct sflow_dec d;
    size_t off = 0;
    uint64_t n = 0, accounted;

    if (!fuzz_ctx) {
        if (!(fuzz_ctx = fl_test_ctx_new()))
            abort();
        fuzz_ctx->plugin = &fuzz_plugin;
    }
    if (sflow_dec_init(&d, fuzz_ctx, 64, true, 64) < 0)
        abort();
    while (off + 2 <= size) {
        size_t want = (size_t)data[off] << 8 | data[off + 1], len;
        off += 2;
        len = want < size - off ? want : size - off;
        uint8_t *msg = malloc(len ? len : 1);
        if (!msg)
            abort();
        memcpy(msg, data + off, len);
        if (sflow_dec_datagram(&d, msg, len, &from, n * 1000000000ull) < 0)
            abort();        /* only allocation can fail */
        free(msg);
        off += len;
        n++;
        /* reports reset the counts every 256 datagrams: check before */
        accounted = d.n[SFLOW_N_DATAGRAMS] + d.drops[SFLOW_DROP_SHORT] +
                    d.drops[SFLOW_DROP_VERSION] + d.drops[SFLOW_DROP_AGENT_TYPE];
        if (accounted != d.reported)
            abort();
    }
    if (sflow_dec_flush(&d) < 0)
        abort();
    sflow_dec_report(&d);
    sflow_dec_fini(&d);
    return 0;
}

/* ---- seeds --------------------------------------------------------------- */

static void seed_capture(FILE *out, const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    struct pcap_pkthdr *h;
    const uint8_t *fr;

    if (!pc)
        return;
    while (pcap_next_ex(pc, &h, &fr) == 1) {
        /* Ethernet + IPv4 (20 bytes) or IPv6 + UDP: enough for the seeds */
        uint32_t at;
        if (h->caplen < 14 + 40 + 8)
            continue;
        if (fr[12] == 0x08 && fr[13] == 0x00 && fr[23] == 17)
            at = 14 + (fr[14] & 15u) * 4 + 8;
        else if (fr[12] == 0x86 && fr[13] == 0xdd && fr[20] == 17)
            at = 14 + 40 + 8;
        else
            continue;
        if (at >= h->caplen || h->caplen - at > 0xffff)
            continue;
        uint32_t n = h->caplen - at;
        uint8_t hdr[2] = { (uint8_t)(n >> 8), (uint8_t)n };
        if (fwrite(hdr, 1, 2, out) != 2 || fwrite(fr + at, 1, n, out) != n)
            exit(1);
    }
    pcap_close(pc);
}

static void fuzz_write_seeds(const char *outdir)
{
    const char *data = fl_test_data_dir();
    unsigned seeds = 0;
    char dir[4096];
    struct dirent *e;
    DIR *d;

    snprintf(dir, sizeof dir, "%s/sflow", data ? data : ".");
    if (data && (d = opendir(dir))) {
        while ((e = readdir(d))) {
            char src[8192], dst[8192];
            FILE *f;
            if (e->d_name[0] == '.')
                continue;
            snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
            snprintf(dst, sizeof dst, "%s/%s", outdir, e->d_name);
            if (!(f = fopen(dst, "wb")))
                exit(1);
            seed_capture(f, src);
            fclose(f);
            seeds++;
        }
        closedir(d);
    }
    printf("%u sflow seeds in %s\n", seeds, outdir);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 3 && strcmp((*argv)[1], "--write-seeds") == 0)
        fuzz_write_seeds((*argv)[2]);
    return 0;
}
