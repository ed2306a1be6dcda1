/* fuzz_pcap.c: libFuzzer target for input.pcap's classic pcap reader
 * (plugins/input/pcap/pcap_classic.c) and the window it reads through
 * (pcap_win.c). The input is a classic pcap file, written to a memfd and
 * read by pcap_classic_run() through a window of 32 to 287 bytes (the
 * first byte of the input chooses), so records straddle its edge, grow it
 * and are cut by the end of the file; ASan sees any read past the window
 * or use of a buffer it left. Batches go nowhere (the test ctx drops
 * them). Checks: the run ends (0, or PCAP_FALLBACK for what is not a
 * classic pcap file) and counts what it read.
 *
 * Seeds: `fuzz_pcap --write-seeds CORPUS` writes a few crafted files (both
 * byte orders, nanoseconds, an old version, a record longer than the
 * window) and copies the small classic captures of the test data dir. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fl_harness.h"
#include "pcap_int.h"

static struct fl_ctx *fuzz_ctx;
static struct pcap_in fuzz_st;

static void fuzz_init(void)
{
    struct fl_decoder_opts o = {.frag_slots = 64};

    fuzz_ctx = fl_test_ctx_new();
    if (!fuzz_ctx || fl_packet_schema(fuzz_ctx, &fuzz_st.schema) < 0 ||
        fl_decoder_new(&o, sizeof(o), &fuzz_st.dec) < 0)
        abort();
    fuzz_st.batch_size = 256;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd, rc;

    if (size < 1)
        return 0;
    if (!fuzz_ctx)
        fuzz_init();
    fd = memfd_create("fuzz", 0);
    if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fuzz_st.path = path;
    fuzz_st.win_cap = 32 + data[0];
    rc = pcap_classic_run(&fuzz_st, fuzz_ctx);
    if (rc != 0 && rc != PCAP_FALLBACK)
        abort();        /* no bpf, no emit: nothing can fail */
    fl_decoder_flush(fuzz_st.dec, fuzz_ctx);
    close(fd);
    return 0;
}

static void put32(uint8_t *p, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(be ? v >> (24 - 8 * i) : v >> (8 * i));
}

/* A window byte, then a file of n small UDP frames, each caplen bytes. */
static size_t crafted(uint8_t *buf, int be, uint32_t magic, uint16_t minor, uint32_t link,
                      unsigned n, uint32_t caplen)
{
    static const uint8_t frame[] = {
        0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
        0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        0x04, 0xd2, 0, 53, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};
    size_t off = 25;

    buf[0] = 7;
    put32(buf + 1, magic, be);
    buf[be ? 6 : 5] = 2;            /* version major, u16 at file offset 4 */
    buf[be ? 5 : 6] = 0;
    buf[be ? 8 : 7] = (uint8_t)minor;
    buf[be ? 7 : 8] = 0;
    memset(buf + 9, 0, 8);
    put32(buf + 17, 65535, be);
    put32(buf + 21, link, be);
    for (unsigned i = 0; i < n; i++) {
        put32(buf + off, 1700000000 + i, be);
        put32(buf + off + 4, 1000 * i, be);
        put32(buf + off + 8, caplen, be);
        put32(buf + off + 12, caplen + 4, be);
        memset(buf + off + 16, 0, caplen);
        memcpy(buf + off + 16, frame, caplen < sizeof frame ? caplen : sizeof frame);
        off += 16 + caplen;
    }
    return off;
}

static void fuzz_write(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n)
        exit(1);
    fclose(f);
}

static void fuzz_write_seeds(const char *out)
{
    static uint8_t buf[8192];
    const char *data = fl_test_data_dir();
    char dir[4096];
    struct dirent *e;
    unsigned seeds = 5;
    DIR *d;

    fuzz_write(out, "le.pcap", buf, crafted(buf, 0, 0xa1b2c3d4, 4, 1, 6, 46));
    fuzz_write(out, "be-nano.pcap", buf, crafted(buf, 1, 0xa1b23c4d, 4, 1, 6, 46));
    fuzz_write(out, "old.pcap", buf, crafted(buf, 0, 0xa1b2c3d4, 2, 1, 4, 46));
    fuzz_write(out, "raw.pcap", buf, crafted(buf, 0, 0xa1b2c3d4, 4, 101, 3, 32));
    fuzz_write(out, "long.pcap", buf, crafted(buf, 0, 0xa1b2c3d4, 4, 1, 3, 1500));
    if (data) {
        snprintf(dir, sizeof dir, "%s/pcap", data);
        if ((d = opendir(dir))) {
            while ((e = readdir(d))) {
                size_t len = strlen(e->d_name);
                char src[4096];
                struct stat sb;
                FILE *in;
                if (len < 6 || strcmp(e->d_name + len - 5, ".pcap") != 0)
                    continue;
                snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
                if (stat(src, &sb) != 0 || sb.st_size > (off_t)sizeof buf - 1 ||
                    !(in = fopen(src, "rb")))
                    continue;
                buf[0] = (uint8_t)seeds;
                len = fread(buf + 1, 1, sizeof buf - 1, in);
                fclose(in);
                fuzz_write(out, e->d_name, buf, len + 1);
                seeds++;
            }
            closedir(d);
        }
    }
    printf("%u classic pcap seeds in %s\n", seeds, out);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 3 && strcmp((*argv)[1], "--write-seeds") == 0)
        fuzz_write_seeds((*argv)[2]);
    return 0;
}
