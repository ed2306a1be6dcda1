/* test_expr.c: the expression language through its public API
 * (flowline/expr.h): parse and type errors with their offsets, precedence,
 * integer overflow (wraps), division by zero and missing inputs (missing),
 * three-valued and/or, CIDR edges, IPv6, strings, durations, functions,
 * and batches longer than one evaluation chunk. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <flowline/expr.h>
#include "fl_harness.h"

/* Columns: a flow record's fields and types, plus an i64 and a bool. */
static const struct fl_col_def cols[] = {
    { "bytes", FL_T_U64 }, { "packets", FL_T_U64 }, { "proto", FL_T_U8 },
    { "dst_port", FL_T_U16 }, { "ps_avg", FL_T_F64 }, { "duration", FL_T_DUR },
    { "flow_start", FL_T_TS }, { "flow_end", FL_T_TS }, { "src_addr", FL_T_ADDR },
    { "end_reason", FL_T_STR }, { "delta", FL_T_I64 }, { "flag", FL_T_BOOL },
    { "ip_len", FL_T_U32 }, { "src_mac", FL_T_MAC },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))
enum { C_BYTES, C_PACKETS, C_PROTO, C_PORT, C_PSAVG, C_DUR, C_START, C_END, C_SRC, C_REASON,
       C_DELTA, C_FLAG, C_IPLEN };

struct fixture { struct fl_ctx *ctx; const struct fl_schema *s; struct fl_batch *b; };

static void set_addr(struct fl_batch *b, uint32_t r, const char *txt)
{
    struct fl_addr *a = &FL_COL(b, C_SRC, struct fl_addr)[r];
    memset(a, 0, sizeof(*a));
    if (strchr(txt, ':')) {
        assert_int_equal(inet_pton(AF_INET6, txt, a->b), 1);
    } else {
        a->b[10] = a->b[11] = 0xff;
        assert_int_equal(inet_pton(AF_INET, txt, a->b + 12), 1);
    }
}

/* Five rows; row 4 has every column missing. */
static int setup(void **st)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->ctx = fl_test_ctx_new();
    assert_int_equal(fl_schema_intern(f->ctx, cols, NCOLS, sizeof(cols[0]), &f->s), 0);
    assert_int_equal(fl_batch_new(f->ctx, f->s, 5, &f->b), 0);
    struct fl_batch *b = f->b;
    const uint64_t bytes[] = { 1000, 0, 9223372036854775807u, 60, 0 };
    const uint64_t pk[] = { 10, 0, 1, 7, 0 };
    const uint8_t proto[] = { 6, 17, 6, 1, 0 };
    const uint16_t port[] = { 443, 53, 80, 0, 0 };
    const double psavg[] = { 100.0, 0.0, 2.5, -1.5, 0 };
    const int64_t dur[] = { 30000000000, 500000000, 90000000000, 0, 0 };
    const int64_t delta[] = { -5, INT64_MIN, INT64_MAX, 7, 0 };
    const char *src[] = { "10.1.2.3", "192.168.0.1", "2001:db8::1", "::ffff:0a00:0001", "0.0.0.0" };
    const char *reason[] = { "idle", "fin", "", "active", "" };
    for (uint32_t r = 0; r < 5; r++) {
        FL_COL(b, C_BYTES, uint64_t)[r] = bytes[r];
        FL_COL(b, C_PACKETS, uint64_t)[r] = pk[r];
        FL_COL(b, C_PROTO, uint8_t)[r] = proto[r];
        FL_COL(b, C_PORT, uint16_t)[r] = port[r];
        FL_COL(b, C_PSAVG, double)[r] = psavg[r];
        FL_COL(b, C_DUR, int64_t)[r] = dur[r];
        FL_COL(b, C_START, uint64_t)[r] = 1000000000000u + r;
        FL_COL(b, C_END, uint64_t)[r] = 1000000000000u + r + (uint64_t)dur[r];
        FL_COL(b, C_DELTA, int64_t)[r] = delta[r];
        FL_COL(b, C_FLAG, bool)[r] = r % 2 == 0;
        FL_COL(b, C_IPLEN, uint32_t)[r] = 4000000000u - r;
        set_addr(b, r, src[r]);
        assert_int_equal(fl_batch_put_bytes(b, reason[r], (uint32_t)strlen(reason[r]),
                                            &FL_COL(b, C_REASON, struct fl_span)[r]), 0);
    }
    for (uint32_t c = 0; c < NCOLS; c++)
        assert_int_equal(fl_batch_set_missing(b, c, 4), 0);
    b->rows = 5;
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fixture *f = *st;
    fl_batch_release(&f->b);
    fl_test_ctx_destroy(&f->ctx);
    free(f);
    return 0;
}

