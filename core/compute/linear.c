/* linear.c: products with weights in their stored format.
 *
 * One input row (decoding): dot-product kernels read BF16/F16/quantized rows in place.
 * A few rows (a decode step of several sequences): the small-GEMM kernels read each
 * weight row once for all of them. Many rows (prefill, vision): tiles of the weight are
 * expanded to F32 and multiplied with sgemm, so the whole matrix is never expanded at once.
 */
#include "compute/linear.h"
#include "compute/kernels.h"
#include "compute/threadpool.h"
#include "vlm/vlm-error.h"

#include <string.h>

/* Below this many input rows, the GEMV (1 row) and small-GEMM kernels; from about here
 * on, expanding the weight for sgemm pays (SmolVLM-256M's BF16 1536 x 576 and 576 x 1536
 * layers, AVX-512, 1 thread: small GEMM 25% faster at 32 rows, even at 48, sgemm 7-20%
 * faster at 64). */
#define SMALL_MAX_ROWS 48
#define TILE_ROWS 64      /* weight rows expanded per sgemm tile */
#define EXPAND_MAX (1 << 24) /* weights expanded whole (64 MB of F32) */

static gboolean
is_dense_dtype (VlmDType d)
{
  return d == VLM_DTYPE_F32 || d == VLM_DTYPE_BF16 || d == VLM_DTYPE_F16;
}

static gboolean
set_bias (VlmLinear *lin, VlmTensor *bias, const char *wname, GError **error)
{
  if (!bias)
    return TRUE;
  if (vlm_tensor_get_ndim (bias) != 1 || vlm_tensor_get_dim (bias, 0) != lin->out
      || !vlm_dtype_is_float (vlm_tensor_get_dtype (bias))) {
    g_autofree char *d = vlm_tensor_describe (bias);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: bias %s does not match %" G_GINT64_FORMAT
                 " outputs", wname, d, lin->out);
    return FALSE;
  }
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (bias, VLM_DTYPE_F32, error);
  if (!f)
    return FALSE;
  lin->bias = g_memdup2 (vlm_tensor_get_data (f), (gsize) lin->out * sizeof (float));
  return TRUE;
}

static const char *
tensor_label (VlmTensor *t)
{
  return vlm_tensor_get_name (t) ? vlm_tensor_get_name (t) : "(weight)";
}

