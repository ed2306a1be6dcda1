/* core/src/internal.h: interfaces shared between core files and dsl/,
 * hidden from plugins (not exported from libflowline.so).
 *
 * - diagnostics: configuration errors with file:line:column
 * - the YAML node tree the DSL builds (every node keeps its position)
 * - the parsed pipeline (stages, from, with) before plugins are bound
 * - option tables: parse a `with:` map into a plugin's state, and docs */
#ifndef FL_INTERNAL_H
#define FL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <flowline/plugin.h>

#define FL_HIDDEN __attribute__((visibility("hidden")))

/* Make room for `more` bytes after the first `len` of *p (capacity *cap),
 * doubling from 4 KiB: the growable buffers of deliver.c and wire.c. 0, or
 * -FL_ENOMEM (also when the size would overflow). deliver.c. */
int fl_bytes_reserve(uint8_t **p, size_t *cap, size_t len, size_t more);

/* runtime.c: whether a consumer of ctx's default port runs in another
 * thread (not chain: true). False outside a running pipeline. */
bool fl_emits_across(const struct fl_ctx *ctx);
/* record.c: a new batch (from ctx's pool) holding b's rows, validity, time
 * range and arena; b is left empty, every column valid, no arena. b must
 * be the caller's alone: -FL_EINVAL if it or a column is shared. */
int fl_batch_take_rows(struct fl_ctx *ctx, struct fl_batch *b, struct fl_batch **out);

/* ---- Diagnostics ------------------------------------------------------ */
struct fl_pos { const char *file; uint32_t line, col; };  /* 1-based; file interned in the diags */

struct fl_diag_entry { struct fl_pos pos; char *msg; bool warning; };
struct fl_diags {
    size_t n, cap, errors;
    struct fl_diag_entry *v;
    char **files; size_t n_files;  /* owned copies of file names used in positions */
};

/* Printed as "file:line:col: msg" (warnings: "file:line:col: warning: msg"),
 * in the order added. */
