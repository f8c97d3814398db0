/* decoder-step.c: the decoder's layers over the rows of one step. Rows are grouped by
 * sequence; everything but attention is row-independent and runs over all rows at once.
 * A lone sequence projects its keys and values straight into its cache; several
 * sequences project into scratch, and each sequence's rows are then appended to its own
 * cache (the only copy) before attention reads the cache in place. */
#include "nn/decoder-step.h"
#include "nn/mrope.h"

#include "compute/threadpool.h"

#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

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
 * vlm_decoder_scratch_new:
 * @dec: a decoder
 * @max_rows: the most rows one step takes
 * @max_seqs: the most sequences one step advances
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): scratch for vlm_decoder_step()
 */
VlmDecoderScratch *
vlm_decoder_scratch_new (VlmDecoder *dec, gint64 max_rows, gint64 max_seqs, GError **error)
{
  const VlmDecoderConfig *c = &dec->cfg;
  if (max_rows <= 0 || max_rows > G_MAXINT32 || max_seqs <= 0 || max_seqs > max_rows) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT, "a step of %" G_GINT64_FORMAT
                 " rows over %" G_GINT64_FORMAT " sequences is not possible", max_rows, max_seqs);
    return NULL;
  }
  g_autoptr (VlmDecoderScratch) s = g_new0 (VlmDecoderScratch, 1);
  gboolean ok = TRUE;
  gint64 qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
  s->max_rows = max_rows;
  s->max_seqs = max_seqs;
  s->x = try_floats (max_rows * c->hidden, &ok);
  s->h = try_floats (max_rows * c->hidden, &ok);
  s->q = try_floats (max_rows * qd, &ok);
  s->attn = try_floats (max_rows * qd, &ok);
  /* A lone sequence's keys and values go straight to its cache. */
  if (max_seqs > 1) {
    s->k = try_floats (max_rows * kvd, &ok);
    s->v = try_floats (max_rows * kvd, &ok);
  }
  s->gate = try_floats (max_rows * c->intermediate, &ok);
  s->up = try_floats (max_rows * c->intermediate, &ok);
  s->last = try_floats (max_seqs * c->hidden, &ok);
  s->positions = g_try_new (gint64, max_rows);
  s->stream_positions = g_try_new (gint64, 3 * max_rows);
  if (!ok || !s->positions || !s->stream_positions) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT, "out of memory for decoding %"
                 G_GINT64_FORMAT " rows at once", max_rows);
    return NULL;
  }
  return g_steal_pointer (&s);
}

/**
 * vlm_decoder_scratch_free:
 * @scratch: (nullable): scratch
 */
void
vlm_decoder_scratch_free (VlmDecoderScratch *scratch)
{
  if (!scratch)
    return;
  g_free (scratch->x);
  g_free (scratch->h);
  g_free (scratch->q);
  g_free (scratch->k);
  g_free (scratch->v);
  g_free (scratch->attn);
  g_free (scratch->gate);
  g_free (scratch->up);
  g_free (scratch->last);
  g_free (scratch->positions);
  g_free (scratch->stream_positions);
  g_free (scratch);
}

static gboolean
uses_mrope (const VlmDecoderConfig *c)
{
  return c->mrope_section[0] + c->mrope_section[1] + c->mrope_section[2] > 0;
}

typedef struct {
  VlmDecoder *dec;
  VlmDecoderScratch *s;
  const VlmDecoderSeq *seqs;
  gint64 n_seqs, n_rows, li;
} Step;