/**
 * vlm_linear_init_dense:
 * @lin: (out caller-allocates): the layer
 * @weight: [out, in] F32, BF16 or F16 (a non-contiguous view is made contiguous)
 * @bias: (nullable): [out]
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_linear_init_dense (VlmLinear *lin, VlmTensor *weight, VlmTensor *bias, GError **error)
{
  memset (lin, 0, sizeof *lin);
  if (vlm_tensor_get_ndim (weight) != 2 || !is_dense_dtype (vlm_tensor_get_dtype (weight))) {
    g_autofree char *d = vlm_tensor_describe (weight);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s: a linear weight must be 2-D F32/BF16/F16", d);
    return FALSE;
  }
  lin->refs[0] = vlm_tensor_contiguous (weight);
  lin->out = vlm_tensor_get_dim (weight, 0);
  lin->in = vlm_tensor_get_dim (weight, 1);
  lin->dtype = vlm_tensor_get_dtype (weight);
  lin->data = vlm_tensor_get_data (lin->refs[0]);
  if (!set_bias (lin, bias, tensor_label (weight), error)) {
    vlm_linear_clear (lin);
    return FALSE;
  }
  return TRUE;
}

/**
 * vlm_linear_init_quant:
 * @lin: (out caller-allocates): the layer
 * @weight: U32 [out, in * bits / 32]
 * @scales: [out, in / group_size], F32/BF16/F16
 * @biases: like @scales
 * @bias: (nullable): the layer's own additive bias [out]
 * @bits: 2, 3, 4, 5, 6 or 8
 * @group_size: 32, 64 or 128
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_linear_init_quant (VlmLinear *lin, VlmTensor *weight, VlmTensor *scales, VlmTensor *biases,
                       VlmTensor *bias, int bits, int group_size, GError **error)
{
  memset (lin, 0, sizeof *lin);
  const char *name = tensor_label (weight);
  if (bits < 2 || bits > 8 || bits == 7 || (group_size != 32 && group_size != 64
                                              && group_size != 128)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s: unsupported quantization (%d bits, group size %d)", name, bits, group_size);
    return FALSE;
  }
  if (vlm_tensor_get_ndim (weight) != 2 || vlm_tensor_get_dtype (weight) != VLM_DTYPE_U32) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: quantized weight must be 2-D U32", name);
    return FALSE;
  }
  gint64 out = vlm_tensor_get_dim (weight, 0), words = vlm_tensor_get_dim (weight, 1);
  gint64 in = words * 32 / bits;
  if (words * 32 % bits != 0 || in % group_size != 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s: %" G_GINT64_FORMAT " words per row do not hold whole groups of %d "
                 "%d-bit codes", name, words, group_size, bits);
    return FALSE;
  }
  VlmTensor *sb[2] = { scales, biases };
  for (int i = 0; i < 2; i++) {
    if (vlm_tensor_get_ndim (sb[i]) != 2 || vlm_tensor_get_dim (sb[i], 0) != out
        || vlm_tensor_get_dim (sb[i], 1) != in / group_size
        || !is_dense_dtype (vlm_tensor_get_dtype (sb[i]))
        || vlm_tensor_get_dtype (sb[i]) != vlm_tensor_get_dtype (scales)) {
      g_autofree char *d = vlm_tensor_describe (sb[i]);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "%s: %s %s, expected [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]", name,
                   i ? "biases" : "scales", d, out, in / group_size);
      return FALSE;
    }
  }
  lin->out = out;
  lin->in = in;
  lin->dtype = VLM_DTYPE_U32;
  lin->bits = bits;
  lin->group_size = group_size;
  lin->sb_dtype = vlm_tensor_get_dtype (scales);
  lin->refs[0] = vlm_tensor_contiguous (weight);
  lin->refs[1] = vlm_tensor_contiguous (scales);
  lin->refs[2] = vlm_tensor_contiguous (biases);
  lin->data = vlm_tensor_get_data (lin->refs[0]);
  lin->scales = vlm_tensor_get_data (lin->refs[1]);
  lin->biases = vlm_tensor_get_data (lin->refs[2]);
  if (!set_bias (lin, bias, name, error)) {
    vlm_linear_clear (lin);
    return FALSE;
  }
  return TRUE;
}

/**
 * vlm_linear_clear:
 * @lin: a layer
 *
 * Drops the tensor references and the bias.
 */
void
vlm_linear_clear (VlmLinear *lin)
{
  for (int i = 0; i < 3; i++)
    g_clear_pointer (&lin->refs[i], vlm_tensor_unref);
  g_clear_pointer (&lin->bias, g_free);
}

/**
 * vlm_linear_is_quantized:
 * @lin: a layer
 *
 * Returns: whether the weight is MLX-quantized
 */
gboolean
vlm_linear_is_quantized (const VlmLinear *lin)
{
  return lin->bits != 0;
}

/**
 * vlm_quant_code:
 * @row_words: one row of packed words
 * @index: the code's position in the row
 * @bits: bits per code
 *
 * Codes form one little-endian bit stream per row (mlx packs 3-, 5- and 6-bit
 * codes across word boundaries), least significant bits first.
 *
 * Returns: the code
 */
guint32
vlm_quant_code (const guint32 *row_words, gint64 index, int bits)
{
  gint64 bit = index * bits;
  gint64 w = bit >> 5;
  int off = (int) (bit & 31);
  guint64 v = row_words[w] >> off;
  if (off + bits > 32)
    v |= (guint64) row_words[w + 1] << (32 - off);
  return (guint32) (v & ((1u << bits) - 1));
}

static inline float
load_sb (VlmDType dt, const void *base, gint64 i)
{
  switch (dt) {
  case VLM_DTYPE_BF16: return vlm_bf16_to_f32 (((const guint16 *) base)[i]);
  case VLM_DTYPE_F16: return vlm_f16_to_f32 (((const guint16 *) base)[i]);
  default: return ((const float *) base)[i];
  }
}

static const guint32 *
quant_row (const VlmLinear *lin, gint64 row)
{
  return (const guint32 *) lin->data + row * (lin->in * lin->bits / 32);
}

/**
 * vlm_linear_dequant_rows:
 * @lin: a layer
 * @row0: first weight row
 * @n_rows: rows to expand
 * @out: [n_rows, in] F32
 *
 * Expands weight rows to F32 (w = scale * q + bias for quantized weights).
 */
