/* kernels-gemm-small.c: a weight times a few input rows (one decode step of several
 * sequences), each weight row read from memory once.
 *
 * Decoding B sequences together is memory-bound: the weight is most of the traffic, so
 * these products take four weight rows at a time and compute their dot products with
 * all B input rows while the rows sit in L1, in register tiles of 4 weight rows x 4
 * input rows (AVX-512) or 4 x 2 (AVX2). F32 rows are read in place; BF16, F16 and
 * quantized rows are expanded to F32 once per block into a per-thread buffer, so each
 * group is dequantized once for all B input rows. While a block's tiles run, the next
 * block's stored rows are prefetched a few lines per step: without that, the expansion
 * waited for memory and the products for the expansion (a third of a step of 8 rows). vdpbf16ps is not used: with the input split
 * into BF16 halves (two per product) it measured 2.7x slower than widening + FMA on a
 * Sapphire Rapids Xeon with an L2-resident weight, and the more input rows, the more the
 * products rather than the memory set the pace.
 * The GEMV kernels stay faster for one row; sgemm for many (see linear.c).
 */
#include "compute/kernels.h"
#include "vlm/vlm-tensor.h"

#include <string.h>

#define TR 4 /* weight rows per block */

/* Expanded rows of the current block, per thread; only grows. */
static void
buffer_free (gpointer p)
{
  g_free (p);
}

static GPrivate buffer_key = G_PRIVATE_INIT (buffer_free);
static _Thread_local gsize buffer_floats;

static float *
block_buffer (gint64 K)
{
  float *p = g_private_get (&buffer_key);
  if (!p || buffer_floats < (gsize) (TR * K)) {
    p = g_new (float, TR * K);
    g_private_replace (&buffer_key, p);
    buffer_floats = (gsize) (TR * K);
  }
  return p;
}

/* What a kernel set provides: the F32 tile and fast row expansions. The tile computes
 * y[b * ldy + r] = dot(W + r * K, x + b * K) for r < R, b < nb, and prefetches the
 * pf_bytes at pf (the next block's stored rows; pf may be NULL) spread over its steps. */
typedef void (*TileF32) (const float *W, gint64 K, gint64 R, const float *x, gint64 nb,
                         const char *pf, gint64 pf_bytes, float *y, gint64 ldy);
typedef struct {
  TileF32 f32;
  void (*f16_row) (const guint16 *src, float *dst, gint64 n);
  void (*bf16_row) (const guint16 *src, float *dst, gint64 n);
  void (*q_row) (const VlmLinear *lin, gint64 row, float *out); /* 4/8 bits; NULL: scalar */
} SmallOps;

