/* plugins/input/gen/gen.h: what the files of input.gen share.
 *
 * input.gen makes synthetic but well-formed Ethernet traffic: TCP
 * connections (handshake, data, FIN or RST end), UDP exchanges (DNS, NTP,
 * bulk), ICMP/ICMPv6 echo sessions, IPv4 and IPv6, some 802.1Q-tagged. It is
 * fully deterministic: one xoshiro256** stream seeded from `seed` drives every
 * choice, in one order that depends on nothing else (not on batch_size, not
 * on whether frames are decoded), so the same options give the same bytes.
 *
 * Files: gen.c (options, plugin callbacks, the scheduler), gen_flow.c (flow
 * kinds, sizes, addressing, per-packet state machines), gen_frame.c (frame
 * bytes, checksums), gen_app.c (DNS, NTP, HTTP, RTP, ESP payloads),
 * gen_out.c (pcap writer and the ground-truth JSON). */
#ifndef GEN_H
#define GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <flowline/decode.h>
#include <flowline/plugin.h>

/* ---- PRNG: splitmix64 for seeding, xoshiro256** for the stream ------- */
struct gen_rng { uint64_t s[4]; };

static inline uint64_t gen_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t gen_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t gen_rand(struct gen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = gen_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = gen_rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n) by multiply-shift (bias below 2^-32, irrelevant here). */
static inline uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
    return (uint32_t)(((gen_rand(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline uint32_t gen_range(struct gen_rng *r, uint32_t lo, uint32_t hi)
{
    return lo + gen_below(r, hi - lo + 1);
}

static inline void gen_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void gen_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A stateless hash for per-host and per-server properties (TTL, VLAN), so
 * they need no storage and never consume the stream. */
static inline uint64_t gen_hash(uint64_t x)
{
    return gen_splitmix(&x);
}

/* ---- Flows ------------------------------------------------------------ */
enum gen_kind {
    GEN_K_TCP_WEB,       /* request, bulk response from the server */
    GEN_K_TCP_UPLOAD,    /* bulk from the client (scp, upload) */
    GEN_K_TCP_INTERACT,  /* small packets both ways (ssh) */
    GEN_K_TCP_SHORT,     /* SYN only, refused, or half-open scan */
    GEN_K_UDP_DNS,       /* query + response */
    GEN_K_UDP_NTP,       /* 48-byte request + response */
    GEN_K_UDP_BULK,      /* QUIC-like, RTP-like or VPN-like datagrams */
    GEN_K_ICMP_ECHO,     /* ping: request/reply pairs (ICMPv6 on IPv6) */
    GEN_K_COUNT
};

/* Protocol classes of the ground truth. */
enum gen_proto { GEN_P_TCP, GEN_P_UDP, GEN_P_ICMP, GEN_P_ICMP6, GEN_P_COUNT };

/* Flow flags. */
#define GEN_F_V6        0x01u   /* IPv6 (else IPv4) */
#define GEN_F_RST_END   0x02u   /* TCP: ends with RST instead of FIN */
#define GEN_F_SRV_CLOSE 0x04u   /* TCP: the server sends FIN (or RST) first */
#define GEN_F_SEEN      0x08u   /* the session has a packet */
#define GEN_F_OPEN_END  0x10u   /* TCP: left open (no FIN, no RST) */
#define GEN_F_DIR0      0x20u   /* the client sent a packet */
#define GEN_F_DIR1      0x40u   /* the server sent a packet */

#define GEN_NIL UINT32_MAX

/* One active flow ("session"), in a fixed slot: 80 bytes, no
 * pointers, so a million of them is one allocation. Addresses are derived
 * from (client, server) indexes when a frame is written. */
struct gen_flow {
    uint64_t due;           /* next packet, ns after the start */
    uint64_t first;         /* first packet, ns after the start */
    uint64_t last;          /* last packet, ns after the start */
    uint32_t next;          /* wheel bucket list */
    uint32_t client;        /* client host index (address, MAC, VLAN) */
    uint32_t server;        /* server host index */
    uint32_t n;             /* packets in this flow */
    uint32_t left;          /* packets still to send */
    uint32_t cseq, sseq;    /* TCP: next sequence number per side */
    uint16_t cport, sport;  /* client (ephemeral) and server port */
    uint16_t ipid[2];       /* IPv4 identification per direction */
    uint16_t aux;           /* ICMP id, DNS transaction id, UDP subtype */
    uint16_t burst;         /* segments left in the current response */
    uint16_t last_len;      /* TCP: payload of the response's last segment */
    uint8_t kind;           /* enum gen_kind */
    uint8_t phase;          /* state machine phase */
    uint8_t flags;          /* GEN_F_* */
    uint8_t unacked;        /* TCP: bulk segments since the last ACK */
    uint8_t ttl_s;          /* TTL/hop limit of the server's packets as captured */
    uint8_t ttl_c;          /* ... of the client's (captured at the client edge: as sent) */
    uint8_t vlan_on;        /* 802.1Q tagged */
    uint16_t vlan;          /* VLAN id */
};

/* Gap classes: how long until a flow's next packet, relative to the mean.
 * CLOSE is BURST cut at GEN_CLOSE_MAX_NS: the last ACK of a TCP close
 * follows the second FIN within a round trip, so a flow meter that lingers
 * longer than that after a close keeps it in the flow. */
enum gen_gap { GEN_GAP_NORMAL, GEN_GAP_TURN, GEN_GAP_BURST, GEN_GAP_CLOSE, GEN_GAP_COUNT };
#define GEN_CLOSE_MAX_NS 100000000u

/* One packet as the state machine decides it; gen_frame_build writes it. */
struct gen_pkt {
    uint8_t dir;            /* 0 client->server, 1 server->client */
    uint8_t tcp_flags;
    uint8_t syn_opts;       /* TCP: carry SYN options (MSS, SACK, TS, WS) */
    uint8_t icmp_type;      /* ICMP/ICMPv6 type (echo request/reply) */
    uint8_t gap;            /* enum gen_gap of the gap before the next packet */
    uint16_t pay_len;       /* L4 payload bytes */
    uint16_t pay_off;       /* filler payload: even offset into the pad */
    uint16_t ipid;          /* IPv4 identification */
    uint32_t seq, ack;      /* TCP */
    uint16_t icmp_id, icmp_seq;
    const uint8_t *pay;     /* all payload bytes, or NULL: pre, then filler */
    const uint8_t *pre;     /* application header before the filler */
    uint16_t pre_len;       /* its length: even */
};

/* Zeek's conn_state codes the generated sessions can have. */
enum gen_cs { GEN_CS_S0, GEN_CS_S1, GEN_CS_SF, GEN_CS_REJ, GEN_CS_RSTO, GEN_CS_RSTR, GEN_CS_OTH,
              GEN_CS_COUNT };

/* Ground-truth totals (gen_out.c writes them as JSON). */
struct gen_tally { uint64_t packets, bytes, flows; };
struct gen_truth {
    uint64_t packets, bytes, frames_bytes, captured_bytes, payload_bytes;
    uint64_t sessions, biflows, max_gap, max_duration;
    uint64_t first_ts, last_ts;                 /* absolute ns */
    uint64_t vlan_packets, vlan_flows;
    uint64_t tcp_fin, tcp_rst, tcp_short, tcp_open;  /* TCP sessions by end */
    uint64_t conn_state[GEN_CS_COUNT];          /* finished sessions by conn_state */
    uint64_t max_active;                        /* most sessions open at once */
    struct gen_tally proto[GEN_P_COUNT];
    struct gen_tally ver[2];                    /* [0] IPv4, [1] IPv6 */
    bool complete;                              /* false: stopped early */
};

#define GEN_PAD_BYTES 8192u     /* payload filler (small: stays in cache); offsets even */
#define GEN_FRAME_MAX 1536u     /* largest frame: 14 + 4 + 1500, rounded up */
#define GEN_SCRATCH 1536u       /* application payloads (gen_app.c) */

/* The plugin state. Options first (written by the core at their offsets). */
struct gen {
    /* options */
    uint64_t packets, flows, concurrency, seed, hosts, snaplen, batch_size;
    uint64_t max_gap;               /* ns */
    double ipv6, vlan, rate;
    char *start, *path;
    bool emit, overwrite;

    /* derived at init */
    uint64_t start_ns;              /* absolute time of t = 0 */
    uint64_t period;                /* ns per packet at `rate` */
    uint64_t width;                 /* wheel bucket width, ns: 1 << wshift */
    unsigned wshift;
    uint64_t cap, cap_icmp;         /* largest gap drawn (ICMP: half) */
    uint64_t ipv6_thr, vlan_thr;    /* fractions as 64-bit thresholds */
    uint32_t n_hosts, n_servers;
    uint32_t host_mul, host_add;    /* host index permutation */

    /* generator state */
    struct gen_rng rng;
    struct gen_flow *flow;          /* concurrency slots */
    uint32_t *wheel;                /* bucket heads (GEN_NIL = empty) */
    uint64_t wheel_mask;
    uint64_t bucket;                /* absolute bucket being drained */
    uint64_t now;                   /* last packet time, ns after start */
    uint64_t emitted;               /* packets written */
    uint64_t unassigned;            /* packets not yet given to a flow */
    uint64_t started;               /* flows started */
    uint64_t active;                /* slots with a flow */
    uint32_t corr;                  /* gap scale, 16.16 fixed point (see gen_one) */
    uint64_t gapn[GEN_GAP_COUNT];   /* gaps drawn per enum gen_gap */
    uint8_t *pad;                   /* GEN_PAD_BYTES of seeded filler */
    uint32_t *pad_sum;              /* prefix sums of the pad's 16-bit words */
    uint8_t scratch[GEN_SCRATCH];
    struct gen_truth truth;

    /* output */
    int fd;                         /* pcap, valid while fd_open */
    bool fd_open;
    uint64_t open;                  /* sessions between first and last packet */
    uint8_t *buf;                   /* write buffer (also the frame scratch) */
    size_t buf_len, buf_cap;
    struct fl_decoder *dec;
    const struct fl_schema *schema;
};

/* gen_flow.c */
/* Start the next flow in slot f at time t (ns after start). */
void gen_flow_start(struct gen *g, struct gen_flow *f, uint64_t t);
/* Decide f's next packet, advance its state, decrement f->left. */
void gen_flow_step(struct gen *g, struct gen_flow *f, struct gen_pkt *p);
/* Protocol class of a flow (for the truth). */
enum gen_proto gen_flow_proto(const struct gen_flow *f);

/* gen_frame.c */
int gen_pad_init(struct gen *g);
/* Write the frame of packet p of flow f at out (GEN_FRAME_MAX bytes of
 * room, of which only the first `room` matter: a snaplen shorter than the
 * frame skips copying filler past it). Returns the wire length; *ip_len is
 * the IP total length. */
uint32_t gen_frame_build(const struct gen *g, const struct gen_flow *f, const struct gen_pkt *p,
                         uint64_t ts_abs, uint8_t *out, uint32_t room, uint32_t *ip_len);
/* gen_app.c: application payloads (or their headers) in g->scratch;
 * each returns its length. */
uint16_t gen_dns_payload(struct gen *g, const struct gen_flow *f, bool response);
uint16_t gen_ntp_payload(struct gen *g, const struct gen_flow *f, bool response, uint64_t t);
/* An HTTP/1.1 GET of exactly len bytes (len >= GEN_HTTP_REQ_MIN). */
uint16_t gen_http_request(struct gen *g, const struct gen_flow *f, uint16_t len);
/* The head of a 200 response whose whole message is `total` bytes; even
 * length, at most GEN_HTTP_RESP_MAX. */
uint16_t gen_http_response(struct gen *g, uint32_t total);
#define GEN_HTTP_REQ_MIN 120u
#define GEN_HTTP_RESP_MAX 104u
/* RTP (RFC 3550) and ESP-in-UDP (RFC 3948) headers for the bulk UDP kinds. */
uint16_t gen_rtp_header(struct gen *g, const struct gen_flow *f, uint8_t dir, uint32_t seq);
uint16_t gen_esp_header(struct gen *g, const struct gen_flow *f, uint8_t dir, uint32_t seq);

/* gen_out.c */
int gen_pcap_open(struct fl_ctx *ctx, struct gen *g);
int gen_pcap_flush(struct fl_ctx *ctx, struct gen *g);
int gen_pcap_close(struct fl_ctx *ctx, struct gen *g);
int gen_truth_write(struct fl_ctx *ctx, const struct gen *g);
/* "2026-01-01T00:00:00Z" (RFC 3339, optional fraction and offset) -> ns. */
int gen_parse_time(const char *s, uint64_t *out_ns);

#endif
