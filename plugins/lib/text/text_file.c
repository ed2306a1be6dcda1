/* text_file.c: the buffered file writer of plugins/lib/text/fl_text.h: one write() per
 * buffer, EINTR/short-write/non-blocking retries, rotation by size and by
 * aligned wall-clock slots with never-overwriting rotated names. It knows
 * nothing about rows beyond their count and the header callback; layouts
 * are in text_layout.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <flowline/plugin.h>
#include "fl_text.h"

#define TEXT_FILE_BUF_DEFAULT (1u << 20)

struct fl_text_file {
    char *path;
    int fd;
    bool is_stdout;
    bool can_rotate;           /* a regular file and rotation configured */
    struct fl_text_buf buf;
    size_t buf_size;
    uint64_t rotate_size, rotate_interval, flush_interval;
    uint64_t file_bytes;       /* written to the current file */
    uint64_t file_rows;        /* rows committed to the current file */
    uint64_t start_ns;         /* wall time the current file was started */
    uint64_t pending_since;    /* tick time buffered text was first seen; 0 = none */
    uint64_t total_bytes, files;
    int (*on_start)(void *arg, struct fl_text_buf *b);
    void *arg;
};

/* Write buffered text; what could not be written stays at the buffer's
 * front, errno as write() or poll() left it. */
static int text_file_write(struct fl_text_file *f)
{
    size_t done = 0, n = f->buf.len;
    int rc = 0;
    while (done < n) {
        ssize_t w = write(f->fd, f->buf.p + done, n - done);
        if (w >= 0) {
            done += (size_t)w;
            f->file_bytes += (uint64_t)w;
            f->total_bytes += (uint64_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* stdout may be a non-blocking pipe shared with a shell. */
            struct pollfd pfd = { .fd = f->fd, .events = POLLOUT };
            if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
                continue;
        }
        rc = -FL_EIO;
        break;
    }
    if (done) {
        int saved = errno;
        memmove(f->buf.p, f->buf.p + done, n - done);
        errno = saved;
    }
    f->buf.len = n - done;
    return rc;
}

int fl_text_file_flush(struct fl_text_file *f)
{
    f->pending_since = 0;
    return f->buf.len ? text_file_write(f) : 0;
}

/* Rename `path` aside as path.YYYYMMDDThhmmssZ[-N] for the given time,
 * never replacing an existing file: link() fails with EEXIST where rename()
 * would overwrite; file systems without hard links fall back to a checked
 * rename (racy only against other writers of the same directory). */
static int text_file_rename_aside(const char *path, uint64_t ns)
{
    char stamp[32], name[4096];
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm))
        return -FL_EINVAL;
    for (unsigned n = 0; n < 100000; n++) {
        int len = n ? snprintf(name, sizeof name, "%s.%s-%u", path, stamp, n)
                    : snprintf(name, sizeof name, "%s.%s", path, stamp);
        if (len < 0 || (size_t)len >= sizeof name) {
            errno = ENAMETOOLONG;
            return -FL_EIO;
        }
        if (link(path, name) == 0)
            return unlink(path) == 0 ? 0 : -FL_EIO;
        if (errno == EEXIST)
            continue;
        if (errno != EPERM && errno != EXDEV && errno != ENOSYS && errno != EMLINK &&
            errno != ENOTSUP && errno != EOPNOTSUPP)
            return -FL_EIO;
        if (access(name, F_OK) == 0)
            continue;
        return rename(path, name) == 0 ? 0 : -FL_EIO;
    }
    errno = EEXIST;
    return -FL_EIO;
}

