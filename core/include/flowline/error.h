/* flowline/error.h: result codes shared by every fl_ function.
 *
 * Functions return 0 on success or a negative -FL_E* code; results travel
 * through out-parameters. fl_strerror() gives the text of a code. */
#ifndef FLOWLINE_ERROR_H
#define FLOWLINE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define FL_API __attribute__((visibility("default")))

/* ABI growth (docs/decisions.md, "An ABI that can grow"). A public struct
 * only ever grows at its end within an ABI major, so every struct that
 * crosses the ABI either travels with its size (a table a plugin allocates:
 * struct fl_plugin.opt_size, the col_size of fl_schema_intern()), or is
 * allocated by the core and reached through a pointer (fl_schema.cols[i],
 * describe()'s out[port]). FL_GROWN_TAIL ends each such struct: empty in
 * every real build; tests/abi builds a second core with
 * FL_ABI_GROWTH_TEST defined, whose structs are all larger than the
 * plugins', and runs the ordinary plugins in it. Value types the core
 * writes into a plugin's state or a cell (fl_addr, fl_span, fl_strlist,
 * fl_strmap, fl_log_rl) are fixed for the whole ABI major instead. */
#ifdef FL_ABI_GROWTH_TEST
#define FL_GROWN_TAIL char fl_grown_tail_[40];
#else
#define FL_GROWN_TAIL
#endif

enum fl_error {
    FL_OK = 0,
    FL_ENOMEM = 1,     /* allocation failed */
    FL_EINVAL,         /* invalid argument or value */
    FL_EIO,            /* read/write/system call failed (errno logged) */
    FL_ENOENT,         /* no such file, field, plugin, stage */
    FL_EAGAIN,         /* process(): offer the same batch again later */
    FL_ERANGE,         /* value out of range */
    FL_EPROTO,         /* malformed input (packet, message, file) */
    FL_EABI,           /* plugin ABI mismatch */
    FL_ETYPE,          /* type mismatch */
    FL_ESTOP,          /* the pipeline is stopping */
    FL_EFULL,          /* a bounded table or buffer is full */
    FL_ELAST
};

/* Text of a result code, positive or negative; never NULL. */
FL_API const char *fl_strerror(int rc);

#ifdef __cplusplus
}
#endif
#endif
