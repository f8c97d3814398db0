/* test-kernels.c: each vector kernel against the portable one, and the blocked (prefill)
 * attention against a direct double-precision reference. Run once per kernel set
 * (VLM_KERNELS=avx512 / avx2 / unset, see meson.build); on a CPU without them the
 * checks compare the portable set with itself. */
#include "compute/kernels.h"
#include "compute/ops.h"
#include "compute/quantize.h"
#include "compute/threadpool.h"

#include <math.h>
#include <string.h>

static float
rnd (GRand *r, double lo, double hi)
{
  return (float) g_rand_double_range (r, lo, hi);
}

static void
assert_rel (const float *got, const float *want, gint64 n, double tol, const char *what)
{
  double err = 0, ref = 0;
  for (gint64 i = 0; i < n; i++) {
    err = MAX (err, fabs ((double) got[i] - want[i]));
    ref = MAX (ref, fabs ((double) want[i]));
  }
  if (err > tol * MAX (ref, 1e-30))
    g_error ("%s (%s kernels): max error %g exceeds %g x max |ref| %g", what,
             vlm_kernels_get ()->name, err, tol, ref);
}

/* The portable kernels' product, row by row: the reference for every gemv. */
static void
portable_gemv (const VlmLinear *lin, const float *x, float *y)
{
  const VlmKernels *p = vlm_kernels_get_portable ();
  gint64 K = lin->in;
  for (gint64 o = 0; o < lin->out; o++) {
    if (lin->dtype == VLM_DTYPE_F32) {
      y[o] = p->dot_f32 ((const float *) lin->data + o * K, x, K);
    } else if (lin->dtype == VLM_DTYPE_BF16) {
      y[o] = p->dot_bf16 ((const guint16 *) lin->data + o * K, x, K);
    } else {
      g_autofree float *w = g_new (float, K);
      vlm_linear_dequant_rows (lin, o, 1, w);
      double s = 0;
      for (gint64 c = 0; c < K; c++)
        s += (double) w[c] * x[c];
      y[o] = (float) s;
    }
    if (lin->bias)
      y[o] += lin->bias[o];
  }
}

/* Every route of vlm_linear_forward: 1 input row (and 2 of 4-bit layers) takes the GEMV
 * kernels, up to 47 the small GEMM, 50 the expanded-weight sgemm. */
static void
check_layer (const VlmLinear *lin, GRand *r, double tol, const char *what)
{
  const gint64 ns[] = { 1, 2, 3, 5, 9, 17, 47, 50 };
  g_autofree float *x = g_new (float, 50 * lin->in);
  g_autofree float *y = g_new (float, 50 * lin->out), *want = g_new (float, lin->out);
  for (guint k = 0; k < G_N_ELEMENTS (ns); k++) {
    for (gint64 i = 0; i < ns[k] * lin->in; i++)
      x[i] = rnd (r, -1, 1);
    vlm_linear_forward (lin, x, ns[k], y);
    for (gint64 i = 0; i < ns[k]; i++) {
      portable_gemv (lin, x + i * lin->in, want);
      assert_rel (y + i * lin->out, want, lin->out, tol, what);
    }
  }
}

/* The set's gemm_small against the portable one and the row-by-row reference, for 1 to
 * 17 input rows, on all output rows and on a range that starts and ends inside a block of
 * four, with an output stride wider than the layer. */
