/* test_decode_link.c: the link types of core/src/decode_link.c (802.11
 * bare and behind radiotap, PPI, Prism and AVS; NFLOG; FDDI; Cisco HDLC;
 * PKTAP; the PPP/HDLC direction variants; MPLS; RFC 1483) and the
 * ethertypes PBB, VN-Tag, E-Tag, FabricPath and MACsec, on frames built
 * here and on the real captures of ../shared/data/pcap that use them:
 * - every built frame decoded, and its columns compared with tshark's view
 *   of the same frames written to a temp pcap (skipped without tshark);
 * - every drop reason of these headers, each counted once;
 * - every prefix of every built frame decoded from a buffer of exactly that
 *   size (ASan sees any read past caplen), counted as truncated while the
 *   cut is before the transport header. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include <flowline/decode.h>
#include "fl_harness.h"
#include "rt.h"
#include "pipeline.h"

/* ---- a frame builder (wire order; the inner packet's lengths are known
 * when it is written, since it is the last layer but for an FCS) ---------- */
struct fr {
    uint8_t b[1024];
    size_t n;
    size_t l4need;  /* bytes the decoder needs for a row: to the transport header's end */
};

static void put(struct fr *f, const void *p, size_t n)
{
    assert_true(f->n + n <= sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}
static void put8(struct fr *f, unsigned v) { uint8_t x = (uint8_t)v; put(f, &x, 1); }
static void put16(struct fr *f, unsigned v) { put8(f, v >> 8); put8(f, v); }
static void put32(struct fr *f, uint32_t v) { put16(f, v >> 16); put16(f, v & 0xffff); }
static void le16(struct fr *f, unsigned v) { put8(f, v); put8(f, v >> 8); }
static void le32(struct fr *f, uint32_t v) { le16(f, v & 0xffff); le16(f, v >> 16); }
static void zeros(struct fr *f, size_t n) { while (n--) put8(f, 0); }
static void macs(struct fr *f) { static const uint8_t m[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}; put(f, m, 12); }
static void eth(struct fr *f, unsigned et) { macs(f); put16(f, et); }
static void snap(struct fr *f, unsigned et) { put8(f, 0xaa); put8(f, 0xaa); put8(f, 3); zeros(f, 3); put16(f, et); }

static void addr(struct fr *f, int af, const char *text)
{
    uint8_t a[16];
    assert_int_equal(inet_pton(af, text, a), 1);
    put(f, a, af == AF_INET ? 4 : 16);
}

/* The inner packets: IPv4/UDP 10.1.2.3:5353 > 192.0.2.9:53 with 12 bytes of
 * payload, or IPv6/TCP [2001:db8::1]:40000 > [2001:db8::2]:443 with 10. */
static void inner(struct fr *f, int v6)
{
    if (!v6) {
        f->l4need = f->n + 20 + 8;
        put16(f, 0x4500);
        put16(f, 40);
        put32(f, 0x12344000);
        put16(f, 0x4011);
        put16(f, 0);
        addr(f, AF_INET, "10.1.2.3");
        addr(f, AF_INET, "192.0.2.9");
        put16(f, 5353);
        put16(f, 53);
        put16(f, 20);
        put16(f, 0);
        zeros(f, 12);
    } else {
        f->l4need = f->n + 40 + 14;
        put32(f, 0x60000000);
        put16(f, 30);
        put8(f, 6);
        put8(f, 64);
        addr(f, AF_INET6, "2001:db8::1");
        addr(f, AF_INET6, "2001:db8::2");
        put16(f, 40000);
        put16(f, 443);
        put32(f, 1);
        put32(f, 2);
        put16(f, 0x5018);
        put16(f, 1000);
        put32(f, 0);
        zeros(f, 10);
    }
}
static unsigned inner_et(int v6) { return v6 ? 0x86dd : 0x0800; }

/* An 802.11 data frame header: frame control (fc0, fc1), duration, three
 * addresses, sequence control (sequence 1, fragment frag), the fourth
 * address with ToDS+FromDS, QoS control (qos0) on QoS subtypes, HT control
 * with Order on those. */
static void w80211(struct fr *f, unsigned fc0, unsigned fc1, unsigned frag, unsigned qos0)
{
    put8(f, fc0);
    put8(f, fc1);
    le16(f, 44);
    for (unsigned i = 0; i < 3; i++) {
        static const uint8_t a[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
        put(f, a, 6);
        f->b[f->n - 1] = (uint8_t)i;
    }
    le16(f, 0x10 | frag);
    if ((fc1 & 3) == 3)
        zeros(f, 6);
    if (fc0 & 0x80) {
        put8(f, qos0);
        put8(f, 0);
        if (fc1 & 0x80)
            le32(f, 0);
    }
}
static void data80211(struct fr *f, unsigned fc0, unsigned fc1, int v6)
{
    w80211(f, fc0, fc1, 0, 5);
    snap(f, inner_et(v6));
    inner(f, v6);
}

/* radiotap: TSFT, Flags, Rate (18 bytes); flags 0x10 = FCS at the end */
static void radiotap(struct fr *f, unsigned flags)
{
    put8(f, 0);
    put8(f, 0);
    le16(f, 18);
    le32(f, 0x7);
    le32(f, 0x12345678);
    le32(f, 0);
    put8(f, flags);
    put8(f, 2);
}
static void fcs(struct fr *f) { put32(f, 0xdeadbeef); }

/* ---- the cases ------------------------------------------------------------ */
static void c_80211_tods(struct fr *f) { data80211(f, 0x08, 0x01, 0); }
static void c_80211_qos_4addr(struct fr *f) { data80211(f, 0x88, 0x03, 1); }
static void c_80211_qos_htc(struct fr *f) { data80211(f, 0x88, 0x82, 0); }
static void c_80211_amsdu(struct fr *f)
{
    w80211(f, 0x88, 0x02, 0, 0x80);
    macs(f);
    put16(f, 8 + 40);
    snap(f, 0x0800);
    inner(f, 0);
}
static void c_radiotap_fcs(struct fr *f) { radiotap(f, 0x10); data80211(f, 0x88, 0x01, 1); fcs(f); }
static void c_radiotap_pad(struct fr *f)
{
    /* two present words (no TSFT), Flags with data padding; the 30-byte
     * 4-address header is padded to 32 */
    put8(f, 0);
    put8(f, 0);
    le16(f, 16);
    le32(f, 0x80000002);
    le32(f, 0);
    put8(f, 0x20);
    zeros(f, 3);
    w80211(f, 0x08, 0x03, 0, 0);
    zeros(f, 2);
    snap(f, 0x0800);
    inner(f, 0);
}
static void c_ppi_80211(struct fr *f)
{
    put8(f, 0);
    put8(f, 0);
    le16(f, 32);
    le32(f, 105);
    le16(f, 2);     /* 802.11-common */
    le16(f, 20);
    zeros(f, 8);
    le16(f, 0x1);   /* FCS present */
    zeros(f, 10);
    data80211(f, 0x08, 0x02, 0);
    fcs(f);
}
static void c_ppi_eth(struct fr *f)
{
    put8(f, 0);
    put8(f, 0);
    le16(f, 8);
    le32(f, 1);
    eth(f, 0x86dd);
    inner(f, 1);
}
static void prism_hdr(struct fr *f, int be)
{
    if (be) { put32(f, 0x41); put32(f, 144); } else { le32(f, 0x41); le32(f, 144); }
    put(f, "wlan0\0\0\0\0\0\0\0\0\0\0\0", 16);
    zeros(f, 120);
}
static void c_prism(struct fr *f) { prism_hdr(f, 0); data80211(f, 0x08, 0x01, 0); }
static void c_prism_be(struct fr *f) { prism_hdr(f, 1); data80211(f, 0x08, 0x01, 1); }
static void avs_hdr(struct fr *f) { put32(f, 0x80211001); put32(f, 64); zeros(f, 56); }
static void c_avs(struct fr *f) { avs_hdr(f); data80211(f, 0x88, 0x01, 1); }
static void nflog(struct fr *f, int v6, int be)
{
    void (*w16)(struct fr *, unsigned) = be ? put16 : le16;
    put8(f, v6 ? 10 : 2);
    put8(f, 0);
    put16(f, 1);
    w16(f, 8);      /* NFULA_PACKET_HDR: hw protocol, hook, pad */
    w16(f, 1);
    put16(f, inner_et(v6));
    put8(f, 3);
    put8(f, 0);
    w16(f, 7);      /* NFULA_PREFIX "ab", padded to 8 */
    w16(f, 10);
    put(f, "ab\0\0", 4);
    w16(f, 4 + (v6 ? 80 : 40));
    w16(f, 9);      /* NFULA_PAYLOAD */
    inner(f, v6);
}
static void c_nflog4(struct fr *f) { nflog(f, 0, 0); }
static void c_nflog6_be(struct fr *f) { nflog(f, 1, 1); }
static void c_fddi(struct fr *f) { put8(f, 0x50); macs(f); snap(f, 0x0800); inner(f, 0); }
static void c_chdlc(struct fr *f) { put8(f, 0x0f); put8(f, 0); put16(f, 0x86dd); inner(f, 1); }
static void c_chdlc_dir(struct fr *f) { put8(f, 1); put8(f, 0x8f); put8(f, 0); put16(f, 0x0800); inner(f, 0); }
static void c_ppp_pppd(struct fr *f) { put8(f, 0); put8(f, 3); put16(f, 0x0021); inner(f, 0); }
static void c_ppp_dir(struct fr *f) { put8(f, 1); put8(f, 0xff); put8(f, 3); put16(f, 0x0057); inner(f, 1); }
static void c_mpls(struct fr *f) { put32(f, 16 << 12 | 0x100 | 64); inner(f, 0); }
static void c_atm(struct fr *f) { snap(f, 0x86dd); inner(f, 1); }
static void c_pktap(struct fr *f)
{
    le32(f, 108);
    le32(f, 1);     /* a packet record */
    le32(f, 1);     /* Ethernet */
    put(f, "en0", 3);
    zeros(f, 108 - 15);
    eth(f, 0x0800);
    inner(f, 0);
}
static void c_pbb(struct fr *f) { eth(f, 0x88e7); put32(f, 0x00012345); eth(f, 0x0800); inner(f, 0); }
static void c_pbb_sandwich(struct fr *f)
{
    eth(f, 0x8100);
    put16(f, 100);
    put16(f, 0x88e7);
    put32(f, 0x00012345);
    eth(f, 0x8100);
    put16(f, 200);
    put16(f, 0x86dd);
    inner(f, 1);
}
static void c_vntag(struct fr *f) { eth(f, 0x8926); put32(f, 0x80010002); put16(f, 0x86dd); inner(f, 1); }
static void c_etag(struct fr *f)
{
    eth(f, 0x8100);
    put16(f, 7);
    put16(f, 0x893f);
    put16(f, 0x0005);
    put32(f, 0);
    put16(f, 0x0800);
    inner(f, 0);
}
static void c_fabricpath(struct fr *f) { eth(f, 0x8903); put16(f, 0x0401); eth(f, 0x0800); inner(f, 0); }
static void c_macsec_clear(struct fr *f)
{
    eth(f, 0x88e5);
    put8(f, 0x20);  /* SC: an SCI follows; neither E nor C */
    put8(f, 0);
    put32(f, 1);
    put32(f, 0x02000000);
    put32(f, 0x00010001);
    put16(f, 0x0800);
    inner(f, 0);
    zeros(f, 16);   /* ICV */
}

struct lcase {
    const char *name;
    int lt;
    void (*build)(struct fr *);
    int no_tshark;  /* what tshark does not read this way (see the case) */
};
static const struct lcase cases[] = {
    {"802.11 data ToDS", FL_DLT_IEEE802_11, c_80211_tods, 0},
    {"802.11 QoS 4-address", FL_DLT_IEEE802_11, c_80211_qos_4addr, 0},
    {"802.11 QoS HT control", FL_DLT_IEEE802_11, c_80211_qos_htc, 0},
    {"802.11 A-MSDU", FL_DLT_IEEE802_11, c_80211_amsdu, 0},
    {"radiotap FCS", FL_DLT_RADIOTAP, c_radiotap_fcs, 0},
    {"radiotap data pad", FL_DLT_RADIOTAP, c_radiotap_pad, 0},
    {"PPI 802.11 FCS", FL_DLT_PPI, c_ppi_80211, 0},
    {"PPI Ethernet", FL_DLT_PPI, c_ppi_eth, 0},
    {"Prism", FL_DLT_PRISM, c_prism, 0},
    {"Prism big-endian", FL_DLT_PRISM, c_prism_be, 0},
    {"AVS", FL_DLT_AVS, c_avs, 0},
    {"Prism holding AVS", FL_DLT_PRISM, c_avs, 0},
    {"NFLOG IPv4", FL_DLT_NFLOG, c_nflog4, 0},
    /* tshark reads NFLOG TLVs in the file's byte order only */
    {"NFLOG IPv6 big-endian TLVs", FL_DLT_NFLOG, c_nflog6_be, 1},
    {"FDDI", FL_DLT_FDDI, c_fddi, 0},
    {"Cisco HDLC", FL_DLT_C_HDLC, c_chdlc, 0},
    /* tshark 4.0 does not read link type 205 from a pcap */
    {"Cisco HDLC with direction", FL_DLT_C_HDLC_WITH_DIR, c_chdlc_dir, 1},
    {"PPP pppd", FL_DLT_PPP_PPPD, c_ppp_pppd, 1},     /* nor 166 */
    {"PPP with direction", FL_DLT_PPP_WITH_DIR, c_ppp_dir, 0},
    {"MPLS", FL_DLT_MPLS, c_mpls, 1},                 /* nor 219 */
    {"ATM RFC 1483", FL_DLT_ATM_RFC1483, c_atm, 0},
    {"PKTAP", FL_DLT_PKTAP, c_pktap, 0},
    {"PBB", FL_DLT_EN10MB, c_pbb, 0},
    {"VLAN PBB VLAN", FL_DLT_EN10MB, c_pbb_sandwich, 0},
    {"VN-Tag", FL_DLT_EN10MB, c_vntag, 0},
    {"VLAN E-Tag", FL_DLT_EN10MB, c_etag, 0},
    {"FabricPath", FL_DLT_EN10MB, c_fabricpath, 0},
    {"MACsec integrity only", FL_DLT_EN10MB, c_macsec_clear, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* ---- fixture -------------------------------------------------------------- */
static struct fl_ctx *ctx;
static const struct fl_schema *schema;

struct t {
    struct fl_decoder *d;
    struct fl_batch *b;
};

static int setup_group(void **state)
{
    (void)state;
    ctx = fl_test_ctx_new();
    return ctx && fl_packet_schema(ctx, &schema) == 0 ? 0 : -1;
}
static int teardown_group(void **state)
{
    (void)state;
    fl_test_ctx_destroy(&ctx);
    return 0;
}
static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    if (!t || fl_decoder_new(NULL, 0, &t->d) < 0 || fl_batch_new(ctx, schema, 4096, &t->b) < 0)
        return -1;
    *state = t;
    return 0;
}
static int teardown(void **state)
{
    struct t *t = *state;
    fl_batch_release(&t->b);
    fl_decoder_destroy(&t->d);
    free(t);
    return 0;
}

static uint64_t drops_total(struct t *t, uint64_t *by)
{
    uint64_t d[FL_DROP_COUNT], n = 0;
    fl_decoder_totals(t->d, d, NULL);
    for (int i = 0; i < FL_DROP_COUNT; i++)
        n += d[i];
    if (by)
        memcpy(by, d, sizeof d);
    return n;
}

/* A row's cells as text, as tshark prints them. */
struct row {
    char src[64], dst[64];
    unsigned proto, ip_len, sport, dport, vlan;
};
static void addr_text(const struct fl_addr *a, char *buf)
{
    if (fl_addr_is_v4(a))
        inet_ntop(AF_INET, a->b + 12, buf, 64);
    else
        inet_ntop(AF_INET6, a->b, buf, 64);
}
static void row_of(const struct fl_batch *b, uint32_t r, struct row *w)
{
    addr_text(&FL_COL(b, FL_PKT_SRC_ADDR, struct fl_addr)[r], w->src);
    addr_text(&FL_COL(b, FL_PKT_DST_ADDR, struct fl_addr)[r], w->dst);
    w->proto = FL_COL(b, FL_PKT_PROTO, uint8_t)[r];
    w->ip_len = FL_COL(b, FL_PKT_IP_LEN, uint32_t)[r];
    w->sport = FL_COL(b, FL_PKT_SRC_PORT, uint16_t)[r];
    w->dport = FL_COL(b, FL_PKT_DST_PORT, uint16_t)[r];
    w->vlan = FL_COL(b, FL_PKT_VLAN, uint16_t)[r];
}

/* ---- against tshark ------------------------------------------------------- */
#define MAXF 64

/* Decode every frame of path (read with libpcap, as input.pcap's libpcap
 * reader would) with a fresh decoder: rows[i] and got[i] for frame i + 1. */
static unsigned decode_file(const char *path, struct row *rows, int *got)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *pkt;
    struct fl_decoder *d;
    struct fl_batch *b;
    unsigned n = 0;
    pcap_t *p = pcap_open_offline(path, err);

    if (!p)
        fail_msg("%s: %s", path, err);
    assert_int_equal(fl_decoder_new(NULL, 0, &d), 0);
    assert_int_equal(fl_batch_new(ctx, schema, MAXF, &b), 0);
    while (n < MAXF && pcap_next_ex(p, &h, &pkt) == 1) {
        /* a buffer of exactly caplen bytes, so ASan sees an overread */
        uint8_t *copy = malloc(h->caplen ? h->caplen : 1);
        uint32_t r = b->rows;
        assert_non_null(copy);
        memcpy(copy, pkt, h->caplen);
        got[n] = fl_decode(d, pcap_datalink(p), 1, copy, h->caplen, h->len, b) == 1;
        if (got[n])
            row_of(b, r, &rows[n]);
        free(copy);
        n++;
    }
    pcap_close(p);
    fl_batch_release(&b);
    fl_decoder_destroy(&d);
    return n;
}

static bool have_tshark(void)
{
    static int have = -1;
    if (have < 0) {
        have = system("command -v tshark >/dev/null 2>&1") == 0;
        if (!have)
            print_message("tshark not found: the comparison with tshark is skipped\n");
    }
    return have;
}

/* The next tab-separated field of *s (empty ones kept). */
static char *field(char **s)
{
    char *f = *s, *tab = f ? strpbrk(f, "\t\n") : NULL;
    if (!f)
        return "";
    if (tab) {
        *s = *tab == '\t' ? tab + 1 : NULL;
        *tab = 0;
    } else {
        *s = NULL;
    }
    return f;
}

/* Every frame of path: where tshark sees IP, flowline has a row with the
 * same addresses, protocol, IP length, ports and outer VLAN; where it does
 * not, no row. Returns the number of rows compared. */
static unsigned compare_with_tshark(const char *path)
{
    struct row rows[MAXF];
    int got[MAXF];
    unsigned n = decode_file(path, rows, got), compared = 0, lines = 0;
    char cmd[4096], line[2048];
    FILE *p;

    snprintf(cmd, sizeof cmd,
             "tshark -r '%s' -T fields -E occurrence=f -e frame.number -e ip.src -e ip.dst "
             "-e ipv6.src -e ipv6.dst -e ip.proto -e ipv6.nxt -e ip.len -e ipv6.plen "
             "-e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e vlan.id 2>/dev/null",
             path);
    assert_non_null(p = popen(cmd, "r"));
    while (fgets(line, sizeof line, p)) {
        char *s = line, *f[14];
        for (int i = 0; i < 14; i++)
            f[i] = field(&s);
        unsigned k = (unsigned)atoi(f[0]);
        lines++;
        assert_true(k >= 1 && k <= n);
        const struct row *w = &rows[k - 1];
        int v6 = !*f[1];
        if (!*f[1] && !*f[3]) {
            if (got[k - 1])
                fail_msg("%s frame %u: tshark sees no IP, flowline a row %s > %s", path, k,
                         w->src, w->dst);
            continue;
        }
        if (!got[k - 1])
            fail_msg("%s frame %u: tshark sees %s > %s, flowline no row", path, k,
                     v6 ? f[3] : f[1], v6 ? f[4] : f[2]);
        if (strcmp(w->src, v6 ? f[3] : f[1]) || strcmp(w->dst, v6 ? f[4] : f[2]) ||
            w->proto != (unsigned)atoi(v6 ? f[6] : f[5]) ||
            w->ip_len != (v6 ? (unsigned)atoi(f[8]) + 40 : (unsigned)atoi(f[7])) ||
            w->sport != (unsigned)atoi(*f[9] ? f[9] : f[11]) ||
            w->dport != (unsigned)atoi(*f[10] ? f[10] : f[12]) || w->vlan != (unsigned)atoi(f[13]))
            fail_msg("%s frame %u: flowline %s > %s proto %u ip_len %u ports %u %u vlan %u;"
                     " tshark %s %s %s %s proto %s%s len %s%s ports %s%s %s%s vlan %s",
                     path, k, w->src, w->dst, w->proto, w->ip_len, w->sport, w->dport, w->vlan,
                     f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[11], f[10], f[12],
                     f[13]);
        compared++;
    }
    if (pclose(p) != 0)
        fail_msg("%s: tshark failed (%s)", path, cmd);
    assert_int_equal(lines, n);
    return compared;
}

/* A classic pcap of frames fs[0..n) with LINKTYPE lt. */
static void write_pcap(const char *path, int lt, const struct fr *fs, unsigned n)
{
    FILE *o = fopen(path, "wb");
    uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, (uint32_t)lt};
    assert_non_null(o);
    assert_int_equal(fwrite(hdr, sizeof hdr, 1, o), 1);
    for (unsigned i = 0; i < n; i++) {
        uint32_t r[4] = {1700000000 + i, 0, (uint32_t)fs[i].n, (uint32_t)fs[i].n};
        assert_int_equal(fwrite(r, sizeof r, 1, o), 1);
        assert_int_equal(fwrite(fs[i].b, fs[i].n, 1, o), 1);
    }
    assert_int_equal(fclose(o), 0);
}

/* Every case decodes; then per link type, the frames as a pcap and tshark. */
static void test_cases_vs_tshark(void **state)
{
    struct t *t = *state;
    static struct fr fs[NCASES];
    char dir[256], path[512];

    for (unsigned i = 0; i < NCASES; i++) {
        uint32_t r = t->b->rows;
        memset(&fs[i], 0, sizeof fs[i]);
        cases[i].build(&fs[i]);
        if (fl_decode(t->d, cases[i].lt, 1, fs[i].b, (uint32_t)fs[i].n, (uint32_t)fs[i].n,
                      t->b) != 1)
            fail_msg("%s: no row", cases[i].name);
        assert_int_equal(FL_COL(t->b, FL_PKT_FRAME_LEN, uint32_t)[r], fs[i].n);
    }
    assert_int_equal(drops_total(t, NULL), 0);
    if (!have_tshark())
        return;
    assert_int_equal(fl_test_tmpdir("decode_link", dir, sizeof dir), 0);
    for (unsigned i = 0; i < NCASES; i++) {
        struct fr same[NCASES];
        unsigned n = 0;
        bool first = true;
        for (unsigned j = 0; j < NCASES; j++) {
            if (cases[j].lt != cases[i].lt || cases[j].no_tshark)
                continue;
            if (j < i)
                first = false;
            same[n++] = fs[j];
        }
        if (!first || !n)
            continue;
        snprintf(path, sizeof path, "%s/lt%d.pcap", dir, cases[i].lt);
        write_pcap(path, cases[i].lt, same, n);
        if (compare_with_tshark(path) != n)
            fail_msg("link type %d: tshark decoded fewer frames than built", cases[i].lt);
    }
    assert_int_equal(fl_test_rmdir(dir), 0);
}

/* The captures of ../shared/data/pcap whose link types are decode_link.c's:
 * Cisco HDLC (with MPLS), PPI around Ethernet, PKTAP, NFLOG. */
static void test_real_captures(void **state)
{
    static const struct { const char *name; unsigned rows; } caps[] = {
        {"ndpi_BGP_redist.pcap", 2}, {"ndpi_someip_sd_sample.pcap", 6},
        {"tcpdump_LINKTYPE_PKTAP.pcap", 1}, {"tcpdump_nflog.pcap", 4}};
    const char *data = fl_test_data_dir();
    char path[4096];
    (void)state;

    if (!data) {
        skip();
        return;
    }
    for (unsigned i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        struct row rows[MAXF];
        int got[MAXF];
        unsigned n, k = 0;
        snprintf(path, sizeof path, "%s/pcap/%s", data, caps[i].name);
        n = decode_file(path, rows, got);
        for (unsigned j = 0; j < n; j++)
            k += (unsigned)got[j];
        if (k != caps[i].rows)
            fail_msg("%s: %u rows, want %u", caps[i].name, k, caps[i].rows);
        if (have_tshark())
            assert_int_equal(compare_with_tshark(path), caps[i].rows);
    }
}

/* ---- drops ---------------------------------------------------------------- */
static void expect_drop(struct t *t, int lt, const struct fr *f, enum fl_decode_reason r,
                        const char *what)
{
    uint64_t before[FL_DROP_COUNT], after[FL_DROP_COUNT];
    uint64_t n0 = drops_total(t, before);
    uint32_t rows = t->b->rows;

    if (fl_decode(t->d, lt, 1, f->b, (uint32_t)f->n, (uint32_t)f->n, t->b) != 0)
        fail_msg("%s: decoded, not dropped", what);
    assert_int_equal(t->b->rows, rows);
    if (drops_total(t, after) != n0 + 1 || after[r] != before[r] + 1)
        fail_msg("%s: expected one drop as %s", what, fl_decode_reason_name(r));
}

static void test_drops(void **state)
{
    struct t *t = *state;
    struct fr f;
#define FR(...) do { memset(&f, 0, sizeof f); __VA_ARGS__; } while (0)

    /* 802.11: what is not a data frame with a body of its own */
    FR(w80211(&f, 0x80, 0, 0, 0); zeros(&f, 40));     /* beacon */
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_DATA, "beacon");
    FR(put8(&f, 0xd4); put8(&f, 0); zeros(&f, 8));     /* ACK */
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_DATA, "ack");
    FR(w80211(&f, 0x48, 0x01, 0, 0));                  /* null data */
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_DATA, "null");
    FR(w80211(&f, 0xc8, 0x01, 0, 0));                  /* QoS null */
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_DATA, "qos null");
    FR(w80211(&f, 0x08, 0x01, 1, 0); zeros(&f, 40));   /* a later fragment */
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_DATA, "fragment 1");
    FR(put8(&f, 0x09); put8(&f, 0x01); zeros(&f, 60));  /* protocol version 1 */
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_DATA, "version");
    FR(w80211(&f, 0x88, 0x41, 0, 0); zeros(&f, 60));   /* Protected */
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_ENCRYPTED, "protected");
    FR(w80211(&f, 0x08, 0x01, 0, 0); put8(&f, 0x42); put8(&f, 0x42); put8(&f, 3); zeros(&f, 40));
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_IP, "STP LLC");
    FR(w80211(&f, 0x08, 0x01, 0, 0); put8(&f, 0xaa); put8(&f, 0xaa); put8(&f, 3);
       put8(&f, 0); put8(&f, 0); put8(&f, 0x0c); put16(&f, 0x2000); zeros(&f, 40));
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_IP, "Cisco OUI");
    FR(w80211(&f, 0x08, 0x01, 0, 0); snap(&f, 0x888e); zeros(&f, 40));
    expect_drop(t, FL_DLT_IEEE802_11, &f, FL_DROP_NOT_IP, "EAPOL");

    /* radio headers that contradict themselves or mark the frame corrupt */
    FR(radiotap(&f, 0x40); data80211(&f, 0x08, 0x01, 0));
    expect_drop(t, FL_DLT_RADIOTAP, &f, FL_DROP_BAD_LINK, "radiotap bad FCS");
    FR(radiotap(&f, 0); f.b[0] = 1; data80211(&f, 0x08, 0x01, 0));
    expect_drop(t, FL_DLT_RADIOTAP, &f, FL_DROP_BAD_LINK, "radiotap version");
    FR(radiotap(&f, 0); f.b[2] = 4; data80211(&f, 0x08, 0x01, 0));
    expect_drop(t, FL_DLT_RADIOTAP, &f, FL_DROP_BAD_LINK, "radiotap length 4");
    FR(radiotap(&f, 0); f.b[2] = 12; f.b[4] = 0xff; f.b[7] = 0x80);
    expect_drop(t, FL_DLT_RADIOTAP, &f, FL_DROP_BAD_LINK, "radiotap bitmaps past its length");
    FR(radiotap(&f, 0); f.b[3] = 1; data80211(&f, 0x08, 0x01, 0));
    expect_drop(t, FL_DLT_RADIOTAP, &f, FL_DROP_TRUNCATED, "radiotap longer than the frame");
    FR(radiotap(&f, 0x00); data80211(&f, 0x88, 0x41, 0));
    expect_drop(t, FL_DLT_RADIOTAP, &f, FL_DROP_ENCRYPTED, "radiotap protected");
    FR(c_ppi_80211(&f); f.b[20] = 0x5);
    expect_drop(t, FL_DLT_PPI, &f, FL_DROP_BAD_LINK, "PPI FCS invalid");
    FR(c_ppi_80211(&f); f.b[10] = 200);
    expect_drop(t, FL_DLT_PPI, &f, FL_DROP_BAD_LINK, "PPI field past the header");
    FR(c_ppi_eth(&f); f.b[2] = 6);
    expect_drop(t, FL_DLT_PPI, &f, FL_DROP_BAD_LINK, "PPI length 6");
    FR(c_ppi_eth(&f); f.b[4] = 192);
    expect_drop(t, FL_DLT_PPI, &f, FL_DROP_LINKTYPE, "PPI naming PPI");
    FR(c_ppi_eth(&f); f.b[4] = 147);
    expect_drop(t, FL_DLT_PPI, &f, FL_DROP_LINKTYPE, "PPI naming an unknown DLT");
    FR(c_avs(&f); f.b[0] = 0x70);
    expect_drop(t, FL_DLT_AVS, &f, FL_DROP_BAD_LINK, "AVS version");
    FR(c_prism(&f); f.b[4] = 4);
    expect_drop(t, FL_DLT_PRISM, &f, FL_DROP_BAD_LINK, "Prism length 4");

    /* NFLOG */
    FR(c_nflog4(&f); f.n = 4 + 8 + 8);
    expect_drop(t, FL_DLT_NFLOG, &f, FL_DROP_NOT_IP, "NFLOG without a payload");
    FR(c_nflog4(&f); f.b[12] = 2);
    expect_drop(t, FL_DLT_NFLOG, &f, FL_DROP_BAD_LINK, "NFLOG TLV length 2");
    FR(c_nflog4(&f); f.b[1] = 1);
    expect_drop(t, FL_DLT_NFLOG, &f, FL_DROP_BAD_LINK, "NFLOG version 1");

    /* the others */
    FR(put8(&f, 0x41); macs(&f); zeros(&f, 40));
    expect_drop(t, FL_DLT_FDDI, &f, FL_DROP_NOT_IP, "FDDI SMT");
    FR(put8(&f, 0x8f); put8(&f, 0); put16(&f, 0x8035); zeros(&f, 20));
    expect_drop(t, FL_DLT_C_HDLC, &f, FL_DROP_NOT_IP, "SLARP");
    FR(c_pktap(&f); f.b[8] = 0x02; f.b[9] = 0x01);
    expect_drop(t, FL_DLT_PKTAP, &f, FL_DROP_LINKTYPE, "PKTAP naming PKTAP");
    FR(c_pktap(&f); f.b[0] = 4);
    expect_drop(t, FL_DLT_PKTAP, &f, FL_DROP_BAD_LINK, "PKTAP length 4");
    FR(eth(&f, 0x88e5); put8(&f, 0x2c); zeros(&f, 60));
    expect_drop(t, FL_DLT_EN10MB, &f, FL_DROP_ENCRYPTED, "MACsec encrypted");
    FR(eth(&f, 0x8100); put16(&f, 5); put16(&f, 0x88e5); put8(&f, 0x0c); zeros(&f, 60));
    expect_drop(t, FL_DLT_EN10MB, &f, FL_DROP_ENCRYPTED, "VLAN MACsec encrypted");
    FR(eth(&f, 0x893f); for (int i = 0; i < 17; i++) { zeros(&f, 6); put16(&f, 0x893f); }
       zeros(&f, 6); put16(&f, 0x0800); inner(&f, 0));
    expect_drop(t, FL_DLT_EN10MB, &f, FL_DROP_NOT_IP, "E-Tags past the shim bound");
    FR(eth(&f, 0x8926); put32(&f, 0); put16(&f, 0x0806); zeros(&f, 28));
    expect_drop(t, FL_DLT_EN10MB, &f, FL_DROP_NOT_IP, "ARP behind VN-Tag");
