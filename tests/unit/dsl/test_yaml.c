/* test_yaml.c: the YAML tree (dsl/yaml_tree.c) from buffers: positions,
 * quoting, duplicate keys, ${ENV}, anchors/aliases/merge keys, syntax
 * errors and the partial tree after them, and the bounds that keep a hostile
 * file cheap. */
#include "dsl_test.h"

struct yt {
    struct fl_diags d;
    struct fl_ynode *root;
    int rc;
};

static void yt_parse(struct yt *t, const char *text)
{
    memset(t, 0, sizeof(*t));
    t->rc = fl_ynode_parse("t.yaml", text, strlen(text), &t->d, &t->root);
}

static void yt_free(struct yt *t)
{
    fl_ynode_free(&t->root);
    fl_diags_free(&t->d);
}

static void test_positions(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a: 1\nb:\n  - x\n  - {c: 'd', e: \"f\"}\n");
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.d.n, 0);
    const struct fl_ynode *r = t.root;
    assert_int_equal(r->kind, FL_Y_MAP);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->keys[0], "a");
    assert_int_equal(r->key_pos[0].line, 1);
    assert_int_equal(r->key_pos[0].col, 1);
    assert_string_equal(r->pos.file, "t.yaml");
    const struct fl_ynode *a = fl_ynode_get(r, "a");
    assert_string_equal(a->str, "1");
    assert_false(a->quoted);
    assert_int_equal(a->pos.line, 1);
    assert_int_equal(a->pos.col, 4);
    const struct fl_ynode *b = fl_ynode_get(r, "b");
    assert_int_equal(b->kind, FL_Y_SEQ);
    assert_int_equal(b->n, 2);
    assert_int_equal(b->pos.line, 3);
    assert_int_equal(b->pos.col, 3);
    assert_int_equal(b->items[0]->pos.col, 5);
    const struct fl_ynode *m = b->items[1];
    assert_int_equal(m->kind, FL_Y_MAP);
    assert_int_equal(m->pos.line, 4);
    assert_int_equal(m->pos.col, 5);
    assert_string_equal(fl_ynode_get(m, "c")->str, "d");
    assert_true(fl_ynode_get(m, "c")->quoted);
    assert_true(fl_ynode_get(m, "e")->quoted);
    assert_int_equal(fl_ynode_get(m, "e")->pos.col, 17);
    assert_null(fl_ynode_get(m, "zz"));
    assert_null(fl_ynode_get(a, "x"));
    assert_false(r->partial);
    yt_free(&t);
}

static void test_null_and_empty(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a:\nb: ~\nc: null\nd: 'null'\ne: \"\"\nf: x\n");
    assert_true(fl_ynode_is_null(fl_ynode_get(t.root, "a")));
    assert_true(fl_ynode_is_null(fl_ynode_get(t.root, "b")));
    assert_true(fl_ynode_is_null(fl_ynode_get(t.root, "c")));
    assert_false(fl_ynode_is_null(fl_ynode_get(t.root, "d")));
    assert_false(fl_ynode_is_null(fl_ynode_get(t.root, "e")));
    assert_false(fl_ynode_is_null(fl_ynode_get(t.root, "f")));
    assert_false(fl_ynode_is_null(t.root));
    yt_free(&t);

    yt_parse(&t, "");
    assert_int_equal(t.rc, 0);
    assert_null(t.root);
    yt_free(&t);
    yt_parse(&t, "# only a comment\n");
    assert_int_equal(t.rc, 0);
    assert_null(t.root);
    yt_free(&t);
}

static void test_duplicate_key(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a: 1\nb:\n  x: 1\n  x: 2\na: 3\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "t.yaml:4:3: duplicate key \"x\" (first at line 3)\n"
                          "t.yaml:5:1: duplicate key \"a\" (first at line 1)\n");
    assert_int_equal(t.root->n, 2);                   /* the first is kept */
    assert_string_equal(fl_ynode_get(t.root, "a")->str, "1");
    yt_free(&t);

    /* duplicates in a flow mapping too, and a dropped value that holds an anchor */
    yt_parse(&t, "m: {k: &v 1, k: 2}\nn: *v\n");
    dt_assert_diags(&t.d, "t.yaml:1:14: duplicate key \"k\" (first at line 1)\n");
    assert_string_equal(fl_ynode_get(t.root, "n")->str, "1");
    yt_free(&t);
}

