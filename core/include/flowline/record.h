/* flowline/record.h: fields, schemas and batches (DESIGN.md §2).
 *
 * Everything that flows between stages is a batch: an immutable, refcounted,
 * columnar set of rows with one interned schema. A producer fills a batch it
 * got from fl_batch_new(), then hands it on with fl_emit(); from then on
 * nobody writes to it. Derived batches (select, rename, added columns) share
 * the untouched columns by refcount.
 *
 * Threading: a batch may be read by several stages at once after it is
 * emitted; refcounts are atomic. Schemas are interned per runtime and live
 * until the runtime ends, so pointers to them may be kept freely. */
#ifndef FLOWLINE_RECORD_H
#define FLOWLINE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <flowline/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_ctx;

/* Column types. Sizes in bytes per row are fixed (fl_type_size). */
enum fl_type {
    FL_T_NONE = 0,
    FL_T_U8, FL_T_U16, FL_T_U32, FL_T_U64, FL_T_I64, FL_T_F64, FL_T_BOOL,
    FL_T_TS,      /* uint64_t nanoseconds since the Unix epoch */
    FL_T_DUR,     /* int64_t nanoseconds; text outputs print seconds */
    FL_T_ADDR,    /* struct fl_addr: IPv6, IPv4 stored IPv4-mapped */
    FL_T_MAC,     /* 6 bytes */
    FL_T_STR,     /* struct fl_span into the batch arena, UTF-8 */
    FL_T_BYTES,   /* struct fl_span into the batch arena */
    FL_T_COUNT
};

/* An address column cell: always 16 bytes. IPv4 a.b.c.d is ::ffff:a.b.c.d. */
struct fl_addr { uint8_t b[16]; };

/* A variable-length cell: offset and length into the batch's arena. */
struct fl_span { uint32_t off, len; };

FL_API size_t fl_type_size(enum fl_type t);
FL_API const char *fl_type_name(enum fl_type t);
/* Type by name ("u32", "addr", ...); FL_T_NONE if unknown. */
FL_API enum fl_type fl_type_from_name(const char *name);

static inline bool fl_addr_is_v4(const struct fl_addr *a)
{
    static const uint8_t v4mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff};
    return memcmp(a->b, v4mapped, 12) == 0;
}

/* ---- Field registry --------------------------------------------------
 * A field has a canonical short snake_case name, a type, and where one exists
 * its IPFIX information element (pen 0 = IANA). The registry also knows every
 * IANA element by its IANA name, and aliases (seed column names). Names are
 * matched exactly (case-sensitive), canonical first. */
struct fl_field {
    const char *name;       /* canonical name: "src_addr", or the IANA name */
    enum fl_type type;
    uint32_t pen;           /* 0 = IANA; FL_PEN = flowline's own */
    uint16_t ie;            /* element id, 0 = none */
    uint16_t ie_alt;        /* second element: the IPv6 variant of an addr, or the same
                             * quantity in another unit; 0 = none */
    const char *doc;        /* one line */
    FL_GROWN_TAIL
};

/* flowline's private enterprise number for its own elements in exported
 * templates. 61678 (0xF0EE) is not
 * registered with IANA for flowline: see docs/fields.md. */
#define FL_PEN 61678u

/* Look a name up: canonical, alias or IANA name. NULL if unknown. */
FL_API const struct fl_field *fl_field_find(const char *name);
/* Iterate over the canonical short-named fields (i = 0, 1, ... until NULL). */
FL_API const struct fl_field *fl_field_at(size_t i);
/* The closest known field name to `name` (for "did you mean"), or NULL. */
FL_API const char *fl_field_suggest(const char *name);

/* How an information element's value is encoded on the wire: its IPFIX
 * abstract data type (RFC 7012 §3.1), for collectors and exporters. The
 * dateTimeMicroseconds/Nanoseconds kinds are NTP timestamps (RFC 7011
 * §6.1.9, §6.1.10). */
enum fl_ie_kind {
    FL_IE_OCTETS = 0,   /* octetArray, and lists this registry does not open */
    FL_IE_UNSIGNED, FL_IE_SIGNED, FL_IE_FLOAT, FL_IE_BOOL, FL_IE_MAC, FL_IE_STRING,
    FL_IE_IPV4, FL_IE_IPV6,
    FL_IE_SECONDS, FL_IE_MILLISECONDS, FL_IE_MICROSECONDS, FL_IE_NANOSECONDS,
};
/* The field an element (enterprise pen, 0 = IANA; element id without the
 * enterprise bit) carries: the short-named field when the registry maps
 * the element to one (sourceIPv4Address -> src_addr), else the element
 * under its IANA name; and *kind, its wire encoding. NULL for elements
 * the registry does not know (other enterprises included). */
