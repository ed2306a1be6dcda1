/* ipfix_msg.c: one IPFIX (RFC 7011) or NetFlow v9 (RFC 3954) message.
 *
 * The message header is checked first, then each set is framed (length at
 * least 4, within the message) before its content is looked at; template
 * records are bounded by their set, a data record by its template, and
 * each variable-length field by the record. A set that fails is dropped
 * and counted; the sets around it still count. Nothing here allocates per
 * record: rows go straight into the template's pending batch.
 *
 * Sequence numbers: IPFIX counts data records sent before the message,
 * NetFlow v9 counts export packets; a gap is counted as `records_lost` or
 * `packets_lost` for the domain (backwards jumps are restarts or
 * reordering, not loss). */
#include <stddef.h>
#include <string.h>
#include <flowline/log.h>
#include "ipfix_int.h"

#define NTP_UNIX_OFFSET 2208988800ull   /* seconds from 1900 to 1970 */

static const char *const ipfix_drop_names[IPFIX_DROP_COUNT] = {
    [IPFIX_DROP_SHORT] = "drop_short",
    [IPFIX_DROP_VERSION] = "drop_version",
    [IPFIX_DROP_SET] = "drop_bad_set",
    [IPFIX_DROP_TEMPLATE] = "drop_bad_template",
    [IPFIX_DROP_NO_TEMPLATE] = "drop_no_template",
    [IPFIX_DROP_RECORD] = "drop_bad_record",
    [IPFIX_DROP_SET_ID] = "drop_bad_set_id",
};

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t rdn(const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void drop(struct ipfix_dec *d, struct ipfix_dom *dom, enum ipfix_drop why)
{
    d->drops[why]++;
    if (dom)
        dom->dropped++;
}

/* ---- cells --------------------------------------------------------------- */

static uint64_t clamp(uint64_t v, uint64_t max) { return v > max ? max : v; }

/* Write one field of len bytes at p into row r of column op->col. */
static int put_cell(struct fl_batch *b, const struct ipfix_op *op, uint32_t r,
                    const uint8_t *p, uint32_t len)
{
    void *col = b->data[op->col];
    uint64_t v = 0;

    switch ((enum fl_ie_kind)op->kind) {
    case FL_IE_UNSIGNED:
    case FL_IE_SIGNED:
        v = rdn(p, len);
        if (op->kind == FL_IE_SIGNED && len < 8 && (p[0] & 0x80))
            v |= ~0ull << (8 * len);    /* sign extension */
        break;
    case FL_IE_FLOAT: {
        double f;
        if (len == 4) {
            uint32_t u = rd32(p);
            float g;
            memcpy(&g, &u, 4);
            f = g;
        } else {
            uint64_t u = rdn(p, 8);
            memcpy(&f, &u, 8);
        }
        if (op->type == FL_T_F64) {
            ((double *)col)[r] = f;
            return 0;
        }
        v = f > 0 ? (uint64_t)f : 0;
        break;
    }
    case FL_IE_BOOL:
        if (p[0] != 1 && p[0] != 2)     /* RFC 7011 §6.1.5: 1 true, 2 false */
            return fl_batch_set_missing(b, (uint32_t)op->col, r);
        v = p[0] == 1;
        break;
    case FL_IE_MAC:
        memcpy((uint8_t *)col + (size_t)r * 6, p, 6);
        return 0;
    case FL_IE_IPV4: {
        struct fl_addr *a = &((struct fl_addr *)col)[r];
        memset(a->b, 0, 10);
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, p, 4);
        return 0;
    }
    case FL_IE_IPV6:
        memcpy(((struct fl_addr *)col)[r].b, p, 16);
        return 0;
    case FL_IE_SECONDS:
        v = rdn(p, 4) * 1000000000ull;
        break;
    case FL_IE_MILLISECONDS:
        v = rdn(p, 8) * 1000000ull;
        break;
    case FL_IE_MICROSECONDS:
    case FL_IE_NANOSECONDS: {
        /* NTP: seconds since 1900, then a binary fraction of a second */
        uint64_t s = rd32(p), frac = rd32(p + 4);
        if (op->kind == FL_IE_MICROSECONDS)
            frac &= ~0x7ffull;          /* RFC 7011 §6.1.9: the low 11 bits are not time */
        if (s < NTP_UNIX_OFFSET)
            return fl_batch_set_missing(b, (uint32_t)op->col, r);
        v = (s - NTP_UNIX_OFFSET) * 1000000000ull + ((frac * 1000000000ull) >> 32);
        break;
    }
    default: {      /* string, octetArray, and what the registry cannot type */
        struct fl_span sp;
        int rc = fl_batch_put_bytes(b, p, len, &sp);
        if (rc < 0)
            return rc;
        ((struct fl_span *)col)[r] = sp;
        return 0;
    }
    }
    if (op->unit_ns)        /* flowDurationMilliseconds & co. into a dur column */
        v *= op->unit_ns;
    switch ((enum fl_type)op->type) {
    case FL_T_U8: ((uint8_t *)col)[r] = (uint8_t)clamp(v, 0xff); break;
    case FL_T_U16: ((uint16_t *)col)[r] = (uint16_t)clamp(v, 0xffff); break;
    case FL_T_U32: ((uint32_t *)col)[r] = (uint32_t)clamp(v, 0xffffffffu); break;
    case FL_T_BOOL: ((bool *)col)[r] = v != 0; break;
    case FL_T_F64: ((double *)col)[r] = op->kind == FL_IE_SIGNED ? (double)(int64_t)v : (double)v; break;
    case FL_T_U64: case FL_T_I64: case FL_T_TS: case FL_T_DUR: ((uint64_t *)col)[r] = v; break;
    default: return fl_batch_set_missing(b, (uint32_t)op->col, r);
    }
    return 0;
}

