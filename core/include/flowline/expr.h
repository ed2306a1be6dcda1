/* flowline/expr.h: the expression language (docs/dsl.md, "Expressions").
 *
 * An expression ("bytes / packets", "proto == 6 and src_addr in
 * 10.0.0.0/8") is parsed and type-checked against one input schema, then
 * compiled into a program that runs a column at a time over a batch:
 * typed loops over chunks of rows with validity bitmaps, never a tree walk
 * per row. Compile once per schema (schemas are interned: compare the
 * pointer) and keep the result.
 *
 * Values may be missing: a missing input, a division by zero, log of a
 * non-positive number give a missing value, never a crash. Integers are
 * 64-bit signed and wrap on overflow (two's complement).
 *
 * ABI: struct fl_expr is opaque; these functions only grow (added in 2.2).
 * Threading: a compiled expression holds its scratch registers, so one
 * fl_expr is evaluated by one thread at a time (one per stage instance). */
#ifndef FLOWLINE_EXPR_H
#define FLOWLINE_EXPR_H

#include <stddef.h>
#include <stdint.h>
#include <flowline/error.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_expr;

/* Parse, check and compile `text` for batches of `schema`. On error returns
 * -FL_EINVAL (or -FL_ENOMEM), *out = NULL, writes a one-line message into
 * err (errlen bytes, may be 0) and the byte offset in text it is about into
 * *err_off (may be NULL). The caller owns *out (fl_expr_free). */
FL_API int fl_expr_compile(const char *text, const struct fl_schema *schema,
                           struct fl_expr **out, size_t *err_off, char *err, size_t errlen);
/* The column type of the result: FL_T_I64, FL_T_F64, FL_T_BOOL, FL_T_STR,
 * FL_T_ADDR, FL_T_DUR or FL_T_TS. */
FL_API enum fl_type fl_expr_type(const struct fl_expr *e);
/* The schema it was compiled for. */
FL_API const struct fl_schema *fl_expr_schema(const struct fl_expr *e);
/* Evaluate over every row of `in` (whose schema must be the compiled one)
 * into column `col` of `dst`, a batch with in->rows rows being filled whose
 * column has type fl_expr_type(); missing results are marked missing.
 * String results are copied into dst's arena. Returns 0 or a negative code. */
FL_API int fl_expr_eval(struct fl_expr *e, const struct fl_batch *in,
                        struct fl_batch *dst, uint32_t col);
/* Evaluate a bool expression over `in`: bit r of keep (in->rows bits,
 * (rows + 63) / 64 words) is set where the value is true, clear where it
 * is false or missing. *n_kept (may be NULL) gets the count of set bits. */
FL_API int fl_expr_eval_mask(struct fl_expr *e, const struct fl_batch *in,
                             uint64_t *keep, uint32_t *n_kept);
FL_API void fl_expr_free(struct fl_expr **e);

/* The closest of cands[0..n) to name, if close enough to be a plausible
 * typo (for "did you mean"), else NULL. */
FL_API const char *fl_name_suggest(const char *name, const char *const *cands, size_t n);

#ifdef __cplusplus
}
#endif
#endif