#undef FR

    /* the counters users see */
    struct fl_ctx *c = fl_test_ctx_new();
    assert_non_null(c);
    fl_decoder_flush(t->d, c);
    assert_true(fl_counter_get(c, "drop_not_data") >= 6);
    assert_true(fl_counter_get(c, "drop_encrypted") >= 4);
    assert_true(fl_counter_get(c, "drop_bad_link") >= 10);
    fl_test_ctx_destroy(&c);
    /* --strict: frames without user data are no loss, unread traffic is */
    assert_false(fl_counter_is_loss("drop_not_data"));
    assert_true(fl_counter_is_loss("drop_encrypted"));
    assert_true(fl_counter_is_loss("drop_bad_link"));
}

/* Every prefix of every case, from a buffer of exactly that size, the wire
 * length staying the whole frame's (a snaplen cut): no row and one
 * truncated drop while the cut is before the transport header's end, a row
 * from there on. */
static void test_every_prefix(void **state)
{
    struct t *t = *state;

    for (unsigned i = 0; i < NCASES; i++) {
        struct fr f;
        memset(&f, 0, sizeof f);
        cases[i].build(&f);
        for (size_t cut = 0; cut <= f.n; cut++) {
            uint64_t before[FL_DROP_COUNT], after[FL_DROP_COUNT];
            uint8_t *buf = malloc(cut ? cut : 1);
            int rc;
            assert_non_null(buf);
            memcpy(buf, f.b, cut);
            if (t->b->rows == t->b->cap)
                t->b->rows = 0;
            drops_total(t, before);
            rc = fl_decode(t->d, cases[i].lt, 1, buf, (uint32_t)cut, (uint32_t)f.n, t->b);
            drops_total(t, after);
            free(buf);
            if (cut < f.l4need) {
                if (rc != 0 || after[FL_DROP_TRUNCATED] != before[FL_DROP_TRUNCATED] + 1)
                    fail_msg("%s cut at %zu of %zu: rc %d, not counted as truncated",
                             cases[i].name, cut, f.n, rc);
            } else if (rc != 1) {
                fail_msg("%s cut at %zu of %zu: no row", cases[i].name, cut, f.n);
            }
        }
    }
}

