/* cli.c: the flowline command line, behind the one exported entry point
 * fl_main() (the binary's main() only calls it, so libflowline.so exports the
 * fl_ API and nothing of the core's internals).
 *
 * Commands are a table (cli_cmds): name, synopsis, help. Every command
 * refuses unknown options and extra arguments (exit 2, with the closest
 * option), and answers --help / -h on standard output with exit 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pipeline.h"

struct cli_cmd {
    const char *name;
    const char *args;       /* synopsis after the name */
    const char *summary;    /* one line, for `flowline help` */
    const char *help;       /* options and details, for `flowline help CMD` */
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
};

static const struct cli_cmd cli_cmds[];

static int usage(FILE *out)
{
    fprintf(out, "usage: flowline <command> [args]   (flowline help <command> for details)\n");
    for (const struct cli_cmd *c = cli_cmds; c->name; c++)
        fprintf(out, "  %-8s %-38s %s\n", c->name, c->args, c->summary);
    fprintf(out, "  %-47s %s\n", "-V, --version", "print the version and plugin ABI");
    return out == stderr ? 2 : 0;
}

static void cmd_help_text(const struct cli_cmd *c, FILE *out)
{
    fprintf(out, "usage: flowline %s %s\n%s\n%s", c->name, c->args, c->summary, c->help);
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* A usage error of command c: one line, with the closest known option. */
static int cli_bad_arg(const struct cli_cmd *c, const char *arg, const char *const *known)
{
    const char *near = NULL;
    size_t n = 0;
    while (known && known[n])
        n++;
    if (arg[0] == '-' && known)
        near = fl_suggest(arg, known, n);
    if (near && strcmp(near, arg) == 0)
        fprintf(stderr, "flowline %s: option \"%s\" needs a value", c->name, arg);
    else if (arg[0] != '-')
        fprintf(stderr, "flowline %s: unexpected argument \"%s\"", c->name, arg);
    else if (near)
        fprintf(stderr, "flowline %s: unknown option \"%s\"; did you mean \"%s\"?", c->name, arg,
                near);
    else
        fprintf(stderr, "flowline %s: unknown option \"%s\"", c->name, arg);
    fprintf(stderr, " (flowline help %s)\n", c->name);
    return 2;
}

/* -v, -vv, -vvv: how many v's; 0 if arg is something else. */
static int verbosity(const char *arg)
{
    if (arg[0] != '-' || arg[1] != 'v')
        return 0;
    int n = 0;
    for (const char *p = arg + 1; *p; p++, n++)
        if (*p != 'v')
            return 0;
    return n;
}

/* Load and check a pipeline, printing diagnostics. NULL if not runnable. */
static struct fl_pipeline *load_checked(const char *path, const char *buf,
                                        const struct fl_load_opts *lo)
{
    struct fl_pipeline *p = NULL;
    int rc = buf ? fl_pipeline_parse(path, buf, strlen(buf), lo, &p)
                 : fl_pipeline_load(path, lo, &p);
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

/* The whole of standard input ("flowline run -"), NUL-terminated. */
static char *read_stdin(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (cap - len < 65536) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 65536 + 1);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
    } while (n > 0);
    if (ferror(stdin)) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* A pipeline from a file, or from standard input for "-" (relative paths
 * in it are then relative to the working directory). */
static struct fl_pipeline *load_file(const char *file, const struct fl_load_opts *lo)
{
    if (strcmp(file, "-") != 0)
        return load_checked(file, NULL, lo);
    char *buf = read_stdin();
    if (!buf) {
        fprintf(stderr, "flowline: cannot read the pipeline from standard input\n");
        return NULL;
    }
    struct fl_pipeline *p = load_checked("<stdin>", buf, lo);
    free(buf);
    return p;
}

/* --set STAGE.OPTION=VALUE (or --set=...) at argv[*i]: taken into lo.
 * lo->sets has room for every argument. */
static bool take_set(int argc, char **argv, int *i, struct fl_load_opts *lo)
{
    const char **sets = (const char **)lo->sets;
    if (strcmp(argv[*i], "--set") == 0 && *i + 1 < argc)
        sets[lo->n_sets++] = argv[++*i];
    else if (strncmp(argv[*i], "--set=", 6) == 0)
        sets[lo->n_sets++] = argv[*i] + 6;
    else
        return false;
    return true;
}

static int cmd_check(const struct cli_cmd *c, int argc, char **argv)
{
    static const char *const known[] = { "--set", NULL };
    const char **files = calloc((size_t)argc + 1, sizeof(*files));
    struct fl_load_opts lo = { .sets = calloc((size_t)argc + 1, sizeof(char *)) };
    int bad = 0, n = 0;
    for (int i = 0; i < argc && files && lo.sets && bad != 2; i++) {
        if (take_set(argc, argv, &i, &lo))
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            bad = cli_bad_arg(c, argv[i], known);
        else
            files[n++] = argv[i];
    }
    if (!files || !lo.sets)
        bad = 1;
    else if (!n && !bad) {
        cmd_help_text(c, stderr);
        bad = 2;
    }
    for (int i = 0; i < n && bad != 2; i++) {
        struct fl_pipeline *p = load_file(files[i], &lo);
        if (p)
            printf("%s: ok\n", files[i]), fflush(stdout);
        bad |= !p;
        fl_pipeline_free(&p);
    }
    free(files);
    free((void *)lo.sets);
    return bad;
}

static int cmd_graph(const struct cli_cmd *c, int argc, char **argv)
{
    static const char *const known[] = { "--dot", NULL };
    bool dot = false;
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dot") == 0)
            dot = true;
        else if ((argv[i][0] == '-' && argv[i][1]) || file)
            return cli_bad_arg(c, argv[i], known);
        else
            file = argv[i];
    }
    if (!file) {
        cmd_help_text(c, stderr);
        return 2;
    }
    struct fl_pipeline *p = load_file(file, &(struct fl_load_opts){ .no_files = true });
    if (!p)
        return 1;
    fl_pipeline_graph(p, dot, stdout);
    fl_pipeline_free(&p);
    return 0;
}

