/* fl_files.c: what a file input's `path:` names (input.pcap, input.ipfix),
 * as the files to read one after the other: each entry is a file, "-"
 * (standard input), a glob (its matches in name order) or a folder (its
 * files in name order, dot files skipped). It does not open or read the
 * files. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fl_files.h"

static int files_add(char ***v, size_t *n, const char *path)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return -FL_ENOMEM;
    *v = nv;
    if (!(nv[*n] = strdup(path)))
        return -FL_ENOMEM;
    (*n)++;
    return 0;
}

static int files_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of folder dir, in name order. */
static int files_dir(const char *dir, char ***v, size_t *n, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    size_t first = *n;
    int rc = 0;
    if (!d) {
        snprintf(err, errlen, "cannot read the folder \"%s\": %s", dir, strerror(errno));
        return -FL_EIO;
    }
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = files_add(v, n, path);
    }
    closedir(d);
    if (rc == 0 && *n == first) {
        snprintf(err, errlen, "the folder \"%s\" holds no files", dir);
        return -FL_ENOENT;
    }
    qsort(*v + first, *n - first, sizeof(**v), files_cmp);
    return rc;
}

int fl_files(const struct fl_strlist *paths, char ***out, size_t *n, char *err, size_t errlen)
{
    char **v = NULL;
    int rc = 0;
    *n = 0;
    for (size_t i = 0; i < paths->n && rc == 0; i++) {
        const char *p = paths->v[i];
        struct stat st;
        if (strcmp(p, "-") == 0 && paths->n > 1) {
            snprintf(err, errlen, "\"-\" (standard input) must be the only path");
            rc = -FL_EINVAL;
        } else if (strpbrk(p, "*?[") && stat(p, &st) != 0) {
            glob_t g;
            int grc = glob(p, GLOB_NOSORT, NULL, &g);   /* sorted below, like ls */
            if (grc == GLOB_NOMATCH) {
                snprintf(err, errlen, "no file matches \"%s\"", p);
                rc = -FL_ENOENT;
            } else if (grc != 0) {
                snprintf(err, errlen, "cannot expand \"%s\"", p);
                rc = -FL_EIO;
            }
            size_t first = *n;
            for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++)
                rc = files_add(&v, n, g.gl_pathv[k]);
            if (rc == 0)
                qsort(v + first, *n - first, sizeof(*v), files_cmp);
            if (grc == 0)
                globfree(&g);
        } else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = files_dir(p, &v, n, err, errlen);
        } else {
            rc = files_add(&v, n, p);   /* a missing file is reported when it is read */
        }
    }
    if (rc == -FL_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc < 0) {
        fl_files_free(v, *n);
        v = NULL;
        *n = 0;
    }
    *out = v;
    return rc;
}

void fl_files_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
