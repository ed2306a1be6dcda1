/* affinity.c: the thread affinity plan of `flowline run --pin`.
 *
 * With --pin, on a machine with at least two CPUs, the inputs take the first
 * CPU the process may use and the workers of a stage with workers: N spread
 * over the others, one CPU each in turn, so the producer that splits batches
 * never competes with the workers it feeds while there are CPUs to avoid
 * it. Stages with one instance float. It is off by default: on the shared
 * 2-core machine it was measured on, pinned threads could not move to
 * whichever core was free and every run was slower (docs/performance.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include "pipeline.h"

void fl_pin_plan(struct fl_pipeline *p, bool enabled)
{
    cpu_set_t set;
    int cpus[CPU_SETSIZE], m = 0;
    bool workers = false;

    for (size_t i = 0; i < p->n; i++)
        workers |= p->stages[i].n_inst > 1;
    if (!enabled || !workers
        || sched_getaffinity(0, sizeof(set), &set) < 0)
        return;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus[m++] = c;
    if (m < 2)
        return;
    uint32_t next = 0;   /* workers of all stages share the other CPUs in turn */
    for (size_t i = 0; i < p->n; i++) {
        struct fl_stage *st = &p->stages[i];
        for (uint32_t w = 0; w < st->n_inst; w++) {
            if (st->plugin->kind == FL_KIND_INPUT)
                st->inst[w].cpu = cpus[0];
            else if (st->n_inst > 1)
                st->inst[w].cpu = cpus[1 + next++ % (uint32_t)(m - 1)];
        }
    }
}

void fl_pin_self(int cpu)
{
    cpu_set_t set;
    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    /* A refusal (a cpuset changed under us) only costs the plan. */
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
