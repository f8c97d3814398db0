/* gemm-bf16.c: y = x W^T + b with x rounded to BF16 and W in BF16 (W rounded when it is
 * stored wider), through vdpbf16ps with F32 accumulation: twice the multiply rate of an
 * F32 FMA, at the cost of ~3 significant digits in each product (relative L2 error of a
 * product ~ 2^-9 / sqrt(terms)); the vision tower uses it only when asked.
 *
 * A blocked, register-tiled GEMM. The weight is packed per call into panels of NR
 * outputs in which each K pair of an output is one 32-bit word, the operand layout of
 * vdpbf16ps: a panel word row [p][NR] meets one broadcast activation pair x[2p, 2p+1].
 * Threads take blocks of MC input rows; per KC slice a block's rows are rounded to BF16
 * once, then every panel slice (KC/2 x NR words, 24 KB, L1-resident) serves the block's
 * MR-row micro-tiles, whose MR x NR sums stay in 24 registers across the slice.
 */
#include "compute/gemm-bf16.h"
#include "compute/kernels.h"
#include "compute/threadpool.h"

#include <string.h>

#define MR 8      /* input rows per micro-tile */
#define NR 48     /* outputs per micro-tile (three vectors of 16) */
#define KC 256    /* inner-dimension slice (even) */
#define MC 96     /* input rows per thread task */

/**
 * vlm_gemm_bf16_supported:
 *
 * Returns: whether the BF16 products run here: the CPU has AVX512_BF16 and
 *   `VLM_KERNELS` does not cap the kernels below it
 */
gboolean
vlm_gemm_bf16_supported (void)
{
  return vlm_kernels_get ()->gemv_split_bf16;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512BF16 __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))