/* Exit status: 1 a stage failed, 3 (--strict) records were lost. */
static int run_pipeline(struct fl_pipeline *p, const struct fl_run_opts *o, bool strict)
{
    int rc = fl_pipeline_run(p, o);
    uint64_t lost = p->losses;
    fl_pipeline_free(&p);
    return rc < 0 ? 1 : strict && lost ? 3 : 0;
}

static int cmd_run(const struct cli_cmd *c, int argc, char **argv)
{
    static const char *const known[] = { "-v", "-vv", "-q", "--no-progress", "--pin", "--set",
                                         "--strict", "--stats", "--metrics", NULL };
    static const struct fl_opt stats_opt = { .name = "--stats", .type = FL_OPT_DURATION,
                                             .min = "100ms" };
    struct fl_run_opts o = { .progress = isatty(STDERR_FILENO) };
    char err[256];
    const char *file = NULL, **sets = calloc((size_t)argc + 1, sizeof(*sets));
    struct fl_load_opts lo = { .sets = sets };
    int verbose = 0, rc;
    bool progress = true, pin = false, strict = false;
    if (!sets)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (take_set(argc, argv, &i, &lo))
            continue;
        else if (verbosity(argv[i]))
            verbose += verbosity(argv[i]);
        else if (strcmp(argv[i], "-q") == 0)
            fl_log_set_level(FL_LOG_LEVEL_ERROR);
        else if (strcmp(argv[i], "--no-progress") == 0)
            progress = false;
        else if (strcmp(argv[i], "--pin") == 0)
            pin = true;
        else if (strcmp(argv[i], "--strict") == 0)
            strict = true;
        else if (strcmp(argv[i], "--stats") == 0 && i + 1 < argc) {
            if (fl_opt_parse_value(&stats_opt, argv[++i], &o.stats_ns, err, sizeof(err)) < 0) {
                fprintf(stderr, "flowline run: --stats: %s\n", err);
                free(sets);
                return 2;
            }
        } else if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc)
            o.metrics = argv[++i];
        else if ((argv[i][0] == '-' && argv[i][1]) || file) {
            free(sets);
            return cli_bad_arg(c, argv[i], known);
        } else
            file = argv[i];
    }
    if (!file) {
        free(sets);
        cmd_help_text(c, stderr);
        return 2;
    }
    if (verbose > 1)
        fl_log_set_level(FL_LOG_LEVEL_DEBUG);
    else if (verbose)
        fl_log_set_level(FL_LOG_LEVEL_INFO);
    struct fl_pipeline *p = load_file(file, &lo);
    o.verbose = verbose;
    o.pin = pin;
    o.progress &= progress;
    rc = p ? run_pipeline(p, &o, strict) : 1;
    free(sets);
    return rc;
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

