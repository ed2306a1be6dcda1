/* test_fields.c: the field registry (core/src/field.c over the tables
 * core/ie/fields.cmake generates): every short name, alias and IANA name
 * resolves to the right field, iana.tsv is well-formed and matches the
 * compiled tables, and "did you mean" finds the obvious typo.
 *
 * The TSVs are read again here with plain C, independently of the CMake
 * generator, so a generator bug cannot hide behind its own output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <flowline/record.h>
#include "internal.h"
#include "fields_table.h"

#ifndef FL_IE_DIR
#error "FL_IE_DIR (the core/ie directory) must be defined by the build"
#endif

/* ---- a small TSV reader ------------------------------------------------ */
#define MAX_ROWS 1024
#define MAX_COLS 8

struct tsv {
    size_t n;
    char *buf;
    char *col[MAX_ROWS][MAX_COLS];
    size_t ncol[MAX_ROWS];
};

static struct tsv *tsv_load(const char *file)
{
    char path[512];
    FILE *f;
    long len;
    struct tsv *t = calloc(1, sizeof *t);
    assert_non_null(t);
    snprintf(path, sizeof path, "%s/%s", FL_IE_DIR, file);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len > 0);
    rewind(f);
    t->buf = malloc((size_t)len + 1);
    assert_non_null(t->buf);
    assert_int_equal(fread(t->buf, 1, (size_t)len, f), (size_t)len);
    t->buf[len] = '\0';
    fclose(f);

    for (char *line = t->buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line == '#' || *line == '\0')
            continue;
        assert_true(t->n < MAX_ROWS);
        for (char *c = line, *tab;; c = tab + 1) {
            assert_true(t->ncol[t->n] < MAX_COLS);
            t->col[t->n][t->ncol[t->n]++] = c;
            tab = strchr(c, '\t');
            if (!tab)
                break;
            *tab = '\0';
        }
        t->n++;
    }
    return t;
}

static void tsv_free(struct tsv *t)
{
    free(t->buf);
    free(t);
}

/* Calls fn(alias, canonical) for every alias in fields.tsv's column 5. */
static size_t for_each_alias(const struct tsv *t,
                             void (*fn)(const char *alias, const char *canon))
{
    size_t n = 0;
    for (size_t r = 0; r < t->n; r++) {
        char list[256];
        if (strcmp(t->col[r][4], "-") == 0)
            continue;
        snprintf(list, sizeof list, "%s", t->col[r][4]);
        for (char *save = NULL, *a = strtok_r(list, ",", &save); a;
             a = strtok_r(NULL, ",", &save)) {
            fn(a, t->col[r][0]);
            n++;
        }
    }
    return n;
}

/* ---- short names --------------------------------------------------------- */
static void test_every_short_name_resolves(void **state)
{
    struct tsv *t = tsv_load("fields.tsv");
    size_t n = 0;
    (void)state;
    for (const struct fl_field *f; (f = fl_field_at(n)) != NULL; n++) {
        assert_ptr_equal(fl_field_find(f->name), f);
        assert_string_equal(fl_field_canonical(f->name), f->name);
        assert_true(f->type > FL_T_NONE && f->type < FL_T_COUNT);
        assert_non_null(f->doc);
        assert_true(strlen(f->doc) > 0);
        assert_true(f->pen == 0 || f->pen == FL_PEN);
        assert_true(f->ie != 0);
        /* fields.tsv, read independently, says the same in the same order. */
        assert_true(n < t->n);
        assert_int_equal(t->ncol[n], 6);
        assert_string_equal(t->col[n][0], f->name);
        assert_int_equal(fl_type_from_name(t->col[n][1]), f->type);
    }
    assert_int_equal(n, t->n);
    assert_int_equal(n, fl_ie_nfields);
    tsv_free(t);
}

/* The columns the packet decoder and aggregate.flowmeter emit, with the
 * types their code assumes (decode.h; the flowmeter brief). */
