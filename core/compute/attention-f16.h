/* attention-f16.h: the opt-in FP16 attention of the vision tower's precision=f16: both
 * products (Q K^T and P V) through the FP16 block products of gemm-f16.c, softmax in
 * F32. */
#pragma once

#include "compute/ops.h"

G_BEGIN_DECLS

void vlm_attention_f16 (const float *q, const float *k, const float *v, gint64 sq, gint64 sk,
                        gint64 hq, gint64 hkv, gint64 d, gint64 dv, const VlmAttnMask *mask,
                        float *out);

G_END_DECLS
