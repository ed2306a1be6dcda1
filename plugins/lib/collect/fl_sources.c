/* fl_sources.c: a collector input's listen:/path: sources (fl_collect.h). */
#include <stdlib.h>
#include <string.h>
#include <flowline/log.h>
#include "fl_collect.h"
#include "fl_files.h"

int fl_sources_check(struct fl_ctx *ctx, const struct fl_sources *s)
{
    char err[512];
    int rc = 0, prc;

    if (s->listen->n && s->paths->n)
        rc = fl_diag(ctx, "listen", "give either listen (sockets) or path (files), not both");
    if (s->paths->n && fl_workers(ctx) > 1)
        rc = fl_diag(ctx, "path", "workers: %u would read every file %u times: files are read "
                     "by one instance (workers: is for listen:)", fl_workers(ctx),
                     fl_workers(ctx));
    for (size_t i = 0; i < s->listen->n; i++) {
        struct fl_endpoint ep;
        if (fl_endpoint_parse(s->listen->v[i], s->port, &ep, err, sizeof err) < 0)
            rc = fl_diag(ctx, "listen", "%s", err);
        else if (s->udp_only && ep.proto != FL_NET_UDP)
            rc = fl_diag(ctx, "listen", "%s: this input is sent over UDP only", s->listen->v[i]);
    }
    if (s->paths->n) {
        char **files;
        size_t n;
        if (fl_files(s->paths, &files, &n, err, sizeof err) < 0)
            rc = fl_diag(ctx, "path", "%s", err);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(files[i], "-") == 0)
                rc = fl_diag(ctx, "path", "standard input is not read here: give a file");
            else if ((prc = fl_path_declare(ctx, "path", files[i], FL_PATH_READ)) < 0)
                rc = prc;
        }
        fl_files_free(files, n);
    }
    return rc;
}

int fl_sources_endpoints(struct fl_ctx *ctx, const struct fl_sources *s,
                         struct fl_endpoint **eps, size_t *n)
{
    const char *const *v = s->listen->n ? (const char *const *)s->listen->v : &s->dflt;
    size_t k = s->listen->n ? s->listen->n : 1;
    char err[256];
    int rc;

    *n = 0;
    if (!(*eps = calloc(k, sizeof **eps)))
        return -FL_ENOMEM;
    for (size_t i = 0; i < k; i++)
        if ((rc = fl_endpoint_parse(v[i], s->port, &(*eps)[i], err, sizeof err)) < 0) {
            FL_LOG_ERROR(ctx, "%s", err);
            return rc;
        }
    *n = k;
    return 0;
}
