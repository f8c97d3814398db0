/* kernels.c: portable and AVX2 dot-product kernels, chosen once by CPU detection. */
#include "compute/kernels.h"
#include "vlm/vlm-tensor.h"

#include <math.h>
#include <string.h>

/* ---- portable: four accumulators so the compiler can vectorise ---- */

static float
dot_f32_c (const float *a, const float *b, gint64 n)
{
  float s[4] = { 0 };
  gint64 k = 0;
  for (; k + 4 <= n; k += 4)
    for (int j = 0; j < 4; j++)
      s[j] += a[k + j] * b[k + j];
  for (; k < n; k++)
    s[0] += a[k] * b[k];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

static inline float
bf16 (guint16 v)
{
  guint32 bits = (guint32) v << 16;
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

static float
dot_bf16_c (const guint16 *w, const float *x, gint64 n)
{
  float s[4] = { 0 };
  gint64 k = 0;
  for (; k + 4 <= n; k += 4)
    for (int j = 0; j < 4; j++)
      s[j] += bf16 (w[k + j]) * x[k + j];
  for (; k < n; k++)
    s[0] += bf16 (w[k]) * x[k];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

static float
dot_f16_c (const guint16 *w, const float *x, gint64 n)
{
  float s = 0;
  for (gint64 k = 0; k < n; k++)
    s += vlm_f16_to_f32 (w[k]) * x[k];
  return s;
}

static float
dot_q4_c (const guint32 *w, const float *x, gint64 n)
{
  float s = 0;
  for (gint64 k = 0; k < n; k += 8) {
    guint32 word = w[k / 8];
    for (int j = 0; j < 8; j++)
      s += x[k + j] * (float) ((word >> (4 * j)) & 0xF);
  }
  return s;
}

static float
dot_q8_c (const guint32 *w, const float *x, gint64 n)
{
  float s = 0;
  for (gint64 k = 0; k < n; k += 4) {
    guint32 word = w[k / 4];
    for (int j = 0; j < 4; j++)
      s += x[k + j] * (float) ((word >> (8 * j)) & 0xFF);
  }
  return s;
}

static void
bf16_to_f32_c (const guint16 *src, float *dst, gint64 n)
{
  for (gint64 k = 0; k < n; k++)
    dst[k] = bf16 (src[k]);
}

static void
axpy_f32_c (float a, const float *x, float *y, gint64 n)
{
  for (gint64 k = 0; k < n; k++)
    y[k] += a * x[k];
}

static float
exp_shift_sum_c (float *x, gint64 n, float shift)
{
  double sum = 0;
  for (gint64 k = 0; k < n; k++) {
    x[k] = x[k] == -INFINITY ? 0.0f : expf (x[k] - shift);
    sum += x[k];
  }
  return (float) sum;
}

static void
silu_mul_c (const float *gate, const float *up, float *out, gint64 n)
{
  for (gint64 k = 0; k < n; k++)
    out[k] = gate[k] / (1.0f + expf (-gate[k])) * up[k];
}

static float
scale_max_c (float *x, gint64 n, float s)
{
  float m = -INFINITY;
  for (gint64 k = 0; k < n; k++) {
    x[k] *= s;
    m = MAX (m, x[k]);
  }
  return m;
}

static void
gelu_tanh_c (float *x, gint64 n)
{
  for (gint64 k = 0; k < n; k++) {
    float v = x[k];
    x[k] = 0.5f * v * (1.0f + tanhf (0.7978845608028654f * (v + 0.044715f * v * v * v)));
  }
}

static const VlmKernels portable = {
  dot_f32_c, dot_bf16_c, dot_f16_c, dot_q4_c, dot_q8_c, bf16_to_f32_c, axpy_f32_c,
  exp_shift_sum_c, .gelu_tanh = gelu_tanh_c, .silu_mul = silu_mul_c,
  .scale_max = scale_max_c, .gemm_small = vlm_gemm_small_portable, .name = "portable",
};

/* ---- AVX2 + FMA (x86-64 only) ---- */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__ ((target ("avx2,fma,f16c")))

AVX2 static inline float
hsum (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

AVX2 static float
dot_f32_avx2 (const float *a, const float *b, gint64 n)
{
  __m256 s0 = _mm256_setzero_ps (), s1 = _mm256_setzero_ps ();
  gint64 k = 0;
  for (; k + 16 <= n; k += 16) {
    s0 = _mm256_fmadd_ps (_mm256_loadu_ps (a + k), _mm256_loadu_ps (b + k), s0);
    s1 = _mm256_fmadd_ps (_mm256_loadu_ps (a + k + 8), _mm256_loadu_ps (b + k + 8), s1);
  }
  float s = hsum (_mm256_add_ps (s0, s1));
  for (; k < n; k++)
    s += a[k] * b[k];
  return s;
}

AVX2 static inline __m256
load_bf16x8 (const guint16 *p)
{
  __m256i v = _mm256_cvtepu16_epi32 (_mm_loadu_si128 ((const __m128i *) p));
  return _mm256_castsi256_ps (_mm256_slli_epi32 (v, 16));
}

AVX2 static float
dot_bf16_avx2 (const guint16 *w, const float *x, gint64 n)
{
  __m256 s0 = _mm256_setzero_ps (), s1 = _mm256_setzero_ps ();
  gint64 k = 0;
  for (; k + 16 <= n; k += 16) {
    s0 = _mm256_fmadd_ps (load_bf16x8 (w + k), _mm256_loadu_ps (x + k), s0);
    s1 = _mm256_fmadd_ps (load_bf16x8 (w + k + 8), _mm256_loadu_ps (x + k + 8), s1);
  }
  float s = hsum (_mm256_add_ps (s0, s1));
  for (; k < n; k++)
    s += bf16 (w[k]) * x[k];
  return s;
}

AVX2 static float
dot_f16_avx2 (const guint16 *w, const float *x, gint64 n)
{
  __m256 s0 = _mm256_setzero_ps ();
  gint64 k = 0;
  for (; k + 8 <= n; k += 8)
    s0 = _mm256_fmadd_ps (_mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) (w + k))),
                          _mm256_loadu_ps (x + k), s0);
  float s = hsum (s0);
  for (; k < n; k++)
    s += vlm_f16_to_f32 (w[k]) * x[k];
  return s;
}

/* n is a multiple of 32 (groups are), so whole words only. */
AVX2 static float
dot_q4_avx2 (const guint32 *w, const float *x, gint64 n)
{
  const __m256i shifts = _mm256_setr_epi32 (0, 4, 8, 12, 16, 20, 24, 28);
  const __m256i mask = _mm256_set1_epi32 (0xF);
  __m256 s0 = _mm256_setzero_ps (), s1 = _mm256_setzero_ps ();
  gint64 k = 0;
  for (; k + 16 <= n; k += 16) {
    __m256i q0 = _mm256_and_si256 (_mm256_srlv_epi32 (_mm256_set1_epi32 ((int) w[k / 8]), shifts), mask);
    __m256i q1 = _mm256_and_si256 (_mm256_srlv_epi32 (_mm256_set1_epi32 ((int) w[k / 8 + 1]), shifts), mask);
    s0 = _mm256_fmadd_ps (_mm256_cvtepi32_ps (q0), _mm256_loadu_ps (x + k), s0);
    s1 = _mm256_fmadd_ps (_mm256_cvtepi32_ps (q1), _mm256_loadu_ps (x + k + 8), s1);
  }
  for (; k < n; k += 8) {
    __m256i q0 = _mm256_and_si256 (_mm256_srlv_epi32 (_mm256_set1_epi32 ((int) w[k / 8]), shifts), mask);
    s0 = _mm256_fmadd_ps (_mm256_cvtepi32_ps (q0), _mm256_loadu_ps (x + k), s0);
  }
  return hsum (_mm256_add_ps (s0, s1));
}

AVX2 static float
dot_q8_avx2 (const guint32 *w, const float *x, gint64 n)
{
  const guint8 *b = (const guint8 *) w;
  __m256 s0 = _mm256_setzero_ps ();
  for (gint64 k = 0; k < n; k += 8) {
    __m256i q = _mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) (b + k)));
    s0 = _mm256_fmadd_ps (_mm256_cvtepi32_ps (q), _mm256_loadu_ps (x + k), s0);
  }
  return hsum (s0);
}

