/* ipfix_tmpl.c: templates. Each exporter's observation domain (struct
 * ipfix_dom) holds its templates; both live in chained hash tables keyed by
 * (exporter, session, domain[, template id]). A template is compiled once,
 * when it is defined, into a decode program (one op per field) and an
 * interned schema, so a data record costs a walk over its ops.
 *
 * Memory is bounded: at most max_per_dom templates per domain (the least
 * recently defined or used one is evicted, counted as template_evicted)
 * and a bounded number of domains (a flood of forged exporter addresses
 * evicts whole domains the same way). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <flowline/log.h>
#include "ipfix_int.h"

#define IPFIX_MAX_DOMAINS 4096u

static uint64_t key_hash(const struct ipfix_key *k)
{
    uint64_t h = 0xcbf29ce484222325ull, w[2];
    memcpy(w, k->exporter.b, 16);
    h = (h ^ w[0]) * 0x100000001b3ull;
    h = (h ^ w[1]) * 0x100000001b3ull;
    h = (h ^ ((uint64_t)k->session << 32 | k->domain)) * 0x100000001b3ull;
    h = (h ^ k->version) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static bool key_eq(const struct ipfix_key *a, const struct ipfix_key *b)
{
    return a->session == b->session && a->domain == b->domain && a->version == b->version &&
           memcmp(a->exporter.b, b->exporter.b, 16) == 0;
}

static size_t tmpl_slot(const struct ipfix_store *s, const struct ipfix_dom *dom, uint16_t id)
{
    uint64_t h = ((uintptr_t)dom >> 4) * 0x9e3779b97f4a7c15ull ^ id * 0xc2b2ae3d27d4eb4full;
    return (size_t)(h ^ (h >> 31)) & (s->tmpl_cap - 1);
}

/* Grow a chained table of pointers to twice its size (cap a power of two). */
static int grow_dom(struct ipfix_store *s)
{
    size_t cap = s->dom_cap ? s->dom_cap * 2 : 64;
    struct ipfix_dom **t = calloc(cap, sizeof *t);
    if (!t)
        return -FL_ENOMEM;
    for (size_t i = 0; i < s->dom_cap; i++)
        for (struct ipfix_dom *d = s->dom_tab[i], *n; d; d = n) {
            size_t j = (size_t)key_hash(&d->key) & (cap - 1);
            n = d->next;
            d->next = t[j];
            t[j] = d;
        }
    free(s->dom_tab);
    s->dom_tab = t;
    s->dom_cap = cap;
    return 0;
}

static int grow_tmpl(struct ipfix_store *s)
{
    size_t old = s->tmpl_cap;
    struct ipfix_tmpl **ot = s->tmpl_tab;
    s->tmpl_cap = old ? old * 2 : 256;
    s->tmpl_tab = calloc(s->tmpl_cap, sizeof *s->tmpl_tab);
    if (!s->tmpl_tab) {
        s->tmpl_tab = ot;
        s->tmpl_cap = old;
        return -FL_ENOMEM;
    }
    for (size_t i = 0; i < old; i++)
        for (struct ipfix_tmpl *t = ot[i], *n; t; t = n) {
            size_t j = tmpl_slot(s, t->dom, t->id);
            n = t->next;
            t->next = s->tmpl_tab[j];
            s->tmpl_tab[j] = t;
        }
    free(ot);
    return 0;
}

/* ---- templates ----------------------------------------------------------- */

static void lru_unlink(struct ipfix_tmpl *t)
{
    struct ipfix_dom *dom = t->dom;
    if (t->older)
        t->older->newer = t->newer;
    else
        dom->oldest = t->newer;
    if (t->newer)
        t->newer->older = t->older;
    else
        dom->newest = t->older;
    t->older = t->newer = NULL;
}

static void lru_push(struct ipfix_tmpl *t)
{
    struct ipfix_dom *dom = t->dom;
    t->older = dom->newest;
    t->newer = NULL;
    if (dom->newest)
        dom->newest->newer = t;
    else
        dom->oldest = t;
    dom->newest = t;
}

