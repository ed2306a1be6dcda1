/* fl_files.h: the files a file input's `path:` option names (FL_OPT_PATHS),
 * in reading order. A static library shared by input.pcap and input.ipfix,
 * not part of libflowline's ABI. */
#ifndef FL_FILES_H
#define FL_FILES_H

#include <stddef.h>
#include <flowline/opts.h>

/* The files of paths, in order (*out owned by the caller: fl_files_free).
 * A glob without a match, an empty or unreadable folder, or "-" among
 * others is an error with its text in err. */
int fl_files(const struct fl_strlist *paths, char ***out, size_t *n, char *err, size_t errlen);
void fl_files_free(char **v, size_t n);

#endif
