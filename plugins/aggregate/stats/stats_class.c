/* stats_class.c: the `classes:` option of aggregate.stats, a map of class
 * name to ports ("tcp/80", "443", "udp/1000-2000", "132/2905"), compiled
 * into one 64 Ki-entry table per protocol with ports and one for ports of
 * any protocol, so a record's class is two array reads. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stats.h"

/* TCP, UDP, DCCP, SCTP, UDP-Lite: the IP protocols with 16-bit ports at
 * the start of their header (RFC 793, 768, 4340, 9260, 3828). */
static const char *const stats_pname[STATS_PORT_PROTOS] = { "tcp", "udp", "dccp", "sctp",
                                                            "udplite" };

int stats_proto_index(uint8_t proto)
{
    switch (proto) {
    case 6: return 0;
    case 17: return 1;
    case 33: return 2;
    case 132: return 3;
    case 136: return 4;
    default: return -1;
    }
}

static int stats_num(const char *s, const char *end, unsigned long max, unsigned long *out)
{
    char buf[16];
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)buf[i]))
            return -1;
    errno = 0;
    unsigned long v = strtoul(buf, NULL, 10);
    if (errno || v > max)
        return -1;
    *out = v;
    return 0;
}

/* One item "[proto/]lo[-hi]" of class k into the tables. */
static int stats_item(struct fl_ctx *ctx, struct stats_classes *c, size_t k, const char *item)
{
    const char *slash = strchr(item, '/'), *ports = slash ? slash + 1 : item;
    int pi = -2;   /* -2: any protocol with ports */
    unsigned long lo, hi, pn;
    if (slash) {
        for (int i = 0; i < STATS_PORT_PROTOS; i++)
            if ((size_t)(slash - item) == strlen(stats_pname[i])
                && !strncasecmp(item, stats_pname[i], (size_t)(slash - item)))
                pi = i;
        if (pi == -2 && stats_num(item, slash, 255, &pn) == 0
            && (pi = stats_proto_index((uint8_t)pn)) < 0)
            return fl_diag_at(ctx, "classes", c->name[k], 0,
                              "class %s: protocol %lu has no ports (tcp, udp, dccp, sctp, "
                              "udplite: 6, 17, 33, 132, 136)", c->name[k], pn);
        if (pi == -2)
            return fl_diag_at(ctx, "classes", c->name[k], 0,
                              "class %s: \"%s\": unknown protocol (tcp, udp, dccp, sctp, "
                              "udplite, or their numbers)", c->name[k], item);
    }
    const char *dash = strchr(ports, '-');
    if (stats_num(ports, dash ? dash : ports + strlen(ports), 65535, &lo) < 0
        || (dash && stats_num(dash + 1, dash + 1 + strlen(dash + 1), 65535, &hi) < 0))
        return fl_diag_at(ctx, "classes", c->name[k], 0,
                          "class %s: \"%s\" is not a port, a range lo-hi or proto/port "
                          "(e.g. tcp/80, 53, udp/1000-2000)", c->name[k], item);
    if (!dash)
        hi = lo;
    if (hi < lo)
        return fl_diag_at(ctx, "classes", c->name[k], 0, "class %s: empty range \"%s\"",
                          c->name[k], item);
    uint8_t *tab;
    if (pi >= 0) {
        if (!c->proto[pi] && !(c->proto[pi] = calloc(65536, 1)))
            return -FL_ENOMEM;
        tab = c->proto[pi];
    } else {
        tab = c->any;
    }
    for (unsigned long p = lo; p <= hi; p++) {
        if (tab[p] && tab[p] != k + 1)
            return fl_diag_at(ctx, "classes", c->name[k], 0,
                              "class %s: %s%s%lu is already in class %s", c->name[k],
                              pi >= 0 ? stats_pname[pi] : "", pi >= 0 ? "/" : "", p,
                              c->name[tab[p] - 1]);
        tab[p] = (uint8_t)(k + 1);
    }
    return 0;
}

int stats_classes_parse(struct fl_ctx *ctx, const struct fl_strmap *m, struct stats_classes *c)
{
    int rc = 0;
    memset(c, 0, sizeof(*c));
    c->n = m->n;
    c->name = (const char *const *)m->key;
    if (m->n > STATS_MAX_CLASSES)
        return fl_diag(ctx, "classes", "at most %d classes", STATS_MAX_CLASSES);
    if (!(c->any = calloc(65536, 1)))
        return -FL_ENOMEM;
    for (size_t k = 0; k < m->n; k++) {
        if (!strcmp(m->key[k], "other")) {
            rc = fl_diag_at(ctx, "classes", m->key[k], 0,
                            "\"other\" is the class of everything no class lists: "
                            "name this class otherwise");
            continue;
        }
        char *list = strdup(m->val[k] ? m->val[k] : "");
        if (!list)
            return -FL_ENOMEM;
        int items = 0;
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            while (isspace((unsigned char)*t))
                t++;
            for (char *e = t + strlen(t); e > t && isspace((unsigned char)e[-1]);)
                *--e = 0;
            if (!*t)
                continue;
            items++;
            int r = stats_item(ctx, c, k, t);
            if (r == -FL_ENOMEM) {
                free(list);
                return r;
            }
            if (r < 0)
                rc = r;
        }
        free(list);
        if (!items)
            rc = fl_diag_at(ctx, "classes", m->key[k], 0, "class %s lists no port", m->key[k]);
    }
    return rc;
}

void stats_classes_free(struct stats_classes *c)
{
    free(c->any);
    for (int i = 0; i < STATS_PORT_PROTOS; i++)
        free(c->proto[i]);
    memset(c, 0, sizeof(*c));
}

