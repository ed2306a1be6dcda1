/* runtime.c: running a bound pipeline (DESIGN.md §4).
 *
 * One thread per stage instance (`workers: N` gives a stage N instances,
 * each with its own state and counters), but for a stage with `chain:
 * true`, which runs in its source's thread: push_one() hands it each
 * envelope instead of a socket (chained_push). Every other edge is a ZeroMQ inproc
 * PUSH -> PULL pair carrying envelopes (BATCH with a batch pointer,
 * WATERMARK, EOS); an instance has one bound PULL that all its sources
 * connect to (fan-in, fair-queued, so a stage always reads whichever source
 * has data and a diamond cannot deadlock), and one outlet per consumer
 * stage (fan-out: each gets the batch by refcount) with one PUSH per
 * consumer instance: a consumer with workers gets each batch split by key
 * (partition.c), each worker its own rows. High-water marks are a few
 * batches, so a slow consumer blocks its producer instead of growing memory.
 *
 * Time: an input's clock is the largest record time it emitted (or what it
 * gave fl_watermark); a stage's clock is the minimum over its live source
 * instances' clocks, and tick() fires when it advances. Shutdown: inputs end (end of
 * file, or the stop flag set by SIGINT/SIGTERM), send EOS; a stage drains
 * after EOS from every source instance and passes EOS on; nothing in
 * flight is lost. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "pipeline.h"

/* Wakes the main thread when the last stage instance finishes, so the run
 * ends when its last stage does, not at the next 100 ms poll (up to 0.1 s
 * on every run). SIGURG: ignored by default, so one sent from outside
 * changes nothing either. */
#define FL_WAKE_SIG SIGURG
#define LINK_HWM 4                      /* batches queued per end of a link */
#define WATERMARK_EVERY_NS 100000000ull /* forward the clock at least this often */

enum env_type { ENV_BATCH = 1, ENV_WATERMARK, ENV_EOS };

/* What travels on an inproc link. The batch reference moves with it. */
struct env {
    uint16_t type;
    uint16_t worker;        /* sending instance of the stage (workers: N) */
    uint32_t from;          /* sending stage index */
    uint64_t seq;
    uint64_t clock;         /* the sender's clock after this message */
    struct fl_batch *batch;
};

struct fl_link {
    uint32_t idx;                       /* this stage's index */
    void *pull;                         /* NULL for inputs */
    size_t *n_out;                      /* per port */
    struct fl_outlet **out;             /* per port, per consumer stage */
    struct fl_batch **sub;              /* scratch: a split batch, per worker */
    size_t *slot_base;                  /* per from: entry, its first source slot */
    size_t n_slots;                     /* source instances: EOS expected from each */
    uint64_t *up_clock;                 /* per source slot */
    bool *up_done;
    size_t n_eos;
    uint64_t clock, sent_clock, seq;
    pthread_t thread;
    bool thread_started;
    int rc;
    _Atomic size_t *done;               /* instances finished, for the main loop */
    pthread_t main;                     /* woken with FL_WAKE_SIG when all have finished */
    size_t n_total;                     /* instances in the pipeline */
    _Atomic bool *eos_lost;             /* an EOS was not sent: unblock everyone */
};

static void chained_push(struct fl_inst *to, struct env *e);

static const char *env_what(uint32_t type)
{
    return type == ENV_BATCH ? "a batch" : type == ENV_WATERMARK ? "a watermark" : "end of stream";
}

/* One envelope to one consumer instance. A failure is logged once per
 * link_send (quiet: one was already logged) and releases the batch. */
static int push_one(struct fl_inst *in, struct fl_outlet *o, uint32_t w, struct env *e, bool quiet)
{
    const struct fl_stage_conf *sc = in->st->conf;
    if (e->type == ENV_BATCH)   /* counted before it can be received */
        atomic_fetch_add_explicit(&o->to[w].queued, 1, memory_order_relaxed);
    if (o->to[w].chained) {
        chained_push(&o->to[w], e);
        return 0;
    }
    while (zmq_send(o->push[w], e, sizeof(*e), 0) < 0) {
        if (errno == EINTR)
            continue;
        if (!quiet)
            FL_LOG_ERROR(in->ctx, "sending %s downstream failed: %s (%s:%u:%u)%s",
                         env_what(e->type), zmq_strerror(errno), sc->pos.file, sc->pos.line,
                         sc->pos.col, in->link->rc == 0 ? "; stopping the pipeline" : "");
        if (e->type == ENV_BATCH)
            atomic_fetch_sub_explicit(&o->to[w].queued, 1, memory_order_relaxed);
        fl_batch_release(&e->batch);
        return -FL_EIO;
    }
    return 0;
}

