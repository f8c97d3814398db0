/* scratch.c: grow-only per-thread buffers. */
#include "compute/scratch.h"

/**
 * vlm_scratch_get:
 * @scratch: a static #VlmScratch (VLM_SCRATCH_INIT)
 * @bytes: size needed
 *
 * Returns: (transfer none): this thread's buffer of @scratch, at least @bytes long; its
 *   contents are undefined, and it lives until the thread ends or a larger size is asked
 */
gpointer
vlm_scratch_get (VlmScratch *scratch, gsize bytes)
{
  gsize have = GPOINTER_TO_SIZE (g_private_get (&scratch->size));
  gpointer p = g_private_get (&scratch->data);
  if (!p || have < bytes) {
    p = g_malloc (MAX (bytes, 1));
    g_private_replace (&scratch->data, p);
    g_private_set (&scratch->size, GSIZE_TO_POINTER (bytes));
  }
  return p;
}
