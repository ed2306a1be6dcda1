/* geoip.h: transform.geoip's state, shared by its files.
 *
 * geoip.c       options, schemas, process (one batch: derive, fill columns)
 * geoip_db.c    databases: open + verify, attribute paths, value decoding,
 *               reload when the file changes
 * geoip_cache.c the per-stage cache of recent lookups */
#ifndef GEOIP_H
#define GEOIP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <maxminddb.h>
#include <flowline/plugin.h>

/* The attributes a user picks by name; each has a type and the data
 * paths tried in order in every database (the first that holds a value of
 * a usable type wins). */
enum geoip_attr {
    GEOIP_COUNTRY, GEOIP_COUNTRY_NAME, GEOIP_CITY, GEOIP_REGION, GEOIP_REGION_CODE,
    GEOIP_LAT, GEOIP_LON, GEOIP_ASN, GEOIP_AS_ORG, GEOIP_NATTR
};
#define GEOIP_CUSTOM (-1)
#define GEOIP_MAXKEYS 64

/* One output suffix (the part after "src_"): a known attribute or a
 * custom path from `paths:`. */
struct geoip_col {
    const char *suffix;          /* attribute name or the key of `paths:` */
    enum fl_type type;           /* str, f64 or u32 */
    int attr;                    /* enum geoip_attr or GEOIP_CUSTOM */
    const char *const *const *paths;   /* candidate paths (NULL-terminated) */
    const char **custom;         /* a `paths:` path split at '.', NULL-terminated */
    int key[4];                  /* per candidate path: its first component in
                                  * geoip.keys (custom: key[0]) */
    char *custom_buf;            /* storage of custom's components */
};

struct geoip_db {
    const char *path;
    MMDB_s mmdb;
    bool open;
    /* Decoded values by data record: many networks share one record (a
     * city), so the tree walk ends at a record already decoded. Direct-
     * mapped by record offset; rec_off[i] = offset + 1, 0 = empty. Lives
     * and dies with the mapping. */
    uint32_t *rec_off;
    struct geoip_val *rec_val;   /* nrec * ncols */
    uint32_t nrec;               /* a power of two; 0 = no memo */
    /* The file as last opened (or last failed to open), to notice a change. */
    struct timespec mtime;
    off_t size;
    ino_t ino;
};

/* One looked-up value. Strings point into the database's mapping: valid
 * until it is closed, which also empties the cache (geoip_cache_clear). */
struct geoip_val {
    union { double f; uint32_t u; struct { const char *p; uint32_t len; } s; };
    bool ok;
};

struct geoip_cache {
    uint8_t *slots;              /* n slots of `stride` bytes */
    uint32_t n, mask;            /* n a power of two; 0 = no cache */
    size_t stride;
    uint32_t gen;                /* a slot holds a value when its gen matches */
    struct geoip_val *scratch;   /* the values when there is no cache */
    struct geoip_val *scratch2;  /* one record's values without a record memo */
};

/* Per input schema: the output schema and where each column comes from. */
struct geoip_map {
    const struct fl_schema *in, *out;
    int *src;                    /* out col -> in col, -1 = ours */
    int *ours;                   /* (field * ncols + col) -> out col */
};

/* Counters kept between flushes to fl_counter_add. */
struct geoip_counts {
    uint64_t lookups, hits, misses, not_found, errors, type_mismatch;
};

struct geoip {
    /* options */
    struct fl_strlist databases, lookup, attributes;
    struct fl_strmap paths;
    uint64_t cache_size, record_cache_size;
    uint64_t reload_check;       /* ns; 0 = never by mtime */
    bool verify;
    /* derived */
    struct geoip_col *cols;
    size_t ncols;
    char **names;                /* output column names, lookup.n * ncols */
    struct fl_bind *bind;
    /* The distinct first components of every path: a record's top-level
     * map is read once for all of them. */
    const char *keys[GEOIP_MAXKEYS];
    size_t nkeys;
    struct geoip_db *dbs;
    size_t ndbs;
    struct geoip_cache cache;
    struct geoip_map *maps;
    size_t nmaps;
    uint64_t next_check_ns;
    /* strings written to the current batch: pointer -> span, so a country
     * code appears once per batch in its arena */
    struct { const char *p; struct fl_span sp; uint64_t stamp; } strs[256];
    uint64_t stamp;
    struct geoip_counts cnt;
};

/* geoip_db.c */
extern const char *const geoip_attr_names[GEOIP_NATTR + 1];
enum fl_type geoip_attr_type(int attr);
const char *const *const *geoip_attr_paths(int attr);
/* Open db->path into db (closing nothing). With verify, walk the search
 * tree and decode every data record: a database libmaxminddb opens but
 * cannot read is refused here rather than failing lookups later. 0 or
 * -FL_EINVAL with a message in err. */
int geoip_db_open(struct geoip_db *db, bool verify, char *err, size_t errlen);
void geoip_db_close(struct geoip_db *db);
/* Has the file changed since db was opened (mtime, size, inode)? */
bool geoip_db_changed(const struct geoip_db *db);
/* After the columns are known: fill keys and each column's key[]. */
int geoip_keys_init(struct geoip *g);
/* Look `a` up in every database, filling vals[0..ncols). Returns true if
 * any database had an entry for it. */
bool geoip_lookup(struct geoip *g, const struct fl_addr *a, struct geoip_val *vals);

/* geoip_cache.c */
int geoip_cache_init(struct geoip_cache *c, uint64_t n, size_t ncols);
void geoip_cache_free(struct geoip_cache *c);
void geoip_cache_clear(struct geoip_cache *c);
/* The values for `a`: from the cache, or looked up and cached. */
const struct geoip_val *geoip_cache_get(struct geoip *g, const struct fl_addr *a);

#endif
