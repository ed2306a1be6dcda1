/* pcap_gz.c: gzip'd capture files for input.pcap, as a stdio stream that
 * libpcap reads like any capture file (pcap_fopen_offline), so pcapng and
 * classic pcap both work compressed and nothing is decompressed to disk or
 * held whole in memory. Built with zlib when FL_WITH_ZLIB found it;
 * without, opening says so. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* fopencookie */
#endif
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pcap_int.h"

#ifdef PCAP_WITH_ZLIB
#include <zlib.h>

struct pcap_gz {
    gzFile gz;
    uint64_t consumed;      /* compressed bytes read so far */
};

static ssize_t pcap_gz_read(void *cookie, char *buf, size_t n)
{
    struct pcap_gz *g = cookie;
    int got = gzread(g->gz, buf, n > INT_MAX ? INT_MAX : (unsigned)n);
    z_off_t pos;

    if (got < 0) {
        errno = EIO;
        return -1;
    }
    pos = gzoffset(g->gz);
    if (pos > 0)
        g->consumed = (uint64_t)pos;
    return got;
}

static int pcap_gz_close(void *cookie)
{
    struct pcap_gz *g = cookie;
    int rc = gzclose(g->gz);
    free(g);
    return rc == Z_OK ? 0 : EOF;
}

FILE *pcap_gz_open(const char *path, int fd, uint64_t **consumed, uint8_t magic[4])
{
    static const cookie_io_functions_t io = { .read = pcap_gz_read, .close = pcap_gz_close };
    struct pcap_gz *g = calloc(1, sizeof *g);
    FILE *fp;
    int got;

    if (!g || !(g->gz = fd >= 0 ? gzdopen(fd, "rb") : gzopen(path, "rb"))) {
        if (fd >= 0)
            close(fd);   /* it was given to us: closed on every path */
        free(g);
        return NULL;
    }
    gzbuffer(g->gz, 1u << 20);
    /* Peek at the magic by reading it and handing it back to zlib: a pipe
     * cannot seek. zlib reads data that is not gzip'd as it is, so standard
     * input may be either. */
    memset(magic, 0, 4);
    got = gzread(g->gz, magic, 4);
    for (int i = got - 1; i >= 0; i--)
        if (gzungetc(magic[i], g->gz) < 0)
            got = -1;
    if (got < 0) {
        gzclose(g->gz);
        free(g);
        errno = EIO;
        return NULL;
    }
    fp = fopencookie(g, "r", io);
    if (!fp) {
        gzclose(g->gz);
        free(g);
        return NULL;
    }
    *consumed = &g->consumed;
    return fp;
}

#else

FILE *pcap_gz_open(const char *path, int fd, uint64_t **consumed, uint8_t magic[4])
{
    (void)path;
    (void)fd;
    (void)consumed;
    (void)magic;
    errno = ENOTSUP;
    return NULL;
}

#endif
