/* error.c: texts of the -FL_E* result codes. */
#include <stdlib.h>
#include "internal.h"

const char *fl_strerror(int rc)
{
    static const char *const text[FL_ELAST] = {
        [FL_OK] = "success",
        [FL_ENOMEM] = "out of memory",
        [FL_EINVAL] = "invalid argument",
        [FL_EIO] = "I/O error",
        [FL_ENOENT] = "not found",
        [FL_EAGAIN] = "try again later",
        [FL_ERANGE] = "out of range",
        [FL_EPROTO] = "malformed input",
        [FL_EABI] = "plugin ABI mismatch",
        [FL_ETYPE] = "type mismatch",
        [FL_ESTOP] = "pipeline stopping",
        [FL_EFULL] = "table full",
    };
    int c = abs(rc);
    return c < FL_ELAST && text[c] ? text[c] : "unknown error";
}
