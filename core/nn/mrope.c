/* mrope.c: M-RoPE as transformers' apply_multimodal_rotary_pos_emb computes it
 * (halves rotated, not pairs; float32 angles, as the reference). */
#include "nn/mrope.h"

#include <math.h>

/**
 * vlm_mrope_apply:
 * @x: [seq, heads, head_dim], rotated in place
 * @seq: rows
 * @heads: heads
 * @head_dim: per-head size; head_dim / 2 = section[0] + section[1] + section[2]
 * @positions: [3, stride] the temporal, height and width positions of each row
 * @stride: distance between the streams in @positions (at least @seq)
 * @inv_freq: head_dim / 2 inverse frequencies
 * @section: how many leading frequencies read the temporal stream, then the height
 *   stream, then the width stream
 */
void
vlm_mrope_apply (float *x, gint64 seq, gint64 heads, gint64 head_dim, const gint64 *positions,
                 gint64 stride, const float *inv_freq, const gint64 section[3])
{
  gint64 half = head_dim / 2;
  float *cs = g_new (float, 2 * half);
  for (gint64 t = 0; t < seq; t++) {
    for (gint64 i = 0, s = 0, end = section[0]; i < half; i++) {
      while (i >= end && s < 2)
        end += section[++s];
      float a = (float) positions[s * stride + t] * inv_freq[i];
      cs[2 * i] = cosf (a);
      cs[2 * i + 1] = sinf (a);
    }
    for (gint64 h = 0; h < heads; h++) {
      float *v = x + (t * heads + h) * head_dim;
      for (gint64 i = 0; i < half; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1], x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c - x2 * s;
        v[i + half] = x2 * c + x1 * s;
      }
    }
  }
  g_free (cs);
}
