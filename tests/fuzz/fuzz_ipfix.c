/* fuzz_ipfix.c: libFuzzer target for input.ipfix's decoder
 * (plugins/input/ipfix: ipfix_msg.c, ipfix_tmpl.c). An input is a series
 * of messages, each after a 2-byte big-endian length (the last one takes
 * what is left), fed to one fresh decoder as datagrams from two exporters
 * in turn, so templates defined by one message serve the next. Batches are
 * emitted into nothing. Checks: no crash, no read past a message (ASan),
 * and every message counted.
 *
 * Seeds: `fuzz_ipfix --write-seeds CORPUS` writes the UDP payloads of every
 * capture in the test data's ipfix/ and netflow9/ folders, and the messages
 * of its IPFIX files, one seed per file. */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fl_harness.h"
#include "fl_collect.h"
#include "ipfix_int.h"
#include "rt.h"

static struct fl_ctx *fuzz_ctx;
static const char *const fuzz_ports[] = { "out", "options", NULL };
static struct fl_plugin fuzz_plugin = { .name = "ipfix", .ports = fuzz_ports };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipfix_dec d;
    struct fl_addr from[2] = { { .b = { [10] = 0xff, [11] = 0xff, [15] = 1 } },
                               { .b = { 0x20, 0x01, [15] = 2 } } };
    size_t off = 0;
    uint64_t n = 0;

    if (!fuzz_ctx) {
        if (!(fuzz_ctx = fl_test_ctx_new()))
            abort();
        fuzz_ctx->plugin = &fuzz_plugin;
    }
    if (ipfix_dec_init(&d, fuzz_ctx, 64, 16, 1000000000ull) < 0)
        abort();
    while (off < size) {
        size_t len = size - off;
        if (len >= 2) {
            size_t want = (size_t)data[off] << 8 | data[off + 1];
            off += 2;
            len = want < size - off ? want : size - off;
        } else {
            off = size;
            break;
        }
        /* a copy of exactly len bytes: ASan sees any read past it */
        uint8_t *msg = malloc(len ? len : 1);
        if (!msg)
            abort();
        memcpy(msg, data + off, len);
        if (ipfix_dec_message(&d, msg, len, &from[n & 1], 0, n * 1000000000ull, true) < 0)
            abort();        /* only allocation can fail */
        free(msg);
        off += len;
        n++;
    }
    if (d.messages != n)
        abort();
    if (ipfix_dec_flush(&d) < 0)
        abort();
    ipfix_dec_report(&d);
    ipfix_dec_fini(&d);
    return 0;
}

/* ---- seeds --------------------------------------------------------------- */

static void seed_put(FILE *f, const uint8_t *p, size_t n)
{
    uint8_t hdr[2] = { (uint8_t)(n >> 8), (uint8_t)n };
    if (n > 0xffff || fwrite(hdr, 1, 2, f) != 2 || fwrite(p, 1, n, f) != n)
        exit(1);
}

static void seed_capture(FILE *out, const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    struct pcap_pkthdr *h;
    const uint8_t *fr;

    if (!pc)
        return;
    while (pcap_next_ex(pc, &h, &fr) == 1) {
        struct fl_addr src;
        const uint8_t *pl;
        uint32_t n;
        bool frag;
        if (fl_udp_payload(pcap_datalink(pc), fr, h->caplen, &src, &pl, &n, &frag) && n >= 4 &&
            pl[0] == 0 && (pl[1] == 9 || pl[1] == 10))
            seed_put(out, pl, n);
    }
    pcap_close(pc);
}

static void seed_ipfix_file(FILE *out, const char *path)
{
    size_t n, off = 0;
    uint8_t *p = (uint8_t *)fl_test_slurp(path, &n);
    while (p && n - off >= 16) {
        size_t len = (size_t)p[off + 2] << 8 | p[off + 3];
        if (len < 16 || len > n - off)
            break;
        seed_put(out, p + off, len);
        off += len;
    }
    free(p);
}

static void fuzz_write_seeds(const char *outdir)
{
    static const char *const sub[] = { "ipfix", "netflow9" };
    const char *data = fl_test_data_dir();
    unsigned seeds = 0;

    for (size_t s = 0; data && s < 2; s++) {
        char dir[4096];
        struct dirent *e;
        DIR *d;
        snprintf(dir, sizeof dir, "%s/%s", data, sub[s]);
        if (!(d = opendir(dir)))
            continue;
        while ((e = readdir(d))) {
            char src[8192], dst[8192];
            size_t len = strlen(e->d_name);
            FILE *f;
            if (e->d_name[0] == '.')
                continue;
            snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
            snprintf(dst, sizeof dst, "%s/%s", outdir, e->d_name);
            if (!(f = fopen(dst, "wb")))
                exit(1);
            if (len > 6 && strcmp(e->d_name + len - 6, ".ipfix") == 0)
                seed_ipfix_file(f, src);
            else
                seed_capture(f, src);
            fclose(f);
            seeds++;
        }
        closedir(d);
    }
    printf("%u ipfix/netflow9 seeds in %s\n", seeds, outdir);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 3 && strcmp((*argv)[1], "--write-seeds") == 0)
        fuzz_write_seeds((*argv)[2]);
    return 0;
}
