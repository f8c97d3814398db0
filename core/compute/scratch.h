/* scratch.h: grow-only per-thread buffers, so that hot loops do not allocate per call. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GPrivate data;
  GPrivate size;
} VlmScratch;

#define VLM_SCRATCH_INIT { G_PRIVATE_INIT (g_free), G_PRIVATE_INIT (NULL) }

gpointer vlm_scratch_get (VlmScratch *scratch, gsize bytes);

G_END_DECLS