/* The FCS a radio header announces is not IP: an IPv4 total length of 0
 * (a TSO capture: the rest of the frame) stops before it, with the whole
 * FCS captured, half of it, or none. frame_len stays the wire length. */
static void test_fcs_trail(void **state)
{
    struct t *t = *state;
    struct fr f;
    size_t ip;

    memset(&f, 0, sizeof f);
    radiotap(&f, 0x10);
    data80211(&f, 0x08, 0x01, 0);
    fcs(&f);
    ip = f.l4need - 28;
    f.b[ip + 2] = f.b[ip + 3] = 0;
    for (size_t cut = 0; cut <= 4; cut += 2) {
        uint64_t n[FL_NOTE_COUNT], n2[FL_NOTE_COUNT];
        uint32_t r = t->b->rows;
        fl_decoder_totals(t->d, NULL, n);
        assert_int_equal(fl_decode(t->d, FL_DLT_RADIOTAP, 1, f.b, (uint32_t)(f.n - cut),
                                   (uint32_t)f.n, t->b), 1);
        fl_decoder_totals(t->d, NULL, n2);
        assert_int_equal(FL_COL(t->b, FL_PKT_IP_LEN, uint32_t)[r], 40);
        assert_int_equal(FL_COL(t->b, FL_PKT_PAYLOAD_LEN, uint32_t)[r], 12);
        assert_int_equal(FL_COL(t->b, FL_PKT_FRAME_LEN, uint32_t)[r], f.n);
        assert_int_equal(n2[FL_NOTE_IP_TRUNCATED], n[FL_NOTE_IP_TRUNCATED]);
    }
    /* an IP length reaching into the FCS: the FCS bytes are not captured IP */
    f.b[ip + 3] = 42;
    assert_int_equal(fl_decode(t->d, FL_DLT_RADIOTAP, 1, f.b, (uint32_t)f.n, (uint32_t)f.n, t->b), 1);
    uint64_t n[FL_NOTE_COUNT];
    fl_decoder_totals(t->d, NULL, n);
    assert_int_equal(n[FL_NOTE_IP_TRUNCATED], 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_cases_vs_tshark),
        T(test_real_captures),
        T(test_drops),
        T(test_every_prefix),
        T(test_fcs_trail),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
