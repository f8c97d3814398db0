/* gemm-f16.h: an opt-in reduced-precision product for large inputs: activations and
 * weights scaled by powers of two and rounded to FP16, multiplied by vfmadd231ph
 * (AVX512_FP16) in short FP16 runs that are added into F32 sums. */
#pragma once

#include "compute/linear.h"
#include "compute/ops.h"

G_BEGIN_DECLS

/* A LayerNorm the products apply to each input row first (weight and bias [in]). */
typedef struct {
  const float *weight, *bias;
  float eps;
} VlmF16LayerNorm;

gboolean vlm_gemm_f16_supported (void);
void     vlm_linear_forward_f16 (const VlmLinear *lin, const float *x, gint64 n, float *y);
void     vlm_linear_forward_f16_multi (const VlmLinear *const *lins, guint n_lins,
                                       const VlmF16LayerNorm *norm, const float *x, gint64 n,
                                       float *const *ys);
void     vlm_linear_forward_f16_add (const VlmLinear *lin, const float *x, gint64 n, float *y);
void     vlm_mlp_f16_add (const VlmLinear *fc1, const VlmLinear *fc2, VlmActivation act,
                          const VlmF16LayerNorm *norm, const float *x, gint64 n, float *y);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VLM_HAVE_F16_KERNELS 1

/* Building blocks shared with the FP16 attention (attention-f16.c); only to be called
 * when vlm_gemm_f16_supported(). An FP16 operand row of K values is (K + 1) / 2 32-bit
 * words, each a pair of halves (k even, k odd), the last pair zero padded. A packed
 * panel holds VLM_F16_NR outputs: for each K pair p, NR words (one per output), so
 * panel[p * NR + c] is output c's pair p. */
#define VLM_F16_MR 6    /* input rows of a micro-tile: blocks are padded to a multiple */
#define VLM_F16_NR 32   /* outputs of a panel */
#define VLM_F16_MC 48   /* most rows of one block product (a multiple of VLM_F16_MR) */

float vlm_f16_row_scale (const float *v, gint64 n);
void  vlm_f16_row_convert (const float *src, gint64 n, float scale, guint32 *dst, gint64 kp);
void  vlm_f16_pack_rows (const float *src, gint64 ld, gint64 n_out, gint64 k, guint32 *panel,
                         float *inv_scale);
void  vlm_f16_pack_cols (const float *src, gint64 ld, gint64 n_out, gint64 k, guint32 *panel,
                         float *inv_scale);
void  vlm_f16_block_panel (const guint32 *a, gint64 lda, gint64 rows, const float *a_scale,
                           const guint32 *panel, gint64 kp, const float *w_scale,
                           const float *bias, float *c, gint64 ldc, gint64 n_cols,
                           gboolean accumulate);
#endif

G_END_DECLS
