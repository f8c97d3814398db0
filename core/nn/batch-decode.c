/* batch-decode.c: the decoder's forward pass for one new token of each of n sequences.
 * Row i belongs to caches[i] and sits at position caches[i]->len. Everything but the
 * attention is row-independent and runs over the n rows at once; attention reads each
 * sequence's own cache. With n = 1 it computes what vlm_decoder_forward() does for one
 * row. */
#include "nn/batch-decode.h"

#include "compute/threadpool.h"

#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

/**
 * vlm_decoder_batch_new:
 * @dec: a decoder
 * @max_batch: the most sequences one step advances
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): scratch for batched decode steps
 */
VlmDecoderBatch *
vlm_decoder_batch_new (VlmDecoder *dec, gint64 max_batch, GError **error)
{
  const VlmDecoderConfig *c = &dec->cfg;
  if (max_batch <= 0 || max_batch > 4096) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT, "a batch of %" G_GINT64_FORMAT
                 " sequences is not possible", max_batch);
    return NULL;
  }
  gint64 qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
  VlmDecoderBatch *b = g_new0 (VlmDecoderBatch, 1);
  b->max_batch = max_batch;
  b->x = g_try_new (float, max_batch * c->hidden);
  b->h = g_try_new (float, max_batch * c->hidden);
  b->q = g_try_new (float, max_batch * qd);
  b->k = g_try_new (float, max_batch * kvd);
  b->v = g_try_new (float, max_batch * kvd);
  b->attn = g_try_new (float, max_batch * qd);
  b->gate = g_try_new (float, max_batch * c->intermediate);
  b->up = g_try_new (float, max_batch * c->intermediate);
  b->positions = g_try_new (gint64, max_batch);
  if (!b->x || !b->h || !b->q || !b->k || !b->v || !b->attn || !b->gate || !b->up
      || !b->positions) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT,
                 "out of memory for decoding %" G_GINT64_FORMAT " sequences at once", max_batch);
    vlm_decoder_batch_free (b);
    return NULL;
  }
  return b;
}

/**
 * vlm_decoder_batch_free:
 * @batch: (nullable): scratch
 */
void
vlm_decoder_batch_free (VlmDecoderBatch *batch)
{
  if (!batch)
    return;
  g_free (batch->x);
  g_free (batch->h);
  g_free (batch->q);
  g_free (batch->k);
  g_free (batch->v);
  g_free (batch->attn);
  g_free (batch->gate);
  g_free (batch->up);
  g_free (batch->positions);
  g_free (batch);
}

/* Attention of rows [begin, end), each over its own cache: the new key and value row is
 * appended to the cache (the only copy) and the cache is read in place. */
typedef struct {
  VlmDecoder *dec;
  VlmDecoderBatch *b;
  VlmKvCache *const *caches;
  gint64 li;
} AttnJob;

static void
attn_range (gpointer data, gint64 begin, gint64 end)
{
  const AttnJob *j = data;
  const VlmDecoderConfig *c = &j->dec->cfg;
  const VlmDecoderLayer *l = &j->dec->layers[j->li];
  gint64 hd = c->head_dim, qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
  for (gint64 i = begin; i < end; i++) {
    VlmKvCache *cache = j->caches[i];
    float *keys = vlm_kv_cache_keys (cache, j->li), *values = vlm_kv_cache_values (cache, j->li);
    gint64 pos = j->b->positions[i];
    memcpy (keys + pos * kvd, j->b->k + i * kvd, (gsize) kvd * sizeof (float));
    memcpy (values + pos * kvd, j->b->v + i * kvd, (gsize) kvd * sizeof (float));
    VlmAttnMask mask = { .causal = TRUE, .q_offset = pos, .key_valid = cache->key_valid,
                         .softcap = c->attn_softcap, .window = l->window };
    vlm_attention (j->b->q + i * qd, keys, values, 1, pos + 1, c->n_heads, c->n_kv_heads, hd,
                   hd, &mask, j->b->attn + i * qd);
  }
}

