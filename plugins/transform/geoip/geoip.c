/* geoip.c: transform.geoip, enrichment of address fields from MaxMind-
 * format databases (GeoIP2/GeoLite2 City, Country, ASN, or any database in
 * that format with `paths:`).
 *
 * Every output batch shares the input's columns (fl_batch_derive) and adds
 * one column per (address field, attribute): src_country, dst_asn, ... A
 * value no database has is missing. Lookups go through a per-stage cache;
 * a database file that changes (mtime, size or inode, looked at every
 * reload_check) or a SIGHUP is reopened between batches: the new one is
 * opened and verified first, then swapped in, so no record is dropped and
 * a broken update leaves the old database in use. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geoip.h"

static const struct fl_opt geoip_opts[] = {
    { .name = "databases", .type = FL_OPT_PATHS, .offset = offsetof(struct geoip, databases),
      .flags = FL_OPT_REQUIRED,
      .doc = "MaxMind-format databases (.mmdb): City, Country, ASN or any other, "
             "together; each attribute comes from the first one that has it" },
    { .name = "lookup", .type = FL_OPT_LIST, .offset = offsetof(struct geoip, lookup),
      .def = "[src_addr, dst_addr]",
      .doc = "address fields to look up; the columns are named after them without "
             "_addr: src_country, dst_asn" },
    { .name = "attributes", .type = FL_OPT_LIST, .offset = offsetof(struct geoip, attributes),
      .def = "[country, asn]", .choices = geoip_attr_names,
      .doc = "what to add per address: country (ISO 3166-1 code), country_name, city, "
             "region (first subdivision's name), region_code, lat, lon (degrees), asn, "
             "as_org" },
    { .name = "paths", .type = FL_OPT_MAP, .offset = offsetof(struct geoip, paths),
      .doc = "column suffix -> data path for flat databases (ipinfo, ip-location-db): "
             "{country: country_code, asn: asn}; components separated by '.', array "
             "indexes as numbers (subdivisions.0.iso_code). A known attribute keeps its "
             "type (asn also reads \"AS13335\"); any other suffix is a string" },
    { .name = "cache_size", .type = FL_OPT_UINT, .offset = offsetof(struct geoip, cache_size),
      .def = "65536", .max = "16777216", .unit = "addresses",
      .doc = "recent lookups kept (rounded up to a power of two); 0 = no cache" },
    { .name = "record_cache_size", .type = FL_OPT_UINT,
      .offset = offsetof(struct geoip, record_cache_size), .def = "4096", .max = "16777216",
      .unit = "records",
      .doc = "data records whose decoded values each database keeps (rounded up to a power "
             "of two): addresses of one city share one; 0 = decode every lookup" },
    { .name = "reload_check", .type = FL_OPT_DURATION,
      .offset = offsetof(struct geoip, reload_check), .def = "5s",
      .doc = "how often to look whether a database file changed (then it is reloaded); "
             "0 = only on SIGHUP" },
    { .name = "verify", .type = FL_OPT_BOOL, .offset = offsetof(struct geoip, verify),
      .def = "true",
      .doc = "at open, walk the whole search tree and decode every record, so a corrupt "
             "database is refused at check or start instead of failing lookups" },
    { 0 }
};

/* ---- options ---------------------------------------------------------- */
static int find_attr(const char *name)
{
    for (int i = 0; i < GEOIP_NATTR; i++)
        if (strcmp(geoip_attr_names[i], name) == 0)
            return i;
    return GEOIP_CUSTOM;
}

static bool suffix_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Split "a.b.0.c" into col->custom. Empty components are an error. */
static int split_path(struct fl_ctx *ctx, struct geoip_col *col, const char *key, const char *path)
{
    size_t n = 1, len = strlen(path);
    for (const char *p = path; *p; p++)
        n += *p == '.';
    if (!len || path[0] == '.' || path[len - 1] == '.' || strstr(path, ".."))
        return fl_diag(ctx, "paths", "paths: %s: \"%s\" is not a data path (names and array "
                       "indexes separated by '.', e.g. country.iso_code)", key, path);
    if (!(col->custom_buf = strdup(path)) || !(col->custom = calloc(n + 1, sizeof(char *))))
        return -FL_ENOMEM;
    size_t i = 0;
    for (char *save = NULL, *t = strtok_r(col->custom_buf, ".", &save); t;
         t = strtok_r(NULL, ".", &save))
        col->custom[i++] = t;
    return 0;
}

