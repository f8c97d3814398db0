/* ops-attention.c: rotary position embeddings and masked multi-head attention. */
#include "compute/ops.h"
#include "compute/threadpool.h"

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
  float *cs = g_new (float, 2 * half);
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
  g_free (cs);
}

typedef struct {
  const float *q, *k, *v;
  gint64 sq, sk, hq, hkv, d, dv;
  const VlmAttnMask *m;
  float scale;
  float *out;
} AttnJob;

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

static void
attn_range (gpointer data, gint64 begin, gint64 end)
{
  const AttnJob *j = data;
  float *scores = g_new (float, j->sk);
  gint64 group = j->hq / j->hkv;
  for (gint64 r = begin; r < end; r++) {
    gint64 i = r / j->hq, h = r % j->hq, kh = h / group, p = j->m->q_offset + i;
    const float *q = j->q + (i * j->hq + h) * j->d;
    float *o = j->out + (i * j->hq + h) * j->dv;
    float mx = -INFINITY;
    for (gint64 t = 0; t < j->sk; t++) {
      if (!visible (j->m, p, t)) {
        scores[t] = -INFINITY;
        continue;
      }
      float s = vlm_dot_f32 (q, j->k + (t * j->hkv + kh) * j->d, j->d) * j->scale;
      if (j->m->softcap > 0)
        s = j->m->softcap * tanhf (s / j->m->softcap);
      scores[t] = s;
      mx = MAX (mx, s);
    }
    memset (o, 0, (gsize) j->dv * sizeof (float));
    if (mx == -INFINITY)
      continue;
    double sum = 0;
    for (gint64 t = 0; t < j->sk; t++) {
      scores[t] = scores[t] == -INFINITY ? 0.0f : expf (scores[t] - mx);
      sum += scores[t];
    }
    for (gint64 t = 0; t < j->sk; t++) {
      if (scores[t] == 0.0f)
        continue;
      float wgt = (float) (scores[t] / sum);
      const float *vv = j->v + (t * j->hkv + kh) * j->dv;
      for (gint64 c = 0; c < j->dv; c++)
        o[c] += wgt * vv[c];
    }
  }
  g_free (scores);
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
                mask->scale > 0 ? mask->scale : 1.0f / sqrtf ((float) d), out };
  vlm_parallel_for (sq * hq, MAX (1, 4096 / MAX (sk, 1)), attn_range, &j);
}
