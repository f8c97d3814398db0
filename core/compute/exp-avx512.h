/* exp-avx512.h: a vector exp for the AVX-512 kernels (softmax, SiLU) and the FP16
 * attention's softmax. */
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define VLM_EXP512_TARGET __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512dq,fma")))

/* exp(x) for x <= 88.7: 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2], p a degree-6
 * polynomial (Cephes' expf coefficients); within 2 ulp of expf. Below -87.3 (and for
 * -inf) the result is flushed to 0. */
VLM_EXP512_TARGET static inline __m512
exp512 (__m512 x)
{
  const __m512 log2e = _mm512_set1_ps (1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps (0.693359375f), ln2_lo = _mm512_set1_ps (-2.12194440e-4f);
  __mmask16 tiny = _mm512_cmp_ps_mask (x, _mm512_set1_ps (-87.3f), _CMP_LT_OQ);
  x = _mm512_min_ps (x, _mm512_set1_ps (88.7f));
  __m512 n = _mm512_roundscale_ps (_mm512_mul_ps (x, log2e), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps (n, ln2_hi, x);
  r = _mm512_fnmadd_ps (n, ln2_lo, r);
  __m512 p = _mm512_set1_ps (1.9875691500e-4f);
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.3981999507e-3f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (8.3334519073e-3f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (4.1665795894e-2f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.6666665459e-1f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (5.0000001201e-1f));
  p = _mm512_fmadd_ps (p, _mm512_mul_ps (r, r), _mm512_add_ps (r, _mm512_set1_ps (1.0f)));
  return _mm512_maskz_scalef_ps ((__mmask16) ~tiny, p, n);
}
#endif