static int add_col(struct geoip *g, const char *suffix, int attr)
{
    for (size_t i = 0; i < g->ncols; i++)
        if (strcmp(g->cols[i].suffix, suffix) == 0)
            return (int)i;
    struct geoip_col *c = &g->cols[g->ncols];
    c->suffix = suffix;
    c->attr = attr;
    c->type = attr == GEOIP_CUSTOM ? FL_T_STR : geoip_attr_type(attr);
    c->paths = geoip_attr_paths(attr);
    return (int)g->ncols++;
}

/* The output column name for lookup field f and column c: the field's name
 * without _addr, '_', the suffix; a registered alias becomes its canonical
 * name when the types agree (src_asn is the registry's src_as). */
static int make_names(struct fl_ctx *ctx, struct geoip *g)
{
    if (!(g->names = calloc(g->lookup.n * g->ncols, sizeof(char *))))
        return -FL_ENOMEM;
    for (size_t f = 0; f < g->lookup.n; f++) {
        const char *field = g->lookup.v[f];
        size_t flen = strlen(field);
        if (flen > 5 && strcmp(field + flen - 5, "_addr") == 0)
            flen -= 5;
        for (size_t c = 0; c < g->ncols; c++) {
            size_t n = flen + 1 + strlen(g->cols[c].suffix) + 1;
            char *name = malloc(n);
            if (!name)
                return -FL_ENOMEM;
            snprintf(name, n, "%.*s_%s", (int)flen, field, g->cols[c].suffix);
            const struct fl_field *reg = fl_field_find(name);
            if (reg && reg->type == g->cols[c].type && strcmp(reg->name, name) != 0) {
                free(name);
                if (!(name = strdup(reg->name)))
                    return -FL_ENOMEM;
            }
            for (size_t k = 0; k < f * g->ncols + c; k++)
                if (strcmp(g->names[k], name) == 0) {
                    free(name);
                    return fl_diag(ctx, "lookup", "lookup: two columns would be named \"%s\"",
                                   g->names[k]);
                }
            g->names[f * g->ncols + c] = name;
        }
    }
    return 0;
}

/* Options -> columns, names and the binding of the address fields (in
 * describe, and again in init: describe keeps nothing). */
static int geoip_setup(struct fl_ctx *ctx, struct geoip *g)
{
    int rc;
    if (g->cols)
        return 0;
    if (!g->lookup.n)
        return fl_diag(ctx, "lookup", "lookup: name at least one address field");
    if (!g->attributes.n && !g->paths.n)
        return fl_diag(ctx, "attributes", "attributes: name at least one attribute (or give paths)");
    if (!(g->cols = calloc(g->attributes.n + g->paths.n, sizeof(*g->cols))))
        return -FL_ENOMEM;
    for (size_t i = 0; i < g->attributes.n; i++)
        add_col(g, g->attributes.v[i], find_attr(g->attributes.v[i]));
    int bad = 0;   /* every bad entry reported, not only the first */
    for (size_t i = 0; i < g->paths.n; i++) {
        const char *key = g->paths.key[i];
        if (!suffix_ok(key)) {
            bad = fl_diag(ctx, "paths", "paths: \"%s\" is not a column suffix (lowercase "
                          "letters, digits and _)", key);
            continue;
        }
        struct geoip_col *c = &g->cols[add_col(g, key, find_attr(key))];
        if (c->custom) {
            bad = fl_diag(ctx, "paths", "paths: \"%s\" is given twice", key);
            continue;
        }
        if ((rc = split_path(ctx, c, key, g->paths.val[i])) < 0) {
            if (rc != -FL_EINVAL)
                return rc;
            bad = rc;
        }
    }
    if (bad < 0)
        return bad;
    if ((rc = make_names(ctx, g)) < 0 || (rc = geoip_keys_init(g)) < 0)
        return rc;
    struct fl_want *w = calloc(g->lookup.n, sizeof(*w));
    if (!w)
        return -FL_ENOMEM;
    for (size_t f = 0; f < g->lookup.n; f++)
        w[f] = (struct fl_want){ .name = g->lookup.v[f], .type = FL_T_ADDR,
                                 .flags = FL_WANT_NAMED };
    rc = fl_bind_new(ctx, w, g->lookup.n, sizeof(w[0]), &g->bind);
    free(w);
    return rc;
}

/* Everything setup, init and process allocated. describe() runs without
 * a fini (flowline check), and a failed init gets none either, so both
 * call this themselves. */
