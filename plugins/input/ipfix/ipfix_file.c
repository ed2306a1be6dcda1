/* ipfix_file.c: the messages of one file, in order. What the first bytes
 * say decides how the file is read:
 * - 00 0a: an IPFIX file (RFC 5655 §8: IPFIX messages one after another,
 *   each framed by its length); the exporter address is unknown (::);
 * - 00 09: one raw NetFlow v9 datagram (as tests and exporters' debug
 *   dumps store them): the whole file is the message;
 * - a pcap or pcapng magic: a capture of exporter traffic, read with
 *   libpcap; every UDP payload that starts like a NetFlow v9 or IPFIX
 *   message is one, from the packet's IP source at the packet's time, to
 *   whatever port it was sent to (exporters use many). IP fragments cannot
 *   be framed alone and are counted (udp_fragments); other UDP payloads
 *   are counted as udp_other. */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <flowline/log.h>
#include "ipfix_int.h"

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* An IPFIX file: messages back to back. */
static int read_ipfix_file(struct ipfix_dec *d, const char *path, const uint8_t *p, size_t n)
{
    static const struct fl_addr none;
    size_t off = 0;
    int rc;

    while (n - off >= 16 && !fl_stopping(d->ctx)) {
        uint16_t len = be16(p + off + 2);
        if (be16(p + off) != 10 || len < 16 || len > n - off) {
            fl_counter_add(d->ctx, "bad_file_tail", 1);
            FL_LOG_WARN(d->ctx, "%s: no IPFIX message at byte %zu; the rest of the file "
                        "is skipped", path, off);
            return 0;
        }
        if ((rc = ipfix_dec_message(d, p + off, len, &none, 0, 0, false)) < 0)
            return rc;
        off += len;
        ipfix_dec_report_maybe(d);
    }
    if (off < n)
        FL_LOG_WARN(d->ctx, "%s: %zu bytes after the last whole message skipped", path, n - off);
    return 0;
}

bool ipfix_udp_payload(int dlt, const uint8_t *f, uint32_t cap, struct fl_addr *src,
                        const uint8_t **pl, uint32_t *pl_len, bool *frag)
{
    const uint8_t *end = f + cap, *q = f;
    uint16_t et;

    *frag = false;
    switch (dlt) {
    case DLT_EN10MB:
        if (cap < 14)
            return false;
        et = be16(f + 12);
        q = f + 14;
        while ((et == 0x8100 || et == 0x88a8) && end - q >= 4) {
            et = be16(q + 2);
            q += 4;
        }
        break;
    case DLT_LINUX_SLL:
        if (cap < 16)
            return false;
        et = be16(f + 14);
        q = f + 16;
        break;
    case DLT_LINUX_SLL2:
        if (cap < 20)
            return false;
        et = be16(f);
        q = f + 20;
        break;
    case DLT_NULL:
    case DLT_LOOP: {
        uint32_t fam;
        if (cap < 4)
            return false;
        memcpy(&fam, f, 4);
        if (fam > 0xffff)
            fam = __builtin_bswap32(fam);
        et = fam == 2 ? 0x0800 : 0x86dd;
        q = f + 4;
        break;
    }
    case DLT_RAW:
    case 228:   /* LINKTYPE_IPV4 */
    case 229:   /* LINKTYPE_IPV6 */
        if (cap < 1)
            return false;
        et = (f[0] >> 4) == 4 ? 0x0800 : 0x86dd;
        break;
    default:
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
    if (end - q < 8)
        return false;
    uint32_t ulen = be16(q + 4);
    if (ulen < 8)
        return false;
    *pl = q + 8;
    *pl_len = ulen - 8 < (uint32_t)(end - q - 8) ? ulen - 8 : (uint32_t)(end - q - 8);
    return true;
}

static int read_capture(struct ipfix_dec *d, const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    struct pcap_pkthdr *h;
    const uint8_t *f;
    uint64_t frags = 0, other = 0;
    int dlt, rc = 0, r;

    if (!pc) {
        FL_LOG_ERROR(d->ctx, "%s: %s", path, err);
        return -FL_EPROTO;
    }
    dlt = pcap_datalink(pc);
    while (!fl_stopping(d->ctx) && (r = pcap_next_ex(pc, &h, &f)) == 1) {
        struct fl_addr src;
        const uint8_t *pl;
        uint32_t n;
        bool frag;
        if (!ipfix_udp_payload(dlt, f, h->caplen, &src, &pl, &n, &frag)) {
            frags += frag;
            continue;
        }
        if (n < 4 || pl[0] != 0 || (pl[1] != 9 && pl[1] != 10)) {
            other++;
            continue;
        }
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
        if ((rc = ipfix_dec_message(d, pl, n, &src, 0, ts, true)) < 0)
            break;
        ipfix_dec_report_maybe(d);
    }
    if (rc == 0 && r == PCAP_ERROR) {
        fl_counter_add(d->ctx, "bad_record", 1);
        FL_LOG_WARN(d->ctx, "%s: %s: the rest of the file is skipped", path, pcap_geterr(pc));
    }
    if (frags)
        fl_counter_add(d->ctx, "udp_fragments", frags);
    if (other)
        fl_counter_add(d->ctx, "udp_other", other);
    pcap_close(pc);
    return rc;
}

int ipfix_file_read(struct ipfix_dec *d, const char *path)
{
    static const struct fl_addr none;
    struct stat sb;
    uint8_t *map = NULL;
    size_t size;
    uint32_t magic;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        FL_LOG_ERROR(d->ctx, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? -FL_ENOENT : -FL_EIO;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < 4) {
        FL_LOG_ERROR(d->ctx, "%s: not a file of IPFIX or NetFlow v9 messages, nor a capture",
                     path);
        close(fd);
        return -FL_EPROTO;
    }
    size = (size_t)sb.st_size;
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        FL_LOG_ERROR(d->ctx, "cannot map %s: %s", path, strerror(errno));
        return -FL_EIO;
    }
    memcpy(&magic, map, 4);
    if (map[0] == 0 && map[1] == 10) {
        rc = read_ipfix_file(d, path, map, size);
    } else if (map[0] == 0 && map[1] == 9) {
        rc = size > 65535 ? -FL_EPROTO : ipfix_dec_message(d, map, size, &none, 0, 0, false);
        if (rc == -FL_EPROTO)
            FL_LOG_ERROR(d->ctx, "%s: larger than a NetFlow v9 datagram can be", path);
    } else if (magic == 0xa1b2c3d4u || magic == 0xd4c3b2a1u || magic == 0xa1b23c4du ||
               magic == 0x4d3cb2a1u || magic == 0x0a0d0d0au) {
        rc = read_capture(d, path);
    } else {
        FL_LOG_ERROR(d->ctx, "%s: not a file of IPFIX or NetFlow v9 messages, nor a capture "
                     "(its first bytes are neither 00 0a, 00 09 nor a pcap/pcapng magic)", path);
        rc = -FL_EPROTO;
    }
    munmap(map, size);
    return rc;
}
