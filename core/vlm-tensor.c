/* vlm-tensor.c: reference-counted storage and strided tensor views. */
#include "vlm/vlm-tensor.h"
#include "vlm/vlm-error.h"

#include <math.h>
#include <string.h>

struct _VlmStorage {
  gatomicrefcount ref;
  guint8 *data;
  gsize size;
  gboolean read_only;
  gpointer owner;
  GDestroyNotify owner_free;
};

struct _VlmTensor {
  gatomicrefcount ref;
  VlmDType dtype;
  guint ndim;
  gint64 shape[VLM_TENSOR_MAX_DIMS];
  gint64 strides[VLM_TENSOR_MAX_DIMS]; /* in elements */
  gsize byte_offset;
  VlmStorage *storage;
  char *name;
};

G_DEFINE_BOXED_TYPE (VlmTensor, vlm_tensor, vlm_tensor_ref, vlm_tensor_unref)
G_DEFINE_BOXED_TYPE (VlmStorage, vlm_storage, vlm_storage_ref, vlm_storage_unref)

/**
 * vlm_storage_new:
 * @size: bytes
 *
 * Allocates zeroed, 64-byte aligned, writable storage.
 *
 * Returns: (transfer full): a new storage
 */
VlmStorage *
vlm_storage_new (gsize size)
{
  VlmStorage *s = g_new0 (VlmStorage, 1);
  g_atomic_ref_count_init (&s->ref);
  s->size = size;
  s->data = g_aligned_alloc0 (1, MAX (size, 1), 64);
  s->owner = s->data;
  s->owner_free = g_aligned_free;
  return s;
}

/**
 * vlm_storage_new_wrap:
 * @data: the bytes
 * @size: their size
 * @read_only: whether tensors over it may be written
 * @owner: (nullable): what keeps @data alive (a mapped file, a #GBytes)
 * @owner_free: (nullable): releases @owner when the storage dies
 *
 * Wraps memory owned by something else, such as a mapped checkpoint.
 *
 * Returns: (transfer full): a new storage
 */
VlmStorage *
vlm_storage_new_wrap (gpointer data, gsize size, gboolean read_only, gpointer owner,
                      GDestroyNotify owner_free)
{
  VlmStorage *s = g_new0 (VlmStorage, 1);
  g_atomic_ref_count_init (&s->ref);
  s->data = data;
  s->size = size;
  s->read_only = read_only;
  s->owner = owner;
  s->owner_free = owner_free;
  return s;
}

/**
 * vlm_storage_ref:
 * @storage: a storage
 *
 * Returns: (transfer full): @storage
 */
VlmStorage *
vlm_storage_ref (VlmStorage *storage)
{
  g_atomic_ref_count_inc (&storage->ref);
  return storage;
}

/**
 * vlm_storage_unref:
 * @storage: a storage
 */
void
vlm_storage_unref (VlmStorage *storage)
{
  if (storage && g_atomic_ref_count_dec (&storage->ref)) {
    if (storage->owner_free)
      storage->owner_free (storage->owner);
    g_free (storage);
  }
}

/**
 * vlm_storage_get_size:
 * @storage: a storage
 *
 * Returns: its size in bytes
 */
gsize
vlm_storage_get_size (VlmStorage *storage)
{
  return storage->size;
}

static void
set_contiguous_strides (VlmTensor *t)
{
  gint64 stride = 1;
  for (int i = (int) t->ndim - 1; i >= 0; i--) {
    t->strides[i] = stride;
    stride *= t->shape[i];
  }
}

static gboolean
checked_numel (guint ndim, const gint64 *shape, gint64 *out)
{
  gint64 n = 1;
  for (guint i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return FALSE;
    if (shape[i] != 0 && n > G_MAXINT64 / 16 / shape[i])
      return FALSE;
    n *= shape[i];
  }
  *out = n;
  return TRUE;
}

static VlmTensor *
tensor_alloc (VlmDType dtype, guint ndim, const gint64 *shape)
{
  VlmTensor *t = g_new0 (VlmTensor, 1);
  g_atomic_ref_count_init (&t->ref);
  t->dtype = dtype;
  t->ndim = ndim;
  if (ndim)
    memcpy (t->shape, shape, ndim * sizeof (gint64));
  set_contiguous_strides (t);
  return t;
}

/**
 * vlm_tensor_new:
 * @dtype: element type
 * @ndim: rank, at most %VLM_TENSOR_MAX_DIMS
 * @shape: (array length=ndim): the shape
 *
 * Creates a zero-filled contiguous tensor with its own storage.
 *
 * Returns: (transfer full): a new tensor
 */
