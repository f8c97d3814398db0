/* decoder.c: the decoder's forward pass over a KV cache, embeddings and the image merge.
 * One code path serves prefill (many rows: VlmLinear takes the sgemm route) and decoding
 * (one row: the GEMV kernels); keys and values are projected straight into the cache and
 * attention reads the cache in place. */
#include "nn/decoder.h"
#include "nn/mrope.h"

#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

/**
 * vlm_decoder_embed:
 * @dec: a decoder
 * @ids: (array length=n): token ids
 * @n: their number
 * @out: [n, hidden]
 * @error: return location for a #GError
 *
 * Returns: %FALSE (naming the id) for an id outside the vocabulary
 */
gboolean
vlm_decoder_embed (VlmDecoder *dec, const gint64 *ids, gint64 n, float *out, GError **error)
{
  if (!vlm_linear_embed (&dec->embed, ids, n, out, error))
    return FALSE;
  if (dec->cfg.embed_scale != 1.0f)
    vlm_scale_f32 (out, dec->cfg.embed_scale, n * dec->cfg.hidden);
  return TRUE;
}

/**
 * vlm_decoder_merge_image_features:
 * @dec: a decoder
 * @ids: (array length=n): the prompt's token ids
 * @n: their number
 * @features: [n_features, hidden] image features, in the order of the image tokens
 * @n_features: rows of @features
 * @embeds: [n, hidden] text embeddings; image-token rows are replaced
 * @error: return location for a #GError
 *
 * Returns: %FALSE when the number of image tokens differs from @n_features
 */
gboolean
vlm_decoder_merge_image_features (VlmDecoder *dec, const gint64 *ids, gint64 n,
                                  const float *features, gint64 n_features, float *embeds,
                                  GError **error)
{
  gint64 D = dec->cfg.hidden, tok = dec->cfg.image_token_id, count = 0;
  for (gint64 i = 0; i < n; i++)
    count += tok >= 0 && ids[i] == tok;
  if (count != n_features) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "input_ids has %" G_GINT64_FORMAT " image tokens (id %" G_GINT64_FORMAT
                 ") but image_features has %" G_GINT64_FORMAT " rows", count, tok, n_features);
    return FALSE;
  }
  for (gint64 i = 0, r = 0; i < n && r < n_features; i++)
    if (ids[i] == tok) {
      memcpy (embeds + i * D, features + (r++) * D, (gsize) D * sizeof (float));
      if (dec->cfg.scale_image_features)
        vlm_scale_f32 (embeds + i * D, dec->cfg.embed_scale, D);
    }
  return TRUE;
}

/**
 * vlm_decoder_prompt_spans:
 * @cfg: a decoder configuration
 * @token_types: (nullable) (array length=n): 1 marks image tokens (token_type_ids)
 * @n: prompt length
 * @spans: (out) (transfer full): (start, end) prompt row pairs, or %NULL when there are none
 * @n_spans: (out): their number
 * @error: return location for a #GError
 *
 * The bidirectional spans of a prompt under cfg->prompt_attention: none, the whole
 * prompt, or each run of image tokens.
 *
 * Returns: %FALSE when image blocks are needed and @token_types is missing or not 0/1
 */
gboolean
vlm_decoder_prompt_spans (const VlmDecoderConfig *cfg, const gint64 *token_types, gint64 n,
                          gint64 **spans, guint *n_spans, GError **error)
{
  *spans = NULL;
  *n_spans = 0;
  if (cfg->prompt_attention == VLM_PROMPT_CAUSAL)
    return TRUE;
  if (cfg->prompt_attention == VLM_PROMPT_PREFIX) {
    *spans = g_new (gint64, 2);
    (*spans)[0] = 0;
    (*spans)[1] = n;
    *n_spans = 1;
    return TRUE;
  }
  if (!token_types) {
    g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID,
                         "token_type_ids are needed to find the image blocks of the prompt");
    return FALSE;
  }
  GArray *a = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (gint64 i = 0; i < n; i++) {
    if (token_types[i] != 0 && token_types[i] != 1) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "token_type_ids element %" G_GINT64_FORMAT
                   " is %" G_GINT64_FORMAT ", not 0 or 1", i, token_types[i]);
      g_array_free (a, TRUE);
      return FALSE;
    }
    if (token_types[i] == 1 && (i == 0 || token_types[i - 1] != 1)) {
      gint64 end = i;
      while (end < n && token_types[end] == 1)
        end++;
      gint64 pair[2] = { i, end };
      g_array_append_vals (a, pair, 2);
    }
  }
  *n_spans = a->len / 2;
  *spans = (gint64 *) g_array_free (a, a->len == 0);
  return TRUE;
}