static inline float
bf16 (guint16 v)
{
  guint32 bits = (guint32) v << 16;
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

static inline float
load_sb (VlmDType dt, const void *base, gint64 i)
{
  switch (dt) {
  case VLM_DTYPE_BF16: return bf16 (((const guint16 *) base)[i]);
  case VLM_DTYPE_F16: return vlm_f16_to_f32 (((const guint16 *) base)[i]);
  default: return ((const float *) base)[i];
  }
}

static void
bf16_row_c (const guint16 *src, float *dst, gint64 n)
{
  for (gint64 k = 0; k < n; k++)
    dst[k] = bf16 (src[k]);
}

static void
f16_row_c (const guint16 *src, float *dst, gint64 n)
{
  for (gint64 k = 0; k < n; k++)
    dst[k] = vlm_f16_to_f32 (src[k]);
}

/* Rows [o, o + R) as F32 in buf. */
static void
expand_rows (const VlmLinear *lin, const SmallOps *ops, gint64 o, gint64 R, float *buf)
{
  gint64 K = lin->in;
  for (gint64 r = 0; r < R; r++) {
    float *out = buf + r * K;
    gint64 row = o + r;
    if (lin->dtype == VLM_DTYPE_F16) {
      ops->f16_row ((const guint16 *) lin->data + row * K, out, K);
    } else if (lin->dtype == VLM_DTYPE_BF16) {
      ops->bf16_row ((const guint16 *) lin->data + row * K, out, K);
    } else if (ops->q_row && (lin->bits == 4 || lin->bits == 8) && lin->group_size % 32 == 0) {
      ops->q_row (lin, row, out);
    } else {
      gint64 gs = lin->group_size, groups = K / gs;
      const guint32 *w = (const guint32 *) lin->data + row * (K * lin->bits / 32);
      for (gint64 g = 0; g < groups; g++) {
        float s = load_sb (lin->sb_dtype, lin->scales, row * groups + g);
        float b = load_sb (lin->sb_dtype, lin->biases, row * groups + g);
        for (gint64 c = g * gs; c < (g + 1) * gs; c++)
          out[c] = s * (float) vlm_quant_code (w, c, lin->bits) + b;
      }
    }
  }
}

static void
gemm_small_run (const SmallOps *ops, const VlmLinear *lin, const float *x, gint64 nb,
                gint64 o0, gint64 o1, float *y, gint64 ldy)
{
  gint64 K = lin->in;
  gint64 row_bytes = lin->bits ? K * lin->bits / 8 : K * (gint64) vlm_dtype_size (lin->dtype);
  float *buf = lin->dtype == VLM_DTYPE_F32 ? NULL : block_buffer (K);
  for (gint64 o = o0; o < o1; o += TR) {
    gint64 R = MIN (TR, o1 - o), next = MIN (TR, o1 - o - R);
    const char *pf = next > 0 ? (const char *) lin->data + (o + TR) * row_bytes : NULL;
    if (lin->dtype == VLM_DTYPE_F32) {
      ops->f32 ((const float *) lin->data + o * K, K, R, x, nb, pf, next * row_bytes, y + o, ldy);
    } else {
      expand_rows (lin, ops, o, R, buf);
      ops->f32 (buf, K, R, x, nb, pf, next * row_bytes, y + o, ldy);
    }
  }
}

/* ---- portable ---- */

static void
tile_f32_c (const float *W, gint64 K, gint64 R, const float *x, gint64 nb, const char *pf,
            gint64 pf_bytes, float *y, gint64 ldy)
{
  (void) pf;
  (void) pf_bytes;
  for (gint64 r = 0; r < R; r++)
    for (gint64 b = 0; b < nb; b++)
      y[b * ldy + r] = vlm_kernels_get_portable ()->dot_f32 (W + r * K, x + b * K, K);
}

static const SmallOps ops_c = { tile_f32_c, f16_row_c, bf16_row_c, NULL };

/**
 * vlm_gemm_small_portable:
 * @lin: a layer (any format)
 * @x: [nb, in] input rows
 * @nb: input rows
 * @o0: first output row
 * @o1: end of the output rows
 * @y: output; row b of the result at @y + b * @ldy
 * @ldy: output row stride
 *
 * The plain C small product (the reference the vector ones are tested against).
 */
void
vlm_gemm_small_portable (const VlmLinear *lin, const float *x, gint64 nb, gint64 o0,
                         gint64 o1, float *y, gint64 ldy)
{
  gemm_small_run (&ops_c, lin, x, nb, o0, o1, y, ldy);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__ ((target ("avx2,fma,f16c")))
#define AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512dq,fma")))
/* Tiles are written for compile-time R x C so that the accumulators live in registers. */
#define BLOCK __attribute__ ((always_inline)) static inline
#define UNROLL _Pragma ("GCC unroll 4")

/* The tiles' share of the next block's prefetch: up to *goal bytes, advanced per step. */
#define PREFETCH_STEP(pf, pf_bytes, step, done, goal)                                     \
  if (pf) {                                                                               \
    goal += step;                                                                         \
    for (; done < goal && done < (pf_bytes); done += 64)                                  \
      _mm_prefetch ((pf) + done, _MM_HINT_T0);                                            \
  }

/* One block of R weight rows against the nb rows of x, in tiles of C input rows:
 * TILE (R, C) expands to the tile call; the full-R tiles use every C up to CMAX, the
 * leftover weight rows go one by one. */
#define RUN_TILES(CMAX, TILE)                                                               \
  for (gint64 b = 0; b < nb; b += (CMAX)) {                                                 \
    gint64 C = MIN ((CMAX), nb - b);                                                        \
    const float *xb = x + b * K;                                                            \
    float *yb = y + b * ldy;                                                                \
    if (R == TR) {                                                                          \
      switch (C) {                                                                          \
      case 4: TILE (0, TR, 4); break;                                                       \
      case 3: TILE (0, TR, 3); break;                                                       \
      case 2: TILE (0, TR, 2); break;                                                       \
      default: TILE (0, TR, 1); break;                                                      \
      }                                                                                     \
    } else {                                                                                \
      for (gint64 r = 0; r < R; r++)                                                        \
        switch (C) {                                                                        \
        case 4: TILE (r, 1, 4); break;                                                      \
        case 3: TILE (r, 1, 3); break;                                                      \
        case 2: TILE (r, 1, 2); break;                                                      \
        default: TILE (r, 1, 1); break;                                                     \
        }                                                                                   \
    }                                                                                       \
  }

/* ---- AVX2: 4 weight rows x 2 input rows of 8 lanes (13 of 16 registers) ---- */

AVX2 static inline float
hsum8 (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

AVX2 BLOCK void
tile_avx2 (const float *W, gint64 K, const float *x, const int R, const int C, const char *pf,
           gint64 pf_bytes, float *y, gint64 ldy)
{
  gint64 kv = K & ~(gint64) 7;
  gint64 step = pf ? (pf_bytes * 8 + K - 1) / K : 0, done = 0, goal = 0;
  __m256 acc[TR][2];
  UNROLL for (int r = 0; r < R; r++)
    UNROLL for (int c = 0; c < C; c++)
      acc[r][c] = _mm256_setzero_ps ();
  for (gint64 k = 0; k < kv; k += 8) {
    __m256 w[TR];
    PREFETCH_STEP (pf, pf_bytes, step, done, goal)
    UNROLL for (int r = 0; r < R; r++) {
      w[r] = _mm256_loadu_ps (W + r * K + k);
      __asm__ ("" : "+x" (w[r])); /* one load per weight vector (see tile_avx512) */
    }
    UNROLL for (int c = 0; c < C; c++) {
      __m256 xv = _mm256_loadu_ps (x + c * K + k);
      UNROLL for (int r = 0; r < R; r++)
        acc[r][c] = _mm256_fmadd_ps (w[r], xv, acc[r][c]);
    }
  }
  UNROLL for (int r = 0; r < R; r++)
    UNROLL for (int c = 0; c < C; c++) {
      float s = hsum8 (acc[r][c]);
      for (gint64 k = kv; k < K; k++)
        s += W[r * K + k] * x[c * K + k];
      y[c * ldy + r] = s;
    }
}

AVX2 static void
tile_f32_avx2 (const float *W, gint64 K, gint64 R, const float *x, gint64 nb, const char *pf,
               gint64 pf_bytes, float *y, gint64 ldy)
{
#define TILE(r, R_, C_) \
  tile_avx2 (W + (r) * K, K, xb, R_, C_, b == 0 && r == 0 ? pf : NULL, pf_bytes, yb + (r), ldy)
  for (gint64 b = 0; b < nb; b += 2) {
    gint64 C = MIN (2, nb - b);
    const float *xb = x + b * K;
    float *yb = y + b * ldy;
    if (R == TR && C == 2)
      TILE (0, TR, 2);
    else if (R == TR)
      TILE (0, TR, 1);
    else
      for (gint64 r = 0; r < R; r++) {
        if (C == 2)
          TILE (r, 1, 2);
        else
          TILE (r, 1, 1);
      }
  }
#undef TILE
}

AVX2 static void
f16_row_avx2 (const guint16 *src, float *dst, gint64 n)
{
  gint64 k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps (dst + k, _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) (src + k))));
  for (; k < n; k++)
    dst[k] = vlm_f16_to_f32 (src[k]);
}