static void
layer_forward (VlmDecoder *dec, VlmDecoderBatch *b, VlmKvCache *const *caches, gint64 li,
               gint64 n)
{
  const VlmDecoderConfig *c = &dec->cfg;
  const VlmDecoderLayer *l = &dec->layers[li];
  gint64 D = c->hidden, hd = c->head_dim;
  float eps = (float) c->rms_eps;

  vlm_rms_norm (b->x, vlm_tensor_get_data (l->attn_norm), c->norm_weight_offset, n, D, eps, b->h);
  const VlmLinear *qkv[] = { &l->q, &l->k, &l->v };
  float *qkv_out[] = { b->q, b->k, b->v };
  vlm_linear_forward_multi (qkv, 3, b->h, n, qkv_out);
  vlm_rope_apply (b->q, n, c->n_heads, hd, b->positions, dec->inv_freq, (int) hd,
                  c->rope_interleaved);
  vlm_rope_apply (b->k, n, c->n_kv_heads, hd, b->positions, dec->inv_freq, (int) hd,
                  c->rope_interleaved);
  /* One parallel loop over the sequences (each one's heads then run in its thread)
   * rather than one loop over the heads per sequence; a single sequence keeps the
   * loop over its heads. */
  AttnJob aj = { dec, b, caches, li };
  if (n > 1)
    vlm_parallel_for (n, 1, attn_range, &aj);
  else
    attn_range (&aj, 0, 1);
  vlm_linear_forward (&l->o, b->attn, n, b->h);
  vlm_add_f32 (b->x, b->x, b->h, n * D);

  vlm_rms_norm (b->x, vlm_tensor_get_data (l->mlp_norm), c->norm_weight_offset, n, D, eps, b->h);
  const VlmLinear *gate_up[] = { &l->gate, &l->up };
  float *gate_up_out[] = { b->gate, b->up };
  vlm_linear_forward_multi (gate_up, 2, b->h, n, gate_up_out);
  vlm_glu (b->gate, b->up, b->gate, n * c->intermediate, c->act);
  vlm_linear_forward (&l->down, b->gate, n, b->h);
  vlm_add_f32 (b->x, b->x, b->h, n * D);
}

/**
 * vlm_decoder_forward_batch:
 * @dec: a decoder
 * @batch: scratch for at least @n rows
 * @caches: (array length=n): the sequences' caches, distinct, each with room for one
 *   more position; each grows by one
 * @embeds: [n, hidden] the embeddings of each sequence's next token
 * @n: sequences
 * @logits: [n, vocab] receives each sequence's next-token logits
 */
void
vlm_decoder_forward_batch (VlmDecoder *dec, VlmDecoderBatch *batch, VlmKvCache *const *caches,
                           const float *embeds, gint64 n, float *logits)
{
  const VlmDecoderConfig *c = &dec->cfg;
  g_return_if_fail (n > 0 && n <= batch->max_batch);
  for (gint64 i = 0; i < n; i++) {
    g_return_if_fail (caches[i]->len < caches[i]->capacity);
    batch->positions[i] = caches[i]->len;
  }
  gint64 D = c->hidden;
  memcpy (batch->x, embeds, (gsize) (n * D) * sizeof (float));
  for (gint64 li = 0; li < c->n_layers; li++)
    layer_forward (dec, batch, caches, li, n);
  for (gint64 i = 0; i < n; i++)
    caches[i]->len++;
  vlm_rms_norm (batch->x, vlm_tensor_get_data (dec->final_norm), c->norm_weight_offset, n, D,
                (float) c->rms_eps, batch->h);
  vlm_linear_forward (dec->lm_head.data ? &dec->lm_head : &dec->embed, batch->h, n, logits);
  if (c->final_softcap > 0)
    for (gint64 i = 0; i < n * c->vocab; i++)
      logits[i] = c->final_softcap * tanhf (logits[i] / c->final_softcap);
}
