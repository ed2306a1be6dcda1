/* flowmeter_conn.c: the connection state of a flow, as Zeek's conn.log
 * reports it (conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR
 * OTH). Each TCP endpoint walks the state machine of Zeek's TCP analyzer
 * (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET)
 * on the flags of the packets it sends; at emit time the pair of states
 * becomes the code by Zeek's conn_state() (base/protocols/conn/main.zeek).
 * The state lives in one byte of the flow record (flowmeter.h). Where this
 * departs from Zeek, and why, is in README.md ("Connection state"). */
#include "flowmeter.h"

#define FM_FIN 0x01
#define FM_SYN 0x02
#define FM_RST 0x04
#define FM_ACK 0x10

void flowmeter_conn_tcp(uint8_t *conn, uint8_t flags, uint32_t paylen, int dir)
{
    unsigned c = *conn, os = FLOWMETER_CONN_OS(c), rs = FLOWMETER_CONN_RS(c);
    bool is_orig = dir == 1;
    bool syn = flags & FM_SYN, ack = flags & FM_ACK, fin = flags & FM_FIN, rst = flags & FM_RST;

    if (os == FLOWMETER_EP_MIDSTREAM)
        return;   /* OTH for good */
    if (c == 0 && !syn) {
        /* The first packet of the flow has no SYN: the beginning was not
         * seen (or this is a late packet of a connection already ended). */
        *conn = FLOWMETER_CONN(FLOWMETER_EP_MIDSTREAM, 0);
        return;
    }
    unsigned e = is_orig ? os : rs, pe = is_orig ? rs : os;
    unsigned e_bit = is_orig ? FLOWMETER_CONN_ORESET_CLOSED : FLOWMETER_CONN_RRESET_CLOSED;
    unsigned pe_bit = is_orig ? FLOWMETER_CONN_RRESET_CLOSED : FLOWMETER_CONN_ORESET_CLOSED;
    unsigned e0 = e;
    bool e_from_closed = false;

    switch (e) {
    case FLOWMETER_EP_INACTIVE:
        if (syn) {
            if (is_orig) {
                e = ack ? FLOWMETER_EP_SYN_ACK_SENT : FLOWMETER_EP_SYN_SENT;
            } else {
                /* The answer to the initiator's SYN (or a SYN/SYN-ACK
                 * reversal, which Zeek repairs by flipping roles). */
                if (pe == FLOWMETER_EP_SYN_SENT || (!ack && pe == FLOWMETER_EP_SYN_ACK_SENT))
                    pe = FLOWMETER_EP_ESTABLISHED;
                e = FLOWMETER_EP_ESTABLISHED;
            }
        }
        if (fin)
            e = FLOWMETER_EP_CLOSED;
        if (rst) {
            e_from_closed = e == FLOWMETER_EP_CLOSED;
            e = FLOWMETER_EP_RESET;
        }
        if (e == FLOWMETER_EP_INACTIVE) {
            /* No control flag moved it. An ACK of the SYN before the
             * SYN-ACK leaves the responder inactive; an ACK after the
             * peer's SYN-ACK (its SYN missed) establishes; else partial. */
            if (!is_orig && paylen == 0 && pe == FLOWMETER_EP_SYN_SENT)
                ;
            else if (ack && pe == FLOWMETER_EP_ESTABLISHED)
                e = FLOWMETER_EP_ESTABLISHED;
            else
                e = FLOWMETER_EP_PARTIAL;
        }
        break;
    case FLOWMETER_EP_SYN_SENT:
    case FLOWMETER_EP_SYN_ACK_SENT:
        if (fin)
            e = FLOWMETER_EP_CLOSED;
        if (rst) {
            e_from_closed = e == FLOWMETER_EP_CLOSED;
            e = FLOWMETER_EP_RESET;
        }
        break;
    case FLOWMETER_EP_ESTABLISHED:
    case FLOWMETER_EP_PARTIAL:
        if (syn && !ack && e == FLOWMETER_EP_PARTIAL && pe == FLOWMETER_EP_INACTIVE)
            e = FLOWMETER_EP_SYN_SENT;
        if (fin && !rst) {
            e = FLOWMETER_EP_CLOSED;
            /* The peer sent FIN then RST, and now this side closes too:
             * a normal termination after all. */
            if (pe == FLOWMETER_EP_RESET && (c & pe_bit)) {
                pe = FLOWMETER_EP_CLOSED;
                c &= ~pe_bit;
            }
        }
        if (rst)
            e = FLOWMETER_EP_RESET;
        break;
    case FLOWMETER_EP_CLOSED:
        /* After a FIN exchange a RST changes nothing. */
        if (rst && pe != FLOWMETER_EP_CLOSED) {
            e = FLOWMETER_EP_RESET;
            e_from_closed = true;
        }
        break;
    default:   /* RESET stays */
        break;
    }
    if (e != e0)
        c = e_from_closed ? (c | e_bit) : (c & ~e_bit);
    os = is_orig ? e : pe;
    rs = is_orig ? pe : e;
    *conn = (uint8_t)((c & 0xc0u) | FLOWMETER_CONN(os, rs));
}

