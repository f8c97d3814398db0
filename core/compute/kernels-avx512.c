/* kernels-avx512.c: AVX-512 matrix-vector products for decoding.
 *
 * Each reads the weight in its stored format and produces four output rows per pass,
 * so every load of the input vector serves four weight rows:
 * - F32 and BF16 rows: one FMA per 16 weights (BF16 widened by a shift). With
 *   AVX512_BF16, vdpbf16ps multiplies 32 BF16 weights by the input split into two
 *   BF16 halves (x = hi + lo, ~16 significant bits, see vlm_gemv_input_prepare), so
 *   the products stay within ~4e-6 of F32 ones at a third of the instructions.
 * - MLX 8-bit: bytes widened to F32, per-group sums scaled once per group; the group
 *   biases contribute bias * sum(x over the group), precomputed per input.
 * - MLX 4-bit: 16 bytes hold 32 codes, low nibble first; the input is pre-permuted per
 *   32 so that low nibbles meet the even elements and high nibbles the odd ones.
 * Each block prefetches the next block's rows: four short row streams at once are more
 * than the hardware prefetcher follows (2x decode speed on a Xeon with 8-bit weights).
 */
#include "compute/kernels.h"
#include "compute/exp-avx512.h"
#include "vlm/vlm-tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define AVX512BF16 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))
/* The row blocks are written for a compile-time row count R (4, then 1 for the rest) so
 * that the accumulators live in registers. */
#define BLOCK __attribute__ ((always_inline)) static inline
#define UNROLL _Pragma ("GCC unroll 4")

static inline float
load_sb (VlmDType dt, const void *base, gint64 i)
{
  switch (dt) {
  case VLM_DTYPE_BF16: {
    guint32 bits = (guint32) ((const guint16 *) base)[i] << 16;
    float f;
    memcpy (&f, &bits, 4);
    return f;
  }
  case VLM_DTYPE_F16: return vlm_f16_to_f32 (((const guint16 *) base)[i]);
  default: return ((const float *) base)[i];
  }
}

AVX512 static inline __m512
bf16x16 (const guint16 *p)
{
  __m512i v = _mm512_cvtepu16_epi32 (_mm256_loadu_si256 ((const __m256i *) p));
  return _mm512_castsi512_ps (_mm512_slli_epi32 (v, 16));
}

AVX512 static inline __m512
bf16x16_masked (const guint16 *p, __mmask16 m)
{
  __m512i v = _mm512_cvtepu16_epi32 (_mm256_maskz_loadu_epi16 (m, p));
  return _mm512_castsi512_ps (_mm512_slli_epi32 (v, 16));
}

/* ---- dense ---- */

#define ROWS 4

AVX512 BLOCK void
f32_block (const float *W, gint64 K, const float *x, gint64 o, const int R, float *y)
{
  gint64 kv = K & ~(gint64) 15;
  __mmask16 tail = (__mmask16) ((1u << (K - kv)) - 1);
  __m512 acc[ROWS];
  UNROLL for (int r = 0; r < R; r++)
    acc[r] = _mm512_setzero_ps ();
  for (gint64 k = 0; k < kv; k += 16) {
    __m512 xv = _mm512_loadu_ps (x + k);
    UNROLL for (int r = 0; r < R; r++) {
      _mm_prefetch ((const char *) (W + (o + ROWS + r) * K + k), _MM_HINT_T0);
      acc[r] = _mm512_fmadd_ps (_mm512_loadu_ps (W + (o + r) * K + k), xv, acc[r]);
    }
  }
  if (tail) {
    __m512 xv = _mm512_maskz_loadu_ps (tail, x + kv);
    UNROLL for (int r = 0; r < R; r++)
      acc[r] = _mm512_fmadd_ps (_mm512_maskz_loadu_ps (tail, W + (o + r) * K + kv), xv, acc[r]);
  }
  UNROLL for (int r = 0; r < R; r++)
    y[o + r] = _mm512_reduce_add_ps (acc[r]);
}

