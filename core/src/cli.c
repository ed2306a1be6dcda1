/* cli.c: the flowline command line, behind the one exported entry point
 * fl_main() (the binary's main() only calls it, so libflowline.so exports the
 * fl_ API and nothing of the core's internals).
 *
 *   flowline run FILE [-v] [-q] [--no-progress]
 *   flowline check FILE...
 *   flowline graph FILE [--dot]
 *   flowline plugins [--doc NAME [--json]]
 *   flowline gen --OPTION VALUE ...   (input.gen's options as flags)
 *   flowline version */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pipeline.h"

static int usage(FILE *out)
{
    fprintf(out,
            "usage: flowline <command> [args]\n"
            "  run FILE [-v] [-q] [--no-progress]  run a pipeline until its inputs end or SIGINT/SIGTERM\n"
            "  check FILE...                     validate pipelines (plugins, options, fields) without running\n"
            "  graph FILE [--dot]                print the stage graph (text or Graphviz DOT)\n"
            "  plugins [--doc NAME [--json]]     list plugins, or print one plugin's reference\n"
            "  gen --OPTION VALUE ...            generate traffic with input.gen (e.g. --packets 1000000\n"
            "                                    --concurrency 10000 --seed 1 --path demo.pcap)\n"
            "  version                           print the version and plugin ABI\n");
    return out == stderr ? 2 : 0;
}

/* Load and check a pipeline, printing diagnostics. NULL if not runnable. */
static struct fl_pipeline *load_checked(const char *path, const char *buf, unsigned flags)
{
    struct fl_pipeline *p = NULL;
    int rc = buf ? fl_pipeline_parse(path, buf, strlen(buf), flags, &p)
                 : fl_pipeline_load(path, flags, &p);
    if (!p) {
        fprintf(stderr, "%s: %s\n", path, fl_strerror(rc));
        return NULL;
    }
    fl_diags_print(&p->diags, stderr);
    if (rc < 0 || p->diags.errors) {
        if (p->diags.errors)
            fprintf(stderr, "%zu error%s\n", p->diags.errors, p->diags.errors == 1 ? "" : "s");
        else
            fprintf(stderr, "%s: %s\n", path, fl_strerror(rc));
        fl_pipeline_free(&p);
    }
    return p;
}

static int cmd_check(int argc, char **argv)
{
    int bad = 0;
    if (argc < 1)
        return usage(stderr);
    for (int i = 0; i < argc; i++) {
        struct fl_pipeline *p = load_checked(argv[i], NULL, 0);
        if (p)
            printf("%s: ok\n", argv[i]), fflush(stdout);
        bad |= !p;
        fl_pipeline_free(&p);
    }
    return bad;
}

static int cmd_graph(int argc, char **argv)
{
    bool dot = false;
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dot") == 0)
            dot = true;
        else
            file = argv[i];
    }
    if (!file)
        return usage(stderr);
    struct fl_pipeline *p = load_checked(file, NULL, FL_PIPELINE_NO_FILES);
    if (!p)
        return 1;
    fl_pipeline_graph(p, dot, stdout);
    fl_pipeline_free(&p);
    return 0;
}

static int run_pipeline(struct fl_pipeline *p, int verbose, bool progress)
{
    struct fl_run_opts o = { .verbose = verbose, .progress = progress && isatty(STDERR_FILENO) };
    int rc = fl_pipeline_run(p, &o);
    fl_pipeline_free(&p);
    return rc < 0 ? 1 : 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *file = NULL;
    int verbose = 0;
    bool progress = true;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose++;
        else if (strcmp(argv[i], "-q") == 0)
            fl_log_set_level(FL_LOG_LEVEL_ERROR);
        else if (strcmp(argv[i], "--no-progress") == 0)
            progress = false;
        else if (argv[i][0] == '-')
            return usage(stderr);
        else
            file = argv[i];
    }
    if (!file)
        return usage(stderr);
    if (verbose > 1)
        fl_log_set_level(FL_LOG_LEVEL_DEBUG);
    else if (verbose)
        fl_log_set_level(FL_LOG_LEVEL_INFO);
    struct fl_pipeline *p = load_checked(file, NULL, 0);
    return p ? run_pipeline(p, verbose, progress) : 1;
}