/* F32 -> BF16, round to nearest even (NaNs stay NaNs), as vcvtne2ps2bf16 does. */
static inline guint16
round_bf16 (float f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (guint16) ((u >> 16) | 0x40);
  return (guint16) ((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* n floats -> n BF16 values, then zero padding up to @padded. */
AVX512BF16 static void
row_to_bf16 (const float *src, gint64 n, guint16 *dst, gint64 padded)
{
  gint64 k = 0;
  for (; k + 32 <= n; k += 32) {
    __m512bh v = _mm512_cvtne2ps_pbh (_mm512_loadu_ps (src + k + 16), _mm512_loadu_ps (src + k));
    _mm512_storeu_si512 (dst + k, (__m512i) v);
  }
  for (; k < n; k++)
    dst[k] = round_bf16 (src[k]);
  for (; k < padded; k++)
    dst[k] = 0;
}

typedef struct {
  const VlmLinear *lin;
  gint64 kp;          /* K pairs (K rounded up to even, halved) */
  guint32 *packed;    /* [panels][kp][NR] */
} PackJob;

/* Panels [begin, end): NR weight rows as BF16 (rounded once when stored wider), then
 * transposed so that the NR words of one K pair are adjacent. */
static void
pack_range (gpointer data, gint64 begin, gint64 end)
{
  const PackJob *j = data;
  const VlmLinear *lin = j->lin;
  gint64 K = lin->in, kp = j->kp;
  guint16 *rows = g_new (guint16, NR * 2 * kp);
  float *f32 = lin->dtype == VLM_DTYPE_BF16 ? NULL : g_new (float, K);
  for (gint64 panel = begin; panel < end; panel++) {
    gint64 o0 = panel * NR, n_out = MIN (NR, lin->out - o0);
    for (gint64 c = 0; c < NR; c++) {
      guint16 *dst = rows + c * 2 * kp;
      if (c >= n_out) {
        memset (dst, 0, (gsize) (2 * kp) * sizeof (guint16));
      } else if (!f32) {
        memcpy (dst, (const guint16 *) lin->data + (o0 + c) * K, (gsize) K * sizeof (guint16));
        if (K & 1)
          dst[K] = 0;
      } else {
        vlm_linear_dequant_rows (lin, o0 + c, 1, f32);
        row_to_bf16 (f32, K, dst, 2 * kp);
      }
    }
    const guint32 *words = (const guint32 *) rows;
    guint32 *out = j->packed + panel * kp * NR;
    for (gint64 p = 0; p < kp; p++)
      for (gint64 c = 0; c < NR; c++)
        out[p * NR + c] = words[c * kp + p];
  }
  g_free (rows);
  g_free (f32);
}

/* C[MR, n_cols] (=|+=) A[MR, kp pairs] * panel slice; only the first @rows rows are
 * stored; @bias (nullable) is added on the final slice. */
AVX512BF16 static void
micro_tile (const guint32 *a, gint64 lda, const guint32 *b, gint64 kp, float *c, gint64 ldc,
            gint64 rows, gint64 n_cols, gboolean accumulate, const float *bias)
{
  __m512 acc[MR][3];
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < 3; v++)
      acc[r][v] = _mm512_setzero_ps ();
  for (gint64 p = 0; p < kp; p++) {
    const guint32 *bp = b + p * NR;
    __m512bh b0 = (__m512bh) _mm512_loadu_si512 (bp);
    __m512bh b1 = (__m512bh) _mm512_loadu_si512 (bp + 16);
    __m512bh b2 = (__m512bh) _mm512_loadu_si512 (bp + 32);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      __m512bh av = (__m512bh) _mm512_set1_epi32 ((int) a[r * lda + p]);
      acc[r][0] = _mm512_dpbf16_ps (acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps (acc[r][1], av, b1);
      acc[r][2] = _mm512_dpbf16_ps (acc[r][2], av, b2);
    }
  }
  __mmask16 masks[3];
  for (int v = 0; v < 3; v++) {
    gint64 left = CLAMP (n_cols - 16 * v, 0, 16);
    masks[v] = (__mmask16) ((1u << left) - 1);
  }
  for (gint64 r = 0; r < rows; r++)
    for (int v = 0; v < 3; v++) {
      if (!masks[v])
        continue;
      float *dst = c + r * ldc + 16 * v;
      __m512 s = acc[r][v];
      if (accumulate)
        s = _mm512_add_ps (s, _mm512_maskz_loadu_ps (masks[v], dst));
      if (bias)
        s = _mm512_add_ps (s, _mm512_maskz_loadu_ps (masks[v], bias + 16 * v));
      _mm512_mask_storeu_ps (dst, masks[v], s);
    }
}

typedef struct {
  const VlmLinear *lin;
  const float *x;
  gint64 n, kp, panels;
  const guint32 *packed;
  float *y;
} GemmJob;

/* Row blocks [begin, end) of MC input rows each. */
AVX512BF16 static void
gemm_range (gpointer data, gint64 begin, gint64 end)
{
  const GemmJob *j = data;
  gint64 K = j->lin->in, N = j->lin->out;
  guint32 *a = g_new (guint32, MC * (KC / 2));
  for (gint64 blk = begin; blk < end; blk++) {
    gint64 i0 = blk * MC, mc = MIN (MC, j->n - i0);
    gint64 mc_pad = (mc + MR - 1) / MR * MR;
    for (gint64 k0 = 0; k0 < K; k0 += KC) {
      gint64 kc = MIN (KC, K - k0), kcp = (kc + 1) / 2;
      gboolean last = k0 + KC >= K;
      for (gint64 r = 0; r < mc_pad; r++) {
        guint16 *dst = (guint16 *) (a + r * kcp);
        if (r < mc)
          row_to_bf16 (j->x + (i0 + r) * K + k0, kc, dst, 2 * kcp);
        else
          memset (dst, 0, (gsize) kcp * sizeof (guint32));
      }
      for (gint64 panel = 0; panel < j->panels; panel++) {
        const guint32 *b = j->packed + (panel * j->kp + k0 / 2) * NR;
        gint64 o0 = panel * NR, n_cols = MIN (NR, N - o0);
        const float *bias = last && j->lin->bias ? j->lin->bias + o0 : NULL;
        for (gint64 ir = 0; ir < mc; ir += MR)
          micro_tile (a + ir * kcp, kcp, b, kcp, j->y + (i0 + ir) * N + o0, N,
                      MIN (MR, mc - ir), n_cols, k0 > 0, bias);
      }
    }
  }
  g_free (a);
}

/* The packed weight of the current call; it only grows, like linear.c's scratch. */
static guint32 *
packed_scratch (gsize words)
{
  static GPrivate key = G_PRIVATE_INIT (g_free);
  static GPrivate size_key;
  gsize have = GPOINTER_TO_SIZE (g_private_get (&size_key));
  guint32 *p = g_private_get (&key);
  if (!p || have < words) {
    p = g_new (guint32, words);
    g_private_replace (&key, p);
    g_private_set (&size_key, GSIZE_TO_POINTER (words));
  }
  return p;
}

static void
forward_bf16 (const VlmLinear *lin, const float *x, gint64 n, float *y)
{
  PackJob pj = { lin, (lin->in + 1) / 2, NULL };
  gint64 panels = (lin->out + NR - 1) / NR;
  pj.packed = packed_scratch ((gsize) (panels * pj.kp * NR));
  vlm_parallel_for (panels, 1, pack_range, &pj);
  GemmJob gj = { lin, x, n, pj.kp, panels, pj.packed, y };
  vlm_parallel_for ((n + MC - 1) / MC, 1, gemm_range, &gj);
}
#endif

/**
 * vlm_linear_forward_bf16:
 * @lin: a layer (any stored format)
 * @x: [n, in] F32
 * @n: input rows
 * @y: [n, out] F32
 *
 * y = x W^T + b with @x and W rounded to BF16 and F32 sums. Without
 * vlm_gemm_bf16_supported(), or for fewer than 16 rows (where the exact kernels are as
 * fast), this is vlm_linear_forward().
 */
void
vlm_linear_forward_bf16 (const VlmLinear *lin, const float *x, gint64 n, float *y)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (n >= 16 && vlm_gemm_bf16_supported ()) {
    forward_bf16 (lin, x, n, y);
    return;
  }
#endif
  vlm_linear_forward (lin, x, n, y);
}
