/*
 * sample.c - one sample of a cell: every thread runs timed batches through
 * the cell's ops for at least the minimum time.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "bench.h"

#define MAX_TIMED_BATCHES 65536

struct worker {
    struct bench_cell *c;
    int t, cpu, rc;
    double min_time;
    uint64_t batches, recorded;
    uint32_t *cycles; /* TSC ticks of each timed batch (saturated at 2^32-1) */
    pthread_barrier_t *go;
};

void bench_pin(int cpu)
{
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

/* Runs batches on state |t| for at least |min_time| (after one untimed batch), timing each. */
static void *work(void *arg)
{
    struct worker *w = arg;
    bench_pin(w->cpu);
    w->rc = bench_cell_run_once(w->c, w->t); /* untimed: warms caches after other cells ran */
    if (w->go != NULL) {
        pthread_barrier_wait(w->go);
    }
    double t0 = bench_now();
    uint64_t b0 = bench_rdtsc();
    while (w->rc == 0) {
        w->rc = bench_cell_run_once(w->c, w->t);
        uint64_t b1 = bench_rdtsc();
        if (w->recorded < MAX_TIMED_BATCHES) {
            uint64_t d = b1 - b0;
            w->cycles[w->recorded++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        }
        w->batches++;
        b0 = b1;
        if ((w->batches & 15) == 0 || w->recorded >= MAX_TIMED_BATCHES) {
            if (bench_now() - t0 >= w->min_time) {
                break;
            }
        }
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/*
 * One sample: every thread runs batches for at least |min_time|, each batch
 * timed with the TSC. A thread's speed is its batch bytes over its median
 * batch time, so preemption by other processes (which lengthens a few
 * batches on a shared machine) does not count as engine time; the sample is
 * the sum of the threads' speeds (they run at the same time, started by a
 * barrier). Cycles per byte: the median batch's TSC ticks over its bytes.
 */
int bench_sample(struct bench_cell *c, double min_time, int first_cpu, int ncpu)
{
    struct worker w[BENCH_MAX_THREADS];
    pthread_t th[BENCH_MAX_THREADS];
    pthread_barrier_t go;
    int n = c->threads;
    int rc = 0;
    if (n > 1) {
        pthread_barrier_init(&go, NULL, (unsigned)n);
    }
    for (int t = 0; t < n; t++) {
        w[t] = (struct worker){.c = c,
                               .t = t,
                               .cpu = ncpu > 0 ? (first_cpu + t) % ncpu : -1,
                               .min_time = min_time,
                               .go = n > 1 ? &go : NULL,
                               .cycles = malloc(MAX_TIMED_BATCHES * sizeof(uint32_t))};
        if (w[t].cycles == NULL) {
            rc = -1;
        }
    }
    int started = 0;
    for (int t = 0; t < n && rc == 0; t++) {
        if (n == 1) {
            w[t].cpu = -1; /* the main thread is already pinned */
            work(&w[t]);
        } else if (pthread_create(&th[t], NULL, work, &w[t]) != 0) {
            rc = -1; /* the others would wait at the barrier forever: give up the cell */
            break;
        }
        started++;
    }
    double gbps = 0, cpb = 0, mean_gbps = 0;
    double batch_bytes = (double)c->batch * (double)c->unit_bytes;
    double hz = bench_tsc_hz();
    for (int t = 0; t < started; t++) {
        if (n > 1) {
            pthread_join(th[t], NULL);
        }
        rc |= w[t].rc;
        if (w[t].recorded == 0) {
            rc = -1;
            continue;
        }
        double sum = 0;
        for (uint64_t k = 0; k < w[t].recorded; k++) {
            sum += w[t].cycles[k];
        }
        mean_gbps += batch_bytes / (sum / (double)w[t].recorded / hz) / 1e9;
        qsort(w[t].cycles, w[t].recorded, sizeof(uint32_t), cmp_u32);
        double med = w[t].cycles[w[t].recorded / 2];
        gbps += batch_bytes / (med / hz) / 1e9;
        cpb += med / batch_bytes / n;
    }
    for (int t = 0; t < n; t++) {
        free(w[t].cycles);
    }
    if (n > 1) {
        pthread_barrier_destroy(&go);
    }
    if (rc != 0) {
        return -1;
    }
    c->gbps[c->nsamples] = gbps;
    c->cpb[c->nsamples] = cpb;
    c->mean_gbps[c->nsamples] = mean_gbps;
    c->nsamples++;
    return 0;
}