static void
check_gemm_small (const VlmLinear *lin, GRand *r, double tol, const char *what)
{
  const VlmKernels *k = vlm_kernels_get (), *p = vlm_kernels_get_portable ();
  gint64 K = lin->in, ldy = lin->out + 3;
  g_autofree float *x = g_new (float, 17 * K), *want = g_new (float, lin->out);
  g_autofree float *yk = g_new0 (float, 17 * ldy), *yp = g_new0 (float, 17 * ldy);
  for (gint64 i = 0; i < 17 * K; i++)
    x[i] = rnd (r, -1, 1);
  const gint64 ranges[][2] = { { 0, lin->out }, { 5, lin->out - 2 } };
  for (gint64 nb = 1; nb <= 17; nb++)
    for (guint ri = 0; ri < G_N_ELEMENTS (ranges); ri++) {
      gint64 o0 = ranges[ri][0], o1 = ranges[ri][1];
      k->gemm_small (lin, x, nb, o0, o1, yk, ldy);
      p->gemm_small (lin, x, nb, o0, o1, yp, ldy);
      for (gint64 b = 0; b < nb; b++) {
        g_autofree char *label = g_strdup_printf ("%s gemm_small B=%" G_GINT64_FORMAT
                                                  " row %" G_GINT64_FORMAT, what, nb, b);
        assert_rel (yk + b * ldy + o0, yp + b * ldy + o0, o1 - o0, tol, label);
        portable_gemv (lin, x + b * K, want);
        if (lin->bias)  /* gemm_small leaves the bias to its caller */
          for (gint64 o = 0; o < lin->out; o++)
            want[o] -= lin->bias[o];
        assert_rel (yk + b * ldy + o0, want + o0, o1 - o0, tol, label);
      }
    }
}

static void
test_dense (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (5);
  const gint64 ins[] = { 576, 77, 40 };  /* whole vectors, and tails */
  const VlmDType dts[] = { VLM_DTYPE_F32, VLM_DTYPE_BF16, VLM_DTYPE_F16 };
  for (guint d = 0; d < G_N_ELEMENTS (dts); d++)
    for (guint i = 0; i < G_N_ELEMENTS (ins); i++) {
      gint64 out = 67, in = ins[i];
      g_autoptr (VlmTensor) f = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { out, in });
      float *p = vlm_tensor_get_data_mut (f);
      for (gint64 k = 0; k < out * in; k++)
        p[k] = rnd (r, -0.1, 0.1);
      g_autoptr (VlmTensor) w = vlm_tensor_to_dtype (f, dts[d], NULL);
      g_autoptr (VlmTensor) b = vlm_tensor_new (VLM_DTYPE_F32, 1, &out);
      for (gint64 k = 0; k < out; k++)
        ((float *) vlm_tensor_get_data_mut (b))[k] = rnd (r, -1, 1);
      VlmLinear lin;
      g_assert_true (vlm_linear_init_dense (&lin, w, b, NULL));
      /* BF16 dot products see x as hi + lo BF16 halves: ~16 significant bits. */
      check_layer (&lin, r, dts[d] == VLM_DTYPE_BF16 ? 3e-5 : 1e-5, vlm_dtype_name (dts[d]));
      check_gemm_small (&lin, r, 1e-5, vlm_dtype_name (dts[d]));
      vlm_linear_clear (&lin);
    }
}

