/* ops-attention.c: rotary position embeddings and masked multi-head attention. */
#include "compute/ops.h"
#include "compute/threadpool.h"
#include "compute/kernels.h"

#include <math.h>
#include <string.h>

/**
 * vlm_rope_inv_freq:
 * @inv_freq: (out) (array): rot_dim / 2 inverse frequencies
 * @rot_dim: rotated dimensions per head
 * @theta: the base (`rope_theta`)
 * @s: (nullable): scaling from `rope_scaling` / `rope_parameters`
 *
 * Computed in single precision, as the reference does.
 */
void
vlm_rope_inv_freq (float *inv_freq, int rot_dim, double theta, const VlmRopeScaling *s)
{
  for (int i = 0; i < rot_dim / 2; i++) {
    float f = 1.0f / powf ((float) theta, (float) (2 * i) / (float) rot_dim);
    if (s && s->type == VLM_ROPE_LINEAR) {
      f = (float) (f / s->factor);
    } else if (s && s->type == VLM_ROPE_LLAMA3) {
      /* Long wavelengths are slowed by factor, short ones kept, the band between
       * interpolated smoothly. */
      double wavelen = 2 * G_PI / f;
      double low_wl = s->original_max_position / s->low_freq_factor;
      double high_wl = s->original_max_position / s->high_freq_factor;
      if (wavelen > low_wl) {
        f = (float) (f / s->factor);
      } else if (wavelen >= high_wl) {
        double smooth = (s->original_max_position / wavelen - s->low_freq_factor)
                        / (s->high_freq_factor - s->low_freq_factor);
        f = (float) ((1 - smooth) * f / s->factor + smooth * f);
      }
    }
    inv_freq[i] = f;
  }
}

/**
 * vlm_rope_apply:
 * @x: [seq, heads, head_dim], rotated in place
 * @seq: positions
 * @heads: heads
 * @head_dim: per-head size
 * @positions: (array length=seq): position of each row
 * @inv_freq: rot_dim / 2 frequencies
 * @rot_dim: leading dimensions rotated (partial rotary leaves the rest)
 * @interleaved: rotate pairs (2i, 2i+1) instead of halves (i, i + rot_dim/2)
 */
void
vlm_rope_apply (float *x, gint64 seq, gint64 heads, gint64 head_dim, const gint64 *positions,
                const float *inv_freq, int rot_dim, gboolean interleaved)
{
  int half = rot_dim / 2;
  float stack_cs[512];
  float *cs = half <= 256 ? stack_cs : g_new (float, 2 * half);
  for (gint64 t = 0; t < seq; t++) {
    for (int i = 0; i < half; i++) {
      float a = (float) positions[t] * inv_freq[i];
      cs[2 * i] = cosf (a);
      cs[2 * i + 1] = sinf (a);
    }
    for (gint64 h = 0; h < heads; h++) {
      float *v = x + (t * heads + h) * head_dim;
      for (int i = 0; i < half; i++) {
        int i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
        float c = cs[2 * i], s = cs[2 * i + 1], x1 = v[i1], x2 = v[i2];
        v[i1] = x1 * c - x2 * s;
        v[i2] = x2 * c + x1 * s;
      }
    }
  }
  if (cs != stack_cs)
    g_free (cs);
}

typedef struct {
  const float *q, *k, *v;
  gint64 sq, sk, hq, hkv, d, dv;
  const VlmAttnMask *m;
  float scale;
  float *out;
  const VlmKernels *kern;
  gint64 qblock;
} AttnJob;

/* Query rows per task of the blocked (prefill, vision) path: small blocks skip more of
 * a causal mask's upper triangle, large ones repack the keys and values less often. */
#define QUERY_BLOCK 64
#define QUERY_BLOCK_FULL 256

static gboolean
same_span (const VlmAttnMask *m, gint64 p, gint64 j)
{
  for (guint s = 0; s < m->n_spans; s++) {
    gint64 a = m->spans[2 * s], b = m->spans[2 * s + 1];
    if (p >= a && p < b && j >= a && j < b)
      return TRUE;
  }
  return FALSE;
}

