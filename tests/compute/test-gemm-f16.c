/* test-gemm-f16.c: the opt-in FP16 products against the plain ones. The GEMM
 * (compute/gemm-f16.c) against a double product of the exact operands, over shapes with
 * every kind of edge (odd K, several K slices, partial micro-tiles and panels) and inputs
 * far outside FP16's range (the power-of-two row scaling); its shared-input and residual
 * forms and the fused MLP against the plain FP16 GEMM, with a LayerNorm of the input
 * against the exact ops; the attention (compute/attention-f16.c) against
 * vlm_attention() over odd sizes, grouped heads, padding masks and scales. Run with
 * --kernels=avx2 every one must fall back to the exact path, bit for bit. */
#include "gemm-test-util.h"
#include "compute/attention-f16.h"
#include "compute/gemm-f16.h"
#include "compute/threadpool.h"

#include <math.h>
#include <string.h>

/* max |error| relative to max |reference|: FP16 inputs (2^-11 each) and FP16 run sums
 * put it near 1e-3. */
#define F16_TOLERANCE 4e-3

static const GemmMode f16_mode = {
  "f16", vlm_linear_forward_f16, vlm_gemm_f16_supported, NULL, F16_TOLERANCE,
};

static void
test_shapes (void)
{
  const gint64 shapes[][3] = {
    { 16, 48, 2 }, { 37, 101, 515 }, { 200, 96, 256 }, { 97, 50, 33 }, { 130, 7, 1 },
    { 8, 64, 64 }, { 61, 33, 1100 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++) {
    const gint64 *s = shapes[i];
    gemm_test_check_shape (&f16_mode, VLM_DTYPE_BF16, s[0], s[1], s[2], TRUE, 2);
    gemm_test_check_shape (&f16_mode, VLM_DTYPE_F32, s[0], s[1], s[2], i % 2, 2);
    gemm_test_check_shape (&f16_mode, VLM_DTYPE_F16, s[0], s[1], s[2], FALSE, 2);
  }
}

/* Inputs beyond FP16's largest value (65504) and near its subnormals: the row scaling
 * keeps both exact to FP16's precision. */
static void
test_ranges (void)
{
  gemm_test_check_shape (&f16_mode, VLM_DTYPE_F32, 50, 70, 300, TRUE, 1e6);
  gemm_test_check_shape (&f16_mode, VLM_DTYPE_F32, 50, 70, 300, FALSE, 1e-6);
}

static void
test_threads (void)
{
  gemm_test_threads (vlm_linear_forward_f16);
}

static float *
random_floats (GRand *r, gint64 n, double range)
{
  float *v = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (r, -range, range);
  return v;
}

static void
random_layer (GRand *r, gint64 out, gint64 in, VlmLinear *lin)
{
  g_autoptr (VlmTensor) wt = vlm_tensor_new (VLM_DTYPE_BF16, 2, (gint64[]) { out, in });
  guint16 *w = vlm_tensor_get_data_mut (wt);
  for (gint64 i = 0; i < out * in; i++)
    w[i] = vlm_f32_to_bf16 ((float) g_rand_double_range (r, -1, 1));
  g_autoptr (VlmTensor) bt = vlm_tensor_new (VLM_DTYPE_F32, 1, (gint64[]) { out });
  float *b = vlm_tensor_get_data_mut (bt);
  for (gint64 o = 0; o < out; o++)
    b[o] = (float) g_rand_double_range (r, -1, 1);
  g_autoptr (GError) error = NULL;
  g_assert_true (vlm_linear_init_dense (lin, wt, bt, &error));
}

/* max |a - b| relative to max |b| */
static double
max_rel_diff (const float *a, const float *b, gint64 n)
{
  double max_err = 0, max_ref = 0;
  for (gint64 i = 0; i < n; i++) {
    max_err = MAX (max_err, fabs ((double) a[i] - b[i]));
    max_ref = MAX (max_ref, fabs ((double) b[i]));
  }
  return max_err / max_ref;
}

/* A LayerNorm with random weight and bias over @dim, its arrays owned by @keep. */
static VlmF16LayerNorm
random_norm (GRand *r, gint64 dim, GPtrArray *keep)
{
  float *w = random_floats (r, dim, 1), *b = random_floats (r, dim, 1);
  g_ptr_array_add (keep, w);
  g_ptr_array_add (keep, b);
  return (VlmF16LayerNorm) { w, b, 1e-5f };
}

/* The exact result's input: LayerNorm(x) with the exact op. */
static float *
exact_norm (const VlmF16LayerNorm *norm, const float *x, gint64 n, gint64 dim)
{
  float *out = g_new (float, n * dim);
  vlm_layer_norm (x, norm->weight, norm->bias, n, dim, norm->eps, out);
  return out;
}

/* The FP16 path where it runs (n >= 16), else the exact one: same bits as @exact there,
 * within the tolerance of it here. */
static void
assert_fast_or_exact (const float *y, const float *exact, gint64 n_rows, gint64 count,
                      const char *what)
{
  if (n_rows < 16 || !vlm_gemm_f16_supported ()) {
    g_assert_cmpmem (y, count * sizeof (float), exact, count * sizeof (float));
    return;
  }
  double err = max_rel_diff (y, exact, count);
  g_test_message ("%s, %" G_GINT64_FORMAT " rows: max error %.3g of max |exact|", what, n_rows,
                  err);
  g_assert_cmpfloat (err, <, F16_TOLERANCE);
}

/* Layers sharing an input (q, k, v) give each what its own FP16 product gives (the
 * exact products when that falls back); with a LayerNorm of the input, what the exact
 * products of the normed rows give, within the tolerance. */
static void
test_multi (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (11);
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  const gint64 outs[] = { 40, 96, 7 }, in = 150;
  VlmLinear lins[3];
  for (guint l = 0; l < 3; l++)
    random_layer (r, outs[l], in, &lins[l]);
  const VlmLinear *ptrs[] = { &lins[0], &lins[1], &lins[2] };
  VlmF16LayerNorm norm = random_norm (r, in, keep);
  const gint64 rows[] = { 5, 16, 101 };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    gint64 n = rows[i];
    g_autofree float *x = random_floats (r, n * in, 2);
    g_autofree float *normed = exact_norm (&norm, x, n, in);
    float *ys[3], *one[3];
    for (guint l = 0; l < 3; l++) {
      ys[l] = g_new (float, n * outs[l]);
      one[l] = g_new (float, n * outs[l]);
      vlm_linear_forward_f16 (&lins[l], x, n, one[l]);
    }
    vlm_linear_forward_f16_multi (ptrs, 3, NULL, x, n, ys);
    for (guint l = 0; l < 3; l++)
      g_assert_cmpmem (ys[l], n * outs[l] * sizeof (float), one[l], n * outs[l] * sizeof (float));
    vlm_linear_forward_f16_multi (ptrs, 3, &norm, x, n, ys);
    for (guint l = 0; l < 3; l++) {
      vlm_linear_forward (&lins[l], normed, n, one[l]);
      assert_fast_or_exact (ys[l], one[l], n, n * outs[l], "multi, normed input");
      g_free (ys[l]);
      g_free (one[l]);
    }
  }
  for (guint l = 0; l < 3; l++)
    vlm_linear_clear (&lins[l]);
}