static int cmd_gen(const struct cli_cmd *c, int argc, char **argv)
{
    char *buf = NULL;
    size_t len = 0;
    const char *path = NULL;
    bool emit_given = false;
    for (int i = 0; i < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "flowline gen: expected --OPTION VALUE pairs, got \"%s\" "
                    "(flowline help gen)\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i] + 2, "path") == 0 || strcmp(argv[i] + 2, "o") == 0)
            path = argv[i + 1];
        emit_given |= strcmp(argv[i] + 2, "emit") == 0;
    }
    if (!path && !emit_given) {
        fprintf(stderr, "flowline gen: --path FILE is required: where to write the capture "
                "(flowline help gen)\n");
        return 2;
    }
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return 1;
    fprintf(f, "version: 1\nstages:\n  - id: gen\n    use: input.gen\n    with: {");
    for (int i = 0; i < argc; i += 2) {
        fprintf(f, "%s%s: ", i ? ", " : "", strcmp(argv[i] + 2, "o") == 0 ? "path" : argv[i] + 2);
        yaml_scalar(f, argv[i + 1]);
    }
    /* Nothing consumes the records here: only the file is wanted. */
    if (!emit_given)
        fprintf(f, "%semit: false", argc ? ", " : "");
    fprintf(f, "}\n");
    fclose(f);
    struct fl_pipeline *p = load_checked("flowline gen", buf, NULL);
    free(buf);
    if (!p)
        return 1;
    int rc = run_pipeline(p, &(struct fl_run_opts){ .progress = isatty(STDERR_FILENO) }, false);
    if (rc == 0 && path)
        printf("wrote %s and its ground truth %s.truth.json\n", path, path);
    return rc;
}

/* One JSON string (plugin names and summaries are plain text). */
static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

/* The fields each port of plugin pl emits, from describe() with the
 * default options and no input (Markdown). Ports whose fields are known
 * only at run time (open) say so. Problems describe() reports without its
 * required options are not this reference's business. */
static void doc_ports(const struct fl_plugin *pl, FILE *out)
{
    size_t n = fl_plugin_n_ports(pl);
    struct fl_diags d = { 0 };
    struct fl_rt rt;
    struct fl_ctx ctx;
    void *state = calloc(1, pl->state_size ? pl->state_size : 1);
    struct fl_schema_decl *decl = calloc(n, sizeof(*decl));
    struct fl_schema_decl **ptr = calloc(n, sizeof(*ptr));
    if (!pl->describe || pl->kind == FL_KIND_OUTPUT || !state || !decl || !ptr
        || fl_rt_init(&rt) < 0)
        goto out;
    fl_ctx_init(&ctx, &rt, "doc", "doc", pl);
    rt.diags = &d;
    fl_opts_parse(pl->opts, NULL, ".", "doc", state, &d);
    for (size_t i = 0; i < n; i++)
        ptr[i] = &decl[i];
    pl->describe(&ctx, state, NULL, 0, ptr);
    for (size_t i = 0; i < n; i++) {
        const struct fl_schema *s = decl[i].schema;
        fprintf(out, "\n## Output `%s`\n\n", pl->ports ? pl->ports[i] : "out");
        if (!s) {
            fprintf(out, "Fields known only at run time (from the input).\n");
            continue;
        }
        fprintf(out, "| Field | Type | Description |\n|---|---|---|\n");
        for (uint32_t k = 0; k < s->ncols; k++) {
            const struct fl_field *f = fl_field_find(s->cols[k]->name);
            fprintf(out, "| `%s` | %s | %s |\n", s->cols[k]->name, fl_type_name(s->cols[k]->type),
                    f && f->doc ? f->doc : "");
        }
    }
    fl_opts_free(pl->opts, state);
    fl_ctx_fini(&ctx);
    fl_rt_fini(&rt);
out:
    fl_diags_free(&d);
    free(state);
    free(decl);
    free(ptr);
}

static int cmd_plugins(const struct cli_cmd *c, int argc, char **argv)
{
    static const char *const known[] = { "--doc", "--json", NULL };
    struct fl_loader ld;
    char **names = NULL, err[512];
    size_t n = 0;
    int rc = 0;
    const char *doc = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--doc") == 0 && i + 1 < argc && !doc)
            doc = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else
            return cli_bad_arg(c, argv[i], known);
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
            if (!json)
                doc_ports(&lib->desc, stdout);
        }
        fl_loader_fini(&ld);
        return rc;
    }
    fl_loader_list(&ld, &names, &n);
    if (json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        const struct fl_plugin_lib *lib;
        if (fl_loader_get(&ld, names[i], &lib, err, sizeof(err)) < 0) {
            fprintf(stderr, "flowline: %s\n", err);
            rc = 1;
        } else if (json) {
            printf("%s\n  {\"name\": ", i ? "," : "");
            json_str(lib->use);
            printf(", \"version\": ");
            json_str(lib->desc.version);
            printf(", \"summary\": ");
            json_str(lib->desc.summary);
            printf("}");
        } else {
            printf("%-22s %-8s %s\n", lib->use, lib->desc.version ? lib->desc.version : "",
                   lib->desc.summary ? lib->desc.summary : "");
        }
        free(names[i]);
    }
    if (json)
        printf("\n]\n");
    free(names);
    fl_loader_fini(&ld);
    return rc;
}

static int cmd_version(const struct cli_cmd *c, int argc, char **argv)
{
    if (argc)
        return cli_bad_arg(c, argv[0], NULL);
    printf("flowline %s (plugin ABI %d.%d)\n", FL_VERSION, FL_ABI_MAJOR, FL_ABI_MINOR);
    return 0;
}

