/* test-gemm-f16.c: the opt-in FP16 product (compute/gemm-f16.c) against a double product
 * of the exact operands, over shapes with every kind of edge (odd K, several K slices,
 * partial micro-tiles and panels), inputs far outside FP16's range (the power-of-two
 * row scaling), and its fallback to the exact path. */
#include "compute/gemm-f16.h"
#include "compute/threadpool.h"

#include <math.h>
#include <string.h>

/* max |y - x W^T - b| relative to max |reference|: FP16 inputs (2^-11 each) and FP16 run
 * sums put it near 1e-3. */
#define F16_TOLERANCE 4e-3

static double
max_rel_error (const float *y, const float *x, const float *w, const float *bias, gint64 n,
               gint64 out, gint64 in)
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
  return max_err / max_ref;
}

/* @x_range: inputs uniform in [-x_range, x_range]. */
static void
check_shape (VlmDType dtype, gint64 n, gint64 out, gint64 in, gboolean with_bias,
             double x_range)
{
  g_autoptr (GRand) r = g_rand_new_with_seed ((guint32) (n * 7919 + out * 31 + in));
  gint64 shape[] = { out, in };
  g_autoptr (VlmTensor) wt = vlm_tensor_new (VLM_DTYPE_F32, 2, shape);
  float *w = vlm_tensor_get_data_mut (wt);
  for (gint64 i = 0; i < out * in; i++)
    w[i] = (float) g_rand_double_range (r, -1, 1);
  g_autoptr (VlmTensor) bt = vlm_tensor_new (VLM_DTYPE_F32, 1, (gint64[]) { out });
  float *b = vlm_tensor_get_data_mut (bt);
  for (gint64 o = 0; o < out; o++)
    b[o] = (float) g_rand_double_range (r, -1, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) stored = vlm_tensor_to_dtype (wt, dtype, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensor) back = vlm_tensor_to_dtype (stored, VLM_DTYPE_F32, &error);
  g_assert_no_error (error);
  VlmLinear lin;
  g_assert_true (vlm_linear_init_dense (&lin, stored, with_bias ? bt : NULL, &error));

  float *x = g_new (float, n * in), *y = g_new (float, n * out), *exact = g_new (float, n * out);
  for (gint64 i = 0; i < n * in; i++)
    x[i] = (float) g_rand_double_range (r, -x_range, x_range);
  vlm_linear_forward_f16 (&lin, x, n, y);
  vlm_linear_forward (&lin, x, n, exact);
  if (n >= 16 && vlm_gemm_f16_supported ()) {
    double err = max_rel_error (y, x, vlm_tensor_get_data (back), with_bias ? b : NULL, n, out,
                                in);
    g_test_message ("%s n=%" G_GINT64_FORMAT " out=%" G_GINT64_FORMAT " in=%" G_GINT64_FORMAT
                    " |x|<=%g: max error %.3g of max |ref|", vlm_dtype_name (dtype), n, out,
                    in, x_range, err);
    g_assert_cmpfloat (err, <, F16_TOLERANCE);
  } else {
    /* Too few rows, or no AVX512_FP16: the exact path, bit for bit. */
    g_assert_cmpmem (y, n * out * sizeof (float), exact, n * out * sizeof (float));
  }
  vlm_linear_clear (&lin);
  g_free (x);
  g_free (y);
  g_free (exact);
}

static void
test_shapes (void)
{
  const gint64 shapes[][3] = {
    { 16, 48, 2 }, { 37, 101, 515 }, { 200, 96, 256 }, { 97, 50, 33 }, { 130, 7, 1 },
    { 8, 64, 64 }, { 61, 33, 1100 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++) {
    check_shape (VLM_DTYPE_BF16, shapes[i][0], shapes[i][1], shapes[i][2], TRUE, 2);
    check_shape (VLM_DTYPE_F32, shapes[i][0], shapes[i][1], shapes[i][2], i % 2, 2);
    check_shape (VLM_DTYPE_F16, shapes[i][0], shapes[i][1], shapes[i][2], FALSE, 2);
  }
}

/* Inputs beyond FP16's largest value (65504) and near its subnormals: the row scaling
 * keeps both exact to FP16's precision. */
static void
test_ranges (void)
{
  check_shape (VLM_DTYPE_F32, 50, 70, 300, TRUE, 1e6);
  check_shape (VLM_DTYPE_F32, 50, 70, 300, FALSE, 1e-6);
}

/* Threads share the work by blocks of rows: any thread count gives the same bits. */
static void
test_threads (void)
{
  gint64 n = 300, out = 97, in = 300;
  g_autoptr (GRand) r = g_rand_new_with_seed (3);
  g_autoptr (VlmTensor) wt = vlm_tensor_new (VLM_DTYPE_BF16, 2, (gint64[]) { out, in });
  guint16 *w = vlm_tensor_get_data_mut (wt);
  for (gint64 i = 0; i < out * in; i++)
    w[i] = vlm_f32_to_bf16 ((float) g_rand_double_range (r, -1, 1));
  g_autoptr (GError) error = NULL;
  VlmLinear lin;
  g_assert_true (vlm_linear_init_dense (&lin, wt, NULL, &error));
  float *x = g_new (float, n * in), *y1 = g_new (float, n * out), *y2 = g_new (float, n * out);
  for (gint64 i = 0; i < n * in; i++)
    x[i] = (float) g_rand_double_range (r, -1, 1);
  int before = vlm_get_num_threads ();
  vlm_set_num_threads (1);
  vlm_linear_forward_f16 (&lin, x, n, y1);
  vlm_set_num_threads (2);
  vlm_linear_forward_f16 (&lin, x, n, y2);
  vlm_set_num_threads (before);
  g_assert_cmpmem (y1, n * out * sizeof (float), y2, n * out * sizeof (float));
  vlm_linear_clear (&lin);
  g_free (x);
  g_free (y1);
  g_free (y2);
}

int
main (int argc, char **argv)
{
  /* --kernels=SET caps the kernel choice (VLM_KERNELS): below avx512 the product must
   * fall back to the exact one. */
  if (argc > 1 && g_str_has_prefix (argv[argc - 1], "--kernels=")) {
    g_setenv ("VLM_KERNELS", argv[argc - 1] + strlen ("--kernels="), TRUE);
    argc--;
  }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gemm-f16/shapes", test_shapes);
  g_test_add_func ("/gemm-f16/ranges", test_ranges);
  g_test_add_func ("/gemm-f16/threads", test_threads);
  return g_test_run ();
}