void flowmeter_conn_init(struct flowmeter *fm)
{
    for (unsigned i = 0; i < sizeof(fm->conn_next); i++) {
        uint8_t conn = (uint8_t)(i >> 6), fl4 = (uint8_t)((i >> 1) & 15);
        uint8_t flags = (uint8_t)((fl4 & 7u) | (fl4 & 8u) << 1);
        int dir = (i >> 5) & 1 ? 2 : 1;
        uint32_t paylen = i & 1 ? 0 : 1;
        if (flowmeter_conn_idx(conn, flags, paylen, dir) != i)
            __builtin_trap();   /* the index and its inverse disagree */
        flowmeter_conn_tcp(&conn, flags, paylen, dir);
        fm->conn_next[i] = conn;
    }
}

static bool flowmeter_ep_inactive(unsigned s)
{
    return s == FLOWMETER_EP_INACTIVE || s == FLOWMETER_EP_PARTIAL;
}

const char *flowmeter_conn_state(const struct flowmeter_flow *f)
{
    unsigned os = FLOWMETER_CONN_OS(f->conn), rs = FLOWMETER_CONN_RS(f->conn);

    if (f->proto == 17)   /* the initiator sent: did the other side answer? */
        return rs || (f->state & FLOWMETER_REV) ? "SF" : "S0";
    if (f->proto != 6 || os == FLOWMETER_EP_MIDSTREAM)
        return "OTH";
    bool o_in = flowmeter_ep_inactive(os), r_in = flowmeter_ep_inactive(rs);
    if (rs == FLOWMETER_EP_RESET) {
        /* Zeek: both reset and no payload either way is a reject too; it
         * counts the connection's payload, this the record's. */
        if (os == FLOWMETER_EP_SYN_SENT || os == FLOWMETER_EP_SYN_ACK_SENT
            || (os == FLOWMETER_EP_RESET && f->pay_sum == 0))
            return "REJ";
        return o_in ? "RSTRH" : "RSTR";
    }
    if (os == FLOWMETER_EP_RESET)
        return r_in ? "RSTOS0" : "RSTO";
    if (os == FLOWMETER_EP_CLOSED && rs == FLOWMETER_EP_CLOSED)
        return "SF";
    if (os == FLOWMETER_EP_CLOSED)
        return r_in ? "SH" : "S2";
    if (rs == FLOWMETER_EP_CLOSED)
        return o_in ? "SHR" : "S3";
    if (os == FLOWMETER_EP_SYN_SENT && rs == FLOWMETER_EP_INACTIVE)
        return "S0";
    if (os == FLOWMETER_EP_ESTABLISHED && rs == FLOWMETER_EP_ESTABLISHED)
        return "S1";
    return "OTH";
}
