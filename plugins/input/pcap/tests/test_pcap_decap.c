/* test_pcap_decap.c: input.pcap's decapsulation options as a user writes
 * them, on a real GTP-U capture (ndpi_zoom.pcap: 781 frames, 81 of them
 * GTP-U G-PDUs with TEIDs 0x0498665c and 0x7be80047, as tshark reads it):
 * decap lists, decap_ports, tunnel_columns and the decap_* counters, with
 * both readers; and the option errors `flowline check` reports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/decode.h>
#include "pcap_test.h"

static char zoom[1024];

/* Rows with a tunnel cell, and of those with TEID 0x0498665c. */
static void tunnel_rows(struct fl_harness *h, uint64_t *tunnelled, uint64_t *teid1)
{
    struct cur c = { h, 0, 0 };
    const struct fl_batch *b;
    uint32_t r;
    *tunnelled = *teid1 = 0;
    while ((b = cur_next(&c, &r))) {
        assert_int_equal(fl_schema_find(b->schema, "tunnel"), FL_PKT_TUNNEL);
        assert_int_equal(fl_schema_find(b->schema, "tunnel_id"), FL_PKT_TUNNEL_ID);
        if (!fl_batch_is_valid(b, FL_PKT_TUNNEL, r)) {
            assert_false(fl_batch_is_valid(b, FL_PKT_TUNNEL_ID, r));
            continue;
        }
        struct fl_span s = CELL(b, FL_PKT_TUNNEL, struct fl_span, r);
        assert_int_equal(s.len, 3);
        assert_memory_equal(fl_batch_bytes(b, s), "gtp", 3);
        assert_true(fl_batch_is_valid(b, FL_PKT_TUNNEL_ID, r));
        (*tunnelled)++;
        *teid1 += CELL(b, FL_PKT_TUNNEL_ID, uint32_t, r) == 0x0498665cu;
    }
}

static void test_decap_options(void **state)
{
    static const struct { const char *opts; uint64_t gtp, rows_tunnelled; } runs[] = {
        { "decap: true, tunnel_columns: true", 81, 81 },
        { "decap: [gtp], tunnel_columns: true", 81, 81 },
        { "decap: [vxlan, gre], tunnel_columns: true", 0, 0 },
        { "decap: true, decap_ports: {gtp: [2153, 2154]}, tunnel_columns: true", 0, 0 },
        { "decap: [gtp], decap_ports: {gtp: \"2152\"}, tunnel_columns: true", 81, 81 },
        { "decap: false, tunnel_columns: true", 0, 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        for (int reader = 0; reader < 2; reader++) {
            char opts[512];
            struct fl_harness *h = NULL;
            uint64_t tun, teid1;
            snprintf(opts, sizeof opts, "%s, reader: %s", runs[i].opts, reader ? "libpcap" : "auto");
            assert_int_equal(open_run(zoom, opts, &h), 0);
            assert_int_equal(fl_harness_counter(h, "packets_read"), 781);
            assert_int_equal(fl_harness_counter(h, "decap_gtp"), runs[i].gtp);
            assert_int_equal(fl_harness_counter(h, "decap_fallback"), 0);
            tunnel_rows(h, &tun, &teid1);
            assert_int_equal(tun, runs[i].rows_tunnelled);
            assert_int_equal(teid1, runs[i].gtp ? 34 : 0);
            fl_harness_destroy(&h);
        }
}

/* Wrong options fail when the stage is made (flowline check). */
static void test_decap_errors(void **state)
{
    static const char *const bad[] = {
        "decap: [gtpp]", "decap: [true]", "decap: maybe",
        "decap: true, decap_ports: {gre: [5]}", "decap: true, decap_ports: {vxlan: [0]}",
        "decap: true, decap_ports: {vxlan: [70000]}", "decap: true, decap_ports: {vxlan: x}",
        "decap: [gre], decap_ports: {vxlan: [8472]}", "decap: true, decap_depth: 0",
        "decap: true, decap_depth: 17",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[2048];
        struct fl_harness *h = NULL;
        snprintf(yaml, sizeof yaml, "{path: \"%s\", %s}", zoom, bad[i]);
        if (fl_harness_new("input.pcap", yaml, NULL, &h) >= 0)
            fail_msg("accepted: %s", bad[i]);
        fl_harness_destroy(&h);
    }
}

/* Without tunnel_columns the schema is the 15 packet columns, decap or not. */
static void test_no_columns(void **state)
{
    struct fl_harness *h = NULL;
    (void)state;
    assert_int_equal(open_run(zoom, "decap: true", &h), 0);
    assert_int_equal(fl_harness_out_schema(h)->ncols, FL_PKT_NCOLS);
    assert_int_equal(fl_harness_counter(h, "decap_gtp"), 81);
    fl_harness_destroy(&h);
}

static int setup(void **state)
{
    const char *data = fl_test_data_dir();
    FILE *f;
    (void)state;
    if (!data)
        return -1;
    snprintf(zoom, sizeof zoom, "%s/pcap/ndpi_zoom.pcap", data);
    if (!(f = fopen(zoom, "rb")))
        return -1;
    fclose(f);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decap_options),
        cmocka_unit_test(test_decap_errors),
        cmocka_unit_test(test_no_columns),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