static void test_env(void **state)
{
    struct yt t;
    (void)state;
    setenv("FL_T_X", "val", 1);
    setenv("FL_T_EMPTY", "", 1);
    unsetenv("FL_T_UNSET");
    yt_parse(&t, "a: ${FL_T_X}/x\nb: ${FL_T_UNSET:-dflt}\nc: $${FL_T_X}\n"
                 "d: ${FL_T_EMPTY:-e}\ne: ${FL_T_EMPTY}\nf: '${FL_T_X}'\n${FL_T_X}: k\n"
                 "g: [\"${FL_T_X}\", '${FL_T_UNSET:-}']\nh: a${FL_T_X}b${FL_T_X}c\ni: $FL_T_X\n");
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.d.n, 0);
    assert_string_equal(fl_ynode_get(t.root, "a")->str, "val/x");
    assert_string_equal(fl_ynode_get(t.root, "b")->str, "dflt");
    assert_string_equal(fl_ynode_get(t.root, "c")->str, "${FL_T_X}");
    assert_string_equal(fl_ynode_get(t.root, "d")->str, "e");
    assert_string_equal(fl_ynode_get(t.root, "e")->str, "");
    assert_string_equal(fl_ynode_get(t.root, "f")->str, "val");   /* quoted too */
    assert_string_equal(fl_ynode_get(t.root, "${FL_T_X}")->str, "k");  /* keys never */
    assert_string_equal(fl_ynode_get(t.root, "g")->items[0]->str, "val");
    assert_string_equal(fl_ynode_get(t.root, "g")->items[1]->str, "");
    assert_string_equal(fl_ynode_get(t.root, "h")->str, "avalbvalc");
    assert_string_equal(fl_ynode_get(t.root, "i")->str, "$FL_T_X");
    yt_free(&t);
}

static void test_env_errors(void **state)
{
    struct yt t;
    (void)state;
    unsetenv("FL_T_UNSET");
    yt_parse(&t, "a: x\nb: ${FL_T_UNSET}\nc: ${1X}\nd: ${FL_T_X\ne: ${A B}\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d,
        "t.yaml:2:4: environment variable \"FL_T_UNSET\" is not set (write ${FL_T_UNSET:-default} for a fallback)\n"
        "t.yaml:3:4: bad environment variable reference \"${1X}\"\n"
        "t.yaml:4:4: unterminated \"${\" in value\n"
        "t.yaml:5:4: bad environment variable reference \"${A B}\"\n");
    assert_non_null(t.root);                          /* the tree is still there */
    assert_string_equal(fl_ynode_get(t.root, "b")->str, "${FL_T_UNSET}");
    yt_free(&t);
}

static void test_syntax_error(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a: 1\nb: [1, 2\nc: 3\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "t.yaml:3:2: did not find expected ',' or ']' (while parsing a flow sequence at line 2)\n");
    assert_non_null(t.root);
    assert_true(t.root->partial);
    assert_string_equal(fl_ynode_get(t.root, "a")->str, "1");
    yt_free(&t);

    yt_parse(&t, "a: b: c\n");
    dt_assert_diags(&t.d, "t.yaml:1:5: mapping values are not allowed in this context\n");
    yt_free(&t);

    yt_parse(&t, "a:\n\t- x\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    assert_int_equal(t.d.errors, 1);
    yt_free(&t);

    /* a reader error has no mark: the position comes from the byte offset */
    yt_parse(&t, "a: 1\nb: x\xff\n");
    dt_assert_diags(&t.d, "t.yaml:2:5: invalid leading UTF-8 octet\n");
    yt_free(&t);

    yt_parse(&t, "]");
    assert_int_equal(t.rc, -FL_EINVAL);
    assert_null(t.root);
    yt_free(&t);
}

static void test_two_documents(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a: 1\n---\nb: 2\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "t.yaml:2:1: a second YAML document: a pipeline file holds one\n");
    assert_string_equal(fl_ynode_get(t.root, "a")->str, "1");
    assert_false(t.root->partial);
    yt_free(&t);

    yt_parse(&t, "---\na: 1\n...\n");
    assert_int_equal(t.rc, 0);
    yt_free(&t);
}

static void test_aliases(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "x: &a {p: 1, q: [2, 3]}\ny: *a\ns: &s str\nt: *s\n*s : keyed\n");
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.d.n, 0);
    const struct fl_ynode *x = fl_ynode_get(t.root, "x"), *y = fl_ynode_get(t.root, "y");
    assert_ptr_not_equal(x, y);                       /* a copy: the tree is a tree */
    assert_string_equal(fl_ynode_get(y, "p")->str, "1");
    assert_int_equal(fl_ynode_get(y, "q")->n, 2);
    assert_int_equal(y->pos.line, 1);                 /* where the text is */
    assert_string_equal(fl_ynode_get(t.root, "t")->str, "str");
    assert_string_equal(fl_ynode_get(t.root, "str")->str, "keyed");
    yt_free(&t);

    yt_parse(&t, "a: *nope\nb: 1\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "t.yaml:1:4: alias \"*nope\" names no anchor defined before it\n");
    assert_string_equal(fl_ynode_get(t.root, "b")->str, "1");
    yt_free(&t);

    /* an unknown alias as a key drops its pair (found by fuzz_yaml) */
    yt_parse(&t, "a: 1\n*with:\n  x: 1\nb: 2\n");
    dt_assert_diags(&t.d, "t.yaml:2:1: alias \"*with\" names no anchor defined before it\n");
    assert_int_equal(t.root->n, 2);
    assert_string_equal(fl_ynode_get(t.root, "b")->str, "2");
    yt_free(&t);

    /* an anchor is usable only once complete: no recursive structures */
    yt_parse(&t, "a: &r [1, *r]\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "t.yaml:1:11: alias \"*r\" names no anchor defined before it\n");
    yt_free(&t);
}

