/* diag.c: the diagnostic list of configuration errors and warnings, each
 * with a file:line:column, printed in the order they were added.
 *
 * It does not decide what is an error; parsers and checks add to it. An
 * allocation failure while adding still counts the error, so a run that
 * found a problem never reports success. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static void diag_addv(struct fl_diags *d, struct fl_pos pos, bool warning,
                      const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (!warning)
        d->errors++;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct fl_diag_entry *v = realloc(d->v, cap * sizeof(*v));
        if (!v)
            return;
        d->v = v;
        d->cap = cap;
    }
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    d->v[d->n++] = (struct fl_diag_entry){ .pos = pos, .msg = msg, .warning = warning };
}

void fl_diags_add(struct fl_diags *d, struct fl_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_addv(d, pos, false, fmt, ap);
    va_end(ap);
}

void fl_diags_warn(struct fl_diags *d, struct fl_pos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_addv(d, pos, true, fmt, ap);
    va_end(ap);
}

const char *fl_diags_file(struct fl_diags *d, const char *name)
{
    char **files, *copy;
    for (size_t i = 0; i < d->n_files; i++)
        if (strcmp(d->files[i], name) == 0)
            return d->files[i];
    if (!(copy = strdup(name)))
        return NULL;
    if (!(files = realloc(d->files, (d->n_files + 1) * sizeof(*files)))) {
        free(copy);
        return NULL;
    }
    d->files = files;
    d->files[d->n_files++] = copy;
    return copy;
}

/* A position may lack a line (a file that could not be read) or a file (an
 * option parsed outside any file, e.g. from the command line): print what
 * is known, so every line still starts with where to look. */
void fl_diags_print(const struct fl_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct fl_diag_entry *e = &d->v[i];
        const char *w = e->warning ? "warning: " : "";
        if (e->pos.file && e->pos.line)
            fprintf(out, "%s:%u:%u: %s%s\n", e->pos.file, e->pos.line, e->pos.col, w, e->msg);
        else if (e->pos.file)
            fprintf(out, "%s: %s%s\n", e->pos.file, w, e->msg);
        else
            fprintf(out, "%s%s\n", w, e->msg);
    }
}

void fl_diags_free(struct fl_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].msg);
    for (size_t i = 0; i < d->n_files; i++)
        free(d->files[i]);
    free(d->v);
    free(d->files);
    memset(d, 0, sizeof(*d));
}
