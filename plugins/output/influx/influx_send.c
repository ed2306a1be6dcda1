/* influx_send.c: one payload of lines to the server.
 *
 * HTTP: one libcurl easy handle per stage instance, so the connection is
 * kept alive between requests; the body gzip'd (zlib, level 1: the
 * cheapest level still shrinks line protocol about 5x) when `gzip` is on.
 * The status decides what the delivery layer does:
 *   2xx           delivered;
 *   400           the server refused lines (parse error, field type
 *                 conflict): not retried; InfluxDB 1.x writes the lines
 *                 it could parse and names each bad one ("unable to parse")
 *                 or counts them ("dropped=N"), which gives the rejected
 *                 count; the body is logged;
 *   401, 403      credentials: retried (the operator may fix them), logged;
 *   404           the database/bucket does not exist: retried (it may be
 *                 created), logged with what to do;
 *   413, other 4xx: refused: not retried;
 *   429, 5xx, connection errors, timeouts: retried.
 * UDP: the payload cut at line ends into datagrams of at most udp_payload
 * bytes; a send error (ECONNREFUSED from an earlier ICMP) is retried, but
 * UDP itself confirms nothing: at-most-once past the socket. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <zlib.h>
#include "influx.h"

#define BODY_MAX 65536

struct influx_net {
    CURL *curl;
    struct curl_slist *hdr, *hdr_gz;
    char *write_url;
    char err[CURL_ERROR_SIZE];
    char body[BODY_MAX + 1];         /* the response, cut at BODY_MAX */
    size_t body_len;
    z_stream z;
    bool z_ok;
    struct fl_dbuf gz;               /* the compressed body */
    int udp;                         /* UDP socket, connected; -1 */
};

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
    struct influx_net *n = arg;
    size_t len = sz * nm, room = BODY_MAX - n->body_len;
    size_t take = len < room ? len : room;
    memcpy(n->body + n->body_len, p, take);
    n->body_len += take;
    return len;
}

/* "&name=value" with value URL-escaped, if value is set. */
static int add_param(CURL *c, struct fl_dbuf *u, const char *name, const char *value)
{
    if (!value || !*value)
        return 0;
    char *e = curl_easy_escape(c, value, 0);
    if (!e)
        return -FL_ENOMEM;
    int rc = fl_dbuf_append(u, u->len && memchr(u->p, '?', u->len) ? "&" : "?", 1);
    if (rc == 0)
        rc = fl_dbuf_append(u, name, strlen(name));
    if (rc == 0)
        rc = fl_dbuf_append(u, "=", 1);
    if (rc == 0)
        rc = fl_dbuf_append(u, e, strlen(e));
    curl_free(e);
    return rc;
}

static bool is_v2(const struct influx *s)
{
    return s->api == API_V2 || (s->api == API_AUTO && (s->bucket || s->org || s->token));
}

