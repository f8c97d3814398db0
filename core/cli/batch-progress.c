/* batch-progress.c: rates count only this run's requests (not resumed ones), so the ETA
 * after --resume is right. */
#include "batch-progress.h"

#include <stdio.h>
#include <unistd.h>

#define BAR_WIDTH 24
#define TTY_INTERVAL_US (G_USEC_PER_SEC / 10)
#define PLAIN_INTERVAL_US (5 * G_USEC_PER_SEC)

void
batch_progress_init (BatchProgress *p, guint total, guint resumed)
{
  *p = (BatchProgress) { .total = total, .done = resumed, .resumed = resumed };
  p->start = p->last_print = g_get_monotonic_time ();
  p->tty = isatty (STDERR_FILENO);
}

static void
print (BatchProgress *p, gboolean final)
{
  double s = (double) (g_get_monotonic_time () - p->start) / G_USEC_PER_SEC;
  guint ran = p->done - p->resumed;
  double qps = s > 0 ? ran / s : 0, tps = s > 0 ? p->tokens / s : 0;
  guint left = p->total > p->done ? p->total - p->done : 0;
  double eta = qps > 0 ? left / qps : 0;
  if (p->tty) {
    char bar[BAR_WIDTH + 1];
    guint filled = p->total ? (guint) ((guint64) BAR_WIDTH * MIN (p->done, p->total) / p->total) : BAR_WIDTH;
    for (guint i = 0; i < BAR_WIDTH; i++)
      bar[i] = i < filled ? '#' : '-';
    bar[BAR_WIDTH] = 0;
    fprintf (stderr, "\r[%s] %u/%u  %u failed  %.2f q/s  %.1f tok/s  ETA %um%02us\033[K%s", bar,
             p->done, p->total, p->failed, qps, tps, (guint) eta / 60, (guint) eta % 60,
             final ? "\n" : "");
  } else {
    fprintf (stderr, "vlm-pipeline: batch: %u/%u done, %u failed, %.2f questions/s, "
                     "%.1f tokens/s, ETA %.0f s\n", p->done, p->total, p->failed, qps, tps, eta);
  }
  fflush (stderr);
}

void
batch_progress_update (BatchProgress *p, gboolean failed, guint n_tokens)
{
  p->done++;
  p->failed += failed;
  p->tokens += n_tokens;
  gint64 now = g_get_monotonic_time ();
  if (now - p->last_print >= (p->tty ? TTY_INTERVAL_US : PLAIN_INTERVAL_US)) {
    p->last_print = now;
    print (p, FALSE);
  }
}

void
batch_progress_finish (BatchProgress *p)
{
  print (p, TRUE);
}