AVX2 static void
bf16_to_f32_avx2 (const guint16 *src, float *dst, gint64 n)
{
  gint64 k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps (dst + k, load_bf16x8 (src + k));
  for (; k < n; k++)
    dst[k] = bf16 (src[k]);
}

AVX2 static void
axpy_f32_avx2 (float a, const float *x, float *y, gint64 n)
{
  __m256 av = _mm256_set1_ps (a);
  gint64 k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps (y + k, _mm256_fmadd_ps (av, _mm256_loadu_ps (x + k), _mm256_loadu_ps (y + k)));
  for (; k < n; k++)
    y[k] += a * x[k];
}

static const VlmKernels avx2 = {
  dot_f32_avx2, dot_bf16_avx2, dot_f16_avx2, dot_q4_avx2, dot_q8_avx2, bf16_to_f32_avx2,
  axpy_f32_avx2, exp_shift_sum_c, .gelu_tanh = gelu_tanh_c,
  .silu_mul = silu_mul_c, .scale_max = scale_max_c, .gemm_small = vlm_gemm_small_avx2,
  .dequant_q_row = vlm_dequant_q_row_avx2, .name = "avx2",
};

extern const VlmKernels vlm_kernels_avx512, vlm_kernels_avx512_bf16;
static VlmKernels avx512_set;

