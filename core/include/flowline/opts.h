/* flowline/opts.h: declarative option tables (DESIGN.md §3).
 *
 * A plugin describes its options as a static table; the core parses them
 * from YAML, checks types and bounds, reports errors as file:line:column,
 * writes the values into the plugin's state at `offset`, and generates the
 * plugin's reference (flowline plugins --doc NAME) from the same rows.
 * Plugins never parse options themselves.
 *
 * The table's row size travels in the plugin descriptor (opt_size, set by
 * FL_PLUGIN_DEFINE), so rows may gain fields in a minor version: the core
 * reads each row with the plugin's stride and the fields the plugin did not
 * know read as zero.
 *
 *   static const struct fl_opt pcap_opts[] = {
 *       { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(struct pcap, path),
 *         .doc = "capture file to read (pcap, pcapng, .gz)" },
 *       { .name = "snaplen", .type = FL_OPT_UINT, .offset = offsetof(struct pcap, snaplen),
 *         .def = "262144", .min = "64", .max = "262144", .unit = "bytes",
 *         .doc = "bytes captured per packet on a live interface" },
 *       { 0 }
 *   };
 */
#ifndef FLOWLINE_OPTS_H
#define FLOWLINE_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Option kinds and the C type each writes at `offset` in the plugin state. */
enum fl_opt_type {
    FL_OPT_NONE = 0,
    FL_OPT_BOOL,      /* bool */
    FL_OPT_INT,       /* int64_t */
    FL_OPT_UINT,      /* uint64_t */
    FL_OPT_FLOAT,     /* double */
    FL_OPT_STRING,    /* char * (owned by the core, freed after fini) */
    FL_OPT_PATH,      /* char *: a file path, relative to the pipeline file */
    FL_OPT_DURATION,  /* uint64_t ns: "30s", "5m", "1h30m", "250ms", "1d" */
    FL_OPT_SIZE,      /* uint64_t bytes: "64MiB", "1GB", "4096" */
    FL_OPT_ADDR,      /* struct fl_addr (record.h): IPv4 or IPv6 literal */
    FL_OPT_ENDPOINT,  /* char *: "udp://host:port", "tcp://host:port", ... */
    FL_OPT_ENUM,      /* int: index into .choices */
    FL_OPT_LIST,      /* struct fl_strlist: sequence of strings (or one string);
                       * with .choices every item must be one of them */
    FL_OPT_MAP,       /* struct fl_strmap: mapping of string to string; a value
                       * given as a list of scalars is stored as its items
                       * joined with ","; with .choices every key must be one */
    FL_OPT_PATHS,     /* struct fl_strlist: one path or a list, each like FL_OPT_PATH */
    FL_OPT_COUNT
};

struct fl_strlist { size_t n; char **v; };
struct fl_strmap { size_t n; char **key; char **val; };

#define FL_OPT_REQUIRED 0x1u  /* must be given (no default) */
/* FL_OPT_LIST with .choices: a lone `true` (yes, on) stands for every
 * choice and `false` (no, off) for none (e.g. input.pcap's `decap: true | false | [gre, ...]`). */
#define FL_OPT_ALL_NONE 0x2u

struct fl_opt {
    const char *name;
    enum fl_opt_type type;
    size_t offset;                 /* into the plugin's state */
    const char *def;               /* default, written as in YAML; NULL = none */
    const char *min, *max;         /* bounds in the option's own units; NULL = none */
    const char *const *choices;    /* FL_OPT_ENUM, LIST items, MAP keys: NULL-terminated */
    const char *unit;              /* shown in the docs: "bytes", "flows" */
    const char *doc;               /* one line */
    unsigned flags;                /* FL_OPT_REQUIRED */
    const char *alias;             /* deprecated old name: accepted with a warning */
    FL_GROWN_TAIL
};

/* Was option `name` given in the pipeline file (not defaulted)? */
struct fl_ctx;
FL_API bool fl_opt_given(struct fl_ctx *ctx, const char *name);

#ifdef __cplusplus
}
#endif
#endif