VlmTensor *
vlm_tensor_new (VlmDType dtype, guint ndim, const gint64 *shape)
{
  gint64 numel = 0;
  g_return_val_if_fail (ndim <= VLM_TENSOR_MAX_DIMS, NULL);
  g_return_val_if_fail (checked_numel (ndim, shape, &numel), NULL);
  VlmTensor *t = tensor_alloc (dtype, ndim, shape);
  t->storage = vlm_storage_new ((gsize) numel * vlm_dtype_size (dtype));
  return t;
}

/**
 * vlm_tensor_new_empty:
 * @dtype: element type
 * @ndim: rank
 * @shape: (array length=ndim): the shape
 *
 * Like vlm_tensor_new(); the name says the caller fills every element.
 *
 * Returns: (transfer full): a new tensor
 */
VlmTensor *
vlm_tensor_new_empty (VlmDType dtype, guint ndim, const gint64 *shape)
{
  return vlm_tensor_new (dtype, ndim, shape);
}

/**
 * vlm_tensor_new_from_data:
 * @dtype: element type
 * @ndim: rank
 * @shape: (array length=ndim): the shape
 * @data: (array length=size) (element-type guint8): contiguous element bytes
 * @size: bytes in @data, which must match the shape
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new tensor holding a copy of @data
 */
VlmTensor *
vlm_tensor_new_from_data (VlmDType dtype, guint ndim, const gint64 *shape, gconstpointer data,
                          gsize size, GError **error)
{
  gint64 numel;
  if (ndim > VLM_TENSOR_MAX_DIMS || !checked_numel (ndim, shape, &numel)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "invalid tensor shape");
    return NULL;
  }
  if ((gsize) numel * vlm_dtype_size (dtype) != size) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "tensor data is %" G_GSIZE_FORMAT " bytes, shape needs %" G_GSIZE_FORMAT, size,
                 (gsize) numel * vlm_dtype_size (dtype));
    return NULL;
  }
  VlmTensor *t = vlm_tensor_new (dtype, ndim, shape);
  if (size)
    memcpy (t->storage->data, data, size);
  return t;
}

/**
 * vlm_tensor_new_view:
 * @storage: the storage to view
 * @byte_offset: where the first element starts
 * @dtype: element type
 * @ndim: rank
 * @shape: (array length=ndim): the shape
 * @error: return location for a #GError
 *
 * Creates a contiguous tensor over existing storage (for example a mapped
 * checkpoint) without copying. Fails if the range leaves the storage.
 *
 * Returns: (transfer full) (nullable): a new tensor
 */
VlmTensor *
vlm_tensor_new_view (VlmStorage *storage, gsize byte_offset, VlmDType dtype, guint ndim,
                     const gint64 *shape, GError **error)
{
  gint64 numel;
  if (ndim > VLM_TENSOR_MAX_DIMS || !checked_numel (ndim, shape, &numel)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "invalid tensor shape");
    return NULL;
  }
  gsize nbytes = (gsize) numel * vlm_dtype_size (dtype);
  if (byte_offset > storage->size || nbytes > storage->size - byte_offset) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "tensor view [%" G_GSIZE_FORMAT ", +%" G_GSIZE_FORMAT
                 ") lies outside its storage of %" G_GSIZE_FORMAT " bytes",
                 byte_offset, nbytes, storage->size);
    return NULL;
  }
  VlmTensor *t = tensor_alloc (dtype, ndim, shape);
  t->storage = vlm_storage_ref (storage);
  t->byte_offset = byte_offset;
  return t;
}

/**
 * vlm_tensor_new_scalar_f32:
 * @value: the value
 *
 * Returns: (transfer full): a rank-0 F32 tensor
 */
VlmTensor *
vlm_tensor_new_scalar_f32 (float value)
{
  VlmTensor *t = vlm_tensor_new (VLM_DTYPE_F32, 0, NULL);
  *(float *) t->storage->data = value;
  return t;
}

/**
 * vlm_tensor_ref:
 * @tensor: a tensor
 *
 * Returns: (transfer full): @tensor
 */
VlmTensor *
vlm_tensor_ref (VlmTensor *tensor)
{
  g_atomic_ref_count_inc (&tensor->ref);
  return tensor;
}

/**
 * vlm_tensor_unref:
 * @tensor: a tensor
 */
