/* test_geoip.c: transform.geoip loaded through the harness on the MaxMind
 * test databases (../shared/data/mmdb). Every attribute of every address
 * must equal what mmdblookup (mmdb-bin) prints for the same address and
 * path, with and without the cache; IPv4 in IPv6 trees; several databases
 * together; column names and types; reload on a changed file and on SIGHUP
 * (a broken update keeps the old database); every broken database refused,
 * the well-formed ones among bad-data/ read; option errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include <flowline/plugin.h>
#include "fl_harness.h"

static struct fl_ctx *tctx;
static const struct fl_schema *in_s;
static char mmdb[256];
static const struct fl_col_def in_cols[] = {
    { "src_addr", FL_T_ADDR }, { "bytes", FL_T_U64 }, { "dst_addr", FL_T_ADDR },
};

/* Addresses from the test databases' source JSON, plus some in none. */
static const char *const addrs[] = {
    "81.2.69.142", "81.2.69.160", "89.160.20.112", "89.160.20.128", "216.160.83.56",
    "2.125.160.216", "175.16.199.1", "67.43.156.1", "202.196.224.1", "1.0.0.1",
    "1.128.0.1", "12.81.92.1", "2001:218::1", "2a02:cf40::1", "2001:480::1", "2600:7000::1",
    "2a02:d280::1", "10.0.0.1", "::1", "1.1.1.1", "1.1.1.3", "1.1.1.32", "::1.1.1.1",
    "::ffff:1.1.1.1", "::2:0:58", "2001:0:101:101::1",
};
#define NADDR (sizeof addrs / sizeof addrs[0])

static int group_setup(void **state)
{
    (void)state;
    const char *d = fl_test_data_dir();
    assert_non_null(d);
    snprintf(mmdb, sizeof mmdb, "%s/mmdb", d);
    tctx = fl_test_ctx_new();
    assert_non_null(tctx);
    assert_int_equal(fl_schema_intern(tctx, in_cols, 3, sizeof(in_cols[0]), &in_s), 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fl_test_ctx_destroy(&tctx);
    return 0;
}

static void parse_addr(const char *s, struct fl_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->b + 12) == 1)
        a->b[10] = a->b[11] = 0xff;
    else
        assert_int_equal(inet_pton(AF_INET6, s, a->b), 1);
}

/* One batch: src_addr = addrs[i], dst_addr = addrs[n-1-i]. */
static struct fl_batch *addr_batch(struct fl_harness *h)
{
    struct fl_batch *b;
    assert_int_equal(fl_batch_new(fl_harness_ctx(h), in_s, NADDR, &b), 0);
    for (uint32_t i = 0; i < NADDR; i++) {
        parse_addr(addrs[i], &FL_COL(b, 0, struct fl_addr)[i]);
        FL_COL(b, 1, uint64_t)[i] = i;
        parse_addr(addrs[NADDR - 1 - i], &FL_COL(b, 2, struct fl_addr)[i]);
    }
    b->rows = NADDR;
    return b;
}

/* What mmdblookup prints for path (space-separated) of addr: the value as
 * text (strings unquoted, numbers as printed) in out, and its type name;
 * false when it prints no scalar. */
static bool mmdblookup(const char *db, const char *addr, const char *path, char *out,
                       size_t len, char *type, size_t tlen)
{
    char cmd[1024], line[1024];
    snprintf(cmd, sizeof cmd, "mmdblookup --file '%s' --ip '%s' %s 2>/dev/null", db, addr, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    bool got = false;
    while (!got && fgets(line, sizeof line, p)) {
        char *s = line + strspn(line, " ");
        char *lt = strrchr(s, '<');
        if (!lt || s[0] == '{' || s[0] == '[')
            continue;
        char *gt = strchr(lt, '>');
        if (!gt)
            continue;
        snprintf(type, tlen, "%.*s", (int)(gt - lt - 1), lt + 1);
        size_t n = (size_t)(lt - s);
        while (n && s[n - 1] == ' ')
            n--;
        if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
            s++;
            n -= 2;
        }
        snprintf(out, len, "%.*s", (int)n, s);
        got = true;
    }
    while (fgets(line, sizeof line, p))
        ;
    pclose(p);
    return got;
}