/* ---- data sets ------------------------------------------------------------- */

/* The batch t's next record goes into: the template's schema, or the one
 * with sampling_rate when the domain announced a rate. */
static int pending_ready(struct ipfix_dec *d, struct ipfix_tmpl *t, const struct fl_schema *want)
{
    int rc;
    if (t->pending && (t->pending->schema != want || t->pending->rows >= t->pending->cap) &&
        (rc = ipfix_tmpl_flush(d, t)) < 0)
        return rc;
    if (!t->pending)
        return fl_batch_new(d->ctx, want, d->batch_rows, &t->pending);
    return 0;
}

static void put_time(struct fl_batch *b, int16_t col, uint32_t r, bool ok, uint64_t ns)
{
    if (col < 0)
        return;
    if (ok)
        ((uint64_t *)b->data[col])[r] = ns;
    else
        fl_batch_set_missing(b, (uint32_t)col, r);
}

/* The records of one data set (p: its body, n bytes). Returns the number
 * of records decoded, or a negative code on a failed emit/allocation. */
static long data_set(struct ipfix_dec *d, const struct ipfix_msg *m, struct ipfix_dom *dom,
                     struct ipfix_tmpl *t, const uint8_t *p, size_t n)
{
    size_t off = 0;
    long records = 0;
    bool join = t->schema_join && dom->sampling;
    const struct fl_schema *want = join ? t->schema_join : t->schema;
    int rc;