static void
attend (const Step *st, gint64 i, gint64 r0)
{
  const VlmDecoderConfig *c = &st->dec->cfg;
  const VlmDecoderLayer *l = &st->dec->layers[st->li];
  const VlmDecoderSeq *seq = &st->seqs[i];
  VlmKvCache *cache = seq->cache;
  gint64 hd = c->head_dim, qd = c->n_heads * hd, kvd = cache->kv_dim, pos0 = cache->len;
  float *keys = vlm_kv_cache_keys (cache, st->li), *values = vlm_kv_cache_values (cache, st->li);
  if (st->n_seqs > 1) {
    memcpy (keys + pos0 * kvd, st->s->k + r0 * kvd, (gsize) (seq->rows * kvd) * sizeof (float));
    memcpy (values + pos0 * kvd, st->s->v + r0 * kvd, (gsize) (seq->rows * kvd) * sizeof (float));
  }
  VlmAttnMask mask = { .causal = TRUE, .q_offset = pos0, .window = l->window,
                       .key_valid = cache->key_valid, .spans = seq->spans,
                       .n_spans = seq->n_spans, .scale = c->attn_scale,
                       .softcap = c->attn_softcap };
  vlm_attention (st->s->q + r0 * qd, keys, values, seq->rows, pos0 + seq->rows, c->n_heads,
                 c->n_kv_heads, hd, hd, &mask, st->s->attn + r0 * qd);
}

/* Sequences of one row each: one parallel loop over them (each one's heads then run in
 * its thread) rather than one loop over the heads per sequence. */
static void
attend_range (gpointer data, gint64 begin, gint64 end)
{
  for (gint64 i = begin; i < end; i++)
    attend (data, i, i);
}

static void
attention (const Step *st)
{
  gboolean single_rows = st->n_rows == st->n_seqs;
  if (single_rows && st->n_seqs > 1) {
    vlm_parallel_for (st->n_seqs, 1, attend_range, (gpointer) st);
    return;
  }
  for (gint64 i = 0, r0 = 0; i < st->n_seqs; r0 += st->seqs[i++].rows)
    attend (st, i, r0);
}