static int http_open(struct influx *s, struct influx_net *n)
{
    static const char *const p1[] = { "n", "u", "ms", "s" }, *const p2[] = { "ns", "us", "ms", "s" };
    if (!(n->curl = curl_easy_init()))
        return -FL_ENOMEM;
    struct fl_dbuf u = { 0 };
    size_t ul = strlen(s->url);
    while (ul && s->url[ul - 1] == '/')
        ul--;
    bool v2 = is_v2(s);
    int rc = fl_dbuf_append(&u, s->url, ul);
    if (rc == 0)
        rc = fl_dbuf_append(&u, v2 ? "/api/v2/write" : "/write", v2 ? 13 : 6);
    if (rc == 0 && v2) {
        rc = add_param(n->curl, &u, "org", s->org);
        if (rc == 0)
            rc = add_param(n->curl, &u, "bucket", s->bucket);
        if (rc == 0)
            rc = add_param(n->curl, &u, "precision", p2[s->precision]);
    } else if (rc == 0) {
        rc = add_param(n->curl, &u, "db", s->db);
        if (rc == 0)
            rc = add_param(n->curl, &u, "rp", s->rp);
        if (rc == 0)
            rc = add_param(n->curl, &u, "precision", p1[s->precision]);
    }
    if (rc == 0)
        rc = fl_dbuf_append(&u, "", 1);
    if (rc < 0) {
        free(u.p);
        return rc;
    }
    n->write_url = (char *)u.p;
    /* "Expect:" off: curl would otherwise ask for 100-continue before
     * bodies over 1 MiB and wait a round trip (a second, with a server
     * that does not answer it) on every request. */
    n->hdr = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
    n->hdr = curl_slist_append(n->hdr, "Expect:");
    if (v2 && s->token) {
        size_t l = strlen(s->token) + 32;
        char *h = malloc(l);
        if (h) {
            snprintf(h, l, "Authorization: Token %s", s->token);
            n->hdr = curl_slist_append(n->hdr, h);
            free(h);
        }
    }
    /* The same list plus Content-Encoding, for gzip'd bodies. */
    for (struct curl_slist *h = n->hdr; h; h = h->next)
        n->hdr_gz = curl_slist_append(n->hdr_gz, h->data);
    n->hdr_gz = curl_slist_append(n->hdr_gz, "Content-Encoding: gzip");
    if (!n->hdr || !n->hdr_gz)
        return -FL_ENOMEM;
    CURL *c = n->curl;
    curl_easy_setopt(c, CURLOPT_URL, n->write_url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, n->err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, n);
    long ms = (long)(s->timeout / 1000000u);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1L);
    if (!v2 && s->user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->password ? s->password : "");
    }
    if (s->gzip) {
        if (deflateInit2(&n->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -FL_ENOMEM;
        n->z_ok = true;
    }
    return 0;
}

static int udp_open(struct influx *s, struct influx_net *n)
{
    const char *hp = s->url + 6;   /* after udp:// */
    char host[256], *port;
    snprintf(host, sizeof(host), "%s", hp);
    char *slash = strchr(host, '/');
    if (slash)
        *slash = 0;
    char *hostp = host;
    if (host[0] == '[') {   /* [v6]:port */
        char *end = strchr(host, ']');
        if (!end || end[1] != ':')
            return -FL_EINVAL;
        *end = 0;
        hostp = host + 1;
        port = end + 2;
    } else {
        port = strrchr(host, ':');
        if (!port)
            return -FL_EINVAL;
        *port++ = 0;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
    int e = getaddrinfo(hostp, port, &hints, &ai);
    if (e) {
        FL_LOG_ERROR(s->ctx, "%s: %s", s->url, gai_strerror(e));
        return -FL_EINVAL;
    }
    n->udp = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->udp < 0 || connect(n->udp, ai->ai_addr, ai->ai_addrlen) < 0) {
        FL_LOG_ERROR(s->ctx, "%s: %s", s->url, strerror(errno));
        freeaddrinfo(ai);
        return -FL_EIO;
    }
    freeaddrinfo(ai);
    return 0;
}

int influx_net_open(struct influx *s)
{
    struct influx_net *n = calloc(1, sizeof(*n));
    if (!n)
        return -FL_ENOMEM;
    n->udp = -1;
    s->net = n;
    return strncmp(s->url, "udp://", 6) == 0 ? udp_open(s, n) : http_open(s, n);
}

void influx_net_close(struct influx *s)
{
    struct influx_net *n = s->net;
    if (!n)
        return;
    if (n->curl)
        curl_easy_cleanup(n->curl);
    curl_slist_free_all(n->hdr);
    curl_slist_free_all(n->hdr_gz);
    free(n->write_url);
    if (n->z_ok)
        deflateEnd(&n->z);
    free(n->gz.p);
    if (n->udp >= 0)
        close(n->udp);
    free(n);
    s->net = NULL;
}

static int gzip_body(struct influx_net *n, const uint8_t *buf, size_t len)
{
    n->gz.len = 0;
    if (deflateReset(&n->z) != Z_OK || fl_dbuf_reserve(&n->gz, deflateBound(&n->z, len) + 32) < 0)
        return -FL_ENOMEM;
    n->z.next_in = (Bytef *)buf;
    n->z.avail_in = (uInt)len;
    n->z.next_out = n->gz.p;
    n->z.avail_out = (uInt)n->gz.cap;
    if (deflate(&n->z, Z_FINISH) != Z_STREAM_END)
        return -FL_EIO;
    n->gz.len = n->gz.cap - n->z.avail_out;
    return 0;
}

/* Lines InfluxDB refused, from a 400's body; 0 if it does not say. */
static uint32_t bad_lines(const char *body)
{
    uint32_t n = 0;
    for (const char *p = body; (p = strstr(p, "unable to parse")); p++)
        n++;
    const char *d = strstr(body, "dropped=");
    if (d)
        n += (uint32_t)strtoul(d + 8, NULL, 10);
    return n;
}

static int udp_send(struct influx *s, const uint8_t *buf, size_t len)
{
    struct influx_net *n = s->net;
    size_t off = 0;
    while (off < len) {
        size_t end = off, max = s->udp_payload;
        /* Whole lines up to max bytes; a longer line goes alone. */
        while (end < len) {
            const uint8_t *nl = memchr(buf + end, '\n', len - end);
            size_t next = nl ? (size_t)(nl - buf) + 1 : len;
            if (next - off > max && end > off)
                break;
            end = next;
        }
        if (send(n->udp, buf + off, end - off, 0) < 0) {
            FL_LOG_ERROR_RL(s->ctx, "%s: %s", s->url, strerror(errno));
            /* What was sent is gone; the rest is retried with the head
             * (duplicates for UDP are the same points: same series and
             * time overwrite). */
            return FL_DELIVER_RETRY;
        }
        fl_counter_add(s->ctx, "datagrams", 1);
        off = end;
    }
    return FL_DELIVER_OK;
}

int influx_send(void *arg, const uint8_t *buf, size_t len, uint32_t nrec, uint32_t *n_rejected)
{
    struct influx *s = arg;
    struct influx_net *n = s->net;
    if (n->udp >= 0)
        return udp_send(s, buf, len);
    const uint8_t *body = buf;
    size_t blen = len;
    bool gz = false;
    if (n->z_ok && gzip_body(n, buf, len) == 0) {
        body = n->gz.p;
        blen = n->gz.len;
        gz = true;
    }
    n->body_len = 0;
    n->err[0] = 0;
    curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, gz ? n->hdr_gz : n->hdr);
    curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    CURLcode cc = curl_easy_perform(n->curl);
    n->body[n->body_len] = 0;
    if (cc != CURLE_OK) {
        FL_LOG_ERROR_RL(s->ctx, "%s: %s", s->url, n->err[0] ? n->err : curl_easy_strerror(cc));
        return FL_DELIVER_RETRY;
    }
    long code = 0;
    curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300)
        return FL_DELIVER_OK;
    /* The body, one line, for the log. */
    for (char *p = n->body; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (code == 400) {
        uint32_t bad = bad_lines(n->body);
        *n_rejected = bad && bad < nrec ? bad : nrec;
        fl_counter_add(s->ctx, "requests_400", 1);
        FL_LOG_ERROR_RL(s->ctx, "the server refused %u of %u lines (HTTP 400, not retried): %.2000s",
                        *n_rejected, nrec, n->body);
        return FL_DELIVER_REJECT;
    }
    if (code == 404) {
        FL_LOG_ERROR_RL(s->ctx, "HTTP 404 from %s: %s; create the %s first (retrying)",
                        n->write_url, n->body, is_v2(s) ? "bucket" : "database (CREATE DATABASE)");
        return FL_DELIVER_RETRY;
    }
    if (code == 401 || code == 403 || code == 429 || code >= 500) {
        FL_LOG_ERROR_RL(s->ctx, "HTTP %ld from the server (retrying): %.2000s", code, n->body);
        return FL_DELIVER_RETRY;
    }
    FL_LOG_ERROR_RL(s->ctx, "HTTP %ld from the server, %u lines refused (not retried): %.2000s",
                    code, nrec, n->body);
    return FL_DELIVER_REJECT;
}
