/* fuzz_decode.c: libFuzzer target for the packet decoder (core/src/decode*.c).
 *
 * Input: one selector byte, then the frame. The selector's low 4 bits and
 * bit 6 pick the link type (every one the decoder knows, plus unsupported
 * ones), bit 4
 * turns decapsulation on (every tunnel kind, VXLAN also on UDP 8472, nesting
 * bound 3, tunnel columns), bit 5 makes the wire length
 * 64 KiB longer than the captured length (snaplen-cut frames, TSO lengths).
 * The frame is the rest of the input, so ASan sees any read past caplen.
 * Each decoded row is checked against the column conventions of decode.h.
 *
 * Seeds: `fuzz_decode --write-seeds CORPUS DIR` writes the first frames of
 * every capture in DIR (relative to the test data dir, ../shared/data or
 * $FLOWLINE_TEST_DATA) into CORPUS in this input format, each twice (decap
 * off and on, so the tunnel paths are reached from the start), and a built
 * frame for each link type and ethertype no capture there has (802.11 and
 * its radio headers, FDDI, PBB, ...), and exits (tests/fuzz/CMakeLists.txt
 * runs it before the fuzzing run). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>
#include <flowline/decode.h>
#include "fl_harness.h"

#define FUZZ_SEED_FRAMES 16   /* per capture: enough variety, a small corpus */

/* Index i of this table is selector (sel & 15) | (sel & 0x40) >> 2;
 * fuzz_selector maps link types back through the same table. */
#define FUZZ_NLT 32
static const int fuzz_linktypes[FUZZ_NLT] = {
    FL_DLT_EN10MB, FL_DLT_LINUX_SLL, FL_DLT_LINUX_SLL2, FL_DLT_NULL, FL_DLT_LOOP, FL_DLT_RAW,
    12, 14, FL_DLT_IPV4, FL_DLT_IPV6, FL_DLT_PPP, FL_DLT_PPP_SERIAL, FL_DLT_EN10MB,
    FL_DLT_EN10MB, FL_DLT_C_HDLC, 147,
    /* decode_link.c's */
    FL_DLT_IEEE802_11, FL_DLT_RADIOTAP, FL_DLT_PPI, FL_DLT_PRISM, FL_DLT_AVS, FL_DLT_NFLOG,
    FL_DLT_FDDI, FL_DLT_PKTAP, FL_DLT_C_HDLC_WITH_DIR, FL_DLT_PPP_PPPD, FL_DLT_PPP_WITH_DIR,
    FL_DLT_MPLS, FL_DLT_ATM_RFC1483, 11, FL_DLT_EN10MB, 197};

static int fuzz_lt_index(uint8_t sel)
{
    return (sel & 15) | (sel & 0x40) >> 2;
}

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
    if (fl_decode(fuzz_dec[(sel >> 4) & 1], fuzz_linktypes[fuzz_lt_index(sel)], 1, data + 1, caplen,
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
    for (int i = 0; i < FUZZ_NLT; i++)
        if (fuzz_linktypes[i] == dlt)
            return (i & 15) | (i & 16) << 2;
    return 15;
}

/* Built seeds: a link header (hex), then an IPv4/UDP packet (and an FCS
 * where the header announces one). */
static const struct {
    int dlt;
    const char *hex;
} fuzz_built[] = {
#define FUZZ_W80211 "08010000020000000001020000000002020000000003100" "0aaaa030000000800"
    {FL_DLT_IEEE802_11, FUZZ_W80211},
    {FL_DLT_IEEE802_11, "88820000020000000001020000000002020000000003100005000000" "0000aaaa030000000800"},
    {FL_DLT_RADIOTAP, "000012000700000000000000000000001002" FUZZ_W80211},
    {FL_DLT_PPI, "0000200069000000020014000000000000000000010000000000000000000000" FUZZ_W80211},
    {FL_DLT_PRISM, "4100000090000000776c616e30" FUZZ_W80211},   /* length fixed below */
    {FL_DLT_AVS, "8021100100000010" "0000000000000000" FUZZ_W80211},
    {FL_DLT_NFLOG, "02000001080001000800030020000900"},
    {FL_DLT_FDDI, "50020000000001020000000002aaaa030000000800"},
    {FL_DLT_C_HDLC, "0f000800"},
    {FL_DLT_PKTAP, "100000000100000001000000656e3000" "0200000000010200000000020800"},
    {FL_DLT_EN10MB, "02000000000102000000000288e70001234502000000000302000000000481000005" "0800"},
    {FL_DLT_EN10MB, "020000000001020000000002892680010002" "0800"},
    {FL_DLT_EN10MB, "020000000001020000000002893f000500000000" "0800"},
    {FL_DLT_EN10MB, "02000000000102000000000288e520000000000102000000000100010800"},
    {FL_DLT_EN10MB, "02000000000102000000000289030401020000000003020000000004" "0800"},
};
#define FUZZ_IP4UDP "4500001c123440004011000a0a010203c0000209" "14e900350008" "0000"

static int fuzz_hex(const char *hex, uint8_t *out, size_t max)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < max; hex += 2)
        if (sscanf(hex, "%2hhx", &out[n++]) != 1)
            return -1;
    return (int)n;
}

static unsigned fuzz_write_built(const char *out)
{
    unsigned seeds = 0;
    for (size_t i = 0; i < sizeof fuzz_built / sizeof fuzz_built[0]; i++) {
        uint8_t b[512];
        char name[4096];
        int n;
        FILE *f;
        b[0] = (uint8_t)fuzz_selector(fuzz_built[i].dlt);
        n = fuzz_hex(fuzz_built[i].hex, b + 1, 300);
        if (n < 0)
            exit(1);
        if (fuzz_built[i].dlt == FL_DLT_PRISM) {
            /* the 144-byte header: pad the name and items with zeros */
            size_t rest = (size_t)n - 13;
            memmove(b + 1 + 144, b + 1 + 13, rest);
            memset(b + 1 + 13, 0, 144 - 13);
            n = (int)(144 + rest);
        }
        n += fuzz_hex(FUZZ_IP4UDP, b + 1 + n, 64);
        if (fuzz_built[i].dlt == FL_DLT_RADIOTAP || fuzz_built[i].dlt == FL_DLT_PPI)
            n += fuzz_hex("deadbeef", b + 1 + n, 4);
        snprintf(name, sizeof name, "%s/built.%zu", out, i);
        if (!(f = fopen(name, "wb")))
            continue;
        fwrite(b, 1, (size_t)n + 1, f);
        fclose(f);
        seeds++;
    }
    return seeds;
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
    seeds += fuzz_write_built(out);
    printf("%u seeds from %u captures and built frames in %s\n", seeds, files, out);
    exit(seeds ? 0 : 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 4 && strcmp((*argv)[1], "--write-seeds") == 0)
        fuzz_write_seeds((*argv)[2], (*argv)[3]);
    return 0;
}