AVX512 static void
gemv_f32 (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y)
{
  gint64 o = o0;
  for (; o + ROWS <= o1; o += ROWS)
    f32_block (lin->data, lin->in, in->x, o, ROWS, y);
  for (; o < o1; o++)
    f32_block (lin->data, lin->in, in->x, o, 1, y);
}

AVX512 BLOCK void
bf16_block (const guint16 *W, gint64 K, const float *x, gint64 o, const int R, float *y)
{
  gint64 kv = K & ~(gint64) 15;
  __mmask16 tail = (__mmask16) ((1u << (K - kv)) - 1);
  __m512 acc[ROWS];
  UNROLL for (int r = 0; r < R; r++)
    acc[r] = _mm512_setzero_ps ();
  for (gint64 k = 0; k < kv; k += 16) {
    __m512 xv = _mm512_loadu_ps (x + k);
    UNROLL for (int r = 0; r < R; r++) {
      if (k % 32 == 0)
        _mm_prefetch ((const char *) (W + (o + ROWS + r) * K + k), _MM_HINT_T0);
      acc[r] = _mm512_fmadd_ps (bf16x16 (W + (o + r) * K + k), xv, acc[r]);
    }
  }
  if (tail) {
    __m512 xv = _mm512_maskz_loadu_ps (tail, x + kv);
    UNROLL for (int r = 0; r < R; r++)
      acc[r] = _mm512_fmadd_ps (bf16x16_masked (W + (o + r) * K + kv, tail), xv, acc[r]);
  }
  UNROLL for (int r = 0; r < R; r++)
    y[o + r] = _mm512_reduce_add_ps (acc[r]);
}

AVX512 static void
gemv_bf16 (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y)
{
  gint64 o = o0;
  for (; o + ROWS <= o1; o += ROWS)
    bf16_block (lin->data, lin->in, in->x, o, ROWS, y);
  for (; o < o1; o++)
    bf16_block (lin->data, lin->in, in->x, o, 1, y);
}

AVX512BF16 BLOCK void
bf16_dp_block (const guint16 *W, gint64 K, const VlmGemvInput *in, gint64 o, const int R,
               float *y)
{
  gint64 kv = K & ~(gint64) 31;
  __mmask32 tail = (__mmask32) ((1ull << (K - kv)) - 1);
  __m512 acc[ROWS];
  UNROLL for (int r = 0; r < R; r++)
    acc[r] = _mm512_setzero_ps ();
  for (gint64 k = 0; k < kv; k += 32) {
    __m512bh hi = (__m512bh) _mm512_loadu_si512 (in->x_hi + k);
    __m512bh lo = (__m512bh) _mm512_loadu_si512 (in->x_lo + k);
    UNROLL for (int r = 0; r < R; r++) {
      _mm_prefetch ((const char *) (W + (o + ROWS + r) * K + k), _MM_HINT_T0);
      __m512bh w = (__m512bh) _mm512_loadu_si512 (W + (o + r) * K + k);
      acc[r] = _mm512_dpbf16_ps (acc[r], w, hi);
      acc[r] = _mm512_dpbf16_ps (acc[r], w, lo);
    }
  }
  if (tail) {
    __m512bh hi = (__m512bh) _mm512_maskz_loadu_epi16 (tail, in->x_hi + kv);
    __m512bh lo = (__m512bh) _mm512_maskz_loadu_epi16 (tail, in->x_lo + kv);
    UNROLL for (int r = 0; r < R; r++) {
      __m512bh w = (__m512bh) _mm512_maskz_loadu_epi16 (tail, W + (o + r) * K + kv);
      acc[r] = _mm512_dpbf16_ps (acc[r], w, hi);
      acc[r] = _mm512_dpbf16_ps (acc[r], w, lo);
    }
  }
  UNROLL for (int r = 0; r < R; r++)
    y[o + r] = _mm512_reduce_add_ps (acc[r]);
}

