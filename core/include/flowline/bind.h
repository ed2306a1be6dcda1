/* flowline/bind.h: typed field binding, the one way a stage reads fields
 * of its input (DESIGN.md §2).
 *
 * A stage declares the fields it reads, each with the type it wants to read
 * it as. The core resolves them against each input schema once (canonical,
 * alias and IANA names), caches the result by schema pointer, and per batch
 * hands out one column pointer per field, already of the wanted type:
 *
 *   static const struct fl_want wants[] = {
 *       { .name = "ts", .type = FL_T_TS, .flags = FL_WANT_REQUIRED },
 *       { .name = "bytes", .type = FL_T_U64, .flags = FL_WANT_REQUIRED },
 *       { .name = "vlan", .type = FL_T_U16 },
 *   };
 *   describe: fl_bind_new(ctx, wants, 3, sizeof(wants[0]), &st->bind);
 *             fl_bind_check(ctx, st->bind, NULL, in, n_in);
 *   process:  if ((rc = fl_bind_batch(ctx, st->bind, b)) < 0)
 *                 return rc == -FL_ENOENT ? 0 : rc;   (dropped and counted)
 *             const uint64_t *bytes = fl_bind_data(st->bind, 1);
 *
 * Conversions are widening only: an unsigned integer to a wider unsigned
 * integer, to i64 or to f64; i64 to f64; u32 (an IPv4 address as a number,
 * 192.0.2.1 = 0xC0000201) to addr. A column already of the wanted type is
 * handed out as is (no copy); a converted one is copied into a buffer of
 * the binding, valid until the next fl_bind_batch(). Validity bitmaps come
 * with the data: fl_bind_valid() is NULL when every row is present. A field
 * the batch lacks (an optional one) reads as zeros, every row missing.
 *
 * A binding belongs to the stage's ctx: it is freed with the stage, or
 * earlier with fl_bind_destroy(). Like the rest of a stage's state it is
 * used by one thread at a time. */
#ifndef FLOWLINE_BIND_H
#define FLOWLINE_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/error.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_ctx;

/* The stage cannot use a batch without this field: `flowline check` fails
 * when a declared input lacks it, and at run time a batch without it is
 * dropped and counted (records_missing_field). */
#define FL_WANT_REQUIRED 0x1u
/* The user named this field (a `fields:` list): a declared input must have
 * it (a typo is a check error), but at run time a batch without it reads it
 * as missing (an IPFIX template may lack it). */
#define FL_WANT_NAMED 0x2u

struct fl_want {
    const char *name;       /* canonical, alias or IANA name */
    enum fl_type type;      /* the type to read it as; FL_T_NONE = its own type */
    uint32_t flags;         /* FL_WANT_* */
    FL_GROWN_TAIL
};

struct fl_bind;   /* opaque */

/* Declare n fields, want_size bytes apart (pass sizeof(wants[0])). Names
 * are copied. */
FL_API int fl_bind_new(struct fl_ctx *ctx, const struct fl_want *wants, size_t n,
                       size_t want_size, struct fl_bind **out);
/* Free now instead of with the stage; *bd = NULL. */
FL_API void fl_bind_destroy(struct fl_ctx *ctx, struct fl_bind **bd);

/* In describe(): check the declared input schemas (NULL entries are open
 * and pass). Each required or named field an input lacks, or has in a type
 * that does not widen to the wanted one, is a diagnostic at option `opt`
 * (NULL = the stage) naming the field and the stage that should provide
 * it, with the closest name it has. 0 or -FL_EINVAL. */
FL_API int fl_bind_check(struct fl_ctx *ctx, const struct fl_bind *bd, const char *opt,
                         const struct fl_schema *const *in, size_t n_in);

/* Bind batch b. 0: fl_bind_data/valid/col now describe b's columns.
 * -FL_ENOENT: a required field is missing or of a type that does not widen;
 * logged once per schema and b's rows counted as records_missing_field: skip
 * the batch. -FL_ENOMEM otherwise. */
FL_API int fl_bind_batch(struct fl_ctx *ctx, struct fl_bind *bd, const struct fl_batch *b);

/* Field i of the bound batch: its cells, as the wanted type (or its own
 * type for FL_T_NONE: see fl_bind_type), one per row. */
FL_API const void *fl_bind_data(const struct fl_bind *bd, size_t i);
/* Its validity bitmap (bit r = row r present), or NULL when all are. */
FL_API const uint64_t *fl_bind_valid(const struct fl_bind *bd, size_t i);
/* Its column index in the batch's schema, or -1 when the schema lacks it. */
FL_API int fl_bind_col(const struct fl_bind *bd, size_t i);
/* The name of field i as declared. */
FL_API const char *fl_bind_name(const struct fl_bind *bd, size_t i);
/* The type fl_bind_data() gives: the wanted type, or for FL_T_NONE the
 * column's own (FL_T_NONE when the schema lacks it). */
FL_API enum fl_type fl_bind_type(const struct fl_bind *bd, size_t i);

static inline bool fl_bind_row_valid(const uint64_t *valid, uint32_t row)
{
    return !valid || (valid[row >> 6] >> (row & 63) & 1);
}

#ifdef __cplusplus
}
#endif
#endif
