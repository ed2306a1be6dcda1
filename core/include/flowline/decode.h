/* flowline/decode.h: the packet decoder (DESIGN.md §2), shared by every
 * input that sees raw frames (input.pcap, input.gen, later input.sflow).
 *
 * It decodes a frame straight into the next row of a packet batch: no
 * allocation, no per-packet struct. A frame that is not IP, is malformed or
 * truncated, or has an unsupported link type adds no row; it is counted per
 * reason, and the input reports the counts with fl_decoder_flush().
 *
 * Column conventions: src/dst as seen in this packet; ports are 0 for
 * protocols without ports; for ICMP/ICMPv6 src_port = 0 and
 * dst_port = type << 8 | code (the IPFIX/NetFlow convention), and icmp_id
 * is the identifier of ICMP query/reply messages (ICMPv4 echo 8/0,
 * timestamp 13/14, information 15/16, address mask 17/18; ICMPv6 echo
 * 128/129), 0 for every other packet; ip_len is the
 * IP total length (IPv6: payload length + 40); payload_len the L4 payload
 * bytes; frame_len the wire length; vlan the outermost 802.1Q id (0 = none);
 * flow_hash a 64-bit hash of (proto, addr/port pair) equal for both
 * directions; for the ICMP query/reply types it covers (proto, addresses,
 * icmp_id) instead, so a request and its reply hash alike (a consumer that
 * partitions by flow_hash keeps them together). Non-first IPv4/IPv6 fragments take the ports of their first
 * fragment through a small bounded table; those that cannot be joined are
 * counted and keep ports 0; they take icmp_id from their first fragment
 * alike. */
#ifndef FLOWLINE_DECODE_H
#define FLOWLINE_DECODE_H

#include <stdint.h>
#include <flowline/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Columns of a packet batch, in this order (fl_packet_schema). */
enum fl_pkt_col {
    FL_PKT_TS,          /* ts   */
    FL_PKT_SRC_ADDR,    /* addr */
    FL_PKT_DST_ADDR,    /* addr */
    FL_PKT_SRC_PORT,    /* u16  */
    FL_PKT_DST_PORT,    /* u16  */
    FL_PKT_PROTO,       /* u8   */
    FL_PKT_IP_VERSION,  /* u8   */
    FL_PKT_TTL,         /* u8: TTL or hop limit */
    FL_PKT_TCP_FLAGS,   /* u8   */
    FL_PKT_IP_LEN,      /* u32  */
    FL_PKT_FRAME_LEN,   /* u32  */
    FL_PKT_PAYLOAD_LEN, /* u32  */
    FL_PKT_VLAN,        /* u16  */
    FL_PKT_FLOW_HASH,   /* u64  */
    FL_PKT_ICMP_ID,     /* u16: ICMP query/reply identifier, else 0 (last: indexes above stay) */
    FL_PKT_NCOLS
};

/* Link types (the pcap LINKTYPE_ values). */
enum {
    FL_DLT_NULL = 0, FL_DLT_EN10MB = 1, FL_DLT_PPP = 9, FL_DLT_RAW = 101,
    FL_DLT_PPP_SERIAL = 50, FL_DLT_LINUX_SLL = 113, FL_DLT_LOOP = 108,
    FL_DLT_IPV4 = 228, FL_DLT_IPV6 = 229, FL_DLT_LINUX_SLL2 = 276,
    /* read by core/src/decode_link.c (docs/decoder.md lists them all) */
    FL_DLT_FDDI = 10, FL_DLT_ATM_RFC1483 = 100, FL_DLT_C_HDLC = 104,
    FL_DLT_IEEE802_11 = 105, FL_DLT_PRISM = 119, FL_DLT_RADIOTAP = 127,
    FL_DLT_AVS = 163, FL_DLT_PPP_PPPD = 166, FL_DLT_PPI = 192,
    FL_DLT_PPP_WITH_DIR = 204, FL_DLT_C_HDLC_WITH_DIR = 205, FL_DLT_MPLS = 219,
    FL_DLT_NFLOG = 239, FL_DLT_PKTAP = 258,
};

