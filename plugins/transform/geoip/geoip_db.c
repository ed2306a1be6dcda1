/* geoip_db.c: the databases of transform.geoip: opening and verifying
 * them, the data paths of each attribute, decoding values, noticing a
 * changed file. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "geoip.h"

const char *const geoip_attr_names[GEOIP_NATTR + 1] = {
    [GEOIP_COUNTRY] = "country", [GEOIP_COUNTRY_NAME] = "country_name",
    [GEOIP_CITY] = "city", [GEOIP_REGION] = "region", [GEOIP_REGION_CODE] = "region_code",
    [GEOIP_LAT] = "lat", [GEOIP_LON] = "lon", [GEOIP_ASN] = "asn", [GEOIP_AS_ORG] = "as_org",
};

/* Candidate paths per attribute. City/Country/Enterprise databases nest
 * (country.iso_code); ASN and ISP databases are flat
 * (autonomous_system_number); Enterprise keeps the AS under traits. A
 * database without the path simply does not answer. */
#define P(...) ((const char *const[]){ __VA_ARGS__, NULL })
static const char *const *const paths_country[] = { P("country", "iso_code"), NULL };
static const char *const *const paths_country_name[] = { P("country", "names", "en"), NULL };
static const char *const *const paths_city[] = { P("city", "names", "en"), NULL };
static const char *const *const paths_region[] = { P("subdivisions", "0", "names", "en"), NULL };
static const char *const *const paths_region_code[] = { P("subdivisions", "0", "iso_code"), NULL };
static const char *const *const paths_lat[] = { P("location", "latitude"), NULL };
static const char *const *const paths_lon[] = { P("location", "longitude"), NULL };
static const char *const *const paths_asn[] = {
    P("autonomous_system_number"), P("traits", "autonomous_system_number"), NULL };
static const char *const *const paths_as_org[] = {
    P("autonomous_system_organization"), P("traits", "autonomous_system_organization"), NULL };
#undef P

const char *const *const *geoip_attr_paths(int attr)
{
    static const char *const *const *const all[GEOIP_NATTR] = {
        paths_country, paths_country_name, paths_city, paths_region, paths_region_code,
        paths_lat, paths_lon, paths_asn, paths_as_org,
    };
    return attr >= 0 && attr < GEOIP_NATTR ? all[attr] : NULL;
}

enum fl_type geoip_attr_type(int attr)
{
    switch (attr) {
    case GEOIP_LAT: case GEOIP_LON: return FL_T_F64;
    case GEOIP_ASN: return FL_T_U32;
    default: return FL_T_STR;
    }
}

/* ---- open and verify -------------------------------------------------- */
static bool utf8_ok(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        uint8_t c = p[i];
        uint32_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                   : (c & 0xf8) == 0xf0 ? 3 : 4;
        if (k == 4 || (k == 1 && c < 0xc2) || n - i <= k)
            return k == 0;
        for (uint32_t j = 1; j <= k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

/* A set of data offsets already decoded (open addressing). */
struct offset_set { uint32_t *v; size_t cap, n; };

static int offset_add(struct offset_set *s, uint32_t off)   /* 1 new, 0 seen, <0 */
{
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint32_t *v = malloc(cap * sizeof(*v));
        if (!v)
            return -FL_ENOMEM;
        memset(v, 0xff, cap * sizeof(*v));
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i] != UINT32_MAX)
                for (size_t j = (s->v[i] * 0x9e3779b1u) & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (v[j] == UINT32_MAX) {
                        v[j] = s->v[i];
                        break;
                    }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    for (size_t j = (off * 0x9e3779b1u) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->v[j] == off)
            return 0;
        if (s->v[j] == UINT32_MAX) {
            s->v[j] = off;
            s->n++;
            return 1;
        }
    }
}

