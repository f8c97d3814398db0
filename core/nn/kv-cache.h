/* kv-cache.h: per-layer keys and values of the positions seen so far, allocated once for
 * the whole context (prompt + generated tokens) so decoding never allocates. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Layer l keeps k and v as [capacity, kv_dim] (kv_dim = kv heads * head size), the layout
 * vlm_attention() reads directly: the first len rows are the cached positions. */
typedef struct {
  gint64 n_layers, capacity, kv_dim;
  gint64 len;         /* positions filled */
  float *k, *v;       /* [n_layers, capacity, kv_dim] */
  guint8 *key_valid;  /* [capacity]: 0 for padding positions of the prompt */
} VlmKvCache;

VlmKvCache *vlm_kv_cache_new (gint64 n_layers, gint64 capacity, gint64 kv_dim, GError **error);
void        vlm_kv_cache_free (VlmKvCache *cache);
void        vlm_kv_cache_reset (VlmKvCache *cache);
float      *vlm_kv_cache_keys (VlmKvCache *cache, gint64 layer);
float      *vlm_kv_cache_values (VlmKvCache *cache, gint64 layer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmKvCache, vlm_kv_cache_free)

G_END_DECLS
