/* fuzz_decode.c: libFuzzer target for the packet decoder (core/src/decode*.c).
 *
 * Input: one selector byte, then the frame. The selector's low 4 bits pick
 * the link type (every one the decoder knows, plus unsupported ones), bit 4
 * turns decapsulation on (every tunnel kind, VXLAN also on UDP 8472, nesting
 * bound 3, tunnel columns), bit 5 makes the wire length
 * 64 KiB longer than the captured length (snaplen-cut frames, TSO lengths).
 * The frame is the rest of the input, so ASan sees any read past caplen.
 * Each decoded row is checked against the column conventions of decode.h.
 *
 * Seeds: `fuzz_decode --write-seeds CORPUS DIR` writes the first frames of
 * every capture in DIR (relative to the test data dir, ../shared/data or
 * $FLOWLINE_TEST_DATA) into CORPUS in this input format, each twice (decap
 * off and on, so the tunnel paths are reached from the start), and exits
 * (tests/fuzz/CMakeLists.txt runs it before the fuzzing run). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>
#include <flowline/decode.h>
#include "fl_harness.h"

#define FUZZ_SEED_FRAMES 16   /* per capture: enough variety, a small corpus */

/* Index i of this table is selector value i; fuzz_decode_seeds.c maps
 * link types back through the same table. */
static const int fuzz_linktypes[16] = {
    FL_DLT_EN10MB, FL_DLT_LINUX_SLL, FL_DLT_LINUX_SLL2, FL_DLT_NULL, FL_DLT_LOOP, FL_DLT_RAW,
    12, 14, FL_DLT_IPV4, FL_DLT_IPV6, FL_DLT_PPP, FL_DLT_PPP_SERIAL, FL_DLT_EN10MB,
    FL_DLT_EN10MB, 104, 147};

static struct fl_ctx *fuzz_ctx;
static struct fl_batch *fuzz_batch[2];   /* one per decoder, as inputs have */
static const struct fl_schema *fuzz_schema;
static struct fl_decoder *fuzz_dec[2];

static void fuzz_init(void)
{
    static const struct fl_decap_port ports[] = {
        { 4789, FL_TUN_VXLAN }, { 8472, FL_TUN_VXLAN },
    };
    struct fl_decoder_opts plain = {.frag_slots = 64},
        decap = {.frag_slots = 64, .decap = 1, .decap_depth = 3, .tunnel_columns = true,
                 .decap_ports = ports, .n_decap_ports = 2};

    fuzz_ctx = fl_test_ctx_new();
    /* the plain decoder's batch has the tunnel columns too: it leaves them
     * alone */
    if (!fuzz_ctx || fl_decoder_schema(fuzz_ctx, &decap, sizeof(decap), &fuzz_schema) < 0 ||
        fl_batch_new(fuzz_ctx, fuzz_schema, 1024, &fuzz_batch[0]) < 0 ||
        fl_batch_new(fuzz_ctx, fuzz_schema, 1024, &fuzz_batch[1]) < 0 ||
        fl_decoder_new(&plain, sizeof(plain), &fuzz_dec[0]) < 0 || fl_decoder_new(&decap, sizeof(decap), &fuzz_dec[1]) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fl_batch *b;
    uint32_t caplen, wirelen, r;
    uint8_t sel;

    if (!fuzz_ctx)
        fuzz_init();
    if (size < 1 || size > 262145)
        return 0;
    /* a full batch is replaced, as an input does (validity bitmaps and
     * the arena start afresh) */
    sel = data[0];
    if (fuzz_batch[(sel >> 4) & 1]->rows == fuzz_batch[(sel >> 4) & 1]->cap) {
        fl_batch_release(&fuzz_batch[(sel >> 4) & 1]);
        if (fl_batch_new(fuzz_ctx, fuzz_schema, 1024, &fuzz_batch[(sel >> 4) & 1]) < 0)
            abort();
    }
    b = fuzz_batch[(sel >> 4) & 1];
    caplen = (uint32_t)(size - 1);
    wirelen = caplen + (sel & 0x20 ? 65536u : 0u);
    r = b->rows;
    if (fl_decode(fuzz_dec[(sel >> 4) & 1], fuzz_linktypes[sel & 15], 1, data + 1, caplen,
                  wirelen, b) != 1)
        return 0;
    /* the row keeps the conventions */
    uint8_t ver = FL_COL(b, FL_PKT_IP_VERSION, uint8_t)[r];
    if (b->rows != r + 1 || (ver != 4 && ver != 6))
        abort();
    if (ver == 4 && !fl_addr_is_v4(&FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r]))
        abort();
    if (FL_COL(b, FL_PKT_FRAME_LEN, uint32_t)[r] != wirelen)
        abort();
    if (FL_COL(b, FL_PKT_PAYLOAD_LEN, uint32_t)[r] > FL_COL(b, FL_PKT_IP_LEN, uint32_t)[r])
        abort();
    if (FL_COL(b, FL_PKT_VLAN, uint16_t)[r] > 4095)
        abort();
    /* a tunnel cell names a kind, and has an id only with a kind */
    if (sel & 0x10) {
        if (fl_batch_is_valid(b, FL_PKT_TUNNEL, r)) {
            struct fl_span t = FL_COL(b, FL_PKT_TUNNEL, struct fl_span)[r];
            if (!fl_tunnel_kind_from_name(fl_batch_bytes(b, t), t.len))
                abort();
        } else if (fl_batch_is_valid(b, FL_PKT_TUNNEL_ID, r)) {
            abort();
        }
    }
    return 0;
}

/* The selector byte for a capture's link type (DLT as libpcap reports it). */
static int fuzz_selector(int dlt)
{
    for (int i = 0; i < 16; i++)
        if (fuzz_linktypes[i] == dlt)
            return i;
    return 15;
}

static void fuzz_write_seeds(const char *out, const char *sub)
{
    const char *data = sub[0] == '/' ? "" : fl_test_data_dir();
    char dir[4096];
    struct dirent *e;
    unsigned files = 0, seeds = 0;
    DIR *d;

    if (!data)
        exit(1);
    snprintf(dir, sizeof dir, "%s%s%s", data, *data ? "/" : "", sub);
    if (!(d = opendir(dir))) {
        perror(dir);
        exit(1);
    }
    while ((e = readdir(d))) {
        char path[4096], err[PCAP_ERRBUF_SIZE];
        struct pcap_pkthdr *h;
        const u_char *pkt;
        pcap_t *p;
        int sel, n = 0;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!(p = pcap_open_offline(path, err)))
            continue;
        sel = fuzz_selector(pcap_datalink(p));
        while (n < FUZZ_SEED_FRAMES && pcap_next_ex(p, &h, &pkt) == 1) {
            for (int dc = 0; dc < 2; dc++) {
                char name[4096];
                FILE *f;
                uint8_t s = (uint8_t)(sel | (dc ? 0x10 : 0));
                snprintf(name, sizeof name, "%s/%s.%d%s", out, e->d_name, n, dc ? "d" : "");
                if (!(f = fopen(name, "wb")))
                    continue;
                fwrite(&s, 1, 1, f);
                fwrite(pkt, 1, h->caplen, f);
                fclose(f);
                seeds++;
            }
            n++;
        }
        pcap_close(p);
        files++;
    }
    closedir(d);
    printf("%u seeds from %u captures in %s\n", seeds, files, out);
    exit(seeds ? 0 : 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 4 && strcmp((*argv)[1], "--write-seeds") == 0)
        fuzz_write_seeds((*argv)[2], (*argv)[3]);
    return 0;
}