static void
test_quantized (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (9);
  const int bits[] = { 4, 8 }, groups[] = { 32, 64, 128 };
  for (guint b = 0; b < G_N_ELEMENTS (bits); b++)
    for (guint g = 0; g < G_N_ELEMENTS (groups); g++) {
      gint64 out = 67, in = 384, gs = groups[g], words = in * bits[b] / 32;
      g_autoptr (VlmTensor) wt = vlm_tensor_new (VLM_DTYPE_U32, 2, (gint64[]) { out, words });
      g_autoptr (VlmTensor) st = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { out, in / gs });
      g_autoptr (VlmTensor) bt = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { out, in / gs });
      g_autofree float *row = g_new (float, in);
      for (gint64 o = 0; o < out; o++) {
        for (gint64 c = 0; c < in; c++)
          row[c] = rnd (r, -0.2, 0.2);
        vlm_quantize_affine_row (row, in, bits[b], (int) gs,
                                 (guint32 *) vlm_tensor_get_data_mut (wt) + o * words,
                                 (float *) vlm_tensor_get_data_mut (st) + o * (in / gs),
                                 (float *) vlm_tensor_get_data_mut (bt) + o * (in / gs));
      }
      /* Scales and biases as checkpoints store them. */
      g_autoptr (VlmTensor) sb = vlm_tensor_to_dtype (st, VLM_DTYPE_BF16, NULL);
      g_autoptr (VlmTensor) bb = vlm_tensor_to_dtype (bt, VLM_DTYPE_BF16, NULL);
      VlmLinear lin;
      g_assert_true (vlm_linear_init_quant (&lin, wt, sb, bb, NULL, bits[b], (int) gs, NULL));
      g_autofree char *what = g_strdup_printf ("Q%d group %d", bits[b], groups[g]);
      check_layer (&lin, r, 1e-5, what);
      check_gemm_small (&lin, r, 1e-5, what);
      /* The row expansion against the portable bit-stream decoder. */
      const VlmKernels *k = vlm_kernels_get ();
      if (k->dequant_q_row) {
        g_autofree float *a = g_new (float, in), *want = g_new (float, in);
        k->dequant_q_row (&lin, 5, a);
        for (gint64 c = 0; c < in; c++)
          want[c] = vlm_bf16_to_f32 (((const guint16 *) lin.scales)[5 * (in / gs) + c / gs])
                        * (float) vlm_quant_code ((const guint32 *) lin.data + 5 * words, c, bits[b])
                    + vlm_bf16_to_f32 (((const guint16 *) lin.biases)[5 * (in / gs) + c / gs]);
        assert_rel (a, want, in, 1e-6, "dequant_q_row");
      }
      vlm_linear_clear (&lin);
    }
}

/* 3-, 5- and 6-bit codes cross word boundaries: random words, expanded by the portable
 * bit-stream decoder in every set. */
static void
test_quantized_odd_bits (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (11);
  const int bits[] = { 3, 5, 6 };
  for (guint b = 0; b < G_N_ELEMENTS (bits); b++) {
    gint64 out = 29, in = 384, gs = 64, words = in * bits[b] / 32;
    g_autoptr (VlmTensor) wt = vlm_tensor_new (VLM_DTYPE_U32, 2, (gint64[]) { out, words });
    g_autoptr (VlmTensor) st = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { out, in / gs });
    g_autoptr (VlmTensor) bt = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { out, in / gs });
    for (gint64 i = 0; i < out * words; i++)
      ((guint32 *) vlm_tensor_get_data_mut (wt))[i] = g_rand_int (r);
    for (gint64 i = 0; i < out * (in / gs); i++) {
      ((float *) vlm_tensor_get_data_mut (st))[i] = rnd (r, 0.001, 0.01);
      ((float *) vlm_tensor_get_data_mut (bt))[i] = rnd (r, -0.1, 0.1);
    }
    VlmLinear lin;
    g_assert_true (vlm_linear_init_quant (&lin, wt, st, bt, NULL, bits[b], (int) gs, NULL));
    g_autofree char *what = g_strdup_printf ("Q%d", bits[b]);
    check_layer (&lin, r, 1e-5, what);
    check_gemm_small (&lin, r, 1e-5, what);
    vlm_linear_clear (&lin);
  }
}

/* MLX's rule: the larger-magnitude extreme is the bias (code 0) and is exact; a weight
 * is within half a step of its code, except that the step adjusted to put zero on a code
 * may leave the far extreme a little beyond the last code (MLX clamps it). */
static void
test_quantizer (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (13);
  float w[64], s[2], b[2];
  guint32 words[16];
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 64; i++)
      w[i] = rnd (r, -1, round % 2 ? 0.3 : 1);
    vlm_quantize_affine_row (w, 64, 4, 32, words, s, b);
    for (int g = 0; g < 2; g++) {
      float lo = INFINITY, hi = -INFINITY;
      for (int i = 0; i < 32; i++) {
        lo = fminf (lo, w[g * 32 + i]);
        hi = fmaxf (hi, w[g * 32 + i]);
      }
      g_assert_cmpfloat (b[g], ==, fabsf (lo) > fabsf (hi) ? lo : hi);
      for (int i = 0; i < 32; i++) {
        guint32 q = vlm_quant_code (words, g * 32 + i, 4);
        g_assert_cmpfloat (fabsf (s[g] * (float) q + b[g] - w[g * 32 + i]),
                           <=, fabsf (s[g]) * 1.5f + 1e-6f);
      }
    }
  }
}

