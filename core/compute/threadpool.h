/* threadpool.h: one persistent worker pool shared by all kernels. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Processes items [begin, end) of a parallel loop. */
typedef void (*VlmRangeFunc) (gpointer ctx, gint64 begin, gint64 end);

void vlm_parallel_for (gint64 n, gint64 grain, VlmRangeFunc fn, gpointer ctx);
int  vlm_get_num_threads (void);
void vlm_set_num_threads (int n_threads);
/* A background thread (e.g. a vision encoder beside a decode loop) calls this so that its
 * loops run in itself alone while *flag is nonzero, leaving the pool to the others. */
void vlm_parallel_set_background_flag (const gint *flag);

G_END_DECLS