AVX512BF16 static void
gemv_bf16_dp (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y)
{
  gint64 o = o0;
  for (; o + ROWS <= o1; o += ROWS)
    bf16_dp_block (lin->data, lin->in, in, o, ROWS, y);
  for (; o < o1; o++)
    bf16_dp_block (lin->data, lin->in, in, o, 1, y);
}

/* ---- MLX affine-quantized ---- */

/* Adds each group's sum(x*q) times its scale into acc, and bias * sum(x) into bsum. */
AVX512 BLOCK void
finish_group (const VlmLinear *lin, const VlmGemvInput *in, gint64 o, gint64 g, gint64 groups,
              const int R, const __m512 *gacc, __m512 *acc, float *bsum)
{
  UNROLL for (int r = 0; r < R; r++) {
    gint64 i = (o + r) * groups + g;
    acc[r] = _mm512_fmadd_ps (gacc[r], _mm512_set1_ps (load_sb (lin->sb_dtype, lin->scales, i)),
                              acc[r]);
    bsum[r] += load_sb (lin->sb_dtype, lin->biases, i) * in->xsum[g];
  }
}

/* 8 bits: the group's 16-byte runs widened to F32 and multiplied with x. */
AVX512 BLOCK void
q8_block (const VlmLinear *lin, const VlmGemvInput *in, gint64 o, const int R, float *y)
{
  gint64 K = lin->in, gs = lin->group_size, groups = K / gs;
  const guint8 *W = lin->data;
  __m512 acc[ROWS], gacc[ROWS];
  float bsum[ROWS];
  UNROLL for (int r = 0; r < R; r++) {
    acc[r] = _mm512_setzero_ps ();
    bsum[r] = 0;
  }
  for (gint64 g = 0; g < groups; g++) {
    UNROLL for (int r = 0; r < R; r++) {
      gacc[r] = _mm512_setzero_ps ();
      /* the next block's rows, one cache line per group and row ahead of use */
      for (gint64 c = 0; c < gs; c += 64)
        _mm_prefetch ((const char *) (W + (o + ROWS + r) * K + g * gs + c), _MM_HINT_T0);
    }
    for (gint64 k = g * gs; k < (g + 1) * gs; k += 16) {
      __m512 xv = _mm512_loadu_ps (in->x + k);
      UNROLL for (int r = 0; r < R; r++) {
        __m128i b = _mm_loadu_si128 ((const __m128i *) (W + (o + r) * K + k));
        gacc[r] = _mm512_fmadd_ps (_mm512_cvtepi32_ps (_mm512_cvtepu8_epi32 (b)), xv, gacc[r]);
      }
    }
    finish_group (lin, in, o, g, groups, R, gacc, acc, bsum);
  }
  UNROLL for (int r = 0; r < R; r++)
    y[o + r] = _mm512_reduce_add_ps (acc[r]) + bsum[r];
}

AVX512 static void
gemv_q8 (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y)
{
  gint64 o = o0;
  for (; o + ROWS <= o1; o += ROWS)
    q8_block (lin, in, o, ROWS, y);
  for (; o < o1; o++)
    q8_block (lin, in, o, 1, y);
}

