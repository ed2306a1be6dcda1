/* ipx.h: output.ipfix internals (not part of any ABI).
 *
 *  - ipx_plan.c: a schema -> a plan: for each column the IPFIX element it
 *    is written as (the field registry's, FL_PEN for flowline's own, none
 *    for names the registry does not know), its encoded length and unit;
 *    templates per address-family combination, numbered from 256;
 *  - ipx_msg.c: IPFIX messages (RFC 7011): header, template sets, data
 *    sets, records, into a buffer bounded by the message size;
 *  - ipx_xport.c: where messages go: a connected UDP or TCP socket, or a
 *    file of concatenated messages (RFC 5655);
 *  - ipfix.c: the plugin (options, describe, process, counters).
 *
 * Everything works on the objects passed in; one stage owns them. */
#ifndef IPX_H
#define IPX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/plugin.h>

/* ---- Element types (generated from core/ie/iana.tsv) ----------------- */
enum ipx_atype {
    IPX_AT_NONE = 0,
    IPX_AT_UNSIGNED8, IPX_AT_UNSIGNED16, IPX_AT_UNSIGNED32, IPX_AT_UNSIGNED64,
    IPX_AT_SIGNED8, IPX_AT_SIGNED16, IPX_AT_SIGNED32, IPX_AT_SIGNED64,
    IPX_AT_FLOAT32, IPX_AT_FLOAT64, IPX_AT_BOOLEAN, IPX_AT_MACADDRESS,
    IPX_AT_OCTETARRAY, IPX_AT_STRING,
    IPX_AT_DATETIMESECONDS, IPX_AT_DATETIMEMILLISECONDS, IPX_AT_DATETIMEMICROSECONDS,
    IPX_AT_DATETIMENANOSECONDS,
    IPX_AT_IPV4ADDRESS, IPX_AT_IPV6ADDRESS,
    IPX_AT_BASICLIST, IPX_AT_SUBTEMPLATELIST, IPX_AT_SUBTEMPLATEMULTILIST
};

enum ipx_unit {
    IPX_UNIT_NONE = 0, IPX_UNIT_SECONDS, IPX_UNIT_MILLISECONDS, IPX_UNIT_MICROSECONDS,
    IPX_UNIT_NANOSECONDS
};

struct ipx_type {
    uint16_t id;
    uint8_t atype;      /* enum ipx_atype */
    uint8_t unit;       /* enum ipx_unit: RFC 5610 units of time elements */
};

extern const struct ipx_type ipx_types[];   /* sorted by id */
extern const size_t ipx_ntypes;
/* The IANA element `id`, or NULL. */
const struct ipx_type *ipx_type_find(uint16_t id);

/* ---- Plans and templates --------------------------------------------- */
#define IPX_VARLEN 0xffffu          /* RFC 7011 §7: variable-length field */
#define IPX_TMPL_MIN 256u           /* first data set id (RFC 7011 §3.3.2) */
#define IPX_MAX_DUAL 16u            /* address columns chosen per row */
#define IPX_MSG_MAX 65535u          /* the message length field is 16 bits */
#define IPX_HDR_LEN 16u
#define IPX_SET_HDR_LEN 4u

/* How a column's cells are written. */
struct ipx_col {
    uint32_t col;           /* schema column */
    enum fl_type t;         /* its type */
    uint32_t pen;           /* 0 = IANA */
    uint16_t id;            /* element (an address column: its IPv4 one) */
    uint16_t id6;           /* an address column chosen per row: its IPv6 element, else 0 */
    uint8_t at;             /* element type (of id) */
    uint16_t len;           /* encoded length, IPX_VARLEN for str/bytes */
    uint64_t div;           /* ts/dur into an integer of a time unit: ns per unit */
    int dual;               /* bit of the row's family mask (id6 != 0), else -1 */
    uint8_t op;             /* enum ipx_op: a copy in network order needs no conversion */
};

/* Cells whose column type matches the element's type byte for byte (the
 * common case) are written by a byte swap; everything else goes through
 * the general conversion. */
enum ipx_op { IPX_OP_CONVERT = 0, IPX_OP_COPY1, IPX_OP_SWAP2, IPX_OP_SWAP4, IPX_OP_SWAP8 };

struct ipx_tmpl {
    uint32_t mask;          /* bit i set: dual address column i is IPv6 in these rows */
    uint16_t id;            /* template id */
    uint16_t fixed;         /* record length without variable-length fields */
    uint16_t rec_len;       /* length of the template record */
    bool sent;              /* sent in this session (TCP, file) / refresh period (UDP) */
};

struct ipx_plan {
    const struct fl_schema *schema;
    struct ipx_col *cols;
    size_t n;               /* columns written */
    unsigned ndual;
    bool varlen;            /* some column is variable-length */
    struct ipx_tmpl *tmpl;  /* made so far, one per mask seen */
    size_t ntmpl, captmpl;
    size_t last;            /* index of the template used last (rows repeat their family) */
};

