/* spool.c: the delivery layer's on-disk queue (format in spool.h).
 *
 * Segments are appended with one writev per record and read back with
 * pread, so the segment being written can also be the one being read.
 * Space is reclaimed a segment at a time, once every record in it was
 * taken (popped). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <flowline/plugin.h>
#include "spool.h"

#define SEG_MAGIC "FLSPOOL1"
#define SEG_HDR 16u
#define REC_MAGIC 0x52534c46u   /* "FLSR" read as little-endian */
#define REC_HDR 16u

struct seg { uint64_t seq, size; };

struct fl_spool {
    struct fl_ctx *ctx;
    char *dir, *name;
    uint64_t max, seg_max, bytes, next_seq;
    struct seg *segs;            /* oldest first */
    size_t n_segs, cap_segs;
    int rfd;                     /* segs[0], for reading; -1 */
    uint64_t roff;               /* next record in segs[0] */
    int wfd;                     /* the last segment, written by this run; -1 */
    uint8_t *buf;                /* the peeked payload */
    size_t buf_cap, buf_len;
    uint32_t buf_n;
    uint64_t next_off;           /* roff after the peeked record */
    bool loaded;
    uint32_t crc_tab[256];
};

static void crc_init(uint32_t *t)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
}

static uint32_t crc32_of(const uint32_t *t, const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = t[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seg_path(const struct fl_spool *s, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/%s.%016" PRIu64 ".spool", s->dir, s->name, seq);
}

static int cmp_seg(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int seg_add(struct fl_spool *s, uint64_t seq, uint64_t size)
{
    if (s->n_segs == s->cap_segs) {
        size_t cap = s->cap_segs ? s->cap_segs * 2 : 16;
        struct seg *n = realloc(s->segs, cap * sizeof(*n));
        if (!n)
            return -FL_ENOMEM;
        s->segs = n;
        s->cap_segs = cap;
    }
    s->segs[s->n_segs++] = (struct seg){ seq, size };
    s->bytes += size;
    return 0;
}

/* The segments an earlier run left: <name>.<16 digits>.spool. */
static int scan(struct fl_spool *s)
{
    DIR *d = opendir(s->dir);
    if (!d) {
        FL_LOG_ERROR(s->ctx, "spool_dir %s: %s", s->dir, strerror(errno));
        return -FL_EIO;
    }
    size_t nl = strlen(s->name);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        const char *f = de->d_name;
        if (strncmp(f, s->name, nl) != 0 || f[nl] != '.' || strlen(f + nl + 1) != 16 + 6
            || strcmp(f + nl + 17, ".spool") != 0)
            continue;
        uint64_t seq = 0;
        bool ok = true;
        for (int i = 0; i < 16; i++) {
            char c = f[nl + 1 + i];
            ok = ok && c >= '0' && c <= '9';
            seq = seq * 10 + (uint64_t)(c - '0');
        }
        struct stat st;
        char path[4096];
        seg_path(s, seq, path, sizeof(path));
        if (!ok || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        rc = seg_add(s, seq, (uint64_t)st.st_size);
        if (seq >= s->next_seq)
            s->next_seq = seq + 1;
    }
    closedir(d);
    if (s->n_segs)
        qsort(s->segs, s->n_segs, sizeof(*s->segs), cmp_seg);
    return rc;
}

int fl_spool_open(struct fl_ctx *ctx, const char *dir, const char *name, uint64_t max,
                  struct fl_spool **out)
{
    struct fl_spool *s = calloc(1, sizeof(*s));
    if (!s)
        return -FL_ENOMEM;
    s->ctx = ctx;
    s->rfd = s->wfd = -1;
    s->max = max;
    s->seg_max = max / 8;
    if (s->seg_max < 64 * 1024)
        s->seg_max = 64 * 1024;
    if (s->seg_max > 64u << 20)
        s->seg_max = 64u << 20;
    s->next_seq = 1;
    crc_init(s->crc_tab);
    int rc = -FL_ENOMEM;
    if (!(s->dir = strdup(dir)) || !(s->name = strdup(name)))
        goto fail;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        FL_LOG_ERROR(ctx, "cannot create spool_dir %s: %s", dir, strerror(errno));
        rc = -FL_EIO;
        goto fail;
    }
    if ((rc = scan(s)) < 0)
        goto fail;
    if (s->n_segs)
        FL_LOG_INFO(ctx, "spool %s: %zu segments, %" PRIu64 " bytes from an earlier run to replay",
                    dir, s->n_segs, s->bytes);
    *out = s;
    return 0;
fail:
    fl_spool_close(&s);
    return rc;
}

int fl_spool_sync(struct fl_spool *s)
{
    if (s->wfd >= 0 && fdatasync(s->wfd) < 0) {
        FL_LOG_ERROR(s->ctx, "spool %s: sync: %s", s->dir, strerror(errno));
        return -FL_EIO;
    }
    return 0;
}

void fl_spool_close(struct fl_spool **sp)
{
    struct fl_spool *s = *sp;
    if (!s)
        return;
    (void)fl_spool_sync(s);
    if (s->wfd >= 0)
        close(s->wfd);
    if (s->rfd >= 0)
        close(s->rfd);
    free(s->segs);
    free(s->buf);
    free(s->dir);
    free(s->name);
    free(s);
    *sp = NULL;
}

bool fl_spool_empty(struct fl_spool *s)
{
    const uint8_t *p;
    size_t len;
    uint32_t n;
    return fl_spool_peek(s, &p, &len, &n) == -FL_ENOENT;
}

uint64_t fl_spool_bytes(const struct fl_spool *s)
{
    return s->bytes;
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int seg_start(struct fl_spool *s)
{
    if (s->wfd >= 0) {
        (void)fl_spool_sync(s);
        close(s->wfd);
        s->wfd = -1;
    }
    char path[4096];
    uint64_t seq = s->next_seq++;
    seg_path(s, seq, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        FL_LOG_ERROR_RL(s->ctx, "spool: cannot create %s: %s", path, strerror(errno));
        return -FL_EIO;
    }
    uint8_t hdr[SEG_HDR];
    memcpy(hdr, SEG_MAGIC, 8);
    put32(hdr + 8, 1);
    put32(hdr + 12, SEG_HDR);
    struct iovec iov = { hdr, sizeof(hdr) };
    int rc = seg_add(s, seq, 0);
    if (rc < 0 || write_all(fd, &iov, 1) < 0) {
        if (rc == 0) {
            FL_LOG_ERROR_RL(s->ctx, "spool: writing %s: %s", path, strerror(errno));
            s->n_segs--;
            rc = -FL_EIO;
        }
        close(fd);
        unlink(path);
        return rc;
    }
    s->segs[s->n_segs - 1].size = SEG_HDR;
    s->bytes += SEG_HDR;
    s->wfd = fd;
    return 0;
}

int fl_spool_put(struct fl_spool *s, const uint8_t *p, size_t len, uint32_t n)
{
    if (len > UINT32_MAX - REC_HDR)
        return -FL_ERANGE;
    uint64_t need = REC_HDR + len;
    bool fresh = s->wfd < 0 || s->segs[s->n_segs - 1].size + need > s->seg_max;
    if (s->bytes + need + (fresh ? SEG_HDR : 0) > s->max)
        return -FL_EFULL;
    int rc;
    if (fresh && (rc = seg_start(s)) < 0)
        return rc;
    uint8_t hdr[REC_HDR];
    put32(hdr, REC_MAGIC);
    put32(hdr + 4, (uint32_t)len);
    put32(hdr + 8, n);
    put32(hdr + 12, crc32_of(s->crc_tab, p, len));
    struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)p, len } };
    struct seg *tail = &s->segs[s->n_segs - 1];
    if (write_all(s->wfd, iov, 2) < 0) {
        FL_LOG_ERROR_RL(s->ctx, "spool %s: write: %s", s->dir, strerror(errno));
        /* Cut back to the last whole record, so nothing behind it is lost. */
        if (ftruncate(s->wfd, (off_t)tail->size) < 0)
            FL_LOG_ERROR_RL(s->ctx, "spool %s: truncate: %s", s->dir, strerror(errno));
        return errno == ENOSPC ? -FL_EFULL : -FL_EIO;
    }
    tail->size += need;
    s->bytes += need;
    return 0;
}