static const struct cli_cmd *cli_find(const char *name)
{
    for (const struct cli_cmd *c = cli_cmds; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* An unknown command, with the closest one. */
static int cli_unknown(const char *name)
{
    const char *names[16];
    size_t n = 0;
    for (const struct cli_cmd *c = cli_cmds; c->name && n < 16; c++)
        names[n++] = c->name;
    const char *near = fl_suggest(name, names, n);
    if (near)
        fprintf(stderr, "flowline: unknown command \"%s\"; did you mean \"%s\"? (flowline help)\n",
                name, near);
    else
        fprintf(stderr, "flowline: unknown command \"%s\" (flowline help)\n", name);
    return 2;
}

static int cmd_help(const struct cli_cmd *c, int argc, char **argv)
{
    if (argc == 0)
        return usage(stdout);
    const struct cli_cmd *t = cli_find(argv[0]);
    if (argc > 1)
        return cli_bad_arg(c, argv[1], NULL);
    if (!t)
        return cli_unknown(argv[0]);
    cmd_help_text(t, stdout);
    return 0;
}

static const struct cli_cmd cli_cmds[] = {
    { "run", "FILE|- [--set S.O=V]... [--strict] [-v|-vv] [-q]",
      "run a pipeline until its inputs end or SIGINT/SIGTERM",
      "  FILE            the pipeline; - reads it from standard input\n"
      "  --set STAGE.OPTION=VALUE\n"
      "                  override (or add) one option of a stage; VALUE is YAML\n"
      "                  (x.pcap, [a.pcap, b.pcap], 30s); paths in it are relative\n"
      "                  to the working directory\n"
      "  --stats 10s     a line per interval on standard error: records/s in and out,\n"
      "                  batches queued and records lost, per stage (logfmt when\n"
      "                  standard error is not a terminal)\n"
      "  --metrics [ADDR:]PORT\n"
      "                  serve Prometheus metrics on http://ADDR:PORT/metrics (ADDR\n"
      "                  127.0.0.1 unless given; 0.0.0.0 for every interface)\n"
      "  --strict        exit 3 when records were dropped, cut short or unsupported\n"
      "                  (a summary line says so on standard error in any case)\n"
      "  -v, -vv         stage counters at the end; info (-v) or debug (-vv) logging\n"
      "  -q              log errors only\n"
      "  --no-progress   no progress bar (it is drawn only on a terminal anyway)\n"
      "  --pin           pin inputs to one CPU and the workers of workers: N stages to\n"
      "                  the others (off by default: see docs/performance.md)\n"
      "signals: INT, TERM drain and stop (twice: abort); HUP reopens output files;\n"
      "USR1 prints the stage counters\n"
      "exit status: 0 every stage ended cleanly, 1 the pipeline is invalid or a stage\n"
      "failed, 2 usage error, 3 (--strict) records were lost\n", cmd_run },
    { "check", "FILE|-... [--set S.O=V]...",
      "validate pipelines (plugins, options, fields, files) without running",
      "  --set STAGE.OPTION=VALUE   as for run, applied to every FILE\n"
      "  Prints \"FILE: ok\" for each valid pipeline, else every problem as\n"
      "  file:line:column. Nothing is opened or written. Exit status 1 if any is invalid.\n",
      cmd_check },
    { "graph", "FILE|- [--dot]", "print the stage graph (text or Graphviz DOT)",
      "  --dot           Graphviz DOT instead of text (flowline graph p.yaml --dot | dot -Tsvg)\n",
      cmd_graph },
    { "plugins", "[--doc NAME] [--json]", "list plugins, or print one plugin's reference",
      "  --doc NAME      the reference of plugin NAME (e.g. input.pcap) in Markdown\n"
      "  --json          JSON: the list, or with --doc the options as JSON Schema\n",
      cmd_plugins },
    { "gen", "--path FILE [--OPTION VALUE]...", "generate a capture with input.gen",
      "  Writes FILE (pcap, ns timestamps) and FILE.truth.json (the flows generated).\n"
      "  Every option of input.gen is a flag: --packets 1000000 --concurrency 10000\n"
      "  --seed 1 ... (flowline plugins --doc input.gen lists them).\n", cmd_gen },
    { "version", "", "print the version and plugin ABI", "", cmd_version },
    { "help", "[COMMAND]", "this list, or a command's options", "", cmd_help },
    { 0 }
};

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
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
        cmd = "version";
    else if (is_help(cmd))
        cmd = "help";
    const struct cli_cmd *c = cli_find(cmd);
    if (!c)
        return cli_unknown(cmd);
    for (int i = 2; i < argc; i++)
        if (is_help(argv[i])) {
            cmd_help_text(c, stdout);
            return 0;
        }
    return c->run(c, argc - 2, argv + 2);
}
