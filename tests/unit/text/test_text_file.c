/* test_text_file.c: the rotating file writer of plugins/lib/text/fl_text.h: size and
 * time rotation produce the right files (names, headers, every row once,
 * in order), nothing is overwritten, an existing file is kept, buffered
 * text waits for the buffer or flush_interval, a FIFO is never renamed,
 * and a non-blocking stdout pipe (EAGAIN, short writes) loses nothing.
 * Everything happens in a fresh temp directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <flowline/plugin.h>
#include "fl_text.h"
#include "fl_harness.h"

#define SEC 1000000000ull
/* 2026-01-01T00:00:10Z */
#define T0 (1767225610ull * SEC)

static char dir[64];
static char path[128];

static int setup(void **state)
{
    assert_int_equal(fl_test_tmpdir("text_file", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/out.csv", dir);
    return 0;
}

static int teardown(void **state)
{
    fl_test_rmdir(dir);
    return 0;
}

static int header_cb(void *arg, struct fl_text_buf *b)
{
    (*(int *)arg)++;
    return fl_text_buf_put(b, "h\n", 2);
}

/* Sorted names in dir (caller frees each and the array). */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_dir(char ***out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = calloc(4096, sizeof *v);
    size_t n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && n < 4096)
            v[n++] = strdup(e->d_name);
    closedir(d);
    qsort(v, n, sizeof *v, cmp_name);
    *out = v;
    return n;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void row(struct fl_text_file *f, unsigned i)
{
    char line[32];
    int n = snprintf(line, sizeof line, "row %04u\n", i);   /* 9 bytes */
    assert_int_equal(fl_text_buf_put(fl_text_file_buf(f), line, (size_t)n), 0);
    assert_int_equal(fl_text_file_commit(f, 1), 0);
}

static void test_rotate_size(void **state)
{
    int starts = 0;
    struct fl_text_file_conf c = { .path = path, .rotate_size = 100, .on_start = header_cb,
                                   .arg = &starts };
    struct fl_text_file *f;
    /* Size rotation names files by the wall clock. */
    assert_int_equal(fl_text_file_open(&c, fl_now_ns(), &f), 0);
    assert_int_equal(fl_text_file_limit(f), 100);
    for (unsigned i = 0; i < 50; i++)
        row(f, i);
    assert_int_equal(fl_text_file_close(&f), 0);
    assert_null(f);
    /* 2 + 11 * 9 = 101 >= 100: every full file holds 11 rows; 50 = 4 * 11 + 6. */
    assert_int_equal(starts, 5);
    char **names;
    size_t n = list_dir(&names);
    assert_int_equal(n, 5);
    /* out.csv (current) sorts first, then the rotated ones in the order
     * they were made: by stamp, then "-1", "-2" ... within one second. */
    assert_string_equal(names[0], "out.csv");
    size_t stamp_len = strlen("out.csv.20260101T000000Z");
    const char *order[4];
    for (size_t i = 1; i <= 4; i++) {
        const char *nm = names[i];
        assert_int_equal(strncmp(nm, "out.csv.", 8), 0);
        assert_true(strlen(nm) >= stamp_len);
        for (size_t k = 8; k < stamp_len - 1; k++)
            assert_true(k == 16 ? nm[k] == 'T' : (nm[k] >= '0' && nm[k] <= '9'));
        assert_int_equal(nm[stamp_len - 1], 'Z');
        assert_true(nm[stamp_len] == 0 ||
                    (nm[stamp_len] == '-' && nm[stamp_len + 1] >= '1' && nm[stamp_len + 1] <= '3'));
        order[i - 1] = nm;
    }
    unsigned next = 0;
    for (size_t i = 0; i < 5; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, i < 4 ? order[i] : "out.csv");
        char *s = fl_test_slurp(p, NULL);
        assert_non_null(s);
        assert_int_equal(strncmp(s, "h\n", 2), 0);
        size_t len = strlen(s);
        if (i < 4)
            assert_true(len >= 100 && len < 109);
        for (const char *q = s + 2; *q; q += 9) {
            unsigned v;
            assert_int_equal(sscanf(q, "row %04u\n", &v), 1);
            assert_int_equal(v, next);
            next++;
        }
        free(s);
    }
    assert_int_equal(next, 50);
    free_list(names, n);
}

static void test_rotate_interval(void **state)
{
    int starts = 0;
    struct fl_text_file_conf c = { .path = path, .rotate_interval = 60 * SEC,
                                   .on_start = header_cb, .arg = &starts };
    struct fl_text_file *f;
    assert_int_equal(fl_text_file_open(&c, T0, &f), 0);
    row(f, 0);
    assert_int_equal(fl_text_file_tick(f, T0 + 30 * SEC), 0);     /* same minute */
    row(f, 1);
    assert_int_equal(fl_text_file_tick(f, T0 + 55 * SEC), 0);     /* 00:01:05: rotate */
    assert_int_equal(starts, 2);
    assert_int_equal(fl_text_file_tick(f, T0 + 125 * SEC), 0);    /* empty: not rotated */
    assert_int_equal(starts, 2);
    row(f, 2);
    assert_int_equal(fl_text_file_tick(f, T0 + 190 * SEC), 0);    /* 00:03:20: rotate */
    assert_int_equal(starts, 3);
    row(f, 3);
    assert_int_equal(fl_text_file_files(f), 3);
    assert_int_equal(fl_text_file_close(&f), 0);
    char **names;
    size_t n = list_dir(&names);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "out.csv");
    assert_string_equal(names[1], "out.csv.20260101T000010Z");
    /* The empty file's start moved to the tick that found it empty. */
    assert_string_equal(names[2], "out.csv.20260101T000215Z");
    char p[256], *s;
    snprintf(p, sizeof p, "%s/%s", dir, names[1]);
    assert_string_equal(s = fl_test_slurp(p, NULL), "h\nrow 0000\nrow 0001\n");
    free(s);
    snprintf(p, sizeof p, "%s/%s", dir, names[2]);
    assert_string_equal(s = fl_test_slurp(p, NULL), "h\nrow 0002\n");
    free(s);
    assert_string_equal(s = fl_test_slurp(path, NULL), "h\nrow 0003\n");
    free(s);
    free_list(names, n);
}