/* Forget segs[0] (every record taken, or unreadable) and delete its file. */
static void seg_drop_head(struct fl_spool *s)
{
    char path[4096];
    seg_path(s, s->segs[0].seq, path, sizeof(path));
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
    s->roff = 0;
    if (s->n_segs == 1 && s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        FL_LOG_ERROR_RL(s->ctx, "spool: cannot remove %s: %s", path, strerror(errno));
    s->bytes -= s->segs[0].size;
    memmove(s->segs, s->segs + 1, (s->n_segs - 1) * sizeof(*s->segs));
    s->n_segs--;
}

static bool read_at(int fd, void *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void corrupt(struct fl_spool *s, const char *what)
{
    fl_counter_add(s->ctx, "spool_corrupt", 1);
    FL_LOG_ERROR_RL(s->ctx, "spool %s: segment %016" PRIu64 " at byte %" PRIu64
                    ": %s; the rest of the segment is skipped", s->dir, s->segs[0].seq,
                    s->roff, what);
    s->roff = s->segs[0].size;
}

int fl_spool_peek(struct fl_spool *s, const uint8_t **p, size_t *len, uint32_t *n)
{
    while (!s->loaded) {
        if (s->n_segs == 0)
            return -FL_ENOENT;
        struct seg *h = &s->segs[0];
        bool writing = s->n_segs == 1 && s->wfd >= 0;
        if (s->rfd < 0) {
            char path[4096];
            seg_path(s, h->seq, path, sizeof(path));
            if ((s->rfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
                FL_LOG_ERROR_RL(s->ctx, "spool: cannot open %s: %s", path, strerror(errno));
                seg_drop_head(s);
                continue;
            }
            uint8_t hdr[SEG_HDR];
            s->roff = 0;
            if (h->size < SEG_HDR || !read_at(s->rfd, hdr, SEG_HDR, 0)
                || memcmp(hdr, SEG_MAGIC, 8) != 0 || get32(hdr + 8) != 1
                || get32(hdr + 12) < SEG_HDR || get32(hdr + 12) > h->size)
                corrupt(s, "not a spool segment");
            else
                s->roff = get32(hdr + 12);
        }
        if (s->roff >= h->size) {
            if (writing)
                return -FL_ENOENT;   /* taken up to what was written */
            seg_drop_head(s);
            continue;
        }
        uint8_t rh[REC_HDR];
        if (h->size - s->roff < REC_HDR || !read_at(s->rfd, rh, REC_HDR, s->roff)
            || get32(rh) != REC_MAGIC) {
            corrupt(s, "bad record header (a torn write?)");
            continue;
        }
        uint32_t l = get32(rh + 4);
        if (l > h->size - s->roff - REC_HDR) {
            corrupt(s, "record longer than the segment (a torn write?)");
            continue;
        }
        if (l > s->buf_cap) {
            uint8_t *nb = realloc(s->buf, l);
            if (!nb)
                return -FL_ENOMEM;
            s->buf = nb;
            s->buf_cap = l;
        }
        if (!read_at(s->rfd, s->buf, l, s->roff + REC_HDR)
            || crc32_of(s->crc_tab, s->buf, l) != get32(rh + 12)) {
            corrupt(s, "checksum mismatch");
            continue;
        }
        s->buf_len = l;
        s->buf_n = get32(rh + 8);
        s->next_off = s->roff + REC_HDR + l;
        s->loaded = true;
    }
    *p = s->buf;
    *len = s->buf_len;
    *n = s->buf_n;
    return 0;
}

void fl_spool_pop(struct fl_spool *s)
{
    if (!s->loaded)
        return;
    s->loaded = false;
    s->roff = s->next_off;
    /* A segment fully taken goes at once, also the one being written: the
     * next put starts a fresh one, so an idle spool holds no files. */
    if (s->n_segs && s->roff >= s->segs[0].size)
        seg_drop_head(s);
}
