/* gen_app.c: application payloads that dissectors parse, so the trace
 * reads cleanly in tshark/Wireshark: DNS queries and answers with EDNS0,
 * NTPv4 client/server messages, HTTP/1.1 requests and response heads with a
 * correct Content-Length, RTP (RFC 3550) and ESP-in-UDP (RFC 3948) headers.
 * Each is written into g->scratch; names and values come from stateless
 * hashes of the flow, so they cost nothing from the PRNG stream.
 *
 * What follows a header (the body, the media, the ciphertext) is filler
 * from gen_frame.c's pad. */
#include <string.h>
#include "gen.h"


/* Write a dotted name as DNS labels; returns the end. */
static uint8_t *gen_dns_name(uint8_t *q, const char *dotted)
{
    while (*dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
        *q++ = (uint8_t)n;
        memcpy(q, dotted, n);
        q += n;
        dotted += n + (dot ? 1 : 0);
    }
    return q;
}

uint16_t gen_dns_payload(struct gen *g, const struct gen_flow *f, bool response)
{
    static const char *const zones[] = {
        "example.com", "example.net", "example.org", "cdn.example.com",
        "api.example.net", "mail.example.org", "static.example.com", "test",
    };
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t *d = g->scratch, *q = d + 12;
    uint64_t h = gen_hash((uint64_t)f->client << 20 ^ f->cport ^ g->seed << 52);
    uint64_t h2 = gen_hash(h);
    bool aaaa = (h & 7) < 2;
    uint32_t nans = response ? 1 + (uint32_t)(h >> 50) % 3 : 0;
    uint32_t len = 3 + (uint32_t)(h >> 8) % 10;

    gen_put16(d, f->aux);
    gen_put16(d + 2, response ? 0x8180 : 0x0100);   /* RD (+ QR, RA) */
    gen_put16(d + 4, 1);
    gen_put16(d + 6, nans);
    gen_put16(d + 8, 0);
    gen_put16(d + 10, 1);                           /* EDNS0 OPT */
    *q++ = (uint8_t)len;
    for (uint32_t i = 0; i < len; i++, h2 >>= 5)
        *q++ = (uint8_t)alnum[(h2 & 31) + (i & 1 ? 4 : 0)];
    q = gen_dns_name(q, zones[(h >> 20) % (sizeof(zones) / sizeof(zones[0]))]);
    *q++ = 0;
    gen_put16(q, aaaa ? 28 : 1);
    gen_put16(q + 2, 1);
    q += 4;
    for (uint32_t a = 0; a < nans; a++) {
        gen_put16(q, 0xc00c);                       /* pointer to the question name */
        gen_put16(q + 2, aaaa ? 28 : 1);
        gen_put16(q + 4, 1);
        gen_put32(q + 6, 300);
        gen_put16(q + 10, aaaa ? 16 : 4);
        q += 12;
        uint32_t host = (uint32_t)(h >> 32) % 250 + 1 + a;
        if (aaaa) {
            static const uint8_t pfx[12] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0xad };
            memcpy(q, pfx, 12);
            gen_put32(q + 12, host);
            q += 16;
        } else {
            gen_put32(q, 0xc6336400u + host);       /* 198.51.100.0/24 */
            q += 4;
        }
    }
    *q++ = 0;                                       /* OPT: root name */
    gen_put16(q, 41);
    gen_put16(q + 2, 1232);                         /* UDP payload size */
    memset(q + 4, 0, 6);                            /* rcode, version, flags, rdlen */
    q += 10;
    return (uint16_t)(q - d);
}

/* NTP timestamp: seconds since 1900 and a 32-bit fraction. */
static void gen_ntp_ts(uint8_t *p, uint64_t ns)
{
    gen_put32(p, (uint32_t)(ns / 1000000000u + 2208988800u));
    gen_put32(p + 4, (uint32_t)(((ns % 1000000000u) << 32) / 1000000000u));
}

uint16_t gen_ntp_payload(struct gen *g, const struct gen_flow *f, bool response, uint64_t t)
{
    uint8_t *d = g->scratch;
    memset(d, 0, 48);
    d[0] = response ? 0x24 : 0x23;                 /* LI 0, version 4, mode 4 / 3 */
    d[2] = 6;                                       /* poll 64 s */
    d[3] = 0xe9;                                    /* precision 2^-23 s */
    if (response) {
        d[1] = 2;                                   /* stratum 2 */
        gen_put32(d + 4, 0x00000100);               /* root delay */
        gen_put32(d + 8, 0x00000200);               /* root dispersion */
        gen_put32(d + 12, 0xc6336401u);             /* reference: 198.51.100.1 */
        gen_ntp_ts(d + 16, t > 64000000000ull ? t - 64000000000ull : 0);
        gen_ntp_ts(d + 24, g->start_ns + f->first);  /* origin = the request's transmit */
        gen_ntp_ts(d + 32, t > 20000 ? t - 20000 : 0);
    }
    gen_ntp_ts(d + 40, t);
    return 48;
}

