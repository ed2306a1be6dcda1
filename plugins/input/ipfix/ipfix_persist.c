/* ipfix_persist.c: `template_file`. A collector that restarts, or one added
 * behind a load balancer, receives data before the exporters re-send their
 * templates (minutes on UDP); the templates saved by an earlier run decode
 * it. Only state scoped by an exporter address is saved: a TCP session's
 * templates end with it.
 *
 * The file is text, one template per line, written to a temporary file and
 * renamed over the old one, so a crash never leaves half a file:
 *   flowline-ipfix-templates 1
 *   <version> <exporter> <domain> <id> <options 0|1> <scope fields> <ie>/<len>/<pen> ...
 * A line that does not parse, or whose template would not be accepted from
 * the wire, is logged and skipped. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <flowline/log.h>
#include "ipfix_int.h"

#define PERSIST_MAGIC "flowline-ipfix-templates 1"

static bool addr_parse(const char *s, struct fl_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, a->b + 12) == 1) {
        a->b[10] = a->b[11] = 0xff;
        return true;
    }
    return inet_pton(AF_INET6, s, a->b) == 1;
}

static int save_one(FILE *f, struct ipfix_tmpl *t)
{
    char addr[64];
    if (t->dom->key.session)
        return 0;
    ipfix_addr_text(&t->dom->key.exporter, addr, sizeof addr);
    fprintf(f, "%u %s %u %u %u %u", t->dom->key.version, addr, t->dom->key.domain, t->id,
            t->options, t->n_scope);
    for (uint16_t i = 0; i < t->n_ops; i++)
        fprintf(f, " %u/%u/%u", t->spec[i].ie, t->spec[i].len, t->spec[i].pen);
    return fputc('\n', f) == EOF ? -FL_EIO : 0;
}

int ipfix_templates_save(struct ipfix_dec *d, const char *path)
{
    struct ipfix_store *s = &d->st;
    char tmp[4096];
    FILE *f;
    int rc = 0;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!(f = fopen(tmp, "w"))) {
        FL_LOG_ERROR(d->ctx, "cannot write %s: %s", tmp, strerror(errno));
        return -FL_EIO;
    }
    fprintf(f, "%s\n", PERSIST_MAGIC);
    for (size_t i = 0; i < s->tmpl_cap && rc == 0; i++)
        for (struct ipfix_tmpl *t = s->tmpl_tab[i]; t && rc == 0; t = t->next)
            rc = save_one(f, t);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = -FL_EIO;
    if (fclose(f) != 0)
        rc = -FL_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -FL_EIO;
    if (rc < 0) {
        FL_LOG_ERROR(d->ctx, "cannot write the templates to %s: %s", path, strerror(errno));
        unlink(tmp);
        return rc;
    }
    d->templates_changed = false;
    return 0;
}

/* One line: a template, defined as if it had just arrived. */
static bool load_line(struct ipfix_dec *d, char *line, uint64_t now)
{
    static __thread struct ipfix_field_spec f[IPFIX_MAX_FIELDS];
    char addr[64];
    unsigned ver, dom_id, id, options, scope;
    int used, n = 0;
    struct ipfix_key k = { 0 };
    struct ipfix_dom *dom;
    char *p;

    if (sscanf(line, "%u %63s %u %u %u %u%n", &ver, addr, &dom_id, &id, &options, &scope,
               &used) != 6 || (ver != 9 && ver != 10) || !addr_parse(addr, &k.exporter) ||
        id < 256 || id > 65535 || options > 1)
        return false;
    for (p = line + used; *p && *p != '\n';) {
        unsigned ie, len;
        unsigned long pen;
        int m;
        if (n == (int)IPFIX_MAX_FIELDS ||
            sscanf(p, " %u/%u/%lu%n", &ie, &len, &pen, &m) != 3 || ie > 65535 || len == 0 ||
            len > 65535 || pen > 0xffffffffu)
            return false;
        f[n++] = (struct ipfix_field_spec){ (uint16_t)ie, (uint16_t)len, (uint32_t)pen };
        p += m;
    }
    if (n == 0 || scope > (unsigned)n || (options && scope == 0))
        return false;
    k.domain = dom_id;
    k.version = (uint8_t)ver;
    if (!(dom = ipfix_dom_get(d, &k, true)))
        return false;
    return ipfix_tmpl_define(d, dom, (uint16_t)id, options, f, (uint16_t)n, (uint16_t)scope,
                             now) == 0;
}

int ipfix_templates_load(struct ipfix_dec *d, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0, loaded = 0, bad = 0;
    uint64_t now = fl_now_ns();

    if (!f) {
        if (errno == ENOENT)
            return 0;       /* the first run: written when templates arrive */
        FL_LOG_ERROR(d->ctx, "cannot read %s: %s", path, strerror(errno));
        return -FL_EIO;
    }
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, PERSIST_MAGIC, strlen(PERSIST_MAGIC)) != 0) {
                FL_LOG_WARN(d->ctx, "%s is not a flowline template file; not loaded", path);
                break;
            }
            continue;
        }
        if (load_line(d, line, now)) {
            loaded++;
        } else if (bad++ == 0) {
            FL_LOG_WARN(d->ctx, "%s:%u: not a template line; skipped", path, lineno);
        }
    }
    free(line);
    fclose(f);
    d->templates = 0;           /* loaded, not received */
    d->templates_changed = false;
    if (bad)
        fl_counter_add(d->ctx, "template_file_bad_lines", bad);
    FL_LOG_INFO(d->ctx, "%u templates loaded from %s", loaded, path);
    return 0;
}