/* Decode one data record fully; every string must be UTF-8. */
static int verify_record(MMDB_entry_s *e, char *err, size_t errlen)
{
    MMDB_entry_data_list_s *list = NULL;
    int rc = MMDB_get_entry_data_list(e, &list);
    if (rc != MMDB_SUCCESS) {
        snprintf(err, errlen, "data record at offset %u: %s", e->offset, MMDB_strerror(rc));
        MMDB_free_entry_data_list(list);
        return -FL_EINVAL;
    }
    for (MMDB_entry_data_list_s *l = list; l; l = l->next)
        if (l->entry_data.type == MMDB_DATA_TYPE_UTF8_STRING
            && !utf8_ok((const uint8_t *)l->entry_data.utf8_string, l->entry_data.data_size)) {
            snprintf(err, errlen, "data record at offset %u: a string is not valid UTF-8",
                     e->offset);
            MMDB_free_entry_data_list(list);
            return -FL_EINVAL;
        }
    MMDB_free_entry_data_list(list);
    return 0;
}

/* Every node's two records must lead to a node, to "empty" or into the
 * data section, and every data record they reach must decode. Nodes are
 * visited in order, so a cycle in the tree cannot loop. */
static int verify_tree(MMDB_s *m, char *err, size_t errlen)
{
    struct offset_set seen = { 0 };
    int rc = 0;

    for (uint32_t n = 0; n < m->metadata.node_count && rc == 0; n++) {
        MMDB_search_node_s node;
        int mrc = MMDB_read_node(m, n, &node);
        if (mrc != MMDB_SUCCESS) {
            snprintf(err, errlen, "search tree node %u: %s", n, MMDB_strerror(mrc));
            rc = -FL_EINVAL;
            break;
        }
        for (int side = 0; side < 2 && rc == 0; side++) {
            uint8_t type = side ? node.right_record_type : node.left_record_type;
            MMDB_entry_s e = side ? node.right_record_entry : node.left_record_entry;
            uint64_t rec = side ? node.right_record : node.left_record;
            if (type == MMDB_RECORD_TYPE_INVALID
                || (type == MMDB_RECORD_TYPE_DATA && e.offset >= m->data_section_size)) {
                snprintf(err, errlen, "search tree node %u points outside the file (record %llu)",
                         n, (unsigned long long)rec);
                rc = -FL_EINVAL;
            } else if (type == MMDB_RECORD_TYPE_DATA) {
                int added = offset_add(&seen, e.offset);
                if (added < 0)
                    rc = added;
                else if (added)
                    rc = verify_record(&e, err, errlen);
            }
        }
    }
    free(seen.v);
    return rc;
}

static void db_stat(struct geoip_db *db)
{
    struct stat st;
    if (stat(db->path, &st) == 0) {
        db->mtime = st.st_mtim;
        db->size = st.st_size;
        db->ino = st.st_ino;
    } else {
        memset(&db->mtime, 0, sizeof(db->mtime));
        db->size = -1;
        db->ino = 0;
    }
}

