/* fuzz_pcapng.c: libFuzzer target for input.pcap's pcapng reader
 * (plugins/input/pcap/pcap_ng.c). The input is a pcapng file, read from a
 * memfd through a 64-byte window (pcap_win.c) that nearly every block
 * slides or grows, so ASan sees any read past the window or the file and
 * any use of a buffer the window left. The batch is reused when full (nothing is
 * emitted). Checks: the walk never goes past the buffer, stops for a
 * reason, and every record read is a row or a counted decoder drop.
 *
 * Seeds: `fuzz_pcapng --write-seeds CORPUS` writes a file with two
 * sections, several interfaces of different link types and resolutions
 * and every packet block kind (tests/ngw.h), and copies the pcapng
 * captures of the test data dir's pcap folder. */
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fl_harness.h"
#include "pcap_int.h"
#include "ngw.h"

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
    fuzz_st.path = "fuzz";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pcap_ng g = {.st = &fuzz_st};
    struct pcap_out o = {.st = &fuzz_st, .cap = 256};
    int guard = 0, fd;

    if (!fuzz_ctx)
        fuzz_init();
    g.ctx = o.ctx = fuzz_ctx;
    /* Through a file and a 64-byte window, so that nearly every block
     * slides the window or grows it, as a big file does at its edges. */
    fd = memfd_create("fuzz", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size ||
        pcap_win_open(&g.win, fd, 0, size, 64) < 0 ||
        fl_batch_new(fuzz_ctx, fuzz_st.schema, 256, &o.b) < 0)
        abort();
    g.need = 12;
    while (!g.eof && !g.bad) {
        uint64_t at = g.win.pos + g.win.off;
        uint64_t read = o.read;
        if (g.need && pcap_win_fill(&g.win, g.need) < 0)
            abort();
        g.need = 0;
        if (o.b->rows == o.b->cap)
            o.b->rows = 0;
        if (pcap_ng_walk(&g, &o, 1024) < 0)
            abort();            /* no bpf: nothing can fail */
        if (g.win.off > g.win.size || g.win.pos + g.win.off > size)
            abort();
        /* no progress and no reason to stop: the walk would spin */
        if (g.win.pos + g.win.off == at && o.read == read && !g.eof && !g.bad && !g.need &&
            o.b->rows < o.b->cap && ++guard > 2)
            abort();
    }
    fl_decoder_flush(fuzz_st.dec, fuzz_ctx);
    pcap_ng_fini(&g);
    close(fd);
    fl_batch_release(&o.b);
    return 0;
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
    static uint8_t buf[4096], fr[64];
    struct ngw w = {buf, 0, 0};
    const char *data = fl_test_data_dir();
    char dir[4096];
    struct dirent *e;
    unsigned seeds = 1;
    DIR *d;

    ngw_shb(&w, 0);
    ngw_idb(&w, 1, 0, -1, 0);
    ngw_idb(&w, 101, 128, 9, 100);
    ngw_idb(&w, 1, 65535, 0x80 | 20, 0);
    ngw_frame(fr, 1);
    ngw_epb(&w, 6, 0, 1700000000123456ull, fr, 60, 60);
    ngw_epb(&w, 6, 1, 1700000000987654321ull, fr + 14, 46, 46);
    ngw_epb(&w, 6, 2, 1700000000ull << 20, fr, 60, 64);
    ngw_spb(&w, fr, 60);
    ngw_epb(&w, 2, 1, 5, fr + 14, 46, 46);
    ngw_block(&w, 0x0BAD0001, "unknown body", 12);
    ngw_shb(&w, 1);
    ngw_idb(&w, 101, 0, 9, 0);
    ngw_idb(&w, 1, 0, 3, -10);
    ngw_epb(&w, 6, 1, 1700000003250ull, fr, 60, 60);
    ngw_epb(&w, 6, 0, 42, fr + 14, 46, 46);
    fuzz_write(out, "mixed.pcapng", buf, w.n);
    if (data) {
        snprintf(dir, sizeof dir, "%s/pcap", data);
        if ((d = opendir(dir))) {
            while ((e = readdir(d))) {
                size_t len = strlen(e->d_name);
                char src[4096], cmd[8300];
                if (len < 8 || strcmp(e->d_name + len - 7, ".pcapng") != 0)
                    continue;
                snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
                snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", src, out);
                if (system(cmd) == 0)
                    seeds++;
            }
            closedir(d);
        }
    }
    printf("%u pcapng seeds in %s\n", seeds, out);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 3 && strcmp((*argv)[1], "--write-seeds") == 0)
        fuzz_write_seeds((*argv)[2]);
    return 0;
}