static void test_packet_and_flow_columns(void **state)
{
    static const struct { const char *name; enum fl_type type; } want[] = {
        {"ts", FL_T_TS}, {"src_addr", FL_T_ADDR}, {"dst_addr", FL_T_ADDR},
        {"src_port", FL_T_U16}, {"dst_port", FL_T_U16}, {"proto", FL_T_U8},
        {"ip_version", FL_T_U8}, {"ttl", FL_T_U8}, {"tcp_flags", FL_T_U8},
        {"ip_len", FL_T_U32}, {"frame_len", FL_T_U32}, {"payload_len", FL_T_U32},
        {"vlan", FL_T_U16}, {"flow_hash", FL_T_U64}, {"icmp_id", FL_T_U16},
        {"flow_start", FL_T_TS}, {"flow_end", FL_T_TS}, {"duration", FL_T_DUR},
        {"packets", FL_T_U64}, {"bytes", FL_T_U64}, {"payload_bytes", FL_T_U64},
        {"nopay", FL_T_U64},
        {"ps_avg", FL_T_F64}, {"ps_min", FL_T_U32}, {"ps_max", FL_T_U32}, {"ps_std", FL_T_F64},
        {"pay_avg", FL_T_F64}, {"pay_min", FL_T_U32}, {"pay_max", FL_T_U32}, {"pay_std", FL_T_F64},
        {"fwd_packets", FL_T_U64}, {"fwd_bytes", FL_T_U64},
        {"rev_packets", FL_T_U64}, {"rev_bytes", FL_T_U64},
        {"fwd_tcp_flags", FL_T_U8}, {"rev_tcp_flags", FL_T_U8},
        {"end_reason", FL_T_STR}, {"conn_state", FL_T_STR},
    };
    (void)state;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct fl_field *f = fl_field_find(want[i].name);
        if (!f)
            fail_msg("%s is not registered", want[i].name);
        assert_string_equal(f->name, want[i].name);
        if (f->type != want[i].type)
            fail_msg("%s is %s, want %s", want[i].name, fl_type_name(f->type),
                     fl_type_name(want[i].type));
    }
}

/* ---- aliases ------------------------------------------------------------- */
static void check_alias(const char *alias, const char *canon)
{
    const struct fl_field *f = fl_field_find(alias);
    if (!f)
        fail_msg("alias %s does not resolve", alias);
    assert_string_equal(f->name, canon);
    assert_ptr_equal(f, fl_field_find(canon));
    assert_string_equal(fl_field_canonical(alias), canon);
}

static void test_aliases_resolve(void **state)
{
    /* Seed 000's Table 2 and its Cassandra table. */
    static const char *const seed[][2] = {
        {"srcp", "src_port"}, {"dstp", "dst_port"}, {"size", "bytes"},
        {"paysize", "payload_bytes"}, {"nopay", "nopay"}, {"nopayloadcnt", "nopay"},
        {"avgps", "ps_avg"}, {"minps", "ps_min"}, {"maxps", "ps_max"},
        {"stddps", "ps_std"}, {"avgpays", "pay_avg"}, {"minpays", "pay_min"},
        {"maxpays", "pay_max"}, {"stddpays", "pay_std"}, {"srcaddr", "src_addr"},
        {"dstaddr", "dst_addr"}, {"packets", "packets"}, {"duration", "duration"},
        {"proto", "proto"},
    };
    struct tsv *t = tsv_load("fields.tsv");
    size_t n;
    (void)state;
    for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++)
        check_alias(seed[i][0], seed[i][1]);
    n = for_each_alias(t, check_alias);
    /* Every alias is a suggestion candidate after the canonical names. */
    assert_int_equal(fl_ie_nsuggest, fl_ie_nfields + n);
    tsv_free(t);
}

