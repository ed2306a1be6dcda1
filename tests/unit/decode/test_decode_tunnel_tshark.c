/* test_decode_tunnel_tshark.c: decapsulation against tshark: the crafted
 * frames of every tunnel kind (tunnel_test.h) written to a capture, and
 * real captures with tunnels from ../shared/data/pcap, frame by frame:
 * the row's addresses and ports are tshark's innermost IP layer
 * (-E occurrence=l), its tunnel_id tshark's TEID / VNI / span id. */
#include <pcap/pcap.h>
#include "tunnel_test.h"

/* ---- against tshark ------------------------------------------------------------ */

static void put_le32(FILE *fp, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    fwrite(b, 1, 4, fp);
}

/* Every case into one capture; tshark's last IP addresses and ports of
 * each frame (-E occurrence=l: the innermost) must be the row's. */
static void test_vs_tshark(void **state)
{
    (void)state;
    char path[] = "/tmp/fl-tunnel-XXXXXX", cmd[512], line[512];
    int fd = mkstemp(path);
    FILE *fp, *p;
    struct t *t = t_decap();
    size_t row = 0;

    if (system("tshark -v >/dev/null 2>&1") != 0) {
        print_message("tshark not found: skipped\n");
        t_close(&t);
        return;
    }
    assert_true(fd >= 0);
    fp = fdopen(fd, "wb");
    assert_non_null(fp);
    put_le32(fp, 0xa1b2c3d4);
    put_le32(fp, 0x00040002);
    put_le32(fp, 0);
    put_le32(fp, 0);
    put_le32(fp, 65535);
    put_le32(fp, 1);
    for (size_t i = 0; i < NCASES; i++) {
        struct fr f;
        struct mark m;
        cases[i].build(&f, &m);
        done(&f, &m);
        put_le32(fp, (uint32_t)i + 1);
        put_le32(fp, 0);
        put_le32(fp, (uint32_t)f.n);
        put_le32(fp, (uint32_t)f.n);
        fwrite(f.b, 1, f.n, fp);
        assert_int_equal(dec(t, &f), 1);
    }
    fclose(fp);
    snprintf(cmd, sizeof cmd, "tshark -n -r %s -E occurrence=l -T fields -e ip.src -e ip.dst "
             "-e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport "
             "-e udp.dstport 2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        char *fld[8] = { 0 }, *s = line;
        char want[64];
        line[strcspn(line, "\n")] = 0;
        for (int k = 0; k < 8; k++) {
            fld[k] = s;
            s = strchr(s, '\t');
            if (!s)
                break;
            *s++ = 0;
        }
        assert_true(row < t->b->rows);
        uint8_t ver = FL_COL(t->b, FL_PKT_IP_VERSION, uint8_t)[row];
        uint8_t proto = FL_COL(t->b, FL_PKT_PROTO, uint8_t)[row];
        print_message("%s: tshark %s %s %s %s\n", cases[row].name, fld[ver == 4 ? 0 : 2],
                      fld[ver == 4 ? 1 : 3], fld[proto == 6 ? 4 : 6] ? fld[proto == 6 ? 4 : 6] : "",
                      fld[proto == 6 ? 5 : 7] ? fld[proto == 6 ? 5 : 7] : "");
        assert_non_null(fld[7]);
        addr_is(&FL_COL(t->b, FL_PKT_SRC_ADDR, struct fl_addr)[row], fld[ver == 4 ? 0 : 2]);
        addr_is(&FL_COL(t->b, FL_PKT_DST_ADDR, struct fl_addr)[row], fld[ver == 4 ? 1 : 3]);
        snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_SRC_PORT, uint16_t)[row]);
        assert_string_equal(fld[proto == 6 ? 4 : 6], want);
        snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_DST_PORT, uint16_t)[row]);
        assert_string_equal(fld[proto == 6 ? 5 : 7], want);
        row++;
    }
    pclose(p);
    unlink(path);
    assert_int_equal(row, NCASES);
    t_close(&t);
}

/* Real captures with tunnels (../shared/data/pcap), frame by frame: each
 * row's addresses and ports must be tshark's innermost (occurrence=l), its
 * tunnel_id tshark's TEID / VNI / ERSPAN span id. Frames whose last IP
 * header is quoted in an ICMP error are left out (the decoder reports the
 * packet, not the quote). */
static const char *const real_captures[] = {
    "ndpi_ipv6_in_gtp.pcap", "ndpi_dtls.pcap", "ndpi_zoom.pcap", "ndpi_tls_change_cipher.pcap",
    "ndpi_ja3_lots_of_cipher_suites_2_anon.pcap", "ndpi_gtp_false_positive.pcap",
    "ndpi_teredo.pcap", "tcpdump_geneve.pcap", "tcpdump_erspan-type-iii-pb-1.pcap",
    "tcpdump_erspan-type-ii-1.pcap", "ndpi_vxlan.pcap", "tcpdump_vxlan.pcap", "ndpi_gre.pcap",
    "ndpi_6in4tunnel.pcap", "ndpi_4in6tunnel.pcap", "ndpi_false_positives.pcap",
    "ndpi_reasm_segv_anon.pcap", "ndpi_rtmp.pcap", "ndpi_http_origin_different_than_host.pcap",
    "ndpi_tls_invalid_reads.pcap",
};

