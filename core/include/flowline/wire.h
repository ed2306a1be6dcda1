/* flowline/wire.h: the binary batch encoding (ABI 2.3), docs/wire-format.md.
 *
 * One batch becomes one self-describing message: a fixed header (magic,
 * version, rows, columns, schema fingerprint, sequence number, time range),
 * optionally the schema block (field names, types, IPFIX elements), then one
 * section per column (validity bitmap, cells; str/bytes as lengths then
 * bytes). output.kafka and output.zmq write it (`format: batch`), their
 * inputs read it, and links between nodes reuse its sections as frames.
 *
 * The decoder trusts nothing: every length is checked against the buffer
 * before it is read, sizes are bounded (FL_WIRE_MAX_*), and a message that
 * fails gives -FL_EPROTO and a one-line reason (fl_wire_dec_error). It keeps
 * the schemas it has seen by fingerprint, so a stream of batches of one
 * schema is interned once, and a message may leave the schema block out
 * once the receiver has it (links with a handshake; Kafka and PUB always
 * send it, since a consumer may start anywhere).
 *
 * Threading: an encoder buffer and a decoder belong to one thread (a
 * decoder to the stage whose ctx it was made with). */
#ifndef FLOWLINE_WIRE_H
#define FLOWLINE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <flowline/error.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fl_ctx;

#define FL_WIRE_VERSION 1
#define FL_WIRE_HEADER_SIZE 56
/* Limits a decoder enforces (an encoder refuses batches beyond them). */
#define FL_WIRE_MAX_ROWS (1u << 20)
#define FL_WIRE_MAX_COLS 4096u
#define FL_WIRE_MAX_NAME 255u
#define FL_WIRE_MAX_MESSAGE (1u << 30)

/* A growable byte buffer. Zero-initialise to start; fl_wire_buf_free(). */
struct fl_wire_buf {
    uint8_t *p;
    size_t len, cap;
};
FL_API void fl_wire_buf_free(struct fl_wire_buf *b);

/* Encoding flags. */
#define FL_WIRE_NO_SCHEMA 0x1u  /* leave the schema block out (the receiver has it) */

/* Append batch b, encoded, to out (out->len grows by the message size).
 * Missing cells are written as zeros. -FL_ERANGE if b exceeds a limit,
 * -FL_ENOMEM; out is unchanged on error. */
FL_API int fl_wire_encode(const struct fl_batch *b, unsigned flags, struct fl_wire_buf *out);
/* The fingerprint of a schema as the encoder writes it (a 64-bit hash of
 * its schema block), e.g. to key a "receiver has it" set. */
FL_API uint64_t fl_wire_schema_fp(const struct fl_schema *s);

/* The total length of the message at p[0..len) from its header, so that a
 * stream of messages can be cut: 0 and -FL_EAGAIN when fewer than
 * FL_WIRE_HEADER_SIZE bytes are there, -FL_EPROTO when the header is not a
 * flowline batch (bad magic, version, length). */
FL_API int fl_wire_peek(const void *p, size_t len, size_t *msg_len);

struct fl_wire_dec;   /* opaque: schema cache, last error */

/* A decoder making batches and schemas with ctx (the caller's stage ctx).
 * max_schemas bounds its cache (0 = 64); the oldest goes first. */
FL_API int fl_wire_dec_new(struct fl_ctx *ctx, uint32_t max_schemas, struct fl_wire_dec **out);
FL_API void fl_wire_dec_free(struct fl_wire_dec **d);
/* Decode the message at the start of p[0..len) into a new batch (the
 * caller owns it); *used (may be NULL) gets the message's length, which
 * may be less than len. -FL_EPROTO for a malformed, truncated or
 * unsupported message, -FL_ENOENT when the message has no schema block and
 * its fingerprint is unknown, -FL_ENOMEM; fl_wire_dec_error() says why. */
FL_API int fl_wire_decode(struct fl_wire_dec *d, const void *p, size_t len,
                          struct fl_batch **out, size_t *used);
/* The reason of the last failure ("" if none), valid until the next call. */
FL_API const char *fl_wire_dec_error(const struct fl_wire_dec *d);
/* Schemas decoded from a schema block (cache misses): a steady stream of
 * one schema keeps this at 1. */
FL_API uint64_t fl_wire_dec_schemas_built(const struct fl_wire_dec *d);

#ifdef __cplusplus
}
#endif
#endif
