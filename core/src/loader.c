/* loader.c: the plugin search path, dlopen() and the ABI checks.
 *
 * The descriptor is read and checked before any plugin code runs: major must
 * equal the core's, minor must not be newer, struct_size must cover at least
 * the 2.0 descriptor, and the file name must match kind and name. The core
 * copies only struct_size bytes (fields a newer core appended read as 0),
 * and copies the option table row by row at the plugin's opt_size, so the
 * rest of the core reads rows of its own size. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "loader.h"

#ifndef FL_PLUGIN_INSTALL_DIR
#define FL_PLUGIN_INSTALL_DIR "/usr/local/lib/flowline/plugins"
#endif
/* The install dir relative to the installed binary's dir (bindir). */
#ifndef FL_PLUGIN_REL_DIR
#define FL_PLUGIN_REL_DIR "../lib/flowline/plugins"
#endif

/* Sizes in ABI 2.0: the descriptor up to and including fini, an option
 * row up to and including alias. */
#define FL_PLUGIN_SIZE_2_0 (offsetof(struct fl_plugin, fini) + sizeof(void (*)(void)))
#define FL_OPT_SIZE_2_0 (offsetof(struct fl_opt, alias) + sizeof(const char *))

static int add_dir(struct fl_loader *ld, const char *dir)
{
    char **d = realloc(ld->dirs, (ld->n_dirs + 1) * sizeof(*d));
    if (!d)
        return -FL_ENOMEM;
    ld->dirs = d;
    if (!(d[ld->n_dirs] = strdup(dir)))
        return -FL_ENOMEM;
    ld->n_dirs++;
    return 0;
}

/* Adds <dir of the running binary>/<rel>, resolved (so paths in messages
 * read /usr/lib/..., not /usr/bin/../lib/...); nothing if the binary is
 * unknown or the directory does not exist. */
static int add_exe_dir(struct fl_loader *ld, const char *rel)
{
    char exe[PATH_MAX], dir[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return 0;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash || (size_t)(slash - exe) + 1 + strlen(rel) + 1 > sizeof(exe))
        return 0;
    slash[1] = '\0';
    strcat(exe, rel);
    if (!realpath(exe, dir))
        return 0;
    return add_dir(ld, dir);
}

/* Search order (first match wins): FLOWLINE_PLUGIN_PATH; plugins/ beside the
 * binary (a build tree); the install dir relative to the binary (an install
 * or unpacked package under any prefix); the install dir of the configured
 * prefix (a binary copied elsewhere on its own). */
int fl_loader_init(struct fl_loader *ld)
{
    int rc = 0;
    memset(ld, 0, sizeof(*ld));
    const char *env = getenv("FLOWLINE_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        if (!copy)
            return -FL_ENOMEM;
        for (char *t = strtok_r(copy, ":", &save); t && rc == 0; t = strtok_r(NULL, ":", &save))
            rc = add_dir(ld, t);
        free(copy);
    }
    if (rc == 0)
        rc = add_exe_dir(ld, "plugins");
    if (rc == 0)
        rc = add_exe_dir(ld, FL_PLUGIN_REL_DIR);
    if (rc == 0)
        rc = add_dir(ld, FL_PLUGIN_INSTALL_DIR);
    return rc;
}

void fl_loader_fini(struct fl_loader *ld)
{
    for (size_t i = 0; i < ld->n_libs; i++)
        fl_plugin_close(&ld->libs[i]);
    for (size_t i = 0; i < ld->n_dirs; i++)
        free(ld->dirs[i]);
    free(ld->libs);
    free(ld->dirs);
    memset(ld, 0, sizeof(*ld));
}

/* The plugin's option table (rows opt_size bytes apart, ended by a row
 * without a name) as rows of this core's size, zero beyond opt_size. */
static int copy_opts(const struct fl_plugin *p, struct fl_opt **out)
{
    const char *base = (const char *)p->opts;
    size_t n = 0, size = p->opt_size < sizeof(struct fl_opt) ? p->opt_size : sizeof(struct fl_opt);
    while (((const struct fl_opt *)(base + n * p->opt_size))->name)
        n++;
    struct fl_opt *v = calloc(n + 1, sizeof(*v));
    if (!v)
        return -FL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        memcpy(&v[i], base + i * p->opt_size, size);
    *out = v;
    return 0;
}

