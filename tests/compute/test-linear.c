/* test-linear.c: MLX-quantized and dense products against independent references. */
#include "compute/linear.h"
#include "compute/threadpool.h"
#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

/* Writes codes as one bit stream, least significant bit first, bit by bit. */
static void
pack_bits (const guint32 *codes, gint64 n, int bits, guint32 *words)
{
  gint64 pos = 0;
  for (gint64 i = 0; i < n; i++)
    for (int b = 0; b < bits; b++, pos++)
      if (codes[i] & (1u << b))
        words[pos / 32] |= 1u << (pos % 32);
}

static VlmTensor *
bf16_tensor (gint64 rows, gint64 cols, GRand *r, double lo, double hi)
{
  gint64 shape[] = { rows, cols };
  VlmTensor *t = vlm_tensor_new (VLM_DTYPE_BF16, 2, shape);
  guint16 *p = vlm_tensor_get_data_mut (t);
  for (gint64 i = 0; i < rows * cols; i++)
    p[i] = vlm_f32_to_bf16 ((float) g_rand_double_range (r, lo, hi));
  return t;
}

/* Checks y against a double-precision product of x with W (given as F32 rows). */
static void
assert_close (const float *y, const float *x, const float *w, const float *bias, gint64 n,
              gint64 out, gint64 in, double rel)
{
  double max_err = 0, max_ref = 0;
  for (gint64 i = 0; i < n; i++)
    for (gint64 o = 0; o < out; o++) {
      double ref = bias ? bias[o] : 0;
      for (gint64 c = 0; c < in; c++)
        ref += (double) x[i * in + c] * w[o * in + c];
      max_err = MAX (max_err, fabs (ref - y[i * out + o]));
      max_ref = MAX (max_ref, fabs (ref));
    }
  if (max_err > rel * max_ref)
    g_error ("max error %g exceeds %g of max |ref| %g", max_err, rel, max_ref);
}

static void
test_quant (void)
{
  const int all_bits[] = { 2, 3, 4, 5, 6, 8 };
  const int groups[] = { 32, 64, 128 };
  g_autoptr (GRand) r = g_rand_new_with_seed (7);
  for (guint bi = 0; bi < G_N_ELEMENTS (all_bits); bi++)
    for (guint gi = 0; gi < G_N_ELEMENTS (groups); gi++) {
      int bits = all_bits[bi], gs = groups[gi];
      gint64 out = 67, in = 3 * 128, words = in * bits / 32;
      gint64 wshape[] = { out, words };
      g_autoptr (VlmTensor) wt = vlm_tensor_new (VLM_DTYPE_U32, 2, wshape);
      g_autofree guint32 *codes = g_new (guint32, out * in);
      for (gint64 i = 0; i < out * in; i++)
        codes[i] = g_rand_int_range (r, 0, 1 << bits);
      guint32 *wp = vlm_tensor_get_data_mut (wt);
      for (gint64 o = 0; o < out; o++)
        pack_bits (codes + o * in, in, bits, wp + o * words);
      g_autoptr (VlmTensor) scales = bf16_tensor (out, in / gs, r, 0.001, 0.02);
      g_autoptr (VlmTensor) biases = bf16_tensor (out, in / gs, r, -0.1, 0.1);
      g_autoptr (VlmTensor) bias = bf16_tensor (1, out, r, -1, 1);
      g_autoptr (VlmTensor) bias1 = vlm_tensor_reshape (bias, 1, &out, NULL);
      VlmLinear lin;
      g_autoptr (GError) error = NULL;
      g_assert_true (vlm_linear_init_quant (&lin, wt, scales, biases, bias1, bits, gs, &error));
      g_assert_no_error (error);

      /* Expected weights: w = scale * q + bias, computed here from the codes. */
      g_autofree float *w = g_new (float, out * in);
      g_autofree float *got = g_new (float, out * in);
      for (gint64 o = 0; o < out; o++)
        for (gint64 c = 0; c < in; c++) {
          gint64 idx[] = { o, c / gs };
          w[o * in + c] = (float) vlm_tensor_get_element (scales, idx) * (float) codes[o * in + c]
                          + (float) vlm_tensor_get_element (biases, idx);
        }
      vlm_linear_dequant_rows (&lin, 0, out, got);
      g_assert_cmpmem (got, out * in * sizeof (float), w, out * in * sizeof (float));

      g_autofree float *bf = g_new (float, out);
      for (gint64 o = 0; o < out; o++)
        bf[o] = vlm_bf16_to_f32 (((const guint16 *) vlm_tensor_get_data (bias))[o]);
      const gint64 ns[] = { 1, 3, 4, 9 };
      for (guint k = 0; k < G_N_ELEMENTS (ns); k++) {
        gint64 n = ns[k];
        g_autofree float *x = g_new (float, n * in);
        g_autofree float *y = g_new (float, n * out);
        for (gint64 i = 0; i < n * in; i++)
          x[i] = (float) g_rand_double_range (r, -1, 1);
        vlm_linear_forward (&lin, x, n, y);
        assert_close (y, x, w, bf, n, out, in, 1e-5);
      }
      /* Quantized embedding rows. */
      gint64 ids[] = { 0, 66, 5 };
      g_autofree float *emb = g_new (float, 3 * in);
      g_assert_true (vlm_linear_embed (&lin, ids, 3, emb, &error));
      for (int i = 0; i < 3; i++)
        g_assert_cmpmem (emb + i * in, in * sizeof (float), w + ids[i] * in, in * sizeof (float));
      gint64 bad[] = { 67 };
      g_assert_false (vlm_linear_embed (&lin, bad, 1, emb, &error));
      g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
      vlm_linear_clear (&lin);
    }
}

