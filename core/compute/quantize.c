/* quantize.c: MLX's affine quantization, so that converted checkpoints hold the codes
 * mlx.core.quantize would write.
 *
 * Per group of group_size weights: the extreme with the larger magnitude (the "edge")
 * becomes the bias and lands exactly on code 0 (the scale's sign makes the codes
 * count towards the other extreme); the scale is (max - min) / (2^bits - 1), then
 * adjusted to edge / round(edge / scale) so that zero falls on a whole code too.
 * Codes are round-half-even of (w - bias) / scale, clamped to [0, 2^bits - 1], and
 * packed least significant bits first into 32-bit words. */
#include "compute/quantize.h"

#include <math.h>
#include <string.h>

/**
 * vlm_quantize_affine_row:
 * @w: [cols] weights
 * @cols: a multiple of @group_size
 * @bits: 2, 4 or 8 (codes never cross a word)
 * @group_size: weights per scale/bias pair
 * @words: (out): [cols * bits / 32] packed codes
 * @scales: (out): [cols / group_size]
 * @biases: (out): [cols / group_size]
 */
void
vlm_quantize_affine_row (const float *w, gint64 cols, int bits, int group_size, guint32 *words,
                         float *scales, float *biases)
{
  const float n_bins = (float) ((1 << bits) - 1), eps = 1e-7f;
  int per_word = 32 / bits;
  memset (words, 0, (gsize) (cols / per_word) * sizeof (guint32));
  for (gint64 g = 0; g < cols / group_size; g++) {
    const float *x = w + g * group_size;
    float lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < group_size; k++) {
      lo = fminf (lo, x[k]);
      hi = fmaxf (hi, x[k]);
    }
    gboolean low_edge = fabsf (lo) > fabsf (hi);
    float scale = fmaxf ((hi - lo) / n_bins, eps);
    scale = low_edge ? scale : -scale;
    float edge = low_edge ? lo : hi, bias = 0;
    float q0 = rintf (edge / scale);
    if (q0 != 0) {
      scale = edge / q0;
      bias = edge;
    }
    scales[g] = scale;
    biases[g] = bias;
    for (int k = 0; k < group_size; k++) {
      float q = fminf (fmaxf (rintf ((x[k] - bias) / scale), 0.0f), n_bins);
      gint64 i = g * group_size + k;
      words[i / per_word] |= (guint32) q << (bits * (i % per_word));
    }
  }
}
