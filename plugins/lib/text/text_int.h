/* text_int.h: what text_fmt.c shares with text_layout.c beyond the public
 * plugins/lib/text/fl_text.h; not exported from libflowline. */
#ifndef FL_TEXT_INT_H
#define FL_TEXT_INT_H

#include "fl_text.h"

/* The "YYYY-MM-DD" of the last day formatted: rows of one batch nearly
 * always share the day, and the civil-date arithmetic is the costly part
 * of an RFC 3339 timestamp. day = UINT64_MAX: empty. */
struct text_day_cache {
    uint64_t day;
    char ymd[10];
};

/* fl_text_ts() with a day cache (owned by the caller, e.g. per batch). */
char *fl_text_ts_cached(char *p, uint64_t ns, enum fl_text_time tf,
                        struct text_day_cache *c);

#endif
