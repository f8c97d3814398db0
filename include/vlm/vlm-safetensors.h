/* vlm-safetensors.h: memory-mapped safetensors checkpoints (single file or sharded). */
#pragma once

#include <glib-object.h>
#include <vlm/vlm-tensor-set.h>

G_BEGIN_DECLS

#define VLM_TYPE_SAFETENSORS (vlm_safetensors_get_type ())
G_DECLARE_FINAL_TYPE (VlmSafetensors, vlm_safetensors, VLM, SAFETENSORS, GObject)

VlmSafetensors *vlm_safetensors_open (const char *path, GError **error);
guint           vlm_safetensors_get_n_tensors (VlmSafetensors *self);
GStrv           vlm_safetensors_list_names (VlmSafetensors *self);
gboolean        vlm_safetensors_contains (VlmSafetensors *self, const char *name);
VlmTensor      *vlm_safetensors_get_tensor (VlmSafetensors *self, const char *name, GError **error);
guint64         vlm_safetensors_get_total_bytes (VlmSafetensors *self);
const char     *vlm_safetensors_get_metadata (VlmSafetensors *self, const char *key);
VlmTensorSet   *vlm_safetensors_to_tensor_set (VlmSafetensors *self, GError **error);
guint           vlm_safetensors_get_n_files (VlmSafetensors *self);

gboolean        vlm_safetensors_write (const char *path, VlmTensorSet *tensors,
                                       GHashTable *metadata, GError **error);

G_END_DECLS