static void
test_row_helpers (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (17);
  const VlmKernels *k = vlm_kernels_get (), *p = vlm_kernels_get_portable ();
  for (gint64 n = 1; n < 100; n += 7) {
    g_autofree float *a = g_new (float, n), *b = g_new (float, n), *y1 = g_new (float, n);
    g_autofree float *y2 = g_new (float, n), *f1 = g_new (float, n), *f2 = g_new (float, n);
    g_autofree guint16 *h = g_new (guint16, n);
    for (gint64 i = 0; i < n; i++) {
      a[i] = rnd (r, -1, 1);
      b[i] = rnd (r, -1, 1);
      y1[i] = y2[i] = rnd (r, -1, 1);
      h[i] = vlm_f32_to_bf16 (a[i]);
    }
    float d1 = k->dot_f32 (a, b, n), d2 = p->dot_f32 (a, b, n);
    assert_rel (&d1, &d2, 1, 1e-5, "dot_f32");
    k->axpy_f32 (0.7f, a, y1, n);
    p->axpy_f32 (0.7f, a, y2, n);
    assert_rel (y1, y2, n, 1e-6, "axpy_f32");
    k->bf16_to_f32 (h, f1, n);
    p->bf16_to_f32 (h, f2, n);
    g_assert_cmpmem (f1, n * sizeof (float), f2, n * sizeof (float));
    /* exp over the range softmax and SiLU see, masked keys (-inf) included */
    for (gint64 i = 0; i < n; i++)
      f1[i] = f2[i] = i % 5 == 2 ? -INFINITY : rnd (r, -100, 3);
    float s1 = k->exp_shift_sum (f1, n, 1.5f), s2 = p->exp_shift_sum (f2, n, 1.5f);
    assert_rel (f1, f2, n, 1e-6, "exp_shift_sum values");
    assert_rel (&s1, &s2, 1, 1e-6, "exp_shift_sum");
    for (gint64 i = 0; i < n; i++)
      a[i] = rnd (r, -120, 30);
    k->silu_mul (a, b, f1, n);
    p->silu_mul (a, b, f2, n);
    assert_rel (f1, f2, n, 1e-6, "silu_mul");
    for (gint64 i = 0; i < n; i++)
      f1[i] = f2[i] = rnd (r, -12, 12);
    float m1 = k->scale_max (f1, n, 0.3f), m2 = p->scale_max (f2, n, 0.3f);
    g_assert_cmpfloat (m1, ==, m2);
    g_assert_cmpmem (f1, n * sizeof (float), f2, n * sizeof (float));
    for (gint64 i = 0; i < n; i++)
      f1[i] = f2[i] = rnd (r, -12, 12) * (i % 3 ? 1.0f : 0.01f);
    k->gelu_tanh (f1, n);
    p->gelu_tanh (f2, n);
    for (gint64 i = 0; i < n; i++)
      g_assert_cmpfloat (fabsf (f1[i] - f2[i]), <=, 1e-6f * (1.0f + fabsf (f2[i])));
  }
}