struct attr { const char *suffix, *paths[3]; enum fl_type type; };
static const struct attr attrs[] = {
    { "country", { "country iso_code" }, FL_T_STR },
    { "country_name", { "country names en" }, FL_T_STR },
    { "city", { "city names en" }, FL_T_STR },
    { "region", { "subdivisions 0 names en" }, FL_T_STR },
    { "region_code", { "subdivisions 0 iso_code" }, FL_T_STR },
    { "lat", { "location latitude" }, FL_T_F64 },
    { "lon", { "location longitude" }, FL_T_F64 },
    { "asn", { "autonomous_system_number", "traits autonomous_system_number" }, FL_T_U32 },
    { "as_org", { "autonomous_system_organization", "traits autonomous_system_organization" },
      FL_T_STR },
};
#define ALL_ATTRS "[country, country_name, city, region, region_code, lat, lon, asn, as_org]"

/* Cell (row r, column `name`) of batch b as mmdblookup would print it;
 * false when missing. */
static bool cell_text(const struct fl_batch *b, const char *name, uint32_t r, char *out, size_t len)
{
    int c = fl_schema_find(b->schema, name);
    assert_true(c >= 0);
    if (!fl_batch_is_valid(b, (uint32_t)c, r))
        return false;
    switch (b->schema->cols[c]->type) {
    case FL_T_STR: {
        struct fl_span sp = FL_COL(b, c, struct fl_span)[r];
        snprintf(out, len, "%.*s", (int)sp.len, fl_batch_bytes(b, sp));
        break;
    }
    case FL_T_F64: snprintf(out, len, "%f", FL_COL(b, c, double)[r]); break;
    case FL_T_U32: snprintf(out, len, "%u", FL_COL(b, c, uint32_t)[r]); break;
    default: fail_msg("column %s has type %s", name, fl_type_name(b->schema->cols[c]->type));
    }
    return true;
}

/* The address as mmdblookup is asked: flowline stores IPv4 as
 * ::ffff:a.b.c.d, which is the IPv4 address (RFC 4291 2.5.5.2), so that
 * form is asked as a.b.c.d. */
static const char *query_form(const char *a)
{
    return strncmp(a, "::ffff:", 7) == 0 && strchr(a, '.') ? a + 7 : a;
}

#define NATTR (sizeof attrs / sizeof attrs[0])
struct want { char text[256], type[32]; bool has; };

/* Run `file` with every attribute over addrs, without and with the cache;
 * compare each cell with mmdblookup on the same file. */
static void compare_db(const char *file)
{
    char path[640], yaml[2048];
    static struct want want[NADDR][NATTR];
    unsigned present = 0;
    snprintf(path, sizeof path, "%s/%s", mmdb, file);
    for (size_t r = 0; r < NADDR; r++)
        for (size_t a = 0; a < NATTR; a++) {
            struct want *w = &want[r][a];
            w->has = false;
            for (size_t p = 0; !w->has && attrs[a].paths[p]; p++)
                w->has = mmdblookup(path, query_form(addrs[r]), attrs[a].paths[p], w->text,
                                    sizeof w->text, w->type, sizeof w->type);
            present += w->has;
        }
    assert_true(present > 0);
    /* no cache at all; the record cache only; both */
    for (int conf = 0; conf < 3; conf++) {
        struct fl_harness *h;
        unsigned checked = 0;
        uint64_t cache = conf == 2 ? 4096 : 0;
        snprintf(yaml, sizeof yaml, "{databases: [%s], attributes: " ALL_ATTRS
                 ", cache_size: %llu, record_cache_size: %d}", path, (unsigned long long)cache,
                 conf ? 4096 : 0);
        assert_int_equal(fl_harness_new("transform.geoip", yaml, in_s, &h), 0);
        struct fl_batch *b = addr_batch(h);
        /* twice: the second pass is served by the cache when there is one */
        for (int pass = 0; pass < 2; pass++)
            assert_int_equal(fl_harness_push(h, b), 0);
        fl_batch_release(&b);
        assert_int_equal(fl_harness_n_out(h), 2);
        for (size_t k = 0; k < 2; k++) {
            const struct fl_batch *o = fl_harness_out(h, k);
            assert_int_equal(o->rows, NADDR);
            for (uint32_t r = 0; r < NADDR; r++) {
                assert_int_equal(FL_COL(o, fl_schema_find(o->schema, "bytes"), uint64_t)[r], r);
                for (size_t a = 0; a < NATTR; a++) {
                    const struct want *w = &want[r][a];
                    for (int side = 0; side < 2; side++) {
                        char name[64], got[512];
                        snprintf(name, sizeof name, "%s_%s", side ? "dst" : "src",
                                 attrs[a].suffix);
                        uint32_t row = side ? (uint32_t)(NADDR - 1 - r) : r;
                        bool ours = cell_text(o, name, row, got, sizeof got);
                        if (w->has != ours || (ours && strcmp(w->text, got) != 0))
                            fail_msg("%s %s %s: mmdblookup %s (%s), transform.geoip %s", file,
                                     addrs[r], name, w->has ? w->text : "missing", w->type,
                                     ours ? got : "missing");
                        checked++;
                    }
                }
            }
        }
        /* ::ffff:1.1.1.1 and 1.1.1.1 are one address: NADDR - 1 distinct */
        assert_int_equal(fl_harness_counter(h, "lookups"), 4 * NADDR);
        assert_int_equal(fl_harness_counter(h, "cache_misses"), cache ? NADDR - 1 : 0);
        assert_int_equal(fl_harness_counter(h, "cache_hits"), cache ? 3 * NADDR + 1 : 0);
        assert_int_equal(fl_harness_counter(h, "lookup_errors"), 0);
        print_message("%s (cache %llu, record cache %d): %u cells equal to mmdblookup "
                      "(%u of %zu present)\n", file, (unsigned long long)cache, conf ? 4096 : 0,
                      checked, present, NADDR * NATTR);
        fl_harness_destroy(&h);
    }
}

