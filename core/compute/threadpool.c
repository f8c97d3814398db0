/* threadpool.c: a persistent pool; the calling thread works too.
 *
 * OpenBLAS is pinned to one thread: large products are split across this pool
 * (see gemm.c), so the two never oversubscribe the cores. Nested or concurrent
 * parallel loops run serially in the calling thread rather than deadlocking.
 */
#include "compute/threadpool.h"
#include "compute/blas-setup.h"

#include <cblas.h>
#include <stdlib.h>

typedef struct {
  VlmRangeFunc fn;
  gpointer ctx;
  gint64 n, chunk;
  gint64 next;      /* atomic: first unclaimed item */
} Job;

/* Decoding posts a few hundred small loops per token: waking sleeping threads for each
 * would cost more than the work. Workers therefore spin on `generation` for a while
 * after each loop (about SPIN_ROUNDS pause instructions, ~0.1-1 ms) before sleeping on
 * work_cond, and the caller spins on `busy`, yielding the core once a worker seems
 * descheduled (a machine busier than its cores). A pause is ~40-140 cycles, so
 * SPIN_ROUNDS is some 30-100 us. */
#define SPIN_ROUNDS 2000

static GMutex pool_lock;      /* protects sleeping threads, quitting and the worker list */
static GCond work_cond;
static GThread **workers;
static int n_workers;
static int n_threads;         /* 0 until configured */
static guint64 generation;    /* atomic: bumped when a job is posted */
static int busy;              /* atomic: workers still on the current job */
static int sleepers;          /* workers blocked on work_cond */
static gboolean quitting;
static Job *current;
static GMutex call_lock;      /* one parallel loop at a time */
static _Thread_local gboolean in_worker;
static _Thread_local const gint *background_flag;

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

static void
run_chunks (Job *job)
{
  while (TRUE) {
    gint64 begin = __atomic_fetch_add (&job->next, job->chunk, __ATOMIC_RELAXED);
    if (begin >= job->n)
      return;
    job->fn (job->ctx, begin, MIN (begin + job->chunk, job->n));
  }
}

static gpointer
worker_main (gpointer data)
{
  guint64 seen = 0;
  in_worker = TRUE;
  while (TRUE) {
    for (int i = 0; i < SPIN_ROUNDS
                    && __atomic_load_n (&generation, __ATOMIC_ACQUIRE) == seen; i++)
      cpu_relax ();
    if (__atomic_load_n (&generation, __ATOMIC_ACQUIRE) == seen) {
      g_mutex_lock (&pool_lock);
      sleepers++;
      while (__atomic_load_n (&generation, __ATOMIC_ACQUIRE) == seen && !quitting)
        g_cond_wait (&work_cond, &pool_lock);
      sleepers--;
      gboolean quit = quitting;
      g_mutex_unlock (&pool_lock);
      if (quit)
        break;
    }
    seen = __atomic_load_n (&generation, __ATOMIC_ACQUIRE);
    Job *job = __atomic_load_n (&current, __ATOMIC_ACQUIRE);
    if (job)
      run_chunks (job);
    __atomic_fetch_sub (&busy, 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

static int
default_threads (void)
{
  const char *env = g_getenv ("VLM_NUM_THREADS");
  if (env && *env) {
    gint64 v = g_ascii_strtoll (env, NULL, 10);
    if (v > 0 && v <= 1024)
      return (int) v;
  }
  return MAX (1, (int) g_get_num_processors ());
}

static void
stop_workers_locked (void)
{
  quitting = TRUE;
  __atomic_fetch_add (&generation, 1, __ATOMIC_RELEASE);
  g_cond_broadcast (&work_cond);
  g_mutex_unlock (&pool_lock);
  for (int i = 0; i < n_workers; i++)
    g_thread_join (workers[i]);
  g_mutex_lock (&pool_lock);
  g_clear_pointer (&workers, g_free);
  n_workers = 0;
  quitting = FALSE;
}

/**
 * vlm_set_num_threads:
 * @n_threads: threads for kernels; 0 restores the default (`VLM_NUM_THREADS`,
 *   else every core)
 */
void
vlm_set_num_threads (int n_threads_)
{
  g_mutex_lock (&call_lock);
  g_mutex_lock (&pool_lock);
  if (n_workers)
    stop_workers_locked ();
  n_threads = n_threads_ > 0 ? n_threads_ : default_threads ();
  g_mutex_unlock (&pool_lock);
  openblas_set_num_threads (1);
  vlm_blas_setup ();
  g_mutex_unlock (&call_lock);
}

/**
 * vlm_get_num_threads:
 *
 * Returns: the number of threads kernels use
 */
int
vlm_get_num_threads (void)
{
  g_mutex_lock (&pool_lock);
  gboolean unset = n_threads == 0;
  g_mutex_unlock (&pool_lock);
  if (unset)
    vlm_set_num_threads (0);
  g_mutex_lock (&pool_lock);
  int n = n_threads;
  g_mutex_unlock (&pool_lock);
  return n;
}

/**
 * vlm_parallel_set_background_flag:
 * @flag: (nullable): while it points to a nonzero value, the calling thread's
 *   parallel loops run serially in that thread; %NULL restores the default
 */
void
vlm_parallel_set_background_flag (const gint *flag)
{
  background_flag = flag;
}

/**
 * vlm_parallel_for:
 * @n: number of items
 * @grain: the smallest useful chunk of items
 * @fn: called with disjoint ranges covering [0, @n)
 * @ctx: passed to @fn
 */
void
vlm_parallel_for (gint64 n, gint64 grain, VlmRangeFunc fn, gpointer ctx)
{
  if (n <= 0)
    return;
  int threads = vlm_get_num_threads ();
  grain = MAX (grain, 1);
  if (threads <= 1 || n <= grain || in_worker
      || (background_flag && g_atomic_int_get (background_flag))
      || !g_mutex_trylock (&call_lock)) {
    fn (ctx, 0, n);
    return;
  }
  /* About four chunks per thread balances uneven work without much overhead. */
  Job job = { fn, ctx, n, MAX (grain, (n + threads * 4 - 1) / (threads * 4)), 0 };
  g_mutex_lock (&pool_lock);
  if (n_workers == 0) {
    workers = g_new0 (GThread *, threads - 1);
    for (int i = 0; i < threads - 1; i++)
      workers[i] = g_thread_new ("vlm-worker", worker_main, NULL);
    n_workers = threads - 1;
  }
  __atomic_store_n (&busy, n_workers, __ATOMIC_RELAXED);
  __atomic_store_n (&current, &job, __ATOMIC_RELEASE);
  __atomic_fetch_add (&generation, 1, __ATOMIC_RELEASE);
  if (sleepers > 0)
    g_cond_broadcast (&work_cond);
  g_mutex_unlock (&pool_lock);

  in_worker = TRUE;
  run_chunks (&job);
  in_worker = FALSE;

  /* Workers finish their last chunk within microseconds; yield if one was descheduled. */
  for (guint spins = 0; __atomic_load_n (&busy, __ATOMIC_ACQUIRE) > 0; spins++) {
    if (spins < SPIN_ROUNDS)
      cpu_relax ();
    else
      g_thread_yield ();
  }
  __atomic_store_n (&current, NULL, __ATOMIC_RELAXED);
  g_mutex_unlock (&call_lock);
}