/* The values of `text` over the fixture's rows, as "v0 v1 v2 v3 v4" ("-" is
 * missing), or "error@OFFSET: message". */
static char *run(void **st, const char *text)
{
    struct fixture *f = *st;
    static char out[1024];
    char msg[256];
    size_t off = 99;
    struct fl_expr *e = NULL;
    if (fl_expr_compile(text, f->s, &e, &off, msg, sizeof(msg)) < 0) {
        snprintf(out, sizeof(out), "error@%zu: %s", off, msg);
        assert_null(e);
        return out;
    }
    struct fl_col_def od = { "x", fl_expr_type(e) };
    const struct fl_schema *os;
    struct fl_batch *ob;
    assert_int_equal(fl_schema_intern(f->ctx, &od, 1, sizeof(od), &os), 0);
    assert_int_equal(fl_batch_new(f->ctx, os, 5, &ob), 0);
    ob->rows = 5;
    assert_int_equal(fl_expr_eval(e, f->b, ob, 0), 0);
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t r = 0; r < 5; r++) {
        char v[128];
        if (!fl_batch_is_valid(ob, 0, r)) {
            snprintf(v, sizeof(v), "-");
        } else switch (od.type) {
        case FL_T_I64: case FL_T_DUR:
            snprintf(v, sizeof(v), "%" PRId64, FL_COL(ob, 0, int64_t)[r]); break;
        case FL_T_TS: snprintf(v, sizeof(v), "%" PRIu64, FL_COL(ob, 0, uint64_t)[r]); break;
        case FL_T_F64: snprintf(v, sizeof(v), "%g", FL_COL(ob, 0, double)[r]); break;
        case FL_T_BOOL: snprintf(v, sizeof(v), "%s", FL_COL(ob, 0, bool)[r] ? "T" : "F"); break;
        case FL_T_STR: {
            struct fl_span sp = FL_COL(ob, 0, struct fl_span)[r];
            snprintf(v, sizeof(v), "'%.*s'", (int)sp.len, fl_batch_bytes(ob, sp));
            break;
        }
        case FL_T_ADDR: {
            const struct fl_addr *a = &FL_COL(ob, 0, struct fl_addr)[r];
            inet_ntop(AF_INET6, a->b, v, sizeof(v));
            break;
        }
        default: fail();
        }
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", r ? " " : "", v);
    }
    if (od.type == FL_T_BOOL) {   /* the mask agrees with the column */
        uint64_t keep = 0;
        uint32_t kept = 99, want = 0;
        assert_int_equal(fl_expr_eval_mask(e, f->b, &keep, &kept), 0);
        for (uint32_t r = 0; r < 5; r++) {
            bool t = fl_batch_is_valid(ob, 0, r) && FL_COL(ob, 0, bool)[r];
            assert_int_equal(!!(keep >> r & 1), t);
            want += t;
        }
        assert_int_equal(kept, want);
        assert_int_equal(keep >> 5, 0);
    }
    fl_batch_release(&ob);
    fl_expr_free(&e);
    assert_null(e);
    return out;
}

#define EXPECT(text, want) assert_string_equal(run(st, text), want)

static void test_literals_and_precedence(void **st)
{
    EXPECT("1 + 2 * 3", "7 7 7 7 7");
    EXPECT("(1 + 2) * 3", "9 9 9 9 9");
    EXPECT("10 - 4 - 3", "3 3 3 3 3");                /* left associative */
    EXPECT("2 * 3 % 4", "2 2 2 2 2");                 /* (2*3)%4 */
    EXPECT("-2 * -3", "6 6 6 6 6");
    EXPECT("7 / 2", "3.5 3.5 3.5 3.5 3.5");           /* / is true division */
    EXPECT("7 % 3 + 0x10", "17 17 17 17 17");
    EXPECT("1.5e1 + 1", "16 16 16 16 16");
    EXPECT("not 1 < 2 or 3 > 4", "F F F F F");         /* (not (1<2)) or (3>4) */
    EXPECT("true or false and false", "T T T T T");    /* and binds tighter */
    EXPECT("not (true and false)", "T T T T T");
    EXPECT("1h30m + 250ms", "5400250000000 5400250000000 5400250000000 5400250000000 5400250000000");
    EXPECT("1 == 1.0", "T T T T T");
}

