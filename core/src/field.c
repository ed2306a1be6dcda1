/* field.c: the field registry API of record.h (fl_field_find, fl_field_at,
 * fl_field_suggest) and fl_field_canonical for fl_schema_find. The column
 * type helpers (fl_type_size, fl_type_name, ...) live in record.c.
 *
 * The data is not here: core/ie/fields.cmake generates the tables from
 * core/ie/fields.tsv and iana.tsv (see docs/fields.md and
 * core/ie/fields_table.h). The name index comes out sorted by strcmp at
 * build time, so a lookup is one binary search over const data: no
 * initialisation, no locks, safe from any thread. Schemas resolve names to
 * column indexes once per schema, so this is not on a per-row path. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "../ie/fields_table.h"

static int name_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct fl_ie_name *)elem)->name);
}

const struct fl_field *fl_field_find(const char *name)
{
    const struct fl_ie_name *e;
    if (!name || !*name)
        return NULL;
    e = bsearch(name, fl_ie_names, fl_ie_nnames, sizeof fl_ie_names[0], name_cmp);
    return e ? e->field : NULL;
}

const struct fl_field *fl_field_at(size_t i)
{
    return i < fl_ie_nfields ? &fl_ie_fields[i] : NULL;
}

const char *fl_field_canonical(const char *name)
{
    const struct fl_field *f = fl_field_find(name);
    return f ? f->name : NULL;
}

const char *fl_field_suggest(const char *name)
{
    const char *s;
    if (!name || !*name)
        return NULL;
    /* Short names and aliases are what people type; the ~460 IANA names
     * are only worth a look when nothing short is close (a mistyped
     * "sourceIPv4Adress"). fl_suggest's distance bound keeps both honest. */
    s = fl_suggest(name, fl_ie_suggest_names, fl_ie_nsuggest);
    return s ? s : fl_suggest(name, fl_ie_iana_names, fl_ie_niana);
}