static float *
try_floats (gint64 n, gboolean *ok)
{
  float *p = n > 0 && (guint64) n <= G_MAXSIZE / sizeof (float)
                 ? g_try_malloc ((gsize) n * sizeof (float)) : NULL;
  if (!p)
    *ok = FALSE;
  return p;
}

/**
 * vlm_decoder_state_new:
 * @dec: a decoder
 * @max_rows: the most rows one forward call takes (the prompt length)
 * @capacity: the most positions of the sequence (prompt + new tokens)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the cache and scratch of one sequence
 */
VlmDecoderState *
vlm_decoder_state_new (VlmDecoder *dec, gint64 max_rows, gint64 capacity, GError **error)
{
  const VlmDecoderConfig *c = &dec->cfg;
  if (max_rows <= 0 || max_rows > capacity || max_rows > G_MAXINT32) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT, "a sequence of %" G_GINT64_FORMAT
                 " rows cannot be decoded", max_rows);
    return NULL;
  }
  g_autoptr (VlmDecoderState) s = g_new0 (VlmDecoderState, 1);
  s->cache = vlm_kv_cache_new (c->n_layers, capacity, c->n_kv_heads * c->head_dim, error);
  if (!s->cache)
    return NULL;
  gboolean ok = TRUE;
  gint64 qd = c->n_heads * c->head_dim;
  s->max_rows = max_rows;
  s->x = try_floats (max_rows * c->hidden, &ok);
  s->h = try_floats (max_rows * c->hidden, &ok);
  s->q = try_floats (max_rows * qd, &ok);
  s->attn = try_floats (max_rows * qd, &ok);
  s->gate = try_floats (max_rows * c->intermediate, &ok);
  s->up = try_floats (max_rows * c->intermediate, &ok);
  s->logits = try_floats (c->vocab, &ok);
  s->positions = g_try_new (gint64, max_rows);
  s->stream_positions = g_try_new (gint64, 3 * max_rows);
  if (!ok || !s->positions || !s->stream_positions) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT,
                 "out of memory for decoding %" G_GINT64_FORMAT " rows at once", max_rows);
    return NULL;
  }
  return g_steal_pointer (&s);
}

/**
 * vlm_decoder_state_free:
 * @state: (nullable): a state
 */
void
vlm_decoder_state_free (VlmDecoderState *state)
{
  if (!state)
    return;
  vlm_kv_cache_free (state->cache);
  g_free (state->x);
  g_free (state->h);
  g_free (state->q);
  g_free (state->attn);
  g_free (state->gate);
  g_free (state->up);
  g_free (state->logits);
  g_free (state->positions);
  g_free (state->stream_positions);
  g_free (state->spans);
  g_free (state);
}

static gboolean
uses_mrope (const VlmDecoderConfig *c)
{
  return c->mrope_section[0] + c->mrope_section[1] + c->mrope_section[2] > 0;
}

