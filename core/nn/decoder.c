/* decoder.c: embeddings, the image merge, the prompt's attention spans and the state of
 * one sequence. Its forward pass is vlm_decoder_step() (decoder-step.c) over that one
 * sequence: prefill (many rows: VlmLinear takes the sgemm route) and decoding (one row:
 * the GEMV kernels) alike. */
#include "nn/decoder.h"
#include "nn/decoder-step.h"

#include "vlm/vlm-error.h"

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
  s->max_rows = max_rows;
  s->scratch = vlm_decoder_scratch_new (dec, max_rows, 1, error);
  if (!s->scratch)
    return NULL;
  s->logits = g_try_new (float, c->vocab);
  if (!s->logits) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT, "out of memory for %" G_GINT64_FORMAT
                 " logits", c->vocab);
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
  vlm_decoder_scratch_free (state->scratch);
  g_free (state->logits);
  g_free (state->spans);
  g_free (state);
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
  g_return_if_fail (n > 0 && n <= state->max_rows);
  VlmDecoderSeq seq = { .cache = state->cache, .embeds = embeds, .rows = n,
                        .streams = state->next_streams, .position_delta = state->position_delta,
                        .spans = state->spans, .n_spans = state->n_spans };
  state->next_streams = NULL;
  vlm_decoder_step (dec, state->scratch, &seq, 1, final_hidden, state->logits);
}