    while (n - off >= t->min_len) {
        uint64_t rel[IPFIX_TIME_COUNT] = {0};
        bool have[IPFIX_TIME_COUNT] = {0};
        struct fl_batch *b;
        uint32_t r;

        if ((rc = pending_ready(d, t, want)) < 0)
            return rc;
        b = t->pending;
        r = b->rows;
        for (uint16_t i = 0; i < t->n_ops; i++) {
            const struct ipfix_op *op = &t->ops[i];
            uint32_t len = op->len;
            if (len == IPFIX_VARLEN) {     /* RFC 7011 §7: 1 byte, or 255 and 2 bytes */
                if (off >= n)
                    goto bad;
                len = p[off++];
                if (len == 255) {
                    if (n - off < 2)
                        goto bad;
                    len = rd16(p + off);
                    off += 2;
                }
            }
            if (n - off < len)
                goto bad;
            if (op->time && len >= 1 && len <= 8) {
                rel[op->time] = rdn(p + off, len);
                have[op->time] = true;
            }
            if (op->col >= 0 && (rc = put_cell(b, op, r, p + off, len)) < 0)
                return rc;
            off += len;
        }
        if (t->col_exporter >= 0)
            ((struct fl_addr *)b->data[t->col_exporter])[r] = m->key.exporter;
        if (t->col_domain >= 0)
            ((uint32_t *)b->data[t->col_domain])[r] = m->key.domain;
        if (t->col_export_time >= 0)
            ((uint64_t *)b->data[t->col_export_time])[r] = m->export_ns;
        if (t->col_start >= 0 || t->col_end >= 0) {
            /* Uptime-relative times: NetFlow v9 from its header's clock;
             * IPFIX from systemInitTimeMilliseconds in the record or in
             * the domain's options data. Deltas count back from export. */
            uint64_t boot = m->boot_ns;
            bool boot_ok = m->key.version == NF9_VERSION;
            if (have[IPFIX_TIME_SYSINIT]) {
                boot = rel[IPFIX_TIME_SYSINIT] * 1000000ull;
                boot_ok = true;
            } else if (!boot_ok && dom->sysinit_ns) {
                boot = dom->sysinit_ns;
                boot_ok = true;
            }
            if (have[IPFIX_TIME_START_UPTIME])
                put_time(b, t->col_start, r, boot_ok, boot + rel[IPFIX_TIME_START_UPTIME] * 1000000ull);
            if (have[IPFIX_TIME_END_UPTIME])
                put_time(b, t->col_end, r, boot_ok, boot + rel[IPFIX_TIME_END_UPTIME] * 1000000ull);
            if (have[IPFIX_TIME_START_DELTA])
                put_time(b, t->col_start, r, true, m->export_ns - rel[IPFIX_TIME_START_DELTA] * 1000ull);
            if (have[IPFIX_TIME_END_DELTA])
                put_time(b, t->col_end, r, true, m->export_ns - rel[IPFIX_TIME_END_DELTA] * 1000ull);
        }
        if (join)
            ((uint32_t *)b->data[b->schema->ncols - 1])[r] = (uint32_t)clamp(dom->sampling, 0xffffffffu);
        if (t->options) {
            /* What options data announces for the domain's flow records. */
            if (t->col_sampling >= 0 && fl_batch_is_valid(b, (uint32_t)t->col_sampling, r))
                dom->sampling = ((uint32_t *)b->data[t->col_sampling])[r];
            if (t->col_sysinit >= 0 && have[IPFIX_TIME_SYSINIT])
                dom->sysinit_ns = rel[IPFIX_TIME_SYSINIT] * 1000000ull;
        }
        /* The batch's time range is its messages' export times: the clock
         * of a file being replayed (a socket's is the wall clock). */
        if (m->export_ns && (r == 0 || m->export_ns < b->t_min))
            b->t_min = m->export_ns;
        if (m->export_ns > b->t_max)
            b->t_max = m->export_ns;
        b->rows = r + 1;
        records++;
        continue;
bad:
        /* The record does not fit what is left of its set: the rest of the
         * set cannot be framed. The row is not committed. */
        if (b->valid)
            for (uint32_t c = 0; c < b->schema->ncols; c++)
                if (b->valid[c])
                    b->valid[c][r / 64] |= 1ull << (r % 64);
        drop(d, dom, IPFIX_DROP_RECORD);
        break;
    }
    /* Fewer bytes than a record left: padding (RFC 7011 §3.3.1). */
    if (t->options)
        d->options_records += (uint64_t)records;
    else
        d->records += (uint64_t)records;
    t->seen_ns = m->recv_ns;
    return records;
}

/* ---- template sets ----------------------------------------------------------- */

/* IPFIX template (set 2) or options template (set 3) records. Returns
 * false when the set is malformed (the records before it stand). */
static int ipfix_templates(struct ipfix_dec *d, const struct ipfix_msg *m, struct ipfix_dom *dom,
                           bool options, const uint8_t *p, size_t n)
{
    static __thread struct ipfix_field_spec f[IPFIX_MAX_FIELDS];
    size_t off = 0;
    int rc;

    while (n - off >= 4) {
        uint16_t id = rd16(p + off), fc = rd16(p + off + 2), scope = 0;
        off += 4;
        if (fc == 0) {      /* withdrawal (RFC 7011 §8.1); id 2 or 3: all of them */
            if (id == (options ? 3 : 2))
                ipfix_tmpl_withdraw_all(d, dom, options);
            else if (id >= 256)
                ipfix_tmpl_withdraw(d, dom, id);
            else
                goto bad;
            continue;
        }
        if (id < 256 || fc > IPFIX_MAX_FIELDS)
            goto bad;
        if (options) {
            if (n - off < 2)
                goto bad;
            scope = rd16(p + off);
            off += 2;
            if (scope == 0 || scope > fc)
                goto bad;
        }
        for (uint16_t i = 0; i < fc; i++) {
            if (n - off < 4)
                goto bad;
            f[i].ie = rd16(p + off) & 0x7fff;
            f[i].len = rd16(p + off + 2);
            f[i].pen = 0;
            if (p[off] & 0x80) {
                if (n - off < 8)
                    goto bad;
                f[i].pen = rd32(p + off + 4);
                off += 4;
            }
            off += 4;
            if (f[i].len == 0)
                goto bad;
        }
        if ((rc = ipfix_tmpl_define(d, dom, id, options, f, fc, scope, m->recv_ns)) < 0)
            return rc;
    }
    return 0;
bad:
    drop(d, dom, IPFIX_DROP_TEMPLATE);
    return 0;
}

