/* opts_int.h: what the option files of dsl/ share (opts_value.c parses one
 * value, opts_parse.c walks a with: map, opts_doc.c prints references).
 * Not part of the core contract (internal.h). */
#ifndef FL_DSL_OPTS_INT_H
#define FL_DSL_OPTS_INT_H

#include <stddef.h>
#include "internal.h"

/* One option value, in the C type its fl_opt_type writes (opts.h). */
union fl_optv {
    bool b;
    int64_t i;
    uint64_t u;          /* uint, duration (ns), size (bytes) */
    double f;
    char *s;             /* string, path, endpoint: owned */
    struct fl_addr a;
    int e;               /* enum: index into choices */
    struct fl_strlist l;
    struct fl_strmap m;
};

/* Parse text as o's type into v, then check o's bounds (written in the
 * option's own units). Relative paths are joined to base_dir (NULL: kept
 * as written). On error, err gets one phrase without the option's name. */
int fl_optv_parse(const struct fl_opt *o, const char *text, const char *base_dir,
                  union fl_optv *v, char *err, size_t len);
/* What a value of o looks like: "a duration (e.g. 30s, 250ms, 1h30m)". */
void fl_optv_expected(const struct fl_opt *o, char *buf, size_t len);
const char *fl_optv_type_name(enum fl_opt_type t);
/* Bytes the type occupies in the plugin's state. */
size_t fl_optv_size(enum fl_opt_type t);
void fl_optv_free(enum fl_opt_type t, union fl_optv *v);
int fl_optv_path(const char *text, const char *base_dir, char **out);
int fl_optv_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