static void
layer_forward (Step *st, gint64 li)
{
  VlmDecoder *dec = st->dec;
  VlmDecoderScratch *s = st->s;
  const VlmDecoderConfig *c = &dec->cfg;
  const VlmDecoderLayer *l = &dec->layers[li];
  gint64 D = c->hidden, hd = c->head_dim, n = st->n_rows;
  float eps = (float) c->rms_eps;
  st->li = li;

  float *k = s->k, *v = s->v;
  if (st->n_seqs == 1) {
    VlmKvCache *cache = st->seqs[0].cache;
    k = vlm_kv_cache_keys (cache, li) + cache->len * cache->kv_dim;
    v = vlm_kv_cache_values (cache, li) + cache->len * cache->kv_dim;
  }
  vlm_rms_norm (s->x, vlm_tensor_get_data (l->attn_norm), c->norm_weight_offset, n, D, eps, s->h);
  /* q, k and v (and below gate and up) share their input: one parallel loop each. */
  const VlmLinear *qkv[] = { &l->q, &l->k, &l->v };
  float *qkv_out[] = { s->q, k, v };
  vlm_linear_forward_multi (qkv, 3, s->h, n, qkv_out);
  if (l->q_norm) {
    vlm_rms_norm (s->q, vlm_tensor_get_data (l->q_norm), c->norm_weight_offset, n * c->n_heads,
                  hd, eps, s->q);
    vlm_rms_norm (k, vlm_tensor_get_data (l->k_norm), c->norm_weight_offset,
                  n * c->n_kv_heads, hd, eps, k);
  }
  /* Gemma 3's sliding layers rotate with their own (local) base. */
  const float *inv_freq = l->window > 0 && dec->inv_freq_local ? dec->inv_freq_local
                                                               : dec->inv_freq;
  if (uses_mrope (c)) {
    vlm_mrope_apply (s->q, n, c->n_heads, hd, s->stream_positions, n, inv_freq,
                     c->mrope_section);
    vlm_mrope_apply (k, n, c->n_kv_heads, hd, s->stream_positions, n, inv_freq,
                     c->mrope_section);
  } else {
    vlm_rope_apply (s->q, n, c->n_heads, hd, s->positions, inv_freq, (int) hd,
                    c->rope_interleaved);
    vlm_rope_apply (k, n, c->n_kv_heads, hd, s->positions, inv_freq, (int) hd,
                    c->rope_interleaved);
  }
  attention (st);
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

/* Each row's input and rotary positions (M-RoPE: the given streams, else the position on
 * all three). */
static void
load_rows (const Step *st)
{
  const VlmDecoderConfig *c = &st->dec->cfg;
  VlmDecoderScratch *s = st->s;
  gint64 D = c->hidden, N = st->n_rows;
  for (gint64 i = 0, r0 = 0; i < st->n_seqs; r0 += st->seqs[i++].rows) {
    const VlmDecoderSeq *seq = &st->seqs[i];
    memcpy (s->x + r0 * D, seq->embeds, (gsize) (seq->rows * D) * sizeof (float));
    for (gint64 t = 0; t < seq->rows; t++)
      s->positions[r0 + t] = seq->cache->len + t + c->position_offset + seq->position_delta;
    gint64 stride = seq->streams_stride ? seq->streams_stride : seq->rows;
    for (gint64 k = 0; uses_mrope (c) && k < 3; k++)
      for (gint64 t = 0; t < seq->rows; t++)
        s->stream_positions[k * N + r0 + t] = seq->streams ? seq->streams[k * stride + t]
                                                           : s->positions[r0 + t];
  }
}

/**
 * vlm_decoder_step:
 * @dec: a decoder
 * @scratch: scratch for at least this step's rows and sequences
 * @seqs: (array length=n_seqs): the sequences, with distinct caches each with room for
 *   its rows; each cache grows by its rows
 * @n_seqs: their number
 * @final_hidden: (nullable): [total rows, hidden] receives every row after the final norm
 * @logits: [n_seqs, vocab] receives the next-token logits after each sequence's last row
 */
void
vlm_decoder_step (VlmDecoder *dec, VlmDecoderScratch *scratch, const VlmDecoderSeq *seqs,
                  gint64 n_seqs, float *final_hidden, float *logits)
{
  const VlmDecoderConfig *c = &dec->cfg;
  Step st = { dec, scratch, seqs, n_seqs, 0, 0 };
  g_return_if_fail (n_seqs > 0 && n_seqs <= scratch->max_seqs);
  for (gint64 i = 0; i < n_seqs; i++) {
    g_return_if_fail (seqs[i].rows > 0 && seqs[i].cache->len + seqs[i].rows
                                              <= seqs[i].cache->capacity);
    st.n_rows += seqs[i].rows;
  }
  g_return_if_fail (st.n_rows <= scratch->max_rows);
  load_rows (&st);
  for (gint64 li = 0; li < c->n_layers; li++)
    layer_forward (&st, li);
  for (gint64 i = 0; i < n_seqs; i++)
    seqs[i].cache->len += seqs[i].rows;

  /* Only each sequence's last row feeds the LM head; all rows are normalised when asked. */
  gint64 D = c->hidden;
  float eps = (float) c->rms_eps;
  const float *norm = vlm_tensor_get_data (dec->final_norm);
  if (final_hidden)
    vlm_rms_norm (scratch->x, norm, c->norm_weight_offset, st.n_rows, D, eps, final_hidden);
  for (gint64 i = 0, end = 0; i < n_seqs; i++) {
    end += seqs[i].rows;
    gint64 last = end - 1;
    if (final_hidden)
      memcpy (scratch->last + i * D, final_hidden + last * D, (gsize) D * sizeof (float));
    else
      vlm_rms_norm (scratch->x + last * D, norm, c->norm_weight_offset, 1, D, eps,
                    scratch->last + i * D);
  }
  vlm_linear_forward (dec->lm_head.data ? &dec->lm_head : &dec->embed, scratch->last, n_seqs,
                      logits);
  if (c->final_softcap > 0)
    for (gint64 i = 0; i < n_seqs * c->vocab; i++)
      logits[i] = c->final_softcap * tanhf (logits[i] / c->final_softcap);
}
