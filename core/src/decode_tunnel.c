/* core/src/decode_tunnel.c: the tunnel headers the packet decoder opens
 * (decap), as pure functions. Each is given the tunnel header and the bytes
 * captured from it, and says where the inner packet starts, what it is and
 * the tunnel's id, or that this is not the tunnel (DECODE_TUN_NO: a port
 * match whose header fails the sanity checks, or a message carrying no
 * packet), or that it is but cannot be opened (DECODE_TUN_FAIL: cut short by
 * the snaplen, or malformed). None reads past cap. The recursion into the
 * inner packet is decode_pkt.c's decode_decap; the kind names are here too.
 *
 * Formats: GRE RFC 2784/2890, PPTP's enhanced GRE RFC 2637; ERSPAN as
 * Wireshark documents it (draft-foschiano-erspan); VXLAN RFC 7348; Geneve
 * RFC 8926; GTP-U 3GPP TS 29.281; GRE-in-UDP RFC 8086; Teredo RFC 4380;
 * AYIYA draft-massar-v6ops-ayiya. */
#include "decode_int.h"

static const char *const decode_tun_names[FL_TUN_COUNT] = {
    [FL_TUN_GRE] = "gre", [FL_TUN_VXLAN] = "vxlan", [FL_TUN_GENEVE] = "geneve",
    [FL_TUN_GTP] = "gtp", [FL_TUN_ERSPAN] = "erspan", [FL_TUN_TEREDO] = "teredo",
    [FL_TUN_AYIYA] = "ayiya", [FL_TUN_IPIP] = "ipip", [FL_TUN_GRE_UDP] = "gre_udp",
};

static const uint16_t decode_tun_ports[FL_TUN_COUNT] = {
    [FL_TUN_VXLAN] = 4789, [FL_TUN_GENEVE] = 6081, [FL_TUN_GTP] = 2152,
    [FL_TUN_TEREDO] = 3544, [FL_TUN_AYIYA] = 5072, [FL_TUN_GRE_UDP] = 4754,
};

const char *fl_tunnel_kind_name(int kind)
{
    return kind > FL_TUN_NONE && kind < FL_TUN_COUNT ? decode_tun_names[kind] : NULL;
}

int fl_tunnel_kind_from_name(const char *name, size_t len)
{
    for (int k = FL_TUN_NONE + 1; k < FL_TUN_COUNT; k++)
        if (strlen(decode_tun_names[k]) == len && memcmp(decode_tun_names[k], name, len) == 0)
            return k;
    return FL_TUN_NONE;
}

uint16_t fl_tunnel_default_port(int kind)
{
    return kind > FL_TUN_NONE && kind < FL_TUN_COUNT ? decode_tun_ports[kind] : 0;
}

static inline uint16_t tun_rd16(const uint8_t *q)
{
    return (uint16_t)((unsigned)q[0] << 8 | q[1]);
}

static inline uint32_t tun_rd24(const uint8_t *q)
{
    return (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
}

static inline uint32_t tun_rd32(const uint8_t *q)
{
    return (uint32_t)q[0] << 24 | tun_rd24(q + 1);
}

#define TUN_ET_ERSPAN2 0x88BE   /* ERSPAN I (no sequence) and II */
#define TUN_ET_ERSPAN3 0x22EB
#define TUN_ET_PPP 0x880B

static void tun_init(struct decode_tun *t, uint8_t kind)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
}

