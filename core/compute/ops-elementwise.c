/* ops-elementwise.c: broadcasting arithmetic, activations, norms, softmax. */
#include "compute/ops.h"
#include "compute/threadpool.h"
#include "compute/kernels.h"
#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

/**
 * vlm_op_to_f32:
 * @t: a float tensor, possibly strided
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a contiguous F32 copy (or @t itself when it
 *   already is one)
 */
VlmTensor *
vlm_op_to_f32 (VlmTensor *t, GError **error)
{
  if (vlm_tensor_get_dtype (t) == VLM_DTYPE_F32)
    return vlm_tensor_contiguous (t);
  return vlm_tensor_to_dtype (t, VLM_DTYPE_F32, error);
}

/**
 * vlm_op_binary:
 * @op: the operation
 * @a: a float tensor
 * @b: a float tensor, broadcast against @a as numpy does
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new F32 tensor
 */
VlmTensor *
vlm_op_binary (VlmBinaryOp op, VlmTensor *a, VlmTensor *b, GError **error)
{
  guint na = vlm_tensor_get_ndim (a), nb = vlm_tensor_get_ndim (b), nd = MAX (na, nb);
  gint64 shape[VLM_TENSOR_MAX_DIMS], sa[VLM_TENSOR_MAX_DIMS], sb[VLM_TENSOR_MAX_DIMS];
  g_autoptr (VlmTensor) fa = vlm_op_to_f32 (a, error);
  if (!fa)
    return NULL;
  g_autoptr (VlmTensor) fb = vlm_op_to_f32 (b, error);
  if (!fb)
    return NULL;
  /* Align shapes from the right; broadcast axes get stride 0. */
  for (guint i = 0; i < nd; i++) {
    int ia = (int) i - (int) (nd - na), ib = (int) i - (int) (nd - nb);
    gint64 da = ia >= 0 ? vlm_tensor_get_dim (fa, ia) : 1;
    gint64 db = ib >= 0 ? vlm_tensor_get_dim (fb, ib) : 1;
    if (da != db && da != 1 && db != 1) {
      g_autofree char *x = vlm_tensor_describe (a), *y = vlm_tensor_describe (b);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "cannot broadcast %s with %s", x, y);
      return NULL;
    }
    shape[i] = MAX (da, db);
    sa[i] = da == 1 ? 0 : vlm_tensor_get_strides (fa, NULL)[ia];
    sb[i] = db == 1 ? 0 : vlm_tensor_get_strides (fb, NULL)[ib];
  }
  VlmTensor *out = vlm_tensor_new (VLM_DTYPE_F32, nd, shape);
  const float *pa = vlm_tensor_get_data (fa), *pb = vlm_tensor_get_data (fb);
  float *po = vlm_tensor_get_data_mut (out);
  gint64 idx[VLM_TENSOR_MAX_DIMS] = { 0 }, oa = 0, ob = 0, n = vlm_tensor_get_numel (out);
  for (gint64 e = 0; e < n; e++) {
    float x = pa[oa], y = pb[ob];
    po[e] = op == VLM_BINARY_ADD ? x + y : op == VLM_BINARY_SUB ? x - y
          : op == VLM_BINARY_MUL ? x * y : x / y;
    for (int d = (int) nd - 1; d >= 0; d--) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < shape[d])
        break;
      oa -= sa[d] * shape[d];
      ob -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** vlm_add_f32: out = a + b, elementwise (@out may alias an input). */
void
vlm_add_f32 (float *out, const float *a, const float *b, gint64 n)
{
  for (gint64 i = 0; i < n; i++)
    out[i] = a[i] + b[i];
}

/** vlm_mul_f32: out = a * b, elementwise (@out may alias an input). */
void
vlm_mul_f32 (float *out, const float *a, const float *b, gint64 n)
{
  for (gint64 i = 0; i < n; i++)
    out[i] = a[i] * b[i];
}

/** vlm_scale_f32: x *= s. */
void
vlm_scale_f32 (float *x, float s, gint64 n)
{
  for (gint64 i = 0; i < n; i++)
    x[i] *= s;
}

/** vlm_add_rows_f32: adds @row to each of the @rows rows of @x (a bias). */
void
vlm_add_rows_f32 (float *x, const float *row, gint64 rows, gint64 dim)
{
  for (gint64 r = 0; r < rows; r++)
    vlm_add_f32 (x + r * dim, x + r * dim, row, dim);
}

/**
 * vlm_activation_from_name:
 * @name: a `hidden_act` value from a config
 * @out: (out): the activation
 *
 * Returns: whether @name is known
 */
