/* sflow_int.h: what the files of input.sflow share.
 *
 * sflow.c        options, plugin callbacks, sockets and files
 * sflow_dgram.c  one datagram: header, samples, sequence accounting
 * sflow_flow.c   a flow sample into a row of port "out"
 * sflow_ctr.c    a counter sample into a row of port "counters", and rates
 * sflow_file.c   files: raw datagrams and captures of agent traffic
 *
 * sFlow v5 is XDR: 4-byte big-endian words, opaque data padded to 4. Every
 * length (samples, records, opaque data, counts) is checked against what
 * encloses it before anything inside is read. */
#ifndef FL_PLUGIN_SFLOW_INT_H
#define FL_PLUGIN_SFLOW_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <flowline/plugin.h>
#include <flowline/decode.h>

#define SFLOW_PORT 6343

/* Why a datagram, sample or record was dropped (stage counters). */
enum sflow_drop {
    SFLOW_DROP_SHORT,           /* datagram shorter than its header */
    SFLOW_DROP_VERSION,         /* not sFlow version 5 */
    SFLOW_DROP_AGENT_TYPE,      /* agent address type neither 1 (IPv4) nor 2 (IPv6) */
    SFLOW_DROP_SAMPLE_LEN,      /* a sample length past the datagram: the rest is lost */
    SFLOW_DROP_SAMPLE,          /* a sample whose content contradicts its length */
    SFLOW_DROP_RECORD_LEN,      /* a record length past its sample: the rest is lost */
    SFLOW_DROP_RECORD,          /* a record whose content contradicts its length */
    SFLOW_DROP_COUNT
};

/* Plain counts (stage counters, in sflow_dgram.c's name table). */
enum sflow_count {
    SFLOW_N_DATAGRAMS,          /* sFlow datagrams decoded (valid header) */
    SFLOW_N_FLOW_SAMPLES,
    SFLOW_N_COUNTER_SAMPLES,
    SFLOW_N_FLOW_ROWS,          /* rows on "out" */
    SFLOW_N_COUNTER_ROWS,       /* rows on "counters" */
    SFLOW_N_FLOW_NO_ROW,        /* flow samples without an IP packet to describe */
    SFLOW_N_UNKNOWN_SAMPLE,     /* sample types skipped by their length */
    SFLOW_N_UNKNOWN_FLOW_REC,   /* flow record formats skipped */
    SFLOW_N_UNKNOWN_CTR_REC,    /* counter record formats skipped */
    SFLOW_N_HEADER_PROTO,       /* raw headers of a protocol the decoder does not read */
    SFLOW_N_DGRAM_LOST,         /* datagrams missing by sequence numbers */
    SFLOW_N_FLOW_LOST,          /* flow samples missing by sequence numbers */
    SFLOW_N_CTR_LOST,           /* counter samples missing by sequence numbers */
    SFLOW_N_AGENT_DROPS,        /* packets the agents dropped (the drops field's growth) */
    SFLOW_N_AGENT_RESTARTS,     /* sequence numbers starting over */
    SFLOW_N_UNTRACKED,          /* sources beyond max_sources: not sequence-checked */
    SFLOW_N_COUNT
};

/* Columns of a flow-sample row after the decoder's packet columns. */
enum sflow_fcol {
    SF_SAMPLING_RATE, SF_SAMPLE_POOL, SF_DROPS, SF_INPUT_IF, SF_OUTPUT_IF,
    SF_OUTPUT_IF_COUNT, SF_DISCARD_REASON, SF_AGENT, SF_SUB_AGENT, SF_SEQUENCE,
    SF_SOURCE_ID_TYPE, SF_SOURCE_ID_INDEX, SF_SRC_MAC, SF_DST_MAC,
    SF_IN_VLAN, SF_IN_PRIORITY, SF_OUT_VLAN, SF_OUT_PRIORITY,
    SF_NEXT_HOP, SF_SRC_MASK, SF_DST_MASK,
    SF_BGP_NEXT_HOP, SF_ROUTER_AS, SF_SRC_AS, SF_SRC_PEER_AS, SF_DST_AS, SF_DST_PEER_AS,
    SF_AS_PATH, SF_BGP_COMMUNITIES, SF_LOCAL_PREF,
    SF_NCOLS
};