struct ipfix_tmpl *ipfix_tmpl_get(struct ipfix_dec *d, struct ipfix_dom *dom, uint16_t id)
{
    struct ipfix_store *s = &d->st;
    if (!s->tmpl_cap)
        return NULL;
    for (struct ipfix_tmpl *t = s->tmpl_tab[tmpl_slot(s, dom, id)]; t; t = t->next)
        if (t->dom == dom && t->id == id)
            return t;
    return NULL;
}

int ipfix_tmpl_flush(struct ipfix_dec *d, struct ipfix_tmpl *t)
{
    if (!t->pending)
        return 0;
    if (!t->pending->rows) {
        fl_batch_release(&t->pending);
        return 0;
    }
    return fl_emit_port(d->ctx, t->options ? "options" : "out", &t->pending);
}

/* Remove t from the tables and free it, its rows emitted first. */
static int tmpl_remove(struct ipfix_dec *d, struct ipfix_tmpl *t)
{
    struct ipfix_store *s = &d->st;
    struct ipfix_tmpl **pp = &s->tmpl_tab[tmpl_slot(s, t->dom, t->id)];
    int rc = ipfix_tmpl_flush(d, t);

    while (*pp != t)
        pp = &(*pp)->next;
    *pp = t->next;
    lru_unlink(t);
    t->dom->n_tmpl--;
    s->n_tmpl--;
    d->templates_changed = true;
    fl_batch_release(&t->pending);
    free(t->ops);
    free(t->spec);
    free(t);
    return rc;
}

void ipfix_tmpl_withdraw(struct ipfix_dec *d, struct ipfix_dom *dom, uint16_t id)
{
    struct ipfix_tmpl *t = ipfix_tmpl_get(d, dom, id);
    if (t) {
        tmpl_remove(d, t);
        d->withdrawn++;
    }
}

void ipfix_tmpl_withdraw_all(struct ipfix_dec *d, struct ipfix_dom *dom, bool options)
{
    for (struct ipfix_tmpl *t = dom->oldest, *n; t; t = n) {
        n = t->newer;
        if (t->options == options) {
            tmpl_remove(d, t);
            d->withdrawn++;
        }
    }
}

/* Time elements that become flow_start / flow_end. */
static int time_target(uint32_t pen, uint16_t ie, uint8_t *time)
{
    *time = IPFIX_TIME_NONE;
    if (pen)
        return 0;
    switch (ie) {
    case 150: case 152: case 154: case 156: return 1;      /* flowStart{Seconds,...} */
    case 151: case 153: case 155: case 157: return 2;      /* flowEnd{Seconds,...} */
    case 22: *time = IPFIX_TIME_START_UPTIME; return 1;   /* flowStartSysUpTime */
    case 21: *time = IPFIX_TIME_END_UPTIME; return 2;
    case 158: *time = IPFIX_TIME_START_DELTA; return 1;   /* flowStartDeltaMicroseconds */
    case 159: *time = IPFIX_TIME_END_DELTA; return 2;
    case 160: *time = IPFIX_TIME_SYSINIT; return 0;        /* systemInitTimeMilliseconds */
    default: return 0;
    }
}

/* The encodings a column type can be read from at a wire length. */
static bool kind_fits(enum fl_ie_kind k, uint16_t len)
{
    switch (k) {
    case FL_IE_UNSIGNED: case FL_IE_SIGNED: return len >= 1 && len <= 8;
    case FL_IE_FLOAT: return len == 4 || len == 8;
    case FL_IE_BOOL: return len == 1;
    case FL_IE_MAC: return len == 6;
    case FL_IE_IPV4: return len == 4;
    case FL_IE_IPV6: return len == 16;
    case FL_IE_SECONDS: return len == 4;
    case FL_IE_MILLISECONDS: case FL_IE_MICROSECONDS: case FL_IE_NANOSECONDS: return len == 8;
    default: return true;
    }
}

struct compile {
    struct fl_col_def cols[IPFIX_MAX_FIELDS + 8];
    char names[IPFIX_MAX_FIELDS][24];
    uint32_t n;
};