gboolean
vlm_activation_from_name (const char *name, VlmActivation *out)
{
  static const struct { const char *name; VlmActivation act; } table[] = {
    { "gelu", VLM_ACT_GELU }, { "gelu_pytorch_tanh", VLM_ACT_GELU_TANH },
    { "gelu_new", VLM_ACT_GELU_TANH }, { "gelu_fast", VLM_ACT_GELU_TANH },
    { "quick_gelu", VLM_ACT_QUICK_GELU }, { "silu", VLM_ACT_SILU }, { "swish", VLM_ACT_SILU },
    { "relu", VLM_ACT_RELU }, { "identity", VLM_ACT_IDENTITY },
  };
  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    if (g_strcmp0 (name, table[i].name) == 0) {
      *out = table[i].act;
      return TRUE;
    }
  return FALSE;
}

static inline float
act1 (float x, VlmActivation act)
{
  switch (act) {
  case VLM_ACT_GELU: return 0.5f * x * (1.0f + erff (x * (float) M_SQRT1_2));
  case VLM_ACT_GELU_TANH: {
    float c = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf (c * (x + 0.044715f * x * x * x)));
  }
  case VLM_ACT_QUICK_GELU: return x / (1.0f + expf (-1.702f * x));
  case VLM_ACT_SILU: return x / (1.0f + expf (-x));
  case VLM_ACT_RELU: return x > 0 ? x : 0;
  case VLM_ACT_IDENTITY: break;
  }
  return x;
}

/** vlm_activate: applies @act to @x in place. */
void
vlm_activate (float *x, gint64 n, VlmActivation act)
{
  if (act == VLM_ACT_GELU_TANH) {
    vlm_kernels_get ()->gelu_tanh (x, n);
    return;
  }
  for (gint64 i = 0; i < n; i++)
    x[i] = act1 (x[i], act);
}

/** vlm_glu: out = act(gate) * up (GEGLU, SwiGLU); @out may alias an input. */
void
vlm_glu (const float *gate, const float *up, float *out, gint64 n, VlmActivation act)
{
  if (act == VLM_ACT_SILU) {
    vlm_kernels_get ()->silu_mul (gate, up, out, n);
    return;
  }
  for (gint64 i = 0; i < n; i++)
    out[i] = act1 (gate[i], act) * up[i];
}

/**
 * vlm_rms_norm:
 * @x: [rows, dim]
 * @w: (nullable): [dim] weights, applied as (w + @w_offset)
 * @w_offset: 0, or 1 for Gemma's (1 + w)
 * @rows: rows
 * @dim: row length
 * @eps: added to the mean square
 * @out: [rows, dim], may alias @x
 */
void
vlm_rms_norm (const float *x, const float *w, float w_offset, gint64 rows, gint64 dim, float eps,
              float *out)
{
  for (gint64 r = 0; r < rows; r++) {
    const float *xr = x + r * dim;
    float *o = out + r * dim;
    double ss = 0;
    for (gint64 i = 0; i < dim; i++)
      ss += (double) xr[i] * xr[i];
    float inv = 1.0f / sqrtf ((float) (ss / dim) + eps);
    for (gint64 i = 0; i < dim; i++)
      o[i] = xr[i] * inv * (w ? w[i] + w_offset : 1.0f);
  }
}

/**
 * vlm_layer_norm:
 * @x: [rows, dim]
 * @w: (nullable): scale [dim]
 * @b: (nullable): shift [dim]
 * @rows: rows
 * @dim: row length
 * @eps: added to the variance
 * @out: [rows, dim], may alias @x
 */
void
vlm_layer_norm (const float *x, const float *w, const float *b, gint64 rows, gint64 dim,
                float eps, float *out)
{
  for (gint64 r = 0; r < rows; r++) {
    const float *xr = x + r * dim;
    float *o = out + r * dim;
    double mean = 0, var = 0;
    for (gint64 i = 0; i < dim; i++)
      mean += xr[i];
    mean /= dim;
    for (gint64 i = 0; i < dim; i++)
      var += (xr[i] - mean) * (xr[i] - mean);
    float inv = 1.0f / sqrtf ((float) (var / dim) + eps);
    for (gint64 i = 0; i < dim; i++)
      o[i] = (float) (xr[i] - mean) * inv * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
  }
}

/** vlm_softmax_rows: softmax of each row in place, subtracting the row maximum first. */
void
vlm_softmax_rows (float *x, gint64 rows, gint64 n)
{
  for (gint64 r = 0; r < rows; r++) {
    float *row = x + r * n, m = -INFINITY;
    for (gint64 i = 0; i < n; i++)
      m = MAX (m, row[i]);
    if (m == -INFINITY) {
      memset (row, 0, (gsize) n * sizeof (float));
      continue;
    }
    double sum = 0;
    for (gint64 i = 0; i < n; i++) {
      row[i] = expf (row[i] - m);
      sum += row[i];
    }
    float inv = (float) (1.0 / sum);
    for (gint64 i = 0; i < n; i++)
      row[i] *= inv;
  }
}
