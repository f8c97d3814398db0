/* test-ops.c: every op against a naive reference written independently here. */
#include "compute/ops.h"
#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

static GRand *rng;

static void
fill (float *x, gint64 n, double lo, double hi)
{
  for (gint64 i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rng, lo, hi);
}

static void
assert_near (const float *got, const double *want, gint64 n, double tol, const char *what)
{
  for (gint64 i = 0; i < n; i++)
    if (fabs (got[i] - want[i]) > tol * (1 + fabs (want[i])))
      g_error ("%s: element %" G_GINT64_FORMAT ": got %.8g, want %.8g", what, i, got[i], want[i]);
}

static void
test_binary_broadcast (void)
{
  const VlmDType dts[] = { VLM_DTYPE_F32, VLM_DTYPE_BF16, VLM_DTYPE_F16 };
  for (guint d = 0; d < G_N_ELEMENTS (dts); d++) {
    gint64 sa[] = { 4, 3, 5 }, sb[] = { 3, 1 };
    g_autoptr (VlmTensor) a0 = vlm_tensor_new (VLM_DTYPE_F32, 3, sa);
    g_autoptr (VlmTensor) b0 = vlm_tensor_new (VLM_DTYPE_F32, 2, sb);
    fill (vlm_tensor_get_data_mut (a0), 60, -2, 2);
    fill (vlm_tensor_get_data_mut (b0), 3, 0.5, 2);
    g_autoptr (VlmTensor) a1 = vlm_tensor_to_dtype (a0, dts[d], NULL);
    g_autoptr (VlmTensor) a = vlm_tensor_transpose (a1, 0, 2, NULL); /* [5, 3, 4], strided */
    g_autoptr (VlmTensor) b = vlm_tensor_to_dtype (b0, dts[d], NULL);
    for (int op = VLM_BINARY_ADD; op <= VLM_BINARY_DIV; op++) {
      g_autoptr (GError) error = NULL;
      g_autoptr (VlmTensor) c = vlm_op_binary (op, a, b, &error);
      g_assert_no_error (error);
      g_assert_cmpint (vlm_tensor_get_dim (c, 0), ==, 5);
      g_assert_cmpint (vlm_tensor_get_dim (c, 2), ==, 4);
      for (gint64 i = 0; i < 5; i++)
        for (gint64 j = 0; j < 3; j++)
          for (gint64 k = 0; k < 4; k++) {
            gint64 ia[] = { i, j, k }, ib[] = { j, 0 };
            double x = vlm_tensor_get_element (a, ia), y = vlm_tensor_get_element (b, ib);
            double want = op == VLM_BINARY_ADD ? x + y : op == VLM_BINARY_SUB ? x - y
                        : op == VLM_BINARY_MUL ? x * y : x / y;
            g_assert_cmpfloat_with_epsilon (vlm_tensor_get_element (c, ia), want, 1e-5);
          }
    }
    gint64 sbad[] = { 2 };
    g_autoptr (VlmTensor) bad = vlm_tensor_new (VLM_DTYPE_F32, 1, sbad);
    g_autoptr (GError) error = NULL;
    g_assert_null (vlm_op_binary (VLM_BINARY_ADD, a, bad, &error));
    g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  }
}

static void
test_norms_softmax (void)
{
  gint64 rows = 3, dim = 37;
  float x[3 * 37], w[37], b[37], out[3 * 37];
  double want[3 * 37];
  fill (x, rows * dim, -3, 3);
  fill (w, dim, -1, 1);
  fill (b, dim, -1, 1);
  for (int gemma = 0; gemma < 2; gemma++) {
    vlm_rms_norm (x, w, gemma ? 1.0f : 0.0f, rows, dim, 1e-6f, out);
    for (gint64 r = 0; r < rows; r++) {
      double ms = 0;
      for (gint64 i = 0; i < dim; i++)
        ms += x[r * dim + i] * (double) x[r * dim + i] / dim;
      for (gint64 i = 0; i < dim; i++)
        want[r * dim + i] = x[r * dim + i] / sqrt (ms + 1e-6) * (w[i] + gemma);
    }
    assert_near (out, want, rows * dim, 1e-5, "rms_norm");
  }
  vlm_layer_norm (x, w, b, rows, dim, 1e-5f, out);
  for (gint64 r = 0; r < rows; r++) {
    double s = 0, s2 = 0;
    for (gint64 i = 0; i < dim; i++) {
      s += x[r * dim + i];
      s2 += x[r * dim + i] * (double) x[r * dim + i];
    }
    double mean = s / dim, var = s2 / dim - mean * mean;
    for (gint64 i = 0; i < dim; i++)
      want[r * dim + i] = (x[r * dim + i] - mean) / sqrt (var + 1e-5) * w[i] + b[i];
  }
  assert_near (out, want, rows * dim, 1e-5, "layer_norm");

  /* Large logits must not overflow; -inf entries get zero weight. */
  float sm[6] = { 1000, 1001, 999, -INFINITY, 0, 1 };
  vlm_softmax_rows (sm, 2, 3);
  double e0 = exp (-1.0), e2 = exp (-2.0);
  double want_sm[6] = { e0 / (1 + e0 + e2), 1 / (1 + e0 + e2), e2 / (1 + e0 + e2),
                        0, 1 / (1 + M_E), M_E / (1 + M_E) };
  assert_near (sm, want_sm, 6, 1e-6, "softmax");
}