static int col_add(struct compile *c, const char *name, enum fl_type type)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->cols[i].name, name) == 0)
            return -1;      /* a repeated element: the first one is kept */
    c->cols[c->n] = (struct fl_col_def){ name, type };
    return (int)c->n++;
}

/* Compile field specifiers into ops and a schema. */
static int tmpl_compile(struct ipfix_dec *d, struct ipfix_tmpl *t,
                        const struct ipfix_field_spec *f, uint16_t n)
{
    struct compile *c = malloc(sizeof *c);
    int rc;

    if (!c)
        return -FL_ENOMEM;
    c->n = 0;
    t->col_exporter = (int16_t)col_add(c, "exporter", FL_T_ADDR);
    t->col_domain = (int16_t)col_add(c, "obs_domain", FL_T_U32);
    t->col_export_time = (int16_t)col_add(c, "export_time", FL_T_TS);
    t->col_start = t->col_end = t->col_sampling = t->col_sysinit = -1;
    t->min_len = 0;
    for (uint16_t i = 0; i < n; i++) {
        struct ipfix_op *op = &t->ops[i];
        enum fl_ie_kind kind;
        const struct fl_field *fd = fl_field_by_ie(f[i].pen, f[i].ie, &kind);
        int target = time_target(f[i].pen, f[i].ie, &op->time);
        const char *name;
        enum fl_type type;

        op->len = f[i].len;
        t->min_len += f[i].len == IPFIX_VARLEN ? 1 : f[i].len;
        if (f[i].pen == 0 && f[i].ie == 50)    /* samplerRandomInterval: 1 in N too */
            fd = fl_field_find("sampling_rate");
        if (f[i].pen == IPFIX_PEN_V9_SCOPE) {
            snprintf(c->names[i], sizeof c->names[i], "scope:%u", f[i].ie);
            name = c->names[i];
            type = FL_T_BYTES;
            kind = FL_IE_OCTETS;
        } else if (fd && kind_fits(kind, f[i].len) && (f[i].len != IPFIX_VARLEN ||
                                                 kind == FL_IE_STRING || kind == FL_IE_OCTETS)) {
            name = fd->name;
            type = fd->type;
            if (target && !op->time) {      /* absolute times: flow_start, flow_end */
                name = target == 1 ? "flow_start" : "flow_end";
                type = FL_T_TS;
            } else if (op->time == IPFIX_TIME_START_UPTIME || op->time == IPFIX_TIME_END_UPTIME ||
                       op->time == IPFIX_TIME_START_DELTA || op->time == IPFIX_TIME_END_DELTA) {
                /* relative times: also converted to flow_start/flow_end */
                int tc = col_add(c, target == 1 ? "flow_start" : "flow_end", FL_T_TS);
                if (tc >= 0)
                    *(target == 1 ? &t->col_start : &t->col_end) = (int16_t)tc;
            }
        } else {
            /* Unknown to the registry, or an encoding its type cannot take:
             * the bytes as they came, named pen:id. */
            snprintf(c->names[i], sizeof c->names[i], "%u:%u", f[i].pen, f[i].ie);
            name = c->names[i];
            type = FL_T_BYTES;
            kind = FL_IE_OCTETS;
        }
        op->kind = (uint8_t)kind;
        op->type = (uint8_t)type;
        op->unit_ns = type == FL_T_DUR && kind == FL_IE_UNSIGNED ?
                      (uint32_t)fl_ie_unit_ns(f[i].pen, f[i].ie) : 0;
        op->col = (int16_t)col_add(c, name, type);
        if (op->col >= 0 && strcmp(name, "sampling_rate") == 0)
            t->col_sampling = op->col;
        if (op->col >= 0 && op->time == IPFIX_TIME_SYSINIT)
            t->col_sysinit = op->col;
    }
    rc = fl_schema_intern(d->ctx, c->cols, c->n, sizeof c->cols[0], &t->schema);
    if (rc == 0 && !t->options && t->col_sampling < 0 && col_add(c, "sampling_rate", FL_T_U32) >= 0)
        rc = fl_schema_intern(d->ctx, c->cols, c->n, sizeof c->cols[0], &t->schema_join);
    free(c);
    return rc;
}