static int check_opts(const struct fl_opt *opts, char *err, size_t errlen)
{
    for (size_t i = 0; opts && opts[i].name; i++) {
        const struct fl_opt *o = &opts[i];
        if (o->type <= FL_OPT_NONE || o->type >= FL_OPT_COUNT) {
            snprintf(err, errlen, "option \"%s\" has an unknown type %d", o->name, (int)o->type);
            return -FL_EINVAL;
        }
        if (o->type == FL_OPT_ENUM && !o->choices) {
            snprintf(err, errlen, "enum option \"%s\" has no choices", o->name);
            return -FL_EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(opts[j].name, o->name) == 0) {
                snprintf(err, errlen, "option \"%s\" is declared twice", o->name);
                return -FL_EINVAL;
            }
    }
    return 0;
}

int fl_plugin_open(const char *path, struct fl_plugin_lib **out, char *err, size_t errlen)
{
    struct fl_plugin_lib *lib = calloc(1, sizeof(*lib));
    const struct fl_plugin *e;
    int rc = -FL_EABI;
    char why[1024] = "";

    if (!lib || !(lib->path = strdup(path))) {
        rc = -FL_ENOMEM;
        snprintf(why, sizeof(why), "out of memory");
        goto fail;
    }
    lib->dl = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!lib->dl) {
        snprintf(why, sizeof(why), "%s", dlerror());
        goto fail;
    }
    e = dlsym(lib->dl, "fl_plugin_entry");
    if (!e) {
        snprintf(why, sizeof(why), "no fl_plugin_entry symbol (not a flowline plugin)");
        goto fail;
    }
    if (e->abi_major != FL_ABI_MAJOR || e->abi_minor > FL_ABI_MINOR) {
        snprintf(why, sizeof(why), "built for plugin ABI %u.%u, this flowline has ABI %u.%u",
                 e->abi_major, e->abi_minor, FL_ABI_MAJOR, FL_ABI_MINOR);
        goto fail;
    }
    if (e->struct_size < FL_PLUGIN_SIZE_2_0) {
        snprintf(why, sizeof(why), "descriptor of %u bytes is smaller than ABI %u.0's %zu",
                 e->struct_size, FL_ABI_MAJOR, (size_t)FL_PLUGIN_SIZE_2_0);
        goto fail;
    }
    memcpy(&lib->desc, e, e->struct_size < sizeof(lib->desc) ? e->struct_size : sizeof(lib->desc));
    struct fl_plugin *p = &lib->desc;
    if (p->opts && p->opt_size < FL_OPT_SIZE_2_0) {
        snprintf(why, sizeof(why), "option rows of %u bytes are smaller than ABI %u.0's %zu",
                 p->opt_size, FL_ABI_MAJOR, (size_t)FL_OPT_SIZE_2_0);
        goto fail;
    }
    if (p->opts && (rc = copy_opts(p, &lib->opts)) < 0) {
        snprintf(why, sizeof(why), "out of memory");
        goto fail;
    }
    p->opts = lib->opts;
    rc = -FL_EABI;
    if (p->kind < FL_KIND_INPUT || p->kind > FL_KIND_OUTPUT || !p->name || !*p->name) {
        snprintf(why, sizeof(why), "descriptor has no valid kind and name");
        goto fail;
    }
    if (p->kind == FL_KIND_INPUT ? !p->run : !p->process) {
        snprintf(why, sizeof(why), "%s plugin without a %s callback", fl_kind_name(p->kind),
                 p->kind == FL_KIND_INPUT ? "run" : "process");
        goto fail;
    }
    if ((rc = check_opts(p->opts, why, sizeof(why))) < 0)
        goto fail;
    /* The file name must say what the descriptor says, or `use:` lies. */
    size_t need = strlen(fl_kind_name(p->kind)) + strlen(p->name) + 2;
    if (!(lib->use = malloc(need))) {
        rc = -FL_ENOMEM;
        goto fail;
    }
    snprintf(lib->use, need, "%s.%s", fl_kind_name(p->kind), p->name);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char expect[600];
    snprintf(expect, sizeof(expect), "flowline-%s-%s.so", fl_kind_name(p->kind), p->name);
    if (strcmp(base, expect) != 0) {
        rc = -FL_EABI;
        snprintf(why, sizeof(why), "declares %s, so its file should be named %s", lib->use, expect);
        goto fail;
    }
    *out = lib;
    return 0;