AVX2 static void
bf16_row_avx2 (const guint16 *src, float *dst, gint64 n)
{
  gint64 k = 0;
  for (; k + 8 <= n; k += 8) {
    __m256i v = _mm256_cvtepu16_epi32 (_mm_loadu_si128 ((const __m128i *) (src + k)));
    _mm256_storeu_ps (dst + k, _mm256_castsi256_ps (_mm256_slli_epi32 (v, 16)));
  }
  for (; k < n; k++)
    dst[k] = bf16 (src[k]);
}

/**
 * vlm_dequant_q_row_avx2:
 * @lin: a 4- or 8-bit layer with groups of a multiple of 32
 * @row: the weight row
 * @out: [in] F32
 *
 * The row expanded (w = s * q + b) with AVX2.
 */
AVX2 void
vlm_dequant_q_row_avx2 (const VlmLinear *lin, gint64 row, float *out)
{
  gint64 K = lin->in, gs = lin->group_size, groups = K / gs;
  const __m256i shifts = _mm256_setr_epi32 (0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i nib = _mm256_set1_epi32 (0xF);
  const guint8 *bytes = (const guint8 *) lin->data + row * K * lin->bits / 8;
  for (gint64 g = 0; g < groups; g++) {
    __m256 s = _mm256_set1_ps (load_sb (lin->sb_dtype, lin->scales, row * groups + g));
    __m256 b = _mm256_set1_ps (load_sb (lin->sb_dtype, lin->biases, row * groups + g));
    for (gint64 k = g * gs; k < (g + 1) * gs; k += 8) {
      __m256i q;
      if (lin->bits == 8) {
        q = _mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) (bytes + k)));
      } else {
        guint32 word;
        memcpy (&word, bytes + k / 2, 4);
        q = _mm256_and_si256 (_mm256_srlv_epi32 (_mm256_set1_epi32 ((int) word), shifts), nib);
      }
      _mm256_storeu_ps (out + k, _mm256_fmadd_ps (_mm256_cvtepi32_ps (q), s, b));
    }
  }
}

