/* linear.h: a weight matrix y = x W^T (+ b) in any stored format, read in place. */
#pragma once

#include "vlm/vlm-tensor.h"

G_BEGIN_DECLS

/* A [out, in] weight: dense F32/BF16/F16, or MLX affine-quantized (U32 words packed
 * least-significant bits first as one bit stream per row, with per-group scales and
 * biases: w = scale * q + bias). The tensors stay referenced, so mapped checkpoint
 * data is used without copies. */
typedef struct {
  gint64 out, in;
  VlmDType dtype;        /* F32, BF16, F16, or U32 when quantized */
  int bits, group_size;  /* 0 when dense */
  VlmDType sb_dtype;     /* dtype of scales/biases */
  const void *data;
  const void *scales, *biases;
  float *bias;           /* optional [out], converted to F32 */
  VlmTensor *refs[3];
} VlmLinear;

gboolean vlm_linear_init_dense (VlmLinear *lin, VlmTensor *weight, VlmTensor *bias,
                                GError **error);
gboolean vlm_linear_init_quant (VlmLinear *lin, VlmTensor *weight, VlmTensor *scales,
                                VlmTensor *biases, VlmTensor *bias, int bits, int group_size,
                                GError **error);
void     vlm_linear_clear (VlmLinear *lin);
gboolean vlm_linear_is_quantized (const VlmLinear *lin);

void     vlm_linear_forward (const VlmLinear *lin, const float *x, gint64 n, float *y);
void     vlm_linear_forward_multi (const VlmLinear *const *lins, guint n_lins, const float *x,
                                   gint64 n, float *const *ys);
void     vlm_linear_dequant_rows (const VlmLinear *lin, gint64 row0, gint64 n_rows, float *out);
gboolean vlm_linear_embed (const VlmLinear *lin, const gint64 *ids, gint64 n, float *out,
                           GError **error);

/* Threaded single-precision GEMM: C[M,N] = A[M,K] * op(B) (+ C when accumulate);
 * op(B) = B^T with B stored [N,K] when trans_b. */
void     vlm_sgemm (gint64 M, gint64 N, gint64 K, const float *A, gint64 lda, const float *B,
                    gint64 ldb, gboolean trans_b, float *C, gint64 ldc, gboolean accumulate);

/* Row kernels (dispatched to AVX2/AVX-512 where available). */
float    vlm_dot_f32 (const float *a, const float *b, gint64 n);
void     vlm_bf16_to_f32_row (const guint16 *src, float *dst, gint64 n);
void     vlm_f16_to_f32_row (const guint16 *src, float *dst, gint64 n);
guint32  vlm_quant_code (const guint32 *row_words, gint64 index, int bits);

G_END_DECLS