void
vlm_tensor_unref (VlmTensor *tensor)
{
  if (tensor && g_atomic_ref_count_dec (&tensor->ref)) {
    vlm_storage_unref (tensor->storage);
    g_free (tensor->name);
    g_free (tensor);
  }
}

/**
 * vlm_tensor_get_dtype:
 * @tensor: a tensor
 *
 * Returns: its element type
 */
VlmDType
vlm_tensor_get_dtype (const VlmTensor *tensor)
{
  return tensor->dtype;
}

/**
 * vlm_tensor_get_ndim:
 * @tensor: a tensor
 *
 * Returns: its rank
 */
guint
vlm_tensor_get_ndim (const VlmTensor *tensor)
{
  return tensor->ndim;
}

/**
 * vlm_tensor_get_dim:
 * @tensor: a tensor
 * @axis: an axis; negative counts from the end
 *
 * Returns: the size of @axis
 */
gint64
vlm_tensor_get_dim (const VlmTensor *tensor, int axis)
{
  if (axis < 0)
    axis += (int) tensor->ndim;
  g_return_val_if_fail (axis >= 0 && (guint) axis < tensor->ndim, 0);
  return tensor->shape[axis];
}

/**
 * vlm_tensor_get_shape:
 * @tensor: a tensor
 * @ndim: (out) (optional): its rank
 *
 * Returns: (array length=ndim) (transfer none): the shape
 */
const gint64 *
vlm_tensor_get_shape (const VlmTensor *tensor, guint *ndim)
{
  if (ndim)
    *ndim = tensor->ndim;
  return tensor->shape;
}

/**
 * vlm_tensor_get_strides:
 * @tensor: a tensor
 * @ndim: (out) (optional): its rank
 *
 * Returns: (array length=ndim) (transfer none): the strides, in elements
 */
const gint64 *
vlm_tensor_get_strides (const VlmTensor *tensor, guint *ndim)
{
  if (ndim)
    *ndim = tensor->ndim;
  return tensor->strides;
}

/**
 * vlm_tensor_get_numel:
 * @tensor: a tensor
 *
 * Returns: the number of elements
 */
gint64
vlm_tensor_get_numel (const VlmTensor *tensor)
{
  gint64 n = 1;
  for (guint i = 0; i < tensor->ndim; i++)
    n *= tensor->shape[i];
  return n;
}

/**
 * vlm_tensor_get_nbytes:
 * @tensor: a tensor
 *
 * Returns: numel times the element size
 */
gsize
vlm_tensor_get_nbytes (const VlmTensor *tensor)
{
  return (gsize) vlm_tensor_get_numel (tensor) * vlm_dtype_size (tensor->dtype);
}

/**
 * vlm_tensor_is_contiguous:
 * @tensor: a tensor
 *
 * Returns: whether elements lie in row-major order without gaps
 */
gboolean
vlm_tensor_is_contiguous (const VlmTensor *tensor)
{
  gint64 stride = 1;
  for (int i = (int) tensor->ndim - 1; i >= 0; i--) {
    if (tensor->shape[i] != 1 && tensor->strides[i] != stride)
      return FALSE;
    stride *= tensor->shape[i];
  }
  return TRUE;
}

/**
 * vlm_tensor_is_read_only:
 * @tensor: a tensor
 *
 * Returns: whether its storage is read-only (a mapped file)
 */
gboolean
vlm_tensor_is_read_only (const VlmTensor *tensor)
{
  return tensor->storage->read_only;
}

/**
 * vlm_tensor_get_storage:
 * @tensor: a tensor
 *
 * Returns: (transfer none): its storage
 */
VlmStorage *
vlm_tensor_get_storage (const VlmTensor *tensor)
{
  return tensor->storage;
}

/**
 * vlm_tensor_get_name:
 * @tensor: a tensor
 *
 * Returns: (nullable): its name
 */
const char *
vlm_tensor_get_name (const VlmTensor *tensor)
{
  return tensor->name;
}

/**
 * vlm_tensor_set_name:
 * @tensor: a tensor
 * @name: (nullable): the new name
 */
void
vlm_tensor_set_name (VlmTensor *tensor, const char *name)
{
  g_free (tensor->name);
  tensor->name = g_strdup (name);
}

/**
 * vlm_tensor_describe:
 * @tensor: a tensor
 *
 * Returns: (transfer full): "NAME DTYPE [d0, d1, ...]"
 */