/* The leading columns of a counter-sample row, then sflow_ctr.c's table. */
enum sflow_ccol {
    SC_TS, SC_AGENT, SC_SUB_AGENT, SC_SEQUENCE, SC_SOURCE_ID_TYPE, SC_SOURCE_ID_INDEX,
    SC_AGENT_UPTIME, SC_NHEAD
};

/* A datagram's sender and where its sequence numbers are kept. */
struct sflow_dgram {
    const uint8_t *p;
    size_t len;
    struct fl_addr agent;
    uint32_t sub_agent, seq, uptime_ms;
    uint64_t ts_ns;
};

/* A sequence-number scope: an agent and sub-agent (datagrams), or a
 * sample source of one (flow or counter samples). Open addressing. */
struct sflow_src {
    struct fl_addr agent;
    uint32_t sub_agent;
    uint64_t source;            /* source id: type << 32 | index */
    uint8_t kind;               /* 0 empty, 1 datagrams, 2 flow samples, 3 counter samples */
    bool known;                 /* seq_next holds an expected number */
    uint32_t seq_next;
    uint32_t drops;             /* flow samples: last drops value */
    uint32_t uptime_ms;         /* counter samples: uptime of the last one (rates) */
    uint64_t *last;             /* counter samples with rates: last value per rate column */
    uint64_t have;              /* bit per rate column group: last[] holds a value */
};

struct sflow_dec {
    struct fl_ctx *ctx;
    struct fl_decoder *pdec;
    const struct fl_schema *fschema, *cschema;
    uint32_t npkt;              /* packet columns before the sFlow ones */
    uint32_t batch_rows;
    struct fl_batch *flows, *ctrs;
    bool rates;
    struct sflow_src *tab;
    size_t tab_cap, tab_n, max_sources;
    uint64_t n[SFLOW_N_COUNT];
    uint64_t drops[SFLOW_DROP_COUNT];
    uint64_t reported;          /* datagrams since the last report */
    uint8_t *synth;             /* a packet rebuilt from sampled IPv4/IPv6 records */
};

static inline uint32_t sf_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t sf_rd64(const uint8_t *p)
{
    return (uint64_t)sf_rd32(p) << 32 | sf_rd32(p + 4);
}
static inline void sf_v4(struct fl_addr *a, const uint8_t *p)
{
    memset(a->b, 0, 10);
    a->b[10] = a->b[11] = 0xff;
    memcpy(a->b + 12, p, 4);
}

/* sflow_dgram.c */
int sflow_dec_init(struct sflow_dec *d, struct fl_ctx *ctx, uint32_t batch_rows, bool rates,
                   size_t max_sources);
void sflow_dec_fini(struct sflow_dec *d);
/* One UDP payload from `from` (the agent address in the datagram is what
 * counts; from is only logged). Never fails on content. */
int sflow_dec_datagram(struct sflow_dec *d, const uint8_t *p, size_t len,
                       const struct fl_addr *from, uint64_t ts_ns);
int sflow_dec_flush(struct sflow_dec *d);
void sflow_dec_report(struct sflow_dec *d);
/* The scope of a key, created when there is room (NULL otherwise). */
struct sflow_src *sflow_src_get(struct sflow_dec *d, const struct fl_addr *agent,
                                uint32_t sub_agent, uint8_t kind, uint64_t source);
/* The batch of port p (0 flows, 1 counters) with room for a row. */
int sflow_room(struct sflow_dec *d, int port);

/* sflow_flow.c: the flow sample at p (len bytes, without its format and
 * length words), expanded or not. */
int sflow_flow_sample(struct sflow_dec *d, const struct sflow_dgram *g, const uint8_t *p,
                      uint32_t len, bool expanded);
int sflow_flow_schema(struct sflow_dec *d);

/* sflow_ctr.c */
int sflow_counter_sample(struct sflow_dec *d, const struct sflow_dgram *g, const uint8_t *p,
                         uint32_t len, bool expanded);
/* The counter schema (rates: the rate columns too); for describe(). */
int sflow_counter_schema(struct fl_ctx *ctx, bool rates, const struct fl_schema **out);
/* The flow schema for describe(). */
int sflow_flow_schema_of(struct fl_ctx *ctx, const struct fl_schema **out);

/* sflow_file.c: the datagrams of a file (a capture of agent traffic, or a
 * raw datagram) to the decoder. */
int sflow_file_read(struct sflow_dec *d, const char *path);

#endif