static void vs_mmdblookup(void **state)
{
    (void)state;
    static const char *const dbs[] = {
        "GeoIP2-City-Test.mmdb", "GeoIP2-Country-Test.mmdb", "GeoLite2-ASN-Test.mmdb",
        "GeoIP2-Enterprise-Test.mmdb", "GeoIP2-City-Shield-Test.mmdb",
        "GeoIP2-Precision-Enterprise-Shield-Test.mmdb",
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        compare_db(dbs[i]);
    }
}

/* The "Test" databases hold {ip: "<the network>"} under IPv4 and IPv6
 * trees (mixed: IPv4 under ::a.b.c.d). A custom path reads them; every
 * address must give what mmdblookup gives. */
static void custom_path_ipv4_in_ipv6(void **state)
{
    (void)state;
    static const char *const dbs[] = {
        "MaxMind-DB-test-ipv4-24.mmdb", "MaxMind-DB-test-ipv4-28.mmdb",
        "MaxMind-DB-test-ipv4-32.mmdb", "MaxMind-DB-test-ipv6-24.mmdb",
        "MaxMind-DB-test-mixed-24.mmdb", "MaxMind-DB-test-mixed-28.mmdb",
        "MaxMind-DB-test-mixed-32.mmdb", "MaxMind-DB-no-ipv4-search-tree.mmdb",
        "MaxMind-DB-string-value-entries.mmdb",
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        char path[640], yaml[2048];
        struct fl_harness *h;
        snprintf(path, sizeof path, "%s/%s", mmdb, dbs[i]);
        snprintf(yaml, sizeof yaml, "{databases: [%s], lookup: [src_addr], attributes: [], "
                 "paths: {ip: ip}}", path);
        assert_int_equal(fl_harness_new("transform.geoip", yaml, in_s, &h), 0);
        struct fl_batch *b = addr_batch(h);
        assert_int_equal(fl_harness_push(h, b), 0);
        fl_batch_release(&b);
        const struct fl_batch *o = fl_harness_out(h, 0);
        assert_int_equal(o->schema->ncols, 4);   /* src_addr, bytes, dst_addr, src_ip */
        unsigned present = 0;
        for (uint32_t r = 0; r < NADDR; r++) {
            char want[256] = "", type[32], got[256];
            /* string-value-entries holds the string itself, not a map */
            bool has = mmdblookup(path, query_form(addrs[r]), "ip", want, sizeof want, type, sizeof type)
                       && strcmp(type, "utf8_string") == 0;
            bool ours = cell_text(o, "src_ip", r, got, sizeof got);
            if (has != ours || (has && strcmp(want, got) != 0))
                fail_msg("%s %s: mmdblookup %s, transform.geoip %s", dbs[i], addrs[r],
                         has ? want : "missing", ours ? got : "missing");
            present += has;
        }
        if (strstr(dbs[i], "mixed"))
            assert_true(present >= 4);   /* 1.1.1.1 found as IPv4 in the IPv6 tree */
        fl_harness_destroy(&h);
    }
}