int decode_tun_gre(const uint8_t *h, uint32_t cap, struct decode_tun *t)
{
    uint16_t fl, pt;
    uint32_t hl = 4;

    tun_init(t, FL_TUN_GRE);
    if (cap < 4)
        return DECODE_TUN_FAIL;
    fl = tun_rd16(h);
    pt = tun_rd16(h + 2);
    if (fl & 0x4000)        /* RFC 1701 source routing: left as the outer flow */
        return DECODE_TUN_NO;
    if ((fl & 0x0007) == 1) {
        /* PPTP: always a key word (payload length, call id), optional
         * sequence and acknowledgment numbers, then PPP. */
        if (pt != TUN_ET_PPP || !(fl & 0x2000))
            return DECODE_TUN_NO;
        hl = 8 + (fl & 0x1000 ? 4 : 0) + (fl & 0x0080 ? 4 : 0);
        if (cap < hl)
            return DECODE_TUN_FAIL;
        t->id = tun_rd16(h + 6);
        t->has_id = true;
        t->et = TUN_ET_PPP;
        t->off = hl;
        return DECODE_TUN_OK;
    }
    if ((fl & 0x0007) != 0)
        return DECODE_TUN_NO;
    hl += (fl & 0x8000 ? 4 : 0) + (fl & 0x2000 ? 4 : 0) + (fl & 0x1000 ? 4 : 0);
    if (cap < hl)
        return DECODE_TUN_FAIL;
    if (fl & 0x2000) {
        t->id = tun_rd32(h + 4 + (fl & 0x8000 ? 4 : 0));
        t->has_id = true;
    }
    t->et = pt;
    if (pt == TUN_ET_ERSPAN2 || pt == TUN_ET_ERSPAN3) {
        /* ERSPAN: type I has no header of its own (and no sequence
         * number); type II 8 bytes, version 1; type III 12 bytes, version
         * 2, and an 8-byte platform-specific sub-header when its O bit is
         * set. Both carry a 10-bit session id in their second 16 bits. The
         * mirrored frame is Ethernet. The GRE key is not the id here. */
        t->kind = FL_TUN_ERSPAN;
        t->has_id = false;
        t->id = 0;
        t->et = DECODE_TUN_ET_ETH;
        if (pt == TUN_ET_ERSPAN2 && !(fl & 0x1000)) {
            t->off = hl;
            return DECODE_TUN_OK;
        }
        /* The header's version (1, 2) is not checked: the GRE protocol
         * type already says which header this is. */
        if (cap < hl + (pt == TUN_ET_ERSPAN2 ? 8 : 12))
            return DECODE_TUN_FAIL;
        t->id = tun_rd16(h + hl + 2) & 0x03ff;
        t->has_id = true;
        if (pt == TUN_ET_ERSPAN2) {
            hl += 8;
        } else {
            hl += (h[hl + 11] & 0x01) ? 20 : 12;
            if (cap < hl)
                return DECODE_TUN_FAIL;
        }
    } else if (pt < 0x0600) {
        return DECODE_TUN_FAIL;     /* not an ethertype: nothing we can open */
    }
    t->off = hl;
    return DECODE_TUN_OK;
}

int decode_tun_vxlan(const uint8_t *h, uint32_t cap, uint32_t len, struct decode_tun *t)
{
    (void)len;
    tun_init(t, FL_TUN_VXLAN);
    if (cap < 8)
        return DECODE_TUN_FAIL;
    /* The I flag (VNI valid) must be set; other flag bits are left alone
     * (VXLAN-GBP sets its G bit on the same port). */
    if (!(h[0] & 0x08))
        return DECODE_TUN_NO;
    t->id = tun_rd24(h + 4);
    t->has_id = true;
    t->et = DECODE_TUN_ET_ETH;
    t->off = 8;
    return DECODE_TUN_OK;
}

int decode_tun_geneve(const uint8_t *h, uint32_t cap, uint32_t len, struct decode_tun *t)
{
    uint32_t hl;
    uint16_t pt;

    tun_init(t, FL_TUN_GENEVE);
    if (cap < 8)
        return DECODE_TUN_FAIL;
    /* Version 0; options length in 4-byte words; protocol type; VNI. */
    if ((h[0] >> 6) != 0)
        return DECODE_TUN_NO;
    hl = 8 + (uint32_t)(h[0] & 0x3f) * 4;
    if (hl > len)
        return DECODE_TUN_NO;
    pt = tun_rd16(h + 2);
    t->id = tun_rd24(h + 4);
    t->has_id = true;
    if (cap < hl)
        return DECODE_TUN_FAIL;
    if (pt != DECODE_TUN_ET_ETH && pt != 0x0800 && pt != 0x86DD)
        return DECODE_TUN_FAIL;     /* Geneve, carrying what we do not read */
    t->et = pt;
    t->off = hl;
    return DECODE_TUN_OK;
}

/* GTP-U extension headers one packet may chain (each at least 4 bytes). */
#define TUN_GTP_MAX_EXT 16

int decode_tun_gtp(const uint8_t *h, uint32_t cap, uint32_t len, struct decode_tun *t)
{
    uint32_t hl = 8, glen;
    uint8_t next;

    tun_init(t, FL_TUN_GTP);
    if (cap < 8)
        return DECODE_TUN_FAIL;
    /* Version 1 with protocol type 1 (GTP, not GTP'); message type 255
     * (G-PDU) is the only one carrying a user packet: echo, error
     * indication and end marker are the outer flow. */
    if ((h[0] >> 5) != 1 || !(h[0] & 0x10))
        return DECODE_TUN_NO;
    glen = tun_rd16(h + 2);     /* bytes after the 8 mandatory ones */
    if (8 + glen > len)
        return DECODE_TUN_NO;
    t->id = tun_rd32(h + 4);
    t->has_id = true;
    if (h[1] != 255)
        return DECODE_TUN_NO;
    if (h[0] & 0x07) {
        /* Any of E, S, PN: sequence number, N-PDU number and next
         * extension header type are all present. */
        hl = 12;
        if (cap < hl)
            return DECODE_TUN_FAIL;
        next = (h[0] & 0x04) ? h[11] : 0;
        for (unsigned n = 0; next; n++) {
            uint32_t elen;
            if (n >= TUN_GTP_MAX_EXT)
                return DECODE_TUN_FAIL;
            if (cap < hl + 1)
                return DECODE_TUN_FAIL;
            elen = (uint32_t)h[hl] * 4;     /* in 4-byte units, all of it */
            if (elen == 0)
                return DECODE_TUN_FAIL;
            if (cap < hl + elen)
                return DECODE_TUN_FAIL;
            next = h[hl + elen - 1];
            hl += elen;
        }
    }
    if (hl > 8 + glen)
        return DECODE_TUN_FAIL;
    t->et = DECODE_TUN_ET_IP;
    t->off = hl;
    t->lim = 8 + glen;
    return DECODE_TUN_OK;
}