/* Why a frame added no row. */
enum fl_decode_reason {
    FL_DROP_TRUNCATED,        /* caplen shorter than a header it claims */
    FL_DROP_NOT_IP,           /* ARP, LLDP, STP, ... */
    FL_DROP_LINKTYPE,         /* unsupported_linktype */
    FL_DROP_BAD_IP,           /* bad version, IHL, total length */
    FL_DROP_BAD_L4,           /* bad TCP data offset, UDP length */
    FL_DROP_BAD_EXTHDR,       /* IPv6 extension header chain broken */
    FL_DROP_ENCRYPTED,        /* 802.11 Protected frames, MACsec with encryption */
    FL_DROP_NOT_DATA,         /* 802.11 management, control, null data, later fragments */
    FL_DROP_BAD_LINK,         /* a link header that contradicts itself; 802.11 bad FCS */
    FL_DROP_COUNT
};

/* Counters beyond drops, also reported by fl_decoder_flush(). */
enum fl_decode_note {
    FL_NOTE_FRAGMENTS,        /* fragments seen */
    FL_NOTE_FRAG_UNJOINED,    /* non-first fragments without their first */
    FL_NOTE_IP_TRUNCATED,     /* captured part shorter than ip_len (snaplen) */
    FL_NOTE_DECAP_FALLBACK,   /* a tunnel that could not be opened (truncated or
                               * malformed header, inner packet not IP or bad):
                               * the row is the outer packet */
    FL_NOTE_COUNT
};

/* Tunnel kinds the decoder opens (decap), by their option names; also the
 * values of the optional `tunnel` column ("gre", "vxlan", ...). */
enum fl_tunnel_kind {
    FL_TUN_NONE = 0,
    FL_TUN_GRE,       /* GRE (RFC 2784/2890), PPTP's enhanced GRE; id: key (PPTP: call id) */
    FL_TUN_VXLAN,     /* UDP 4789 (RFC 7348); id: VNI */
    FL_TUN_GENEVE,    /* UDP 6081 (RFC 8926); id: VNI */
    FL_TUN_GTP,       /* GTP-U v1, UDP 2152 (3GPP TS 29.281); id: TEID */
    FL_TUN_ERSPAN,    /* ERSPAN I/II (GRE 0x88BE), III (GRE 0x22EB); id: session (II, III) */
    FL_TUN_TEREDO,    /* UDP 3544 (RFC 4380); no id */
    FL_TUN_AYIYA,     /* UDP 5072; no id */
    FL_TUN_IPIP,      /* IPv4/IPv6 in IPv4/IPv6 (protocols 4, 41); no id */
    FL_TUN_GRE_UDP,   /* GRE in UDP 4754 (RFC 8086); id: GRE key */
    FL_TUN_COUNT
};

/* "gre", "vxlan", ... for a kind (NULL for FL_TUN_NONE or out of range),
 * and the kind of a name (FL_TUN_NONE when it names none): a consumer of
 * the `tunnel` column maps its strings to small codes with it. */
FL_API const char *fl_tunnel_kind_name(int kind);
FL_API int fl_tunnel_kind_from_name(const char *name, size_t len);
/* The standard UDP port of a kind carried in UDP, 0 for the others. */
FL_API uint16_t fl_tunnel_default_port(int kind);

/* Optional columns after the FL_PKT_NCOLS base ones, when the decoder's
 * opts ask for tunnel_columns (fl_decoder_schema). */
#define FL_PKT_TUNNEL FL_PKT_NCOLS            /* str: outermost tunnel kind; missing = none */
#define FL_PKT_TUNNEL_ID (FL_PKT_NCOLS + 1)   /* u32: its id; missing = none */

/* ICMP query/reply messages (the pairs above): for protocol proto (1 ICMP,
 * 58 ICMPv6) and message type, the request type of the pair (the type
 * itself for a request), with *reply set when the message is the reply;
 * -1 for every other message or protocol. */