FL_API const struct fl_field *fl_field_by_ie(uint32_t pen, uint16_t ie, enum fl_ie_kind *kind);
/* Nanoseconds per unit of an element whose value is a time quantity (RFC
 * 5610 units seconds, milliseconds, microseconds, nanoseconds: durations,
 * uptimes, deltas), 0 for every other element. */
FL_API uint64_t fl_ie_unit_ns(uint32_t pen, uint16_t ie);

/* ---- Schemas ---------------------------------------------------------- */
struct fl_col_def {
    const char *name;       /* canonical field name, or any name for own fields */
    enum fl_type type;
    FL_GROWN_TAIL
};

struct fl_schema {
    uint32_t ncols;
    const struct fl_col_def *const *cols;  /* cols[i]->name: interned, pointer-stable */
    uint64_t id;                    /* unique per runtime, stable for its life */
    FL_GROWN_TAIL
};

/* Intern a schema from ncols column definitions, col_size bytes apart
 * (pass sizeof(cols[0]): the definitions may grow in a minor version).
 * Equal lists (names and types, in order) give the same pointer, so
 * consumers bind column indexes once per schema (pointer compare). The
 * result lives as long as the runtime. */
FL_API int fl_schema_intern(struct fl_ctx *ctx, const struct fl_col_def *cols,
                            size_t ncols, size_t col_size, const struct fl_schema **out);
/* Column index of a name (canonical, alias or IANA name accepted), or -1. */
FL_API int fl_schema_find(const struct fl_schema *s, const char *name);

/* ---- Batches ---------------------------------------------------------- */
struct fl_column;   /* opaque: data + validity bitmap + refcount */
struct fl_arena;    /* opaque: bytes for str/bytes cells */

struct fl_batch {
    const struct fl_schema *schema;
    uint32_t rows;          /* rows filled */
    uint32_t cap;           /* rows allocated */
    uint64_t seq;           /* set by the core on emit */
    uint64_t t_min, t_max;  /* time range of the rows (ns), 0 if unknown */
    void **data;            /* data[i]: column i's cells, cap * type size */
    uint64_t **valid;       /* valid[i]: validity bitmap or NULL = all valid */
    /* private below: use the functions */
    struct fl_column **col_;
    struct fl_arena *arena_;
    int refs_;
    uint32_t magic_;
    FL_GROWN_TAIL
};

/* A new batch with room for `cap` rows, every column allocated and
 * uninitialised, every validity bitmap NULL (all valid), rows = 0.
 * The caller owns one reference. */
FL_API int fl_batch_new(struct fl_ctx *ctx, const struct fl_schema *schema,
                        uint32_t cap, struct fl_batch **out);
/* Take / drop a reference. fl_batch_release(&b) sets b = NULL and frees the
 * batch (and every column no other batch shares) when the last one goes. */
FL_API struct fl_batch *fl_batch_retain(struct fl_batch *b);
FL_API void fl_batch_release(struct fl_batch **b);

/* Column i as typed pointer helpers. */
#define FL_COL(b, i, T) ((T *)(b)->data[(i)])

/* Mark row r of column i missing (allocates the bitmap on first use, every
 * other row valid). Only while the batch is being filled. */
FL_API int fl_batch_set_missing(struct fl_batch *b, uint32_t col, uint32_t row);
static inline bool fl_batch_is_valid(const struct fl_batch *b, uint32_t col, uint32_t row)
{
    const uint64_t *v = b->valid[col];
    return !v || (v[row >> 6] >> (row & 63) & 1);
}

/* Copy `len` bytes into the arena and return the span for a str/bytes cell. */
FL_API int fl_batch_put_bytes(struct fl_batch *b, const void *p, uint32_t len,
                              struct fl_span *out);
/* The bytes of a str/bytes cell. */
FL_API const char *fl_batch_bytes(const struct fl_batch *b, struct fl_span s);

/* A new batch with schema `schema` whose column j is column map[j] of `src`
 * shared by refcount (no copy), or a new uninitialised column when
 * map[j] < 0. Same rows, seq, time range and arena as `src`. */
FL_API int fl_batch_derive(struct fl_ctx *ctx, const struct fl_batch *src,
                           const struct fl_schema *schema, const int *map,
                           struct fl_batch **out);
/* A dense copy of the rows of `src` whose bit is set in `keep`
 * (one bit per row). Validity is kept. */
FL_API int fl_batch_filter(struct fl_ctx *ctx, const struct fl_batch *src,
                           const uint64_t *keep, struct fl_batch **out);

#ifdef __cplusplus
}
#endif
#endif