static uint32_t spec_sum(const struct ipfix_field_spec *f, uint16_t n, uint16_t n_scope,
                         bool options)
{
    uint32_t h = 2166136261u ^ n_scope ^ (options ? 0x80000000u : 0);
    for (uint16_t i = 0; i < n; i++)
        h = (h ^ ((uint32_t)f[i].ie << 16 | f[i].len) ^ f[i].pen) * 16777619u;
    return h;
}

int ipfix_tmpl_define(struct ipfix_dec *d, struct ipfix_dom *dom, uint16_t id, bool options,
                      const struct ipfix_field_spec *f, uint16_t n, uint16_t n_scope,
                      uint64_t now_ns)
{
    struct ipfix_store *s = &d->st;
    struct ipfix_tmpl *t = ipfix_tmpl_get(d, dom, id);
    uint32_t sum = spec_sum(f, n, n_scope, options);
    int rc;

    d->templates++;
    if (t && t->raw_sum == sum && t->n_ops == n) {
        t->seen_ns = now_ns;    /* the periodic resend of the same template */
        lru_unlink(t);
        lru_push(t);
        return 0;
    }
    if (t && (rc = tmpl_remove(d, t)) < 0)
        return rc;
    while (dom->n_tmpl >= s->max_per_dom && dom->oldest) {
        if ((rc = tmpl_remove(d, dom->oldest)) < 0)
            return rc;
        d->evicted++;
    }
    if (s->n_tmpl + 1 > s->tmpl_cap && (rc = grow_tmpl(s)) < 0)
        return rc;
    t = calloc(1, sizeof *t);
    if (!t)
        return -FL_ENOMEM;
    t->ops = calloc(n ? n : 1, sizeof *t->ops);
    t->spec = malloc((n ? n : 1) * sizeof *t->spec);
    if (!t->ops || !t->spec) {
        free(t->ops);
        free(t->spec);
        free(t);
        return -FL_ENOMEM;
    }
    memcpy(t->spec, f, n * sizeof *f);
    t->dom = dom;
    t->id = id;
    t->options = options;
    t->n_ops = n;
    t->n_scope = n_scope;
    t->seen_ns = now_ns;
    t->raw_sum = sum;
    if ((rc = tmpl_compile(d, t, f, n)) < 0) {
        free(t->ops);
        free(t->spec);
        free(t);
        return rc;
    }
    d->templates_changed = true;
    size_t j = tmpl_slot(s, dom, id);
    t->next = s->tmpl_tab[j];
    s->tmpl_tab[j] = t;
    lru_push(t);
    dom->n_tmpl++;
    s->n_tmpl++;
    return 0;
}

/* ---- domains -------------------------------------------------------------- */

static int dom_remove(struct ipfix_dec *d, struct ipfix_dom *dom)
{
    struct ipfix_store *s = &d->st;
    struct ipfix_dom **pp = &s->dom_tab[key_hash(&dom->key) & (s->dom_cap - 1)];
    int rc = 0;

    while (dom->oldest)
        rc |= tmpl_remove(d, dom->oldest);
    while (*pp != dom)
        pp = &(*pp)->next;
    *pp = dom->next;
    s->n_dom--;
    free(dom);
    return rc < 0 ? -FL_EIO : 0;
}

struct ipfix_dom *ipfix_dom_get(struct ipfix_dec *d, const struct ipfix_key *k, bool create)
{
    struct ipfix_store *s = &d->st;
    struct ipfix_dom *dom;
    size_t j;