void
vlm_linear_dequant_rows (const VlmLinear *lin, gint64 row0, gint64 n_rows, float *out)
{
  const VlmKernels *k = vlm_kernels_get ();
  gint64 in = lin->in;
  for (gint64 r = 0; r < n_rows; r++) {
    gint64 row = row0 + r;
    float *o = out + r * in;
    switch (lin->dtype) {
    case VLM_DTYPE_F32:
      memcpy (o, (const float *) lin->data + row * in, (gsize) in * sizeof (float));
      break;
    case VLM_DTYPE_BF16:
      k->bf16_to_f32 ((const guint16 *) lin->data + row * in, o, in);
      break;
    case VLM_DTYPE_F16:
      vlm_f16_to_f32_row ((const guint16 *) lin->data + row * in, o, in);
      break;
    default: {
      if (k->dequant_q_row && (lin->bits == 4 || lin->bits == 8) && lin->group_size % 32 == 0) {
        k->dequant_q_row (lin, row, o);
        break;
      }
      const guint32 *w = quant_row (lin, row);
      gint64 groups = in / lin->group_size;
      for (gint64 g = 0; g < groups; g++) {
        float s = load_sb (lin->sb_dtype, lin->scales, row * groups + g);
        float b = load_sb (lin->sb_dtype, lin->biases, row * groups + g);
        for (gint64 c = g * lin->group_size; c < (g + 1) * lin->group_size; c++)
          o[c] = s * (float) vlm_quant_code (w, c, lin->bits) + b;
      }
    }
    }
  }
}

/* Per-thread scratch that only grows, so that steady-state decoding never allocates. */
typedef struct {
  float *p;
  gsize n;
} Scratch;

static void
scratch_free (gpointer data)
{
  Scratch *s = data;
  g_free (s->p);
  g_free (s);
}

static GPrivate scratch_key[2] = { G_PRIVATE_INIT (scratch_free), G_PRIVATE_INIT (scratch_free) };

static float *
scratch_get (int which, gsize n)
{
  Scratch *s = g_private_get (&scratch_key[which]);
  if (!s) {
    s = g_new0 (Scratch, 1);
    g_private_set (&scratch_key[which], s);
  }
  if (s->n < n) {
    g_free (s->p);
    s->p = g_new (float, n);
    s->n = n;
  }
  return s->p;
}

#define MAX_GEMV_LAYERS 4
/* 4-bit GEMV reads so few bytes that two rows by it beat one small-GEMM pass, which
 * expands every code to F32 (SmolVLM-256M, 2 threads: 11.5 vs 12.3 ms per step). */
#define GEMV_MAX_ROWS_Q4 2

/* Whether the GEMV kernels take @lin's @n input rows one by one. */
static gboolean
rows_by_gemv (const VlmKernels *k, const VlmLinear *lin, gint64 n)
{
  return n == 1 || (n <= GEMV_MAX_ROWS_Q4 && lin->bits == 4 && vlm_kernels_gemv_supports (k, lin));
}

/* Up to MAX_GEMV_LAYERS layers that read the same input rows, computed in one
 * parallel loop over the concatenation of their output rows: by the GEMV kernels for
 * one input row, by the small-GEMM kernels (which read x as it is) for more. */
typedef struct {
  const VlmLinear *lins[MAX_GEMV_LAYERS];
  float *ys[MAX_GEMV_LAYERS];
  gint64 starts[MAX_GEMV_LAYERS + 1];
  guint n_lins;
  gint64 n;                 /* input rows */
  const float *x;           /* [n, in] */
  VlmGemvInput in[MAX_GEMV_LAYERS][GEMV_MAX_ROWS_Q4]; /* prepared rows (rows_by_gemv) */
  const VlmKernels *k;
} GemvJob;

/* Quantized row dot product: sum over groups of s * sum(x*q) + b * sum(x). */
static float
dot_quant_row (const VlmLinear *lin, const VlmKernels *k, gint64 row, const float *x,
               const float *xsum)
{
  const guint32 *w = quant_row (lin, row);
  gint64 gs = lin->group_size, groups = lin->in / gs;
  gint64 words_per_group = gs * lin->bits / 32;
  float acc = 0;
  for (gint64 g = 0; g < groups; g++) {
    const guint32 *gw = w + g * words_per_group;
    const float *gx = x + g * gs;
    float qx;
    if (lin->bits == 4)
      qx = k->dot_q4 (gw, gx, gs);
    else if (lin->bits == 8)
      qx = k->dot_q8 (gw, gx, gs);
    else {
      qx = 0;
      for (gint64 c = 0; c < gs; c++)
        qx += gx[c] * (float) vlm_quant_code (gw, c, lin->bits);
    }
    acc += load_sb (lin->sb_dtype, lin->scales, row * groups + g) * qx
           + load_sb (lin->sb_dtype, lin->biases, row * groups + g) * xsum[g];
  }
  return acc;
}