static void
test_activations (void)
{
  float x[41], y[41], g[41];
  double want[41];
  for (int i = 0; i < 41; i++)
    x[i] = -6.0f + 0.3f * (float) i;
  struct { VlmActivation act; const char *name; } acts[] = {
    { VLM_ACT_GELU, "gelu" }, { VLM_ACT_GELU_TANH, "gelu_pytorch_tanh" },
    { VLM_ACT_QUICK_GELU, "quick_gelu" }, { VLM_ACT_SILU, "silu" }, { VLM_ACT_RELU, "relu" },
  };
  for (guint a = 0; a < G_N_ELEMENTS (acts); a++) {
    VlmActivation parsed;
    g_assert_true (vlm_activation_from_name (acts[a].name, &parsed));
    g_assert_cmpint (parsed, ==, acts[a].act);
    memcpy (y, x, sizeof x);
    vlm_activate (y, 41, acts[a].act);
    for (int i = 0; i < 41; i++) {
      double v = x[i];
      switch (acts[a].act) {
      case VLM_ACT_GELU: want[i] = v * 0.5 * erfc (-v / sqrt (2.0)); break;
      case VLM_ACT_GELU_TANH: want[i] = 0.5 * v * (1 + tanh (sqrt (2 / G_PI) * (v + 0.044715 * pow (v, 3)))); break;
      case VLM_ACT_QUICK_GELU: want[i] = v / (1 + exp (-1.702 * v)); break;
      case VLM_ACT_SILU: want[i] = v / (1 + exp (-v)); break;
      default: want[i] = v > 0 ? v : 0; break;
      }
    }
    assert_near (y, want, 41, 1e-5, acts[a].name);
  }
  VlmActivation unused;
  g_assert_false (vlm_activation_from_name ("nope", &unused));
  /* SwiGLU: silu(gate) * up. */
  fill (g, 41, -1, 1);
  vlm_glu (x, g, y, 41, VLM_ACT_SILU);
  for (int i = 0; i < 41; i++)
    want[i] = x[i] / (1 + exp (-(double) x[i])) * g[i];
  assert_near (y, want, 41, 1e-5, "swiglu");
}