static inline int fl_icmp_query(uint8_t proto, uint8_t type, int *reply)
{
    if (proto == 1 && type < 19 && ((0x7E101u >> type) & 1)) {
        *reply = type == 0 || (type >= 14 && !(type & 1));
        return type == 0 ? 8 : *reply ? type - 1 : type;
    }
    if (proto == 58 && (type == 128 || type == 129)) {
        *reply = type == 129;
        return 128;
    }
    return -1;
}

struct fl_decoder;

/* A UDP port on which the decoder looks for a tunnel of a kind. */
struct fl_decap_port {
    uint16_t port;
    uint8_t kind;             /* enum fl_tunnel_kind, one carried in UDP */
};

struct fl_decoder_opts {
    uint32_t frag_slots;      /* fragment table size, 0 = default (4096) */
    int decap;                /* 1 = decapsulate (off: outer flow); which kinds: decap_kinds */
    /* Added later: an older plugin's opts_size stops before them and they
     * read as zero. */
    uint32_t decap_kinds;     /* bit (1u << kind) per kind opened; 0 with decap = every kind */
    uint32_t decap_depth;     /* tunnels nested at most, 0 = default (4), at most 16 */
    bool tunnel_columns;      /* rows get the tunnel and tunnel_id columns */
    /* UDP ports per kind; a kind carried in UDP that has no entry here uses
     * its standard port (fl_tunnel_default_port). The decoder copies them;
     * at most 64 in all with the standard ones (-FL_ERANGE past that). */
    const struct fl_decap_port *decap_ports;
    size_t n_decap_ports;
    FL_GROWN_TAIL
};

/* opts_size: sizeof(*opts) (fields a newer core added read as zero). */
FL_API int fl_decoder_new(const struct fl_decoder_opts *opts, size_t opts_size,
                          struct fl_decoder **out);
FL_API void fl_decoder_destroy(struct fl_decoder **d);

/* The packet schema (columns of enum fl_pkt_col). */
FL_API int fl_packet_schema(struct fl_ctx *ctx, const struct fl_schema **out);
/* The schema of the rows this decoder writes: the packet schema, then
 * tunnel and tunnel_id when its opts asked for tunnel_columns. (opts as
 * for fl_decoder_new, so describe() can call it before the decoder exists.) */
FL_API int fl_decoder_schema(struct fl_ctx *ctx, const struct fl_decoder_opts *opts,
                             size_t opts_size, const struct fl_schema **out);

/* Decode one frame into row b->rows of packet batch b (b->rows < b->cap);
 * b has the schema of fl_decoder_schema() (or more columns after it).
 * Returns 1 if a row was added (b->rows incremented, t_min/t_max updated),
 * 0 if the frame was counted and skipped, -FL_EFULL (nothing counted) if b
 * was already full. Never reads past caplen. linktype is a LINKTYPE_ value
 * or the DLT_ value libpcap reports for it (DLT_RAW is 12 or 14). */
FL_API int fl_decode(struct fl_decoder *d, int linktype, uint64_t ts_ns,
                     const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                     struct fl_batch *b);

/* Add the counts since the last flush to the stage counters
 * ("drop_truncated", "drop_not_ip", ..., "fragments", "decap_fallback",
 * and "decap_<kind>": rows that came out of at least one tunnel of that
 * kind) and reset them. */
FL_API void fl_decoder_flush(struct fl_decoder *d, struct fl_ctx *ctx);
/* Totals since creation (for tests): drops[FL_DROP_COUNT], notes[FL_NOTE_COUNT]. */
FL_API void fl_decoder_totals(const struct fl_decoder *d, uint64_t *drops, uint64_t *notes);
/* Rows per tunnel kind since creation: tunnels[FL_TUN_COUNT] (index 0 unused). */
FL_API void fl_decoder_tunnel_totals(const struct fl_decoder *d, uint64_t *tunnels);
FL_API const char *fl_decode_reason_name(enum fl_decode_reason r);

#ifdef __cplusplus
}
#endif
#endif