int decode_tun_gre_udp(const uint8_t *h, uint32_t cap, uint32_t len, struct decode_tun *t)
{
    int rc;
    (void)len;
    /* RFC 8086: a GRE header right after UDP; version 0 only (the version
     * and reserved bits are the sanity check). */
    if (cap >= 2 && (h[1] & 0x07) != 0) {
        tun_init(t, FL_TUN_GRE_UDP);
        return DECODE_TUN_NO;
    }
    rc = decode_tun_gre(h, cap, t);
    t->kind = FL_TUN_GRE_UDP;
    return rc;
}

int decode_tun_teredo(const uint8_t *h, uint32_t cap, uint32_t len, struct decode_tun *t)
{
    uint32_t q = 0;

    tun_init(t, FL_TUN_TEREDO);
    /* Authentication indicator: 0x0001, client id length, authentication
     * value length, the two, an 8-byte nonce and a confirmation byte. What
     * the snaplen cut before the IPv6 header is a fallback (a packet on
     * the port whose indicators cannot be read). */
    if (cap < 2)
        return DECODE_TUN_FAIL;
    if (h[0] == 0 && h[1] == 1) {
        if (cap < 4)
            return DECODE_TUN_FAIL;
        q = 4 + (uint32_t)h[2] + h[3] + 9;
    }
    /* Origin indication: 0x0000, obfuscated port and IPv4 address. */
    if (q < len && cap < q + 2)
        return DECODE_TUN_FAIL;
    if (q + 2 <= cap && h[q] == 0 && h[q + 1] == 0)
        q += 8;
    if (q >= len)
        return DECODE_TUN_NO;
    if (cap < q + 1)
        return DECODE_TUN_FAIL;
    /* What remains must be exactly one IPv6 packet. */
    if ((h[q] >> 4) != 6)
        return DECODE_TUN_NO;
    if (cap < q + 6)
        return DECODE_TUN_FAIL;
    if (q + 40 + tun_rd16(h + q + 4) != len)
        return DECODE_TUN_NO;
    t->et = 0x86DD;
    t->off = q;
    return DECODE_TUN_OK;
}

int decode_tun_ayiya(const uint8_t *h, uint32_t cap, uint32_t len, struct decode_tun *t)
{
    uint32_t hl;

    tun_init(t, FL_TUN_AYIYA);
    if (cap < 8)
        return DECODE_TUN_FAIL;
    /* Identity length 2^IDLen, signature length in 4-byte words, opcode
     * 1 (forward) carries a packet named by the next header. */
    hl = 8 + (1u << (h[0] >> 4)) + (uint32_t)(h[1] >> 4) * 4;
    if ((h[2] & 0x0f) != 1 || (h[3] != 4 && h[3] != 41) || hl > len)
        return DECODE_TUN_NO;
    if (cap < hl)
        return DECODE_TUN_FAIL;
    t->et = h[3] == 4 ? 0x0800 : 0x86DD;
    t->off = hl;
    return DECODE_TUN_OK;
}

int decode_tun_udp(uint8_t kind, const uint8_t *h, uint32_t cap, uint32_t len,
                   struct decode_tun *t)
{
    switch (kind) {
    case FL_TUN_VXLAN: return decode_tun_vxlan(h, cap, len, t);
    case FL_TUN_GENEVE: return decode_tun_geneve(h, cap, len, t);
    case FL_TUN_GTP: return decode_tun_gtp(h, cap, len, t);
    case FL_TUN_GRE_UDP: return decode_tun_gre_udp(h, cap, len, t);
    case FL_TUN_TEREDO: return decode_tun_teredo(h, cap, len, t);
    case FL_TUN_AYIYA: return decode_tun_ayiya(h, cap, len, t);
    default:
        tun_init(t, kind);
        return DECODE_TUN_NO;
    }
}
