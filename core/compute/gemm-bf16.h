/* gemm-bf16.h: an opt-in reduced-precision product for large inputs: activations rounded
 * to BF16, multiplied with BF16 weights by vdpbf16ps (AVX512_BF16), F32 accumulation. */
#pragma once

#include "compute/linear.h"

G_BEGIN_DECLS

gboolean vlm_gemm_bf16_supported (void);
void     vlm_linear_forward_bf16 (const VlmLinear *lin, const float *x, gint64 n, float *y);

G_END_DECLS