int geoip_db_open(struct geoip_db *db, bool verify, char *err, size_t errlen)
{
    struct stat st;
    db_stat(db);
    if (stat(db->path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: a folder, not a database file", db->path);
        return -FL_EINVAL;
    }
    errno = 0;
    int rc = MMDB_open(db->path, MMDB_MODE_MMAP, &db->mmdb);
    if (rc != MMDB_SUCCESS) {
        if (rc == MMDB_IO_ERROR)
            snprintf(err, errlen, "%s: %s (%s)", db->path, MMDB_strerror(rc),
                     errno ? strerror(errno) : "unknown");
        else
            snprintf(err, errlen, "%s: not a usable MaxMind database: %s", db->path,
                     MMDB_strerror(rc));
        return -FL_EINVAL;
    }
    /* A build time after the year 9999 is no date: a corrupt header
     * (libmaxminddb itself overflowed formatting one). */
    if (db->mmdb.metadata.build_epoch > 253402300799ull) {
        snprintf(err, errlen, "%s: not a usable MaxMind database: build_epoch %llu is not a date",
                 db->path, (unsigned long long)db->mmdb.metadata.build_epoch);
        MMDB_close(&db->mmdb);
        return -FL_EINVAL;
    }
    if (verify) {
        char why[200];
        if (verify_tree(&db->mmdb, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: not a usable MaxMind database: %s", db->path, why);
            MMDB_close(&db->mmdb);
            return -FL_EINVAL;
        }
    }
    db->open = true;
    return 0;
}

void geoip_db_close(struct geoip_db *db)
{
    if (db->open)
        MMDB_close(&db->mmdb);
    db->open = false;
    free(db->rec_off);
    free(db->rec_val);
    db->rec_off = NULL;
    db->rec_val = NULL;
    db->nrec = 0;
}

bool geoip_db_changed(const struct geoip_db *db)
{
    struct stat st;
    if (stat(db->path, &st) != 0)
        return false;   /* being replaced (rename): look again next time */
    return st.st_mtim.tv_sec != db->mtime.tv_sec || st.st_mtim.tv_nsec != db->mtime.tv_nsec
           || st.st_size != db->size || st.st_ino != db->ino;
}

/* ---- one pass over a record's top-level map ----------------------------
 * libmaxminddb walks a record's map from its start for every path, decoding
 * (to skip) every value before the key; a key that is absent (an ASN path
 * in a City record) costs a walk over the whole record. Reading the
 * top-level map once for all first components, then handing libmaxminddb
 * the value's offset for the rest of the path, does that walk once. The
 * format is the MaxMind DB spec's (section "Data Section"); anything
 * unexpected makes the caller fall back to libmaxminddb's own walk. */
struct mm_buf { const uint8_t *d; uint32_t n; };

/* The control byte(s) at *off: type (extended types as 8..15) and size,
 * or for a pointer (type 1) the offset it points to. */
static bool mm_ctrl(const struct mm_buf *m, uint32_t *off, int *type, uint32_t *size)
{
    uint32_t o = *off;
    if (o >= m->n)
        return false;
    uint8_t b = m->d[o++];
    int t = b >> 5;
    if (t == 1) {
        uint32_t ss = (b >> 3) & 3, v = b & 7, p = 0;
        if (m->n - o < ss + 1)
            return false;
        for (uint32_t i = 0; i <= ss; i++)
            p = p << 8 | m->d[o + i];
        static const uint32_t bias[4] = { 0, 2048, 526336, 0 };
        if (ss < 3)
            p |= v << (8 * (ss + 1));
        *off = o + ss + 1;
        *type = 1;
        *size = p + bias[ss];
        return true;
    }
    if (t == 0) {
        if (o >= m->n)
            return false;
        t = 7 + m->d[o++];
    }
    uint32_t s = b & 0x1f;
    if (s >= 29) {
        uint32_t k = s - 28, x = 0;
        if (m->n - o < k)
            return false;
        for (uint32_t i = 0; i < k; i++)
            x = x << 8 | m->d[o + i];
        s = s == 29 ? 29 + x : s == 30 ? 285 + x : 65821 + x;
        o += k;
    }
    *off = o;
    *type = t;
    *size = s;
    return true;
}

/* Step over the value at *off (pointers are not followed: their bytes). */
static bool mm_skip(const struct mm_buf *m, uint32_t *off, int depth)
{
    int t;
    uint32_t s;
    if (depth > 64 || !mm_ctrl(m, off, &t, &s))
        return false;
    switch (t) {
    case 1: case 14:                    /* pointer, boolean */
        return true;
    case 2: case 3: case 4: case 5: case 6: case 8: case 9: case 10: case 15:
        if (m->n - *off < s)
            return false;
        *off += s;
        return true;
    case 7:                             /* map: key, value pairs */
        for (uint32_t i = 0; i < s; i++)
            if (!mm_skip(m, off, depth + 1) || !mm_skip(m, off, depth + 1))
                return false;
        return true;
    case 11:                            /* array */
        for (uint32_t i = 0; i < s; i++)
            if (!mm_skip(m, off, depth + 1))
                return false;
        return true;
    default:
        return false;
    }
}

/* val[k] = offset of the value under top-level key g->keys[k] of the
 * record at `off`, UINT32_MAX when absent. */
static bool scan_top(const struct geoip *g, const MMDB_s *mm, uint32_t off, uint32_t *val)
{
    struct mm_buf m = { (const uint8_t *)mm->data_section, mm->data_section_size };
    int t;
    uint32_t s;
    size_t found = 0;
    for (size_t k = 0; k < g->nkeys; k++)
        val[k] = UINT32_MAX;
    if (!mm_ctrl(&m, &off, &t, &s))
        return false;
    if (t == 1 && (off = s, !mm_ctrl(&m, &off, &t, &s)))
        return false;
    if (t != 7)
        return false;
    for (uint32_t i = 0; i < s; i++) {
        int kt;
        uint32_t ks, kd;
        if (!mm_ctrl(&m, &off, &kt, &ks))
            return false;
        if (kt == 1) {
            kd = ks;
            if (!mm_ctrl(&m, &kd, &kt, &ks))
                return false;
        } else {
            kd = off;
            if (m.n - off < ks)
                return false;
            off += ks;
        }
        if (kt != 2 || m.n - kd < ks)
            return false;
        for (size_t k = 0; k < g->nkeys; k++)
            if (val[k] == UINT32_MAX && strlen(g->keys[k]) == ks
                && memcmp(m.d + kd, g->keys[k], ks) == 0) {
                val[k] = off;
                if (++found == g->nkeys)
                    return true;   /* the rest of the record is not needed */
            }
        if (!mm_skip(&m, &off, 0))
            return false;
    }
    return true;
}

static int key_index(struct geoip *g, const char *key)
{
    for (size_t k = 0; k < g->nkeys; k++)
        if (strcmp(g->keys[k], key) == 0)
            return (int)k;
    if (g->nkeys == GEOIP_MAXKEYS)
        return -1;
    g->keys[g->nkeys] = key;
    return (int)g->nkeys++;
}

int geoip_keys_init(struct geoip *g)
{
    g->nkeys = 0;
    for (size_t c = 0; c < g->ncols; c++) {
        struct geoip_col *col = &g->cols[c];
        for (size_t k = 0; k < 4; k++)
            col->key[k] = -1;
        if (col->custom)
            col->key[0] = key_index(g, col->custom[0]);
        else
            for (size_t k = 0; k < 3 && col->paths[k]; k++)
                col->key[k] = key_index(g, col->paths[k][0]);
    }
    return 0;
}

/* ---- lookups ---------------------------------------------------------- */
/* "AS13335" or "13335" -> 13335. */
static bool parse_asn(const char *p, uint32_t n, uint32_t *out)
{
    uint64_t v = 0;
    uint32_t i = 0;
    if (n >= 2 && (p[0] == 'A' || p[0] == 'a') && (p[1] == 'S' || p[1] == 's'))
        i = 2;
    if (i == n)
        return false;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || (v = v * 10 + (uint64_t)(p[i] - '0')) > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* Convert d to the column's type; false when it does not fit. */
static bool convert(const MMDB_entry_data_s *d, enum fl_type t, struct geoip_val *v)
{
    switch (t) {
    case FL_T_STR:
        if (d->type != MMDB_DATA_TYPE_UTF8_STRING)
            return false;
        v->s.p = d->utf8_string;
        v->s.len = d->data_size;
        return true;
    case FL_T_F64:
        switch (d->type) {
        case MMDB_DATA_TYPE_DOUBLE: v->f = d->double_value; return true;
        case MMDB_DATA_TYPE_FLOAT: v->f = d->float_value; return true;
        case MMDB_DATA_TYPE_UINT16: v->f = d->uint16; return true;
        case MMDB_DATA_TYPE_UINT32: v->f = d->uint32; return true;
        case MMDB_DATA_TYPE_INT32: v->f = d->int32; return true;
        case MMDB_DATA_TYPE_UINT64: v->f = (double)d->uint64; return true;
        default: return false;
        }
    case FL_T_U32:
        switch (d->type) {
        case MMDB_DATA_TYPE_UINT16: v->u = d->uint16; return true;
        case MMDB_DATA_TYPE_UINT32: v->u = d->uint32; return true;
        case MMDB_DATA_TYPE_INT32:
            if (d->int32 < 0)
                return false;
            v->u = (uint32_t)d->int32;
            return true;
        case MMDB_DATA_TYPE_UINT64:
            if (d->uint64 > UINT32_MAX)
                return false;
            v->u = (uint32_t)d->uint64;
            return true;
        case MMDB_DATA_TYPE_UTF8_STRING:
            return parse_asn(d->utf8_string, d->data_size, &v->u);
        default: return false;
        }
    default:
        return false;
    }
}

/* Fill the columns not yet known from one database's entry. */
static void fill(struct geoip *g, MMDB_entry_s *e, struct geoip_val *vals)
{
    uint32_t top[GEOIP_MAXKEYS];
    bool scanned = scan_top(g, e->mmdb, e->offset, top);
    for (size_t c = 0; c < g->ncols; c++) {
        const struct geoip_col *col = &g->cols[c];
        if (vals[c].ok)
            continue;
        for (size_t k = 0;; k++) {
            const char *const *path = col->custom ? (k ? NULL : col->custom)
                                      : k < 3 ? col->paths[k] : NULL;
            if (!path)
                break;
            MMDB_entry_data_s d;
            MMDB_entry_s sub = *e;
            if (scanned && col->key[k] >= 0) {
                if (top[col->key[k]] == UINT32_MAX)
                    continue;   /* the record has no such key */
                sub.offset = top[col->key[k]];
                path++;
            }
            int rc = MMDB_aget_value(&sub, &d, path);
            if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || rc == MMDB_INVALID_LOOKUP_PATH_ERROR)
                continue;
            if (rc != MMDB_SUCCESS) {
                g->cnt.errors++;
                break;
            }
            if (!d.has_data)
                continue;
            if (convert(&d, col->type, &vals[c])) {
                vals[c].ok = true;
                break;
            }
            g->cnt.type_mismatch++;
        }
    }
}

/* This database's values for record e, decoded or from its record memo,
 * into the columns still missing. */
static void merge(struct geoip *g, struct geoip_db *db, MMDB_entry_s *e, struct geoip_val *vals)
{
    size_t n = g->ncols;
    if (!db->rec_off && g->record_cache_size && !db->nrec) {
        uint32_t p = 1;
        while (p < g->record_cache_size)
            p <<= 1;
        db->rec_off = calloc(p, sizeof(*db->rec_off));
        db->rec_val = calloc((size_t)p * n, sizeof(*db->rec_val));
        db->nrec = p;
        if (!db->rec_off || !db->rec_val) {   /* no memo: decode every time */
            free(db->rec_off);
            free(db->rec_val);
            db->rec_off = NULL;
            db->rec_val = NULL;
        }
    }
    struct geoip_val *rv = NULL;
    if (db->rec_off) {
        uint32_t k = (uint32_t)(((uint64_t)e->offset * 0x9e3779b97f4a7c15ull) >> 32) & (db->nrec - 1);
        rv = db->rec_val + (size_t)k * n;
        if (db->rec_off[k] != e->offset + 1) {
            for (size_t c = 0; c < n; c++)
                rv[c].ok = false;
            fill(g, e, rv);
            db->rec_off[k] = e->offset + 1;
        }
    } else {
        rv = g->cache.scratch2;
        for (size_t c = 0; c < n; c++)
            rv[c].ok = false;
        fill(g, e, rv);
    }
    for (size_t c = 0; c < n; c++)
        if (!vals[c].ok && rv[c].ok)
            vals[c] = rv[c];
}

bool geoip_lookup(struct geoip *g, const struct fl_addr *a, struct geoip_val *vals)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
    const struct sockaddr *sa;
    bool found = false;

    /* IPv4 as AF_INET: libmaxminddb then walks from the IPv4 subtree
     * (::a.b.c.d) of an IPv6 database, or the root of an IPv4 one. The
     * IPv4-mapped form would miss in an IPv6 tree. */
    if (fl_addr_is_v4(a)) {
        memcpy(&sin.sin_addr, a->b + 12, 4);
        sa = (const struct sockaddr *)&sin;
    } else {
        memcpy(&sin6.sin6_addr, a->b, 16);
        sa = (const struct sockaddr *)&sin6;
    }
    for (size_t c = 0; c < g->ncols; c++)
        vals[c].ok = false;
    for (size_t i = 0; i < g->ndbs; i++) {
        int mrc = 0;
        if (!g->dbs[i].open)
            continue;
        MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&g->dbs[i].mmdb, sa, &mrc);
        if (mrc == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
            continue;   /* an IPv4-only database has no answer for IPv6 */
        if (mrc != MMDB_SUCCESS) {
            g->cnt.errors++;
            continue;
        }
        if (!r.found_entry)
            continue;
        found = true;
        merge(g, &g->dbs[i], &r.entry, vals);
    }
    return found;
}
