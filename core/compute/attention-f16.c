/* attention-f16.c: many-query attention (vision towers) with FP16 products.
 *
 * Per head, the keys are packed once as panels of 32 keys (each key row scaled by a
 * power of two and rounded to FP16, as gemm-f16.c does with weight rows) and the values
 * as panels of 32 value columns (each column scaled likewise). Threads then take
 * (head, block of VLM_F16_MC queries): the block's query rows are rounded to FP16,
 * S = Q K^T goes through the FP16 block products (the softmax scale folded into the row
 * factors), the softmax runs in F32 on S, its unnormalized weights exp(s - max) (in
 * (0, 1], largest exactly 1) are rounded to FP16 rows, and O = P V goes through the
 * same products with 1 / sum as the row factor. Errors: the FP16 rounding of q, k, v
 * and of the weights (2^-11 relative each) and the FP16 run sums of gemm-f16.c.
 */
#include "compute/attention-f16.h"
#include "compute/exp-avx512.h"
#include "compute/gemm-f16.h"
#include "compute/scratch.h"
#include "compute/threadpool.h"

#include <math.h>
#include <string.h>

#ifdef VLM_HAVE_F16_KERNELS
#define AVX512FP16 __attribute__ ((target ("avx512fp16,avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define MR VLM_F16_MR
#define NR VLM_F16_NR
#define MC VLM_F16_MC

static VlmScratch packed_scratch = VLM_SCRATCH_INIT;
static VlmScratch block_scratch = VLM_SCRATCH_INIT;

typedef struct {
  const float *q, *k, *v;
  gint64 sq, sk, hq, hkv, d, dv;
  float scale;
  const gint64 *hidden;   /* keys the mask hides */
  gint64 n_hidden;
  gint64 kpd, kps;        /* K pairs of a head row (d) and of a weight row (sk) */
  gint64 key_panels, v_panels, q_blocks;
  guint32 *kpack, *vpack; /* [hkv][key_panels][kpd][NR], [hkv][v_panels][kps][NR] */
  float *kscale, *vscale; /* [hkv][key_panels][NR], [hkv][v_panels][NR] */
  float *out;
} Job;

/* Items [begin, end) of hkv * (key_panels + v_panels): one key or value panel each. */
static void
pack_range (gpointer data, gint64 begin, gint64 end)
{
  const Job *j = data;
  gint64 per_head = j->key_panels + j->v_panels;
  for (gint64 item = begin; item < end; item++) {
    gint64 h = item / per_head, i = item % per_head;
    if (i < j->key_panels) {
      gint64 t0 = i * NR, idx = h * j->key_panels + i;
      vlm_f16_pack_rows (j->k + t0 * j->hkv * j->d + h * j->d, j->hkv * j->d,
                         MIN (NR, j->sk - t0), j->d, j->kpack + idx * j->kpd * NR,
                         j->kscale + idx * NR);
    } else {
      gint64 c0 = (i - j->key_panels) * NR, idx = h * j->v_panels + i - j->key_panels;
      vlm_f16_pack_cols (j->v + h * j->dv + c0, j->hkv * j->dv, MIN (NR, j->dv - c0), j->sk,
                         j->vpack + idx * j->kps * NR, j->vscale + idx * NR);
    }
  }
}

/* A row of n scores (the hidden keys set to -inf first) -> the unnormalized weights
 * exp(s - max) as FP16 pairs in @p ((n + 1) / 2 words); returns their F32 sum, 0 when
 * no key is visible (the weights are then zeros, and so is the output, as
 * vlm_attention() gives). */