static void
test_dense (void)
{
  const VlmDType dtypes[] = { VLM_DTYPE_F32, VLM_DTYPE_BF16, VLM_DTYPE_F16 };
  g_autoptr (GRand) r = g_rand_new_with_seed (11);
  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++) {
    gint64 out = 131, in = 77;
    g_autoptr (VlmTensor) base = bf16_tensor (in, out, r, -1, 1);
    /* A transposed (non-contiguous) view, converted to the dtype under test. */
    g_autoptr (VlmTensor) tv = vlm_tensor_transpose (base, 0, 1, NULL);
    g_autoptr (VlmTensor) wt = vlm_tensor_to_dtype (tv, dtypes[d], NULL);
    g_autoptr (VlmTensor) wview = vlm_tensor_transpose (wt, 0, 1, NULL);
    g_autoptr (VlmTensor) wnc = vlm_tensor_contiguous (wview);
    g_autoptr (VlmTensor) wback = vlm_tensor_transpose (wnc, 0, 1, NULL);
    g_assert_false (vlm_tensor_is_contiguous (wback));
    VlmLinear lin;
    g_assert_true (vlm_linear_init_dense (&lin, wback, NULL, NULL));
    g_autofree float *w = g_new (float, out * in);
    for (gint64 o = 0; o < out; o++)
      for (gint64 c = 0; c < in; c++) {
        gint64 idx[] = { c, o };
        w[o * in + c] = (float) vlm_tensor_get_element (base, idx);
      }
    const gint64 ns[] = { 1, 2, 5, 40 };
    for (guint k = 0; k < G_N_ELEMENTS (ns); k++) {
      gint64 n = ns[k];
      g_autofree float *x = g_new (float, n * in);
      g_autofree float *y = g_new (float, n * out);
      for (gint64 i = 0; i < n * in; i++)
        x[i] = (float) g_rand_double_range (r, -1, 1);
      vlm_linear_forward (&lin, x, n, y);
      assert_close (y, x, w, NULL, n, out, in, 1e-5);
    }
    vlm_linear_clear (&lin);
  }
}

static void
test_sgemm_threads (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (3);
  gint64 M = 130, N = 190, K = 170;
  g_autofree float *A = g_new (float, M * K), *B = g_new (float, K * N), *C = g_new (float, M * N);
  for (gint64 i = 0; i < M * K; i++)
    A[i] = (float) g_rand_double_range (r, -1, 1);
  for (gint64 i = 0; i < K * N; i++)
    B[i] = (float) g_rand_double_range (r, -1, 1);
  for (int threads = 1; threads <= 3; threads++) {
    vlm_set_num_threads (threads);
    g_assert_cmpint (vlm_get_num_threads (), ==, threads);
    vlm_sgemm (M, N, K, A, K, B, N, FALSE, C, N, FALSE);
    for (gint64 i = 0; i < M; i += 7)
      for (gint64 j = 0; j < N; j += 5) {
        double ref = 0;
        for (gint64 k = 0; k < K; k++)
          ref += (double) A[i * K + k] * B[k * N + j];
        g_assert_cmpfloat_with_epsilon (C[i * N + j], ref, 1e-4);
      }
  }
  vlm_set_num_threads (0);
}

static void
test_bad_shapes (void)
{
  gint64 s[] = { 4, 3 };
  g_autoptr (VlmTensor) w = vlm_tensor_new (VLM_DTYPE_U32, 2, s);
  g_autoptr (VlmTensor) sc = vlm_tensor_new (VLM_DTYPE_BF16, 2, s);
  g_autoptr (GError) error = NULL;
  VlmLinear lin;
  /* 3 words of 4-bit codes = 24 codes: not a whole group of 32. */
  g_assert_false (vlm_linear_init_quant (&lin, w, sc, sc, NULL, 4, 32, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (vlm_linear_init_quant (&lin, w, sc, sc, NULL, 7, 32, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED);
}

int
main (int argc, char **argv)
{
  /* --portable: check the plain C kernels instead of the vector ones. */
  if (argc > 1 && g_strcmp0 (argv[argc - 1], "--portable") == 0) {
    g_setenv ("VLM_KERNELS", "portable", TRUE);
    argc--;
  }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/linear/quantized", test_quant);
  g_test_add_func ("/linear/dense", test_dense);
  g_test_add_func ("/linear/sgemm-threads", test_sgemm_threads);
  g_test_add_func ("/linear/bad-shapes", test_bad_shapes);
  return g_test_run ();
}
