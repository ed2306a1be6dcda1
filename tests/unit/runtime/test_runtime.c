/* test_runtime.c: a failed send between stages fails the run.
 *
 * ZeroMQ inproc sends only fail once the context is terminated, which no
 * pipeline can arrange on its own, so this test defines zmq_send: the test
 * binary's definition takes precedence over libzmq's for the statically
 * linked core, and passes through to the real one except for the envelope
 * type being failed. That is a fault injected into the library, not a
 * stand-in for our code: the runtime runs for real, with real plugins.
 * It reads the envelope type from the first 2 bytes of the message (struct
 * env in runtime.c: BATCH = 1, WATERMARK = 2, EOS = 3; the next 2 bytes
 * are the sending worker). */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "fl_harness.h"
#include "pipeline.h"

enum { ENV_BATCH = 1, ENV_WATERMARK = 2, ENV_EOS = 3 };

static atomic_uint fail_type;      /* envelope type to fail; 0 = none */
static atomic_uint failed;         /* sends failed so far */
static unsigned gen_packets = 20000;
static uint64_t last_run_ns;       /* how long the last fl_pipeline_run took */
static const char *chain_flows = "", *chain_out = "";   /* "    chain: true\n" or "" */
static char *last_csv;             /* what the last run wrote */

int zmq_send(void *s, const void *buf, size_t len, int flags)
{
    typedef int (*send_fn)(void *, const void *, size_t, int);
    static _Atomic(send_fn) real;
    send_fn f = atomic_load(&real);
    if (!f) {
        f = (send_fn)dlsym(RTLD_NEXT, "zmq_send");
        atomic_store(&real, f);
    }
    uint16_t type;
    if (len >= sizeof(type)) {
        memcpy(&type, buf, sizeof(type));
        if (type != 0 && type == atomic_load(&fail_type)) {
            atomic_fetch_add(&failed, 1);
            errno = EHOSTUNREACH;
            return -1;
        }
    }
    return f(s, buf, len, flags);
}

/* Run gen -> flowmeter (`workers` instances) -> csv with sends of `type`
 * failing; returns what fl_pipeline_run returned. alarm() turns a hang (a consumer waiting for
 * an EOS that never comes) into a failure. */
