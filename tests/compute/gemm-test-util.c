/* gemm-test-util.c: shared scaffolding of test-gemm-bf16 and test-gemm-f16. */
#include "gemm-test-util.h"
#include "compute/threadpool.h"

#include <math.h>
#include <string.h>

/* --kernels=SET (last argument) caps the kernel choice (VLM_KERNELS): below the
 * product's instruction set it must fall back to the exact one. */
void
gemm_test_init (int *argc, char ***argv)
{
  if (*argc > 1 && g_str_has_prefix ((*argv)[*argc - 1], "--kernels=")) {
    g_setenv ("VLM_KERNELS", (*argv)[*argc - 1] + strlen ("--kernels="), TRUE);
    (*argc)--;
  }
  g_test_init (argc, argv, NULL);
}

/* max |y - round(x) round(W)^T - b| relative to max |reference| (double sums). */
double
gemm_test_max_rel_error (const float *y, const float *x, const float *w, const float *bias,
                         gint64 n, gint64 out, gint64 in, float (*round) (float value))
{
  double max_err = 0, max_ref = 0;
  for (gint64 i = 0; i < n; i++)
    for (gint64 o = 0; o < out; o++) {
      double ref = bias ? bias[o] : 0;
      for (gint64 c = 0; c < in; c++) {
        float a = x[i * in + c], b = w[o * in + c];
        ref += round ? (double) round (a) * round (b) : (double) a * b;
      }
      max_err = MAX (max_err, fabs (ref - y[i * out + o]));
      max_ref = MAX (max_ref, fabs (ref));
    }
  return max_err / max_ref;
}

/* A random [out, in] layer stored as @dtype (weights in [-1, 1], bias in [-1, 1] when
 * @with_bias), inputs uniform in [-x_range, x_range]: within the mode's tolerance of
 * the double product where the mode runs, else the exact path bit for bit. */
void
gemm_test_check_shape (const GemmMode *mode, VlmDType dtype, gint64 n, gint64 out, gint64 in,
                       gboolean with_bias, double x_range)
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
  mode->forward (&lin, x, n, y);
  vlm_linear_forward (&lin, x, n, exact);
  if (n >= 16 && mode->supported ()) {
    double err = gemm_test_max_rel_error (y, x, vlm_tensor_get_data (back), with_bias ? b : NULL,
                                          n, out, in, mode->round);
    g_test_message ("%s %s n=%" G_GINT64_FORMAT " out=%" G_GINT64_FORMAT " in=%" G_GINT64_FORMAT
                    " |x|<=%g: max error %.3g of max |ref|", mode->name, vlm_dtype_name (dtype),
                    n, out, in, x_range, err);
    g_assert_cmpfloat (err, <, mode->tolerance);
  } else {
    /* Too few rows, or the instructions are missing: the exact path, bit for bit. */
    g_assert_cmpmem (y, n * out * sizeof (float), exact, n * out * sizeof (float));
  }
  vlm_linear_clear (&lin);
  g_free (x);
  g_free (y);
  g_free (exact);
}

/* Threads share the work by blocks of rows: any thread count gives the same bits. */
void
gemm_test_threads (GemmForwardFunc forward)
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
  forward (&lin, x, n, y1);
  vlm_set_num_threads (2);
  forward (&lin, x, n, y2);
  vlm_set_num_threads (before);
  g_assert_cmpmem (y1, n * out * sizeof (float), y2, n * out * sizeof (float));
  vlm_linear_clear (&lin);
  g_free (x);
  g_free (y1);
  g_free (y2);
}