/* y += x W^T + b: the sum of y and what the plain FP16 product gives. */
static void
test_add (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (12);
  gint64 out = 70, in = 130;
  VlmLinear lin;
  random_layer (r, out, in, &lin);
  const gint64 rows[] = { 3, 16, 77 };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    gint64 n = rows[i];
    g_autofree float *x = random_floats (r, n * in, 2);
    g_autofree float *y = random_floats (r, n * out, 2);
    g_autofree float *want = g_memdup2 (y, n * out * sizeof (float));
    g_autofree float *product = g_new (float, n * out);
    vlm_linear_forward_f16 (&lin, x, n, product);
    for (gint64 k = 0; k < n * out; k++)
      want[k] += product[k];
    vlm_linear_forward_f16_add (&lin, x, n, y);
    g_assert_cmpmem (y, n * out * sizeof (float), want, n * out * sizeof (float));
  }
  vlm_linear_clear (&lin);
}

/* y += fc2(act(fc1(x))), block by block: what the plain FP16 products give one after
 * the other (the exact ones when they fall back); with a LayerNorm of the input and y
 * the input itself (a residual stream), the exact ops' result within the tolerance. */
static void
test_mlp (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (13);
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  gint64 in = 64, hidden = 150;
  VlmLinear fc1, fc2;
  random_layer (r, hidden, in, &fc1);
  random_layer (r, in, hidden, &fc2);
  VlmF16LayerNorm norm = random_norm (r, in, keep);
  const gint64 rows[] = { 3, 16, 100 };
  const VlmActivation acts[] = { VLM_ACT_GELU_TANH, VLM_ACT_GELU, VLM_ACT_SILU };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    for (guint a = 0; a < G_N_ELEMENTS (acts); a++) {
      gint64 n = rows[i];
      g_autofree float *x = random_floats (r, n * in, 2);
      g_autofree float *y = random_floats (r, n * in, 2);
      g_autofree float *want = g_memdup2 (y, n * in * sizeof (float));
      g_autofree float *h = g_new (float, n * hidden);
      vlm_linear_forward_f16 (&fc1, x, n, h);
      vlm_activate (h, n * hidden, acts[a]);
      vlm_linear_forward_f16_add (&fc2, h, n, want);
      vlm_mlp_f16_add (&fc1, &fc2, acts[a], NULL, x, n, y);
      g_assert_cmpmem (y, n * in * sizeof (float), want, n * in * sizeof (float));

      /* the exact ops: what the residual gains */
      g_autofree float *normed = exact_norm (&norm, x, n, in);
      g_autofree float *gain = g_new (float, n * in);
      vlm_linear_forward (&fc1, normed, n, h);
      vlm_activate (h, n * hidden, acts[a]);
      vlm_linear_forward (&fc2, h, n, gain);
      g_autofree float *stream = g_memdup2 (x, n * in * sizeof (float));
      vlm_mlp_f16_add (&fc1, &fc2, acts[a], &norm, stream, n, stream);
      for (gint64 k = 0; k < n * in; k++)
        stream[k] -= x[k];
      if (n >= 16 && vlm_gemm_f16_supported ())
        assert_fast_or_exact (stream, gain, n, n * in, "mlp, normed input, in place");
      else   /* the exact path adds: only the addition's rounding is between them */
        g_assert_cmpfloat (max_rel_diff (stream, gain, n * in), <, 1e-5);
    }
  vlm_linear_clear (&fc1);
  vlm_linear_clear (&fc2);
}

