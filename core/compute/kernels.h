/* kernels.h: inner loops of the matrix-vector products, one per weight format. */
#pragma once

#include "compute/linear.h"

G_BEGIN_DECLS

/* One input row of a matrix-vector product, prepared once for all weight rows
 * (vlm_gemv_input_prepare): the forms the kernels read. */
typedef struct {
  const float *x;             /* [in] */
  const float *xsum;          /* [in / group_size]: sum of x per group (quantized weights) */
  const float *x_perm;        /* 4-bit: each run of 32 as its 16 even then 16 odd elements */
  const guint16 *x_hi, *x_lo; /* BF16 weights with gemv_split_bf16: x ~= hi + lo in BF16 */
} VlmGemvInput;

/* Each dot computes a row's dot(w, x). Quantized rows also use xsum[g] = sum of x over
 * group g, so that sum(x * (s*q + b)) = s*sum(x*q) + b*xsum. */
typedef struct {
  float (*dot_f32) (const float *a, const float *b, gint64 n);
  float (*dot_bf16) (const guint16 *w, const float *x, gint64 n);
  float (*dot_f16) (const guint16 *w, const float *x, gint64 n);
  /* sum over k < n of x[k] * code[k] for a group that starts on a word boundary */
  float (*dot_q4) (const guint32 *w, const float *x, gint64 n);
  float (*dot_q8) (const guint32 *w, const float *x, gint64 n);
  void (*bf16_to_f32) (const guint16 *src, float *dst, gint64 n);
  void (*axpy_f32) (float a, const float *x, float *y, gint64 n);  /* y += a x */
  /* x[i] = exp(x[i] - shift) (-inf gives 0); returns the sum */
  float (*exp_shift_sum) (float *x, gint64 n, float shift);
  /* Optional, for head sizes that are multiples of 16 up to 256: attention over keys or
   * values stored every `stride` floats. scores: out[t] = dot(q, k + t*stride);
   * weighted_sum: o = sum over t of w[t] * (v + t*stride). */
  void (*attn_scores) (const float *q, const float *k, gint64 stride, gint64 n, gint64 d,
                       float *out);
  void (*attn_weighted_sum) (const float *w, const float *v, gint64 stride, gint64 n,
                             gint64 dv, float *o);
  /* x *= s in place; returns the maximum of the results */
  float (*scale_max) (float *x, gint64 n, float s);
  /* x = gelu_tanh(x) in place */
  void (*gelu_tanh) (float *x, gint64 n);
  /* out = silu(gate) * up; out may alias either */
  void (*silu_mul) (const float *gate, const float *up, float *out, gint64 n);
  /* Optional (NULL: the dot kernels row by row): y[o] = dot(row o, x) without the layer's
   * bias, for o in [o0, o1), for F32, BF16 and 4- and 8-bit weights. */
  void (*gemv) (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y);
  /* y[b * ldy + o] = dot(row o, x + b * in) without the bias, for b < nb and o in
   * [o0, o1), any weight format: each weight row is read once for all nb input rows
   * (decoding several sequences at once). */
  void (*gemm_small) (const VlmLinear *lin, const float *x, gint64 nb, gint64 o0, gint64 o1,
                      float *y, gint64 ldy);
  /* Optional: a 4- or 8-bit row expanded to F32. */
  void (*dequant_q_row) (const VlmLinear *lin, gint64 row, float *out);
  gboolean gemv_split_bf16;   /* gemv wants x_hi/x_lo for BF16 weights */
  const char *name;
} VlmKernels;

const VlmKernels *vlm_kernels_get (void);
const VlmKernels *vlm_kernels_get_portable (void);
gboolean          vlm_kernels_gemv_supports (const VlmKernels *k, const VlmLinear *lin);
void              vlm_gemv_input_prepare (const VlmKernels *k, const VlmLinear *lin,
                                          const float *x, float *scratch, VlmGemvInput *in);
gsize             vlm_gemv_scratch_floats (const VlmLinear *lin);

/* The gemm_small of each set (kernels-gemm-small.c). */
void vlm_gemm_small_portable (const VlmLinear *lin, const float *x, gint64 nb,
                              gint64 o0, gint64 o1, float *y, gint64 ldy);
void vlm_gemm_small_avx2 (const VlmLinear *lin, const float *x, gint64 nb, gint64 o0,
                          gint64 o1, float *y, gint64 ldy);
void vlm_gemm_small_avx512 (const VlmLinear *lin, const float *x, gint64 nb, gint64 o0,
                            gint64 o1, float *y, gint64 ldy);
void vlm_dequant_q_row_avx2 (const VlmLinear *lin, gint64 row, float *out);

G_END_DECLS