/* 4 bits: 16 bytes = 32 codes; lane i holds codes 2i (low nibble) and 2i+1 (high). */
AVX512 BLOCK void
q4_block (const VlmLinear *lin, const VlmGemvInput *in, gint64 o, const int R, float *y)
{
  gint64 K = lin->in, gs = lin->group_size, groups = K / gs, row_bytes = K / 2;
  const guint8 *W = lin->data;
  const __m512i nib = _mm512_set1_epi32 (0xF);
  __m512 acc[ROWS], gacc[ROWS];
  float bsum[ROWS];
  UNROLL for (int r = 0; r < R; r++) {
    acc[r] = _mm512_setzero_ps ();
    bsum[r] = 0;
  }
  for (gint64 g = 0; g < groups; g++) {
    UNROLL for (int r = 0; r < R; r++) {
      gacc[r] = _mm512_setzero_ps ();
      for (gint64 c = 0; c < gs / 2; c += 64)
        _mm_prefetch ((const char *) (W + (o + ROWS + r) * row_bytes + g * gs / 2 + c), _MM_HINT_T0);
    }
    for (gint64 k = g * gs; k < (g + 1) * gs; k += 32) {
      __m512 xe = _mm512_loadu_ps (in->x_perm + k), xo = _mm512_loadu_ps (in->x_perm + k + 16);
      UNROLL for (int r = 0; r < R; r++) {
        __m512i v = _mm512_cvtepu8_epi32 (
            _mm_loadu_si128 ((const __m128i *) (W + (o + r) * row_bytes + k / 2)));
        gacc[r] = _mm512_fmadd_ps (_mm512_cvtepi32_ps (_mm512_and_si512 (v, nib)), xe, gacc[r]);
        gacc[r] = _mm512_fmadd_ps (_mm512_cvtepi32_ps (_mm512_srli_epi32 (v, 4)), xo, gacc[r]);
      }
    }
    finish_group (lin, in, o, g, groups, R, gacc, acc, bsum);
  }
  UNROLL for (int r = 0; r < R; r++)
    y[o + r] = _mm512_reduce_add_ps (acc[r]) + bsum[r];
}

AVX512 static void
gemv_q4 (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y)
{
  gint64 o = o0;
  for (; o + ROWS <= o1; o += ROWS)
    q4_block (lin, in, o, ROWS, y);
  for (; o < o1; o++)
    q4_block (lin, in, o, 1, y);
}

/* ---- row helpers ---- */

AVX512 static float
dot_f32_avx512 (const float *a, const float *b, gint64 n)
{
  __m512 s0 = _mm512_setzero_ps (), s1 = _mm512_setzero_ps ();
  gint64 k = 0;
  for (; k + 32 <= n; k += 32) {
    s0 = _mm512_fmadd_ps (_mm512_loadu_ps (a + k), _mm512_loadu_ps (b + k), s0);
    s1 = _mm512_fmadd_ps (_mm512_loadu_ps (a + k + 16), _mm512_loadu_ps (b + k + 16), s1);
  }
  for (; k < n; k += 16) {
    __mmask16 m = n - k >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - k)) - 1);
    s0 = _mm512_fmadd_ps (_mm512_maskz_loadu_ps (m, a + k), _mm512_maskz_loadu_ps (m, b + k), s0);
  }
  return _mm512_reduce_add_ps (_mm512_add_ps (s0, s1));
}

AVX512 static void
axpy_f32_avx512 (float a, const float *x, float *y, gint64 n)
{
  __m512 av = _mm512_set1_ps (a);
  gint64 k = 0;
  for (; k + 16 <= n; k += 16)
    _mm512_storeu_ps (y + k, _mm512_fmadd_ps (av, _mm512_loadu_ps (x + k), _mm512_loadu_ps (y + k)));
  if (k < n) {
    __mmask16 m = (__mmask16) ((1u << (n - k)) - 1);
    _mm512_mask_storeu_ps (y + k, m, _mm512_fmadd_ps (av, _mm512_maskz_loadu_ps (m, x + k),
                                                      _mm512_maskz_loadu_ps (m, y + k)));
  }
}

AVX512 static float
exp_shift_sum_avx512 (float *x, gint64 n, float shift)
{
  __m512 s = _mm512_set1_ps (shift), sum = _mm512_setzero_ps ();
  for (gint64 k = 0; k < n; k += 16) {
    __mmask16 m = n - k >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - k)) - 1);
    __m512 e = exp512 (_mm512_sub_ps (_mm512_maskz_loadu_ps (m, x + k), s));
    _mm512_mask_storeu_ps (x + k, m, e);
    sum = _mm512_add_ps (sum, _mm512_maskz_mov_ps (m, e));
  }
  return _mm512_reduce_add_ps (sum);
}