/* Rows [o0, o1) of one layer for every input row. */
static void
gemv_layer (const GemvJob *j, guint li, gint64 o0, gint64 o1)
{
  const VlmLinear *lin = j->lins[li];
  const VlmKernels *k = j->k;
  gint64 in = lin->in;
  if (!rows_by_gemv (k, lin, j->n))
    k->gemm_small (lin, j->x, j->n, o0, o1, j->ys[li], lin->out);
  for (gint64 i = 0; i < j->n && rows_by_gemv (k, lin, j->n); i++) {
    float *y = j->ys[li] + i * lin->out;
    const VlmGemvInput *gi = &j->in[li][i];
    if (vlm_kernels_gemv_supports (k, lin))
      k->gemv (lin, gi, o0, o1, y);
    else
      for (gint64 o = o0; o < o1; o++)
        switch (lin->dtype) {
        case VLM_DTYPE_F32: y[o] = k->dot_f32 ((const float *) lin->data + o * in, gi->x, in); break;
        case VLM_DTYPE_BF16: y[o] = k->dot_bf16 ((const guint16 *) lin->data + o * in, gi->x, in); break;
        case VLM_DTYPE_F16: y[o] = k->dot_f16 ((const guint16 *) lin->data + o * in, gi->x, in); break;
        default: y[o] = dot_quant_row (lin, k, o, gi->x, gi->xsum); break;
        }
  }
  if (lin->bias)
    for (gint64 i = 0; i < j->n; i++)
      for (gint64 o = o0; o < o1; o++)
        j->ys[li][i * lin->out + o] += lin->bias[o];
}

static void
gemv_range (gpointer data, gint64 begin, gint64 end)
{
  const GemvJob *j = data;
  for (guint li = 0; li < j->n_lins; li++) {
    gint64 a = MAX (begin, j->starts[li]), b = MIN (end, j->starts[li + 1]);
    if (a < b)
      gemv_layer (j, li, a - j->starts[li], b - j->starts[li]);
  }
}

static void
gemv_multi (const VlmLinear *const *lins, float *const *ys, guint n_lins, const float *x,
            gint64 n)
{
  GemvJob j;
  j.k = vlm_kernels_get ();
  j.n_lins = n_lins;
  j.n = n;
  j.x = x;
  j.starts[0] = 0;
  gsize per = 0;
  for (guint li = 0; li < n_lins; li++)
    per = MAX (per, vlm_gemv_scratch_floats (lins[li]));
  float *scratch = n <= GEMV_MAX_ROWS_Q4 ? scratch_get (0, per * n_lins * (gsize) n) : NULL;
  for (guint li = 0; li < n_lins; li++) {
    j.lins[li] = lins[li];
    j.ys[li] = ys[li];
    j.starts[li + 1] = j.starts[li] + lins[li]->out;
    for (gint64 i = 0; i < n && rows_by_gemv (j.k, lins[li], n); i++)
      vlm_gemv_input_prepare (j.k, lins[li], x + i * lins[li]->in,
                              scratch + (li * n + i) * per, &j.in[li][i]);
  }
  /* Chunks of at least 32 rows keep the per-chunk overhead small. */
  vlm_parallel_for (j.starts[n_lins], 32, gemv_range, &j);
}

/* ---- many input rows: expand the weight to F32, then sgemm ---- */

typedef struct {
  const VlmLinear *lin;
  float *w;
} ExpandJob;

static void
expand_range (gpointer data, gint64 begin, gint64 end)
{
  const ExpandJob *j = data;
  vlm_linear_dequant_rows (j->lin, begin, end - begin, j->w + begin * j->lin->in);
}

typedef struct {
  const VlmLinear *lin;
  const float *x;
  gint64 n;
  float *y;
} TileJob;

static void
tile_range (gpointer data, gint64 begin, gint64 end)
{
  const TileJob *j = data;
  const VlmLinear *lin = j->lin;
  float *tile = g_malloc ((gsize) TILE_ROWS * lin->in * sizeof (float));
  for (gint64 t = begin; t < end; t++) {
    gint64 r0 = t * TILE_ROWS, rows = MIN (TILE_ROWS, lin->out - r0);
    vlm_linear_dequant_rows (lin, r0, rows, tile);
    vlm_sgemm (j->n, rows, lin->in, j->x, lin->in, tile, lin->in, TRUE, j->y + r0, lin->out,
               FALSE);
  }
  g_free (tile);
}

