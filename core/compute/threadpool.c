/* threadpool.c: a persistent pool; the calling thread works too.
 *
 * OpenBLAS is pinned to one thread: large products are split across this pool
 * (see gemm.c), so the two never oversubscribe the cores. Nested or concurrent
 * parallel loops run serially in the calling thread rather than deadlocking.
 */
#include "compute/threadpool.h"

#include <cblas.h>
#include <stdlib.h>

typedef struct {
  VlmRangeFunc fn;
  gpointer ctx;
  gint64 n, chunk;
  gint64 next;      /* atomic: first unclaimed item */
} Job;

static GMutex pool_lock;      /* protects everything below */
static GCond work_cond, done_cond;
static GThread **workers;
static int n_workers;
static int n_threads;         /* 0 until configured */
static guint64 generation;
static int busy;              /* workers still on the current job */
static gboolean quitting;
static Job *current;
static GMutex call_lock;      /* one parallel loop at a time */
static _Thread_local gboolean in_worker;
static _Thread_local const gint *background_flag;

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
  g_mutex_lock (&pool_lock);
  while (TRUE) {
    while (generation == seen && !quitting)
      g_cond_wait (&work_cond, &pool_lock);
    if (quitting)
      break;
    seen = generation;
    Job *job = current;
    g_mutex_unlock (&pool_lock);
    run_chunks (job);
    g_mutex_lock (&pool_lock);
    if (--busy == 0)
      g_cond_signal (&done_cond);
  }
  g_mutex_unlock (&pool_lock);
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
  current = &job;
  busy = n_workers;
  generation++;
  g_cond_broadcast (&work_cond);
  g_mutex_unlock (&pool_lock);

  in_worker = TRUE;
  run_chunks (&job);
  in_worker = FALSE;

  g_mutex_lock (&pool_lock);
  while (busy > 0)
    g_cond_wait (&done_cond, &pool_lock);
  current = NULL;
  g_mutex_unlock (&pool_lock);
  g_mutex_unlock (&call_lock);
}