static void test_merge(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "base: &b {p: 1, q: 2}\nmore: &m {r: 3, p: 9}\n"
                 "m1:\n  <<: *b\n  q: 3\n"
                 "m2:\n  q: 4\n  <<: *b\n"
                 "m3:\n  <<: [*b, *m]\n"
                 "m4:\n  <<: *b\n  q: 5\n  q: 6\n");
    dt_assert_diags(&t.d, "t.yaml:14:3: duplicate key \"q\" (first at line 13)\n");
    const struct fl_ynode *m1 = fl_ynode_get(t.root, "m1"), *m2 = fl_ynode_get(t.root, "m2"),
                          *m3 = fl_ynode_get(t.root, "m3");
    assert_int_equal(m1->n, 2);
    assert_string_equal(fl_ynode_get(m1, "p")->str, "1");
    assert_string_equal(fl_ynode_get(m1, "q")->str, "3");
    assert_int_equal(m2->n, 2);
    assert_string_equal(fl_ynode_get(m2, "q")->str, "4");
    assert_int_equal(m3->n, 3);
    assert_string_equal(fl_ynode_get(m3, "p")->str, "1");  /* the first source wins */
    assert_string_equal(fl_ynode_get(m3, "r")->str, "3");
    assert_null(fl_ynode_get(m1, "<<"));
    assert_string_equal(fl_ynode_get(fl_ynode_get(t.root, "m4"), "q")->str, "5");
    yt_free(&t);

    yt_parse(&t, "m:\n  <<: 1\n");
    dt_assert_diags(&t.d, "t.yaml:2:7: << expects a mapping or a list of mappings\n");
    yt_free(&t);

    yt_parse(&t, "m:\n  '<<': 1\n");             /* quoted: an ordinary key */
    assert_int_equal(t.rc, 0);
    assert_string_equal(fl_ynode_get(fl_ynode_get(t.root, "m"), "<<")->str, "1");
    yt_free(&t);
}

static void test_bad_keys(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a: 1\n? [x, y]\n: 2\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "t.yaml:2:3: a key must be a plain value, not a list\n");
    assert_true(t.root->partial);
    yt_free(&t);

    yt_parse(&t, "&k a: 1\n");
    dt_assert_diags(&t.d, "t.yaml:1:1: anchors on keys are not supported\n");
    yt_free(&t);
}

/* An alias bomb stops at the node budget, fast, with one error. */
static void test_alias_bomb(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                 "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                 "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n");
    assert_int_equal(t.rc, -FL_EINVAL);
    assert_int_equal(t.d.errors, 1);
    assert_non_null(strstr(t.d.v[0].msg, "more than 100000 YAML values once aliases are expanded"));
    yt_free(&t);
}

/* A file that is merely large is not blamed on aliases. */
static void test_too_large(void **state)
{
    struct yt t;
    size_t n = 110000, len = 0;
    char *buf = malloc(n * 2 + 16);
    (void)state;
    assert_non_null(buf);
    len += (size_t)sprintf(buf, "x: [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(buf + len, "%s1", i ? "," : "");
    strcpy(buf + len, "]\n");
    yt_parse(&t, buf);
    assert_int_equal(t.rc, -FL_EINVAL);
    assert_int_equal(t.d.errors, 1);
    assert_non_null(strstr(t.d.v[0].msg, "more than 100000 YAML values: too large for a pipeline file"));
    yt_free(&t);
    free(buf);
}

static void test_deep_nesting(void **state)
{
    struct yt t;
    char buf[2 * 300 + 8];
    (void)state;
    memset(buf, '[', 300);
    memset(buf + 300, ']', 300);
    buf[600] = 0;
    yt_parse(&t, buf);
    assert_int_equal(t.rc, -FL_EINVAL);
    dt_assert_diags(&t.d, "t.yaml:1:257: YAML nested deeper than 256 levels\n");
    yt_free(&t);

    memset(buf, '[', 200);
    memset(buf + 200, ']', 200);
    buf[400] = 0;
    yt_parse(&t, buf);
    assert_int_equal(t.rc, 0);
    yt_free(&t);
}

static void test_scalar_styles(void **state)
{
    struct yt t;
    (void)state;
    yt_parse(&t, "a: |\n  line1\n  line2\nb: >\n  folded\n  text\nc: !!str 12\nd: 'it''s'\n");
    assert_int_equal(t.rc, 0);
    assert_string_equal(fl_ynode_get(t.root, "a")->str, "line1\nline2\n");
    assert_true(fl_ynode_get(t.root, "a")->quoted);
    assert_string_equal(fl_ynode_get(t.root, "b")->str, "folded text\n");
    assert_true(fl_ynode_get(t.root, "c")->quoted);
    assert_string_equal(fl_ynode_get(t.root, "d")->str, "it's");
    yt_free(&t);

    yt_parse(&t, "a: \"x\\0y\"\n");
    dt_assert_diags(&t.d, "t.yaml:1:4: a NUL character in a value\n");
    yt_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_null_and_empty),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_two_documents),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_scalar_styles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
