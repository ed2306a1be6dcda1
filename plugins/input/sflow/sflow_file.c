/* sflow_file.c: the datagrams of one file. What the first bytes say
 * decides how it is read:
 * - 00 00 00 05: one raw sFlow v5 datagram (as sflowtool's and the
 *   logstash codec's tests store them): the whole file, agent address
 *   from the datagram, time 0;
 * - a pcap or pcapng magic: a capture of agent traffic, read with libpcap;
 *   every UDP payload that starts like an sFlow datagram (a version word
 *   2 to 5; only 5 is decoded, the older ones are counted as
 *   drop_version) is one, at the packet's time, whatever port it was sent
 *   to. IP fragments cannot be framed alone (udp_fragments); other UDP
 *   payloads (NetFlow sent to the same port, ...) are udp_other. */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <flowline/log.h>
#include "sflow_int.h"

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* The UDP payload of a frame of link type dlt and its IP source; false
 * when it is not UDP over IPv4/IPv6 or is a fragment (*frag). */
static bool udp_payload(int dlt, const uint8_t *f, uint32_t cap, struct fl_addr *src,
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
        sf_v4(src, q + 12);
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

static int read_capture(struct sflow_dec *d, const char *path)
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
        if (!udp_payload(dlt, f, h->caplen, &src, &pl, &n, &frag)) {
            frags += frag;
            continue;
        }
        if (n < 4 || pl[0] || pl[1] || pl[2] || pl[3] < 2 || pl[3] > 5) {
            other++;
            continue;
        }
        /* with nanosecond precision, tv_usec holds nanoseconds */
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
        if ((rc = sflow_dec_datagram(d, pl, n, &src, ts)) < 0)
            break;
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

int sflow_file_read(struct sflow_dec *d, const char *path)
{
    static const struct fl_addr none;
    struct stat sb;
    uint8_t *map;
    size_t size;
    uint32_t magic;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        FL_LOG_ERROR(d->ctx, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? -FL_ENOENT : -FL_EIO;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < 4) {
        FL_LOG_ERROR(d->ctx, "%s: neither an sFlow datagram nor a capture", path);
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
    if (sf_rd32(map) == 5) {
        if (size > 65535) {
            FL_LOG_ERROR(d->ctx, "%s: larger than an sFlow datagram can be", path);
            rc = -FL_EPROTO;
        } else {
            rc = sflow_dec_datagram(d, map, size, &none, 0);
        }
    } else if (magic == 0xa1b2c3d4u || magic == 0xd4c3b2a1u || magic == 0xa1b23c4du ||
               magic == 0x4d3cb2a1u || magic == 0x0a0d0d0au) {
        rc = read_capture(d, path);
    } else {
        FL_LOG_ERROR(d->ctx, "%s: neither an sFlow v5 datagram (00 00 00 05) nor a pcap/pcapng "
                     "capture", path);
        rc = -FL_EPROTO;
    }
    munmap(map, size);
    return rc;
}
