/* paths.c: the files stages read and write (fl_path_declare), checked as a
 * whole after every stage has described itself: inputs that are missing,
 * outputs whose folder is missing, outputs that would destroy an existing
 * file or an input, and two stages writing one file. Only stat() and
 * access(): flowline check has no side effects. It does not open files;
 * the plugins do, and refuse again at run time what changed since. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rt.h"

struct fl_path_decl {
    char *path;             /* as the option gave it (already made absolute or
                             * relative to the working directory) */
    char *key;              /* realpath(folder)/name: the same file, however named */
    unsigned flags;
    struct fl_pos pos;      /* the option's value */
    char *stage;            /* stage id */
    dev_t dev;              /* of an existing file, for hard links */
    ino_t ino;
    mode_t mode;
    bool exists;
    int key_errno;          /* why key is NULL */
};

/* realpath() of the folder plus the base name, so "./a.csv" and "a.csv"
 * compare equal even before the file exists. NULL if the folder is not
 * there (reported by the caller). */
static char *path_key(const char *path)
{
    char *d = strdup(path), *b = strdup(path), *key = NULL, dir[PATH_MAX];
    if (d && b && realpath(dirname(d), dir) && asprintf(&key, "%s/%s", dir, basename(b)) < 0)
        key = NULL;
    free(d);
    free(b);
    return key;
}

int fl_path_declare(struct fl_ctx *ctx, const char *opt, const char *path, unsigned flags)
{
    struct fl_rt *rt = ctx->rt;
    if (!path || !*path || strcmp(path, "-") == 0 || !rt || !rt->diags)
        return 0;   /* stdin/stdout; or not checking (a test harness) */
    struct fl_path_decl *v = realloc(rt->paths, (rt->n_paths + 1) * sizeof(*v));
    if (!v)
        return -FL_ENOMEM;
    rt->paths = v;
    struct fl_path_decl *pd = memset(&v[rt->n_paths], 0, sizeof(*pd));
    struct stat st;
    pd->flags = flags;
    pd->pos = fl_ctx_opt_pos(ctx, opt);
    if (!(pd->path = strdup(path)) || !(pd->stage = strdup(fl_stage_id(ctx)))) {
        free(pd->path);
        return -FL_ENOMEM;
    }
    pd->key = path_key(path);
    pd->key_errno = errno;
    if (stat(path, &st) == 0) {
        pd->exists = true;
        pd->dev = st.st_dev;
        pd->ino = st.st_ino;
        pd->mode = st.st_mode;
    }
    rt->n_paths++;
    return 0;
}

static bool path_same(const struct fl_path_decl *a, const struct fl_path_decl *b)
{
    if (a->exists && b->exists)
        return a->dev == b->dev && a->ino == b->ino;
    return a->key && b->key && strcmp(a->key, b->key) == 0;
}

/* One declaration on its own: does what it needs exist (or not)? */
static void path_check_one(const struct fl_path_decl *pd, struct fl_diags *d)
{
    if (pd->flags & FL_PATH_READ) {
        if (access(pd->path, R_OK) != 0)
            fl_diags_add(d, pd->pos, "stage \"%s\": cannot read \"%s\": %s", pd->stage, pd->path,
                         strerror(errno));
        return;
    }
    if (!pd->key) {
        fl_diags_add(d, pd->pos, "stage \"%s\": cannot write into the folder of \"%s\": %s",
                     pd->stage, pd->path, strerror(pd->key_errno));
        return;
    }
    if (!pd->exists)
        return;
    if (S_ISDIR(pd->mode))
        fl_diags_add(d, pd->pos, "stage \"%s\": \"%s\" is a folder, not a file", pd->stage,
                     pd->path);
    else if (S_ISREG(pd->mode) && !(pd->flags & FL_PATH_KEEPS_EXISTING))
        fl_diags_add(d, pd->pos, "stage \"%s\": \"%s\" exists; flowline does not replace a file "
                     "unasked (overwrite: true replaces it)", pd->stage, pd->path);
}

void fl_paths_check(struct fl_rt *rt, struct fl_diags *d)
{
    for (size_t i = 0; i < rt->n_paths; i++) {
        const struct fl_path_decl *a = &rt->paths[i];
        path_check_one(a, d);
        if (!(a->flags & FL_PATH_WRITE))
            continue;
        /* Written here, read or written by a stage declared before. */
        for (size_t j = 0; j < i; j++)
            if (path_same(a, &rt->paths[j]))
                fl_diags_add(d, a->pos, "stage \"%s\": \"%s\" is also %s by stage \"%s\"",
                             a->stage, a->path,
                             rt->paths[j].flags & FL_PATH_WRITE ? "written" : "read",
                             rt->paths[j].stage);
        /* Written here, read by a stage declared after. */
        for (size_t j = i + 1; j < rt->n_paths; j++)
            if (!(rt->paths[j].flags & FL_PATH_WRITE) && path_same(a, &rt->paths[j]))
                fl_diags_add(d, a->pos, "stage \"%s\": \"%s\" is also read by stage \"%s\"",
                             a->stage, a->path, rt->paths[j].stage);
    }
}

void fl_paths_free(struct fl_rt *rt)
{
    for (size_t i = 0; i < rt->n_paths; i++) {
        free(rt->paths[i].path);
        free(rt->paths[i].key);
        free(rt->paths[i].stage);
    }
    free(rt->paths);
    rt->paths = NULL;
    rt->n_paths = 0;
}
