/* mrope.h: multimodal rotary position embedding (Qwen2-VL M-RoPE): each rotary
 * frequency reads its position from one of three streams (temporal, height, width),
 * the frequencies split between them by `mrope_section`. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void vlm_mrope_apply (float *x, gint64 seq, gint64 heads, gint64 head_dim,
                      const gint64 *positions, gint64 stride, const float *inv_freq,
                      const gint64 section[3]);

G_END_DECLS