/* Softmax attention in double precision, key by key. */
static void
reference_attention (const float *q, const float *k, const float *v, gint64 sq, gint64 sk,
                     gint64 hq, gint64 hkv, gint64 d, const VlmAttnMask *m, float *out)
{
  double *w = g_new (double, sk);
  for (gint64 i = 0; i < sq; i++)
    for (gint64 h = 0; h < hq; h++) {
      gint64 kh = h / (hq / hkv), p = m->q_offset + i;
      double mx = -INFINITY, sum = 0;
      for (gint64 j = 0; j < sk; j++) {
        gboolean span = FALSE;
        for (guint s = 0; s < m->n_spans; s++)
          span |= p >= m->spans[2 * s] && p < m->spans[2 * s + 1] && j >= m->spans[2 * s]
                  && j < m->spans[2 * s + 1];
        gboolean vis = (!m->key_valid || m->key_valid[j])
                       && (span || ((!m->causal || j <= p) && (m->window <= 0 || j > p - m->window)));
        w[j] = -INFINITY;
        if (vis) {
          double s = 0;
          for (gint64 c = 0; c < d; c++)
            s += (double) q[(i * hq + h) * d + c] * k[(j * hkv + kh) * d + c];
          w[j] = s / sqrt ((double) d);
          mx = MAX (mx, w[j]);
        }
      }
      for (gint64 j = 0; j < sk; j++) {
        w[j] = w[j] == -INFINITY ? 0 : exp (w[j] - mx);
        sum += w[j];
      }
      for (gint64 c = 0; c < d; c++) {
        double o = 0;
        for (gint64 j = 0; j < sk && sum > 0; j++)
          o += w[j] / sum * v[(j * hkv + kh) * d + c];
        out[(i * hq + h) * d + c] = (float) o;
      }
    }
  g_free (w);
}

static void
test_attention_blocks (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (21);
  gint64 sq = 100, off = 30, sk = sq + off, hq = 6, hkv = 2, d = 32;
  g_autofree float *q = g_new (float, sq * hq * d), *k = g_new (float, sk * hkv * d);
  g_autofree float *v = g_new (float, sk * hkv * d), *out = g_new (float, sq * hq * d);
  g_autofree float *want = g_new (float, sq * hq * d);
  for (gint64 i = 0; i < sq * hq * d; i++)
    q[i] = rnd (r, -1, 1);
  for (gint64 i = 0; i < sk * hkv * d; i++) {
    k[i] = rnd (r, -1, 1);
    v[i] = rnd (r, -1, 1);
  }
  g_autofree guint8 *valid = g_new (guint8, sk);
  for (gint64 j = 0; j < sk; j++)
    valid[j] = j % 11 != 3;
  gint64 spans[] = { 40, 70 };
  VlmAttnMask masks[] = {
    { .causal = TRUE, .q_offset = off },
    { .causal = TRUE, .q_offset = off, .key_valid = valid, .window = 17 },
    { .causal = TRUE, .q_offset = off, .spans = spans, .n_spans = 1 },
    { .causal = FALSE, .q_offset = off, .key_valid = valid },
  };
  for (guint mi = 0; mi < G_N_ELEMENTS (masks); mi++) {
    vlm_attention (q, k, v, sq, sk, hq, hkv, d, d, &masks[mi], out);
    reference_attention (q, k, v, sq, sk, hq, hkv, d, &masks[mi], want);
    assert_rel (out, want, sq * hq * d, 1e-5, "blocked attention");
    /* one query at a time: the decoding route */
    for (gint64 i = 0; i < sq; i += 13) {
      VlmAttnMask m1 = masks[mi];
      m1.q_offset = off + i;
      vlm_attention (q + i * hq * d, k, v, 1, sk, hq, hkv, d, d, &m1, out);
      assert_rel (out, want + i * hq * d, hq * d, 1e-5, "row attention");
    }
  }
}

int
main (int argc, char **argv)
{
  /* --kernels=SET caps the kernel choice (VLM_KERNELS) before anything is computed. */
  if (argc > 1 && g_str_has_prefix (argv[argc - 1], "--kernels=")) {
    g_setenv ("VLM_KERNELS", argv[argc - 1] + strlen ("--kernels="), TRUE);
    argc--;
  }
  g_test_init (&argc, &argv, NULL);
  vlm_set_num_threads (2);
  g_test_add_func ("/kernels/dense", test_dense);
  g_test_add_func ("/kernels/quantized", test_quantized);
  g_test_add_func ("/kernels/quantized-odd-bits", test_quantized_odd_bits);
  g_test_add_func ("/kernels/quantizer", test_quantizer);
  g_test_add_func ("/kernels/row-helpers", test_row_helpers);
  g_test_add_func ("/kernels/attention-blocks", test_attention_blocks);
  return g_test_run ();
}