static gboolean
visible (const VlmAttnMask *m, gint64 p, gint64 j)
{
  if (m->key_valid && !m->key_valid[j])
    return FALSE;
  if (m->n_spans && same_span (m, p, j))
    return TRUE;
  if (m->causal && j > p)
    return FALSE;
  if (m->window > 0 && j <= p - m->window)
    return FALSE;
  return TRUE;
}

/* Keys [lo, hi) hold every key query position p may see; without spans, only padding
 * inside the range remains to be checked. */
static void
key_range (const VlmAttnMask *m, gint64 p, gint64 sk, gint64 *lo, gint64 *hi)
{
  *lo = 0;
  *hi = sk;
  if (m->n_spans)
    return;
  if (m->causal)
    *hi = MIN (sk, MAX (p + 1, 0));
  if (m->window > 0)
    *lo = MAX (0, p - m->window + 1);
}

static GPrivate scores_key = G_PRIVATE_INIT (g_free);
static GPrivate scores_size_key;

/* Grow-only per-thread buffer for attention scores (no allocation per token). */
static float *
scores_buffer (gint64 n)
{
  gsize have = GPOINTER_TO_SIZE (g_private_get (&scores_size_key));
  if (have < (gsize) n) {
    g_private_replace (&scores_key, g_new (float, n));
    g_private_set (&scores_size_key, GSIZE_TO_POINTER ((gsize) n));
  }
  return g_private_get (&scores_key);
}

/* Turns one row of raw scores (keys [0, n)) into softmax weights; FALSE when no key is
 * visible (the row is then all zeros). */
static gboolean
softmax_row (const AttnJob *j, gint64 p, float *row, gint64 n)
{
  const VlmAttnMask *m = j->m;
  gint64 lo, hi;
  key_range (m, p, n, &lo, &hi);
  float mx = -INFINITY;
  /* Common case: every key in range visible, no soft-capping: vector scale and max. */
  gboolean plain = !m->n_spans && m->softcap <= 0
                   && (!m->key_valid || hi <= lo || !memchr (m->key_valid + lo, 0, (gsize) (hi - lo)));
  if (plain && hi > lo)
    mx = j->kern->scale_max (row + lo, hi - lo, j->scale);
  for (gint64 t = lo; t < hi && !plain; t++) {
    if (m->n_spans ? !visible (m, p, t) : m->key_valid && !m->key_valid[t]) {
      row[t] = -INFINITY;
      continue;
    }
    float s = row[t] * j->scale;
    if (m->softcap > 0)
      s = m->softcap * tanhf (s / m->softcap);
    row[t] = s;
    mx = MAX (mx, s);
  }
  /* Keys outside [lo, hi) are never visible. */
  memset (row, 0, (gsize) lo * sizeof (float));
  if (hi < n)
    memset (row + hi, 0, (gsize) (n - hi) * sizeof (float));
  if (mx == -INFINITY) {
    memset (row + lo, 0, (gsize) (hi - lo) * sizeof (float));
    return FALSE;
  }
  float inv = 1.0f / j->kern->exp_shift_sum (row + lo, hi - lo, mx);
  j->kern->scale_max (row + lo, hi - lo, inv);
  return TRUE;
}