static void test_fields(void **st)
{
    EXPECT("bytes", "1000 0 9223372036854775807 60 -");
    EXPECT("octetDeltaCount + 1", "1001 1 -9223372036854775808 61 -");   /* IANA name; wraps */
    EXPECT("size", "1000 0 9223372036854775807 60 -");                  /* alias */
    EXPECT("bytes / packets", "100 - 9.22337e+18 8.57143 -");           /* 0/0: missing */
    EXPECT("bytes % packets", "0 - 0 4 -");
    EXPECT("proto == 6 and dst_port in (80, 443)", "T F T F -");
    EXPECT("dst_port not in (53, 0)", "T F T F -");
    EXPECT("ip_len + 1", "4000000001 4000000000 3999999999 3999999998 -");
    EXPECT("ps_avg * 2", "200 0 5 -3 -");
    EXPECT("flag", "T F T F -");
    EXPECT("flag == true", "T F T F -");
    EXPECT("flow_end - flow_start", "30000000000 500000000 90000000000 0 -");
    EXPECT("duration > 1m", "F F T F -");
    EXPECT("duration * 2", "60000000000 1000000000 180000000000 0 -");
    EXPECT("duration * 1.5", "45000000000 750000000 135000000000 0 -");
    EXPECT("duration / 0", "- - - - -");
    EXPECT("duration / 1s", "30 0.5 90 0 -");
    EXPECT("duration % 7s", "2000000000 500000000 6000000000 0 -");
    EXPECT("flow_start + 1s", "1001000000000 1001000000001 1001000000002 1001000000003 -");
}

static void test_overflow(void **st)
{
    /* 64-bit two's complement wrap, never a trap. */
    EXPECT("delta + 1", "-4 -9223372036854775807 -9223372036854775808 8 -");
    EXPECT("delta - 1", "-6 9223372036854775807 9223372036854775806 6 -");
    EXPECT("delta * 2", "-10 0 -2 14 -");
    EXPECT("-delta", "5 -9223372036854775808 -9223372036854775807 -7 -");
    EXPECT("abs(delta)", "5 -9223372036854775808 9223372036854775807 7 -");
    EXPECT("delta % -1", "0 0 0 0 -");
    EXPECT("delta % 0", "- - - - -");
    EXPECT("delta / -1", "5 9.22337e+18 -9.22337e+18 -7 -");  /* float division */
    EXPECT("9223372036854775807 + 1", "-9223372036854775808 -9223372036854775808 "
           "-9223372036854775808 -9223372036854775808 -9223372036854775808");
    EXPECT("9223372036854775808", "error@0: integer too large (the largest is 9223372036854775807)");
    EXPECT("round(1e300)", "- - - - -");                      /* no integer: missing */
    EXPECT("-(-9223372036854775807 - 1)", "-9223372036854775808 -9223372036854775808 "
           "-9223372036854775808 -9223372036854775808 -9223372036854775808");
}

static void test_missing(void **st)
{
    EXPECT("1 / 0", "- - - - -");
    EXPECT("1.0 % 0.0", "- - - - -");
    EXPECT("log(bytes)", "6.90776 - 43.6683 4.09434 -");      /* log(0): missing */
    EXPECT("log(ps_avg)", "4.60517 - 0.916291 - -");
    EXPECT("coalesce(bytes / packets, -1)", "100 -1 9.22337e+18 8.57143 -1");
    EXPECT("coalesce(end_reason, \"none\")", "'idle' 'fin' '' 'active' 'none'");
    /* Three-valued logic: false and missing = false, true or missing = true. */
    EXPECT("bytes / packets > 1 and false", "F F F F F");
    EXPECT("bytes / packets > 1 or true", "T T T T T");
    EXPECT("bytes / packets > 1 and true", "T - T T -");
    EXPECT("not (bytes / packets > 1)", "F - F F -");
    EXPECT("min(bytes, packets)", "10 0 1 7 -");
    EXPECT("max(bytes, ps_avg, 5)", "1000 5 9.22337e+18 60 -");
}