typedef struct {
  gint64 sq, sk, hq, hkv, d, dv;
  double range;          /* q, k, v uniform in [-range, range] */
  float scale;           /* 0: 1 / sqrt(d) */
  const char *hidden;    /* keys hidden by the padding mask: "none", "some", "all" */
} AttnCase;

/* vlm_attention_f16 against vlm_attention: within the tolerance where the FP16 products
 * run (rows without a visible key zeros in both), else the same bits. */
static void
check_attention (const AttnCase *c, const VlmAttnMask *extra)
{
  g_autoptr (GRand) r = g_rand_new_with_seed ((guint32) (c->sq * 131 + c->sk * 17 + c->d));
  g_autofree float *q = random_floats (r, c->sq * c->hq * c->d, c->range);
  g_autofree float *k = random_floats (r, c->sk * c->hkv * c->d, c->range);
  g_autofree float *v = random_floats (r, c->sk * c->hkv * c->dv, c->range);
  g_autofree guint8 *valid = g_new (guint8, c->sk);
  for (gint64 t = 0; t < c->sk; t++)
    valid[t] = g_str_equal (c->hidden, "none") || (g_str_equal (c->hidden, "some") && t % 5 != 2);
  VlmAttnMask mask = extra ? *extra : (VlmAttnMask) { 0 };
  mask.scale = c->scale;
  mask.key_valid = g_str_equal (c->hidden, "none") ? NULL : valid;
  gint64 n = c->sq * c->hq * c->dv;
  g_autofree float *fast = g_new (float, n), *plain = g_new (float, n);
  vlm_attention_f16 (q, k, v, c->sq, c->sk, c->hq, c->hkv, c->d, c->dv, &mask, fast);
  vlm_attention (q, k, v, c->sq, c->sk, c->hq, c->hkv, c->d, c->dv, &mask, plain);
  gboolean runs = vlm_gemm_f16_supported () && c->sq >= 16 && !mask.causal && !mask.window
                  && !mask.n_spans && mask.softcap <= 0;
  if (!runs) {
    g_assert_cmpmem (fast, n * sizeof (float), plain, n * sizeof (float));
    return;
  }
  if (g_str_equal (c->hidden, "all")) {   /* zeros in both */
    g_assert_cmpmem (fast, n * sizeof (float), plain, n * sizeof (float));
    g_assert_cmpfloat (plain[0], ==, 0);
    return;
  }
  double err = max_rel_diff (fast, plain, n);
  g_test_message ("attention sq=%" G_GINT64_FORMAT " sk=%" G_GINT64_FORMAT " heads %"
                  G_GINT64_FORMAT "/%" G_GINT64_FORMAT " d=%" G_GINT64_FORMAT " dv=%"
                  G_GINT64_FORMAT " |x|<=%g hidden %s: max error %.3g of max |ref|", c->sq,
                  c->sk, c->hq, c->hkv, c->d, c->dv, c->range, c->hidden, err);
  g_assert_cmpfloat (err, <, F16_TOLERANCE);
}

