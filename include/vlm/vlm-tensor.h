/* vlm-tensor.h: the n-dimensional value that flows between elements. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * VlmDType:
 * @VLM_DTYPE_F32: 32-bit IEEE float
 * @VLM_DTYPE_F16: 16-bit IEEE half float
 * @VLM_DTYPE_BF16: bfloat16 (the upper half of an F32)
 * @VLM_DTYPE_I64: signed 64-bit integer
 * @VLM_DTYPE_I32: signed 32-bit integer
 * @VLM_DTYPE_U8: unsigned 8-bit integer
 * @VLM_DTYPE_BOOL: one byte, 0 or 1
 * @VLM_DTYPE_U32: unsigned 32-bit integer (MLX packed quantized words)
 * @VLM_DTYPE_I8: signed 8-bit integer
 * @VLM_DTYPE_F64: 64-bit IEEE float
 *
 * Element types of a #VlmTensor.
 */
typedef enum {
  VLM_DTYPE_F32,
  VLM_DTYPE_F16,
  VLM_DTYPE_BF16,
  VLM_DTYPE_I64,
  VLM_DTYPE_I32,
  VLM_DTYPE_U8,
  VLM_DTYPE_BOOL,
  VLM_DTYPE_U32,
  VLM_DTYPE_I8,
  VLM_DTYPE_F64,
} VlmDType;

/**
 * VLM_TENSOR_MAX_DIMS:
 *
 * The largest rank a #VlmTensor can have.
 */
#define VLM_TENSOR_MAX_DIMS 8

/**
 * VlmTensor:
 *
 * A reference-counted n-dimensional array: a dtype, a shape, strides in
 * elements and an offset into a #VlmStorage. Several tensors may view the same
 * storage (reshape, permute, slice). Storage is either memory the tensor owns
 * or a read-only view into a mapped file (checkpoint weights).
 */
typedef struct _VlmTensor VlmTensor;

/**
 * VlmStorage:
 *
 * The bytes behind one or more tensors, reference counted.
 */
typedef struct _VlmStorage VlmStorage;

GType        vlm_tensor_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_TENSOR (vlm_tensor_get_type ())
GType        vlm_storage_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_STORAGE (vlm_storage_get_type ())
GType        vlm_dtype_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_DTYPE (vlm_dtype_get_type ())

gsize        vlm_dtype_size (VlmDType dtype);
const char  *vlm_dtype_name (VlmDType dtype);
gboolean     vlm_dtype_from_name (const char *name, VlmDType *out);
gboolean     vlm_dtype_is_float (VlmDType dtype);

VlmStorage  *vlm_storage_new (gsize size);
VlmStorage  *vlm_storage_new_wrap (gpointer data, gsize size, gboolean read_only,
                                   gpointer owner, GDestroyNotify owner_free);
VlmStorage  *vlm_storage_ref (VlmStorage *storage);
void         vlm_storage_unref (VlmStorage *storage);
gsize        vlm_storage_get_size (VlmStorage *storage);

VlmTensor   *vlm_tensor_new (VlmDType dtype, guint ndim, const gint64 *shape);
VlmTensor   *vlm_tensor_new_empty (VlmDType dtype, guint ndim, const gint64 *shape);
VlmTensor   *vlm_tensor_new_from_data (VlmDType dtype, guint ndim, const gint64 *shape,
                                       gconstpointer data, gsize size, GError **error);
VlmTensor   *vlm_tensor_new_view (VlmStorage *storage, gsize byte_offset, VlmDType dtype,
                                  guint ndim, const gint64 *shape, GError **error);
VlmTensor   *vlm_tensor_new_scalar_f32 (float value);
VlmTensor   *vlm_tensor_ref (VlmTensor *tensor);
void         vlm_tensor_unref (VlmTensor *tensor);

VlmDType     vlm_tensor_get_dtype (const VlmTensor *tensor);
guint        vlm_tensor_get_ndim (const VlmTensor *tensor);
gint64       vlm_tensor_get_dim (const VlmTensor *tensor, int axis);
const gint64 *vlm_tensor_get_shape (const VlmTensor *tensor, guint *ndim);
const gint64 *vlm_tensor_get_strides (const VlmTensor *tensor, guint *ndim);
gint64       vlm_tensor_get_numel (const VlmTensor *tensor);
gsize        vlm_tensor_get_nbytes (const VlmTensor *tensor);
gboolean     vlm_tensor_is_contiguous (const VlmTensor *tensor);
gboolean     vlm_tensor_is_read_only (const VlmTensor *tensor);
VlmStorage  *vlm_tensor_get_storage (const VlmTensor *tensor);
const char  *vlm_tensor_get_name (const VlmTensor *tensor);
void         vlm_tensor_set_name (VlmTensor *tensor, const char *name);
char        *vlm_tensor_describe (const VlmTensor *tensor);

gconstpointer vlm_tensor_get_data (const VlmTensor *tensor);
gpointer     vlm_tensor_get_data_mut (VlmTensor *tensor);

VlmTensor   *vlm_tensor_reshape (VlmTensor *tensor, guint ndim, const gint64 *shape, GError **error);
VlmTensor   *vlm_tensor_permute (VlmTensor *tensor, const guint *axes, guint n_axes, GError **error);
VlmTensor   *vlm_tensor_transpose (VlmTensor *tensor, int axis0, int axis1, GError **error);
VlmTensor   *vlm_tensor_slice (VlmTensor *tensor, int axis, gint64 start, gint64 stop, GError **error);
VlmTensor   *vlm_tensor_contiguous (VlmTensor *tensor);
VlmTensor   *vlm_tensor_copy (VlmTensor *tensor);
VlmTensor   *vlm_tensor_to_dtype (VlmTensor *tensor, VlmDType dtype, GError **error);

double       vlm_tensor_get_element (const VlmTensor *tensor, const gint64 *index);

float        vlm_bf16_to_f32 (guint16 value);
guint16      vlm_f32_to_bf16 (float value);
float        vlm_f16_to_f32 (guint16 value);
guint16      vlm_f32_to_f16 (float value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmTensor, vlm_tensor_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmStorage, vlm_storage_unref)

G_END_DECLS
