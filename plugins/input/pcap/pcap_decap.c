/* pcap_decap.c: input.pcap's decapsulation options (decap, decap_ports,
 * decap_depth, tunnel_columns) as the core decoder's fl_decoder_opts. The
 * option table has already checked the kind names (did you mean); the
 * port lists are checked here, at describe time, so `flowline check`
 * reports them too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pcap_int.h"

/* One port of a decap_ports list ("4789", "8472"). */
static int pcap_decap_port(const char *s, size_t n, uint16_t *out)
{
    unsigned long v = 0;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (!n || n > 5)
        return -FL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -FL_EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -FL_EINVAL;
    *out = (uint16_t)v;
    return 0;
}

int pcap_decoder_opts(struct pcap_in *st, struct fl_decoder_opts *o, char *err, size_t len,
                      const char **opt)
{
    uint32_t kinds = 0;

    memset(o, 0, sizeof *o);
    st->n_ports = 0;
    for (size_t i = 0; i < st->decap.n; i++)
        kinds |= 1u << fl_tunnel_kind_from_name(st->decap.v[i], strlen(st->decap.v[i]));
    kinds &= ~1u;   /* FL_TUN_NONE: a name the table would have refused */
    o->decap = kinds != 0;
    o->decap_kinds = kinds;
    o->decap_depth = (uint32_t)st->decap_depth;
    o->tunnel_columns = st->tunnel_columns;
    *opt = "decap_ports";
    for (size_t i = 0; i < st->decap_ports.n; i++) {
        const char *key = st->decap_ports.key[i], *v = st->decap_ports.val[i];
        int k = fl_tunnel_kind_from_name(key, strlen(key));
        if (!fl_tunnel_default_port(k)) {
            snprintf(err, len, "%s is not carried in UDP: it has no ports", key);
            return -FL_EINVAL;
        }
        if (!((kinds >> k) & 1)) {
            snprintf(err, len, "ports for %s, which decap does not open", key);
            return -FL_EINVAL;
        }
        while (*v) {
            size_t n = strcspn(v, ",");
            uint16_t port;
            if (pcap_decap_port(v, n, &port) < 0) {
                snprintf(err, len, "%s: bad port \"%.*s\" (1 to 65535)", key, (int)n, v);
                return -FL_EINVAL;
            }
            if (st->n_ports >= PCAP_DECAP_PORTS) {
                snprintf(err, len, "more than %u ports", PCAP_DECAP_PORTS);
                return -FL_EINVAL;
            }
            st->ports[st->n_ports++] = (struct fl_decap_port){ port, (uint8_t)k };
            v += n + (v[n] == ',');
        }
    }
    o->decap_ports = st->ports;
    o->n_decap_ports = st->n_ports;
    *opt = NULL;
    return 0;
}
