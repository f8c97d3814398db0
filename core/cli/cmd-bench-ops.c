/* cmd-bench-ops.c: `vlm-pipeline bench-ops`: GFLOP/s of the products per weight format. */
#include "vlm-cli.h"
#include "compute/linear.h"
#include "compute/threadpool.h"
#include "compute/kernels.h"

/* Runs fn until at least min_seconds have passed; returns seconds per call. */
static double
time_linear (const VlmLinear *lin, const float *x, gint64 n, float *y, double min_seconds)
{
  vlm_linear_forward (lin, x, n, y); /* warm up */
  gint64 calls = 0, t0 = g_get_monotonic_time (), t;
  do {
    vlm_linear_forward (lin, x, n, y);
    calls++;
    t = g_get_monotonic_time ();
  } while (t - t0 < min_seconds * 1e6);
  return (t - t0) / 1e6 / calls;
}

static VlmTensor *
random_tensor (VlmDType dt, gint64 rows, gint64 cols, GRand *r)
{
  gint64 shape[] = { rows, cols };
  g_autoptr (VlmTensor) f = vlm_tensor_new (VLM_DTYPE_F32, 2, shape);
  float *p = vlm_tensor_get_data_mut (f);
  for (gint64 i = 0; i < rows * cols; i++)
    p[i] = (float) g_rand_double_range (r, -0.05, 0.05);
  return vlm_tensor_to_dtype (f, dt, NULL);
}

static gboolean
make_layer (VlmLinear *lin, const char *fmt, gint64 out, gint64 in, GRand *r, GError **error)
{
  if (g_str_equal (fmt, "F32") || g_str_equal (fmt, "BF16") || g_str_equal (fmt, "F16")) {
    VlmDType dt;
    vlm_dtype_from_name (fmt, &dt);
    g_autoptr (VlmTensor) w = random_tensor (dt, out, in, r);
    return vlm_linear_init_dense (lin, w, NULL, error);
  }
  int bits = g_str_equal (fmt, "Q4") ? 4 : 8, gs = 64;
  gint64 shape[] = { out, in * bits / 32 };
  g_autoptr (VlmTensor) w = vlm_tensor_new (VLM_DTYPE_U32, 2, shape);
  guint32 *p = vlm_tensor_get_data_mut (w);
  for (gint64 i = 0; i < shape[0] * shape[1]; i++)
    p[i] = g_rand_int (r);
  g_autoptr (VlmTensor) s = random_tensor (VLM_DTYPE_BF16, out, in / gs, r);
  g_autoptr (VlmTensor) b = random_tensor (VLM_DTYPE_BF16, out, in / gs, r);
  return vlm_linear_init_quant (lin, w, s, b, NULL, bits, gs, error);
}

int
vlm_cli_bench_ops (int argc, char **argv)
{
  int code = VLM_EXIT_OK, threads = 0;
  double seconds = 1.0;
  GOptionEntry entries[] = {
    { "threads", 'j', 0, G_OPTION_ARG_INT, &threads, "Threads (default: VLM_NUM_THREADS or all cores)", "N" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "Minimum time per measurement (default 1)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Measure sgemm at 1024^3 and decode-time GEMV (576x1536, as "
                                     "in SmolVLM-256M's MLP) per weight format.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!vlm_cli_parse (ctx, &argc, &argv, &code))
    return code;
  if (argc != 1 || threads < 0 || seconds <= 0)
    return vlm_cli_usage_error (ctx, "bench-ops takes only options");
  vlm_set_num_threads (threads);
  g_print ("threads: %d, kernels: %s\n", vlm_get_num_threads (), vlm_kernels_get ()->name);
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  GError *error = NULL;

  /* sgemm: [1024,1024] x [1024,1024]^T */
  {
    VlmLinear lin;
    gint64 n = 1024;
    if (!make_layer (&lin, "F32", n, n, r, &error))
      return vlm_cli_fail (error);
    g_autofree float *x = g_new0 (float, n * n);
    g_autofree float *y = g_new (float, n * n);
    double t = time_linear (&lin, x, n, y, seconds);
    g_print ("sgemm 1024x1024x1024 F32: %.2f ms, %.1f GFLOP/s\n", t * 1e3, 2.0 * n * n * n / t / 1e9);
    vlm_linear_clear (&lin);
  }
  /* GEMV: one token through a 576 -> 1536 layer (tokens/s-equivalent = 1 / time). */
  const char *fmts[] = { "F32", "BF16", "F16", "Q8", "Q4" };
  const gint64 out = 1536, in = 576;
  g_autofree float *x = g_new (float, in);
  g_autofree float *y = g_new (float, out);
  for (gint64 i = 0; i < in; i++)
    x[i] = (float) g_rand_double_range (r, -1, 1);
  for (guint f = 0; f < G_N_ELEMENTS (fmts); f++) {
    VlmLinear lin;
    if (!make_layer (&lin, fmts[f], out, in, r, &error))
      return vlm_cli_fail (error);
    double t = time_linear (&lin, x, 1, y, seconds);
    g_print ("gemv 576x1536 %-4s: %8.2f us/call, %6.2f GFLOP/s, %9.0f calls/s (tok/s-equivalent)\n",
             fmts[f], t * 1e6, 2.0 * in * out / t / 1e9, 1.0 / t);
    vlm_linear_clear (&lin);
  }
  return VLM_EXIT_OK;
}