/* NetFlow v9 template (flowset 0) and options template (flowset 1) records. */
static int nf9_templates(struct ipfix_dec *d, const struct ipfix_msg *m, struct ipfix_dom *dom,
                         bool options, const uint8_t *p, size_t n)
{
    static __thread struct ipfix_field_spec f[IPFIX_MAX_FIELDS];
    size_t off = 0;
    int rc;

    while (n - off >= (options ? 6u : 4u)) {
        uint16_t id = rd16(p + off), fc, scope = 0;
        if (options) {
            uint16_t slen = rd16(p + off + 2), olen = rd16(p + off + 4);
            off += 6;
            if (slen % 4 || olen % 4 || slen == 0)
                goto bad;
            scope = slen / 4;
            fc = (uint16_t)(scope + olen / 4);
        } else {
            fc = rd16(p + off + 2);
            off += 4;
        }
        if (id < 256 || fc == 0 || fc > IPFIX_MAX_FIELDS || (size_t)fc * 4 > n - off)
            goto bad;
        for (uint16_t i = 0; i < fc; i++, off += 4) {
            f[i].ie = rd16(p + off);
            f[i].len = rd16(p + off + 2);
            f[i].pen = i < scope ? IPFIX_PEN_V9_SCOPE : 0;
            if (f[i].len == 0 || f[i].len == IPFIX_VARLEN)   /* v9 has no variable length */
                goto bad;
        }
        if ((rc = ipfix_tmpl_define(d, dom, id, options, f, fc, scope, m->recv_ns)) < 0)
            return rc;
        if (options)
            break;  /* the rest of an options flowset is padding */
    }
    return 0;
bad:
    drop(d, dom, IPFIX_DROP_TEMPLATE);
    return 0;
}

/* ---- messages -------------------------------------------------------------- */

/* The sets of a message, p[hdr..len). Returns data records decoded, or a
 * negative code; *complete is false when a data set had no template (the
 * sequence check cannot tell loss from that). */
static long sets(struct ipfix_dec *d, struct ipfix_msg *m, struct ipfix_dom *dom, size_t hdr,
                 bool *complete)
{
    const bool v9 = m->key.version == NF9_VERSION;
    size_t off = hdr;
    long recs = 0, r;
    int rc;

    *complete = true;
    while (m->len - off >= 4) {
        uint16_t sid = rd16(m->p + off), slen = rd16(m->p + off + 2);
        const uint8_t *body = m->p + off + 4;
        if (slen < 4 || slen > m->len - off) {
            drop(d, dom, IPFIX_DROP_SET);
            break;      /* the next set cannot be found */
        }
        off += slen;
        slen -= 4;
        if (sid == (v9 ? 0 : 2) || sid == (v9 ? 1 : 3)) {
            bool options = sid == (v9 ? 1 : 3);
            rc = v9 ? nf9_templates(d, m, dom, options, body, slen)
                    : ipfix_templates(d, m, dom, options, body, slen);
            if (rc < 0)
                return rc;
        } else if (sid >= 256) {
            struct ipfix_tmpl *t = ipfix_tmpl_get(d, dom, sid);
            if (t && m->udp && d->template_timeout_ns &&
                m->recv_ns > t->seen_ns + d->template_timeout_ns) {
                ipfix_tmpl_withdraw(d, dom, sid);   /* RFC 7011 §8.4: timed out */
                d->withdrawn--;
                d->expired++;
                t = NULL;
            }
            if (!t) {
                drop(d, dom, IPFIX_DROP_NO_TEMPLATE);
                *complete = false;
                continue;
            }
            if ((r = data_set(d, m, dom, t, body, slen)) < 0)
                return r;
            recs += r;      /* options data records count in the sequence too */
        } else {
            drop(d, dom, IPFIX_DROP_SET_ID);
        }
    }
    return recs;
}

/* A gap between the sequence number a message carries and the one the
 * domain expected, counted as loss when it is forward. */
