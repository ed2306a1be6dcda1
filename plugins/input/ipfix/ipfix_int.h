/* ipfix_int.h: what the files of input.ipfix share.
 *
 * ipfix.c        options, plugin callbacks, sockets and files
 * ipfix_msg.c    one message (IPFIX or NetFlow v9): validated, then decoded
 * ipfix_tmpl.c   templates: the store per exporter and domain, and each
 *                template compiled to a schema and a decode program
 * ipfix_file.c   files: IPFIX files, raw NetFlow v9 datagrams, captures
 *
 * Every byte of a message is bounds-checked here before it is read: the
 * message, set and record lengths against the datagram, template field
 * counts against their set, and each record against its template. */
#ifndef FL_PLUGIN_IPFIX_INT_H
#define FL_PLUGIN_IPFIX_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <flowline/plugin.h>
#include <flowline/netin.h>

#define IPFIX_VERSION 10
#define NF9_VERSION 9
#define IPFIX_VARLEN 65535u
#define IPFIX_MAX_FIELDS 512u        /* fields in one template (a 64 KiB set holds fewer) */

/* Why a message, set or record was dropped (stage counters, stable names). */
enum ipfix_drop {
    IPFIX_DROP_SHORT,           /* shorter than its header, or than it says */
    IPFIX_DROP_VERSION,         /* neither IPFIX 10 nor NetFlow v9 */
    IPFIX_DROP_SET,             /* a set length under 4 or past the message */
    IPFIX_DROP_TEMPLATE,        /* a malformed template or options template */
    IPFIX_DROP_NO_TEMPLATE,     /* data before (or without) its template */
    IPFIX_DROP_RECORD,          /* a record that does not fit its template */
    IPFIX_DROP_SET_ID,          /* a set id that is neither template nor data (4..255) */
    IPFIX_DROP_COUNT
};

/* A field specifier as a template states it (pen 0: IANA or NetFlow v9). */
struct ipfix_field_spec { uint16_t ie, len; uint32_t pen; };

/* One field of a template, compiled. */
struct ipfix_op {
    uint16_t len;               /* on the wire; IPFIX_VARLEN = variable */
    uint8_t kind;               /* enum fl_ie_kind */
    uint8_t type;               /* enum fl_type of the column */
    int16_t col;                /* column index, -1 = skipped (a duplicate) */
    uint8_t time;               /* IPFIX_TIME_* when the field feeds flow_start/end */
    uint32_t unit_ns;           /* a time quantity into a dur column: ns per unit, else 0 */
};

enum {
    IPFIX_TIME_NONE, IPFIX_TIME_START_UPTIME, IPFIX_TIME_END_UPTIME,
    IPFIX_TIME_SYSINIT, IPFIX_TIME_START_DELTA, IPFIX_TIME_END_DELTA, IPFIX_TIME_COUNT
};

/* The scope of templates and sequence numbers: one exporter (a TCP
 * session, or an address for UDP and files) and observation domain. */
struct ipfix_key {
    struct fl_addr exporter;
    uint32_t session;           /* TCP session, 0 = none */
    uint32_t domain;            /* IPFIX observation domain / NetFlow v9 source id */
    uint8_t version;
};

struct ipfix_tmpl {
    struct ipfix_tmpl *next;    /* hash chain */
    struct ipfix_tmpl *older, *newer;   /* this domain's LRU list */
    struct ipfix_dom *dom;
    uint16_t id;
    bool options;
    uint16_t n_ops, n_scope;
    uint32_t min_len;           /* bytes of the fixed fields + 1 per variable one */
    uint64_t seen_ns;           /* last defined (UDP template timeout) */
    struct ipfix_op *ops;
    struct ipfix_field_spec *spec;  /* the definition as received (template_file) */
    const struct fl_schema *schema;
    /* The same plus sampling_rate (last), for flow records of a domain
     * whose options data announced a rate; NULL when the template carries
     * its own or is an options template. */
    const struct fl_schema *schema_join;
    /* columns the message fills for every record (-1 = absent) */
    int16_t col_exporter, col_domain, col_export_time, col_start, col_end, col_sampling;
    int16_t col_sysinit;        /* systemInitTimeMilliseconds, for uptime times */
    struct fl_batch *pending;   /* records decoded, not emitted yet */
    uint32_t raw_sum;           /* hash of the definition: a resend changes nothing */
};

/* An exporter's observation domain: its templates and sequence state. */
struct ipfix_dom {
    struct ipfix_dom *next;     /* hash chain */
    struct ipfix_key key;
    uint32_t n_tmpl;
    struct ipfix_tmpl *oldest, *newest;
    bool seq_known;
    uint32_t seq_next;          /* the sequence number the next message should carry */
    uint64_t lost;              /* records (IPFIX) or packets (v9) missing */
    uint64_t dropped;           /* messages/sets/records dropped as invalid */
    uint64_t sampling;          /* rate announced by options data, 0 = none */
    uint64_t sysinit_ns;        /* systemInitTimeMilliseconds announced by options data */
};

