/* core/ie/fields_table.h: the shape of the registry tables that
 * core/ie/fields.cmake generates from fields.tsv and iana.tsv into
 * <build>/generated/fields_table.c. Core-internal (hidden, not part of
 * libflowline's ABI): core/src/field.c reads them to implement the
 * fl_field_* API of record.h, and tests/unit/fields checks them.
 *
 * Every table is const data with static storage and address-constant
 * initialisers, so lookups need no initialisation and no locks. */
#ifndef FL_IE_FIELDS_TABLE_H
#define FL_IE_FIELDS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/record.h>

/* One row of iana.tsv. `field` is what a lookup of `name` returns: the
 * short-named field when fields.tsv maps this element to one, otherwise
 * the element's own entry in fl_ie_iana_fields. */
struct fl_ie_iana {
    uint16_t id;
    bool reversible;            /* RFC 5103 reverse element exists */
    const char *name;           /* "sourceIPv4Address" */
    const char *atype;          /* IPFIX abstract data type: "ipv4Address" */
    const char *units;          /* RFC 5610 units, "" if none */
    const struct fl_field *field;
};

/* One accepted name (canonical, alias or IANA) and the field it means. */
struct fl_ie_name {
    const char *name;
    const struct fl_field *field;
};

/* Canonical short-named fields, in fields.tsv order. */
extern const struct fl_field fl_ie_fields[];
extern const size_t fl_ie_nfields;

/* Every IANA element as a field named by its IANA name (pen 0), in id
 * order, parallel to fl_ie_iana. */
extern const struct fl_field fl_ie_iana_fields[];
/* iana.tsv, sorted by id (ids and names unique). */
extern const struct fl_ie_iana fl_ie_iana[];
extern const size_t fl_ie_niana;
/* The IANA names alone, same order (fl_suggest takes a name array). */
extern const char *const fl_ie_iana_names[];

/* Every accepted name, sorted by strcmp, unique: the lookup index. */
extern const struct fl_ie_name fl_ie_names[];
extern const size_t fl_ie_nnames;

/* Canonical names then aliases: the "did you mean" candidates. */
extern const char *const fl_ie_suggest_names[];
extern const size_t fl_ie_nsuggest;

#endif
