/* threadpool.h: one persistent worker pool shared by all kernels. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Processes items [begin, end) of a parallel loop. */
typedef void (*VlmRangeFunc) (gpointer ctx, gint64 begin, gint64 end);

void vlm_parallel_for (gint64 n, gint64 grain, VlmRangeFunc fn, gpointer ctx);
int  vlm_get_num_threads (void);
void vlm_set_num_threads (int n_threads);

G_END_DECLS