/* ---- IANA names ------------------------------------------------------------ */
static void test_iana_names_resolve(void **state)
{
    const struct fl_field *v4 = fl_field_find("sourceIPv4Address");
    const struct fl_field *v6 = fl_field_find("sourceIPv6Address");
    const struct fl_field *f;
    (void)state;
    assert_non_null(v4);
    assert_ptr_equal(v4, v6);
    assert_ptr_equal(v4, fl_field_find("src_addr"));
    assert_string_equal(v4->name, "src_addr");
    assert_int_equal(v4->type, FL_T_ADDR);
    assert_int_equal(v4->pen, 0);
    assert_int_equal(v4->ie, 8);
    assert_int_equal(v4->ie_alt, 27);

    f = fl_field_find("destinationIPv6Address");
    assert_string_equal(f->name, "dst_addr");
    assert_int_equal(f->ie, 12);
    assert_int_equal(f->ie_alt, 28);

    static const char *const mapped[][2] = {
        {"octetDeltaCount", "bytes"}, {"packetDeltaCount", "packets"},
        {"sourceTransportPort", "src_port"}, {"destinationTransportPort", "dst_port"},
        {"protocolIdentifier", "proto"}, {"flowStartNanoseconds", "flow_start"},
        {"tcpControlBits", "tcp_flags"}, {"ipVersion", "ip_version"},
        {"ipTTL", "ttl"}, {"vlanId", "vlan"}, {"ipTotalLength", "ip_len"},
        {"ingressInterface", "input_if"}, {"egressInterface", "output_if"},
        {"sourceMacAddress", "src_mac"}, {"bgpSourceAsNumber", "src_as"},
        {"samplingInterval", "sampling_rate"}, {"flowEndReason", "flow_end_reason"},
        {"exporterIPv6Address", "exporter"}, {"ipNextHopIPv4Address", "next_hop"},
    };
    for (size_t i = 0; i < sizeof mapped / sizeof mapped[0]; i++) {
        f = fl_field_find(mapped[i][0]);
        if (!f)
            fail_msg("%s does not resolve", mapped[i][0]);
        assert_string_equal(f->name, mapped[i][1]);
        assert_string_equal(fl_field_canonical(mapped[i][0]), mapped[i][1]);
    }

    /* An element no short name claims is a field of its own, named and
     * typed after the element. */
    static const struct { const char *name; enum fl_type type; uint16_t ie; } own[] = {
        {"flowKeyIndicator", FL_T_U64, 173}, {"mplsTopLabelIPv4Address", FL_T_ADDR, 47},
        {"paddingOctets", FL_T_BYTES, 210}, {"interfaceName", FL_T_STR, 82},
        {"observationTimeSeconds", FL_T_TS, 322}, {"absoluteError", FL_T_F64, 320},
        {"isMulticast", FL_T_U8, 206}, {"dataRecordsReliability", FL_T_BOOL, 276},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        f = fl_field_find(own[i].name);
        if (!f)
            fail_msg("%s does not resolve", own[i].name);
        assert_string_equal(f->name, own[i].name);
        assert_int_equal(f->type, own[i].type);
        assert_int_equal(f->pen, 0);
        assert_int_equal(f->ie, own[i].ie);
        assert_int_equal(f->ie_alt, 0);
        assert_non_null(strstr(f->doc, "IANA"));
        assert_string_equal(fl_field_canonical(own[i].name), own[i].name);
        assert_null(fl_field_at(fl_ie_nfields)); /* never among the short names */
    }
}

/* ---- iana.tsv -------------------------------------------------------------- */
static void test_iana_tsv(void **state)
{
    struct tsv *t = tsv_load("iana.tsv");
    long prev = -1;
    (void)state;
    /* libfixbuf 2.4.1 knows 460; a regen against another version moves it
     * a little, never by much. */
    if (t->n < 440 || t->n > 520)
        fail_msg("iana.tsv has %zu rows, expected about 460", t->n);
    assert_int_equal(t->n, fl_ie_niana);
    for (size_t r = 0; r < t->n; r++) {
        char *end;
        long id;
        const struct fl_field *f;
        assert_int_equal(t->ncol[r], 5);
        id = strtol(t->col[r][0], &end, 10);
        assert_true(*end == '\0' && id > 0 && id <= 32767);
        if (id <= prev)
            fail_msg("iana.tsv: id %ld after %ld: not sorted or not unique", id, prev);
        prev = id;
        assert_true(strcmp(t->col[r][4], "yes") == 0 || strcmp(t->col[r][4], "no") == 0);
        /* The compiled table is this file. */
        assert_int_equal(fl_ie_iana[r].id, id);
        assert_string_equal(fl_ie_iana[r].name, t->col[r][1]);
        assert_string_equal(fl_ie_iana[r].atype, t->col[r][2]);
        assert_string_equal(fl_ie_iana[r].units, t->col[r][3]);
        assert_int_equal(fl_ie_iana[r].reversible, strcmp(t->col[r][4], "yes") == 0);
        /* Names unique: each one resolves, through this very row. */
        f = fl_field_find(t->col[r][1]);
        if (!f)
            fail_msg("IANA name %s does not resolve", t->col[r][1]);
        assert_ptr_equal(f, fl_ie_iana[r].field);
        assert_int_equal(f->pen, 0);
        assert_true(f->ie == id || f->ie_alt == id);
        for (size_t q = 0; q < r; q++)
            assert_string_not_equal(t->col[q][1], t->col[r][1]);
    }
    tsv_free(t);
}

/* The lookup index: sorted the way bsearch() with strcmp needs, one entry
 * per accepted name, and own elements numbered uniquely under FL_PEN. */