static const SmallOps ops_avx2 = { tile_f32_avx2, f16_row_avx2, bf16_row_avx2,
                                   vlm_dequant_q_row_avx2 };

/**
 * vlm_gemm_small_avx2:
 * (see vlm_gemm_small_portable)
 */
void
vlm_gemm_small_avx2 (const VlmLinear *lin, const float *x, gint64 nb, gint64 o0,
                     gint64 o1, float *y, gint64 ldy)
{
  gemm_small_run (&ops_avx2, lin, x, nb, o0, o1, y, ldy);
}

/* ---- AVX-512: 4 weight rows x 4 input rows of 16 lanes (16 accumulators) ---- */

/* The sums of four vectors, as four floats: three shuffle-and-add rounds instead of four
 * horizontal reductions (which cost as much as the products of a 576-wide tile). */
AVX512 static inline __m128
sum4_avx512 (__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
  __m512 t0 = _mm512_add_ps (_mm512_shuffle_f32x4 (a0, a1, 0x44), _mm512_shuffle_f32x4 (a0, a1, 0xEE));
  __m512 t1 = _mm512_add_ps (_mm512_shuffle_f32x4 (a2, a3, 0x44), _mm512_shuffle_f32x4 (a2, a3, 0xEE));
  __m512 u = _mm512_add_ps (_mm512_shuffle_f32x4 (t0, t1, 0x88), _mm512_shuffle_f32x4 (t0, t1, 0xDD));
  u = _mm512_add_ps (u, _mm512_permute_ps (u, 0x4E));
  u = _mm512_add_ps (u, _mm512_permute_ps (u, 0xB1));
  const __m512i first = _mm512_setr_epi32 (0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps128 (_mm512_permutexvar_ps (first, u));
}

AVX512 BLOCK void
tile_avx512 (const float *W, gint64 K, const float *x, const int R, const int C, const char *pf,
             gint64 pf_bytes, float *y, gint64 ldy)
{
  gint64 kv = K & ~(gint64) 15;
  gint64 step = pf ? (pf_bytes * 16 + K - 1) / K : 0, done = 0, goal = 0;
  __mmask16 tail = (__mmask16) ((1u << (K - kv)) - 1);
  __m512 acc[TR][4], w[TR];
  UNROLL for (int r = 0; r < R; r++)
    UNROLL for (int c = 0; c < 4; c++)
      acc[r][c] = _mm512_setzero_ps ();
  for (gint64 k = 0; k < kv; k += 16) {
    PREFETCH_STEP (pf, pf_bytes, step, done, goal)
    /* Each weight vector is loaded once into a register for all C products: left to
     * itself, the compiler folds the load into every FMA, and the loads then outnumber
     * what the load ports issue beside two FMAs a cycle. */
    UNROLL for (int r = 0; r < R; r++) {
      w[r] = _mm512_loadu_ps (W + r * K + k);
      __asm__ ("" : "+v" (w[r]));
    }
    UNROLL for (int c = 0; c < C; c++) {
      __m512 xv = _mm512_loadu_ps (x + c * K + k);
      UNROLL for (int r = 0; r < R; r++)
        acc[r][c] = _mm512_fmadd_ps (w[r], xv, acc[r][c]);
    }
  }
  if (tail) {
    UNROLL for (int r = 0; r < R; r++)
      w[r] = _mm512_maskz_loadu_ps (tail, W + r * K + kv);
    UNROLL for (int c = 0; c < C; c++) {
      __m512 xv = _mm512_maskz_loadu_ps (tail, x + c * K + kv);
      UNROLL for (int r = 0; r < R; r++)
        acc[r][c] = _mm512_fmadd_ps (w[r], xv, acc[r][c]);
    }
  }
  UNROLL for (int r = 0; r < R; r++) {
    float sums[4];
    _mm_storeu_ps (sums, sum4_avx512 (acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
    UNROLL for (int c = 0; c < C; c++)
      y[c * ldy + r] = sums[c];
  }
}

AVX512 static void
tile_f32_avx512 (const float *W, gint64 K, gint64 R, const float *x, gint64 nb,
                 const char *pf, gint64 pf_bytes, float *y, gint64 ldy)
{
#define TILE(r, R_, C_) \
  tile_avx512 (W + (r) * K, K, xb, R_, C_, b == 0 && r == 0 ? pf : NULL, pf_bytes, yb + (r), ldy)
  RUN_TILES (4, TILE)
#undef TILE
}

AVX512 static void
f16_row_avx512 (const guint16 *src, float *dst, gint64 n)
{
  gint64 k = 0;
  for (; k + 16 <= n; k += 16)
    _mm512_storeu_ps (dst + k, _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) (src + k))));
  if (k < n) {
    __mmask16 m = (__mmask16) ((1u << (n - k)) - 1);
    _mm512_mask_storeu_ps (dst + k, m, _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (m, src + k)));
  }
}

extern const VlmKernels vlm_kernels_avx512;

/**
 * vlm_gemm_small_avx512:
 * (see vlm_gemm_small_portable)
 */
void
vlm_gemm_small_avx512 (const VlmLinear *lin, const float *x, gint64 nb, gint64 o0,
                       gint64 o1, float *y, gint64 ldy)
{
  const SmallOps ops = { tile_f32_avx512, f16_row_avx512, vlm_kernels_avx512.bf16_to_f32,
                         vlm_kernels_avx512.dequant_q_row };
  gemm_small_run (&ops, lin, x, nb, o0, o1, y, ldy);
}

#endif
