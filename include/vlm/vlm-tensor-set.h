/* vlm-tensor-set.h: an ordered collection of named tensors. */
#pragma once

#include <vlm/vlm-tensor.h>

G_BEGIN_DECLS

/**
 * VlmTensorSet:
 *
 * An ordered, reference-counted map from names to #VlmTensor. It is the
 * currency of patch hooks (a checkpoint's weights, the tensors that reach the
 * merge step), of checkpoint files and of multi-image element outputs.
 */
typedef struct _VlmTensorSet VlmTensorSet;

GType         vlm_tensor_set_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_TENSOR_SET (vlm_tensor_set_get_type ())

VlmTensorSet *vlm_tensor_set_new (void);
VlmTensorSet *vlm_tensor_set_ref (VlmTensorSet *set);
void          vlm_tensor_set_unref (VlmTensorSet *set);
guint         vlm_tensor_set_get_size (VlmTensorSet *set);
VlmTensor    *vlm_tensor_set_get (VlmTensorSet *set, const char *name);
VlmTensor    *vlm_tensor_set_get_nth (VlmTensorSet *set, guint index);
const char   *vlm_tensor_set_get_nth_name (VlmTensorSet *set, guint index);
void          vlm_tensor_set_insert (VlmTensorSet *set, const char *name, VlmTensor *tensor);
gboolean      vlm_tensor_set_remove (VlmTensorSet *set, const char *name);
gboolean      vlm_tensor_set_rename (VlmTensorSet *set, const char *old_name, const char *new_name);
gboolean      vlm_tensor_set_contains (VlmTensorSet *set, const char *name);
GStrv         vlm_tensor_set_list_names (VlmTensorSet *set);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmTensorSet, vlm_tensor_set_unref)

G_END_DECLS