static void test_index_and_pen(void **state)
{
    (void)state;
    assert_int_equal(fl_ie_nnames, fl_ie_nsuggest + fl_ie_niana);
    for (size_t i = 1; i < fl_ie_nnames; i++)
        if (strcmp(fl_ie_names[i - 1].name, fl_ie_names[i].name) >= 0)
            fail_msg("index out of order: %s, %s", fl_ie_names[i - 1].name,
                     fl_ie_names[i].name);
    for (size_t i = 0; i < fl_ie_nfields; i++) {
        const struct fl_field *a = fl_field_at(i);
        if (a->pen != FL_PEN)
            continue;
        assert_int_equal(a->ie_alt, 0);
        assert_true(a->ie >= 1 && a->ie <= 32767);
        for (size_t j = 0; j < i; j++) {
            const struct fl_field *b = fl_field_at(j);
            if (b->pen == FL_PEN && b->ie == a->ie)
                fail_msg("%s and %s share FL_PEN element %u", a->name, b->name, a->ie);
        }
    }
    assert_int_equal(fl_field_find("flow_hash")->pen, FL_PEN);
}

/* ---- suggestions and unknown names ------------------------------------- */
static void test_suggest(void **state)
{
    (void)state;
    assert_string_equal(fl_field_suggest("src_adr"), "src_addr");
    assert_string_equal(fl_field_suggest("dst_prot"), "dst_port");
    assert_string_equal(fl_field_suggest("pakets"), "packets");
    assert_string_equal(fl_field_suggest("avgpss"), "avgps");
    assert_string_equal(fl_field_suggest("sourceIPv4Adress"), "sourceIPv4Address");
    assert_null(fl_field_suggest("qqqqqqqqqqqq"));
    assert_null(fl_field_suggest(""));
    assert_null(fl_field_suggest(NULL));
}

/* Element ids to fields and wire encodings, as a collector looks them up. */
static void test_by_element(void **state)
{
    static const struct { uint32_t pen; uint16_t ie; const char *name; enum fl_ie_kind kind; } t[] = {
        { 0, 8, "src_addr", FL_IE_IPV4 },
        { 0, 27, "src_addr", FL_IE_IPV6 },
        { 0, 7, "src_port", FL_IE_UNSIGNED },
        { 0, 152, "flow_start", FL_IE_MILLISECONDS },
        { 0, 150, "flowStartSeconds", FL_IE_SECONDS },
        { 0, 154, "flowStartMicroseconds", FL_IE_MICROSECONDS },
        { 0, 56, "src_mac", FL_IE_MAC },
        { 0, 82, "interfaceName", FL_IE_STRING },
        { FL_PEN, 1, "flow_hash", FL_IE_UNSIGNED },
        { FL_PEN, 22, "conn_state", FL_IE_STRING },
    };
    enum fl_ie_kind k;
    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const struct fl_field *f = fl_field_by_ie(t[i].pen, t[i].ie, &k);
        if (!f || strcmp(f->name, t[i].name) != 0 || k != t[i].kind)
            fail_msg("%u/%u: %s kind %d, expected %s kind %d", t[i].pen, t[i].ie,
                     f ? f->name : "NULL", (int)k, t[i].name, (int)t[i].kind);
    }
    assert_int_equal(fl_ie_unit_ns(0, 161), 1000000);     /* flowDurationMilliseconds */
    assert_int_equal(fl_ie_unit_ns(0, 162), 1000);        /* flowDurationMicroseconds */
    assert_int_equal(fl_ie_unit_ns(0, 22), 1000000);      /* flowStartSysUpTime */
    assert_int_equal(fl_ie_unit_ns(0, 1), 0);             /* octetDeltaCount */
    assert_null(fl_field_by_ie(0, 65000, &k));      /* unassigned */
    assert_null(fl_field_by_ie(9, 1, &k));          /* another enterprise */
    assert_null(fl_field_by_ie(FL_PEN, 9999, &k));
}

static void test_unknown_names(void **state)
{
    static const char *const bad[] = {
        "", "nosuch", "SRC_ADDR", "src_addr ", "sourceipv4address", "src-addr",
        "NF_F_FW_EVENT", "ciscoNetflowGeneric",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (fl_field_find(bad[i]))
            fail_msg("'%s' should be unknown", bad[i]);
        assert_null(fl_field_canonical(bad[i]));
    }
    assert_null(fl_field_find(NULL));
    assert_null(fl_field_canonical(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_short_name_resolves),
        cmocka_unit_test(test_packet_and_flow_columns),
        cmocka_unit_test(test_aliases_resolve),
        cmocka_unit_test(test_iana_names_resolve),
        cmocka_unit_test(test_iana_tsv),
        cmocka_unit_test(test_index_and_pen),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_by_element),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
