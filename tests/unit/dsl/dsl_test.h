/* dsl_test.h: helpers shared by the dsl unit tests: diagnostics as the text
 * `flowline check` would print, and YAML parsed from a string. */
#ifndef FL_DSL_TEST_H
#define FL_DSL_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "internal.h"

/* Everything in d, printed; the caller frees. */
__attribute__((noinline, unused)) static char *dt_text(const struct fl_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fl_diags_print(d, f);
    fclose(f);
    return buf;
}

/* Assert that d prints exactly `want`. */
#define dt_assert_diags(d, want) do {           \
        char *got_ = dt_text(d);                \
        assert_string_equal(got_, (want));      \
        free(got_);                             \
    } while (0)

#endif