static void
test_attention (void)
{
  const AttnCase cases[] = {
    { 100, 100, 4, 2, 16, 16, 1, 0, "none" },     /* grouped heads, partial blocks */
    { 37, 75, 3, 3, 24, 40, 1, 0, "some" },       /* odd keys, a partial value panel */
    { 50, 33, 2, 1, 15, 33, 1, 0.3f, "none" },    /* odd head size, an explicit scale */
    { 64, 64, 2, 2, 64, 64, 1, 0, "all" },        /* no visible key: zeros */
    { 48, 130, 2, 2, 64, 64, 3e3, 0, "some" },    /* beyond FP16's range */
    { 48, 130, 2, 2, 64, 64, 1e-4, 0, "none" },   /* near FP16's subnormals */
    { 300, 300, 12, 12, 64, 64, 1, 0, "none" },   /* the vision tower's head size */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    check_attention (&cases[i], NULL);
}

/* Masks beyond padding, and too few queries, take the exact path. */
static void
test_attention_fallback (void)
{
  const AttnCase c = { 40, 40, 2, 2, 16, 16, 1, 0, "some" }, few = { 15, 40, 2, 2, 16, 16, 1, 0, "none" };
  const gint64 spans[] = { 0, 10 };
  const VlmAttnMask masks[] = {
    { .causal = TRUE }, { .window = 8 }, { .spans = spans, .n_spans = 1 }, { .softcap = 5 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (masks); i++)
    check_attention (&c, &masks[i]);
  check_attention (&few, NULL);
}

/* Threads share (head, query block) items and key/value panels: same bits. */
static void
test_attention_threads (void)
{
  gint64 sq = 200, sk = 200, h = 4, d = 32;
  g_autoptr (GRand) r = g_rand_new_with_seed (5);
  g_autofree float *q = random_floats (r, sq * h * d, 1), *k = random_floats (r, sk * h * d, 1);
  g_autofree float *v = random_floats (r, sk * h * d, 1);
  g_autofree float *o1 = g_new (float, sq * h * d), *o2 = g_new (float, sq * h * d);
  VlmAttnMask mask = { 0 };
  int before = vlm_get_num_threads ();
  vlm_set_num_threads (1);
  vlm_attention_f16 (q, k, v, sq, sk, h, h, d, d, &mask, o1);
  vlm_set_num_threads (2);
  vlm_attention_f16 (q, k, v, sq, sk, h, h, d, d, &mask, o2);
  vlm_set_num_threads (before);
  g_assert_cmpmem (o1, sq * h * d * sizeof (float), o2, sq * h * d * sizeof (float));
}

int
main (int argc, char **argv)
{
  gemm_test_init (&argc, &argv);
  g_test_add_func ("/gemm-f16/shapes", test_shapes);
  g_test_add_func ("/gemm-f16/ranges", test_ranges);
  g_test_add_func ("/gemm-f16/threads", test_threads);
  g_test_add_func ("/gemm-f16/multi", test_multi);
  g_test_add_func ("/gemm-f16/add", test_add);
  g_test_add_func ("/gemm-f16/mlp", test_mlp);
  g_test_add_func ("/gemm-f16/attention", test_attention);
  g_test_add_func ("/gemm-f16/attention-fallback", test_attention_fallback);
  g_test_add_func ("/gemm-f16/attention-threads", test_attention_threads);
  return g_test_run ();
}
