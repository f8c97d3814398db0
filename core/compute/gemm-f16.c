/* gemm-f16.c: y = x W^T + b with x and W rounded to FP16, through vfmadd231ph (32 half
 * lanes, twice the lanes of an F32 FMA at the same rate). FP16 sums lose precision fast
 * and overflow at 65504, so:
 * - every input row and every weight row is scaled by a power of two (exact) to a
 *   largest magnitude in [0.5, 1): each product is then below 1 and any FP16 sum below
 *   RUN * RUNS, far from overflow; small values stay clear of FP16's subnormal range; the
 *   scales are undone on the F32 result;
 * - products are summed in FP16 over RUN k-steps, runs in a second FP16 sum over RUNS
 *   runs (an add per run, where widening costs five instructions), then widened into
 *   F32 sums: each level's rounding costs ~sqrt(terms) * 2^-12 relative, about the error
 *   of rounding the inputs (2^-11 each).
 *
 * Blocked and register-tiled: the weight is packed per call into panels of NR outputs
 * whose K pairs are adjacent halves, so an input pair is one 32-bit broadcast (a plain
 * load; a 16-bit broadcast also takes a shuffle port). Threads take blocks of MC input
 * rows, converted once into strips of MR rows; each panel (L2-resident) then meets every
 * strip over the whole K, the MR x NR FP16 sums in registers, so each output is stored
 * once.
 */
#include "compute/gemm-f16.h"
#include "compute/kernels.h"
#include "compute/threadpool.h"

#include <math.h>
#include <string.h>

#define MR 6      /* input rows per micro-tile (micro_tile names its registers) */
#define NR 32     /* outputs per micro-tile (two vectors of 16 outputs x 2 k) */
#define MC 48     /* input rows per thread task (a multiple of MR) */
#define RUN 16    /* k-steps summed in FP16 before a second FP16 sum takes them */
#define RUNS 8    /* runs in the second FP16 sum before the F32 sums take it */

/**
 * vlm_gemm_f16_supported:
 *
 * Returns: whether the FP16 products run here: the CPU has AVX512_FP16 and
 *   `VLM_KERNELS` does not cap the kernels below AVX-512
 */
