/* gemm-f16.h: an opt-in reduced-precision product for large inputs: activations and
 * weights scaled by powers of two and rounded to FP16, multiplied by vfmadd231ph
 * (AVX512_FP16) in short FP16 runs that are added into F32 sums. */
#pragma once

#include "compute/linear.h"

G_BEGIN_DECLS

gboolean vlm_gemm_f16_supported (void);
void     vlm_linear_forward_f16 (const VlmLinear *lin, const float *x, gint64 n, float *y);

G_END_DECLS
