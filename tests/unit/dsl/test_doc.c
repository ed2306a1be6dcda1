/* test_doc.c: the reference generated from an option table (dsl/opts_doc.c):
 * the Markdown page and the JSON Schema (checked to be valid JSON with
 * Python's json module when python3 is there). */
#include <stddef.h>
#include <unistd.h>
#include "dsl_test.h"

struct demo { uint64_t idle, max; bool on; int fmt; char *path; struct fl_strlist f; double r; uint64_t buf; };
static const char *const fmts[] = { "csv", "json", NULL };
static const struct fl_opt demo_opts[] = {
    { .name = "idle_timeout", .type = FL_OPT_DURATION, .offset = offsetof(struct demo, idle),
      .def = "60s", .min = "1ms", .max = "7d", .doc = "end a flow | after this long idle",
      .alias = "idle" },
    { .name = "max_flows", .type = FL_OPT_UINT, .offset = offsetof(struct demo, max),
      .def = "1M", .min = "1", .unit = "flows", .doc = "flow table budget" },
    { .name = "enabled", .type = FL_OPT_BOOL, .offset = offsetof(struct demo, on), .def = "yes" },
    { .name = "format", .type = FL_OPT_ENUM, .offset = offsetof(struct demo, fmt), .def = "csv",
      .choices = fmts, .doc = "what to \"write\"" },
    { .name = "path", .type = FL_OPT_PATH, .offset = offsetof(struct demo, path),
      .flags = FL_OPT_REQUIRED, .doc = "where" },
    { .name = "fields", .type = FL_OPT_LIST, .offset = offsetof(struct demo, f), .def = "[a, b]" },
    { .name = "ratio", .type = FL_OPT_FLOAT, .offset = offsetof(struct demo, r), .max = "1.5" },
    { .name = "buffer", .type = FL_OPT_SIZE, .offset = offsetof(struct demo, buf), .def = "64KiB",
      .min = "4KiB", .max = "1GiB" },
    { 0 }
};
static const char *const demo_ports[] = { "flows", "counters", NULL };
static const struct fl_plugin demo = {
    .abi_major = FL_ABI_MAJOR, .abi_minor = FL_ABI_MINOR, .struct_size = sizeof(struct fl_plugin),
    .kind = FL_KIND_AGGREGATE, .name = "demo", .version = "1.2", .summary = "a demo plugin",
    .opts = demo_opts, .ports = demo_ports, .state_size = sizeof(struct demo),
};

static char *doc(const struct fl_plugin *p, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fl_opts_doc(p, json, f), 0);
    fclose(f);
    return buf;
}

static void test_markdown(void **state)
{
    (void)state;
    char *md = doc(&demo, false);
    const char *want[] = {
        "# aggregate.demo\n\na demo plugin\n\n- Version: 1.2\n- Kind: aggregate\n- Output ports: `flows`, `counters`\n",
        "| Option | Type | Default | Bounds | Unit | Description |\n|---|---|---|---|---|---|\n",
        "| `idle_timeout` | duration | `60s` | 1ms .. 7d |  | end a flow \\| after this long idle (deprecated name: `idle`) |\n",
        "| `max_flows` | uint | `1M` | >= 1 | flows | flow table budget |\n",
        "| `format` | enum: `csv`, `json` | `csv` |  |  | what to \"write\" |\n",
        "| `path` | path | required |  |  | where |\n",
        "| `ratio` | float |  | <= 1.5 |  |  |\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        if (!strstr(md, want[i]))
            fail_msg("missing:\n%s\nin:\n%s", want[i], md);
    free(md);

    struct fl_plugin bare = demo;
    bare.opts = NULL;
    bare.ports = NULL;
    bare.kind = FL_KIND_OUTPUT;
    md = doc(&bare, false);
    assert_non_null(strstr(md, "- Output ports: none\n"));
    assert_non_null(strstr(md, "This plugin takes no options.\n"));
    free(md);
    bare.kind = FL_KIND_INPUT;
    md = doc(&bare, false);
    assert_non_null(strstr(md, "- Output ports: `out`\n"));
    free(md);
}

static void test_json(void **state)
{
    (void)state;
    char *js = doc(&demo, true);
    const char *want[] = {
        "\"$schema\": \"https://json-schema.org/draft/2020-12/schema\"",
        "\"title\": \"aggregate.demo\"",
        "\"additionalProperties\": false",
        "\"idle_timeout\": {",
        "\"default\": \"60s\"",
        "\"idle\": {",
        "\"deprecated\": true",
        "\"description\": \"Deprecated: use idle_timeout. end a flow | after this long idle (range: 1ms to 7d)\"",
        "\"default\": 1000000",
        "\"minimum\": 1",
        "\"default\": true",
        "\"enum\": [\"csv\", \"json\"]",
        "\"description\": \"what to \\\"write\\\"\"",
        "\"default\": [\"a\", \"b\"]",
        "\"maximum\": 1.5",
        "\"minimum\": 4096",
        "\"maximum\": 1073741824",
        "\"default\": \"64KiB\"",
        "\"required\": [\"path\"]",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
        if (!strstr(js, want[i]))
            fail_msg("missing: %s\nin:\n%s", want[i], js);

    /* valid JSON, checked by a parser nobody here wrote, when there is one */
    if (system("python3 -c 'import json' >/dev/null 2>&1") == 0) {
        char path[] = "/tmp/fl-doc-XXXXXX", cmd[256];
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, js, strlen(js)), (ssize_t)strlen(js));
        close(fd);
        snprintf(cmd, sizeof(cmd), "python3 -c 'import json,sys; s=json.load(open(sys.argv[1]));"
                 " assert s[\"properties\"][\"max_flows\"][\"default\"] == 1000000' %s", path);
        assert_int_equal(system(cmd), 0);
        unlink(path);
    }
    free(js);

    struct fl_plugin bare = demo;
    bare.opts = NULL;
    js = doc(&bare, true);
    assert_non_null(strstr(js, "\"properties\": {}\n}\n"));
    free(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