/* Country from the City database, AS from the ASN one; names and types. */
static void several_databases(void **state)
{
    (void)state;
    char yaml[2048];
    struct fl_harness *h;
    snprintf(yaml, sizeof yaml, "{databases: [%s/GeoIP2-City-Test.mmdb, %s/GeoLite2-ASN-Test.mmdb], "
             "attributes: [country, city, lat, asn, as_org]}", mmdb, mmdb);
    assert_int_equal(fl_harness_new("transform.geoip", yaml, in_s, &h), 0);
    const struct fl_schema *s = fl_harness_out_schema(h);
    assert_non_null(s);
    static const struct { const char *name; enum fl_type t; } want[] = {
        { "src_addr", FL_T_ADDR }, { "bytes", FL_T_U64 }, { "dst_addr", FL_T_ADDR },
        { "src_country", FL_T_STR }, { "src_city", FL_T_STR }, { "src_lat", FL_T_F64 },
        { "src_as", FL_T_U32 }, { "src_as_org", FL_T_STR }, { "dst_country", FL_T_STR },
        { "dst_city", FL_T_STR }, { "dst_lat", FL_T_F64 }, { "dst_as", FL_T_U32 },
        { "dst_as_org", FL_T_STR },
    };
    assert_int_equal(s->ncols, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < s->ncols; i++) {
        assert_string_equal(s->cols[i]->name, want[i].name);
        assert_int_equal(s->cols[i]->type, want[i].t);
    }
    assert_int_equal(fl_schema_find(s, "src_asn"), 6);   /* the registry's alias */
    struct fl_batch *b = addr_batch(h);
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
    const struct fl_batch *o = fl_harness_out(h, 0);
    assert_ptr_equal(o->schema, s);
    char got[256];
    /* 89.160.20.112: SE in City, AS29518 in ASN */
    assert_true(cell_text(o, "src_country", 2, got, sizeof got));
    assert_string_equal(got, "SE");
    assert_true(cell_text(o, "src_as", 2, got, sizeof got));
    assert_string_equal(got, "29518");
    assert_true(cell_text(o, "src_as_org", 2, got, sizeof got));
    assert_string_equal(got, "Bredband2 AB");
    /* 1.0.0.1: only in ASN */
    assert_false(cell_text(o, "src_country", 9, got, sizeof got));
    assert_true(cell_text(o, "src_as", 9, got, sizeof got));
    assert_string_equal(got, "15169");
    /* 10.0.0.1: in none */
    assert_false(cell_text(o, "src_as", 17, got, sizeof got));
    assert_false(cell_text(o, "src_city", 17, got, sizeof got));
    fl_harness_destroy(&h);
}

static int copy_file(const char *from, const char *to)
{
    char tmp[700];
    size_t len;
    char *data = fl_test_slurp(from, &len);
    if (!data)
        return -1;
    snprintf(tmp, sizeof tmp, "%s.new", to);
    FILE *f = fopen(tmp, "wb");
    int rc = f && fwrite(data, 1, len, f) == len ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    free(data);
    return rc ? rc : rename(tmp, to);   /* as a database updater does */
}

static const char *country_of_row0(struct fl_harness *h, char *buf, size_t len)
{
    struct fl_batch *b = addr_batch(h);
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
    const struct fl_batch *o = fl_harness_out(h, fl_harness_n_out(h) - 1);
    return cell_text(o, "src_country", 0, buf, len) ? buf : "missing";
}

/* The file is replaced: reloaded within reload_check; SIGHUP reloads at
 * once; a broken replacement is refused and the old database kept. */