gboolean
vlm_gemm_f16_supported (void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const char *name = vlm_kernels_get ()->name;
  return __builtin_cpu_supports ("avx512fp16") && g_str_has_prefix (name, "avx512");
#else
  return FALSE;
#endif
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512FP16 __attribute__ ((target ("avx512fp16,avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

/* 2^-e for the largest |v[i]| = m 2^e, m in [0.5, 1); 1 for all-zero or infinite rows.
 * NaNs may be skipped by the maximum: they reach the products unscaled all the same,
 * and non-finite values propagate as they would in F32. */
AVX512FP16 static float
pow2_scale (const float *v, gint64 n)
{
  __m512 mx = _mm512_setzero_ps ();
  gint64 i = 0;
  for (; i + 16 <= n; i += 16)
    mx = _mm512_max_ps (mx, _mm512_abs_ps (_mm512_loadu_ps (v + i)));
  if (i < n)
    mx = _mm512_max_ps (mx, _mm512_abs_ps (_mm512_maskz_loadu_ps (
                                  (__mmask16) ((1u << (n - i)) - 1), v + i)));
  float m = _mm512_reduce_max_ps (mx);
  if (m == 0 || !isfinite (m))
    return 1;
  int e;
  frexpf (m, &e);
  return ldexpf (1, -CLAMP (e, -100, 100));   /* the scale and its inverse stay finite */
}

/* n floats times @scale -> n FP16 values (round to nearest even), zero padded up to
 * @padded. */
AVX512FP16 static void
row_to_f16 (const float *src, gint64 n, float scale, guint16 *dst, gint64 padded)
{
  __m512 s = _mm512_set1_ps (scale);
  gint64 k = 0;
  for (; k + 16 <= n; k += 16)
    _mm256_storeu_si256 ((__m256i *) (dst + k),
                         _mm512_cvtps_ph (_mm512_mul_ps (_mm512_loadu_ps (src + k), s),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (k < n) {
    __mmask16 m = (__mmask16) ((1u << (n - k)) - 1);
    __m256i h = _mm512_cvtps_ph (_mm512_mul_ps (_mm512_maskz_loadu_ps (m, src + k), s),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16 (dst + k, m, h);
    k = n;
  }
  for (; k < padded; k++)
    dst[k] = 0;
}

typedef struct {
  const VlmLinear *lin;
  gint64 kp;          /* K pairs (K rounded up to even, halved) */
  guint16 *packed;    /* [panels][kp][NR][2] */
  float *w_scale;     /* [panels * NR]: 1 / the scale each weight row was packed with */
} PackJob;

/* Panels [begin, end): NR weight rows scaled and rounded to FP16, then transposed so
 * that the NR half pairs (k even, k odd) of one K pair are adjacent. */
AVX512FP16 static void
pack_range (gpointer data, gint64 begin, gint64 end)
{
  const PackJob *j = data;
  const VlmLinear *lin = j->lin;
  gint64 K = lin->in, kp = j->kp;
  guint32 *rows = g_new (guint32, NR * kp);
  float *f32 = g_new (float, K);
  for (gint64 panel = begin; panel < end; panel++) {
    gint64 o0 = panel * NR, n_out = MIN (NR, lin->out - o0);
    for (gint64 c = 0; c < NR; c++) {
      if (c >= n_out) {
        memset (rows + c * kp, 0, (gsize) kp * sizeof (guint32));
        j->w_scale[o0 + c] = 0;
        continue;
      }
      vlm_linear_dequant_rows (lin, o0 + c, 1, f32);
      float s = pow2_scale (f32, K);
      row_to_f16 (f32, K, s, (guint16 *) (rows + c * kp), 2 * kp);
      j->w_scale[o0 + c] = 1 / s;
    }
    guint32 *out = (guint32 *) j->packed + panel * kp * NR;
    for (gint64 p = 0; p < kp; p++)
      for (gint64 c = 0; c < NR; c++)
        out[p * NR + c] = rows[c * kp + p];
  }
  g_free (rows);
  g_free (f32);
}

/* One input row r of a micro-tile: a broadcast K pair (a plain 32-bit load, where a
 * 16-bit broadcast would also take a shuffle port) meets the two panel vectors. Its
 * run sums are h<r>0, h<r>1, its second-level sums g<r>0, g<r>1 (named registers:
 * arrays of vectors would be kept in memory); lane 2j + t holds output j, parity t. */
#define ROW_STEP(r)                                                                     \
  do {                                                                                  \
    __m512h av_ = _mm512_castsi512_ph (_mm512_set1_epi32 ((int) a[p * MR + r]));        \
    h##r##0 = _mm512_fmadd_ph (av_, b0, h##r##0);                                       \
    h##r##1 = _mm512_fmadd_ph (av_, b1, h##r##1);                                       \
  } while (0)
#define ROW_RUN_END(r)                                                                  \
  do {                                                                                  \
    g##r##0 = _mm512_add_ph (g##r##0, h##r##0);                                         \
    g##r##1 = _mm512_add_ph (g##r##1, h##r##1);                                         \
  } while (0)
#define ROW_WIDEN(r)                                                                    \
  do {                                                                                  \
    widen (acc[r], g##r##0);                                                            \
    widen (acc[r] + 32, g##r##1);                                                       \
  } while (0)
#define ROWS(m) m (0); m (1); m (2); m (3); m (4); m (5)

/* F32 sums f[0..31] += the 32 FP16 sums in h, widened. */
AVX512FP16 static inline void
widen (float *f, __m512h h)
{
  __m512i w = _mm512_castph_si512 (h);
  _mm512_store_ps (f, _mm512_add_ps (_mm512_load_ps (f),
                                     _mm512_cvtph_ps (_mm512_castsi512_si256 (w))));
  _mm512_store_ps (f + 16, _mm512_add_ps (_mm512_load_ps (f + 16),
                                          _mm512_cvtph_ps (_mm512_extracti64x4_epi64 (w, 1))));
}

/* 16 outputs from two vectors of 8 (output, parity) lane pairs: even + odd lanes. */
AVX512FP16 static inline __m512
pair_sum (const float *f)
{
  const __m512i even = _mm512_setr_epi32 (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                          28, 30);
  const __m512i odd = _mm512_add_epi32 (even, _mm512_set1_epi32 (1));
  __m512 lo = _mm512_load_ps (f), hi = _mm512_load_ps (f + 16);
  return _mm512_add_ps (_mm512_permutex2var_ps (lo, even, hi),
                        _mm512_permutex2var_ps (lo, odd, hi));
}

/* C[rows, n_cols] = (A strip [kp pairs][MR] * panel) * a_scale[r] * w_scale[col] + @bias
 * (nullable). The F32 sums live in memory: they are touched once per RUN * RUNS k-steps. */
AVX512FP16 static void
micro_tile (const guint32 *a, const guint32 *b, gint64 kp, const float *a_scale,
            const float *w_scale, float *c, gint64 ldc, gint64 rows, gint64 n_cols,
            const float *bias)
{
  float acc[MR][2 * NR] __attribute__ ((aligned (64)));
  memset (acc, 0, sizeof acc);
  __m512h g00, g01, g10, g11, g20, g21, g30, g31, g40, g41, g50, g51;
  g00 = g01 = g10 = g11 = g20 = g21 = g30 = g31 = g40 = g41 = g50 = g51 = _mm512_setzero_ph ();
  int runs = 0;
  for (gint64 p0 = 0; p0 < kp; p0 += RUN / 2) {
    gint64 p1 = MIN (p0 + RUN / 2, kp);
    __m512h h00, h01, h10, h11, h20, h21, h30, h31, h40, h41, h50, h51;
    h00 = h01 = h10 = h11 = h20 = h21 = h30 = h31 = h40 = h41 = h50 = h51 = _mm512_setzero_ph ();
    for (gint64 p = p0; p < p1; p++) {
      __m512h b0 = _mm512_castsi512_ph (_mm512_loadu_si512 (b + p * NR));
      __m512h b1 = _mm512_castsi512_ph (_mm512_loadu_si512 (b + p * NR + 16));
      ROWS (ROW_STEP);
    }
    ROWS (ROW_RUN_END);
    if (++runs == RUNS || p1 == kp) {
      ROWS (ROW_WIDEN);
      g00 = g01 = g10 = g11 = g20 = g21 = g30 = g31 = g40 = g41 = g50 = g51 = _mm512_setzero_ph ();
      runs = 0;
    }
  }
  for (gint64 r = 0; r < rows; r++)
    for (int v = 0; v < 2; v++) {
      gint64 left = CLAMP (n_cols - 16 * v, 0, 16);
      if (!left)
        continue;
      __mmask16 m = (__mmask16) ((1u << left) - 1);
      float *dst = c + r * ldc + 16 * v;
      __m512 s = _mm512_mul_ps (_mm512_mul_ps (pair_sum (acc[r] + 32 * v),
                                               _mm512_set1_ps (a_scale[r])),
                                _mm512_loadu_ps (w_scale + 16 * v));
      if (bias)
        s = _mm512_add_ps (s, _mm512_maskz_loadu_ps (m, bias + 16 * v));
      _mm512_mask_storeu_ps (dst, m, s);
    }
}

typedef struct {
  const VlmLinear *lin;
  const float *x;
  gint64 n, kp, panels;
  const guint16 *packed;
  const float *w_scale;
  float *y;
} GemmJob;

/* Row blocks [begin, end) of MC input rows each: the block is converted once, in strips
 * of MR rows ([kp][MR] words: a micro-tile reads one stream, L2-resident), then each
 * panel (L2-resident, read in order) meets every strip over the whole K, so each output
 * is stored once. */
AVX512FP16 static void
gemm_range (gpointer data, gint64 begin, gint64 end)
{
  const GemmJob *j = data;
  gint64 K = j->lin->in, N = j->lin->out, kp = j->kp;
  guint32 *a = g_new (guint32, MC * kp), *row = g_new (guint32, kp);
  float scale[MC], inv[MC];
  for (gint64 blk = begin; blk < end; blk++) {
    gint64 i0 = blk * MC, mc = MIN (MC, j->n - i0);
    gint64 mc_pad = (mc + MR - 1) / MR * MR;
    for (gint64 r = 0; r < mc_pad; r++) {
      if (r < mc) {
        scale[r] = pow2_scale (j->x + (i0 + r) * K, K);
        row_to_f16 (j->x + (i0 + r) * K, K, scale[r], (guint16 *) row, 2 * kp);
      } else {
        scale[r] = 1;
        memset (row, 0, (gsize) kp * sizeof (guint32));
      }
      inv[r] = 1 / scale[r];
      guint32 *strip = a + (r / MR) * kp * MR + r % MR;
      for (gint64 p = 0; p < kp; p++)
        strip[p * MR] = row[p];
    }
    for (gint64 panel = 0; panel < j->panels; panel++) {
      const guint32 *b = (const guint32 *) j->packed + panel * kp * NR;
      gint64 o0 = panel * NR, n_cols = MIN (NR, N - o0);
      const float *bias = j->lin->bias ? j->lin->bias + o0 : NULL;
      for (gint64 ir = 0; ir < mc; ir += MR)
        micro_tile (a + ir * kp, b, kp, inv + ir, j->w_scale + o0, j->y + (i0 + ir) * N + o0,
                    N, MIN (MR, mc - ir), n_cols, bias);
    }
  }
  g_free (a);
  g_free (row);
}

/* The packed weight of the current call; it only grows, like linear.c's scratch. */
static guint16 *
packed_scratch (gsize halves)
{
  static GPrivate key = G_PRIVATE_INIT (g_free);
  static GPrivate size_key;
  gsize have = GPOINTER_TO_SIZE (g_private_get (&size_key));
  guint16 *p = g_private_get (&key);
  if (!p || have < halves) {
    p = g_new (guint16, halves);
    g_private_replace (&key, p);
    g_private_set (&size_key, GSIZE_TO_POINTER (halves));
  }
  return p;
}

static void
forward_f16 (const VlmLinear *lin, const float *x, gint64 n, float *y)
{
  gint64 panels = (lin->out + NR - 1) / NR, kp = (lin->in + 1) / 2;
  g_autofree float *w_scale = g_new (float, panels * NR);
  PackJob pj = { lin, kp, packed_scratch ((gsize) (panels * kp * NR * 2)), w_scale };
  vlm_parallel_for (panels, 1, pack_range, &pj);
  GemmJob gj = { lin, x, n, kp, panels, pj.packed, w_scale, y };
  vlm_parallel_for ((n + MC - 1) / MC, 1, gemm_range, &gj);
}
#endif

/**
 * vlm_linear_forward_f16:
 * @lin: a layer (any stored format)
 * @x: [n, in] F32
 * @n: input rows
 * @y: [n, out] F32
 *
 * y = x W^T + b with @x and W rounded to FP16 (after power-of-two row scaling), FP16
 * products summed in short runs, F32 sums. Without vlm_gemm_f16_supported(), or for
 * fewer than 16 rows (where the exact kernels are as fast), this is vlm_linear_forward().
 */
void
vlm_linear_forward_f16 (const VlmLinear *lin, const float *x, gint64 n, float *y)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (n >= 16 && vlm_gemm_f16_supported ()) {
    forward_f16 (lin, x, n, y);
    return;
  }
#endif
  vlm_linear_forward (lin, x, n, y);
}
