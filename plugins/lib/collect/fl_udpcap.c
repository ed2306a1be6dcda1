/* fl_udpcap.c: the UDP datagrams of a capture file (fl_collect.h). */
#include <pcap/pcap.h>
#include <string.h>
#include <flowline/log.h>
#include "fl_collect.h"

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

bool fl_udp_payload(int dlt, const uint8_t *f, uint32_t cap, struct fl_addr *src,
                        const uint8_t **pl, uint32_t *pl_len, bool *frag)
{
    const uint8_t *end = f + cap, *q = f;
    uint16_t et;

    *frag = false;
    if (dlt == DLT_EN10MB) {
        if (cap < 14)
            return false;
        et = be16(f + 12);
        q = f + 14;
        while ((et == 0x8100 || et == 0x88a8) && end - q >= 4) {
            et = be16(q + 2);
            q += 4;
        }
    } else if (dlt == DLT_LINUX_SLL && cap >= 16) {
        et = be16(f + 14);
        q = f + 16;
    } else if (dlt == DLT_LINUX_SLL2 && cap >= 20) {
        et = be16(f);
        q = f + 20;
    } else if ((dlt == DLT_NULL || dlt == DLT_LOOP) && cap >= 4) {
        uint32_t fam;
        memcpy(&fam, f, 4);
        if (fam > 0xffff)
            fam = __builtin_bswap32(fam);
        et = fam == 2 ? 0x0800 : 0x86dd;
        q = f + 4;
    } else if ((dlt == DLT_RAW || dlt == 228 || dlt == 229) && cap >= 1) {
        et = (f[0] >> 4) == 4 ? 0x0800 : 0x86dd;
    } else {
        return false;
    }
    memset(src, 0, sizeof *src);
    if (et == 0x0800) {
        uint32_t hl;
        if (end - q < 20 || (q[0] >> 4) != 4 || (hl = (q[0] & 15u) * 4) < 20 ||
            end - q < (long)hl || q[9] != 17)
            return false;
        if (be16(q + 6) & 0x3fff) {
            *frag = true;
            return false;
        }
        src->b[10] = src->b[11] = 0xff;
        memcpy(src->b + 12, q + 12, 4);
        q += hl;
    } else if (et == 0x86dd) {
        if (end - q < 40 || (q[0] >> 4) != 6)
            return false;
        if (q[6] == 44) {
            *frag = true;
            return false;
        }
        if (q[6] != 17)
            return false;
        memcpy(src->b, q + 8, 16);
        q += 40;
    } else {
        return false;
    }
    if (end - q < 8 || be16(q + 4) < 8)
        return false;
    uint32_t ulen = be16(q + 4) - 8u, have = (uint32_t)(end - q - 8);
    *pl = q + 8;
    *pl_len = ulen < have ? ulen : have;
    return true;
}

int fl_udpcap_read(struct fl_ctx *ctx, const char *path,
                   bool (*want)(const uint8_t *p, uint32_t len), fl_udpcap_fn fn, void *user)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    struct pcap_pkthdr *h;
    const uint8_t *f;
    uint64_t frags = 0, other = 0;
    int dlt, rc = 0, r = 0;

    if (!pc) {
        FL_LOG_ERROR(ctx, "%s: %s", path, err);
        return -FL_EPROTO;
    }
    dlt = pcap_datalink(pc);
    while (!fl_stopping(ctx) && (r = pcap_next_ex(pc, &h, &f)) == 1) {
        struct fl_addr src;
        const uint8_t *pl;
        uint32_t n;
        bool frag;
        if (!fl_udp_payload(dlt, f, h->caplen, &src, &pl, &n, &frag)) {
            frags += frag;
            continue;
        }
        if (!want(pl, n)) {
            other++;
            continue;
        }
        /* with nanosecond precision, tv_usec holds nanoseconds */
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
        if ((rc = fn(user, pl, n, &src, ts)) < 0)
            break;
    }
    if (rc == 0 && r == PCAP_ERROR) {
        fl_counter_add(ctx, "bad_record", 1);
        FL_LOG_WARN(ctx, "%s: %s: the rest of the file is skipped", path, pcap_geterr(pc));
    }
    if (frags)
        fl_counter_add(ctx, "udp_fragments", frags);
    if (other)
        fl_counter_add(ctx, "udp_other", other);
    pcap_close(pc);
    return rc;
}