static void
test_rope (void)
{
  const int hd = 12, heads = 3, seq = 4;
  float x[4 * 3 * 12], orig[4 * 3 * 12], inv[6];
  double want[4 * 3 * 12];
  gint64 pos[] = { 0, 1, 7, 100 };
  fill (orig, G_N_ELEMENTS (x), -1, 1);
  for (int interleaved = 0; interleaved < 2; interleaved++) {
    for (int rot = 8; rot <= hd; rot += 4) {
      memcpy (x, orig, sizeof x);
      vlm_rope_inv_freq (inv, rot, 10000.0, NULL);
      vlm_rope_apply (x, seq, heads, hd, pos, inv, rot, interleaved);
      /* Reference: each pair is a complex number multiplied by e^(i * pos * theta^(-2k/rot)). */
      for (int t = 0; t < seq; t++)
        for (int h = 0; h < heads; h++) {
          const float *src = orig + (t * heads + h) * hd;
          double *dst = want + (t * heads + h) * hd;
          for (int i = 0; i < hd; i++)
            dst[i] = src[i];
          for (int k = 0; k < rot / 2; k++) {
            int re = interleaved ? 2 * k : k, im = interleaved ? 2 * k + 1 : k + rot / 2;
            double ang = pos[t] * pow (10000.0, -2.0 * k / rot);
            dst[re] = src[re] * cos (ang) - src[im] * sin (ang);
            dst[im] = src[re] * sin (ang) + src[im] * cos (ang);
          }
        }
      assert_near (x, want, G_N_ELEMENTS (x), 1e-4, "rope");
    }
  }
  /* Linear scaling divides every frequency; llama3 keeps short wavelengths and
   * divides long ones. */
  float base[32], lin[32], l3[32];
  VlmRopeScaling ls = { VLM_ROPE_LINEAR, 8.0, 0, 0, 0 };
  VlmRopeScaling l3s = { VLM_ROPE_LLAMA3, 8.0, 1.0, 4.0, 8192 };
  vlm_rope_inv_freq (base, 64, 500000.0, NULL);
  vlm_rope_inv_freq (lin, 64, 500000.0, &ls);
  vlm_rope_inv_freq (l3, 64, 500000.0, &l3s);
  for (int i = 0; i < 32; i++) {
    g_assert_cmpfloat_with_epsilon (lin[i], base[i] / 8, 1e-9);
    double wl = 2 * G_PI / base[i];
    if (wl < 8192 / 4.0)
      g_assert_cmpfloat (l3[i], ==, base[i]);
    else if (wl > 8192)
      g_assert_cmpfloat_with_epsilon (l3[i], base[i] / 8, 1e-9);
    else
      g_assert_true (l3[i] <= base[i] && l3[i] >= base[i] / 8);
  }
}

/* Reference attention with an explicit boolean mask matrix. */
static void
ref_attention (const float *q, const float *k, const float *v, int sq, int sk, int hq, int hkv,
               int d, const gboolean *allowed, float softcap, double *out)
{
  for (int i = 0; i < sq; i++)
    for (int h = 0; h < hq; h++) {
      int kh = h / (hq / hkv);
      double s[64], mx = -1e300, tot = 0;
      for (int j = 0; j < sk; j++) {
        double dot = 0;
        for (int c = 0; c < d; c++)
          dot += (double) q[(i * hq + h) * d + c] * k[(j * hkv + kh) * d + c];
        dot /= sqrt (d);
        if (softcap > 0)
          dot = softcap * tanh (dot / softcap);
        s[j] = dot;
        if (allowed[i * sk + j])
          mx = MAX (mx, dot);
      }
      for (int j = 0; j < sk; j++) {
        s[j] = allowed[i * sk + j] ? exp (s[j] - mx) : 0;
        tot += s[j];
      }
      for (int c = 0; c < d; c++) {
        double acc = 0;
        for (int j = 0; j < sk; j++)
          acc += tot > 0 ? s[j] / tot * v[(j * hkv + kh) * d + c] : 0;
        out[(i * hq + h) * d + c] = acc;
      }
    }
}