void fl_diags_add(struct fl_diags *d, struct fl_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fl_diags_warn(struct fl_diags *d, struct fl_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A stable copy of a file name for positions, owned by d. */
const char *fl_diags_file(struct fl_diags *d, const char *name);
void fl_diags_print(const struct fl_diags *d, FILE *out);
void fl_diags_free(struct fl_diags *d);

/* The closest of cands[0..n) to name by edit distance, if close enough to be
 * a plausible typo (distance <= max(1, strlen/3)); else NULL. */
const char *fl_suggest(const char *name, const char *const *cands, size_t n);

/* ---- YAML tree (dsl/yaml_tree.c) -------------------------------------- */
enum fl_ynode_kind { FL_Y_SCALAR, FL_Y_SEQ, FL_Y_MAP };

struct fl_ynode {
    enum fl_ynode_kind kind;
    struct fl_pos pos;
    char *str;                 /* scalar, after ${ENV} substitution */
    bool quoted;               /* scalar was quoted ('' or "") */
    bool verbatim;             /* scalar's text is on one line and is exactly
                                * its value (no escapes, folding or ${ENV}):
                                * byte i of str is at column pos.col + quoted
                                * + (characters before i) */
    bool from_env;             /* scalar begins with an environment variable's
                                * value: a relative path in it is relative to
                                * the working directory, not to the file */
    size_t n;                  /* items (seq) or pairs (map) */
    struct fl_ynode **items;   /* seq items; map values */
    char **keys;               /* map keys */
    struct fl_pos *key_pos;    /* map key positions */
    bool partial;              /* cut short by a syntax error: what it lacks
                                * may be in the unread rest of the file */
};

/* Parse one YAML document from buf into a tree (NULL for an empty
 * document). Positions point at file names interned in d: keep d alive as
 * long as the tree. Errors (the first syntax error, duplicate keys, unset
 * ${ENV}) go to d; returns 0 or -FL_EINVAL, *out set to what was read. */
int fl_ynode_parse(const char *name, const char *buf, size_t len,
                   struct fl_diags *d, struct fl_ynode **out);
/* A plain empty, ~ or null scalar (YAML's null). */
bool fl_ynode_is_null(const struct fl_ynode *n);

/* Value of key in a map node, or NULL (also when m is not a map). */
const struct fl_ynode *fl_ynode_get(const struct fl_ynode *m, const char *key);
void fl_ynode_free(struct fl_ynode **n);

/* ---- Parsed pipeline (dsl/conf.c) ------------------------------------- */
struct fl_stage_conf {
    char *id;  struct fl_pos pos;       /* pos: the stage's mapping */
    struct fl_pos id_pos;
    char *use; struct fl_pos use_pos;   /* "input.pcap"; NULL if missing or
                                         * malformed (already reported): skip */
    size_t n_from;
    char **from; struct fl_pos *from_pos;   /* "id" or "id.port" */
    const struct fl_ynode *with;        /* map or NULL */
    uint32_t workers;                   /* 1 if absent */
    struct fl_pos workers_pos;          /* the workers: value, else the stage */
    size_t n_partition_by;              /* partition_by: fields (0 if absent) */
    char **partition_by; struct fl_pos *partition_by_pos;
    struct fl_pos partition_pos;        /* the partition_by: value */
    char *node; struct fl_pos node_pos; /* NULL: node "local" */
    bool chain; struct fl_pos chain_pos; /* chain: true: run in the source's thread */
    char *dir;                          /* directory of the file that defined the
                                         * stage: base for its relative paths */
};

struct fl_conf {
    char *file;                /* display name of the top file */
    char *dir;                 /* its directory: base for relative paths and include: */
    int version;
    size_t n_stages;
    struct fl_stage_conf *stages;
    struct fl_ynode **roots; size_t n_roots;  /* owned trees (top file + includes) */
    const struct fl_ynode *nodes;   /* the nodes: mapping, or NULL (one node "local") */
    bool partial;                   /* a syntax error cut the file short */
};

/* Parse a pipeline from a buffer with a display name (no file needed; the
 * directory of `name` resolves include: and relative paths). Every error
 * goes to d; returns 0 if there were none, -FL_EINVAL otherwise (*out is
 * still set when the YAML was readable, so later checks can add theirs). */
int fl_conf_parse(const char *name, const char *buf, size_t len,
                  struct fl_diags *d, struct fl_conf **out);
int fl_conf_load(const char *path, struct fl_diags *d, struct fl_conf **out);
/* Apply a command-line override "STAGE.OPTION=VALUE" (VALUE read as YAML:
 * a scalar, [a, b] or {k: v}; paths in it are relative to the working
 * directory). Problems go to d as "--set:1:1: ...". */
int fl_conf_set(struct fl_conf *c, const char *assign, struct fl_diags *d);
void fl_conf_free(struct fl_conf **c);
/* Duplicate ids, dangling from: (with "did you mean"), cycles. On success
 * order[0..n_stages) is a topological order (sources first). */
int fl_conf_check_graph(const struct fl_conf *c, struct fl_diags *d, size_t *order);

/* ---- Options (dsl/opts_parse.c, dsl/opts_doc.c) ----------------------- */
/* Parse `with` (a map, or NULL) against the table into state: defaults
 * first, then the given values; unknown names (with suggestion), wrong
 * types, out-of-range values, missing required options go to d, naming the
 * stage as `where` (e.g. "stage \"flows\" (aggregate.flowmeter)").
 * Relative FL_OPT_PATH values are resolved against base_dir. */
int fl_opts_parse(const struct fl_opt *table, const struct fl_ynode *with,
                  const char *base_dir, const char *where, void *state,
                  struct fl_diags *d);
/* Parse one value of an option (used for defaults, bounds, and CLI flags). */
int fl_opt_parse_value(const struct fl_opt *o, const char *text, void *dst,
                       char *err, size_t errlen);
void fl_opts_free(const struct fl_opt *table, void *state);
/* The entry `key` names: by its name, else by its deprecated alias (*alias
 * says which). NULL if none. */
const struct fl_opt *fl_opt_find(const struct fl_opt *table, const char *key, bool *alias);
/* Reference of a plugin from its option table: Markdown or JSON Schema. */
int fl_opts_doc(const struct fl_plugin *p, bool json, FILE *out);

const char *fl_kind_name(enum fl_kind k);   /* "input", ... */

/* Process-wide log threshold (log.c), set from the command line. */
void fl_log_set_level(enum fl_log_level lvl);

/* ---- Field registry (core/src/field.c) ------------------------------- */
/* The canonical name for any name fl_field_find accepts (an alias or a
 * mapped IANA name gives the short name; an unmapped IANA name gives
 * itself), or NULL if the registry does not know it. The result is static
 * and never freed, so fl_schema_find can compare it with interned names. */
const char *fl_field_canonical(const char *name);

#endif
