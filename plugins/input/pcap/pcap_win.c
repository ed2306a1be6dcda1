/* pcap_win.c: the window through which input.pcap's own readers (classic
 * pcap and pcapng) see a file: a buffer of a few hundred KiB that pread()
 * refills as the walk moves on.
 *
 * Why not mmap: a walk over a mapped file takes a TLB miss and, the first
 * time, a page-table fill for every 4 KiB page, and its loads wait on
 * memory one record header after the other. On this project's VM that
 * made the classic walk cost 70 ns per record; copying the file into a
 * buffer that stays in L2 (the kernel's copy streams at memory bandwidth)
 * and walking that costs 15 (docs/performance.md, issue 14's third round). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pcap_int.h"

/* Big enough that a refill is rare, small enough to stay in L2 with the
 * batch being written. */
#define PCAP_WIN_BUF (512u << 10)

int pcap_win_file(struct pcap_in *st, struct fl_ctx *ctx, int *fd, uint64_t *size)
{
    struct stat sb;
    int rc;

    /* A pipe or a device is libpcap's: opening it here would take the
     * writer's rendezvous and lose what it writes. */
    if (stat(st->path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return PCAP_FALLBACK;
    *fd = open(st->path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        rc = errno == ENOENT ? -FL_ENOENT : -FL_EIO;
        FL_LOG_ERROR(ctx, "cannot open %s: %s", st->path, strerror(errno));
        return rc;
    }
    if (fstat(*fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(*fd);
        *fd = -1;
        return PCAP_FALLBACK;
    }
    *size = (uint64_t)sb.st_size;
    return 0;
}

int pcap_win_open(struct pcap_win *w, int fd, uint64_t start, uint64_t file_size, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->pos = start;
    w->file_size = file_size;
    w->cap = cap ? cap : PCAP_WIN_BUF;
    if (!(w->buf = malloc(w->cap)))
        return -FL_ENOMEM;
    w->base = w->buf;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return 0;
}

void pcap_win_mem(struct pcap_win *w, const uint8_t *data, size_t size)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->base = data;
    w->size = size;
    w->file_size = size;
    w->last = true;
}

int pcap_win_fill(struct pcap_win *w, size_t need)
{
    size_t keep = w->size - w->off;
    uint64_t left = w->file_size - w->pos - w->off;

    if (w->fd < 0 || w->last)
        return 0;
    /* A record longer than the buffer grows it, to no more than what is
     * left of the file (a record cut short by the end then fits whole and
     * the walk sees it truncated). */
    if (need > left)
        need = (size_t)left;
    if (need > w->cap) {
        uint8_t *nb = realloc(w->buf, need);
        if (!nb)
            return -FL_ENOMEM;
        w->buf = nb;
        w->base = nb;       /* a file's window always starts at buf */
        w->cap = need;
    }
    memmove(w->buf, w->base + w->off, keep);
    w->base = w->buf;
    w->pos += w->off;
    w->off = 0;
    w->size = keep;
    while (w->size < w->cap && w->pos + w->size < w->file_size) {
        size_t want = w->cap - w->size;
        ssize_t r;
        if (want > w->file_size - w->pos - w->size)
            want = (size_t)(w->file_size - w->pos - w->size);
        r = pread(w->fd, w->buf + w->size, want, (off_t)(w->pos + w->size));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -FL_EIO;
        if (r == 0) {   /* the file shrank since it was opened */
            w->file_size = w->pos + w->size;
            break;
        }
        w->size += (size_t)r;
    }
    w->last = w->pos + w->size >= w->file_size;
    return 0;
}

void pcap_win_close(struct pcap_win *w)
{
    free(w->buf);
    w->buf = NULL;
    w->base = NULL;
}
