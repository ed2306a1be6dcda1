/* spool.h: the delivery layer's bounded on-disk queue (spool.c).
 *
 * A spool is a folder of segment files <name>.<seq>.spool (seq: 16
 * decimal digits, increasing), written in order and read in order. A
 * segment starts with a 16-byte header ("FLSPOOL1", version, header size)
 * and holds records: magic "FLSR", payload length, record count, CRC-32
 * of the payload (all little-endian u32), then the payload. A record that
 * does not check (a torn write at a crash) ends its segment: counted as
 * spool_corrupt, logged, the rest of that segment skipped. Opening a spool
 * finds the segments an earlier run left and reads them first; writing
 * always starts a new segment, so a torn tail of an old one stays behind
 * its last good record. */
#ifndef FL_SPOOL_H
#define FL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fl_ctx;
struct fl_spool;

/* dir is created if missing (its parent must exist). max: bytes on disk. */
int fl_spool_open(struct fl_ctx *ctx, const char *dir, const char *name, uint64_t max,
                  struct fl_spool **out);
/* Syncs and closes; what is still spooled stays on disk for the next run. */
void fl_spool_close(struct fl_spool **s);
/* Append one payload. -FL_EFULL past max (nothing written), -FL_EIO. */
int fl_spool_put(struct fl_spool *s, const uint8_t *p, size_t len, uint32_t n);
/* The oldest payload, valid until fl_spool_pop(). -FL_ENOENT when empty. */
int fl_spool_peek(struct fl_spool *s, const uint8_t **p, size_t *len, uint32_t *n);
void fl_spool_pop(struct fl_spool *s);
bool fl_spool_empty(struct fl_spool *s);
uint64_t fl_spool_bytes(const struct fl_spool *s);
int fl_spool_sync(struct fl_spool *s);

#endif