static int run_failing(unsigned type, unsigned workers, uint64_t *csv_bytes)
{
    char dir[256], yaml[1200], path[300];
    assert_int_equal(fl_test_tmpdir("runtime", dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/flows.csv", dir);
    int n = snprintf(yaml, sizeof(yaml),
                     "version: 1\n"
                     "stages:\n"
                     "  - id: gen\n"
                     "    use: input.gen\n"
                     "    with: { packets: %u, concurrency: 200, seed: 3 }\n"
                     "  - id: flows\n"
                     "    use: aggregate.flowmeter\n"
                     "    from: gen\n"
                     "    workers: %u\n"
                     "%s"
                     "  - id: out\n"
                     "    use: output.csv\n"
                     "    from: flows\n"
                     "%s"
                     "    with: { path: \"%s\" }\n", gen_packets, workers, chain_flows,
                     chain_out, path);
    struct fl_pipeline *p = NULL;
    int rc = fl_pipeline_parse("runtime.yaml", yaml, (size_t)n, NULL, &p);
    if (rc < 0)
        fl_diags_print(&p->diags, stderr);
    assert_int_equal(rc, 0);
    atomic_store(&failed, 0);
    atomic_store(&fail_type, type);
    alarm(30);
    struct fl_run_opts o = { 0 };
    uint64_t t0 = fl_now_ns();
    rc = fl_pipeline_run(p, &o);
    last_run_ns = fl_now_ns() - t0;
    alarm(0);
    atomic_store(&fail_type, 0);
    fl_pipeline_free(&p);
    size_t len = 0;
    char *text = fl_test_slurp(path, &len);
    *csv_bytes = text ? len : 0;
    free(last_csv);
    last_csv = text;
    assert_int_equal(fl_test_rmdir(dir), 0);
    return rc;
}

static void test_clean_run(void **st)
{
    uint64_t bytes;
    assert_int_equal(run_failing(0, 1, &bytes), 0);
    assert_int_equal(atomic_load(&failed), 0);
    assert_true(bytes > 1000);                       /* flows were written */
}

/* Every EOS lost: before the fix the run hung (flowmeter waited for gen's
 * EOS forever) or returned 0. Now it ends, failed. */
static void test_eos_lost(void **st)
{
    uint64_t bytes;
    assert_true(run_failing(ENV_EOS, 1, &bytes) < 0);
    assert_true(atomic_load(&failed) >= 1);
}

/* Watermarks lost: consumers still get EOS, so the run ends, but failed
 * (before the fix it returned 0). */
static void test_watermark_lost(void **st)
{
    uint64_t bytes;
    assert_true(run_failing(ENV_WATERMARK, 1, &bytes) < 0);
    assert_true(atomic_load(&failed) >= 1);
}

/* Batches lost: the stage fails even though the plugin may ignore what
 * fl_emit returned. */
static void test_batch_lost(void **st)
{
    uint64_t bytes;
    assert_true(run_failing(ENV_BATCH, 1, &bytes) < 0);
    assert_true(atomic_load(&failed) >= 1);
}

/* workers: 3: the same outcomes with instances and split batches. A lost
 * EOS from any worker must not leave the output waiting for it. */
static void test_workers(void **st)
{
    uint64_t bytes, one;
    assert_int_equal(run_failing(0, 1, &one), 0);
    assert_int_equal(run_failing(0, 3, &bytes), 0);
    assert_int_equal(atomic_load(&failed), 0);
    assert_int_equal(bytes, one);                    /* the same flows, in another order */
    assert_true(run_failing(ENV_EOS, 3, &bytes) < 0);
    assert_true(atomic_load(&failed) >= 1);
    assert_true(run_failing(ENV_BATCH, 3, &bytes) < 0);
    assert_true(atomic_load(&failed) >= 1);
}

/* The run ends when its last stage does: the main thread was polling
 * every 100 ms, so every run took at least that long; finishing stages
 * now wake it. A tiny pipeline takes a few ms; the fastest of 5 runs
 * stays under 90 ms even on a loaded machine. */
static void test_ends_promptly(void **st)
{
    uint64_t bytes, best = UINT64_MAX;
    gen_packets = 200;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(run_failing(0, 1, &bytes), 0);
        assert_true(bytes > 100);
        if (last_run_ns < best)
            best = last_run_ns;
    }
    gen_packets = 20000;
    if (best >= 90000000ull)
        fail_msg("fastest run took %.1f ms", (double)best / 1e6);
}

/* chain: true: the flow meter in gen's thread, then the csv output too
 * (a chain of two). The same bytes as with a thread per stage (one flow
 * meter: the same order), no zmq message on a chained edge, and a lost
 * EOS on the edge that is still a link fails the run without a hang. */
static void test_chain(void **st)
{
    uint64_t bytes;
    char *plain;
    assert_int_equal(run_failing(0, 1, &bytes), 0);
    plain = last_csv;
    last_csv = NULL;
    assert_true(bytes > 1000);
    chain_flows = "    chain: true\n";
    assert_int_equal(run_failing(0, 1, &bytes), 0);
    assert_string_equal(last_csv, plain);
    assert_true(run_failing(ENV_EOS, 1, &bytes) < 0);   /* flows -> out is a link */
    assert_true(atomic_load(&failed) >= 1);
    chain_out = "    chain: true\n";
    assert_int_equal(run_failing(ENV_BATCH, 1, &bytes), 0);   /* no link left to fail */
    assert_int_equal(atomic_load(&failed), 0);
    assert_string_equal(last_csv, plain);
    chain_flows = chain_out = "";
    free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_run),
        cmocka_unit_test(test_eos_lost),
        cmocka_unit_test(test_watermark_lost),
        cmocka_unit_test(test_batch_lost),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_ends_promptly),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(last_csv);
    return rc;
}
