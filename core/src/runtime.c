/* runtime.c: running a bound pipeline (DESIGN.md §4).
 *
 * One thread per stage. Every edge is a ZeroMQ inproc PUSH -> PULL pair
 * carrying envelopes (BATCH with a batch pointer, WATERMARK, EOS); a stage
 * has one bound PULL that all its sources connect to (fan-in, fair-queued,
 * so a stage always reads whichever source has data and a diamond cannot
 * deadlock), and one PUSH per consumer (fan-out: each gets the batch by
 * refcount). High-water marks are a few batches, so a slow consumer blocks
 * its producer instead of growing memory.
 *
 * Time: an input's clock is the largest record time it emitted (or what it
 * gave fl_watermark); a stage's clock is the minimum over its live sources'
 * clocks, and tick() fires when it advances. Shutdown: inputs end (end of
 * file, or the stop flag set by SIGINT/SIGTERM), send EOS; a stage drains
 * after EOS from every source and passes EOS on; nothing in flight is lost. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "pipeline.h"

#define LINK_HWM 4                      /* batches queued per end of a link */
#define WATERMARK_EVERY_NS 100000000ull /* forward the clock at least this often */

enum env_type { ENV_BATCH = 1, ENV_WATERMARK, ENV_EOS };

/* What travels on an inproc link. The batch reference moves with it. */
struct env {
    uint32_t type;
    uint32_t from;          /* sending stage index */
    uint64_t seq;
    uint64_t clock;         /* the sender's clock after this message */
    struct fl_batch *batch;
};

struct fl_link {
    uint32_t idx;                       /* this stage's index */
    void *pull;                         /* NULL for inputs */
    size_t *n_push;                     /* per port */
    void ***push;                       /* per port, per consumer */
    uint64_t *up_clock;                 /* per from: entry */
    bool *up_done;
    size_t n_eos;
    uint64_t clock, sent_clock, seq;
    pthread_t thread;
    bool thread_started;
    int rc;
    _Atomic size_t *done;               /* stages finished, for the main loop */
    _Atomic bool *eos_lost;             /* an EOS was not sent: unblock everyone */
};

static const char *env_what(uint32_t type)
{
    return type == ENV_BATCH ? "a batch" : type == ENV_WATERMARK ? "a watermark" : "end of stream";
}

/* Send e on every link of `port`; the batch reference moves (one more
 * reference per extra consumer). A failed send fails the stage whatever the
 * caller does with the result (a plugin may ignore fl_emit's), and the other
 * consumers still get theirs. A consumer that misses an EOS would wait for it
 * forever, so that also tells the main thread to unblock every stage. */
static int link_send(struct fl_stage *st, int port, struct env *e)
{
    struct fl_link *l = st->link;
    int rc = 0;
    size_t n = l->n_push[port];
    if (e->batch && n == 0)
        fl_batch_release(&e->batch);
    for (size_t i = 0; i < n; i++) {
        struct env copy = *e;
        if (e->batch && i + 1 < n)
            copy.batch = fl_batch_retain(e->batch);
        while (zmq_send(l->push[port][i], &copy, sizeof(copy), 0) < 0) {
            if (errno == EINTR)
                continue;
            if (rc == 0)
                FL_LOG_ERROR(&st->ctx, "sending %s downstream failed: %s (%s:%u:%u)%s",
                             env_what(e->type), zmq_strerror(errno), st->conf->pos.file,
                             st->conf->pos.line, st->conf->pos.col,
                             l->rc == 0 ? "; stopping the pipeline" : "");
            fl_batch_release(&copy.batch);
            rc = -FL_EIO;
            break;
        }
    }
    if (rc < 0) {
        if (l->rc == 0)
            l->rc = rc;
        atomic_store(&st->ctx.rt->stopping, true);
        if (e->type == ENV_EOS)
            atomic_store(l->eos_lost, true);
    }
    return rc;
}

/* A watermark or EOS on every port. Every port is tried even if one fails:
 * the consumers that can still be told must be. */
static int send_all(struct fl_stage *st, enum env_type type)
{
    struct env e = { .type = type, .from = st->link->idx, .clock = st->link->clock };
    int rc = 0, r;
    for (size_t port = 0; port < st->n_ports; port++)
        if ((r = link_send(st, (int)port, &e)) < 0 && rc == 0)
            rc = r;
    st->link->sent_clock = st->link->clock;
    return rc;
}

/* ctx->emit for running stages. */
static int runtime_emit(struct fl_ctx *ctx, int port, struct fl_batch *b)
{
    struct fl_stage *st = ctx->stage;
    struct fl_link *l = st->link;
    if (st->plugin->kind == FL_KIND_INPUT && b->t_max > l->clock)
        l->clock = b->t_max;
    b->seq = ++l->seq;
    struct env e = { .type = ENV_BATCH, .from = l->idx, .seq = b->seq, .clock = l->clock, .batch = b };
    l->sent_clock = l->clock;
    return link_send(st, port, &e);
}