AVX512 static void
silu_mul_avx512 (const float *gate, const float *up, float *out, gint64 n)
{
  const __m512 one = _mm512_set1_ps (1.0f);
  for (gint64 k = 0; k < n; k += 16) {
    __mmask16 m = n - k >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - k)) - 1);
    __m512 g = _mm512_maskz_loadu_ps (m, gate + k), u = _mm512_maskz_loadu_ps (m, up + k);
    /* exp(-g) overflows to +inf for g < -88.7: then g / inf = -0, as expf gives */
    __m512 e = exp512 (_mm512_sub_ps (_mm512_setzero_ps (), g));
    e = _mm512_mask_blend_ps (_mm512_cmp_ps_mask (g, _mm512_set1_ps (-88.7f), _CMP_LT_OQ), e,
                              _mm512_set1_ps (INFINITY));
    _mm512_mask_storeu_ps (out + k, m, _mm512_mul_ps (_mm512_div_ps (g, _mm512_add_ps (one, e)), u));
  }
}

AVX512 static float
scale_max_avx512 (float *x, gint64 n, float s)
{
  __m512 sv = _mm512_set1_ps (s), mx = _mm512_set1_ps (-INFINITY);
  for (gint64 k = 0; k < n; k += 16) {
    __mmask16 m = n - k >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - k)) - 1);
    __m512 v = _mm512_mul_ps (_mm512_maskz_loadu_ps (m, x + k), sv);
    _mm512_mask_storeu_ps (x + k, m, v);
    mx = _mm512_mask_max_ps (mx, m, mx, v);
  }
  return _mm512_reduce_max_ps (mx);
}

/* tanh(z) = 1 - 2 / (1 + exp(2z)); exp's overflow and underflow give the +-1 limits. */
AVX512 static void
gelu_tanh_avx512 (float *x, gint64 n)
{
  const __m512 one = _mm512_set1_ps (1.0f), two = _mm512_set1_ps (2.0f), half = _mm512_set1_ps (0.5f);
  const __m512 c = _mm512_set1_ps (0.7978845608028654f), c3 = _mm512_set1_ps (0.044715f);
  for (gint64 k = 0; k < n; k += 16) {
    __mmask16 m = n - k >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - k)) - 1);
    __m512 v = _mm512_maskz_loadu_ps (m, x + k);
    __m512 z = _mm512_mul_ps (c, _mm512_fmadd_ps (_mm512_mul_ps (c3, v), _mm512_mul_ps (v, v), v));
    __m512 e = exp512 (_mm512_mul_ps (two, z));
    e = _mm512_mask_blend_ps (_mm512_cmp_ps_mask (z, _mm512_set1_ps (44.0f), _CMP_GT_OQ), e,
                              _mm512_set1_ps (INFINITY));
    __m512 t = _mm512_sub_ps (one, _mm512_div_ps (two, _mm512_add_ps (one, e)));
    _mm512_mask_storeu_ps (x + k, m, _mm512_mul_ps (_mm512_mul_ps (half, v), _mm512_add_ps (one, t)));
  }
}

/* Four keys at a time; their four 16-lane partial sums are folded into one 4-lane
 * result with shuffles instead of four horizontal reductions. */