/* A YAML scalar for a command-line value: plain when it is safe, else
 * double-quoted with escapes. */
static void yaml_scalar(FILE *f, const char *v)
{
    bool plain = *v != '\0';
    for (const char *c = v; *c && plain; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-+", *c) != NULL;
    if (plain) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc('\\', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

static int cmd_gen(int argc, char **argv)
{
    char *buf = NULL;
    size_t len = 0;
    const char *path = NULL;
    bool emit_given = false;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return 1;
    fprintf(f, "version: 1\nstages:\n  - id: gen\n    use: input.gen\n    with: {");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            fclose(f);
            free(buf);
            fprintf(stderr, "flowline gen: expected --OPTION VALUE pairs (see flowline plugins --doc input.gen)\n");
            return 2;
        }
        if (strcmp(a + 2, "path") == 0 || strcmp(a + 2, "o") == 0)
            path = argv[i + 1];
        emit_given |= strcmp(a + 2, "emit") == 0;
        fprintf(f, "%s%s: ", i ? ", " : "", strcmp(a + 2, "o") == 0 ? "path" : a + 2);
        yaml_scalar(f, argv[++i]);
    }
    /* Nothing consumes the records here: only the file is wanted. */
    if (!emit_given)
        fprintf(f, "%semit: false", argc ? ", " : "");
    fprintf(f, "}\n");
    fclose(f);
    struct fl_pipeline *p = load_checked("flowline gen", buf, 0);
    free(buf);
    if (!p)
        return 1;
    int rc = run_pipeline(p, 0, true);
    if (rc == 0 && path)
        printf("wrote %s and its ground truth %s.truth.json\n", path, path);
    return rc;
}

static int cmd_plugins(int argc, char **argv)
{
    struct fl_loader ld;
    char **names = NULL, err[512];
    size_t n = 0;
    int rc = 0;
    const char *doc = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--doc") == 0 && i + 1 < argc)
            doc = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            return usage(stderr);
    }
    if (fl_loader_init(&ld) < 0)
        return 1;
    if (doc) {
        const struct fl_plugin_lib *lib;
        if (fl_loader_get(&ld, doc, &lib, err, sizeof(err)) < 0) {
            fprintf(stderr, "flowline: %s\n", err);
            rc = 1;
        } else {
            rc = fl_opts_doc(&lib->desc, json, stdout) < 0;
        }
        fl_loader_fini(&ld);
        return rc;
    }
    fl_loader_list(&ld, &names, &n);
    for (size_t i = 0; i < n; i++) {
        const struct fl_plugin_lib *lib;
        if (fl_loader_get(&ld, names[i], &lib, err, sizeof(err)) < 0) {
            fprintf(stderr, "flowline: %s\n", err);
            rc = 1;
        } else {
            printf("%-22s %-8s %s\n", lib->use, lib->desc.version ? lib->desc.version : "",
                   lib->desc.summary ? lib->desc.summary : "");
        }
        free(names[i]);
    }
    free(names);
    fl_loader_fini(&ld);
    return rc;
}

FL_API int fl_main(int argc, char **argv)
{
    const char *lvl = getenv("FLOWLINE_LOG");
    if (lvl) {
        static const char *const names[] = {"error", "warn", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (strcmp(lvl, names[i]) == 0)
                fl_log_set_level((enum fl_log_level)i);
    }
    if (argc < 2)
        return usage(stderr);
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "graph") == 0)
        return cmd_graph(argc - 2, argv + 2);
    if (strcmp(cmd, "plugins") == 0)
        return cmd_plugins(argc - 2, argv + 2);
    if (strcmp(cmd, "gen") == 0)
        return cmd_gen(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("flowline %s (plugin ABI %d.%d)\n", FL_VERSION, FL_ABI_MAJOR, FL_ABI_MINOR);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return usage(stdout);
    fprintf(stderr, "flowline: unknown command \"%s\"\n", cmd);
    return usage(stderr);
}
