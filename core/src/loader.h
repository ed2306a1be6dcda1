/* loader.h: finding and opening plugins (DESIGN.md §3).
 *
 * A plugin "kind.name" is the file flowline-<kind>-<name>.so, looked for in
 * FLOWLINE_PLUGIN_PATH (colon-separated), then plugins/ beside the running
 * binary (a build tree), then the install dir. Opening checks the ABI before
 * anything of the plugin runs. */
#ifndef FL_LOADER_H
#define FL_LOADER_H

#include "internal.h"

struct fl_plugin_lib {
    char *path;
    char *use;                 /* "input.pcap" */
    void *dl;
    struct fl_plugin desc;     /* struct_size bytes copied, the rest zero;
                                * desc.opts points at opts */
    struct fl_opt *opts;       /* the option table at the core's row size */
};

struct fl_loader {
    char **dirs; size_t n_dirs;
    struct fl_plugin_lib **libs; size_t n_libs;   /* opened, kept until fini */
};

int fl_loader_init(struct fl_loader *ld);
void fl_loader_fini(struct fl_loader *ld);
/* Open plugin `use` ("input.pcap") from the search path. On failure err
 * holds one line: "unknown plugin" (-FL_ENOENT) or why the file was refused. */
int fl_loader_get(struct fl_loader *ld, const char *use, const struct fl_plugin_lib **out,
                  char *err, size_t errlen);
/* Open a plugin file by path and check it (used by the loader and tests). */
int fl_plugin_open(const char *path, struct fl_plugin_lib **out, char *err, size_t errlen);
void fl_plugin_close(struct fl_plugin_lib **lib);
/* Names ("kind.name") of every plugin file on the search path, sorted,
 * first occurrence wins. The caller frees the array and strings. */
int fl_loader_list(struct fl_loader *ld, char ***names, size_t *n);

#endif