static void test_cidr(void **st)
{
    EXPECT("src_addr in 10.0.0.0/8", "T F F T -");         /* ::ffff:10.0.0.1 is IPv4 */
    EXPECT("src_addr in (10.1.2.3/32, 192.168.0.0/16)", "T T F F -");
    EXPECT("src_addr in 0.0.0.0/0", "T T F T -");           /* every IPv4, no IPv6 */
    EXPECT("src_addr in ::/0", "T T T T -");                /* everything */
    EXPECT("src_addr in 2001:db8::/32", "F F T F -");
    EXPECT("src_addr in 2001:db8::1/128", "F F T F -");
    EXPECT("src_addr in ::ffff:0:0/96", "T T F T -");
    EXPECT("src_addr in 10.1.2.2/31", "T F F F -");
    EXPECT("src_addr == 2001:db8::1", "F F T F -");
    EXPECT("src_addr != 192.168.0.1", "T F T T -");
    EXPECT("src_addr in (2001:db8::1, 10.0.0.1)", "F F T T -");
    EXPECT("src_addr in 10.0.0.1/8", "error@12: 10.0.0.1/8 has bits set past its prefix; did you mean 10.0.0.0/8?");
    EXPECT("src_addr in 10.0.0.0/33", "error@21: an IPv4 prefix length is 0 to 32");
    EXPECT("src_addr in fe80::/129", "error@19: an IPv6 prefix length is 0 to 128");
    EXPECT("src_addr in 10.0.0.256/8", "error@12: malformed IPv4 address \"10.0.0.256\"");
    EXPECT("src_addr in 1:2:3:4:5:6:7:8:9", "error@12: malformed IPv6 address \"1:2:3:4:5:6:7:8:9\"");
    EXPECT("10.0.0.0/8", "error@0: a CIDR block is only a value after \"in\"");
    EXPECT("10.0.0.0/8 + 1", "error@0: a CIDR block is only a value after \"in\"");
}

static void test_strings_functions(void **st)
{
    EXPECT("end_reason == \"idle\"", "T F F F -");
    EXPECT("end_reason < 'b'", "F F T T -");
    EXPECT("end_reason in ('fin', '')", "F T T F -");
    EXPECT("starts_with(end_reason, \"ac\")", "F F F T -");
    EXPECT("contains(end_reason, 'i')", "T T F T -");
    EXPECT("contains(end_reason, '')", "T T T T -");
    EXPECT("'a\\'b\\n' == \"a'b\\n\"", "T T T T T");
    EXPECT("round(ps_avg)", "100 0 3 -2 -");       /* half away from zero */
    EXPECT("round(ps_avg / 3, 2)", "33.33 0 0.83 -0.5 -");
    EXPECT("round(bytes)", "1000 0 9223372036854775807 60 -");
    EXPECT("abs(ps_avg)", "100 0 2.5 1.5 -");
    EXPECT("abs(-duration)", "30000000000 500000000 90000000000 0 -");
    EXPECT("min(duration, 1m)", "30000000000 500000000 60000000000 0 -");
}

static void test_errors(void **st)
{
    EXPECT("", "error@0: empty expression");
    EXPECT("byts / packets", "error@0: unknown field \"byts\"; did you mean \"bytes\"?");
    EXPECT("bytes / pakets", "error@8: unknown field \"pakets\"; did you mean \"packets\"?");
    EXPECT("tcp_flags > 0", "error@0: field \"tcp_flags\" is not in this stage's input");
    EXPECT("nosuchthing > 0", "error@0: unknown field \"nosuchthing\"");
    EXPECT("src_mac == 1", "error@0: field \"src_mac\" is mac, which expressions cannot use yet");
    EXPECT("bytes +", "error@7: expected a value, found the end");
    EXPECT("(bytes", "error@6: expected \")\", found the end");
    EXPECT("bytes packets", "error@6: expected an operator or the end, found a name");
    EXPECT("proto = 6", "error@6: \"=\" is not an operator; did you mean \"==\"?");
    EXPECT("proto == 6 && true", "error@11: \"&\" is not an operator; did you mean \"and\"?");
    EXPECT("1 < 2 < 3", "error@6: comparisons do not chain: write (a < b) and (b < c)");
    EXPECT("end_reason + 1", "error@0: cannot apply \"+\" to str and int");
    EXPECT("src_addr > 5", "error@0: cannot compare addr with int");
    EXPECT("bytes and true", "error@0: \"and\" takes bools, not int");
    EXPECT("not bytes", "error@4: \"not\" takes a bool, not int");
    EXPECT("mn(bytes, 1)", "error@0: unknown function \"mn\"; did you mean \"min\"?");
    EXPECT("log(1, 2)", "error@0: log() takes 1 argument");
    EXPECT("min(bytes)", "error@0: min() takes at least 2 arguments");
    EXPECT("contains(end_reason, 1)", "error@21: contains() takes strings, not int");
    EXPECT("proto in (6, bytes)", "error@13: the list after \"in\" takes literal values only");
    EXPECT("proto in (6, 'x')", "error@13: str in a list for int");
    EXPECT("duration > 5", "error@0: cannot compare duration with int");
    EXPECT("30x", "error@2: a duration needs a unit after each number (ns, us, ms, s, m, h, d)");
    EXPECT("'abc", "error@0: string not closed");
    EXPECT("bytes $ 2", "error@6: unexpected character \"$\"");
    EXPECT("min", "error@0: min is a function: write min(...)");
    EXPECT("round(ps_avg, bytes)", "error@14: round()'s digits are an integer from -15 to 15");
}