/* Few queries (decoding): one (query, head) per item, keys read in the cache in place. */
static void
attn_rows_range (gpointer data, gint64 begin, gint64 end)
{
  const AttnJob *j = data;
  float *scores = scores_buffer (j->sk);
  gint64 group = j->hq / j->hkv;
  gboolean fast = j->kern->attn_scores && j->d % 16 == 0 && j->dv % 16 == 0 && j->d <= 256
                  && j->dv <= 256;
  for (gint64 r = begin; r < end; r++) {
    gint64 i = r / j->hq, h = r % j->hq, kh = h / group, p = j->m->q_offset + i;
    const float *q = j->q + (i * j->hq + h) * j->d;
    float *o = j->out + (i * j->hq + h) * j->dv;
    gint64 lo, hi;
    key_range (j->m, p, j->sk, &lo, &hi);
    const float *keys = j->k + kh * j->d, *vals = j->v + kh * j->dv;
    gint64 kstride = j->hkv * j->d, vstride = j->hkv * j->dv;
    if (fast)
      j->kern->attn_scores (q, keys + lo * kstride, kstride, hi - lo, j->d, scores + lo);
    else
      for (gint64 t = lo; t < hi; t++)
        scores[t] = j->kern->dot_f32 (q, keys + t * kstride, j->d);
    memset (o, 0, (gsize) j->dv * sizeof (float));
    if (!softmax_row (j, p, scores, j->sk))
      continue;
    if (fast)
      j->kern->attn_weighted_sum (scores + lo, vals + lo * vstride, vstride, hi - lo, j->dv, o);
    else
      for (gint64 t = lo; t < hi; t++)
        if (scores[t] != 0.0f)
          j->kern->axpy_f32 (scores[t], vals + t * vstride, o, j->dv);
  }
}

/* Many queries (prefill): per (head, block of queries), S = Q K^T and O = S V as two
 * sgemm calls over the keys the block can see. */
static void
attn_blocks_range (gpointer data, gint64 begin, gint64 end)
{
  const AttnJob *j = data;
  const VlmAttnMask *m = j->m;
  gint64 qb = j->qblock, n_blocks = (j->sq + qb - 1) / qb, group = j->hq / j->hkv;
  for (gint64 item = begin; item < end; item++) {
    gint64 h = item / n_blocks, b = item % n_blocks, kh = h / group;
    gint64 i0 = b * qb, rows = MIN (qb, j->sq - i0);
    gint64 kend = j->sk;
    if (m->causal && !m->n_spans)
      kend = MIN (j->sk, MAX (m->q_offset + i0 + rows, 1));
    float *s = scores_buffer (rows * kend);
    vlm_sgemm (rows, kend, j->d, j->q + (i0 * j->hq + h) * j->d, j->hq * j->d, j->k + kh * j->d,
               j->hkv * j->d, TRUE, s, kend, FALSE);
    for (gint64 r = 0; r < rows; r++)
      softmax_row (j, m->q_offset + i0 + r, s + r * kend, kend);
    vlm_sgemm (rows, j->dv, kend, s, kend, j->v + kh * j->dv, j->hkv * j->dv, FALSE,
               j->out + (i0 * j->hq + h) * j->dv, j->hq * j->dv, FALSE);
  }
}

/**
 * vlm_attention:
 * @q: [sq, hq, d]
 * @k: [sk, hkv, d]
 * @v: [sk, hkv, dv]
 * @sq: query rows
 * @sk: key rows
 * @hq: query heads, a multiple of @hkv (grouped-query attention)
 * @hkv: key/value heads
 * @d: query/key head size
 * @dv: value head size
 * @mask: which keys each query sees (see #VlmAttnMask)
 * @out: [sq, hq, dv]
 */
void
vlm_attention (const float *q, const float *k, const float *v, gint64 sq, gint64 sk, gint64 hq,
               gint64 hkv, gint64 d, gint64 dv, const VlmAttnMask *mask, float *out)
{
  g_return_if_fail (hkv > 0 && hq % hkv == 0);
  AttnJob j = { q, k, v, sq, sk, hq, hkv, d, dv, mask,
                mask->scale > 0 ? mask->scale : 1.0f / sqrtf ((float) d), out,
                vlm_kernels_get () };
  if (sq >= QUERY_BLOCK / 2) {
    j.qblock = mask->causal && !mask->n_spans ? QUERY_BLOCK : QUERY_BLOCK_FULL;
    vlm_parallel_for (hq * ((sq + j.qblock - 1) / j.qblock), 1, attn_blocks_range, &j);
    return;
  }
  /* Parallel once a task has some 16k multiply-adds. */
  vlm_parallel_for (sq * hq, MAX (1, 16384 / MAX (sk * d, 1)), attn_rows_range, &j);
}
