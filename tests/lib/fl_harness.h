/* tests/lib/fl_harness.h: run one plugin in memory, as the runtime would,
 * for plugin tests: load the .so through the normal search path, parse its
 * options from a YAML string, describe/init/start it, push batches, advance
 * its clock, drain it, and keep everything it emitted for assertions.
 * Also the small helpers every unit test may share: a bare ctx, the test
 * data directory, temp directories and whole-file reads.
 * Linked into tests with flowline_static (tests/CMakeLists.txt). */
#ifndef FL_HARNESS_H
#define FL_HARNESS_H

#include <flowline/plugin.h>

struct fl_harness;

/* use: "aggregate.flowmeter"; with_yaml: a YAML flow mapping or block
 * ("{idle_timeout: 10s}"), NULL for none; in: the input schema (NULL for
 * inputs). Runs describe, init and start. Option/describe errors are
 * printed to stderr and make it fail with -FL_EINVAL. */
int fl_harness_new(const char *use, const char *with_yaml,
                   const struct fl_schema *in, struct fl_harness **out);
/* The context to use for fl_batch_new()/fl_schema_intern() in the test. */
struct fl_ctx *fl_harness_ctx(struct fl_harness *h);
/* The schema describe() declared for port 0 (NULL if open). */
const struct fl_schema *fl_harness_out_schema(struct fl_harness *h);

int fl_harness_push(struct fl_harness *h, struct fl_batch *b);  /* process(); b stays the caller's */
int fl_harness_tick(struct fl_harness *h, uint64_t now_ns);    /* tick() */
int fl_harness_run(struct fl_harness *h);                      /* run() of an input, to its end */
int fl_harness_drain(struct fl_harness *h);                    /* drain() */
int fl_harness_reload(struct fl_harness *h);                   /* reload(): SIGHUP */

/* Batches emitted so far, in order (any port; see fl_harness_out_port). */
size_t fl_harness_n_out(struct fl_harness *h);
struct fl_batch *fl_harness_out(struct fl_harness *h, size_t i);
const char *fl_harness_out_port(struct fl_harness *h, size_t i);
/* Total rows emitted so far. */
uint64_t fl_harness_out_rows(struct fl_harness *h);
/* A stage counter's value (0 if never added). */
uint64_t fl_harness_counter(struct fl_harness *h, const char *name);

/* fini, release everything. */
void fl_harness_destroy(struct fl_harness **h);

/* A context for unit tests that need schemas and batches but no plugin. */
struct fl_ctx *fl_test_ctx_new(void);
void fl_test_ctx_destroy(struct fl_ctx **ctx);

/* ../shared/data or $FLOWLINE_TEST_DATA; prints where it looked and returns
 * NULL if absent. */
const char *fl_test_data_dir(void);

/* Temp files for tests. Plain libc, no cmocka: each returns an error the
 * caller asserts on, so a failure points at the test's own line. */

/* Make a new private (0700) directory $TMPDIR/fl_<tag>_XXXXXX, /tmp when
 * TMPDIR is unset or empty, and write its path into buf (len bytes).
 * Returns 0, or -1 with errno set (ENAMETOOLONG if the path does not fit).
 * The caller removes it with fl_test_rmdir(). */
int fl_test_tmpdir(const char *tag, char *buf, size_t len);
/* Remove dir and everything below it (files, FIFOs, subdirectories); links are
 * removed, never followed. Returns 0, or -1 if anything could not be
 * removed (the rest is still tried). */
int fl_test_rmdir(const char *dir);
/* The whole file at path, read to its end (any size, also a pipe), with a
 * NUL after the last byte so text can be used as a string. *len, if len is
 * non-NULL, gets the byte count without that NUL. malloc'd: the caller
 * frees. NULL with errno set if it cannot be opened or read. */
char *fl_test_slurp(const char *path, size_t *len);

#endif
