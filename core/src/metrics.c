/* metrics.c: `flowline run --metrics [ADDR:]PORT`: a small HTTP/1.0 server
 * on its own thread that answers GET /metrics with the Prometheus text of
 * observe.c, and 404 to anything else. One request per connection; a
 * client has 2 s to send its request and each write may wait 2 s, so a
 * slow or silent client cannot stall it (or shutdown). It does not keep
 * connections open or speak anything but plain HTTP. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "pipeline.h"

struct fl_metrics {
    struct fl_pipeline *p;
    int fd;
    pthread_t thread;
    atomic_bool stop;
    uint64_t start_ns;
};

/* All of buf, or give up (the peer is gone, or stalled past SO_SNDTIMEO).
 * MSG_NOSIGNAL: a scraper that hung up must not SIGPIPE the collector. */
static bool metrics_send(int c, const char *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = send(c, buf + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        off += (size_t)n;
    }
    return true;
}

static void metrics_answer(struct fl_metrics *m, int c)
{
    char req[2048];
    size_t got = 0;
    struct pollfd pfd = { .fd = c, .events = POLLIN };
    struct timeval tv = { 2, 0 };
    uint64_t deadline = fl_now_ns() + 2000000000ull;
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* The request line and headers, up to the blank line, within 2 s. */
    while (got < sizeof(req) - 1 && fl_now_ns() < deadline && !atomic_load(&m->stop)
           && poll(&pfd, 1, 200) >= 0) {
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[got] = '\0';
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    bool ok = strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET /metrics?", 13) == 0;
    if (!f)
        return;
    if (ok)
        fl_metrics_text(m->p, m->start_ns, f);
    else
        fputs("flowline serves /metrics only\n", f);
    fclose(f);
    char head[256];
    int hl = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n", ok ? "200 OK" : "404 Not Found",
                      ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain", len);
    if (metrics_send(c, head, (size_t)hl))
        metrics_send(c, body, len);
    free(body);
}

static void *metrics_main(void *arg)
{
    struct fl_metrics *m = arg;
    struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
    while (!atomic_load(&m->stop)) {
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        int c = accept(m->fd, NULL, NULL);
        if (c < 0)
            continue;
        metrics_answer(m, c);
        close(c);
    }
    return NULL;
}

int fl_metrics_start(struct fl_pipeline *p, const char *spec, uint64_t start_ns,
                     struct fl_metrics **out)
{
    char host[256] = "127.0.0.1";
    const char *colon = strrchr(spec, ':'), *port = colon ? colon + 1 : spec, *h = spec;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai = NULL;
    struct fl_metrics *m = NULL;
    int one = 1, rc;

    *out = NULL;
    if (colon) {   /* "[::1]:9100", "0.0.0.0:9100", "host:9100" */
        size_t n = (size_t)(colon - spec);
        if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']')
            h++, n -= 2;
        snprintf(host, sizeof(host), "%.*s", (int)n, h);
    }
    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        FL_LOG_ERROR(NULL, "--metrics %s: %s", spec, gai_strerror(rc));
        return -FL_EINVAL;
    }
    if (!(m = calloc(1, sizeof(*m))))
        goto fail;
    m->p = p;
    m->start_ns = start_ns;
    m->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
        || bind(m->fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(m->fd, 16) < 0) {
        FL_LOG_ERROR(NULL, "--metrics %s: %s", spec, strerror(errno));
        goto fail;
    }
    if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) {
        FL_LOG_ERROR(NULL, "--metrics %s: cannot start its thread", spec);
        goto fail;
    }
    freeaddrinfo(ai);
    *out = m;
    return 0;
fail:
    if (m && m->fd >= 0)
        close(m->fd);
    free(m);
    freeaddrinfo(ai);
    return -FL_EIO;
}

void fl_metrics_stop(struct fl_metrics **mp)
{
    struct fl_metrics *m = *mp;
    *mp = NULL;
    if (!m)
        return;
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    close(m->fd);
    free(m);
}
