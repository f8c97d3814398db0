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
 * rows, converted once to FP16 rows; each panel then meets the block one K slice at a
 * time (the slice of the panel stays in L1 for all the block's micro-tiles of MR rows),
 * the MR x NR FP16 sums in registers and the F32 sums of the block in memory, so each
 * output is stored once.
 *
 * The same block x panel product serves the FP16 attention (attention-f16.c).
 */
#include "compute/gemm-f16.h"
#include "compute/kernels.h"
#include "compute/scratch.h"
#include "compute/threadpool.h"

#include <math.h>
#include <string.h>

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
#ifdef VLM_HAVE_F16_KERNELS
  const char *name = vlm_kernels_get ()->name;
  return __builtin_cpu_supports ("avx512fp16") && g_str_has_prefix (name, "avx512");
#else
  return FALSE;
#endif
}

#ifdef VLM_HAVE_F16_KERNELS
#include <immintrin.h>

#define MR VLM_F16_MR
#define NR VLM_F16_NR
#define MC VLM_F16_MC
#define SLICE (RUN * RUNS / 2)   /* K pairs per slice: one widening each */

#define AVX512FP16 __attribute__ ((target ("avx512fp16,avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

/* 2^-e for m = f 2^e, f in [0.5, 1), e clamped to [-100, 100] so that the scale and its
 * inverse stay finite (subnormal m: 2^100); 1 for 0 and non-finite m. Read from the
 * exponent bits: frexpf and ldexpf are calls. */
static inline float
pow2_inverse (float m)
{
  guint32 bits;
  memcpy (&bits, &m, 4);
  int biased = (int) (bits >> 23 & 0xff);
  if (m == 0 || biased == 0xff)
    return 1;
  int e = CLAMP (biased - 126, -100, 100);
  guint32 out = (guint32) (127 - e) << 23;
  float r;
  memcpy (&r, &out, 4);
  return r;
}

/**
 * vlm_f16_row_scale:
 * @v: (array length=n): values
 * @n: count
 *
 * Returns: 2^-e for the largest |v[i]| = m 2^e, m in [0.5, 1); 1 for all-zero or
 *   infinite rows. NaNs may be skipped by the maximum: they reach the products unscaled
 *   all the same, and non-finite values propagate as they would in F32.
 */
AVX512FP16 float
vlm_f16_row_scale (const float *v, gint64 n)
{
  __m512 mx = _mm512_setzero_ps ();
  gint64 i = 0;
  for (; i + 16 <= n; i += 16)
    mx = _mm512_max_ps (mx, _mm512_abs_ps (_mm512_loadu_ps (v + i)));
  if (i < n)
    mx = _mm512_max_ps (mx, _mm512_abs_ps (_mm512_maskz_loadu_ps (
                                  (__mmask16) ((1u << (n - i)) - 1), v + i)));
  return pow2_inverse (_mm512_reduce_max_ps (mx));
}

/**
 * vlm_f16_row_convert:
 * @src: (array length=n): values
 * @n: count
 * @scale: factor applied before rounding
 * @dst: (out): @kp words: the values times @scale as FP16 pairs (round to nearest even),
 *   zero padded
 * @kp: words, at least (n + 1) / 2
 */
