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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <flowline/log.h>
#include "fl_collect.h"
#include "sflow_int.h"

/* What an sFlow datagram starts with: a version word, 2 to 5. */
static bool is_sflow(const uint8_t *p, uint32_t n)
{
    return n >= 4 && !p[0] && !p[1] && !p[2] && p[3] >= 2 && p[3] <= 5;
}

static int on_datagram(void *user, const uint8_t *p, uint32_t n, const struct fl_addr *src,
                       uint64_t ts)
{
    return sflow_dec_datagram(user, p, n, src, ts);
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
        rc = fl_udpcap_read(d->ctx, path, is_sflow, on_datagram, d);
    } else {
        FL_LOG_ERROR(d->ctx, "%s: neither an sFlow v5 datagram (00 00 00 05) nor a pcap/pcapng "
                     "capture", path);
        rc = -FL_EPROTO;
    }
    munmap(map, size);
    return rc;
}