/* With rotation, what a previous run left is renamed aside (never
 * overwritten); without, the file is truncated. */
static void test_existing(void **state)
{
    FILE *o = fopen(path, "w");
    fputs("old\n", o);
    fclose(o);
    char aside[256];
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* a file already holding the name it would get: kept, "-1" is used */
    struct fl_text_file_conf c = { .path = path, .rotate_size = 1000 };
    struct fl_text_file *f;
    {
        char stamp[32];
        struct tm tm;
        time_t t = st.st_mtime;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(aside, sizeof aside, "%s.%s", path, stamp);
        o = fopen(aside, "w");
        fputs("older\n", o);
        fclose(o);
    }
    assert_int_equal(fl_text_file_open(&c, T0, &f), 0);
    row(f, 7);
    assert_int_equal(fl_text_file_close(&f), 0);
    char *s = fl_test_slurp(aside, NULL);
    assert_string_equal(s, "older\n");
    free(s);
    strcat(aside, "-1");
    assert_string_equal(s = fl_test_slurp(aside, NULL), "old\n");
    free(s);
    assert_string_equal(s = fl_test_slurp(path, NULL), "row 0007\n");
    free(s);

    /* Without rotation an existing file is refused (errno EEXIST, the file
     * untouched), appended to, or truncated, as the caller chose. */
    c.rotate_size = 0;
    assert_int_equal(fl_text_file_open(&c, T0, &f), -FL_EIO);
    assert_int_equal(errno, EEXIST);
    assert_string_equal(s = fl_test_slurp(path, NULL), "row 0007\n");
    free(s);
    c.existing = FL_TEXT_EXISTING_APPEND;
    assert_int_equal(fl_text_file_open(&c, T0, &f), 0);
    row(f, 8);
    assert_int_equal(fl_text_file_close(&f), 0);
    assert_string_equal(s = fl_test_slurp(path, NULL), "row 0007\nrow 0008\n");
    free(s);
    c.existing = FL_TEXT_EXISTING_TRUNCATE;
    assert_int_equal(fl_text_file_open(&c, T0, &f), 0);
    row(f, 9);
    assert_int_equal(fl_text_file_close(&f), 0);
    assert_string_equal(s = fl_test_slurp(path, NULL), "row 0009\n");
    free(s);
    char **names;
    size_t n = list_dir(&names);
    assert_int_equal(n, 3);
    free_list(names, n);
}