/* Small appenders: HTTP heads are built per request, so no printf. */
static char *gen_cat(char *q, const char *s)
{
    size_t n = strlen(s);
    memcpy(q, s, n);
    return q + n;
}

static int gen_ndigits(uint32_t v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *gen_dec(char *q, uint32_t v)
{
    int n = gen_ndigits(v);
    for (int i = n - 1; i >= 0; i--, v /= 10)
        q[i] = (char)('0' + v % 10);
    return q + n;
}

uint16_t gen_http_request(struct gen *g, const struct gen_flow *f, uint16_t len)
{
    static const char *const dirs[] = { "static", "api/v1", "img", "assets", "video", "dl" };
    static const char hex[] = "0123456789abcdef";
    char *d = (char *)g->scratch, *q = d;
    uint64_t h = gen_hash((uint64_t)f->client << 24 ^ (uint64_t)f->cseq << 1 ^ g->seed);

    q = gen_cat(q, "GET /");
    q = gen_cat(q, dirs[h % (sizeof(dirs) / sizeof(dirs[0]))]);
    *q++ = '/';
    for (int i = 0; i < 8; i++)
        *q++ = hex[(h >> (32 + 4 * i)) & 15];
    q = gen_cat(q, " HTTP/1.1\r\nHost: www");
    q = gen_dec(q, f->server % 100);
    q = gen_cat(q, ".example.com\r\nUser-Agent: flowline-gen/0.1\r\nAccept: */*\r\nX-Pad: ");
    /* pad to the exact size inside the last header, then the blank line */
    long pad = (long)len - (q - d) - 4;
    if (pad < 1)
        pad = 1;
    memset(q, 'x', (size_t)pad);
    q = gen_cat(q + pad, "\r\n\r\n");
    return (uint16_t)(q - d);
}

uint16_t gen_http_response(struct gen *g, uint32_t total)
{
    /* 17 + 13 + 40 + 16 + digits + 2 + 2 bytes with "Server: gen"; the
     * head's length depends on the digits of the body's, and must be even
     * (gen_frame.c): lengthen the Server value by 0-3 characters until both
     * hold (some digit count always fits: the lengths it tries overlap). */
    static const char *const server[4] = { "gen", "gen1", "gen12", "gen123" };
    for (int digits = 1; digits <= 10; digits++) {
        for (uint32_t k = 0; k < 4; k++) {
            uint32_t head = 90 + (uint32_t)digits + k;
            if ((head & 1) || head >= total || gen_ndigits(total - head) != digits)
                continue;
            char *d = (char *)g->scratch, *q = d;
            q = gen_cat(q, "HTTP/1.1 200 OK\r\nServer: ");
            q = gen_cat(q, server[k]);
            q = gen_cat(q, "\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
            q = gen_dec(q, total - head);
            q = gen_cat(q, "\r\n\r\n");
            return (uint16_t)(q - d);
        }
    }
    return 0;   /* total too small for a head: the caller keeps it above GEN_HTTP_RESP_MAX */
}

uint16_t gen_rtp_header(struct gen *g, const struct gen_flow *f, uint8_t dir, uint32_t seq)
{
    uint8_t *d = g->scratch;
    uint64_t h = gen_hash((uint64_t)f->client << 17 ^ (uint64_t)f->cport << 1 ^ dir ^ g->seed << 40);
    d[0] = 0x80;                                    /* version 2 */
    d[1] = 0;                                       /* PCMU, 20 ms frames */
    gen_put16(d + 2, (uint32_t)(h >> 48) + seq);
    gen_put32(d + 4, (uint32_t)h + seq * 160);
    gen_put32(d + 8, (uint32_t)(h >> 16));          /* SSRC */
    return 12;
}

uint16_t gen_esp_header(struct gen *g, const struct gen_flow *f, uint8_t dir, uint32_t seq)
{
    uint8_t *d = g->scratch;
    uint64_t h = gen_hash((uint64_t)f->client << 17 ^ (uint64_t)f->cport << 1 ^ dir ^ g->seed << 44);
    /* SPIs 1-255 are reserved and 0 would read as a non-ESP marker */
    gen_put32(d, (uint32_t)h | 0x100u);
    gen_put32(d + 4, seq + 1);
    return 8;
}