/* A column the plan leaves out (no element): name and why. */
typedef void (*ipx_skip_fn)(void *arg, const char *name, const char *why);

/* The plan for schema s. time_ms: write time columns under their
 * millisecond element where the registry lists one (ie_alt). Columns with
 * no element are left out and reported through skip (may be NULL). */
int ipx_plan_new(const struct fl_schema *s, bool time_ms, ipx_skip_fn skip, void *arg,
                 struct ipx_plan **out);
void ipx_plan_free(struct ipx_plan **p);
/* The family mask of row r. */
uint32_t ipx_plan_mask(const struct ipx_plan *p, const struct fl_batch *b, uint32_t r);
/* The template for mask, made with the next id (*next_id, advanced) if new.
 * -FL_EFULL when the template ids ran out. */
int ipx_plan_tmpl(struct ipx_plan *p, uint32_t mask, uint32_t *next_id, struct ipx_tmpl **out);
/* Encoded length of row r under t (fixed part plus variable-length cells
 * with their length prefixes); 0 if a cell is too long to encode. */
size_t ipx_rec_len(const struct ipx_plan *p, const struct ipx_tmpl *t, const struct fl_batch *b,
                   uint32_t r);
/* Write the template record of t at w (t->rec_len bytes). */
void ipx_tmpl_write(const struct ipx_plan *p, const struct ipx_tmpl *t, uint8_t *w);
/* Write row r under t at w (ipx_rec_len bytes). Missing cells are zeros
 * (an empty value for variable-length fields). */
void ipx_rec_write(const struct ipx_plan *p, const struct ipx_tmpl *t, const struct fl_batch *b,
                   uint32_t r, uint8_t *w);

/* ---- Messages ------------------------------------------------------- */
struct ipx_msg {
    uint8_t *buf;
    size_t len, max;        /* bytes used, bound (<= IPX_MSG_MAX) */
    size_t set_off;         /* open set's header offset, 0 = none */
    uint16_t set_id;        /* open set's id (2 = template set) */
    uint32_t records;       /* data records in the message */
    uint32_t templates;     /* template records in the message */
};

int ipx_msg_init(struct ipx_msg *m, size_t max);
void ipx_msg_free(struct ipx_msg *m);
/* Start an empty message (header space reserved). */
void ipx_msg_reset(struct ipx_msg *m);
bool ipx_msg_empty(const struct ipx_msg *m);
/* Room for n bytes in a set of id set_id (a new set header counted when
 * that set is not the open one)? */
bool ipx_msg_fits(const struct ipx_msg *m, uint16_t set_id, size_t n);
/* Reserve n bytes in a set of id set_id (opening it if needed); the
 * caller checked ipx_msg_fits. Returns where to write. */
uint8_t *ipx_msg_put(struct ipx_msg *m, uint16_t set_id, size_t n);
/* Close the open set and write the header: version 10, length, export
 * time (seconds), sequence number (data records before this message),
 * observation domain. */
void ipx_msg_finish(struct ipx_msg *m, uint32_t export_time, uint32_t seq, uint32_t domain);

/* ---- Transport ------------------------------------------------------ */
enum ipx_kind { IPX_UDP, IPX_TCP, IPX_FILE };

struct ipx_xport {
    enum ipx_kind kind;
    int fd;
    char *what;             /* "udp://host:port" or the path, for messages */
    char *host, *port;      /* UDP/TCP */
    int existing;           /* file: 0 refuse, 1 truncate, 2 append */
    uint64_t connect_timeout_ns;
    int gai_rc;             /* the last open failed to resolve host: getaddrinfo's code */
};

/* Parse target ("udp://h:p", "tcp://h:p", "tcp://[v6]:p") into x.
 * Returns 0 or -FL_EINVAL. */
int ipx_xport_parse(struct ipx_xport *x, const char *target);
/* Open: resolve and connect (UDP: connect() only fixes the peer; TCP: a
 * handshake within the timeout), or create the file. Errors are negative
 * codes with errno set; the caller logs with x->what. */
int ipx_xport_open(struct ipx_xport *x);
/* Send one whole message. UDP: one datagram; a refusal reported for an
 * earlier datagram (ECONNREFUSED: an ICMP port unreachable came back, no
 * collector listens) sets *refused and the send is tried once more.
 * TCP and file: every byte, retrying short writes and EINTR. -FL_EIO with
 * errno set on failure (TCP: the connection is closed: open it again). */
int ipx_xport_send(struct ipx_xport *x, const uint8_t *p, size_t n, bool *refused);
/* Why the last open or send failed (errno, or the resolver's reason). */
const char *ipx_xport_strerror(const struct ipx_xport *x, int err);
void ipx_xport_close(struct ipx_xport *x);
void ipx_xport_free(struct ipx_xport *x);

#endif
