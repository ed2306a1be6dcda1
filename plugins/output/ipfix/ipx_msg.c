/* ipx_msg.c: one IPFIX message being built (RFC 7011 §3): a 16-byte
 * header, then sets, each a 4-byte header (id, length) and records. Sets
 * carry no padding (§3.3.1 allows it, nothing needs it). The message never
 * grows past its bound: the caller asks ipx_msg_fits before each record. */
#include <stdlib.h>
#include <string.h>
#include "ipx.h"

static inline void put16(uint8_t *w, uint16_t v)
{
    w[0] = (uint8_t)(v >> 8);
    w[1] = (uint8_t)v;
}

static inline void put32(uint8_t *w, uint32_t v)
{
    put16(w, (uint16_t)(v >> 16));
    put16(w + 2, (uint16_t)v);
}

int ipx_msg_init(struct ipx_msg *m, size_t max)
{
    memset(m, 0, sizeof *m);
    if (max > IPX_MSG_MAX)
        max = IPX_MSG_MAX;
    if (!(m->buf = malloc(max)))
        return -FL_ENOMEM;
    m->max = max;
    ipx_msg_reset(m);
    return 0;
}

void ipx_msg_free(struct ipx_msg *m)
{
    free(m->buf);
    m->buf = NULL;
}

void ipx_msg_reset(struct ipx_msg *m)
{
    m->len = IPX_HDR_LEN;
    m->set_off = 0;
    m->set_id = 0;
    m->records = m->templates = 0;
}

bool ipx_msg_empty(const struct ipx_msg *m)
{
    return m->len == IPX_HDR_LEN;
}

bool ipx_msg_fits(const struct ipx_msg *m, uint16_t set_id, size_t n)
{
    size_t need = n + (m->set_off && m->set_id == set_id ? 0 : IPX_SET_HDR_LEN);
    return need <= m->max - m->len;
}

static void close_set(struct ipx_msg *m)
{
    if (m->set_off)
        put16(m->buf + m->set_off + 2, (uint16_t)(m->len - m->set_off));
    m->set_off = 0;
    m->set_id = 0;
}

uint8_t *ipx_msg_put(struct ipx_msg *m, uint16_t set_id, size_t n)
{
    if (!m->set_off || m->set_id != set_id) {
        close_set(m);
        m->set_off = m->len;
        m->set_id = set_id;
        put16(m->buf + m->len, set_id);
        m->len += IPX_SET_HDR_LEN;
    }
    uint8_t *w = m->buf + m->len;
    m->len += n;
    return w;
}

void ipx_msg_finish(struct ipx_msg *m, uint32_t export_time, uint32_t seq, uint32_t domain)
{
    close_set(m);
    put16(m->buf, 10);
    put16(m->buf + 2, (uint16_t)m->len);
    put32(m->buf + 4, export_time);
    put32(m->buf + 8, seq);
    put32(m->buf + 12, domain);
}