/* A batch to a consumer with workers: each worker its rows (partition.c);
 * a worker with none gets the clock alone, so every worker ticks at the
 * same points of the stream as one instance would. */
static int send_split(struct fl_inst *in, struct fl_outlet *o, const struct env *e)
{
    struct fl_batch **sub = in->link->sub;
    int rc = fl_outlet_split(in->ctx, o, e->batch, sub), r;
    if (rc < 0) {
        FL_LOG_ERROR(in->ctx, "cannot split a batch for %u workers: %s", o->n, fl_strerror(rc));
        return rc;
    }
    for (uint32_t w = 0; w < o->n; w++) {
        struct env copy = *e;
        copy.batch = sub[w];
        if (!sub[w])
            copy.type = ENV_WATERMARK;
        if ((r = push_one(in, o, w, &copy, rc < 0)) < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

/* Send e on every link of `port`; the batch reference moves (each consumer
 * gets its own reference, or its own rows when it has workers). A failed
 * send fails the stage whatever the caller does with the result (a plugin
 * may ignore fl_emit's), and the other consumers still get theirs. A
 * consumer that misses an EOS would wait for it forever, so that also tells
 * the main thread to unblock every stage. */
static int link_send(struct fl_inst *in, int port, struct env *e)
{
    struct fl_link *l = in->link;
    int rc = 0, r;
    for (size_t i = 0; i < l->n_out[port]; i++) {
        struct fl_outlet *o = &l->out[port][i];
        if (e->batch && o->n > 1) {
            r = send_split(in, o, e);
        } else {
            r = 0;
            for (uint32_t w = 0; w < o->n; w++) {
                struct env copy = *e;
                copy.batch = e->batch ? fl_batch_retain(e->batch) : NULL;
                int r1 = push_one(in, o, w, &copy, rc < 0 || r < 0);
                if (r1 < 0 && r == 0)
                    r = r1;
            }
        }
        if (r < 0 && rc == 0)
            rc = r;
    }
    fl_batch_release(&e->batch);
    if (rc < 0) {
        if (l->rc == 0)
            l->rc = rc;
        atomic_store(&in->ctx->rt->stopping, true);
        if (e->type == ENV_EOS)
            atomic_store(l->eos_lost, true);
    }
    return rc;
}

/* A watermark or EOS on every port. Every port is tried even if one fails:
 * the consumers that can still be told must be. */
static int send_all(struct fl_inst *in, enum env_type type)
{
    struct fl_link *l = in->link;
    struct env e = { .type = type, .worker = (uint16_t)in->worker, .from = l->idx, .clock = l->clock };
    int rc = 0, r;
    for (size_t port = 0; port < in->st->n_ports; port++)
        if ((r = link_send(in, (int)port, &e)) < 0 && rc == 0)
            rc = r;
    l->sent_clock = l->clock;
    return rc;
}

/* ctx->emit for running stages. */
static int runtime_emit(struct fl_ctx *ctx, int port, struct fl_batch *b)
{
    struct fl_inst *in = ctx->inst;
    struct fl_link *l = in->link;
    if (in->st->plugin->kind == FL_KIND_INPUT && b->t_max > l->clock)
        l->clock = b->t_max;
    b->seq = ++l->seq;
    struct env e = { .type = ENV_BATCH, .worker = (uint16_t)in->worker, .from = l->idx,
                     .seq = b->seq, .clock = l->clock, .batch = b };
    l->sent_clock = l->clock;
    return link_send(in, port, &e);
}

bool fl_emits_across(const struct fl_ctx *ctx)
{
    const struct fl_inst *in = ctx->inst;
    if (!in || !in->link || !ctx->emit)
        return false;
    const struct fl_link *l = in->link;
    for (size_t k = 0; k < l->n_out[0]; k++)
        for (uint32_t w = 0; w < l->out[0][k].n; w++)
            if (!l->out[0][k].to[w].chained)
                return true;
    return false;
}

void fl_watermark(struct fl_ctx *ctx, uint64_t ts_ns)
{
    struct fl_inst *in = ctx->inst;
    if (!in || !in->link)
        return;
    struct fl_link *l = in->link;
    if (ts_ns > l->clock)
        l->clock = ts_ns;
    if (l->clock >= l->sent_clock + WATERMARK_EVERY_NS)
        (void)send_all(in, ENV_WATERMARK);   /* a failure has failed the stage */
}

/* The stage clock: minimum over source instances still sending. */
static uint64_t stage_clock(const struct fl_inst *in)
{
    const struct fl_link *l = in->link;
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < l->n_slots; i++)
        if (!l->up_done[i] && l->up_clock[i] < m)
            m = l->up_clock[i];
    return m;
}

/* Offer a batch until the plugin takes it; -FL_EAGAIN backs off (an output
 * whose server is down). While stopping, give up after a bounded wait and
 * count the rows as dropped: a stuck server must not hang shutdown. */
static int offer(struct fl_inst *in, struct fl_batch *b)
{
    unsigned delay_ms = 10, waited_ms = 0;
    for (;;) {
        int rc = in->st->plugin->process(in->ctx, in->state, b);
        if (rc != -FL_EAGAIN)
            return rc;
        if (fl_stopping(in->ctx) && waited_ms > 30000) {
            fl_counter_add(in->ctx, "records_dropped", b->rows);
            FL_LOG_ERROR(in->ctx, "gave up on %u records while stopping", b->rows);
            return 0;
        }
        struct timespec ts = { delay_ms / 1000, (long)(delay_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
        waited_ms += delay_ms;
        if (delay_ms < 1000)
            delay_ms *= 2;
    }
}

/* Which source slot a message came from: its from: entry (the first still
 * open, if a stage reads the same source twice) and the sending worker. */
static size_t up_slot(const struct fl_inst *in, const struct env *e)
{
    const struct fl_stage *st = in->st;
    const struct fl_link *l = in->link;
    size_t any = 0;
    for (size_t i = st->n_up; i-- > 0;)
        if (st->up[i].stage == e->from) {
            any = l->slot_base[i] + e->worker;
            if (!l->up_done[any])
                return any;
        }
    return any;
}

static void stage_fail(struct fl_inst *in, int rc, const char *what)
{
    const struct fl_stage_conf *sc = in->st->conf;
    if (in->link->rc == 0) {
        FL_LOG_ERROR(in->ctx, "%s failed: %s (%s:%u:%u); stopping the pipeline", what,
                     fl_strerror(rc), sc->pos.file, sc->pos.line, sc->pos.col);
        in->link->rc = rc;
    }
    atomic_store(&in->ctx->rt->stopping, true);
}

/* fl_wake_at(): call wall_tick() if its time has come. True if it was
 * called (the loop looks again before blocking). */
static bool wall_due(struct fl_inst *in)
{
    struct fl_ctx *ctx = in->ctx;
    const struct fl_plugin *pl = in->st->plugin;
    if (!ctx->wake_at || !pl->wall_tick || in->link->rc != 0)
        return false;
    uint64_t now = fl_now_ns();
    if (now < ctx->wake_at)
        return false;
    ctx->wake_at = 0;
    int rc = pl->wall_tick(ctx, in->state, now);
    if (rc < 0)
        stage_fail(in, rc, "wall_tick");
    return true;
}

/* Block until an envelope is there; with a wake time asked for, at most
 * until then. True when one is there (or the wait failed: the receive
 * reports it). */
static bool wait_input(struct fl_inst *in)
{
    struct fl_ctx *ctx = in->ctx;
    if (!ctx->wake_at || !in->st->plugin->wall_tick || in->link->rc != 0)
        return true;
    uint64_t now = fl_now_ns();
    long ms = ctx->wake_at > now ? (long)((ctx->wake_at - now + 999999) / 1000000) : 0;
    zmq_pollitem_t it = { .socket = in->link->pull, .events = ZMQ_POLLIN };
    int n = zmq_poll(&it, 1, ms);
    return n != 0 && !(n < 0 && errno == EINTR);
}

/* One envelope for a consumer instance: the batch to process(), the
 * source's clock and EOS taken in, then tick() and a watermark downstream
 * when the stage clock moved. The batch reference is released. */
static void stage_step(struct fl_inst *in, struct env *e)
{
    struct fl_link *l = in->link;
    const struct fl_plugin *pl = in->st->plugin;
    size_t i = up_slot(in, e);
    int rc;

    if (e->clock > l->up_clock[i])
        l->up_clock[i] = e->clock;
    if (e->type == ENV_BATCH) {
        atomic_fetch_sub_explicit(&in->queued, 1, memory_order_relaxed);
        fl_counter_add(in->ctx, "records_in", e->batch->rows);
        if (l->rc == 0 && (rc = offer(in, e->batch)) < 0)
            stage_fail(in, rc, "process");
        fl_batch_release(&e->batch);
    } else if (e->type == ENV_EOS) {
        l->up_done[i] = true;
        l->n_eos++;
    }
    uint64_t gen = atomic_load_explicit(&in->ctx->rt->reload_gen, memory_order_relaxed);
    if (gen != in->reload_seen) {
        in->reload_seen = gen;
        if (pl->reload && l->rc == 0 && (rc = pl->reload(in->ctx, in->state)) < 0)
            stage_fail(in, rc, "reload");
    }
    uint64_t now = stage_clock(in);
    if (now != UINT64_MAX && now > l->clock) {
        l->clock = now;
        if (pl->tick && l->rc == 0 && (rc = pl->tick(in->ctx, in->state, now)) < 0)
            stage_fail(in, rc, "tick");
        if (l->clock >= l->sent_clock + WATERMARK_EVERY_NS)
            (void)send_all(in, ENV_WATERMARK);   /* failure: stage failed */
    }
}

/* After the last input: drain, EOS downstream, and count the instance as
 * finished. */
static void stage_finish(struct fl_inst *in)
{
    struct fl_link *l = in->link;
    const struct fl_plugin *pl = in->st->plugin;
    int rc;

    if (pl->drain && l->rc == 0 && (rc = pl->drain(in->ctx, in->state)) < 0)
        stage_fail(in, rc, "drain");
    (void)send_all(in, ENV_EOS);   /* failure: stage failed, eos_lost set */
    /* Only the last one: a failed run (EOS lost) still ends at the main
     * thread's poll, which gives the other stages time to drain what is
     * queued before the context is shut down under them. */
    if (atomic_fetch_add(l->done, 1) + 1 == l->n_total)
        pthread_kill(l->main, FL_WAKE_SIG);
}

/* An envelope for a chained instance (chain: true), in its source's
 * thread: what that instance's own thread would do with it. */
static void chained_push(struct fl_inst *to, struct env *e)
{
    stage_step(to, e);
    if (e->type == ENV_EOS && to->link->n_eos == to->link->n_slots)
        stage_finish(to);
}

static void *stage_main(void *arg)
{
    struct fl_inst *in = arg;
    struct fl_link *l = in->link;
    const struct fl_plugin *pl = in->st->plugin;
    int rc;

    char name[16];           /* for top -H and perf: "flows/1" */
    if (in->st->n_inst > 1)
        snprintf(name, sizeof(name), "%.10s/%u", in->st->conf->id, in->worker);
    else
        snprintf(name, sizeof(name), "%s", in->st->conf->id);
    pthread_setname_np(pthread_self(), name);
    fl_pin_self(in->cpu);
    if (pl->kind == FL_KIND_INPUT) {
        if ((rc = pl->run(in->ctx, in->state)) < 0)
            stage_fail(in, rc, "run");
        atomic_fetch_add(&in->ctx->rt->inputs_finished, 1);
    } else {
        while (l->n_eos < l->n_slots) {
            struct env e;
            if (wall_due(in) || !wait_input(in))
                continue;
            int got = zmq_recv(l->pull, &e, sizeof(e), 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got != (int)sizeof(e)) {   /* only our envelopes travel here */
                stage_fail(in, -FL_EIO, "link receive");
                break;
            }
            stage_step(in, &e);
        }
    }
    stage_finish(in);
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

static void link_free(struct fl_inst *in)
{
    struct fl_link *l = in->link;
    if (!l)
        return;
    if (l->pull)
        zmq_close(l->pull);
    for (size_t port = 0; l->out && port < in->st->n_ports; port++) {
        for (size_t k = 0; k < l->n_out[port]; k++) {
            struct fl_outlet *o = &l->out[port][k];
            for (uint32_t w = 0; o->push && w < o->n; w++)
                if (o->push[w])
                    zmq_close(o->push[w]);
            free(o->push);
            fl_outlet_fini(o);
        }
        free(l->out[port]);
    }
    free(l->out);
    free(l->n_out);
    free(l->sub);
    free(l->slot_base);
    free(l->up_clock);
    free(l->up_done);
    free(l);
    in->link = NULL;
}

/* Every instance's link, then the instances beyond worker 0; the stage's
 * own ctx goes back to being outside a running pipeline. */
static void insts_free(struct fl_pipeline *p)
{
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        for (uint32_t w = 0; st->inst && w < st->n_inst; w++) {
            struct fl_inst *in = &st->inst[w];
            link_free(in);
            if (w > 0 && in->ctx) {
                fl_stage_clone_free(st, in->ctx, &in->state);
                free(in->ctx);
            }
        }
        free(st->inst);
        st->inst = NULL;
        st->n_inst = 0;
        st->ctx.inst = NULL;
        st->ctx.emit = NULL;
    }
}

static int insts_new(struct fl_pipeline *p)
{
    int rc;
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        uint32_t n = st->part.mode == FL_PART_ONE ? 1 : st->conf->workers;
        if (!(st->inst = calloc(n, sizeof(*st->inst))))
            return -FL_ENOMEM;
        st->n_inst = n;
        for (uint32_t w = 0; w < n; w++) {
            struct fl_inst *in = &st->inst[w];
            *in = (struct fl_inst){ .st = st, .worker = w, .ctx = &st->ctx, .state = st->state, .cpu = -1,
                                    .reload_seen = atomic_load(&p->rt.reload_gen),
                                    .chained = st->conf->chain };
            if (w > 0) {
                if (!(in->ctx = calloc(1, sizeof(*in->ctx)))) {
                    st->n_inst = w;     /* the ones set up, for insts_free */
                    return -FL_ENOMEM;
                }
                if ((rc = fl_stage_clone(p, st, in->ctx, &in->state)) < 0) {
                    free(in->ctx);
                    in->ctx = NULL;
                    st->n_inst = w;     /* the ones set up, for insts_free */
                    FL_LOG_ERROR(&st->ctx, "cannot set up worker %u: %s", w, fl_strerror(rc));
                    return rc;
                }
            }
            in->ctx->inst = in;
            in->ctx->emit = runtime_emit;
        }
    }
    return 0;
}

static int link_new(struct fl_inst *in, const struct fl_pipeline *p, void *zmq, _Atomic size_t *done,
                    _Atomic bool *eos_lost)
{
    struct fl_stage *st = in->st;
    struct fl_link *l = calloc(1, sizeof(*l));
    char ep[64];
    if (!l)
        return -FL_ENOMEM;
    in->link = l;
    l->idx = (uint32_t)(st - p->stages);
    l->done = done;
    l->eos_lost = eos_lost;
    if (!(l->n_out = calloc(st->n_ports, sizeof(*l->n_out)))
        || !(l->out = calloc(st->n_ports, sizeof(*l->out)))
        || !(l->slot_base = calloc(st->n_up + 1, sizeof(*l->slot_base))))
        return -FL_ENOMEM;
    for (size_t k = 0; k < st->n_up; k++) {
        l->slot_base[k] = l->n_slots;
        l->n_slots += p->stages[st->up[k].stage].n_inst;
    }
    if (!(l->up_clock = calloc(l->n_slots + 1, sizeof(*l->up_clock)))
        || !(l->up_done = calloc(l->n_slots + 1, sizeof(*l->up_done))))
        return -FL_ENOMEM;
    if (st->plugin->kind == FL_KIND_INPUT)
        return 0;
    snprintf(ep, sizeof(ep), "inproc://fl-stage-%u-%u", l->idx, in->worker);
    if (!(l->pull = socket_new(zmq, ZMQ_PULL, ZMQ_RCVHWM)) || zmq_bind(l->pull, ep) < 0) {
        FL_LOG_ERROR(in->ctx, "cannot bind %s: %s", ep, zmq_strerror(errno));
        return -FL_EIO;
    }
    return 0;
}

/* An outlet on a producer instance's port: one PUSH to each worker of the
 * consumer stage `to`. */
static int outlet_new(struct fl_inst *src, int port, const struct fl_stage *to, size_t to_idx, void *zmq)
{
    struct fl_link *sl = src->link;
    char ep[64];
    struct fl_outlet *v = realloc(sl->out[port], (sl->n_out[port] + 1) * sizeof(*v));
    if (!v)
        return -FL_ENOMEM;
    sl->out[port] = v;
    struct fl_outlet *o = &v[sl->n_out[port]++];
    *o = (struct fl_outlet){ .n = to->n_inst, .part = &to->part, .to = to->inst };
    if (!(o->push = calloc(o->n, sizeof(*o->push))))
        return -FL_ENOMEM;
    if (o->n > 1) {
        struct fl_batch **sub = realloc(sl->sub, o->n * sizeof(*sub));
        if (!sub)
            return -FL_ENOMEM;
        sl->sub = sub;
    }
    for (uint32_t w = 0; w < o->n; w++) {
        snprintf(ep, sizeof(ep), "inproc://fl-stage-%zu-%u", to_idx, w);
        if (!(o->push[w] = socket_new(zmq, ZMQ_PUSH, ZMQ_SNDHWM)) || zmq_connect(o->push[w], ep) < 0) {
            FL_LOG_ERROR(src->ctx, "cannot connect to %s: %s", ep, zmq_strerror(errno));
            return -FL_EIO;
        }
    }
    return 0;
}

/* Bind every instance's PULL, then give every producer instance an outlet
 * per (port, consumer stage). With workers the sockets can outnumber
 * libzmq's default limit of 1023 per context: raise it to what is needed. */
static int links_new(struct fl_pipeline *p, void *zmq, _Atomic size_t *done, _Atomic bool *eos_lost)
{
    size_t sockets = 64, insts = 0;
    int rc;
    for (size_t i = 0; i < p->n; i++) {
        const struct fl_stage *st = &p->stages[i];
        sockets += st->n_inst;
        insts += st->n_inst;
        for (size_t k = 0; k < st->n_up; k++)
            sockets += (size_t)p->stages[st->up[k].stage].n_inst * st->n_inst;
    }
    if (sockets > 1023 && zmq_ctx_set(zmq, ZMQ_MAX_SOCKETS, sockets > INT_MAX ? INT_MAX : (int)sockets) < 0)
        FL_LOG_WARN(NULL, "cannot raise the ZeroMQ socket limit to %zu: %s", sockets, zmq_strerror(errno));
    for (size_t i = 0; i < p->n; i++)
        for (uint32_t w = 0; w < p->stages[i].n_inst; w++) {
            if ((rc = link_new(&p->stages[i].inst[w], p, zmq, done, eos_lost)) < 0)
                return rc;
            p->stages[i].inst[w].link->main = pthread_self();
            p->stages[i].inst[w].link->n_total = insts;
        }
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        for (size_t k = 0; k < st->n_up; k++) {
            struct fl_stage *src = &p->stages[st->up[k].stage];
            for (uint32_t w = 0; w < src->n_inst; w++)
                if ((rc = outlet_new(&src->inst[w], st->up[k].port, st, i, zmq)) < 0)
                    return rc;
        }
    }
    return 0;
}

/* ---- progress and counters -------------------------------------------- */
/* 1536 bytes as "1.5 KiB"; records (base 1000, no unit) as "1.5k". */
static void human(char *buf, size_t len, double v, bool records)
{
    static const char *const bytes[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    static const char *const counts[] = {"", "k", "M", "G", "T"};
    double base = records ? 1000 : 1024;
    int u = 0;
    while (v >= base && u < 4) {
        v /= base;
        u++;
    }
    snprintf(buf, len, u ? "%.1f%s%s" : "%.0f%s%s", v, records ? "" : " ",
             records ? counts[u] : bytes[u]);
}

struct progress { uint64_t t0; bool drawn; };

static void progress_draw(struct fl_pipeline *p, struct progress *pg, bool final)
{
    uint64_t done = 0, total = 0, recs = 0;
    bool records = true;
    for (size_t i = 0; i < p->n; i++) {
        struct fl_ctx *c = &p->stages[i].ctx;
        if (p->stages[i].plugin->kind != FL_KIND_INPUT)
            continue;
        done += atomic_load(&c->progress_done);
        total += atomic_load(&c->progress_total);
        recs += fl_counter_get(c, "records_out");
        records &= !atomic_load(&c->progress_total) || atomic_load(&c->progress_records);
    }
    if (!total)
        return;
    double secs = (double)(fl_now_ns() - pg->t0) / 1e9, frac = (double)done / (double)total;
    char d[32], t[32], eta[32] = "";
    int bar = (int)(frac * 30);
    human(d, sizeof(d), (double)done, records);
    human(t, sizeof(t), (double)total, records);
    if (!final && frac > 0.01 && secs > 0.2)
        snprintf(eta, sizeof(eta), "  ETA %.0fs", secs * (1 - frac) / frac);
    fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %s / %s  %.2f Mrec/s%s\033[K", bar,
            "##############################", 30 - bar, "", frac * 100, d, t,
            secs > 0 ? (double)(records ? done : recs) / secs / 1e6 : 0.0, eta);
    if (final)
        fputc('\n', stderr);
    pg->drawn = true;
}

/* ---- run ---------------------------------------------------------------- */
static void fini_stages(struct fl_pipeline *p)
{
    for (size_t k = p->n; k-- > 0;) {
        struct fl_stage *st = &p->stages[p->order[k]];
        for (uint32_t w = 0; w < st->n_inst; w++) {
            struct fl_inst *in = &st->inst[w];
            if (in->inited && st->plugin->fini)
                st->plugin->fini(in->ctx, in->state);
            in->inited = false;
        }
    }
}

/* init, then start, of every instance, sources first. */
static int start_stages(struct fl_pipeline *p)
{
    int rc;
    for (size_t k = 0; k < p->n; k++) {
        struct fl_stage *st = &p->stages[p->order[k]];
        for (uint32_t w = 0; w < st->n_inst; w++) {
            struct fl_inst *in = &st->inst[w];
            if (st->plugin->init && (rc = st->plugin->init(in->ctx, in->state)) < 0) {
                FL_LOG_ERROR(in->ctx, "init failed: %s", fl_strerror(rc));
                return rc;
            }
            in->inited = true;
        }
    }
    for (size_t k = 0; k < p->n; k++) {
        struct fl_stage *st = &p->stages[p->order[k]];
        for (uint32_t w = 0; w < st->n_inst; w++) {
            struct fl_inst *in = &st->inst[w];
            if (st->plugin->start && (rc = st->plugin->start(in->ctx, in->state)) < 0) {
                FL_LOG_ERROR(in->ctx, "start failed: %s", fl_strerror(rc));
                return rc;
            }
        }
    }
    return 0;
}

int fl_pipeline_run(struct fl_pipeline *p, const struct fl_run_opts *o)
{
    _Atomic size_t done = 0;
    _Atomic bool eos_lost = false;
    size_t started = 0, total = 0;
    int rc = 0;
    sigset_t sigs, old;
    struct fl_metrics *metrics = NULL;
    void *zmq = zmq_ctx_new();

    if (!zmq)
        return -FL_ENOMEM;
    /* Signals are taken by this thread only (sigtimedwait below): block
     * them before any thread exists (plugins may start their own in
     * init/start), so none can get one and die of its default action. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, FL_WAKE_SIG);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    p->rt.diags = NULL;
    p->rt.inputs_total = 0;
    atomic_store(&p->rt.inputs_finished, 0);
    if ((rc = insts_new(p)) < 0 || (rc = links_new(p, zmq, &done, &eos_lost)) < 0)
        goto out;
    if ((rc = start_stages(p)) < 0)
        goto out;
    for (size_t i = 0; i < p->n; i++) {
        total += p->stages[i].n_inst;
        if (p->stages[i].plugin->kind == FL_KIND_INPUT)
            p->rt.inputs_total += p->stages[i].n_inst;
    }
    fl_pin_plan(p, o->pin);
    if (o->metrics && (rc = fl_metrics_start(p, o->metrics, fl_now_ns(), &metrics)) < 0)
        goto out;
    for (size_t k = p->n; k-- > 0;) {   /* consumers first */
        struct fl_stage *st = &p->stages[p->order[k]];
        for (uint32_t w = 0; w < st->n_inst; w++) {
            struct fl_inst *in = &st->inst[w];
            if (in->chained) {      /* runs in its source's thread */
                started++;
                continue;
            }
            if (pthread_create(&in->link->thread, NULL, stage_main, in) != 0) {
                FL_LOG_ERROR(in->ctx, "cannot start thread");
                atomic_store(&p->rt.stopping, true);
                rc = -FL_ENOMEM;
                goto threads_up;
            }
            in->link->thread_started = true;
            started++;
        }
    }
threads_up:;
    struct progress pg = { .t0 = fl_now_ns() };
    struct fl_stats stats = { .last_ns = pg.t0 };
    bool tty = isatty(STDERR_FILENO);
    int signals = 0;
    /* If a thread failed to start, or a stage could not send its EOS, some
     * consumers never see EOS: the ones that started are told to quit by
     * closing. */
    while (atomic_load(&done) < started && started == total && !atomic_load(&eos_lost)) {
        struct timespec ts = { 0, 100000000 };
        siginfo_t si;
        int sig = sigtimedwait(&sigs, &si, &ts);
        if (sig == FL_WAKE_SIG) {
            /* a stage finished: the loop condition decides */
        } else if (sig == SIGUSR1) {
            fl_counters_print(p, stderr);
        } else if (sig == SIGHUP) {
            /* logrotate: each stage reopens its files from its own thread,
             * with the next message it reads (watermarks come every 100 ms). */
            FL_LOG_INFO(NULL, "SIGHUP: reopening output files");
            atomic_fetch_add(&p->rt.reload_gen, 1);
        } else if (sig > 0) {
            if (++signals == 1) {
                FL_LOG_WARN(NULL, "%s: stopping, draining in-flight records (again to abort)",
                            strsignal(si.si_signo));
                atomic_store(&p->rt.stopping, true);
            } else {
                FL_LOG_ERROR(NULL, "aborted");
                _exit(130);
            }
        }
        uint64_t now = fl_now_ns();
        if (o->stats_ns && now >= stats.last_ns + o->stats_ns) {
            if (pg.drawn)
                fputc('\n', stderr);   /* keep the progress bar off the line */
            fl_stats_print(p, &stats, now, tty, stderr);
        }
        if (o->progress)
            progress_draw(p, &pg, false);
    }
    fl_stats_free(&stats);
    if (started != total || atomic_load(&eos_lost)) {
        /* Unblock everything: terminating the context makes blocked calls
         * fail. Batches still queued on links are lost (and leak): the run
         * has failed already. */
        zmq_ctx_shutdown(zmq);
    }
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        for (uint32_t w = 0; w < st->n_inst; w++) {
            struct fl_link *l = st->inst[w].link;
            if (l && l->thread_started)
                pthread_join(l->thread, NULL);
            if (l && (l->thread_started || st->inst[w].chained) && l->rc < 0 && rc == 0)
                rc = l->rc;
        }
    }
    if (o->progress && pg.drawn)
        progress_draw(p, &pg, true);
out:
    fl_metrics_stop(&metrics);
    fini_stages(p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (o->verbose)
        fl_counters_print(p, stderr);
    p->losses = fl_losses_print(p, stderr);
    insts_free(p);
    while (zmq_ctx_term(zmq) < 0 && errno == EINTR)   /* documented as restartable */
        ;
    return rc;
}
