/* batch-progress.h: `batch` progress on stderr: a bar on a terminal, else a line every
 * few seconds. */
#pragma once

#include <glib.h>

typedef struct {
  guint total, done, failed, resumed;
  guint64 tokens;
  gint64 start, last_print;
  gboolean tty;
} BatchProgress;

void batch_progress_init (BatchProgress *p, guint total, guint resumed);
void batch_progress_update (BatchProgress *p, gboolean failed, guint n_tokens);
void batch_progress_finish (BatchProgress *p);