static void sequence(struct ipfix_dec *d, struct ipfix_dom *dom, uint32_t seq, uint32_t advance,
                     bool complete)
{
    if (dom->seq_known && seq != dom->seq_next) {
        uint32_t gap = seq - dom->seq_next;
        if (gap < 0x80000000u) {
            char a[64];
            dom->lost += gap;
            *(dom->key.version == NF9_VERSION ? &d->lost_packets : &d->lost) += gap;
            ipfix_addr_text(&dom->key.exporter, a, sizeof a);
            FL_LOG_WARN_RL(d->ctx, "exporter %s, domain %u: %u %s missing by sequence numbers",
                           a, dom->key.domain, gap,
                           dom->key.version == NF9_VERSION ? "export packets" : "records");
        }
    }
    dom->seq_known = complete;
    dom->seq_next = seq + advance;
}

int ipfix_dec_message(struct ipfix_dec *d, const uint8_t *p, size_t len,
                      const struct fl_addr *from, uint32_t session, uint64_t recv_ns, bool udp)
{
    struct ipfix_msg m = { .p = p, .len = len, .recv_ns = recv_ns, .udp = udp };
    struct ipfix_dom *dom;
    uint16_t ver;
    bool complete;
    long recs;

    d->messages++;
    if (len < 4) {
        drop(d, NULL, IPFIX_DROP_SHORT);
        return 0;
    }
    ver = rd16(p);
    m.key.exporter = *from;
    m.key.session = session;
    m.key.version = (uint8_t)ver;
    if (ver == IPFIX_VERSION) {
        uint16_t mlen;
        if (len < 16 || (mlen = rd16(p + 2)) < 16 || mlen > len) {
            drop(d, NULL, IPFIX_DROP_SHORT);
            return 0;
        }
        m.len = mlen;
        m.export_ns = rd32(p + 4) * 1000000000ull;
        m.key.domain = rd32(p + 12);
        if (!(dom = ipfix_dom_get(d, &m.key, true)))
            return -FL_ENOMEM;
        if ((recs = sets(d, &m, dom, 16, &complete)) < 0)
            return (int)recs;
        sequence(d, dom, rd32(p + 8), (uint32_t)recs, complete);
    } else if (ver == NF9_VERSION) {
        if (len < 20) {
            drop(d, NULL, IPFIX_DROP_SHORT);
            return 0;
        }
        m.export_ns = rd32(p + 8) * 1000000000ull;
        m.boot_ns = m.export_ns - rd32(p + 4) * 1000000ull;
        m.key.domain = rd32(p + 16);
        if (!(dom = ipfix_dom_get(d, &m.key, true)))
            return -FL_ENOMEM;
        if ((recs = sets(d, &m, dom, 20, &complete)) < 0)
            return (int)recs;
        sequence(d, dom, rd32(p + 12), 1, true);
    } else {
        drop(d, NULL, IPFIX_DROP_VERSION);
    }
    return 0;
}

static int flush_one(struct ipfix_dec *d, struct ipfix_tmpl *t)
{
    return ipfix_tmpl_flush(d, t);
}

int ipfix_dec_flush(struct ipfix_dec *d)
{
    return ipfix_store_each(d, flush_one);
}

void ipfix_dec_report(struct ipfix_dec *d)
{
    static const struct { size_t off; const char *name; } c[] = {
        { offsetof(struct ipfix_dec, records), "records" },
        { offsetof(struct ipfix_dec, options_records), "options_records" },
        { offsetof(struct ipfix_dec, messages), "messages" },
        { offsetof(struct ipfix_dec, templates), "templates" },
        { offsetof(struct ipfix_dec, withdrawn), "templates_withdrawn" },
        { offsetof(struct ipfix_dec, evicted), "template_evicted" },
        { offsetof(struct ipfix_dec, expired), "template_expired" },
        { offsetof(struct ipfix_dec, lost), "records_lost" },
        { offsetof(struct ipfix_dec, lost_packets), "packets_lost" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint64_t *v = (uint64_t *)((char *)d + c[i].off);
        if (*v)
            fl_counter_add(d->ctx, c[i].name, *v);
        *v = 0;
    }
    for (int i = 0; i < IPFIX_DROP_COUNT; i++) {
        if (d->drops[i])
            fl_counter_add(d->ctx, ipfix_drop_names[i], d->drops[i]);
        d->drops[i] = 0;
    }
}

void ipfix_dec_report_maybe(struct ipfix_dec *d)
{
    if (d->messages >= 256)
        ipfix_dec_report(d);
}