/**
 * vlm_linear_forward:
 * @lin: a layer
 * @x: [n, in] F32
 * @n: input rows
 * @y: [n, out] F32
 *
 * y = x W^T + b.
 */
void
vlm_linear_forward (const VlmLinear *lin, const float *x, gint64 n, float *y)
{
  if (n <= 0)
    return;
  if (n < SMALL_MAX_ROWS) {
    gemv_multi (&lin, &y, 1, x, n);
    return;
  }
  if (lin->dtype == VLM_DTYPE_F32) {
    vlm_sgemm (n, lin->out, lin->in, x, lin->in, lin->data, lin->in, TRUE, y, lin->out, FALSE);
  } else if (lin->out * lin->in <= EXPAND_MAX) {
    /* The whole weight in F32 (a few MB), then one product the pool splits well. */
    float *w = scratch_get (1, (gsize) (lin->out * lin->in));
    ExpandJob e = { lin, w };
    vlm_parallel_for (lin->out, 64, expand_range, &e);
    vlm_sgemm (n, lin->out, lin->in, x, lin->in, w, lin->in, TRUE, y, lin->out, FALSE);
  } else {
    TileJob j = { lin, x, n, y };
    vlm_parallel_for ((lin->out + TILE_ROWS - 1) / TILE_ROWS, 1, tile_range, &j);
  }
  if (lin->bias)
    for (gint64 i = 0; i < n; i++)
      for (gint64 o = 0; o < lin->out; o++)
        y[i * lin->out + o] += lin->bias[o];
}

/**
 * vlm_linear_forward_multi:
 * @lins: (array length=n_lins): layers with the same input width
 * @n_lins: how many (at most 4)
 * @x: [n, in] F32, the input of every layer
 * @n: input rows
 * @ys: (array length=n_lins): each layer's output [n, out]
 *
 * The same as one vlm_linear_forward() per layer; for few input rows (decoding) the
 * layers run as one parallel loop, so that threads meet once instead of per layer.
 */
void
vlm_linear_forward_multi (const VlmLinear *const *lins, guint n_lins, const float *x, gint64 n,
                          float *const *ys)
{
  g_return_if_fail (n_lins <= MAX_GEMV_LAYERS);
  if (n > 0 && n < SMALL_MAX_ROWS) {
    gemv_multi (lins, ys, n_lins, x, n);
    return;
  }
  for (guint i = 0; i < n_lins; i++)
    vlm_linear_forward (lins[i], x, n, ys[i]);
}

/**
 * vlm_linear_embed:
 * @lin: an embedding table viewed as a layer ([vocab, dim], any stored format)
 * @ids: (array length=n): token ids
 * @n: number of ids
 * @out: [n, dim] F32
 * @error: return location for a #GError
 *
 * Returns: %FALSE (naming the id) when an id is outside the table
 */
gboolean
vlm_linear_embed (const VlmLinear *lin, const gint64 *ids, gint64 n, float *out, GError **error)
{
  for (gint64 i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= lin->out) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "token id %" G_GINT64_FORMAT " at position %" G_GINT64_FORMAT
                   " is outside the embedding table of %" G_GINT64_FORMAT " rows",
                   ids[i], i, lin->out);
      return FALSE;
    }
    vlm_linear_dequant_rows (lin, ids[i], 1, out + i * lin->in);
  }
  return TRUE;
}

/**
 * vlm_dot_f32:
 * @a: a vector
 * @b: another
 * @n: length
 *
 * Returns: the dot product
 */
float
vlm_dot_f32 (const float *a, const float *b, gint64 n)
{
  return vlm_kernels_get ()->dot_f32 (a, b, n);
}

/**
 * vlm_bf16_to_f32_row:
 * @src: BF16 values
 * @dst: F32 output
 * @n: count
 */
void
vlm_bf16_to_f32_row (const guint16 *src, float *dst, gint64 n)
{
  vlm_kernels_get ()->bf16_to_f32 (src, dst, n);
}

/**
 * vlm_f16_to_f32_row:
 * @src: F16 values
 * @dst: F32 output
 * @n: count
 */
void
vlm_f16_to_f32_row (const guint16 *src, float *dst, gint64 n)
{
  for (gint64 k = 0; k < n; k++)
    dst[k] = vlm_f16_to_f32 (src[k]);
}
