/* ops-layout.c: patch convolution, pooling, pixel shuffle, batched matmul, concat. */
#include "compute/ops.h"
#include "vlm/vlm-error.h"

#include <string.h>

/**
 * vlm_conv2d_patch:
 * @img: [c, h, w] F32
 * @c: channels
 * @h: height, a multiple of @kernel
 * @w: width, a multiple of @kernel
 * @kernel: kernel size, equal to the stride
 * @weight: the convolution as a layer [out, c * kernel * kernel] (HF [O, I, kH, kW]
 *   flattened) with its bias
 * @out: [(h / kernel) * (w / kernel), out], patches row-major
 *
 * A stride-equals-kernel convolution is a matrix product over flattened patches.
 */
void
vlm_conv2d_patch (const float *img, gint64 c, gint64 h, gint64 w, gint64 kernel,
                  const VlmLinear *weight, float *out)
{
  gint64 nh = h / kernel, nw = w / kernel, plen = c * kernel * kernel;
  float *cols = g_new (float, nh * nw * plen);
  for (gint64 py = 0; py < nh; py++)
    for (gint64 px = 0; px < nw; px++) {
      float *dst = cols + (py * nw + px) * plen;
      for (gint64 ch = 0; ch < c; ch++)
        for (gint64 ky = 0; ky < kernel; ky++)
          memcpy (dst + (ch * kernel + ky) * kernel,
                  img + (ch * h + py * kernel + ky) * w + px * kernel,
                  (gsize) kernel * sizeof (float));
    }
  vlm_linear_forward (weight, cols, nh * nw, out);
  g_free (cols);
}

/**
 * vlm_avg_pool_2d:
 * @x: [h, w, dim] tokens on a grid
 * @h: grid rows, a multiple of @k
 * @w: grid columns, a multiple of @k
 * @dim: features
 * @k: window and stride
 * @out: [(h / k) * (w / k), dim]
 */
void
vlm_avg_pool_2d (const float *x, gint64 h, gint64 w, gint64 dim, gint64 k, float *out)
{
  gint64 oh = h / k, ow = w / k;
  float inv = 1.0f / (float) (k * k);
  memset (out, 0, (gsize) (oh * ow * dim) * sizeof (float));
  for (gint64 y = 0; y < oh * k; y++)
    for (gint64 xx = 0; xx < ow * k; xx++) {
      float *o = out + ((y / k) * ow + xx / k) * dim;
      const float *src = x + (y * w + xx) * dim;
      for (gint64 d = 0; d < dim; d++)
        o[d] += src[d];
    }
  for (gint64 i = 0; i < oh * ow * dim; i++)
    out[i] *= inv;
}

/**
 * vlm_pixel_shuffle:
 * @x: [n * n, dim] patch features, row-major on an n x n grid
 * @n: grid side, a multiple of @s
 * @dim: features
 * @s: the scale factor
 * @out: [(n / s)^2, dim * s * s]
 *
 * Idefics3's space-to-depth: output token ib * (n / s) + jb concatenates patches
 * (ib * s + r, jb * s + c), r outer and c inner.
 */
void
vlm_pixel_shuffle (const float *x, gint64 n, gint64 dim, gint64 s, float *out)
{
  gint64 m = n / s;
  for (gint64 ib = 0; ib < m; ib++)
    for (gint64 jb = 0; jb < m; jb++)
      for (gint64 r = 0; r < s; r++)
        for (gint64 c = 0; c < s; c++)
          memcpy (out + ((ib * m + jb) * s * s + r * s + c) * dim,
                  x + ((ib * s + r) * n + jb * s + c) * dim, (gsize) dim * sizeof (float));
}

/**
 * vlm_matmul_batched:
 * @batch: number of products
 * @M: rows of each A
 * @N: columns of each C
 * @K: inner size
 * @A: [batch, M, K]
 * @B: [batch, K, N], or [batch, N, K] when @trans_b
 * @trans_b: layout of B
 * @C: [batch, M, N]
 */
void
vlm_matmul_batched (gint64 batch, gint64 M, gint64 N, gint64 K, const float *A, const float *B,
                    gboolean trans_b, float *C)
{
  for (gint64 b = 0; b < batch; b++)
    vlm_sgemm (M, N, K, A + b * M * K, K, B + b * K * N, trans_b ? K : N, trans_b,
               C + b * M * N, N, FALSE);
}

/**
 * vlm_op_concat:
 * @tensors: (array length=n): tensors of one dtype, equal except along @axis
 * @n: how many
 * @axis: the joined axis (negative counts from the end)
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new contiguous tensor
 */
VlmTensor *
vlm_op_concat (VlmTensor **tensors, guint n, int axis, GError **error)
{
  if (n == 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "concat: no tensors");
    return NULL;
  }
  guint nd = vlm_tensor_get_ndim (tensors[0]);
  VlmDType dt = vlm_tensor_get_dtype (tensors[0]);
  if (axis < 0)
    axis += (int) nd;
  if (axis < 0 || (guint) axis >= nd) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "concat: axis out of range");
    return NULL;
  }
  gint64 shape[VLM_TENSOR_MAX_DIMS];
  memcpy (shape, vlm_tensor_get_shape (tensors[0], NULL), nd * sizeof (gint64));
  shape[axis] = 0;
  for (guint i = 0; i < n; i++) {
    gboolean ok = vlm_tensor_get_ndim (tensors[i]) == nd && vlm_tensor_get_dtype (tensors[i]) == dt;
    for (guint d = 0; ok && d < nd; d++)
      ok = (int) d == axis || vlm_tensor_get_dim (tensors[i], (int) d) == shape[d];
    if (!ok) {
      g_autofree char *a = vlm_tensor_describe (tensors[0]), *b = vlm_tensor_describe (tensors[i]);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "concat: %s does not fit %s on axis %d",
                   b, a, axis);
      return NULL;
    }
    shape[axis] += vlm_tensor_get_dim (tensors[i], axis);
  }
  VlmTensor *out = vlm_tensor_new (dt, nd, shape);
  gsize es = vlm_dtype_size (dt), outer = 1, dst_row;
  for (int d = 0; d < axis; d++)
    outer *= (gsize) shape[d];
  dst_row = (gsize) vlm_tensor_get_numel (out) / MAX (outer, 1) * es;
  guint8 *dst = vlm_tensor_get_data_mut (out);
  gsize off = 0;
  for (guint i = 0; i < n; i++) {
    g_autoptr (VlmTensor) c = vlm_tensor_contiguous (tensors[i]);
    gsize row = vlm_tensor_get_nbytes (c) / MAX (outer, 1);
    const guint8 *src = vlm_tensor_get_data (c);
    for (gsize o = 0; o < outer && row; o++)
      memcpy (dst + o * dst_row + off, src + o * row, row);
    off += row;
  }
  return out;
}