struct ipfix_store {
    struct ipfix_dom **dom_tab;
    size_t dom_cap, n_dom;
    struct ipfix_tmpl **tmpl_tab;
    size_t tmpl_cap, n_tmpl;
    uint32_t max_per_dom;       /* templates kept per domain; older are evicted */
    size_t max_dom;             /* domains kept */
};

/* The decoder's state: the store, where records go, what it counted. */
struct ipfix_dec {
    struct fl_ctx *ctx;
    struct ipfix_store st;
    uint32_t batch_rows;
    uint64_t template_timeout_ns;   /* UDP: a template unused this long is gone; 0 = never */
    uint64_t drops[IPFIX_DROP_COUNT];
    uint64_t records, messages, templates, withdrawn, evicted, expired, options_records;
    bool templates_changed;     /* since the template file was last written */
    uint64_t lost;              /* IPFIX: records missing by sequence numbers */
    uint64_t lost_packets;      /* NetFlow v9: export packets missing */
};

/* The message in hand, as the set decoders see it. */
struct ipfix_msg {
    const uint8_t *p;
    size_t len;
    struct ipfix_key key;
    uint64_t export_ns;         /* header export time */
    uint64_t boot_ns;           /* NetFlow v9: export time - sysUptime */
    uint64_t recv_ns;
    bool udp;
};

int ipfix_dec_init(struct ipfix_dec *d, struct fl_ctx *ctx, uint32_t batch_rows,
                   uint32_t max_per_dom, uint64_t template_timeout_ns);
void ipfix_dec_fini(struct ipfix_dec *d);
/* One message (one datagram, one TCP message, one message of a file) from
 * exporter `from`. Never fails on content: invalid parts are counted. */
int ipfix_dec_message(struct ipfix_dec *d, const uint8_t *p, size_t len,
                      const struct fl_addr *from, uint32_t session, uint64_t recv_ns, bool udp);
/* Emit every pending batch (flows on "out", options on "options"). */
int ipfix_dec_flush(struct ipfix_dec *d);
/* Add the counts since the last call to the stage counters. */
void ipfix_dec_report(struct ipfix_dec *d);
/* The same every 256 messages (files: counters move during long reads). */
void ipfix_dec_report_maybe(struct ipfix_dec *d);
/* A TCP session ended: its templates go. */
void ipfix_dec_session_end(struct ipfix_dec *d, uint32_t session);

/* ipfix_tmpl.c */
struct ipfix_dom *ipfix_dom_get(struct ipfix_dec *d, const struct ipfix_key *k, bool create);
struct ipfix_tmpl *ipfix_tmpl_get(struct ipfix_dec *d, struct ipfix_dom *dom, uint16_t id);
/* Define template `id` of dom from its field specifiers (pen 0 for
 * NetFlow v9 and IANA fields). Replaces an older definition (its pending
 * rows are emitted first). */
/* pen of a NetFlow v9 options scope field (its "ie" is the scope type:
 * 1 system, 2 interface, 3 line card, 4 cache, 5 template): column scope:N. */
#define IPFIX_PEN_V9_SCOPE 0xFFFFFFFFu
int ipfix_tmpl_define(struct ipfix_dec *d, struct ipfix_dom *dom, uint16_t id, bool options,
                      const struct ipfix_field_spec *f, uint16_t n, uint16_t n_scope,
                      uint64_t now_ns);
void ipfix_tmpl_withdraw(struct ipfix_dec *d, struct ipfix_dom *dom, uint16_t id);
void ipfix_tmpl_withdraw_all(struct ipfix_dec *d, struct ipfix_dom *dom, bool options);
/* Emit (and forget) t's pending rows. */
int ipfix_tmpl_flush(struct ipfix_dec *d, struct ipfix_tmpl *t);
void ipfix_store_fini(struct ipfix_dec *d);
/* Every template, for flushing. fn returns < 0 to stop. */
int ipfix_store_each(struct ipfix_dec *d, int (*fn)(struct ipfix_dec *, struct ipfix_tmpl *));

/* ipfix_persist.c: the templates of UDP and file exporters (TCP sessions
 * end with their connection) saved to path, replaced atomically, and
 * loaded back at start. Load: 0 also when there is no file yet; a damaged
 * line is logged and skipped. */
int ipfix_templates_save(struct ipfix_dec *d, const char *path);
/* An exporter address as text (IPv4 without its mapping). */
void ipfix_addr_text(const struct fl_addr *a, char *buf, size_t len);
/* One line per exporter and domain that lost or dropped anything: of TCP
 * session `session` (as it ends), or of every domain (-1, at the end). */
void ipfix_dec_summary(struct ipfix_dec *d, int64_t session);
int ipfix_templates_load(struct ipfix_dec *d, const char *path);

/* ipfix_file.c: the messages of one file, in order, to the decoder.
 * Detects an IPFIX file, a raw NetFlow v9 datagram and pcap/pcapng
 * captures of exporter traffic (every UDP payload, the exporter being the
 * IP source). Logs and returns a negative code for a file it cannot read. */
int ipfix_file_read(struct ipfix_dec *d, const char *path);

#endif
