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

static int iana_cmp(const void *key, const void *elem)
{
    uint16_t id = *(const uint16_t *)key, e = ((const struct fl_ie_iana *)elem)->id;
    return (id > e) - (id < e);
}

/* The wire encoding of an IANA abstract data type name. */
static enum fl_ie_kind atype_kind(const char *t)
{
    static const struct { const char *prefix; enum fl_ie_kind kind; } map[] = {
        { "unsigned", FL_IE_UNSIGNED }, { "signed", FL_IE_SIGNED }, { "float", FL_IE_FLOAT },
        { "boolean", FL_IE_BOOL }, { "macAddress", FL_IE_MAC }, { "string", FL_IE_STRING },
        { "ipv4Address", FL_IE_IPV4 }, { "ipv6Address", FL_IE_IPV6 },
        { "dateTimeSeconds", FL_IE_SECONDS }, { "dateTimeMilliseconds", FL_IE_MILLISECONDS },
        { "dateTimeMicroseconds", FL_IE_MICROSECONDS },
        { "dateTimeNanoseconds", FL_IE_NANOSECONDS },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(t, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].kind;
    return FL_IE_OCTETS;
}

/* flowline's own elements are encoded as their column type says. */
static enum fl_ie_kind type_kind(enum fl_type t)
{
    switch (t) {
    case FL_T_U8: case FL_T_U16: case FL_T_U32: case FL_T_U64: return FL_IE_UNSIGNED;
    case FL_T_I64: case FL_T_DUR: return FL_IE_SIGNED;
    case FL_T_F64: return FL_IE_FLOAT;
    case FL_T_BOOL: return FL_IE_BOOL;
    case FL_T_TS: return FL_IE_NANOSECONDS;
    case FL_T_ADDR: return FL_IE_IPV6;
    case FL_T_MAC: return FL_IE_MAC;
    case FL_T_STR: return FL_IE_STRING;
    default: return FL_IE_OCTETS;
    }
}

const struct fl_field *fl_field_by_ie(uint32_t pen, uint16_t ie, enum fl_ie_kind *kind)
{
    *kind = FL_IE_OCTETS;
    if (pen == 0) {
        const struct fl_ie_iana *e = bsearch(&ie, fl_ie_iana, fl_ie_niana, sizeof fl_ie_iana[0],
                                             iana_cmp);
        if (!e)
            return NULL;
        *kind = atype_kind(e->atype);
        return e->field;
    }
    if (pen == FL_PEN)
        for (size_t i = 0; i < fl_ie_nfields; i++)
            if (fl_ie_fields[i].pen == FL_PEN && fl_ie_fields[i].ie == ie) {
                *kind = type_kind(fl_ie_fields[i].type);
                return &fl_ie_fields[i];
            }
    return NULL;
}

uint64_t fl_ie_unit_ns(uint32_t pen, uint16_t ie)
{
    static const struct { const char *name; uint64_t ns; } units[] = {
        { "seconds", 1000000000u }, { "milliseconds", 1000000u },
        { "microseconds", 1000u }, { "nanoseconds", 1u },
    };
    enum fl_ie_kind kind;
    const struct fl_field *f = fl_field_by_ie(pen, ie, &kind);

    if (!f)
        return 0;
    if (pen == 0) {
        const struct fl_ie_iana *e = bsearch(&ie, fl_ie_iana, fl_ie_niana, sizeof fl_ie_iana[0],
                                             iana_cmp);
        for (size_t i = 0; e && i < sizeof units / sizeof units[0]; i++)
            if (strcmp(e->units, units[i].name) == 0)
                return units[i].ns;
        return 0;
    }
    return f->type == FL_T_DUR ? 1 : 0;    /* flowline's own durations are in ns */
}