    if (s->dom_cap)
        for (dom = s->dom_tab[key_hash(k) & (s->dom_cap - 1)]; dom; dom = dom->next)
            if (key_eq(&dom->key, k))
                return dom;
    if (!create)
        return NULL;
    if (s->n_dom >= s->max_dom) {
        /* A bound on memory: the domain with the fewest templates goes
         * (forged sources define few). Rare, so a scan is fine. */
        struct ipfix_dom *victim = NULL;
        for (size_t i = 0; i < s->dom_cap; i++)
            for (dom = s->dom_tab[i]; dom; dom = dom->next)
                if (!victim || dom->n_tmpl < victim->n_tmpl)
                    victim = dom;
        if (victim) {
            d->evicted += victim->n_tmpl;
            dom_remove(d, victim);
        }
    }
    if (s->n_dom + 1 > s->dom_cap / 2 && grow_dom(s) < 0)
        return NULL;
    dom = calloc(1, sizeof *dom);
    if (!dom)
        return NULL;
    dom->key = *k;
    j = key_hash(k) & (s->dom_cap - 1);
    dom->next = s->dom_tab[j];
    s->dom_tab[j] = dom;
    s->n_dom++;
    return dom;
}

int ipfix_store_each(struct ipfix_dec *d, int (*fn)(struct ipfix_dec *, struct ipfix_tmpl *))
{
    struct ipfix_store *s = &d->st;
    int rc;
    for (size_t i = 0; i < s->tmpl_cap; i++)
        for (struct ipfix_tmpl *t = s->tmpl_tab[i], *n; t; t = n) {
            n = t->next;    /* fn may remove t */
            if ((rc = fn(d, t)) < 0)
                return rc;
        }
    return 0;
}

void ipfix_dec_session_end(struct ipfix_dec *d, uint32_t session)
{
    struct ipfix_store *s = &d->st;
    for (size_t i = 0; i < s->dom_cap; i++)
        for (struct ipfix_dom *dom = s->dom_tab[i], *n; dom; dom = n) {
            n = dom->next;
            if (dom->key.session == session)
                dom_remove(d, dom);
        }
}

void ipfix_addr_text(const struct fl_addr *a, char *buf, size_t len)
{
    if (fl_addr_is_v4(a))
        inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
    else
        inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
}

void ipfix_dec_summary(struct ipfix_dec *d, int64_t session)
{
    struct ipfix_store *s = &d->st;
    char a[64];
    for (size_t i = 0; i < s->dom_cap; i++)
        for (struct ipfix_dom *dom = s->dom_tab[i]; dom; dom = dom->next) {
            if ((!dom->lost && !dom->dropped) || (session >= 0 && dom->key.session != session))
                continue;
            ipfix_addr_text(&dom->key.exporter, a, sizeof a);
            FL_LOG_INFO(d->ctx, "exporter %s%s, %s %u: %llu %s missing by sequence numbers, "
                        "%llu messages, sets or records dropped as invalid", a,
                        dom->key.session ? " (TCP)" : "",
                        dom->key.version == NF9_VERSION ? "NetFlow v9 source id" : "IPFIX domain",
                        dom->key.domain, (unsigned long long)dom->lost,
                        dom->key.version == NF9_VERSION ? "export packets" : "records",
                        (unsigned long long)dom->dropped);
        }
}

void ipfix_store_fini(struct ipfix_dec *d)
{
    struct ipfix_store *s = &d->st;
    for (size_t i = 0; i < s->dom_cap; i++)
        for (struct ipfix_dom *dom = s->dom_tab[i], *n; dom; dom = n) {
            n = dom->next;
            while (dom->oldest) {
                struct ipfix_tmpl *t = dom->oldest;
                lru_unlink(t);
                fl_batch_release(&t->pending);
                free(t->ops);
                free(t->spec);
                free(t);
            }
            free(dom);
        }
    free(s->dom_tab);
    free(s->tmpl_tab);
    memset(s, 0, sizeof *s);
}

int ipfix_dec_init(struct ipfix_dec *d, struct fl_ctx *ctx, uint32_t batch_rows,
                   uint32_t max_per_dom, uint64_t template_timeout_ns)
{
    memset(d, 0, sizeof *d);
    d->ctx = ctx;
    d->batch_rows = batch_rows ? batch_rows : 1024;
    d->template_timeout_ns = template_timeout_ns;
    d->st.max_per_dom = max_per_dom ? max_per_dom : 1024;
    d->st.max_dom = IPFIX_MAX_DOMAINS;
    return 0;
}

void ipfix_dec_fini(struct ipfix_dec *d)
{
    ipfix_store_fini(d);
}
