/* quantize.h: MLX affine quantization of weight rows (what mlx.core.quantize does). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void vlm_quantize_affine_row (const float *w, gint64 cols, int bits, int group_size,
                              guint32 *words, float *scales, float *biases);

G_END_DECLS
