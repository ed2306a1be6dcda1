/* core/src/decode_link.c: the link types beside the common ones, out of the
 * hot path. fl_decode (decode_pkt.c) reads Ethernet, Linux cooked, BSD
 * loopback, raw IP and PPP itself; for every other link type it asks
 * decode_link where the payload starts and what it is, then walks on with
 * decode_net. Here: IEEE 802.11 data frames, bare or behind a radiotap,
 * PPI, Prism or AVS header; NFLOG; FDDI; Cisco HDLC; Apple PKTAP; the PPP
 * and HDLC variants with a direction byte; MPLS; RFC 1483 LLC over ATM.
 * docs/decoder.md lists them with their counters.
 *
 * Every read is checked against cap, the bytes captured from the header's
 * start. Multi-byte fields of the radio headers are little-endian
 * (radiotap, PPI) or big-endian (AVS) by their specs; Prism, NFLOG and
 * PKTAP write the capturing host's order, told apart here by value. */
#include "decode_int.h"

#define LINK_TRUNC DECODE_DROP(FL_DROP_TRUNCATED)
#define LINK_BAD DECODE_DROP(FL_DROP_BAD_LINK)

static inline uint16_t link_le16(const uint8_t *q)
{
    return (uint16_t)(q[0] | (unsigned)q[1] << 8);
}