char *
vlm_tensor_describe (const VlmTensor *tensor)
{
  GString *s = g_string_new (NULL);
  if (tensor->name)
    g_string_append_printf (s, "%s ", tensor->name);
  g_string_append_printf (s, "%s [", vlm_dtype_name (tensor->dtype));
  for (guint i = 0; i < tensor->ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", tensor->shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/**
 * vlm_tensor_get_data:
 * @tensor: a tensor
 *
 * The address of element 0. Use the strides for non-contiguous tensors.
 *
 * Returns: (transfer none): the data
 */
gconstpointer
vlm_tensor_get_data (const VlmTensor *tensor)
{
  return tensor->storage->data + tensor->byte_offset;
}

/**
 * vlm_tensor_get_data_mut:
 * @tensor: a tensor over writable storage
 *
 * Returns: (transfer none): the data, or %NULL (with a critical) when read-only
 */
gpointer
vlm_tensor_get_data_mut (VlmTensor *tensor)
{
  g_return_val_if_fail (!tensor->storage->read_only, NULL);
  return tensor->storage->data + tensor->byte_offset;
}

static VlmTensor *
tensor_view_like (VlmTensor *src)
{
  VlmTensor *t = g_new0 (VlmTensor, 1);
  g_atomic_ref_count_init (&t->ref);
  t->dtype = src->dtype;
  t->ndim = src->ndim;
  memcpy (t->shape, src->shape, sizeof t->shape);
  memcpy (t->strides, src->strides, sizeof t->strides);
  t->byte_offset = src->byte_offset;
  t->storage = vlm_storage_ref (src->storage);
  t->name = g_strdup (src->name);
  return t;
}

/**
 * vlm_tensor_reshape:
 * @tensor: a tensor
 * @ndim: new rank
 * @shape: (array length=ndim): new shape; one entry may be -1 (inferred)
 * @error: return location for a #GError
 *
 * A view when @tensor is contiguous, otherwise a contiguous copy.
 *
 * Returns: (transfer full) (nullable): the reshaped tensor
 */
VlmTensor *
vlm_tensor_reshape (VlmTensor *tensor, guint ndim, const gint64 *shape, GError **error)
{
  gint64 want[VLM_TENSOR_MAX_DIMS];
  gint64 known = 1, numel = vlm_tensor_get_numel (tensor);
  int infer = -1;
  if (ndim > VLM_TENSOR_MAX_DIMS) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "reshape: rank %u too large", ndim);
    return NULL;
  }
  for (guint i = 0; i < ndim; i++) {
    want[i] = shape[i];
    if (shape[i] == -1 && infer < 0)
      infer = (int) i;
    else if (shape[i] < 0) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "reshape: bad dimension %" G_GINT64_FORMAT,
                   shape[i]);
      return NULL;
    } else
      known *= shape[i];
  }
  if (infer >= 0) {
    if (known == 0 || numel % known) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "reshape: cannot infer dimension");
      return NULL;
    }
    want[infer] = numel / known;
    known = numel;
  }
  if (known != numel) {
    g_autofree char *d = vlm_tensor_describe (tensor);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "reshape: %s has %" G_GINT64_FORMAT " elements, new shape %" G_GINT64_FORMAT, d,
                 numel, known);
    return NULL;
  }
  g_autoptr (VlmTensor) src = vlm_tensor_contiguous (tensor);
  VlmTensor *t = tensor_view_like (src);
  t->ndim = ndim;
  memcpy (t->shape, want, ndim * sizeof (gint64));
  set_contiguous_strides (t);
  return t;
}

/**
 * vlm_tensor_permute:
 * @tensor: a tensor
 * @axes: (array length=n_axes): the new order of the axes
 * @n_axes: must equal the rank
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a strided view with permuted axes
 */
VlmTensor *
vlm_tensor_permute (VlmTensor *tensor, const guint *axes, guint n_axes, GError **error)
{
  guint seen = 0;
  if (n_axes != tensor->ndim) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "permute: %u axes for rank %u", n_axes,
                 tensor->ndim);
    return NULL;
  }
  for (guint i = 0; i < n_axes; i++) {
    if (axes[i] >= n_axes || (seen & (1u << axes[i]))) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "permute: invalid axis list");
      return NULL;
    }
    seen |= 1u << axes[i];
  }
  VlmTensor *t = tensor_view_like (tensor);
  for (guint i = 0; i < n_axes; i++) {
    t->shape[i] = tensor->shape[axes[i]];
    t->strides[i] = tensor->strides[axes[i]];
  }
  return t;
}

/**
 * vlm_tensor_transpose:
 * @tensor: a tensor
 * @axis0: an axis (negative counts from the end)
 * @axis1: another axis
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a view with the two axes swapped
 */