AVX512 static void
attn_scores_avx512 (const float *q, const float *k, gint64 stride, gint64 n, gint64 d, float *out)
{
  int nc = (int) (d / 16);
  __m512 qv[16];
  for (int c = 0; c < nc; c++)
    qv[c] = _mm512_loadu_ps (q + 16 * c);
  const __m512i first = _mm512_setr_epi32 (0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  gint64 t = 0;
  for (; t + 4 <= n; t += 4) {
    const float *k0 = k + t * stride;
    __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
    for (int c = 0; c < nc; c++) {
      /* keys 8 ahead: strided rows the hardware prefetcher follows poorly */
      _mm_prefetch ((const char *) (k0 + 8 * stride + 16 * c), _MM_HINT_T0);
      _mm_prefetch ((const char *) (k0 + 9 * stride + 16 * c), _MM_HINT_T0);
      _mm_prefetch ((const char *) (k0 + 10 * stride + 16 * c), _MM_HINT_T0);
      _mm_prefetch ((const char *) (k0 + 11 * stride + 16 * c), _MM_HINT_T0);
      a0 = _mm512_fmadd_ps (_mm512_loadu_ps (k0 + 16 * c), qv[c], a0);
      a1 = _mm512_fmadd_ps (_mm512_loadu_ps (k0 + stride + 16 * c), qv[c], a1);
      a2 = _mm512_fmadd_ps (_mm512_loadu_ps (k0 + 2 * stride + 16 * c), qv[c], a2);
      a3 = _mm512_fmadd_ps (_mm512_loadu_ps (k0 + 3 * stride + 16 * c), qv[c], a3);
    }
    __m512 t0 = _mm512_add_ps (_mm512_shuffle_f32x4 (a0, a1, 0x44), _mm512_shuffle_f32x4 (a0, a1, 0xEE));
    __m512 t1 = _mm512_add_ps (_mm512_shuffle_f32x4 (a2, a3, 0x44), _mm512_shuffle_f32x4 (a2, a3, 0xEE));
    __m512 u = _mm512_add_ps (_mm512_shuffle_f32x4 (t0, t1, 0x88), _mm512_shuffle_f32x4 (t0, t1, 0xDD));
    u = _mm512_add_ps (u, _mm512_permute_ps (u, 0x4E));
    u = _mm512_add_ps (u, _mm512_permute_ps (u, 0xB1));
    _mm_storeu_ps (out + t, _mm512_castps512_ps128 (_mm512_permutexvar_ps (first, u)));
  }
  for (; t < n; t++) {
    __m512 a = _mm512_setzero_ps ();
    for (int c = 0; c < nc; c++)
      a = _mm512_fmadd_ps (_mm512_loadu_ps (k + t * stride + 16 * c), qv[c], a);
    out[t] = _mm512_reduce_add_ps (a);
  }
}

AVX512 static void
attn_weighted_sum_avx512 (const float *w, const float *v, gint64 stride, gint64 n, gint64 dv,
                          float *o)
{
  int nc = (int) (dv / 16);
  __m512 acc[16];
  for (int c = 0; c < nc; c++)
    acc[c] = _mm512_setzero_ps ();
  for (gint64 t = 0; t < n; t++) {
    if (w[t] == 0.0f)
      continue;
    __m512 wt = _mm512_set1_ps (w[t]);
    for (int c = 0; c < nc; c++) {
      _mm_prefetch ((const char *) (v + (t + 8) * stride + 16 * c), _MM_HINT_T0);
      acc[c] = _mm512_fmadd_ps (wt, _mm512_loadu_ps (v + t * stride + 16 * c), acc[c]);
    }
  }
  for (int c = 0; c < nc; c++)
    _mm512_storeu_ps (o + 16 * c, acc[c]);
}

AVX512 static void
bf16_to_f32_avx512 (const guint16 *src, float *dst, gint64 n)
{
  gint64 k = 0;
  for (; k + 16 <= n; k += 16)
    _mm512_storeu_ps (dst + k, bf16x16 (src + k));
  if (k < n) {
    __mmask16 m = (__mmask16) ((1u << (n - k)) - 1);
    _mm512_mask_storeu_ps (dst + k, m, bf16x16_masked (src + k, m));
  }
}

/* Codes of a whole row to F32 (w = s * q + b), for the products of several rows. The
 * layer's fields are read once: stores to out could alias them as far as the compiler
 * knows (reloading them cost a fifth of the expansion). */
AVX512 static void
dequant_q_row (const VlmLinear *lin, gint64 row, float *restrict out)
{
  const gint64 K = lin->in, gs = lin->group_size, groups = K / gs;
  const int bits = lin->bits;
  const VlmDType sbt = lin->sb_dtype;
  const void *scales = lin->scales, *biases = lin->biases;
  const guint8 *restrict bytes = (const guint8 *) lin->data + row * (K * bits / 8);
  const __m512i nib = _mm512_set1_epi32 (0xF);
  /* lane i of the 4-bit unpack holds codes 2i and 2i+1: interleave them back. */
  const __m512i idx_lo = _mm512_setr_epi32 (0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i idx_hi = _mm512_setr_epi32 (8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30,
                                            15, 31);
  for (gint64 g = 0; g < groups; g++) {
    __m512 sv = _mm512_set1_ps (load_sb (sbt, scales, row * groups + g));
    __m512 bv = _mm512_set1_ps (load_sb (sbt, biases, row * groups + g));
    float *o = out + g * gs;
    if (bits == 8) {
      const guint8 *q = bytes + g * gs;
      for (gint64 k = 0; k < gs; k += 16) {
        __m512 w = _mm512_cvtepi32_ps (_mm512_cvtepu8_epi32 (_mm_loadu_si128 ((const __m128i *) (q + k))));
        _mm512_storeu_ps (o + k, _mm512_fmadd_ps (w, sv, bv));
      }
    } else {
      const guint8 *q = bytes + g * gs / 2;
      for (gint64 k = 0; k < gs; k += 32) {
        __m512i v = _mm512_cvtepu8_epi32 (_mm_loadu_si128 ((const __m128i *) (q + k / 2)));
        __m512 lo = _mm512_fmadd_ps (_mm512_cvtepi32_ps (_mm512_and_si512 (v, nib)), sv, bv);
        __m512 hi = _mm512_fmadd_ps (_mm512_cvtepi32_ps (_mm512_srli_epi32 (v, 4)), sv, bv);
        _mm512_storeu_ps (o + k, _mm512_permutex2var_ps (lo, idx_lo, hi));
        _mm512_storeu_ps (o + k + 16, _mm512_permutex2var_ps (lo, idx_hi, hi));
      }
    }
  }
}

AVX512 static void
gemv_dispatch (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y)
{
  switch (lin->dtype) {
  case VLM_DTYPE_F32: gemv_f32 (lin, in, o0, o1, y); break;
  case VLM_DTYPE_BF16: gemv_bf16 (lin, in, o0, o1, y); break;
  default: lin->bits == 8 ? gemv_q8 (lin, in, o0, o1, y) : gemv_q4 (lin, in, o0, o1, y); break;
  }
}

AVX512BF16 static void
gemv_dispatch_bf16 (const VlmLinear *lin, const VlmGemvInput *in, gint64 o0, gint64 o1, float *y)
{
  if (lin->dtype == VLM_DTYPE_BF16)
    gemv_bf16_dp (lin, in, o0, o1, y);
  else
    gemv_dispatch (lin, in, o0, o1, y);
}

const VlmKernels vlm_kernels_avx512 = {
  .dot_f32 = dot_f32_avx512, .axpy_f32 = axpy_f32_avx512, .bf16_to_f32 = bf16_to_f32_avx512,
  .exp_shift_sum = exp_shift_sum_avx512, .silu_mul = silu_mul_avx512, .gelu_tanh = gelu_tanh_avx512,
  .scale_max = scale_max_avx512,
  .attn_scores = attn_scores_avx512, .attn_weighted_sum = attn_weighted_sum_avx512,
  .gemv = gemv_dispatch, .dequant_q_row = dequant_q_row, .gemm_small = vlm_gemm_small_avx512,
  .name = "avx512",
};

const VlmKernels vlm_kernels_avx512_bf16 = {
  .dot_f32 = dot_f32_avx512, .axpy_f32 = axpy_f32_avx512, .bf16_to_f32 = bf16_to_f32_avx512,
  .exp_shift_sum = exp_shift_sum_avx512, .silu_mul = silu_mul_avx512, .gelu_tanh = gelu_tanh_avx512,
  .scale_max = scale_max_avx512,
  .attn_scores = attn_scores_avx512, .attn_weighted_sum = attn_weighted_sum_avx512,
  .gemv = gemv_dispatch_bf16, .dequant_q_row = dequant_q_row, .gemv_split_bf16 = TRUE,
  .gemm_small = vlm_gemm_small_avx512,
  .name = "avx512-bf16",
};
#endif