static void geoip_free(struct fl_ctx *ctx, struct geoip *g)
{
    for (size_t i = 0; g->dbs && i < g->ndbs; i++)
        geoip_db_close(&g->dbs[i]);
    free(g->dbs);
    g->dbs = NULL;
    g->ndbs = 0;
    geoip_cache_free(&g->cache);
    for (size_t i = 0; i < g->nmaps; i++) {
        free(g->maps[i].src);
        free(g->maps[i].ours);
    }
    free(g->maps);
    g->maps = NULL;
    g->nmaps = 0;
    for (size_t i = 0; g->names && i < g->lookup.n * g->ncols; i++)
        free(g->names[i]);
    free(g->names);
    g->names = NULL;
    for (size_t i = 0; g->cols && i < g->ncols; i++) {
        free(g->cols[i].custom);
        free(g->cols[i].custom_buf);
    }
    free(g->cols);
    g->cols = NULL;
    g->ncols = 0;
    if (g->bind)
        fl_bind_destroy(ctx, &g->bind);
}

/* ---- schemas ---------------------------------------------------------- */
/* The output schema for input schema `in` (NULL: open input, our columns
 * only as far as describe can tell) and its column map. Input columns
 * named like one of ours are replaced: the enrichment wins. */
static int geoip_map_for(struct fl_ctx *ctx, struct geoip *g, const struct fl_schema *in,
                         struct geoip_map **out)
{
    for (size_t i = 0; i < g->nmaps; i++)
        if (g->maps[i].in == in) {
            *out = &g->maps[i];
            return 0;
        }
    size_t nours = g->lookup.n * g->ncols, nin = in ? in->ncols : 0, n = 0;
    struct fl_col_def *defs = calloc(nin + nours, sizeof(*defs));
    struct geoip_map m = { .in = in };
    m.src = calloc(nin + nours, sizeof(int));
    m.ours = calloc(nours, sizeof(int));
    int rc = -FL_ENOMEM;
    if (!defs || !m.src || !m.ours)
        goto fail;
    for (size_t i = 0; i < nin; i++) {
        bool replaced = false;
        for (size_t k = 0; k < nours && !replaced; k++)
            replaced = strcmp(in->cols[i]->name, g->names[k]) == 0;
        if (replaced)
            continue;
        defs[n] = (struct fl_col_def){ .name = in->cols[i]->name, .type = in->cols[i]->type };
        m.src[n++] = (int)i;
    }
    for (size_t k = 0; k < nours; k++) {
        defs[n] = (struct fl_col_def){ .name = g->names[k], .type = g->cols[k % g->ncols].type };
        m.ours[k] = (int)n;
        m.src[n++] = -1;
    }
    if ((rc = fl_schema_intern(ctx, defs, n, sizeof(defs[0]), &m.out)) < 0)
        goto fail;
    struct geoip_map *maps = realloc(g->maps, (g->nmaps + 1) * sizeof(*maps));
    if (!maps) {
        rc = -FL_ENOMEM;
        goto fail;
    }
    g->maps = maps;
    g->maps[g->nmaps] = m;
    *out = &g->maps[g->nmaps++];
    free(defs);
    return 0;
fail:
    free(defs);
    free(m.src);
    free(m.ours);
    return rc;
}

static int geoip_describe_(struct fl_ctx *ctx, struct geoip *g, const struct fl_schema *const *in,
                           size_t n_in, struct fl_schema_decl *const *out)
{
    struct geoip_map *m;
    int rc;

    if ((rc = geoip_setup(ctx, g)) < 0 || (rc = fl_bind_check(ctx, g->bind, "lookup", in, n_in)) < 0)
        return rc;
    /* Open each database now, so `flowline check` reports a missing or
     * broken one; a read-only mapping, closed again at once. */
    int bad = 0;
    for (size_t i = 0; i < g->databases.n; i++) {
        struct geoip_db db = { .path = g->databases.v[i] };
        char err[512];
        if ((rc = fl_path_declare(ctx, "databases", db.path, FL_PATH_READ)) < 0)
            return rc;
        /* Missing or unreadable: the core's path check says so. */
        if (access(db.path, R_OK) != 0)
            continue;
        if (geoip_db_open(&db, g->verify, err, sizeof err) < 0)
            bad = fl_diag(ctx, "databases", "cannot use database %s", err);
        geoip_db_close(&db);
    }
    if (bad < 0)
        return bad;
    /* Several inputs of different schemas: the first one's shape is
     * declared (the others get theirs at run time, like an open input). */
    const struct fl_schema *first = n_in ? in[0] : NULL;
    if (!first) {
        out[0]->schema = NULL;
        return 0;
    }
    if ((rc = geoip_map_for(ctx, g, first, &m)) < 0)
        return rc;
    out[0]->schema = n_in == 1 ? m->out : NULL;
    return 0;
}