void fl_watermark(struct fl_ctx *ctx, uint64_t ts_ns)
{
    struct fl_stage *st = ctx->stage;
    if (!st || !st->link)
        return;
    struct fl_link *l = st->link;
    if (ts_ns > l->clock)
        l->clock = ts_ns;
    if (l->clock >= l->sent_clock + WATERMARK_EVERY_NS)
        (void)send_all(st, ENV_WATERMARK);   /* a failure has failed the stage */
}

/* The stage clock: minimum over sources still sending. */
static uint64_t stage_clock(const struct fl_stage *st)
{
    const struct fl_link *l = st->link;
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < st->n_up; i++)
        if (!l->up_done[i] && l->up_clock[i] < m)
            m = l->up_clock[i];
    return m;
}

/* Offer a batch until the plugin takes it; -FL_EAGAIN backs off (an output
 * whose server is down). While stopping, give up after a bounded wait and
 * count the rows as dropped: a stuck server must not hang shutdown. */
static int offer(struct fl_stage *st, struct fl_batch *b)
{
    unsigned delay_ms = 10, waited_ms = 0;
    for (;;) {
        int rc = st->plugin->process(&st->ctx, st->state, b);
        if (rc != -FL_EAGAIN)
            return rc;
        if (fl_stopping(&st->ctx) && waited_ms > 30000) {
            fl_counter_add(&st->ctx, "records_dropped", b->rows);
            FL_LOG_ERROR(&st->ctx, "gave up on %u records while stopping", b->rows);
            return 0;
        }
        struct timespec ts = { delay_ms / 1000, (long)(delay_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
        waited_ms += delay_ms;
        if (delay_ms < 1000)
            delay_ms *= 2;
    }
}

/* Which from: entry a message came on (the first still open, if a stage
 * reads the same source twice). */
static size_t up_slot(const struct fl_stage *st, uint32_t from)
{
    size_t any = 0;
    for (size_t i = st->n_up; i-- > 0;)
        if (st->up[i].stage == from) {
            any = i;
            if (!st->link->up_done[i])
                return i;
        }
    return any;
}

static void stage_fail(struct fl_stage *st, int rc, const char *what)
{
    if (st->link->rc == 0) {
        FL_LOG_ERROR(&st->ctx, "%s failed: %s (%s:%u:%u); stopping the pipeline", what,
                     fl_strerror(rc), st->conf->pos.file, st->conf->pos.line, st->conf->pos.col);
        st->link->rc = rc;
    }
    atomic_store(&st->ctx.rt->stopping, true);
}

static void *stage_main(void *arg)
{
    struct fl_stage *st = arg;
    struct fl_link *l = st->link;
    const struct fl_plugin *pl = st->plugin;
    int rc;

    if (pl->kind == FL_KIND_INPUT) {
        if ((rc = pl->run(&st->ctx, st->state)) < 0)
            stage_fail(st, rc, "run");
    } else {
        while (l->n_eos < st->n_up) {
            struct env e;
            int got = zmq_recv(l->pull, &e, sizeof(e), 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got != (int)sizeof(e)) {   /* only our envelopes travel here */
                stage_fail(st, -FL_EIO, "link receive");
                break;
            }
            size_t i = up_slot(st, e.from);
            if (e.clock > l->up_clock[i])
                l->up_clock[i] = e.clock;
            if (e.type == ENV_BATCH) {
                fl_counter_add(&st->ctx, "records_in", e.batch->rows);
                if (l->rc == 0 && (rc = offer(st, e.batch)) < 0)
                    stage_fail(st, rc, "process");
                fl_batch_release(&e.batch);
            } else if (e.type == ENV_EOS) {
                l->up_done[i] = true;
                l->n_eos++;
            }
            uint64_t now = stage_clock(st);
            if (now != UINT64_MAX && now > l->clock) {
                l->clock = now;
                if (pl->tick && l->rc == 0 && (rc = pl->tick(&st->ctx, st->state, now)) < 0)
                    stage_fail(st, rc, "tick");
                if (l->clock >= l->sent_clock + WATERMARK_EVERY_NS)
                    (void)send_all(st, ENV_WATERMARK);   /* failure: stage failed */
            }
        }
    }
    if (pl->drain && l->rc == 0 && (rc = pl->drain(&st->ctx, st->state)) < 0)
        stage_fail(st, rc, "drain");
    (void)send_all(st, ENV_EOS);   /* failure: stage failed, eos_lost set */
    atomic_fetch_add(l->done, 1);
    return NULL;
}

/* ---- setup ------------------------------------------------------------ */
static void *socket_new(void *zmq, int type, int hwm_opt)
{
    void *s = zmq_socket(zmq, type);
    int hwm = LINK_HWM, linger = 0;
    if (s && (zmq_setsockopt(s, hwm_opt, &hwm, sizeof(hwm)) < 0
              || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) < 0)) {
        zmq_close(s);
        s = NULL;
    }
    return s;
}

static void links_free(struct fl_pipeline *p)
{
    for (size_t i = 0; i < p->n; i++) {
        struct fl_link *l = p->stages[i].link;
        if (!l)
            continue;
        if (l->pull)
            zmq_close(l->pull);
        for (size_t port = 0; l->push && port < p->stages[i].n_ports; port++) {
            for (size_t k = 0; k < l->n_push[port]; k++)
                zmq_close(l->push[port][k]);
            free(l->push[port]);
        }
        free(l->push);
        free(l->n_push);
        free(l->up_clock);
        free(l->up_done);
        free(l);
        p->stages[i].link = NULL;
        p->stages[i].ctx.stage = NULL;
        p->stages[i].ctx.emit = NULL;
    }
}

/* Bind every stage's PULL, then connect a PUSH per (source port, consumer). */
static int links_new(struct fl_pipeline *p, void *zmq, _Atomic size_t *done, _Atomic bool *eos_lost)
{
    char ep[64];
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        struct fl_link *l = calloc(1, sizeof(*l));
        if (!l)
            return -FL_ENOMEM;
        st->link = l;
        l->idx = (uint32_t)i;
        l->done = done;
        l->eos_lost = eos_lost;
        st->ctx.stage = st;
        st->ctx.emit = runtime_emit;
        if (!(l->n_push = calloc(st->n_ports, sizeof(*l->n_push)))
            || !(l->push = calloc(st->n_ports, sizeof(*l->push)))
            || !(l->up_clock = calloc(st->n_up + 1, sizeof(*l->up_clock)))
            || !(l->up_done = calloc(st->n_up + 1, sizeof(*l->up_done))))
            return -FL_ENOMEM;
        if (st->plugin->kind == FL_KIND_INPUT)
            continue;
        snprintf(ep, sizeof(ep), "inproc://fl-stage-%zu", i);
        if (!(l->pull = socket_new(zmq, ZMQ_PULL, ZMQ_RCVHWM)) || zmq_bind(l->pull, ep) < 0) {
            FL_LOG_ERROR(&st->ctx, "cannot bind %s: %s", ep, zmq_strerror(errno));
            return -FL_EIO;
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        for (size_t k = 0; k < st->n_up; k++) {
            struct fl_stage *src = &p->stages[st->up[k].stage];
            int port = st->up[k].port;
            struct fl_link *sl = src->link;
            void **v = realloc(sl->push[port], (sl->n_push[port] + 1) * sizeof(*v));
            if (!v)
                return -FL_ENOMEM;
            sl->push[port] = v;
            snprintf(ep, sizeof(ep), "inproc://fl-stage-%zu", i);
            if (!(v[sl->n_push[port]] = socket_new(zmq, ZMQ_PUSH, ZMQ_SNDHWM))
                || zmq_connect(v[sl->n_push[port]], ep) < 0) {
                if (v[sl->n_push[port]])
                    zmq_close(v[sl->n_push[port]]);
                FL_LOG_ERROR(&src->ctx, "cannot connect to %s: %s", ep, zmq_strerror(errno));
                return -FL_EIO;
            }
            sl->n_push[port]++;
        }
    }
    return 0;
}

/* ---- progress and counters -------------------------------------------- */
static void human_bytes(char *buf, size_t len, double v)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

struct progress { uint64_t t0; bool drawn; };

static void progress_draw(struct fl_pipeline *p, struct progress *pg, bool final)
{
    uint64_t done = 0, total = 0, recs = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct fl_ctx *c = &p->stages[i].ctx;
        if (p->stages[i].plugin->kind != FL_KIND_INPUT)
            continue;
        done += atomic_load(&c->progress_done);
        total += atomic_load(&c->progress_total);
        recs += fl_counter_get(c, "records_out");
    }
    if (!total)
        return;
    double secs = (double)(fl_now_ns() - pg->t0) / 1e9, frac = (double)done / (double)total;
    char d[32], t[32], eta[32] = "";
    int bar = (int)(frac * 30);
    human_bytes(d, sizeof(d), (double)done);
    human_bytes(t, sizeof(t), (double)total);
    if (!final && frac > 0.01 && secs > 0.2)
        snprintf(eta, sizeof(eta), "  ETA %.0fs", secs * (1 - frac) / frac);
    fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %s / %s  %.2f Mrec/s%s\033[K", bar,
            "##############################", 30 - bar, "", frac * 100, d, t,
            secs > 0 ? (double)recs / secs / 1e6 : 0.0, eta);
    if (final)
        fputc('\n', stderr);
    pg->drawn = true;
}