AVX512FP16 static float
softmax_row (float *row, gint64 n, const gint64 *hidden, gint64 n_hidden, guint32 *p)
{
  guint16 *h = (guint16 *) p;
  for (gint64 t = 0; t < n_hidden; t++)
    row[hidden[t]] = -INFINITY;
  __m512 mx = _mm512_set1_ps (-INFINITY);
  for (gint64 k = 0; k < n; k += 16) {
    __mmask16 m = n - k >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - k)) - 1);
    mx = _mm512_mask_max_ps (mx, m, mx, _mm512_maskz_loadu_ps (m, row + k));
  }
  float top = _mm512_reduce_max_ps (mx);
  if (top == -INFINITY) {
    memset (p, 0, (gsize) (n + 1) / 2 * 4);
    return 0;
  }
  __m512 shift = _mm512_set1_ps (top), sum0 = _mm512_setzero_ps (), sum1 = sum0;
  gint64 k = 0;
  for (; k + 32 <= n; k += 32) {   /* two sums: the adds' latency stays hidden */
    __m512 e0 = exp512 (_mm512_sub_ps (_mm512_loadu_ps (row + k), shift));
    __m512 e1 = exp512 (_mm512_sub_ps (_mm512_loadu_ps (row + k + 16), shift));
    sum0 = _mm512_add_ps (sum0, e0);
    sum1 = _mm512_add_ps (sum1, e1);
    _mm256_storeu_si256 ((__m256i *) (h + k), _mm512_cvtps_ph (e0, ROUND_NEAREST));
    _mm256_storeu_si256 ((__m256i *) (h + k + 16), _mm512_cvtps_ph (e1, ROUND_NEAREST));
  }
  for (; k < n; k += 16) {
    __mmask16 m = n - k >= 16 ? 0xFFFF : (__mmask16) ((1u << (n - k)) - 1);
    __m512 e = _mm512_maskz_mov_ps (m, exp512 (_mm512_sub_ps (_mm512_maskz_loadu_ps (m, row + k),
                                                              shift)));
    sum0 = _mm512_add_ps (sum0, e);
    _mm256_mask_storeu_epi16 (h + k, m, _mm512_cvtps_ph (e, ROUND_NEAREST));
  }
  if (n % 2)
    h[n] = 0;
  return _mm512_reduce_add_ps (_mm512_add_ps (sum0, sum1));
}

/* Items [begin, end) of hq * q_blocks: one head and block of queries each. */
static void
block_range (gpointer data, gint64 begin, gint64 end)
{
  const Job *j = data;
  gint64 sk = j->sk, group = j->hq / j->hkv;
  /* q rows, then the scores, then the weight rows */
  gsize q_words = MC * j->kpd, s_floats = MC * sk, p_words = MC * j->kps;
  guint32 *qa = vlm_scratch_get (&block_scratch, (q_words + s_floats + p_words) * 4);
  float *s = (float *) (qa + q_words);
  guint32 *pa = (guint32 *) (s + s_floats);
  float q_scale[MC], p_scale[MC];
  for (gint64 item = begin; item < end; item++) {
    gint64 h = item / j->q_blocks, kh = h / group, i0 = item % j->q_blocks * MC;
    gint64 rows = MIN (MC, j->sq - i0), rows_pad = (rows + MR - 1) / MR * MR;
    /* The next item's query rows, far apart in q, while this one runs. */
    if (item + 1 < end) {
      gint64 nh = (item + 1) / j->q_blocks, n0 = (item + 1) % j->q_blocks * MC;
      for (gint64 r = 0; r < MIN (MC, j->sq - n0); r++)
        for (gint64 c = 0; c < j->d; c += 16)
          _mm_prefetch ((const char *) (j->q + ((n0 + r) * j->hq + nh) * j->d + c), _MM_HINT_T1);
    }
    for (gint64 r = 0; r < rows; r++) {
      const float *qr = j->q + ((i0 + r) * j->hq + h) * j->d;
      float sc = vlm_f16_row_scale (qr, j->d);
      vlm_f16_row_convert (qr, j->d, sc, qa + r * j->kpd, j->kpd);
      q_scale[r] = j->scale / sc;
    }
    memset (qa + rows * j->kpd, 0, (gsize) ((rows_pad - rows) * j->kpd) * 4);
    for (gint64 pn = 0; pn < j->key_panels; pn++) {
      gint64 idx = kh * j->key_panels + pn;
      vlm_f16_block_panel (qa, j->kpd, rows, q_scale, j->kpack + idx * j->kpd * NR, j->kpd,
                           j->kscale + idx * NR, NULL, s + pn * NR, sk, MIN (NR, sk - pn * NR),
                           FALSE);
    }
    for (gint64 r = 0; r < rows; r++) {
      float sum = softmax_row (s + r * sk, sk, j->hidden, j->n_hidden, pa + r * j->kps);
      p_scale[r] = sum > 0 ? 1 / sum : 0;
    }
    memset (pa + rows * j->kps, 0, (gsize) ((rows_pad - rows) * j->kps) * 4);
    for (gint64 pn = 0; pn < j->v_panels; pn++) {
      gint64 idx = kh * j->v_panels + pn;
      vlm_f16_block_panel (pa, j->kps, rows, p_scale, j->vpack + idx * j->kps * NR, j->kps,
                           j->vscale + idx * NR, NULL, j->out + (i0 * j->hq + h) * j->dv + pn * NR,
                           j->hq * j->dv, MIN (NR, j->dv - pn * NR), FALSE);
    }
  }
}
#endif