fail:
    snprintf(err, errlen, "plugin %s refused: %s", path, why);
    fl_plugin_close(&lib);
    return rc;
}

void fl_plugin_close(struct fl_plugin_lib **libp)
{
    struct fl_plugin_lib *lib = *libp;
    *libp = NULL;
    if (!lib)
        return;
    /* Sanitizer builds keep plugins mapped so leak reports can name them,
     * and so the global state of a library a plugin pulled in (librdkafka)
     * is not reported as leaked when it is unmapped under it. gcc says so
     * with __SANITIZE_ADDRESS__, clang with __has_feature. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_KEEP_PLUGINS_MAPPED 1
#endif
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(FL_KEEP_PLUGINS_MAPPED)
    if (lib->dl)
        dlclose(lib->dl);
#endif
    free(lib->opts);
    free(lib->use);
    free(lib->path);
    free(lib);
}

/* "input.pcap" -> "flowline-input-pcap.so"; -FL_EINVAL if not kind.name. */
static int file_name(const char *use, char *buf, size_t len)
{
    const char *dot = strchr(use, '.');
    if (!dot || dot == use || !dot[1] || strchr(dot + 1, '.') || strchr(use, '/'))
        return -FL_EINVAL;
    int n = snprintf(buf, len, "flowline-%.*s-%s.so", (int)(dot - use), use, dot + 1);
    return n > 0 && (size_t)n < len ? 0 : -FL_EINVAL;
}

int fl_loader_get(struct fl_loader *ld, const char *use, const struct fl_plugin_lib **out,
                  char *err, size_t errlen)
{
    char name[256], path[PATH_MAX];
    for (size_t i = 0; i < ld->n_libs; i++)
        if (strcmp(ld->libs[i]->use, use) == 0) {
            *out = ld->libs[i];
            return 0;
        }
    if (file_name(use, name, sizeof(name)) < 0) {
        snprintf(err, errlen, "unknown plugin \"%s\"", use);
        return -FL_ENOENT;
    }
    for (size_t i = 0; i < ld->n_dirs; i++) {
        snprintf(path, sizeof(path), "%s/%s", ld->dirs[i], name);
        if (access(path, F_OK) != 0)
            continue;
        struct fl_plugin_lib *lib;
        int rc = fl_plugin_open(path, &lib, err, errlen);
        if (rc < 0)
            return rc;
        struct fl_plugin_lib **libs = realloc(ld->libs, (ld->n_libs + 1) * sizeof(*libs));
        if (!libs) {
            fl_plugin_close(&lib);
            return -FL_ENOMEM;
        }
        ld->libs = libs;
        ld->libs[ld->n_libs++] = lib;
        *out = lib;
        return 0;
    }
    snprintf(err, errlen, "unknown plugin \"%s\"", use);
    return -FL_ENOENT;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a copy of s to *v unless present. */
static int names_add(char ***v, size_t *n, const char *s)
{
    for (size_t j = 0; j < *n; j++)
        if (strcmp((*v)[j], s) == 0)
            return 0;
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (!nv)
        return -FL_ENOMEM;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -FL_ENOMEM;
    (*n)++;
    return 0;
}

int fl_loader_list(struct fl_loader *ld, char ***names, size_t *n)
{
    char **v = NULL;
    size_t cnt = 0;
    int rc = 0;
    for (size_t i = 0; i < ld->n_dirs && rc == 0; i++) {
        DIR *dir = opendir(ld->dirs[i]);
        struct dirent *de;
        while (dir && rc == 0 && (de = readdir(dir))) {
            char kind[16], name[128], use[160];
            size_t len = strlen(de->d_name);
            if (len < 13 || len > 120 || strncmp(de->d_name, "flowline-", 9) != 0
                || strcmp(de->d_name + len - 3, ".so") != 0
                || sscanf(de->d_name + 9, "%15[a-z]-%127s", kind, name) != 2)
                continue;
            name[strlen(name) - 3] = '\0';   /* drop ".so" */
            snprintf(use, sizeof(use), "%s.%s", kind, name);
            rc = names_add(&v, &cnt, use);
        }
        if (dir)
            closedir(dir);
    }
    if (rc < 0) {
        for (size_t j = 0; j < cnt; j++)
            free(v[j]);
        free(v);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_str);
    *names = v;
    *n = cnt;
    return 0;
}