static inline uint32_t link_le32(const uint8_t *q)
{
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static inline uint32_t link_be32(const uint8_t *q)
{
    return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

/* An ethertype read from a frame: types below 0x0600 become DECODE_ET_BAD,
 * as decode_pkt.c's decode_et does, so no frame can name a pseudo type. */
static inline uint16_t link_et(const uint8_t *q)
{
    uint16_t et = (uint16_t)((unsigned)q[0] << 8 | q[1]);
    return et < 0x0600 ? DECODE_ET_BAD : et;
}

static int link_at(struct decode_link *o, const uint8_t *q, uint16_t et)
{
    o->q = q;
    o->et = et;
    return 0;
}

/* 802.2 LLC with a SNAP header (AA AA 03, OUI, type). With the OUIs of RFC
 * 1042 (00-00-00) and 802.1H (00-00-F8) the type is an ethertype; other
 * LLC frames (STP, IPX, NetBIOS) and other OUIs carry nothing we read. */
static int link_llc(const uint8_t *q, size_t cap, struct decode_link *o)
{
    if (cap < 3)
        return LINK_TRUNC;
    if (q[0] != 0xaa || q[1] != 0xaa || q[2] != 0x03)
        return DECODE_DROP(FL_DROP_NOT_IP);
    if (cap < 8)
        return LINK_TRUNC;
    if (q[3] != 0 || q[4] != 0 || (q[5] != 0 && q[5] != 0xf8))
        return DECODE_DROP(FL_DROP_NOT_IP);
    return link_at(o, q + 8, link_et(q + 6));
}

/* ---- IEEE 802.11 --------------------------------------------------------- */

/* An 802.11 MAC frame (IEEE 802.11-2020 §9.2). Only data frames that carry
 * an MSDU are read: management and control frames, the no-data subtypes
 * (null, CF-Ack/Poll) and every fragment after the first (no LLC header of
 * their own) are drop_not_data; a Protected frame's body is ciphertext
 * (drop_encrypted). The header is 24 bytes, 30 with a fourth address
 * (ToDS and FromDS both set), then QoS control on QoS subtypes and HT
 * control when such a frame has the Order bit. datapad: radiotap's flag for
 * padding after the header to a multiple of 4. An A-MSDU's first subframe
 * is read (one row per frame; Zeek walks them all). */
static int link_80211(const uint8_t *h, size_t cap, bool datapad, struct decode_link *o)
{
    uint8_t fc0, fc1, sub;
    size_t hl, qos;

    if (cap < 2)
        return LINK_TRUNC;
    fc0 = h[0];
    fc1 = h[1];
    sub = fc0 >> 4;
    if ((fc0 & 0x03) != 0 || (fc0 & 0x0c) != 0x08 || (sub & 0x04))
        return DECODE_DROP(FL_DROP_NOT_DATA);   /* version, type data, subtype with data */
    if (fc1 & 0x40)
        return DECODE_DROP(FL_DROP_ENCRYPTED);
    qos = (fc1 & 0x03) == 0x03 ? 30 : 24;
    hl = qos;
    if (sub & 0x08)
        hl += fc1 & 0x80 ? 6 : 2;
    if (cap < hl)
        return LINK_TRUNC;
    if (h[22] & 0x0f)       /* sequence control (LE): fragment number */
        return DECODE_DROP(FL_DROP_NOT_DATA);
    if (datapad)
        hl = (hl + 3) & ~(size_t)3;
    if (cap < hl)
        return LINK_TRUNC;
    if ((sub & 0x08) && (h[qos] & 0x80)) {
        /* A-MSDU: subframes of destination, source, length, then LLC. */
        if (cap - hl < 14)
            return LINK_TRUNC;
        hl += 14;
    }
    return link_llc(h + hl, cap - hl, o);
}

/* Radiotap (radiotap.org): version 0, pad, length (LE, the whole header),
 * present bitmaps (bit 31: another word follows), then the fields in bit
 * order, each aligned to its size from the header's start. Only the Flags
 * field (bit 1, after TSFT's 8 bytes) matters here: FCS at the end (0x10),
 * padding after the 802.11 header (0x20), failed FCS check (0x40). */
static int link_radiotap(const uint8_t *h, size_t cap, struct decode_link *o)
{
    uint32_t len, present, off = 4, w;
    uint8_t flags = 0;

    if (cap < 8)
        return LINK_TRUNC;
    len = link_le16(h + 2);
    if (h[0] != 0 || len < 8)
        return LINK_BAD;
    if (cap < len)
        return LINK_TRUNC;
    present = w = link_le32(h + 4);
    while (w & 0x80000000u) {
        off += 4;
        if (off + 4 > len)
            return LINK_BAD;
        w = link_le32(h + off);
    }
    off += 4;
    if (present & 0x1)      /* TSFT: u64, 8-aligned */
        off = ((off + 7) & ~7u) + 8;
    if (present & 0x2) {
        if (off >= len)
            return LINK_BAD;
        flags = h[off];
    }
    if (flags & 0x40)
        return LINK_BAD;    /* the radio says the frame is corrupt */
    o->trail = flags & 0x10 ? 4 : 0;
    return link_80211(h + len, cap - len, flags & 0x20, o);
}

/* PPI (CACE Per-Packet Information 1.0): version 0, flags (bit 0: fields
 * 32-bit aligned), length (LE, the whole header), the DLT of what follows
 * (LE), then fields of type, length, data. The 802.11-common field (type
 * 2) has flags after its 8-byte TSF: FCS present (0x1), FCS invalid (0x4).
 * 802.11 is read here; any other DLT is handed back to fl_decode. */
static int link_ppi(const uint8_t *h, size_t cap, struct decode_link *o)
{
    uint32_t len, dlt, off;
    uint16_t flags = 0;

    if (cap < 8)
        return LINK_TRUNC;
    len = link_le16(h + 2);
    dlt = link_le32(h + 4);
    if (h[0] != 0 || len < 8)
        return LINK_BAD;
    if (cap < len)
        return LINK_TRUNC;
    if (dlt != FL_DLT_IEEE802_11) {
        if (dlt > 0xffff || dlt == FL_DLT_PPI || dlt == FL_DLT_PKTAP)
            return DECODE_DROP(FL_DROP_LINKTYPE);
        o->q = h + len;
        o->linktype = (int)dlt;
        return DECODE_LINK_INNER;
    }
    for (off = 8; len - off >= 4;) {
        uint32_t type = link_le16(h + off), flen = link_le16(h + off + 2);
        if (flen > len - off - 4)
            return LINK_BAD;
        if (type == 2 && flen >= 10)
            flags = link_le16(h + off + 4 + 8);
        off += 4 + flen;
        if (h[1] & 1)
            off = (off + 3) & ~3u;
        if (off > len)
            break;
    }
    if (flags & 0x4)
        return LINK_BAD;
    o->trail = flags & 0x1 ? 4 : 0;
    return link_80211(h + len, cap - len, false, o);
}

/* AVS (the "wlancap" header): version 0x8021100N and header length, both
 * big-endian, then the 802.11 frame. */
static int link_avs(const uint8_t *h, size_t cap, struct decode_link *o)
{
    uint32_t len;

    if (cap < 8)
        return LINK_TRUNC;
    len = link_be32(h + 4);
    if ((link_be32(h) & 0xfffffff0u) != 0x80211000u || len < 8 || len > 0xffff)
        return LINK_BAD;
    if (cap < len)
        return LINK_TRUNC;
    return link_80211(h + len, cap - len, false, o);
}

/* Prism (Linux wlan-ng): message code, message length (the capturing
 * host's byte order; 144 bytes for the usual sniff frame), device name and
 * ten items, then the 802.11 frame. Captures labelled Prism often hold an
 * AVS header, which its version word gives away. */
static int link_prism(const uint8_t *h, size_t cap, struct decode_link *o)
{
    uint32_t len;

    if (cap >= 4 && (link_be32(h) & 0xfffffff0u) == 0x80211000u)
        return link_avs(h, cap, o);
    if (cap < 8)
        return LINK_TRUNC;
    len = link_le32(h + 4);
    if (len > 0xffff)
        len = link_be32(h + 4);
    if (len < 8 || len > 0xffff)
        return LINK_BAD;
    if (cap < len)
        return LINK_TRUNC;
    return link_80211(h + len, cap - len, false, o);
}

/* ---- Other link types ---------------------------------------------------- */

/* NFLOG (Linux netfilter log): address family, version 0, resource id,
 * then TLVs of length (counting its 4-byte head), type, value, each padded
 * to 4 bytes. Length and type are in the logging host's byte order; the
 * type (a small number, with two flag bits on top) tells which. The
 * packet is the value of NFULA_PAYLOAD (type 9): IPv4 or IPv6 by the
 * family, by its version nibble for other families. */
static int link_nflog(const uint8_t *h, size_t cap, bool cut, struct decode_link *o)
{
    size_t off = 4;
    int be = -1;

    if (cap < 4)
        return LINK_TRUNC;
    if (h[1] != 0)
        return LINK_BAD;
    for (;;) {
        uint32_t tlen, type;
        if (off >= cap)     /* no payload logged, or not captured */
            return cut ? LINK_TRUNC : DECODE_DROP(FL_DROP_NOT_IP);
        if (cap - off < 4)
            return LINK_TRUNC;
        if (be < 0) {
            type = link_le16(h + off + 2) & 0x3fff;
            be = !(type != 0 && type < 0x100);
        }
        if (be) {
            tlen = (uint32_t)h[off] << 8 | h[off + 1];
            type = ((uint32_t)h[off + 2] << 8 | h[off + 3]) & 0x3fff;
        } else {
            tlen = link_le16(h + off);
            type = link_le16(h + off + 2) & 0x3fff;
        }
        if (tlen < 4)
            return LINK_BAD;
        if (type == 9) {
            /* the value ends the packet: later TLVs are not IP bytes */
            if (tlen - 4 < cap - off - 4)
                o->end = h + off + tlen;
            return link_at(o, h + off + 4,
                           h[0] == 2 ? DECODE_ET_IPV4 : h[0] == 10 ? DECODE_ET_IPV6 : DECODE_ET_RAW);
        }
        off += (tlen + 3) & ~3u;
    }
}

/* FDDI (ANSI X3T9.5): frame control, destination, source, then LLC for the
 * LLC frames with 48-bit addresses (frame control 0101 0PPP synchronous or
 * 1101 0PPP asynchronous). SMT and MAC frames carry no IP. */
static int link_fddi(const uint8_t *h, size_t cap, struct decode_link *o)
{
    if (cap < 1)
        return LINK_TRUNC;
    if ((h[0] & 0x78) != 0x50)
        return DECODE_DROP(FL_DROP_NOT_IP);
    if (cap < 13)
        return LINK_TRUNC;
    return link_llc(h + 13, cap - 13, o);
}

/* Apple PKTAP: header length and record type and DLT (host order: little-
 * endian on every Apple machine, big-endian tried when that is absurd),
 * process and interface details, then a frame of that DLT. */
static int link_pktap(const uint8_t *h, size_t cap, struct decode_link *o)
{
    uint32_t len, dlt;

    if (cap < 12)
        return LINK_TRUNC;
    len = link_le32(h);
    dlt = link_le32(h + 8);
    if (len > 0xffff) {
        len = link_be32(h);
        dlt = link_be32(h + 8);
    }
    if (len < 12 || len > 0xffff)
        return LINK_BAD;
    if (cap < len)
        return LINK_TRUNC;
    if (dlt > 0xffff || dlt == FL_DLT_PPI || dlt == FL_DLT_PKTAP)
        return DECODE_DROP(FL_DROP_LINKTYPE);
    o->q = h + len;
    o->linktype = (int)dlt;
    return DECODE_LINK_INNER;
}

int decode_link(int linktype, const uint8_t *h, uint32_t cap, bool cut, struct decode_link *o)
{
    switch (linktype) {
    case FL_DLT_IEEE802_11:
        return link_80211(h, cap, false, o);
    case FL_DLT_RADIOTAP:
        return link_radiotap(h, cap, o);
    case FL_DLT_PPI:
        return link_ppi(h, cap, o);
    case FL_DLT_PRISM:
        return link_prism(h, cap, o);
    case FL_DLT_AVS:
        return link_avs(h, cap, o);
    case FL_DLT_NFLOG:
        return link_nflog(h, cap, cut, o);
    case FL_DLT_FDDI:
        return link_fddi(h, cap, o);
    case FL_DLT_PKTAP:
        return link_pktap(h, cap, o);
    case FL_DLT_C_HDLC_WITH_DIR:
        /* a direction byte, then Cisco HDLC */
        if (cap < 1)
            return LINK_TRUNC;
        h++;
        cap--;
        /* fall through */
    case FL_DLT_C_HDLC:
        /* address (0F unicast, 8F broadcast), control, then a protocol
         * that is an ethertype (0x8035 SLARP and CDP are not IP) */
        if (cap < 4)
            return LINK_TRUNC;
        return link_at(o, h + 4, link_et(h + 2));
    case FL_DLT_PPP_PPPD:
        /* HDLC-like framing with the address byte replaced by the
         * direction: skip it and the control byte, then PPP's protocol */
        if (cap < 2)
            return LINK_TRUNC;
        return link_at(o, h + 2, DECODE_ET_PPP);
    case FL_DLT_PPP_WITH_DIR:
        if (cap < 1)
            return LINK_TRUNC;
        return link_at(o, h + 1, DECODE_ET_PPP);
    case FL_DLT_MPLS:
        return link_at(o, h, DECODE_ET_MPLS);
    case FL_DLT_ATM_RFC1483:
    case 11:    /* DLT_ATM_RFC1483, as libpcap reports LINKTYPE_ATM_RFC1483 */
        return link_llc(h, cap, o);
    default:
        return DECODE_DROP(FL_DROP_LINKTYPE);
    }
}
