/* kv-cache.c: the preallocated key/value cache of a decoder. */
#include "nn/kv-cache.h"

#include "vlm/vlm-error.h"

#include <string.h>

/**
 * vlm_kv_cache_new:
 * @n_layers: decoder layers
 * @capacity: the most positions it will hold (prompt + generated tokens)
 * @kv_dim: key/value heads times head size
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): an empty cache; %NULL with @error set when the
 *   size is not representable or the memory cannot be had
 */
VlmKvCache *
vlm_kv_cache_new (gint64 n_layers, gint64 capacity, gint64 kv_dim, GError **error)
{
  if (n_layers <= 0 || capacity <= 0 || kv_dim <= 0
      || (guint64) capacity > G_MAXSIZE / sizeof (float) / (guint64) kv_dim / (guint64) n_layers
                                  / 2) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT,
                 "KV cache of %" G_GINT64_FORMAT " layers x %" G_GINT64_FORMAT
                 " positions x %" G_GINT64_FORMAT " is not possible", n_layers, capacity, kv_dim);
    return NULL;
  }
  gsize n = (gsize) n_layers * (gsize) capacity * (gsize) kv_dim;
  VlmKvCache *c = g_new0 (VlmKvCache, 1);
  c->n_layers = n_layers;
  c->capacity = capacity;
  c->kv_dim = kv_dim;
  c->k = g_try_malloc (n * sizeof (float));
  c->v = g_try_malloc (n * sizeof (float));
  c->key_valid = g_try_malloc ((gsize) capacity);
  if (!c->k || !c->v || !c->key_valid) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT,
                 "out of memory for a KV cache of %" G_GINT64_FORMAT " positions (%" G_GSIZE_FORMAT
                 " MiB)", capacity, 2 * n * sizeof (float) >> 20);
    vlm_kv_cache_free (c);
    return NULL;
  }
  vlm_kv_cache_reset (c);
  return c;
}

/**
 * vlm_kv_cache_free:
 * @cache: (nullable): a cache
 */
void
vlm_kv_cache_free (VlmKvCache *cache)
{
  if (!cache)
    return;
  g_free (cache->k);
  g_free (cache->v);
  g_free (cache->key_valid);
  g_free (cache);
}

/**
 * vlm_kv_cache_reset:
 * @cache: a cache
 *
 * Forgets every position (a new sequence); all positions count as valid again.
 */
void
vlm_kv_cache_reset (VlmKvCache *cache)
{
  cache->len = 0;
  memset (cache->key_valid, 1, (gsize) cache->capacity);
}

/**
 * vlm_kv_cache_keys:
 * @cache: a cache
 * @layer: a layer index
 *
 * Returns: (transfer none): the layer's keys, [capacity, kv_dim]
 */
float *
vlm_kv_cache_keys (VlmKvCache *cache, gint64 layer)
{
  return cache->k + layer * cache->capacity * cache->kv_dim;
}

/**
 * vlm_kv_cache_values:
 * @cache: a cache
 * @layer: a layer index
 *
 * Returns: (transfer none): the layer's values, [capacity, kv_dim]
 */
float *
vlm_kv_cache_values (VlmKvCache *cache, gint64 layer)
{
  return cache->v + layer * cache->capacity * cache->kv_dim;
}