/* The AVX-512 set: its own products and row helpers, AVX2 for the rest. */
static const VlmKernels *
merge_avx512 (const VlmKernels *k512)
{
  avx512_set = avx2;
  avx512_set.dot_f32 = k512->dot_f32;
  avx512_set.axpy_f32 = k512->axpy_f32;
  avx512_set.exp_shift_sum = k512->exp_shift_sum;
  avx512_set.silu_mul = k512->silu_mul;
  avx512_set.gelu_tanh = k512->gelu_tanh;
  avx512_set.scale_max = k512->scale_max;
  avx512_set.attn_scores = k512->attn_scores;
  avx512_set.attn_weighted_sum = k512->attn_weighted_sum;
  avx512_set.bf16_to_f32 = k512->bf16_to_f32;
  avx512_set.gemv = k512->gemv;
  avx512_set.dequant_q_row = k512->dequant_q_row;
  avx512_set.gemm_small = k512->gemm_small;
  avx512_set.gemv_split_bf16 = k512->gemv_split_bf16;
  avx512_set.name = k512->name;
  return &avx512_set;
}
#endif

/**
 * vlm_kernels_get:
 *
 * Returns: the fastest kernels this CPU runs (`VLM_KERNELS=portable`, `avx2` or
 *   `avx512` (without the BF16 dot products) caps the choice, for testing)
 */
const VlmKernels *
vlm_kernels_get (void)
{
  static gsize chosen;
  if (g_once_init_enter (&chosen)) {
    const VlmKernels *k = &portable;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init ();
    const char *want = g_getenv ("VLM_KERNELS"); /* portable, avx2, avx512 or unset */
    gboolean avx512 = __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
                      && __builtin_cpu_supports ("avx512vl")
                      && __builtin_cpu_supports ("avx512dq");
    if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma")
        && g_strcmp0 (want, "portable") != 0) {
      k = &avx2;
      if (avx512 && g_strcmp0 (want, "avx2") != 0)
        k = merge_avx512 (__builtin_cpu_supports ("avx512bf16") && g_strcmp0 (want, "avx512") != 0
                              ? &vlm_kernels_avx512_bf16 : &vlm_kernels_avx512);
    }
#endif
    g_once_init_leave (&chosen, (gsize) k);
  }
  return (const VlmKernels *) chosen;
}

/**
 * vlm_kernels_get_portable:
 *
 * Returns: the plain C kernels (the portable small GEMM uses their dot; tests compare
 *   the vector ones against them)
 */
const VlmKernels *
vlm_kernels_get_portable (void)
{
  return &portable;
}

/**
 * vlm_kernels_gemv_supports:
 * @k: a kernel set
 * @lin: a layer
 *
 * Returns: whether @k's gemv handles @lin's weight format
 */
gboolean
vlm_kernels_gemv_supports (const VlmKernels *k, const VlmLinear *lin)
{
  if (!k->gemv)
    return FALSE;
  if (lin->bits)
    return (lin->bits == 4 || lin->bits == 8) && lin->group_size % 32 == 0;
  return lin->dtype == VLM_DTYPE_F32 || lin->dtype == VLM_DTYPE_BF16;
}

/**
 * vlm_gemv_scratch_floats:
 * @lin: a layer
 *
 * Returns: the scratch vlm_gemv_input_prepare() needs for one input row of @lin
 */
gsize
vlm_gemv_scratch_floats (const VlmLinear *lin)
{
  return (gsize) (2 * lin->in + (lin->group_size ? lin->in / lin->group_size : 0) + 16);
}

/**
 * vlm_gemv_input_prepare:
 * @k: the kernels that will read it
 * @lin: the layer
 * @x: [in] the input row
 * @scratch: vlm_gemv_scratch_floats() floats
 * @in: (out): the prepared input, pointing into @x and @scratch
 */
void
vlm_gemv_input_prepare (const VlmKernels *k, const VlmLinear *lin, const float *x, float *scratch,
                        VlmGemvInput *in)
{
  gint64 K = lin->in;
  memset (in, 0, sizeof *in);
  in->x = x;
  if (lin->bits) {
    gint64 gs = lin->group_size, groups = K / gs;
    float *xsum = scratch + 2 * K;
    for (gint64 g = 0; g < groups; g++) {
      float s = 0;
      for (gint64 c = 0; c < gs; c++)
        s += x[g * gs + c];
      xsum[g] = s;
    }
    in->xsum = xsum;
    if (lin->bits == 4 && K % 32 == 0) {
      for (gint64 b = 0; b < K; b += 32)
        for (int j = 0; j < 16; j++) {
          scratch[b + j] = x[b + 2 * j];
          scratch[b + 16 + j] = x[b + 2 * j + 1];
        }
      in->x_perm = scratch;
    }
  } else if (lin->dtype == VLM_DTYPE_BF16 && k->gemv_split_bf16) {
    /* x = hi + lo, each rounded to BF16: hi keeps 8 significant bits, lo the next 8. */
    guint16 *hi = (guint16 *) scratch, *lo = hi + K;
    for (gint64 c = 0; c < K; c++) {
      hi[c] = vlm_f32_to_bf16 (x[c]);
      lo[c] = vlm_f32_to_bf16 (x[c] - bf16 (hi[c]));
    }
    in->x_hi = hi;
    in->x_lo = lo;
  }
}