VlmTensor *
vlm_tensor_transpose (VlmTensor *tensor, int axis0, int axis1, GError **error)
{
  guint axes[VLM_TENSOR_MAX_DIMS];
  int n = (int) tensor->ndim;
  if (axis0 < 0)
    axis0 += n;
  if (axis1 < 0)
    axis1 += n;
  if (axis0 < 0 || axis0 >= n || axis1 < 0 || axis1 >= n) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "transpose: axis out of range");
    return NULL;
  }
  for (int i = 0; i < n; i++)
    axes[i] = (guint) i;
  axes[axis0] = (guint) axis1;
  axes[axis1] = (guint) axis0;
  return vlm_tensor_permute (tensor, axes, tensor->ndim, error);
}

/**
 * vlm_tensor_slice:
 * @tensor: a tensor
 * @axis: the axis (negative counts from the end)
 * @start: first index kept
 * @stop: one past the last index kept
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a view of [@start, @stop) along @axis
 */
VlmTensor *
vlm_tensor_slice (VlmTensor *tensor, int axis, gint64 start, gint64 stop, GError **error)
{
  if (axis < 0)
    axis += (int) tensor->ndim;
  if (axis < 0 || (guint) axis >= tensor->ndim || start < 0 || stop < start
      || stop > tensor->shape[axis]) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "slice: [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ") invalid on axis %d", start,
                 stop, axis);
    return NULL;
  }
  VlmTensor *t = tensor_view_like (tensor);
  t->shape[axis] = stop - start;
  t->byte_offset += (gsize) (start * tensor->strides[axis]) * vlm_dtype_size (tensor->dtype);
  return t;
}