static void test_deep_nesting(void **st)
{
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        buf[n++] = '(';
    buf[n++] = '1';
    for (int i = 0; i < 1000; i++)
        buf[n++] = ')';
    buf[n] = '\0';
    assert_string_equal(run(st, buf), "error@200: expression nested too deeply");
    n = 0;
    for (int i = 0; i < 1000; i++)
        buf[n++] = '-';
    buf[n++] = '1';
    buf[n] = '\0';
    assert_string_equal(run(st, buf), "error@199: expression nested too deeply");
}

/* Several chunks, a partial last one, missing rows spread over words. */
static void test_long_batch(void **st)
{
    struct fixture *f = *st;
    const uint32_t rows = 3000;
    struct fl_batch *b;
    struct fl_expr *e, *w;
    assert_int_equal(fl_batch_new(f->ctx, f->s, rows, &b), 0);
    for (uint32_t c = 0; c < NCOLS; c++)
        memset(b->data[c], 0, rows * fl_type_size(cols[c].type));
    for (uint32_t r = 0; r < rows; r++) {
        FL_COL(b, C_BYTES, uint64_t)[r] = r;
        FL_COL(b, C_PACKETS, uint64_t)[r] = r % 10;
        if (r % 13 == 0)
            assert_int_equal(fl_batch_set_missing(b, C_BYTES, r), 0);
    }
    b->rows = rows;
    assert_int_equal(fl_expr_compile("bytes * 2 + packets", f->s, &e, NULL, NULL, 0), 0);
    assert_int_equal(fl_expr_compile("bytes / packets > 100", f->s, &w, NULL, NULL, 0), 0);
    struct fl_col_def od = { "x", FL_T_I64 };
    const struct fl_schema *os;
    struct fl_batch *ob;
    assert_int_equal(fl_schema_intern(f->ctx, &od, 1, sizeof(od), &os), 0);
    assert_int_equal(fl_batch_new(f->ctx, os, rows, &ob), 0);
    ob->rows = rows;
    assert_int_equal(fl_expr_eval(e, b, ob, 0), 0);
    uint64_t keep[(3000 + 63) / 64];
    uint32_t kept = 0, want = 0;
    assert_int_equal(fl_expr_eval_mask(w, b, keep, &kept), 0);
    for (uint32_t r = 0; r < rows; r++) {
        bool valid = r % 13 != 0;
        assert_int_equal(fl_batch_is_valid(ob, 0, r), valid);
        if (valid)
            assert_int_equal(FL_COL(ob, 0, int64_t)[r], 2 * r + r % 10);
        bool t = valid && r % 10 && (double)r / (r % 10) > 100;
        assert_int_equal(!!(keep[r / 64] >> (r % 64) & 1), t);
        want += t;
    }
    assert_int_equal(kept, want);
    /* A batch of another schema is refused, not misread. */
    assert_int_equal(fl_expr_eval_mask(w, ob, keep, NULL), -FL_EINVAL);
    /* A non-bool is no mask. */
    assert_int_equal(fl_expr_eval_mask(e, b, keep, NULL), -FL_ETYPE);
    fl_batch_release(&ob);
    fl_batch_release(&b);
    fl_expr_free(&e);
    fl_expr_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literals_and_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