/* Text waits in the buffer until it is full or flush_interval passed. */
static void test_buffering(void **state)
{
    struct fl_text_file_conf c = { .path = path, .buf_size = 40, .flush_interval = SEC };
    struct fl_text_file *f;
    struct stat st;
    assert_int_equal(fl_text_file_open(&c, T0, &f), 0);
    row(f, 0);
    row(f, 1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(fl_text_file_tick(f, T0), 0);               /* seen */
    assert_int_equal(fl_text_file_tick(f, T0 + SEC / 2), 0);     /* not old enough */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(fl_text_file_tick(f, T0 + SEC), 0);         /* written */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 18);
    for (unsigned i = 2; i < 6; i++)   /* 4 * 9 = 36 < 40 */
        row(f, i);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 18);
    row(f, 6);                         /* 45 >= 40: one write */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 63);
    assert_int_equal(fl_text_file_bytes(f), 63);
    assert_int_equal(fl_text_file_close(&f), 0);
}

/* A FIFO (like /dev/null or a terminal) is written but never renamed. */
static void test_fifo(void **state)
{
    assert_int_equal(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    struct fl_text_file_conf c = { .path = path, .rotate_size = 10, .rotate_interval = SEC };
    struct fl_text_file *f;
    assert_int_equal(fl_text_file_open(&c, T0, &f), 0);
    for (unsigned i = 0; i < 5; i++)
        row(f, i);
    assert_int_equal(fl_text_file_tick(f, T0 + 10 * SEC), 0);
    assert_int_equal(fl_text_file_close(&f), 0);
    char buf[128];
    assert_int_equal(read(rd, buf, sizeof buf), 45);
    close(rd);
    char **names;
    size_t n = list_dir(&names);
    assert_int_equal(n, 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    free_list(names, n);
}

struct reader { int fd; size_t bytes; bool ok; };

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    char buf[4096];
    unsigned expect = 0;
    size_t in_line = 0;
    char line[16];
    r->ok = true;
    for (;;) {
        ssize_t n = read(r->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        r->bytes += (size_t)n;
        for (ssize_t i = 0; i < n; i++) {
            line[in_line++] = buf[i];
            if (in_line == 9) {
                char want[16];
                snprintf(want, sizeof want, "row %04u\n", expect++ % 10000);
                if (memcmp(line, want, 9) != 0)
                    r->ok = false;
                in_line = 0;
            }
        }
        usleep(100);   /* slow reader: the pipe fills, writes hit EAGAIN */
    }
    return NULL;
}

/* "-" on a non-blocking pipe: EAGAIN is waited out with poll(), short
 * writes are continued, every byte arrives in order. */
static void test_stdout_nonblocking(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    close(p[1]);
    struct reader r = { .fd = p[0] };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
    struct fl_text_file_conf c = { .path = "-", .buf_size = 256 * 1024 };
    struct fl_text_file *f;
    int rc = fl_text_file_open(&c, T0, &f);
    unsigned rows = 100000;
    for (unsigned i = 0; rc == 0 && i < rows; i++) {
        char line[16];
        snprintf(line, sizeof line, "row %04u\n", i % 10000);
        rc = fl_text_buf_put(fl_text_file_buf(f), line, 9);
        if (rc == 0)
            rc = fl_text_file_commit(f, 1);
    }
    int rc2 = fl_text_file_close(&f);
    dup2(saved, STDOUT_FILENO);   /* closes the pipe's write end: EOF */
    close(saved);
    pthread_join(th, NULL);
    close(p[0]);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(r.bytes, (size_t)rows * 9);
    assert_true(r.ok);
}

static void test_errors(void **state)
{
    struct fl_text_file *f = NULL;
    struct fl_text_file_conf c = { .path = "/nonexistent-dir/x.csv" };
    assert_int_equal(fl_text_file_open(&c, T0, &f), -FL_EIO);
    assert_int_equal(errno, ENOENT);
    assert_null(f);
    c.path = "";
    assert_int_equal(fl_text_file_open(&c, T0, &f), -FL_EINVAL);
    assert_int_equal(fl_text_file_close(&f), 0);   /* NULL is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotate_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdout_nonblocking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