static void
test_attention (void)
{
  enum { SK = 11, HQ = 4, HKV = 2, D = 8 };
  float q[SK * HQ * D], k[SK * HKV * D], v[SK * HKV * D], out[SK * HQ * D];
  double want[SK * HQ * D];
  gboolean allowed[SK * SK];
  fill (q, G_N_ELEMENTS (q), -1, 1);
  fill (k, G_N_ELEMENTS (k), -1, 1);
  fill (v, G_N_ELEMENTS (v), -1, 1);
  guint8 valid[SK];
  for (int j = 0; j < SK; j++)
    valid[j] = j != 0; /* left padding on key 0 */
  gint64 spans[] = { 2, 6 };
  struct { gboolean causal; gint64 window; gboolean pad; gboolean span; float cap; int sq; } cases[] = {
    { FALSE, 0, FALSE, FALSE, 0, SK }, { TRUE, 0, FALSE, FALSE, 0, SK },
    { TRUE, 3, FALSE, FALSE, 0, SK },  { TRUE, 0, TRUE, FALSE, 0, SK },
    { TRUE, 0, FALSE, TRUE, 0, SK },   { TRUE, 4, TRUE, TRUE, 5.0f, SK },
    { TRUE, 0, FALSE, FALSE, 0, 1 },   { TRUE, 2, TRUE, FALSE, 0, 3 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    int sq = cases[c].sq;
    gint64 off = SK - sq;  /* decoding: the queries are the last positions */
    for (int i = 0; i < sq; i++)
      for (int j = 0; j < SK; j++) {
        gint64 p = off + i;
        gboolean in_span = cases[c].span && p >= 2 && p < 6 && j >= 2 && j < 6;
        gboolean ok = !cases[c].causal || j <= p;
        if (cases[c].window && p - j >= cases[c].window)
          ok = FALSE;
        allowed[i * SK + j] = (ok || in_span) && (!cases[c].pad || valid[j]);
      }
    VlmAttnMask m = { cases[c].causal, off, cases[c].window, cases[c].pad ? valid : NULL,
                      cases[c].span ? spans : NULL, cases[c].span ? 1 : 0, 0, cases[c].cap };
    const float *qs = q + off * HQ * D;
    vlm_attention (qs, k, v, sq, SK, HQ, HKV, D, D, &m, out);
    ref_attention (qs, k, v, sq, SK, HQ, HKV, D, allowed, cases[c].cap, want);
    assert_near (out, want, sq * HQ * D, 1e-5, "attention");
  }
  /* A query that sees nothing (only padding, causal) yields zeros, not NaN. */
  guint8 none[SK] = { 0 };
  VlmAttnMask m = { TRUE, 0, 0, none, NULL, 0, 0, 0 };
  vlm_attention (q, k, v, 1, SK, HQ, HKV, D, D, &m, out);
  for (int i = 0; i < HQ * D; i++)
    g_assert_cmpfloat (out[i], ==, 0.0f);
}

static void
test_conv_pool_shuffle (void)
{
  /* conv2d, stride = kernel, weights as BF16 [O, C, k, k] with bias. */
  enum { C = 3, H = 6, W = 9, K = 3, O = 5 };
  float img[C * H * W];
  fill (img, G_N_ELEMENTS (img), -1, 1);
  gint64 wshape[] = { O, C, K, K }, bshape[] = { O };
  g_autoptr (VlmTensor) wf = vlm_tensor_new (VLM_DTYPE_F32, 4, wshape);
  g_autoptr (VlmTensor) bf = vlm_tensor_new (VLM_DTYPE_F32, 1, bshape);
  fill (vlm_tensor_get_data_mut (wf), O * C * K * K, -1, 1);
  fill (vlm_tensor_get_data_mut (bf), O, -1, 1);
  g_autoptr (VlmTensor) wb = vlm_tensor_to_dtype (wf, VLM_DTYPE_BF16, NULL);
  gint64 flat[] = { O, C * K * K };
  g_autoptr (VlmTensor) w2 = vlm_tensor_reshape (wb, 2, flat, NULL);
  VlmLinear lin;
  g_assert_true (vlm_linear_init_dense (&lin, w2, bf, NULL));
  float out[(H / K) * (W / K) * O];
  double want[(H / K) * (W / K) * O];
  vlm_conv2d_patch (img, C, H, W, K, &lin, out);
  for (int oy = 0; oy < H / K; oy++)
    for (int ox = 0; ox < W / K; ox++)
      for (int o = 0; o < O; o++) {
        double acc = ((const float *) vlm_tensor_get_data (bf))[o];
        for (int c = 0; c < C; c++)
          for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
              gint64 wi[] = { o, c, ky, kx };
              acc += vlm_tensor_get_element (wb, wi) * img[(c * H + oy * K + ky) * W + ox * K + kx];
            }
        want[(oy * (W / K) + ox) * O + o] = acc;
      }
  assert_near (out, want, G_N_ELEMENTS (out), 1e-5, "conv2d");
  vlm_linear_clear (&lin);

  /* Average pooling of a 4 x 6 token grid by 2. */
  float grid[4 * 6 * 3], pooled[2 * 3 * 3];
  double wp[2 * 3 * 3];
  fill (grid, G_N_ELEMENTS (grid), -1, 1);
  vlm_avg_pool_2d (grid, 4, 6, 3, 2, pooled);
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 3; x++)
      for (int d = 0; d < 3; d++)
        wp[(y * 3 + x) * 3 + d] = (grid[((2 * y) * 6 + 2 * x) * 3 + d] + grid[((2 * y) * 6 + 2 * x + 1) * 3 + d]
                                  + grid[((2 * y + 1) * 6 + 2 * x) * 3 + d] + grid[((2 * y + 1) * 6 + 2 * x + 1) * 3 + d]) / 4;
  assert_near (pooled, wp, G_N_ELEMENTS (pooled), 1e-6, "avg_pool");

  /* Pixel shuffle against transformers' view/permute sequence, replayed with tensor views. */
  enum { N = 6, S = 3, D = 4 };
  gint64 xs[] = { 1, N * N, D };
  g_autoptr (VlmTensor) xt = vlm_tensor_new (VLM_DTYPE_F32, 3, xs);
  fill (vlm_tensor_get_data_mut (xt), N * N * D, -1, 1);
  gint64 s1[] = { 1, N, N / S, D * S }, s2[] = { 1, N / S, N / S, D * S * S },
         s3[] = { 1, N * N / (S * S), D * S * S };
  guint perm[] = { 0, 2, 1, 3 };
  g_autoptr (VlmTensor) r1 = vlm_tensor_reshape (xt, 4, s1, NULL);
  g_autoptr (VlmTensor) p1 = vlm_tensor_permute (r1, perm, 4, NULL);
  g_autoptr (VlmTensor) r2 = vlm_tensor_reshape (p1, 4, s2, NULL);
  g_autoptr (VlmTensor) p2 = vlm_tensor_permute (r2, perm, 4, NULL);
  g_autoptr (VlmTensor) r3 = vlm_tensor_reshape (p2, 3, s3, NULL);
  float shuf[N * N * D];
  double ws[N * N * D];
  vlm_pixel_shuffle (vlm_tensor_get_data (xt), N, D, S, shuf);
  for (int i = 0; i < N * N * D; i++)
    ws[i] = ((const float *) vlm_tensor_get_data (r3))[i];
  assert_near (shuf, ws, N * N * D, 0, "pixel_shuffle");
}