AVX512FP16 void
vlm_f16_row_convert (const float *src, gint64 n, float scale, guint32 *dst, gint64 kp)
{
  guint16 *h = (guint16 *) dst;
  __m512 s = _mm512_set1_ps (scale);
  gint64 k = 0;
  for (; k + 16 <= n; k += 16)
    _mm256_storeu_si256 ((__m256i *) (h + k),
                         _mm512_cvtps_ph (_mm512_mul_ps (_mm512_loadu_ps (src + k), s),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (k < n) {
    __mmask16 m = (__mmask16) ((1u << (n - k)) - 1);
    __m256i v = _mm512_cvtps_ph (_mm512_mul_ps (_mm512_maskz_loadu_ps (m, src + k), s),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16 (h + k, m, v);
    k = n;
  }
  for (; k < 2 * kp; k++)
    h[k] = 0;
}

#define PREFETCH_ROWS 4   /* rows ahead that the packing fetches */

static inline void
prefetch_row (const float *row, gint64 n)
{
  for (gint64 i = 0; i < n; i += 16)
    _mm_prefetch ((const char *) (row + i), _MM_HINT_T0);
}

/**
 * vlm_f16_pack_rows:
 * @src: [n_out rows of @k values], rows @ld floats apart: one row per output
 * @ld: row stride of @src
 * @n_out: outputs, at most VLM_F16_NR (the rest of the panel is zero)
 * @k: values per output
 * @panel: (out): [(k + 1) / 2][VLM_F16_NR] words
 * @inv_scale: (out): [VLM_F16_NR] the inverse of each output's scale (0 past @n_out)
 */
AVX512FP16 void
vlm_f16_pack_rows (const float *src, gint64 ld, gint64 n_out, gint64 k, guint32 *panel,
                   float *inv_scale)
{
  static VlmScratch rows_scratch = VLM_SCRATCH_INIT;
  gint64 kp = (k + 1) / 2;
  guint32 *rows = vlm_scratch_get (&rows_scratch, (gsize) (NR * kp) * sizeof (guint32));
  for (gint64 c = 0; c < NR; c++) {
    if (c >= n_out) {
      memset (rows + c * kp, 0, (gsize) kp * sizeof (guint32));
      inv_scale[c] = 0;
      continue;
    }
    /* Rows far apart (the keys of one head) are not fetched ahead by the hardware. */
    if (c + PREFETCH_ROWS < n_out)
      prefetch_row (src + (c + PREFETCH_ROWS) * ld, k);
    float s = vlm_f16_row_scale (src + c * ld, k);
    vlm_f16_row_convert (src + c * ld, k, s, rows + c * kp, kp);
    inv_scale[c] = 1 / s;
  }
  for (gint64 p = 0; p < kp; p++)
    for (gint64 c = 0; c < NR; c++)
      panel[p * NR + c] = rows[c * kp + p];
}

/* 16 halves (16 outputs) of values @v times the scales @s. */
AVX512FP16 static inline __m512i
halves_u32 (__m512 v, __m512 s)
{
  return _mm512_cvtepu16_epi32 (_mm512_cvtps_ph (_mm512_mul_ps (v, s),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/**
 * vlm_f16_pack_cols:
 * @src: [@k rows][n_out columns], rows @ld floats apart: one column per output
 * @ld: row stride of @src
 * @n_out: outputs, at most VLM_F16_NR (the rest of the panel is zero)
 * @k: values per output
 * @panel: (out): [(k + 1) / 2][VLM_F16_NR] words
 * @inv_scale: (out): [VLM_F16_NR] the inverse of each output's scale (0 past @n_out)
 *
 * vlm_f16_pack_rows() for a transposed source (the values of attention).
 */
AVX512FP16 void
vlm_f16_pack_cols (const float *src, gint64 ld, gint64 n_out, gint64 k, guint32 *panel,
                   float *inv_scale)
{
  __mmask16 m[2];
  for (int v = 0; v < 2; v++) {
    gint64 left = CLAMP (n_out - 16 * v, 0, 16);
    m[v] = (__mmask16) ((1u << left) - 1);
  }
  __m512 mx[2] = { _mm512_setzero_ps (), _mm512_setzero_ps () };
  for (gint64 t = 0; t < k; t++) {
    if (t + 4 * PREFETCH_ROWS < k)
      prefetch_row (src + (t + 4 * PREFETCH_ROWS) * ld, n_out);
    for (int v = 0; v < 2; v++)
      mx[v] = _mm512_max_ps (mx[v], _mm512_abs_ps (_mm512_maskz_loadu_ps (m[v], src + t * ld
                                                                            + 16 * v)));
  }
  float s[NR] __attribute__ ((aligned (64)));
  for (int v = 0; v < 2; v++)
    _mm512_store_ps (s + 16 * v, mx[v]);
  for (gint64 c = 0; c < NR; c++) {
    if (c >= n_out) {
      s[c] = inv_scale[c] = 0;
      continue;
    }
    s[c] = pow2_inverse (s[c]);
    inv_scale[c] = 1 / s[c];
  }
  __m512 s0 = _mm512_load_ps (s), s1 = _mm512_load_ps (s + 16);
  for (gint64 p = 0; p < (k + 1) / 2; p++) {
    const float *even = src + 2 * p * ld, *odd = even + ld;
    gboolean has_odd = 2 * p + 1 < k;
    for (int v = 0; v < 2; v++) {
      __m512 sv = v ? s1 : s0;
      __m512i lo = halves_u32 (_mm512_maskz_loadu_ps (m[v], even + 16 * v), sv);
      __m512i hi = has_odd ? halves_u32 (_mm512_maskz_loadu_ps (m[v], odd + 16 * v), sv)
                           : _mm512_setzero_si512 ();
      _mm512_storeu_si512 (panel + p * NR + 16 * v,
                           _mm512_or_si512 (lo, _mm512_slli_epi32 (hi, 16)));
    }
  }
}

/* One input row r of a micro-tile: a broadcast K pair (a plain 32-bit load, where a
 * 16-bit broadcast would also take a shuffle port) meets the two panel vectors. Its
 * run sums are h<r>0, h<r>1, its second-level sums g<r>0, g<r>1 (named registers:
 * arrays of vectors would be kept in memory); lane 2j + t holds output j, parity t. */
#define ROW_STEP(r)                                                                     \
  do {                                                                                  \
    __m512h av_ = _mm512_castsi512_ph (_mm512_set1_epi32 ((int) a##r[p]));             \
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
    widen (acc[r], g##r##0, first);                                                     \
    widen (acc[r] + 32, g##r##1, first);                                                \
  } while (0)
#define ROWS(m) m (0); m (1); m (2); m (3); m (4); m (5)

/* F32 sums f[0..31] += the 32 FP16 sums in h, widened (= when @first). */
AVX512FP16 static inline void
widen (float *f, __m512h h, gboolean first)
{
  __m512i w = _mm512_castph_si512 (h);
  __m512 lo = _mm512_cvtph_ps (_mm512_castsi512_si256 (w));
  __m512 hi = _mm512_cvtph_ps (_mm512_extracti64x4_epi64 (w, 1));
  if (!first) {
    lo = _mm512_add_ps (_mm512_load_ps (f), lo);
    hi = _mm512_add_ps (_mm512_load_ps (f + 16), hi);
  }
  _mm512_store_ps (f, lo);
  _mm512_store_ps (f + 16, hi);
}

/* Where the last K slice of a micro-tile goes: c[r][col] = sum * a_scale[r] *
 * w_scale[col] + bias[col] (+ c[r][col] when accumulating), rows < @rows, cols <
 * @n_cols. */
typedef struct {
  const float *a_scale, *w_scale, *bias;
  float *c;
  gint64 ldc, rows, n_cols;
  gboolean accumulate;
} TileOut;

/* Row r of the output: the 32 FP16 sums of g (lane 2j + t: output j, parity t) and
 * @prev (nullable: the F32 sums of the earlier slices) widened, parities added,
 * outputs 16 v .. 16 v + 15 scaled and stored. */
AVX512FP16 static inline void
store_half_row (const TileOut *o, gint64 r, int v, __m512h g, const float *prev)
{
  const __m512i even = _mm512_setr_epi32 (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                          28, 30);
  const __m512i odd = _mm512_add_epi32 (even, _mm512_set1_epi32 (1));
  gint64 left = CLAMP (o->n_cols - 16 * v, 0, 16);
  if (r >= o->rows || !left)
    return;
  __mmask16 m = (__mmask16) ((1u << left) - 1);
  __m512i w = _mm512_castph_si512 (g);
  __m512 lo = _mm512_cvtph_ps (_mm512_castsi512_si256 (w));
  __m512 hi = _mm512_cvtph_ps (_mm512_extracti64x4_epi64 (w, 1));
  if (prev) {
    lo = _mm512_add_ps (_mm512_load_ps (prev + 32 * v), lo);
    hi = _mm512_add_ps (_mm512_load_ps (prev + 32 * v + 16), hi);
  }
  __m512 sum = _mm512_add_ps (_mm512_permutex2var_ps (lo, even, hi),
                              _mm512_permutex2var_ps (lo, odd, hi));
  __m512 bias = o->bias ? _mm512_maskz_loadu_ps (m, o->bias + 16 * v) : _mm512_setzero_ps ();
  float *dst = o->c + r * o->ldc + 16 * v;
  __m512 y = _mm512_fmadd_ps (_mm512_mul_ps (sum, _mm512_set1_ps (o->a_scale[r])),
                              _mm512_loadu_ps (o->w_scale + 16 * v), bias);
  if (o->accumulate)
    y = _mm512_add_ps (y, _mm512_maskz_loadu_ps (m, dst));
  _mm512_mask_storeu_ps (dst, m, y);
}

#define ROW_STORE(r)                                                                    \
  do {                                                                                  \
    store_half_row (out, r, 0, g##r##0, first ? NULL : acc[r]);                         \
    store_half_row (out, r, 1, g##r##1, first ? NULL : acc[r]);                         \
  } while (0)

/* Rows a + r * lda (r < MR) times the panel over K pairs [p0, p1), at most SLICE of
 * them, added to the F32 sums acc[r] (set for the @first slice), or, with @out (the
 * last slice), with them into the output. */
AVX512FP16 static void
micro_tile (const guint32 *a, gint64 lda, const guint32 *b, gint64 p0, gint64 p1,
            float (*acc)[2 * NR], gboolean first, const TileOut *out)
{
  const guint32 *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
  const guint32 *a4 = a + 4 * lda, *a5 = a + 5 * lda;
  __m512h g00, g01, g10, g11, g20, g21, g30, g31, g40, g41, g50, g51;
  g00 = g01 = g10 = g11 = g20 = g21 = g30 = g31 = g40 = g41 = g50 = g51 = _mm512_setzero_ph ();
  for (gint64 q0 = p0; q0 < p1; q0 += RUN / 2) {
    gint64 q1 = MIN (q0 + RUN / 2, p1);
    __m512h h00, h01, h10, h11, h20, h21, h30, h31, h40, h41, h50, h51;
    h00 = h01 = h10 = h11 = h20 = h21 = h30 = h31 = h40 = h41 = h50 = h51 = _mm512_setzero_ph ();
    _Pragma ("GCC unroll 8")   /* a full run in one pass: ~6% faster than looping */
    for (gint64 p = q0; p < q1; p++) {
      __m512h b0 = _mm512_castsi512_ph (_mm512_loadu_si512 (b + p * NR));
      __m512h b1 = _mm512_castsi512_ph (_mm512_loadu_si512 (b + p * NR + 16));
      ROWS (ROW_STEP);
    }
    ROWS (ROW_RUN_END);
  }
  if (out) {
    ROWS (ROW_STORE);
  } else {
    ROWS (ROW_WIDEN);
  }
}

/**
 * vlm_f16_block_panel:
 * @a: FP16 rows of the block, @lda words apart; readable (zero) up to the next multiple
 *   of VLM_F16_MR rows
 * @lda: row stride of @a in words
 * @rows: rows, at most VLM_F16_MC
 * @a_scale: (array length=rows): factor of each row's results
 * @panel: a packed panel (see vlm_f16_pack_rows())
 * @kp: K pairs of the rows and the panel
 * @w_scale: [VLM_F16_NR] factor of each output
 * @bias: (nullable): [n_cols] added to each row
 * @c: [rows][n_cols] F32 results, rows @ldc floats apart
 * @ldc: row stride of @c
 * @n_cols: outputs stored, at most VLM_F16_NR
 * @accumulate: add to @c instead of overwriting it
 *
 * c = (a . panel) * a_scale[row] * w_scale[col] + bias, K slice by K slice so that the
 * panel's slice is read from L1 by every micro-tile; the F32 sums of the earlier slices
 * wait in memory, the last slice's go from registers to @c.
 */
AVX512FP16 void
vlm_f16_block_panel (const guint32 *a, gint64 lda, gint64 rows, const float *a_scale,
                     const guint32 *panel, gint64 kp, const float *w_scale, const float *bias,
                     float *c, gint64 ldc, gint64 n_cols, gboolean accumulate)
{
  float acc[MC][2 * NR] __attribute__ ((aligned (64)));
  for (gint64 p0 = 0; p0 < MAX (kp, 1); p0 += SLICE) {
    gint64 p1 = MIN (p0 + SLICE, kp);
    for (gint64 ir = 0; ir < rows; ir += MR) {
      TileOut out = { a_scale + ir, w_scale, bias, c + ir * ldc, ldc, MIN (MR, rows - ir),
                      n_cols, accumulate };
      micro_tile (a + ir * lda, lda, panel, p0, p1, acc + ir, p0 == 0, p1 < kp ? NULL : &out);
    }
  }
}

/* Layers sharing an input size, packed side by side for one call. */
#define MAX_LAYERS 4

typedef struct {
  const VlmLinear *lins[MAX_LAYERS];
  guint n_lins;
  gint64 kp, panels;
  gint64 first[MAX_LAYERS + 1];   /* each layer's first panel */
  guint32 *packed;                /* [panels][kp][NR] */
  float *w_scale;                 /* [panels][NR] */
} Packed;

/* The layer a panel belongs to. */
static guint
panel_layer (const Packed *w, gint64 panel)
{
  guint l = 0;
  while (panel >= w->first[l + 1])
    l++;
  return l;
}

static VlmScratch weight_rows_scratch = VLM_SCRATCH_INIT;
static VlmScratch block_scratch = VLM_SCRATCH_INIT;
static VlmScratch hidden_scratch = VLM_SCRATCH_INIT;
static VlmScratch norm_scratch = VLM_SCRATCH_INIT;
static VlmScratch packed_scratch[2] = { VLM_SCRATCH_INIT, VLM_SCRATCH_INIT };

/* Panels [begin, end): up to NR weight rows expanded to F32, scaled, rounded, packed. */
AVX512FP16 static void
pack_range (gpointer data, gint64 begin, gint64 end)
{
  const Packed *w = data;
  gint64 K = w->lins[0]->in;
  float *f32 = vlm_scratch_get (&weight_rows_scratch, (gsize) (NR * K) * sizeof (float));
  for (gint64 panel = begin; panel < end; panel++) {
    guint l = panel_layer (w, panel);
    const VlmLinear *lin = w->lins[l];
    gint64 o0 = (panel - w->first[l]) * NR, n_out = MIN (NR, lin->out - o0);
    vlm_linear_dequant_rows (lin, o0, n_out, f32);
    vlm_f16_pack_rows (f32, K, n_out, K, w->packed + panel * w->kp * NR, w->w_scale + panel * NR);
  }
}

/* Packs the layers (same input size) in one parallel loop, into the packed buffer of
 * @slot (one per weight a call needs at once); free w->w_scale after use. */
static void
pack_weights (Packed *w, const VlmLinear *const *lins, guint n_lins, int slot)
{
  g_assert (n_lins <= MAX_LAYERS);
  w->n_lins = n_lins;
  w->kp = (lins[0]->in + 1) / 2;
  w->first[0] = 0;
  for (guint l = 0; l < n_lins; l++) {
    w->lins[l] = lins[l];
    w->first[l + 1] = w->first[l] + (lins[l]->out + NR - 1) / NR;
  }
  w->panels = w->first[n_lins];
  w->packed = vlm_scratch_get (&packed_scratch[slot],
                               (gsize) (w->panels * w->kp * NR) * sizeof (guint32));
  w->w_scale = g_new (float, w->panels * NR);
  vlm_parallel_for (w->panels, 1, pack_range, w);
}

/* out = LayerNorm(x) over n values: F32 vector sums (the exact op sums in double; the
 * difference is far below FP16's rounding). */
AVX512FP16 static void
layer_norm_row (const float *x, gint64 n, const VlmF16LayerNorm *norm, float *out)
{
  __m512 sum = _mm512_setzero_ps ();
  for (gint64 i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - i)) - 1);
    sum = _mm512_add_ps (sum, _mm512_maskz_loadu_ps (m, x + i));
  }
  __m512 mean = _mm512_set1_ps (_mm512_reduce_add_ps (sum) / (float) n);
  __m512 var = _mm512_setzero_ps ();
  for (gint64 i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - i)) - 1);
    __m512 d = _mm512_maskz_sub_ps (m, _mm512_maskz_loadu_ps (m, x + i), mean);
    var = _mm512_fmadd_ps (d, d, var);
  }
  __m512 inv = _mm512_set1_ps (1.0f / sqrtf (_mm512_reduce_add_ps (var) / (float) n + norm->eps));
  for (gint64 i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - i)) - 1);
    __m512 d = _mm512_mul_ps (_mm512_sub_ps (_mm512_maskz_loadu_ps (m, x + i), mean), inv);
    __m512 w = norm->weight ? _mm512_maskz_loadu_ps (m, norm->weight + i) : _mm512_set1_ps (1);
    __m512 b = norm->bias ? _mm512_maskz_loadu_ps (m, norm->bias + i) : _mm512_setzero_ps ();
    _mm512_mask_storeu_ps (out + i, m, _mm512_fmadd_ps (d, w, b));
  }
}

/* Rows x[0 .. rows) (K wide; LayerNorm first when @norm) to FP16 rows a (kp words apart,
 * zero rows up to the next multiple of MR) with their inverse scales; @tmp: K floats. */
AVX512FP16 static void
convert_block (const float *x, gint64 K, gint64 kp, gint64 rows, const VlmF16LayerNorm *norm,
               float *tmp, guint32 *a, float *inv)
{
  for (gint64 r = 0; r < rows; r++) {
    const float *row = x + r * K;
    if (norm) {
      layer_norm_row (row, K, norm, tmp);
      row = tmp;
    }
    float s = vlm_f16_row_scale (row, K);
    vlm_f16_row_convert (row, K, s, a + r * kp, kp);
    inv[r] = 1 / s;
  }
  gint64 rows_pad = (rows + MR - 1) / MR * MR;
  memset (a + rows * kp, 0, (gsize) ((rows_pad - rows) * kp) * sizeof (guint32));
}

/* A converted block of rows (ys[l] pointing at its first output row) times every panel. */
static void
block_times_panels (const Packed *w, const guint32 *a, gint64 rows, const float *inv,
                    float *const *ys, gboolean accumulate)
{
  for (gint64 panel = 0; panel < w->panels; panel++) {
    guint l = panel_layer (w, panel);
    const VlmLinear *lin = w->lins[l];
    gint64 o0 = (panel - w->first[l]) * NR, N = lin->out;
    vlm_f16_block_panel (a, w->kp, rows, inv, w->packed + panel * w->kp * NR, w->kp,
                         w->w_scale + panel * NR, lin->bias ? lin->bias + o0 : NULL,
                         ys[l] + o0, N, MIN (NR, N - o0), accumulate);
  }
}

typedef struct {
  const Packed *w, *w2;     /* w2: the MLP's second layer, or NULL */
  const VlmF16LayerNorm *norm;   /* of the input rows, or NULL */
  const float *x;
  gint64 n;
  float *const *ys;         /* w's outputs, or (MLP) the residual w2 adds into */
  gboolean accumulate;
  VlmActivation act;        /* applied to w's outputs of each block while in cache */
} GemmJob;

/* Row blocks [begin, end) of MC input rows each: the block is converted once, meets
 * every panel of every layer, and is activated while in cache. An MLP's block then
 * goes through the second layer straight from this thread's buffer. */
AVX512FP16 static void
gemm_range (gpointer data, gint64 begin, gint64 end)
{
  const GemmJob *j = data;
  const Packed *w = j->w, *w2 = j->w2;
  gint64 K = w->lins[0]->in, kp = MAX (w->kp, w2 ? w2->kp : 0);
  guint32 *a = vlm_scratch_get (&block_scratch, (gsize) (MC * kp) * sizeof (guint32));
  float *hidden = w2 ? vlm_scratch_get (&hidden_scratch,
                                        (gsize) (MC * w->lins[0]->out) * sizeof (float)) : NULL;
  float *tmp = j->norm ? vlm_scratch_get (&norm_scratch, (gsize) K * sizeof (float)) : NULL;
  float inv[MC];
  for (gint64 blk = begin; blk < end; blk++) {
    gint64 i0 = blk * MC, mc = MIN (MC, j->n - i0);
    float *ys[MAX_LAYERS];
    for (guint l = 0; l < w->n_lins; l++)
      ys[l] = hidden ? hidden : j->ys[l] + i0 * w->lins[l]->out;
    convert_block (j->x + i0 * K, K, w->kp, mc, j->norm, tmp, a, inv);
    block_times_panels (w, a, mc, inv, ys, j->accumulate && !w2);
    if (j->act != VLM_ACT_IDENTITY)
      for (guint l = 0; l < w->n_lins; l++)
        vlm_activate (ys[l], mc * w->lins[l]->out, j->act);
    if (w2) {
      float *out = j->ys[0] + i0 * w2->lins[0]->out;
      convert_block (hidden, w->lins[0]->out, w2->kp, mc, NULL, NULL, a, inv);
      block_times_panels (w2, a, mc, inv, &out, j->accumulate);
    }
  }
}

static void
forward_f16 (const VlmLinear *const *lins, guint n_lins, const VlmF16LayerNorm *norm,
             const float *x, gint64 n, float *const *ys, gboolean accumulate)
{
  Packed w;
  pack_weights (&w, lins, n_lins, 0);
  GemmJob j = { &w, NULL, norm, x, n, ys, accumulate, VLM_ACT_IDENTITY };
  vlm_parallel_for ((n + MC - 1) / MC, 1, gemm_range, &j);
  g_free (w.w_scale);
}

static void
mlp_f16 (const VlmLinear *fc1, const VlmLinear *fc2, VlmActivation act,
         const VlmF16LayerNorm *norm, const float *x, gint64 n, float *y)
{
  Packed w1, w2;
  pack_weights (&w1, &fc1, 1, 0);
  pack_weights (&w2, &fc2, 1, 1);
  GemmJob j = { &w1, &w2, norm, x, n, &y, TRUE, act };
  vlm_parallel_for ((n + MC - 1) / MC, 1, gemm_range, &j);
  g_free (w1.w_scale);
  g_free (w2.w_scale);
}
#endif

/* Fewer rows than this take the exact path, which is as fast there. */
#define F16_MIN_ROWS 16

static gboolean
use_f16 (gint64 n)
{
  return n >= F16_MIN_ROWS && vlm_gemm_f16_supported ();
}

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
  vlm_linear_forward_f16_multi (&lin, 1, NULL, x, n, &y);
}

/* The exact fallbacks' input: @x, or LayerNorm(x) in a new buffer (*normed, to free). */
static const float *
normed_input (const VlmF16LayerNorm *norm, const float *x, gint64 n, gint64 in, float **normed)
{
  *normed = NULL;
  if (!norm)
    return x;
  *normed = g_new (float, n * in);
  vlm_layer_norm (x, norm->weight, norm->bias, n, in, norm->eps, *normed);
  return *normed;
}

/**
 * vlm_linear_forward_f16_multi:
 * @lins: (array length=n_lins): layers with the same input size
 * @n_lins: layers, at most 4
 * @norm: (nullable): a LayerNorm of the input rows
 * @x: [n, in] F32, the input of every layer (before @norm)
 * @n: input rows
 * @ys: (array length=n_lins): [n, out of each layer] F32
 *
 * vlm_linear_forward_f16() for layers sharing an input (q, k, v): each block of @x is
 * normed (in F32 vector sums) and converted to FP16 once for all of them, in one
 * parallel loop; the normed rows never go to memory.
 */
void
vlm_linear_forward_f16_multi (const VlmLinear *const *lins, guint n_lins,
                              const VlmF16LayerNorm *norm, const float *x, gint64 n,
                              float *const *ys)
{
#ifdef VLM_HAVE_F16_KERNELS
  if (use_f16 (n)) {
    forward_f16 (lins, n_lins, norm, x, n, ys, FALSE);
    return;
  }
#endif
  float *normed;
  vlm_linear_forward_multi (lins, n_lins, normed_input (norm, x, n, lins[0]->in, &normed), n, ys);
  g_free (normed);
}

/**
 * vlm_linear_forward_f16_add:
 * @lin: a layer (any stored format)
 * @x: [n, in] F32
 * @n: input rows
 * @y: [n, out] F32, added to
 *
 * y += x W^T + b (a residual connection) as vlm_linear_forward_f16() computes the
 * product; the exact fallback adds the result of vlm_linear_forward().
 */
void
vlm_linear_forward_f16_add (const VlmLinear *lin, const float *x, gint64 n, float *y)
{
#ifdef VLM_HAVE_F16_KERNELS
  if (use_f16 (n)) {
    forward_f16 (&lin, 1, NULL, x, n, &y, TRUE);
    return;
  }
#endif
  float *t = g_new (float, n * lin->out);
  vlm_linear_forward (lin, x, n, t);
  for (gint64 i = 0; i < n * lin->out; i++)
    y[i] += t[i];
  g_free (t);
}

/**
 * vlm_mlp_f16_add:
 * @fc1: the first layer (any stored format)
 * @fc2: the second layer, as many inputs as @fc1 has outputs
 * @act: the activation between them
 * @norm: (nullable): a LayerNorm of the input rows
 * @x: [n, fc1 in] F32 (before @norm)
 * @n: input rows
 * @y: [n, fc2 out] F32, added to; may be @x (a block of rows is read before it is
 *   written)
 *
 * y += fc2(act(fc1(norm(x)))) (a transformer MLP and its residual) with the products of
 * vlm_linear_forward_f16(): each thread takes a block of rows through the norm, fc1,
 * the activation and fc2 in its own buffers, so neither the normed rows nor the hidden
 * activations go to memory. The exact fallback runs vlm_layer_norm(),
 * vlm_linear_forward(), vlm_activate() and adds.
 */
void
vlm_mlp_f16_add (const VlmLinear *fc1, const VlmLinear *fc2, VlmActivation act,
                 const VlmF16LayerNorm *norm, const float *x, gint64 n, float *y)
{
  g_return_if_fail (fc2->in == fc1->out);
#ifdef VLM_HAVE_F16_KERNELS
  if (use_f16 (n)) {
    mlp_f16 (fc1, fc2, act, norm, x, n, y);
    return;
  }
#endif
  float *normed, *hidden = g_new (float, n * fc1->out), *out = g_new (float, n * fc2->out);
  vlm_linear_forward (fc1, normed_input (norm, x, n, fc1->in, &normed), n, hidden);
  vlm_activate (hidden, n * fc1->out, act);
  vlm_linear_forward (fc2, hidden, n, out);
  for (gint64 i = 0; i < n * fc2->out; i++)
    y[i] += out[i];
  g_free (normed);
  g_free (hidden);
  g_free (out);
}