static void compare_capture(const char *path, unsigned *frames_out, unsigned *tunnelled)
{
    char err[PCAP_ERRBUF_SIZE], cmd[2048], line[2048];
    struct pcap_pkthdr *ph;
    const u_char *pkt;
    pcap_t *pc = pcap_open_offline(path, err);
    struct t *t = t_decap();
    int32_t *row_of = calloc(1 << 16, sizeof *row_of);
    unsigned n = 0, compared = 0;
    FILE *p;

    assert_non_null(pc);
    assert_non_null(row_of);
    while (pcap_next_ex(pc, &ph, &pkt) == 1 && n < (1 << 16) - 1) {
        uint32_t rows = t->b->rows;
        n++;
        row_of[n] = -1;
        if (t->b->rows == t->b->cap)
            break;
        if (fl_decode(t->d, pcap_datalink(pc), 1, pkt, ph->caplen, ph->len, t->b) == 1)
            row_of[n] = (int32_t)rows;
    }
    pcap_close(pc);
    snprintf(cmd, sizeof cmd, "tshark -n -r %s -o ip.defragment:FALSE -o ipv6.defragment:FALSE "
             "-E occurrence=l -T fields -e frame.number -e frame.protocols -e ip.src -e ip.dst "
             "-e ipv6.src -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport "
             "-e udp.dstport -e gtp.teid -e geneve.vni -e erspan.spanid -e vxlan.vni "
             "2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        char *fld[14] = { 0 }, *s = line, want[64];
        line[strcspn(line, "\n")] = 0;
        for (int k = 0; k < 14 && s; k++) {
            fld[k] = s;
            if ((s = strchr(s, '\t')))
                *s++ = 0;
        }
        if (!fld[13])
            fail_msg("%s: short tshark line", path);
        unsigned fn = (unsigned)atoi(fld[0]);
        if (fn == 0 || fn > n || row_of[fn] < 0)
            continue;
        const char *icmp = strstr(fld[1], ":icmp");
        if (icmp && strstr(icmp, ":ip"))
            continue;   /* an ICMP error's quote */
        uint32_t r = (uint32_t)row_of[fn];
        uint8_t ver = FL_COL(t->b, FL_PKT_IP_VERSION, uint8_t)[r];
        uint8_t proto = FL_COL(t->b, FL_PKT_PROTO, uint8_t)[r];
        addr_is(&FL_COL(t->b, FL_PKT_SRC_ADDR, struct fl_addr)[r], fld[ver == 4 ? 2 : 4]);
        addr_is(&FL_COL(t->b, FL_PKT_DST_ADDR, struct fl_addr)[r], fld[ver == 4 ? 3 : 5]);
        if (proto == 6 || proto == 17) {
            snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_SRC_PORT, uint16_t)[r]);
            if (strcmp(fld[proto == 6 ? 6 : 8], want) != 0)
                fail_msg("%s frame %u: src port %s, tshark %s", path, fn, want, fld[proto == 6 ? 6 : 8]);
            snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_DST_PORT, uint16_t)[r]);
            if (strcmp(fld[proto == 6 ? 7 : 9], want) != 0)
                fail_msg("%s frame %u: dst port %s, tshark %s", path, fn, want, fld[proto == 6 ? 7 : 9]);
        }
        if (fl_batch_is_valid(t->b, FL_PKT_TUNNEL, r)) {
            (*tunnelled)++;
            const char *id = NULL;
            struct fl_span sp = FL_COL(t->b, FL_PKT_TUNNEL, struct fl_span)[r];
            int kind = fl_tunnel_kind_from_name(fl_batch_bytes(t->b, sp), sp.len);
            if (kind == FL_TUN_GTP) id = fld[10];
            else if (kind == FL_TUN_GENEVE) id = fld[11];
            else if (kind == FL_TUN_ERSPAN) id = fld[12];
            else if (kind == FL_TUN_VXLAN) id = fld[13];
            if (id && *id) {
                assert_true(fl_batch_is_valid(t->b, FL_PKT_TUNNEL_ID, r));
                snprintf(want, sizeof want, "%u", FL_COL(t->b, FL_PKT_TUNNEL_ID, uint32_t)[r]);
                if (strcmp(id, want) != 0 && !(strncmp(id, "0x", 2) == 0 &&
                                              strtoul(id, NULL, 16) == strtoul(want, NULL, 10)))
                    fail_msg("%s frame %u: tunnel id %s, tshark %s", path, fn, want, id);
            }
        }
        compared++;
    }
    pclose(p);
    *frames_out += compared;
    free(row_of);
    t_close(&t);
}

static void test_real_captures(void **state)
{
    (void)state;
    const char *data = fl_test_data_dir();
    unsigned frames = 0, tunnelled = 0, files = 0;
    char path[1024];
    if (!data || system("tshark -v >/dev/null 2>&1") != 0) {
        print_message("no test data or no tshark: skipped\n");
        return;
    }
    for (size_t i = 0; i < sizeof real_captures / sizeof real_captures[0]; i++) {
        snprintf(path, sizeof path, "%s/pcap/%s", data, real_captures[i]);
        if (access(path, R_OK) != 0)
            continue;
        compare_capture(path, &frames, &tunnelled);
        files++;
    }
    print_message("%u captures, %u frames compared with tshark, %u decapsulated\n", files,
                  frames, tunnelled);
    if (files)
        assert_true(tunnelled > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vs_tshark),
        cmocka_unit_test(test_real_captures),
    };
    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