static void reload(void **state)
{
    (void)state;
    char dir[64], db[128], src[640], yaml[1200], buf[64];
    struct fl_harness *h;
    assert_int_equal(fl_test_tmpdir("geoip", dir, sizeof dir), 0);
    snprintf(db, sizeof db, "%s/geo.mmdb", dir);
    snprintf(src, sizeof src, "%s/GeoIP2-City-Test.mmdb", mmdb);
    assert_int_equal(copy_file(src, db), 0);
    snprintf(yaml, sizeof yaml, "{databases: [%s], attributes: [country, asn], "
             "reload_check: 1ms}", db);
    assert_int_equal(fl_harness_new("transform.geoip", yaml, in_s, &h), 0);
    assert_string_equal(country_of_row0(h, buf, sizeof buf), "GB");   /* 81.2.69.142 */

    snprintf(src, sizeof src, "%s/GeoLite2-ASN-Test.mmdb", mmdb);
    assert_int_equal(copy_file(src, db), 0);
    usleep(2000);
    assert_string_equal(country_of_row0(h, buf, sizeof buf), "missing");
    assert_int_equal(fl_harness_counter(h, "reloads"), 1);

    /* a broken update: refused, the ASN database stays (1.0.0.1 -> 15169) */
    snprintf(src, sizeof src, "%s/MaxMind-DB-test-broken-search-tree-24.mmdb", mmdb);
    assert_int_equal(copy_file(src, db), 0);
    usleep(2000);
    country_of_row0(h, buf, sizeof buf);
    assert_int_equal(fl_harness_counter(h, "reload_failures"), 1);
    const struct fl_batch *o = fl_harness_out(h, fl_harness_n_out(h) - 1);
    assert_true(cell_text(o, "src_as", 9, buf, sizeof buf));
    assert_string_equal(buf, "15169");
    usleep(2000);   /* not retried until the file changes again */
    country_of_row0(h, buf, sizeof buf);
    assert_int_equal(fl_harness_counter(h, "reload_failures"), 1);
    fl_harness_destroy(&h);

    /* SIGHUP, without reload_check */
    snprintf(src, sizeof src, "%s/GeoIP2-Country-Test.mmdb", mmdb);
    assert_int_equal(copy_file(src, db), 0);
    snprintf(yaml, sizeof yaml, "{databases: [%s], reload_check: 0s}", db);
    assert_int_equal(fl_harness_new("transform.geoip", yaml, in_s, &h), 0);
    assert_string_equal(country_of_row0(h, buf, sizeof buf), "GB");
    snprintf(src, sizeof src, "%s/GeoLite2-ASN-Test.mmdb", mmdb);
    assert_int_equal(copy_file(src, db), 0);
    assert_string_equal(country_of_row0(h, buf, sizeof buf), "GB");   /* not looked at */
    assert_int_equal(fl_harness_reload(h), 0);
    assert_string_equal(country_of_row0(h, buf, sizeof buf), "missing");
    assert_int_equal(fl_harness_counter(h, "reloads"), 1);
    fl_harness_destroy(&h);
    fl_test_rmdir(dir);
}

/* Every database the data README marks broken is refused at describe
 * (flowline check); the messages are checked by check.sh. The two whose
 * only oddity is an empty container last in the metadata are well-formed
 * (they crashed old libmaxminddb versions): they open and are read. */