static void
layer_forward (VlmDecoder *dec, VlmDecoderState *s, gint64 li, gint64 n, VlmAttnMask *mask)
{
  const VlmDecoderConfig *c = &dec->cfg;
  const VlmDecoderLayer *l = &dec->layers[li];
  gint64 D = c->hidden, hd = c->head_dim, pos0 = s->cache->len;
  gint64 kvd = s->cache->kv_dim;
  float *keys = vlm_kv_cache_keys (s->cache, li), *values = vlm_kv_cache_values (s->cache, li);
  float eps = (float) c->rms_eps;

  vlm_rms_norm (s->x, vlm_tensor_get_data (l->attn_norm), c->norm_weight_offset, n, D, eps, s->h);
  /* q, k and v (and below gate and up) share their input: one parallel loop each. */
  const VlmLinear *qkv[] = { &l->q, &l->k, &l->v };
  float *qkv_out[] = { s->q, keys + pos0 * kvd, values + pos0 * kvd };
  vlm_linear_forward_multi (qkv, 3, s->h, n, qkv_out);
  if (l->q_norm) {
    vlm_rms_norm (s->q, vlm_tensor_get_data (l->q_norm), c->norm_weight_offset, n * c->n_heads,
                  hd, eps, s->q);
    vlm_rms_norm (keys + pos0 * kvd, vlm_tensor_get_data (l->k_norm), c->norm_weight_offset,
                  n * c->n_kv_heads, hd, eps, keys + pos0 * kvd);
  }
  /* Gemma 3's sliding layers rotate with their own (local) base. */
  const float *inv_freq = l->window > 0 && dec->inv_freq_local ? dec->inv_freq_local
                                                               : dec->inv_freq;
  if (uses_mrope (c)) {
    vlm_mrope_apply (s->q, n, c->n_heads, hd, s->stream_positions, n, inv_freq,
                     c->mrope_section);
    vlm_mrope_apply (keys + pos0 * kvd, n, c->n_kv_heads, hd, s->stream_positions, n, inv_freq,
                     c->mrope_section);
  } else {
    vlm_rope_apply (s->q, n, c->n_heads, hd, s->positions, inv_freq, (int) hd,
                    c->rope_interleaved);
    vlm_rope_apply (keys + pos0 * kvd, n, c->n_kv_heads, hd, s->positions, inv_freq, (int) hd,
                    c->rope_interleaved);
  }
  mask->window = l->window;
  vlm_attention (s->q, keys, values, n, pos0 + n, c->n_heads, c->n_kv_heads, hd, hd, mask,
                 s->attn);
  vlm_linear_forward (&l->o, s->attn, n, s->h);
  if (l->post_attn_norm)
    vlm_rms_norm (s->h, vlm_tensor_get_data (l->post_attn_norm), c->norm_weight_offset, n, D,
                  eps, s->h);
  vlm_add_f32 (s->x, s->x, s->h, n * D);

  vlm_rms_norm (s->x, vlm_tensor_get_data (l->mlp_norm), c->norm_weight_offset, n, D, eps, s->h);
  const VlmLinear *gate_up[] = { &l->gate, &l->up };
  float *gate_up_out[] = { s->gate, s->up };
  vlm_linear_forward_multi (gate_up, 2, s->h, n, gate_up_out);
  vlm_glu (s->gate, s->up, s->gate, n * c->intermediate, c->act);
  vlm_linear_forward (&l->down, s->gate, n, s->h);
  if (l->post_mlp_norm)
    vlm_rms_norm (s->h, vlm_tensor_get_data (l->post_mlp_norm), c->norm_weight_offset, n, D,
                  eps, s->h);
  vlm_add_f32 (s->x, s->x, s->h, n * D);
}

/**
 * vlm_decoder_forward:
 * @dec: a decoder
 * @state: the sequence's state; its cache grows by @n positions
 * @embeds: [n, hidden] input embeddings of the next @n positions
 * @n: rows, at most the state's max_rows and within its capacity
 * @final_hidden: (nullable): [n, hidden] receives every row after the final norm
 *
 * Runs the layers over the new positions, attending to the cached ones, and leaves the
 * next-token logits of the last row in state->logits.
 */
void
vlm_decoder_forward (VlmDecoder *dec, VlmDecoderState *state, const float *embeds, gint64 n,
                     float *final_hidden)
{
  const VlmDecoderConfig *c = &dec->cfg;
  VlmKvCache *cache = state->cache;
  g_return_if_fail (n > 0 && n <= state->max_rows && cache->len + n <= cache->capacity);
  gint64 D = c->hidden;
  memcpy (state->x, embeds, (gsize) (n * D) * sizeof (float));
  for (gint64 t = 0; t < n; t++)
    state->positions[t] = cache->len + t + c->position_offset + state->position_delta;
  /* M-RoPE: the given streams (the prompt's), else the position on all three. */
  for (gint64 s = 0; uses_mrope (c) && s < 3; s++)
    for (gint64 t = 0; t < n; t++)
      state->stream_positions[s * n + t] = state->next_streams ? state->next_streams[s * n + t]
                                                               : state->positions[t];
  state->next_streams = NULL;
  VlmAttnMask mask = { .causal = TRUE, .q_offset = cache->len, .key_valid = cache->key_valid,
                       .softcap = c->attn_softcap, .scale = c->attn_scale,
                       .spans = state->spans, .n_spans = state->n_spans };
  for (gint64 li = 0; li < c->n_layers; li++)
    layer_forward (dec, state, li, n, &mask);
  cache->len += n;

  /* Only the last row feeds the LM head; all rows are normalised when asked for. */
  float eps = (float) c->rms_eps;
  const float *norm = vlm_tensor_get_data (dec->final_norm), *last;
  if (final_hidden) {
    vlm_rms_norm (state->x, norm, c->norm_weight_offset, n, D, eps, final_hidden);
    last = final_hidden + (n - 1) * D;
  } else {
    vlm_rms_norm (state->x + (n - 1) * D, norm, c->norm_weight_offset, 1, D, eps,
                  state->h);
    last = state->h;
  }
  vlm_linear_forward (dec->lm_head.data ? &dec->lm_head : &dec->embed, last, 1,
                      state->logits);
  if (c->final_softcap > 0)
    for (gint64 i = 0; i < c->vocab; i++)
      state->logits[i] = c->final_softcap * tanhf (state->logits[i] / c->final_softcap);
}