/* The output schema is interned (it outlives the stage state): nothing
 * describe built is kept. */
static int geoip_describe(struct fl_ctx *ctx, void *state, const struct fl_schema *const *in,
                          size_t n_in, struct fl_schema_decl *const *out)
{
    int rc = geoip_describe_(ctx, state, in, n_in, out);
    geoip_free(ctx, state);
    return rc;
}

/* ---- life cycle ------------------------------------------------------- */
static int geoip_init_(struct fl_ctx *ctx, struct geoip *g)
{
    int rc;

    if ((rc = geoip_setup(ctx, g)) < 0)
        return rc;
    if (!(g->dbs = calloc(g->databases.n, sizeof(*g->dbs))))
        return -FL_ENOMEM;
    g->ndbs = g->databases.n;
    for (size_t i = 0; i < g->ndbs; i++) {
        char err[512];
        g->dbs[i].path = g->databases.v[i];
        if (geoip_db_open(&g->dbs[i], g->verify, err, sizeof err) < 0) {
            FL_LOG_ERROR(ctx, "cannot use database %s", err);
            return -FL_EINVAL;
        }
        FL_LOG_DEBUG(ctx, "%s: %s, %u nodes, built %llu", g->dbs[i].path,
                     g->dbs[i].mmdb.metadata.database_type, g->dbs[i].mmdb.metadata.node_count,
                     (unsigned long long)g->dbs[i].mmdb.metadata.build_epoch);
    }
    if ((rc = geoip_cache_init(&g->cache, g->cache_size, g->ncols)) < 0)
        return rc;
    g->next_check_ns = fl_now_ns() + g->reload_check;
    return 0;
}

static int geoip_init(struct fl_ctx *ctx, void *state)
{
    int rc = geoip_init_(ctx, state);
    if (rc < 0)
        geoip_free(ctx, state);
    return rc;
}

static void geoip_count(struct fl_ctx *ctx, struct geoip *g)
{
    static const struct { const char *name; size_t off; } c[] = {
        { "lookups", offsetof(struct geoip_counts, lookups) },
        { "cache_hits", offsetof(struct geoip_counts, hits) },
        { "cache_misses", offsetof(struct geoip_counts, misses) },
        { "not_found", offsetof(struct geoip_counts, not_found) },
        { "lookup_errors", offsetof(struct geoip_counts, errors) },
        { "type_mismatch", offsetof(struct geoip_counts, type_mismatch) },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint64_t *v = (uint64_t *)((char *)&g->cnt + c[i].off);
        if (*v)
            fl_counter_add(ctx, c[i].name, *v);
        *v = 0;
    }
}

/* Reopen the databases (all with `force`, else the changed ones). The new
 * one is opened beside the old and swapped in only when it verifies. */
static int geoip_reopen(struct fl_ctx *ctx, struct geoip *g, bool force)
{
    bool any = false;
    for (size_t i = 0; i < g->ndbs; i++) {
        struct geoip_db *old = &g->dbs[i];
        if (!force && !geoip_db_changed(old))
            continue;
        struct geoip_db db = { .path = old->path };
        char err[512];
        if (geoip_db_open(&db, g->verify, err, sizeof err) < 0) {
            /* Remember this version of the file: no retry until it changes. */
            old->mtime = db.mtime;
            old->size = db.size;
            old->ino = db.ino;
            FL_LOG_ERROR(ctx, "reload: %s; still using the database loaded before", err);
            fl_counter_add(ctx, "reload_failures", 1);
            continue;
        }
        geoip_db_close(old);
        *old = db;
        any = true;
        fl_counter_add(ctx, "reloads", 1);
        FL_LOG_INFO(ctx, "reloaded %s (%s, built %llu)", db.path, db.mmdb.metadata.database_type,
                    (unsigned long long)db.mmdb.metadata.build_epoch);
    }
    if (any)   /* cached strings point into the closed mapping */
        geoip_cache_clear(&g->cache);
    return 0;
}