static void
test_matmul_concat (void)
{
  enum { B = 3, M = 5, N = 7, K = 9 };
  float a[B * M * K], b[B * K * N], c[B * M * N];
  double want[B * M * N];
  fill (a, G_N_ELEMENTS (a), -1, 1);
  fill (b, G_N_ELEMENTS (b), -1, 1);
  for (int t = 0; t < 2; t++) {
    vlm_matmul_batched (B, M, N, K, a, b, t, c);
    for (int z = 0; z < B; z++)
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
          double acc = 0;
          for (int l = 0; l < K; l++)
            acc += a[(z * M + i) * K + l] * (double) (t ? b[(z * N + j) * K + l] : b[(z * K + l) * N + j]);
          want[(z * M + i) * N + j] = acc;
        }
    assert_near (c, want, G_N_ELEMENTS (c), 1e-5, "matmul_batched");
  }
  gint64 s1[] = { 3, 2 }, s2[] = { 2, 4 };
  g_autoptr (VlmTensor) x = vlm_tensor_new (VLM_DTYPE_BF16, 2, s1);
  g_autoptr (VlmTensor) y = vlm_tensor_new (VLM_DTYPE_BF16, 2, s2);
  guint16 *px = vlm_tensor_get_data_mut (x), *py = vlm_tensor_get_data_mut (y);
  for (int i = 0; i < 6; i++)
    px[i] = vlm_f32_to_bf16 ((float) i);
  for (int i = 0; i < 8; i++)
    py[i] = vlm_f32_to_bf16 (100.0f + i);
  g_autoptr (VlmTensor) xt = vlm_tensor_transpose (x, 0, 1, NULL); /* [2, 3], strided */
  VlmTensor *parts[] = { xt, y };
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) cat = vlm_op_concat (parts, 2, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_tensor_get_dim (cat, 1), ==, 7);
  for (gint64 r = 0; r < 2; r++)
    for (gint64 col = 0; col < 7; col++) {
      gint64 idx[] = { r, col }, ix[] = { r, col }, iy[] = { r, col - 3 };
      double w = col < 3 ? vlm_tensor_get_element (xt, ix) : vlm_tensor_get_element (y, iy);
      g_assert_cmpfloat (vlm_tensor_get_element (cat, idx), ==, w);
    }
  VlmTensor *bad[] = { x, y };
  g_assert_null (vlm_op_concat (bad, 2, 0, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rng = g_rand_new_with_seed (1234);
  g_test_add_func ("/ops/binary-broadcast", test_binary_broadcast);
  g_test_add_func ("/ops/norms-softmax", test_norms_softmax);
  g_test_add_func ("/ops/activations", test_activations);
  g_test_add_func ("/ops/rope", test_rope);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/conv-pool-shuffle", test_conv_pool_shuffle);
  g_test_add_func ("/ops/matmul-concat", test_matmul_concat);
  int rc = g_test_run ();
  g_rand_free (rng);
  return rc;
}
