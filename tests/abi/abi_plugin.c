/* abi_plugin.c: one tiny transform plugin, compiled in several broken
 * variants (ABI_VARIANT) to check that the loader refuses each with one
 * clear line. */
#include <stddef.h>
#include <flowline/plugin.h>

struct state { uint64_t limit; };

__attribute__((unused)) static int abi_process(struct fl_ctx *ctx, void *state, struct fl_batch *in)
{
    struct fl_batch *b = fl_batch_retain(in);
    return fl_emit(ctx, &b);
}

#if ABI_VARIANT == 0 || ABI_VARIANT == 4
static const struct fl_opt abi_opts[] = {
    { .name = "limit", .type = FL_OPT_UINT, .offset = offsetof(struct state, limit), .def = "1",
      .doc = "unused" },
#if ABI_VARIANT == 4   /* bad option table: a name declared twice */
    { .name = "limit", .type = FL_OPT_UINT, .offset = offsetof(struct state, limit), .doc = "again" },
#endif
    { 0 }
};
FL_PLUGIN_DEFINE(.kind = FL_KIND_TRANSFORM, .name = "abi", .version = "1", .summary = "ABI test plugin",
                 .opts = abi_opts, .state_size = sizeof(struct state), .process = abi_process);
#elif ABI_VARIANT == 1   /* built for another major */
FL_API const struct fl_plugin fl_plugin_entry = {
    .abi_major = FL_ABI_MAJOR + 1, .abi_minor = 0, .struct_size = sizeof(struct fl_plugin),
    .kind = FL_KIND_TRANSFORM, .name = "abi", .process = abi_process };
#elif ABI_VARIANT == 2   /* built for a newer minor than this core */
FL_API const struct fl_plugin fl_plugin_entry = {
    .abi_major = FL_ABI_MAJOR, .abi_minor = FL_ABI_MINOR + 1, .struct_size = sizeof(struct fl_plugin),
    .kind = FL_KIND_TRANSFORM, .name = "abi", .process = abi_process };
#elif ABI_VARIANT == 3   /* no entry symbol at all */
FL_API int fl_plugin_entry_typo = 1;
#endif