/* Fewer query rows than this take the exact path. */
#define F16_MIN_ROWS 16

/**
 * vlm_attention_f16:
 * @q: [sq, hq, d]
 * @k: [sk, hkv, d]
 * @v: [sk, hkv, dv]
 * @sq: query rows
 * @sk: key rows
 * @hq: query heads, a multiple of @hkv
 * @hkv: key/value heads
 * @d: query/key head size
 * @dv: value head size
 * @mask: which keys each query sees; only padding (`key_valid`) and `scale` are taken
 *   here, any other rule takes the exact path
 * @out: [sq, hq, dv]
 *
 * vlm_attention() with both products in FP16 (see the file comment); the exact
 * vlm_attention() without vlm_gemm_f16_supported(), for fewer than 16 queries, or for
 * causal, windowed, span or soft-capped masks.
 */
void
vlm_attention_f16 (const float *q, const float *k, const float *v, gint64 sq, gint64 sk,
                   gint64 hq, gint64 hkv, gint64 d, gint64 dv, const VlmAttnMask *mask,
                   float *out)
{
  g_return_if_fail (hkv > 0 && hq % hkv == 0);
#ifdef VLM_HAVE_F16_KERNELS
  if (sq >= F16_MIN_ROWS && sk > 0 && vlm_gemm_f16_supported () && !mask->causal
      && mask->window <= 0 && !mask->n_spans && mask->softcap <= 0) {
    Job j = { q, k, v, sq, sk, hq, hkv, d, dv,
              mask->scale > 0 ? mask->scale : 1.0f / sqrtf ((float) d) };
    g_autofree gint64 *hidden = NULL;
    if (mask->key_valid) {
      hidden = g_new (gint64, sk);
      for (gint64 t = 0; t < sk; t++)
        if (!mask->key_valid[t])
          hidden[j.n_hidden++] = t;
    }
    j.hidden = hidden;
    j.kpd = (d + 1) / 2;
    j.kps = (sk + 1) / 2;
    j.key_panels = (sk + NR - 1) / NR;
    j.v_panels = (dv + NR - 1) / NR;
    j.q_blocks = (sq + MC - 1) / MC;
    gsize kwords = hkv * j.key_panels * j.kpd * NR, vwords = hkv * j.v_panels * j.kps * NR;
    gsize nscale = hkv * (j.key_panels + j.v_panels) * NR;
    j.kpack = vlm_scratch_get (&packed_scratch, (kwords + vwords + nscale) * 4);
    j.vpack = j.kpack + kwords;
    j.kscale = (float *) (j.vpack + vwords);
    j.vscale = j.kscale + hkv * j.key_panels * NR;
    j.out = out;
    vlm_parallel_for (hkv * (j.key_panels + j.v_panels), 1, pack_range, &j);
    vlm_parallel_for (hq * j.q_blocks, 1, block_range, &j);
    return;
  }
#endif
  vlm_attention (q, k, v, sq, sk, hq, hkv, d, dv, mask, out);
}