/* Calls fn for every element in row-major order with its byte offset from element 0. */
#define FOR_EACH_OFFSET(t, off, body)                                                              \
  do {                                                                                             \
    gint64 idx_[VLM_TENSOR_MAX_DIMS] = { 0 };                                                      \
    gint64 n_ = vlm_tensor_get_numel (t);                                                          \
    gint64 off = 0;                                                                                \
    for (gint64 e_ = 0; e_ < n_; e_++) {                                                           \
      body;                                                                                        \
      for (int d_ = (int) (t)->ndim - 1; d_ >= 0; d_--) {                                          \
        idx_[d_]++;                                                                                \
        off += (t)->strides[d_];                                                                   \
        if (idx_[d_] < (t)->shape[d_])                                                             \
          break;                                                                                   \
        off -= (t)->strides[d_] * (t)->shape[d_];                                                  \
        idx_[d_] = 0;                                                                              \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/**
 * vlm_tensor_copy:
 * @tensor: a tensor
 *
 * Returns: (transfer full): a contiguous, writable copy
 */
VlmTensor *
vlm_tensor_copy (VlmTensor *tensor)
{
  VlmTensor *out = vlm_tensor_new (tensor->dtype, tensor->ndim, tensor->shape);
  gsize es = vlm_dtype_size (tensor->dtype);
  const guint8 *src = vlm_tensor_get_data (tensor);
  guint8 *dst = out->storage->data;
  out->name = g_strdup (tensor->name);
  if (vlm_tensor_is_contiguous (tensor)) {
    memcpy (dst, src, vlm_tensor_get_nbytes (tensor));
    return out;
  }
  FOR_EACH_OFFSET (tensor, off, {
    memcpy (dst, src + off * (gint64) es, es);
    dst += es;
  });
  return out;
}

/**
 * vlm_tensor_contiguous:
 * @tensor: a tensor
 *
 * Returns: (transfer full): @tensor itself (a new reference) when contiguous,
 *   else a contiguous copy
 */
VlmTensor *
vlm_tensor_contiguous (VlmTensor *tensor)
{
  if (vlm_tensor_is_contiguous (tensor))
    return vlm_tensor_ref (tensor);
  return vlm_tensor_copy (tensor);
}

static double
load_element (VlmDType dtype, const guint8 *p)
{
  switch (dtype) {
  case VLM_DTYPE_F32: return *(const float *) p;
  case VLM_DTYPE_F64: return *(const double *) p;
  case VLM_DTYPE_F16: return vlm_f16_to_f32 (*(const guint16 *) p);
  case VLM_DTYPE_BF16: return vlm_bf16_to_f32 (*(const guint16 *) p);
  case VLM_DTYPE_I64: return (double) *(const gint64 *) p;
  case VLM_DTYPE_I32: return *(const gint32 *) p;
  case VLM_DTYPE_U32: return *(const guint32 *) p;
  case VLM_DTYPE_U8: return *p;
  case VLM_DTYPE_BOOL: return *p != 0;
  case VLM_DTYPE_I8: return *(const gint8 *) p;
  }
  return 0;
}

/**
 * vlm_tensor_get_element:
 * @tensor: a tensor
 * @index: (array): one index per axis
 *
 * Reads one element as a double (slow; for tests and tools).
 *
 * Returns: the value
 */
double
vlm_tensor_get_element (const VlmTensor *tensor, const gint64 *index)
{
  gint64 off = 0;
  for (guint i = 0; i < tensor->ndim; i++)
    off += index[i] * tensor->strides[i];
  return load_element (tensor->dtype, (const guint8 *) vlm_tensor_get_data (tensor)
                                          + off * (gint64) vlm_dtype_size (tensor->dtype));
}

/* Integer targets reject values they cannot represent rather than wrapping. */
static gboolean
store_element (VlmDType dtype, guint8 *p, const guint8 *src, VlmDType src_dtype)
{
  if (src_dtype == VLM_DTYPE_I64 && dtype == VLM_DTYPE_I64) {
    *(gint64 *) p = *(const gint64 *) src;
    return TRUE;
  }
  double v = load_element (src_dtype, src);
  switch (dtype) {
  case VLM_DTYPE_F32: *(float *) p = (float) v; return TRUE;
  case VLM_DTYPE_F64: *(double *) p = v; return TRUE;
  case VLM_DTYPE_F16: *(guint16 *) p = vlm_f32_to_f16 ((float) v); return TRUE;
  case VLM_DTYPE_BF16: *(guint16 *) p = vlm_f32_to_bf16 ((float) v); return TRUE;
  case VLM_DTYPE_BOOL: *p = v != 0; return TRUE;
  default: break;
  }
  if (isnan (v) || v != floor (v))
    return FALSE;
  switch (dtype) {
  case VLM_DTYPE_I64:
    if (v < -9.2233720368547758e18 || v >= 9.2233720368547758e18) return FALSE;
    *(gint64 *) p = (gint64) v; return TRUE;
  case VLM_DTYPE_I32:
    if (v < G_MININT32 || v > G_MAXINT32) return FALSE;
    *(gint32 *) p = (gint32) v; return TRUE;
  case VLM_DTYPE_U32:
    if (v < 0 || v > G_MAXUINT32) return FALSE;
    *(guint32 *) p = (guint32) v; return TRUE;
  case VLM_DTYPE_U8:
    if (v < 0 || v > 255) return FALSE;
    *p = (guint8) v; return TRUE;
  case VLM_DTYPE_I8:
    if (v < -128 || v > 127) return FALSE;
    *(gint8 *) p = (gint8) v; return TRUE;
  default: return FALSE;
  }
}

/**
 * vlm_tensor_to_dtype:
 * @tensor: a tensor
 * @dtype: the target element type
 * @error: return location for a #GError
 *
 * Converts element by element. Float targets round (to nearest even);
 * integer targets require every value to be an integer within range, and
 * fail naming the first element that is not.
 *
 * Returns: (transfer full) (nullable): a new contiguous tensor
 */
VlmTensor *
vlm_tensor_to_dtype (VlmTensor *tensor, VlmDType dtype, GError **error)
{
  if (dtype == tensor->dtype)
    return vlm_tensor_copy (tensor);
  VlmTensor *out = vlm_tensor_new (dtype, tensor->ndim, tensor->shape);
  out->name = g_strdup (tensor->name);
  const guint8 *src = vlm_tensor_get_data (tensor);
  guint8 *dst = out->storage->data;
  gsize es = vlm_dtype_size (tensor->dtype), ed = vlm_dtype_size (dtype);
  gint64 i = 0;
  gboolean ok = TRUE;
  FOR_EACH_OFFSET (tensor, off, {
    if (ok && !store_element (dtype, dst + i * (gint64) ed, src + off * (gint64) es,
                              tensor->dtype)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "cannot convert element %" G_GINT64_FORMAT " (%g) of tensor %s from %s to %s",
                   i, load_element (tensor->dtype, src + off * (gint64) es),
                   tensor->name ? tensor->name : "(unnamed)", vlm_dtype_name (tensor->dtype),
                   vlm_dtype_name (dtype));
      ok = FALSE;
    }
    i++;
  });
  if (!ok) {
    vlm_tensor_unref (out);
    return NULL;
  }
  return out;
}