static int text_file_open_fd(const char *path, enum fl_text_existing existing)
{
    static const int how[] = {
        [FL_TEXT_EXISTING_REFUSE] = O_EXCL, [FL_TEXT_EXISTING_TRUNCATE] = O_TRUNC,
        [FL_TEXT_EXISTING_APPEND] = O_APPEND,
    };
    struct stat st;
    int fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC | how[existing];
    /* A FIFO, a device, a terminal: write to it, there is no file to keep. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        flags = O_WRONLY | O_CLOEXEC;
    do
        fd = open(path, flags, 0666);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* The current file got fd, started at now: give it its header. */
static int text_file_started(struct fl_text_file *f, uint64_t now_ns, uint64_t held)
{
    f->file_bytes = held;   /* what an appended file held counts to rotate_size */
    f->file_rows = 0;
    f->start_ns = now_ns;
    f->files++;
    /* A file appended to has started already (its header is there). */
    return f->on_start && !held ? f->on_start(f->arg, &f->buf) : 0;
}

/* Close the current file as a rotated one and start a new `path`. The
 * rename happens while the old file is still open, so a failure at any
 * step leaves the writer writing somewhere valid. */
static int text_file_rotate(struct fl_text_file *f, uint64_t now_ns)
{
    int rc = fl_text_file_flush(f);
    if (rc < 0)
        return rc;
    if ((rc = text_file_rename_aside(f->path, f->start_ns)) < 0)
        return rc;
    int fd = text_file_open_fd(f->path, FL_TEXT_EXISTING_REFUSE);
    if (fd < 0)
        return -FL_EIO;   /* rows go on into the renamed file */
    int old = f->fd;
    f->fd = fd;
    if (close(old) < 0 && errno != EINTR)
        rc = -FL_EIO;
    int rc2 = text_file_started(f, now_ns, 0);
    return rc < 0 ? rc : rc2;
}

int fl_text_file_open(const struct fl_text_file_conf *c, uint64_t now_ns,
                      struct fl_text_file **out)
{
    uint64_t appended = 0;
    int rc = -FL_ENOMEM;
    if (!c->path || !*c->path)
        return -FL_EINVAL;
    struct fl_text_file *f = calloc(1, sizeof *f);
    if (!f)
        return -FL_ENOMEM;
    f->fd = -1;
    f->path = strdup(c->path);
    if (!f->path)
        goto fail;
    f->buf_size = c->buf_size ? c->buf_size : TEXT_FILE_BUF_DEFAULT;
    f->rotate_size = c->rotate_size;
    f->rotate_interval = c->rotate_interval;
    f->flush_interval = c->flush_interval;
    f->on_start = c->on_start;
    f->arg = c->arg;
    /* Room for a full buffer plus the row that crosses the limit. */
    if ((rc = fl_text_buf_reserve(&f->buf, f->buf_size + 65536)) < 0)
        goto fail;
    rc = -FL_EIO;
    if (strcmp(f->path, "-") == 0) {
        f->is_stdout = true;
        f->fd = STDOUT_FILENO;
    } else {
        bool rotating = f->rotate_size || f->rotate_interval;
        struct stat st;
        /* Keep what a previous run left rather than truncating it. */
        if (rotating && stat(f->path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            text_file_rename_aside(f->path, (uint64_t)st.st_mtime * 1000000000u) < 0)
            goto fail;
        /* With rotation, what was there is renamed aside: only an empty
         * file can be left, and there is nothing in it to keep. */
        if ((f->fd = text_file_open_fd(f->path, rotating ? FL_TEXT_EXISTING_TRUNCATE
                                                         : c->existing)) < 0)
            goto fail;
        if (fstat(f->fd, &st) < 0)
            goto fail;
        /* Never rename /dev/null, a FIFO or a terminal. */
        f->can_rotate = rotating && S_ISREG(st.st_mode);
        appended = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    }
    if ((rc = text_file_started(f, now_ns, appended)) < 0)
        goto fail;
    *out = f;
    return 0;
fail:
    if (f->fd >= 0 && !f->is_stdout) {
        int saved = errno;
        close(f->fd);
        errno = saved;
    }
    fl_text_buf_free(&f->buf);
    free(f->path);
    free(f);
    return rc;
}

struct fl_text_buf *fl_text_file_buf(struct fl_text_file *f)
{
    return &f->buf;
}

size_t fl_text_file_limit(const struct fl_text_file *f)
{
    size_t lim = f->buf_size;
    if (f->can_rotate && f->rotate_size) {
        uint64_t left = f->rotate_size > f->file_bytes ? f->rotate_size - f->file_bytes : 1;
        if (left < lim)
            lim = (size_t)left;
    }
    return lim;
}

int fl_text_file_write(struct fl_text_file *f, const struct fl_text_layout *l,
                       const struct fl_batch *b, uint32_t *rows)
{
    uint32_t row = 0;
    int rc = 0;
    while (row < b->rows && rc == 0) {
        uint32_t from = row;
        if ((rc = fl_text_layout_rows(l, b, &row, fl_text_file_buf(f), fl_text_file_limit(f))) == 0)
            rc = fl_text_file_commit(f, row - from);
    }
    *rows = row;
    return rc;
}

int fl_text_file_commit(struct fl_text_file *f, uint64_t rows)
{
    f->file_rows += rows;
    if (f->can_rotate && f->rotate_size && f->file_rows &&
        f->file_bytes + f->buf.len >= f->rotate_size)
        return text_file_rotate(f, fl_now_ns());
    if (f->buf.len >= f->buf_size)
        return fl_text_file_flush(f);
    return 0;
}

int fl_text_file_tick(struct fl_text_file *f, uint64_t now_ns)
{
    int rc = 0;
    if (f->can_rotate && f->rotate_interval &&
        now_ns / f->rotate_interval != f->start_ns / f->rotate_interval) {
        if (f->file_rows)
            rc = text_file_rotate(f, now_ns);
        else
            f->start_ns = now_ns;   /* nothing to rotate: the file starts now */
        if (rc < 0)
            return rc;
    }
    if (!f->buf.len)
        f->pending_since = 0;
    else if (!f->pending_since)
        f->pending_since = now_ns;
    else if (f->flush_interval && now_ns - f->pending_since >= f->flush_interval)
        rc = fl_text_file_flush(f);
    return rc;
}

int fl_text_file_close(struct fl_text_file **fp)
{
    struct fl_text_file *f = *fp;
    if (!f)
        return 0;
    int rc = fl_text_file_flush(f);
    int saved = errno;
    if (!f->is_stdout && close(f->fd) < 0 && errno != EINTR && rc == 0) {
        rc = -FL_EIO;
        saved = errno;
    }
    fl_text_buf_free(&f->buf);
    free(f->path);
    free(f);
    *fp = NULL;
    errno = saved;
    return rc;
}

const char *fl_text_file_path(const struct fl_text_file *f)
{
    return f->path;
}

uint64_t fl_text_file_bytes(const struct fl_text_file *f)
{
    return f->total_bytes;
}

uint64_t fl_text_file_files(const struct fl_text_file *f)
{
    return f->files;
}