static void print_counters(struct fl_pipeline *p)
{
    fprintf(stderr, "stage counters:\n");
    for (size_t k = 0; k < p->n; k++) {
        struct fl_stage *st = &p->stages[p->order[k]];
        fprintf(stderr, "  %s (%s):", st->conf->id, st->ctx.use);
        uint32_t n = atomic_load(&st->ctx.n_counters);
        for (uint32_t i = 0; i < n; i++)
            fprintf(stderr, " %s=%llu", st->ctx.counters[i].name,
                    (unsigned long long)atomic_load(&st->ctx.counters[i].v));
        fputc('\n', stderr);
    }
}

/* ---- run ---------------------------------------------------------------- */
static void fini_stages(struct fl_pipeline *p)
{
    for (size_t k = p->n; k-- > 0;) {
        struct fl_stage *st = &p->stages[p->order[k]];
        if (st->inited && st->plugin->fini)
            st->plugin->fini(&st->ctx, st->state);
        st->inited = false;
    }
}

int fl_pipeline_run(struct fl_pipeline *p, const struct fl_run_opts *o)
{
    _Atomic size_t done = 0;
    _Atomic bool eos_lost = false;
    size_t started = 0;
    int rc = 0;
    sigset_t sigs, old;
    void *zmq = zmq_ctx_new();

    if (!zmq)
        return -FL_ENOMEM;
    if ((rc = links_new(p, zmq, &done, &eos_lost)) < 0)
        goto out;
    p->rt.diags = NULL;
    for (size_t k = 0; k < p->n; k++) {
        struct fl_stage *st = &p->stages[p->order[k]];
        if (st->plugin->init && (rc = st->plugin->init(&st->ctx, st->state)) < 0) {
            FL_LOG_ERROR(&st->ctx, "init failed: %s", fl_strerror(rc));
            goto out;
        }
        st->inited = true;
    }
    for (size_t k = 0; k < p->n; k++) {
        struct fl_stage *st = &p->stages[p->order[k]];
        if (st->plugin->start && (rc = st->plugin->start(&st->ctx, st->state)) < 0) {
            FL_LOG_ERROR(&st->ctx, "start failed: %s", fl_strerror(rc));
            goto out;
        }
    }

    /* Signals are taken by this thread only (sigtimedwait below). */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    for (size_t k = p->n; k-- > 0;) {   /* consumers first */
        struct fl_stage *st = &p->stages[p->order[k]];
        if (pthread_create(&st->link->thread, NULL, stage_main, st) != 0) {
            FL_LOG_ERROR(&st->ctx, "cannot start thread");
            atomic_store(&p->rt.stopping, true);
            rc = -FL_ENOMEM;
            break;
        }
        st->link->thread_started = true;
        started++;
    }

    struct progress pg = { .t0 = fl_now_ns() };
    int signals = 0;
    /* If a thread failed to start, or a stage could not send its EOS, some
     * consumers never see EOS: the ones that started are told to quit by
     * closing. */
    while (atomic_load(&done) < started && started == p->n && !atomic_load(&eos_lost)) {
        struct timespec ts = { 0, 100000000 };
        siginfo_t si;
        if (sigtimedwait(&sigs, &si, &ts) > 0) {
            if (++signals == 1) {
                FL_LOG_WARN(NULL, "%s: stopping, draining in-flight records (again to abort)",
                            strsignal(si.si_signo));
                atomic_store(&p->rt.stopping, true);
            } else {
                FL_LOG_ERROR(NULL, "aborted");
                _exit(130);
            }
        }
        if (o->progress)
            progress_draw(p, &pg, false);
    }
    if (started != p->n || atomic_load(&eos_lost)) {
        /* Unblock everything: terminating the context makes blocked calls
         * fail. Batches still queued on links are lost (and leak): the run
         * has failed already. */
        zmq_ctx_shutdown(zmq);
    }
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        if (st->link && st->link->thread_started) {
            pthread_join(st->link->thread, NULL);
            if (st->link->rc < 0 && rc == 0)
                rc = st->link->rc;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (o->progress && pg.drawn)
        progress_draw(p, &pg, true);
out:
    fini_stages(p);
    if (o->verbose)
        print_counters(p);
    links_free(p);
    while (zmq_ctx_term(zmq) < 0 && errno == EINTR)   /* documented as restartable */
        ;
    return rc;
}
