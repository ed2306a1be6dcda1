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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <flowline/log.h>
#include "fl_collect.h"
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

/* What a flow export starts with: version 9 or 10. */
static bool is_export(const uint8_t *p, uint32_t n)
{
    return n >= 4 && p[0] == 0 && (p[1] == 9 || p[1] == 10);
}

static int on_datagram(void *user, const uint8_t *p, uint32_t n, const struct fl_addr *src,
                       uint64_t ts)
{
    struct ipfix_dec *d = user;
    int rc = ipfix_dec_message(d, p, n, src, 0, ts, true);
    ipfix_dec_report_maybe(d);
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
        rc = fl_udpcap_read(d->ctx, path, is_export, on_datagram, d);
    } else {
        FL_LOG_ERROR(d->ctx, "%s: not a file of IPFIX or NetFlow v9 messages, nor a capture "
                     "(its first bytes are neither 00 0a, 00 09 nor a pcap/pcapng magic)", path);
        rc = -FL_EPROTO;
    }
    munmap(map, size);
    return rc;
}