static void geoip_maybe_reload(struct fl_ctx *ctx, struct geoip *g)
{
    if (!g->reload_check)
        return;
    uint64_t now = fl_now_ns();
    if (now < g->next_check_ns)
        return;
    g->next_check_ns = now + g->reload_check;
    (void)geoip_reopen(ctx, g, false);
}

static int geoip_reload(struct fl_ctx *ctx, void *state)
{
    return geoip_reopen(ctx, state, true);
}

static int geoip_tick(struct fl_ctx *ctx, void *state, uint64_t now_ns)
{
    (void)now_ns;   /* record time for files: the file check needs wall time */
    geoip_maybe_reload(ctx, state);
    return 0;
}

/* ---- process ---------------------------------------------------------- */
/* A string cell: the same database string goes into the batch's arena
 * once. */
static int put_str(struct geoip *g, struct fl_batch *b, const struct geoip_val *v,
                   struct fl_span *cell)
{
    size_t h = ((uintptr_t)v->s.p * 0x9e3779b97f4a7c15ull) >> 56;
    if (g->strs[h].stamp == g->stamp && g->strs[h].p == v->s.p) {
        *cell = g->strs[h].sp;
        return 0;
    }
    int rc = fl_batch_put_bytes(b, v->s.p, v->s.len, cell);
    if (rc < 0)
        return rc;
    g->strs[h].p = v->s.p;
    g->strs[h].sp = *cell;
    g->strs[h].stamp = g->stamp;
    return 0;
}

static int geoip_process(struct fl_ctx *ctx, void *state, struct fl_batch *in)
{
    struct geoip *g = state;
    struct geoip_map *m;
    struct fl_batch *b = NULL;
    int rc;

    geoip_maybe_reload(ctx, g);
    if ((rc = fl_bind_batch(ctx, g->bind, in)) < 0)
        return rc == -FL_ENOENT ? 0 : rc;
    if ((rc = geoip_map_for(ctx, g, in->schema, &m)) < 0
        || (rc = fl_batch_derive(ctx, in, m->out, m->src, &b)) < 0)
        return rc;
    g->stamp++;
    for (size_t f = 0; f < g->lookup.n; f++) {
        const struct fl_addr *addr = fl_bind_data(g->bind, f);
        const uint64_t *valid = fl_bind_valid(g->bind, f);
        const int *ours = m->ours + f * g->ncols;
        bool absent = fl_bind_col(g->bind, f) < 0;
        for (uint32_t r = 0; r < b->rows; r++) {
            const struct geoip_val *v = NULL;
            if (!absent && fl_bind_row_valid(valid, r))
                v = geoip_cache_get(g, &addr[r]);
            for (size_t c = 0; c < g->ncols; c++) {
                uint32_t col = (uint32_t)ours[c];
                if (!v || !v[c].ok) {
                    if ((rc = fl_batch_set_missing(b, col, r)) < 0)
                        goto out;
                    continue;
                }
                switch (g->cols[c].type) {
                case FL_T_STR:
                    if ((rc = put_str(g, b, &v[c], &FL_COL(b, col, struct fl_span)[r])) < 0)
                        goto out;
                    break;
                case FL_T_F64: FL_COL(b, col, double)[r] = v[c].f; break;
                default: FL_COL(b, col, uint32_t)[r] = v[c].u; break;
                }
            }
        }
    }
    /* Missing cells still hold defined bytes (outputs may read them). */
    for (size_t k = 0; k < g->lookup.n * g->ncols; k++) {
        uint32_t col = (uint32_t)m->ours[k];
        if (!b->valid[col])
            continue;
        size_t sz = fl_type_size(m->out->cols[col]->type);
        for (uint32_t r = 0; r < b->rows; r++)
            if (!fl_batch_is_valid(b, col, r))
                memset((char *)b->data[col] + r * sz, 0, sz);
    }
    rc = fl_emit(ctx, &b);
out:
    fl_batch_release(&b);
    geoip_count(ctx, g);
    return rc;
}

static void geoip_fini(struct fl_ctx *ctx, void *state)
{
    geoip_free(ctx, state);
}

FL_PLUGIN_DEFINE(.kind = FL_KIND_TRANSFORM, .name = "geoip", .version = "0.1.0",
                 .summary = "add country, city, location and AS of address fields from "
                            "MaxMind-format databases (libmaxminddb)",
                 .opts = geoip_opts, .state_size = sizeof(struct geoip),
                 .describe = geoip_describe, .init = geoip_init, .tick = geoip_tick,
                 .process = geoip_process, .reload = geoip_reload, .fini = geoip_fini);
