// Thin C shim over oneDNN 2.6: macros and helpers Swift cannot import directly.
#ifndef HRNET_CDNNL_SHIM_H
#define HRNET_CDNNL_SHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <dnnl.h>
#include <dnnl_debug.h>
#include <stddef.h>
#include "bf16_rows.h"

/// DNNL_MEMORY_ALLOCATE / DNNL_MEMORY_NONE are pointer macros Swift does not import.
static inline void *cdnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
static inline void *cdnnl_memory_none(void) { return DNNL_MEMORY_NONE; }

/// DNNL_ARG_* for the weights/bias/sum operands of post-op binary inputs.
static inline int cdnnl_arg_attr_multiple_post_op(int idx) { return DNNL_ARG_ATTR_MULTIPLE_POST_OP(idx); }

/// OpenMP thread count for oneDNN's CPU runtime. libdnnl loads libgomp; Debian ships no
/// unversioned libgomp.so to link against, so the two calls are looked up at run time.
static inline void cdnnl_set_num_threads(int n) {
    static void (*set)(int) = 0;
    if (!set) set = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set) set(n);
}
static inline int cdnnl_get_max_threads(void) {
    static int (*get)(void) = 0;
    if (!get) get = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    return get ? get() : 1;
}

/// Runs fn(ctx, thread, threads) on `threads` threads of oneDNN's own OpenMP pool (libgomp's
/// GOMP_parallel), so the engine's kernels never compete with idle-spinning OpenMP workers.
/// Returns 0 (and runs nothing) when libgomp is not loaded; the caller then uses its own threads.
typedef void (*cdnnl_task_fn)(void *ctx, int thread, int threads);
struct cdnnl_task { cdnnl_task_fn fn; void *ctx; };
static inline void cdnnl_task_trampoline(void *p) {
    static int (*num)(void) = 0, (*count)(void) = 0;
    if (!num) num = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_thread_num");
    if (!count) count = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_num_threads");
    struct cdnnl_task *t = (struct cdnnl_task *)p;
    t->fn(t->ctx, num(), count());
}
static inline int cdnnl_parallel(int threads, cdnnl_task_fn fn, void *ctx) {
    static void (*gomp_parallel)(void (*)(void *), void *, unsigned, unsigned) = 0;
    if (!gomp_parallel)
        gomp_parallel = (void (*)(void (*)(void *), void *, unsigned, unsigned))dlsym(RTLD_DEFAULT, "GOMP_parallel");
    if (!gomp_parallel || !dlsym(RTLD_DEFAULT, "omp_get_thread_num")) return 0;
    struct cdnnl_task t = { fn, ctx };
    gomp_parallel(cdnnl_task_trampoline, &t, (unsigned)threads, 0);
    return 1;
}

#endif