static void broken_databases(void **state)
{
    (void)state;
    static const char *const broken[] = {
        "GeoIP2-City-Test-Broken-Double-Format.mmdb", "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "MaxMind-DB-test-broken-pointers-24.mmdb", "MaxMind-DB-test-broken-search-tree-24.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-corrupt-search-tree.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-deep-array-nesting.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-deep-nesting.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-metadata-marker-only.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-offset-integer-overflow.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-oversized-array.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-oversized-map.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-separator-record-max-left.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-separator-record-min-left.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-separator-record-min-right.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-uint64-max-epoch.mmdb",
        "bad-data_maxminddb-golang_cyclic-data-structure.mmdb",
        "bad-data_maxminddb-golang_invalid-bytes-length.mmdb",
        "bad-data_maxminddb-golang_invalid-data-record-offset.mmdb",
        "bad-data_maxminddb-golang_invalid-map-key-length.mmdb",
        "bad-data_maxminddb-golang_invalid-string-length.mmdb",
        "bad-data_maxminddb-golang_metadata-is-an-uint128.mmdb",
        "bad-data_maxminddb-golang_unexpected-bytes.mmdb",
        "bad-data_maxminddb-python_bad-unicode-in-map-key.mmdb",
        "no-such-file.mmdb",
    };
    char yaml[2048];
    struct fl_harness *h = NULL;
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        snprintf(yaml, sizeof yaml, "{databases: [%s/%s]}", mmdb, broken[i]);
        if (fl_harness_new("transform.geoip", yaml, in_s, &h) == 0)
            fail_msg("%s was accepted", broken[i]);
    }
    /* verify: false lets the lookups meet the damage of every broken file
     * libmaxminddb opens: no crash (the sanitizer build reads this too) */
    unsigned opened = 0;
    for (size_t i = 0; i + 1 < sizeof broken / sizeof broken[0]; i++) {
        snprintf(yaml, sizeof yaml, "{databases: [%s/%s], verify: false, attributes: " ALL_ATTRS
                 ", paths: {ip: ip, deep: a.b.0.c}}", mmdb, broken[i]);
        if (fl_harness_new("transform.geoip", yaml, in_s, &h) < 0)
            continue;   /* refused by libmaxminddb itself */
        opened++;
        struct fl_batch *b = addr_batch(h);
        assert_int_equal(fl_harness_push(h, b), 0);
        fl_batch_release(&b);
        assert_int_equal(fl_harness_out_rows(h), NADDR);
        fl_harness_destroy(&h);
    }
    /* libmaxminddb opens 13 of these 23; the build_epoch check refuses one */
    assert_int_equal(opened, 12);
    /* verify: false lets the lookups meet the damage: counted, no crash */
    snprintf(yaml, sizeof yaml, "{databases: [%s/GeoIP2-City-Test-Broken-Double-Format.mmdb], "
             "attributes: [country, lat], verify: false}", mmdb);
    assert_int_equal(fl_harness_new("transform.geoip", yaml, in_s, &h), 0);
    struct fl_batch *b = addr_batch(h);
    assert_int_equal(fl_harness_push(h, b), 0);
    fl_batch_release(&b);
    assert_true(fl_harness_counter(h, "lookup_errors") > 0);
    fl_harness_destroy(&h);

    static const char *const odd_but_whole[] = {
        "bad-data_libmaxminddb_libmaxminddb-empty-array-last-in-metadata.mmdb",
        "bad-data_libmaxminddb_libmaxminddb-empty-map-last-in-metadata.mmdb",
    };
    for (size_t i = 0; i < 2; i++) {
        char got[64];
        snprintf(yaml, sizeof yaml, "{databases: [%s/%s], attributes: [], paths: {ip: ip}}", mmdb,
                 odd_but_whole[i]);
        assert_int_equal(fl_harness_new("transform.geoip", yaml, in_s, &h), 0);
        b = addr_batch(h);
        assert_int_equal(fl_harness_push(h, b), 0);
        fl_batch_release(&b);
        assert_true(cell_text(fl_harness_out(h, 0), "src_ip", 0, got, sizeof got));
        assert_string_equal(got, "test");
        fl_harness_destroy(&h);
    }
}

static void option_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{databases: [%s/GeoIP2-City-Test.mmdb], paths: {x: \"a..b\"}}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], paths: {x: \".a\"}}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], paths: {x: \"a.\"}}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], paths: {x: \"\"}}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], paths: {\"X-y\": a}}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], attributes: [bogus]}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], attributes: []}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], lookup: []}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], lookup: [src_adr]}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], lookup: [src_addr, src_addr]}",
        "{databases: [%s/GeoIP2-City-Test.mmdb], cache_size: -1}",
        "{databases: [%s]}",
        "{lookup: [src_addr]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[2048];
        struct fl_harness *h = NULL;
        snprintf(yaml, sizeof yaml, bad[i], mmdb);
        if (fl_harness_new("transform.geoip", yaml, in_s, &h) == 0)
            fail_msg("accepted: %s", yaml);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vs_mmdblookup),
        cmocka_unit_test(custom_path_ipv4_in_ipv6),
        cmocka_unit_test(several_databases),
        cmocka_unit_test(reload),
        cmocka_unit_test(broken_databases),
        cmocka_unit_test(option_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
