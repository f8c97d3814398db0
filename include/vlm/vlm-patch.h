/* vlm-patch.h: named fixes that plugins attach to hook points. */
#pragma once

#include <glib-object.h>
#include <vlm/vlm-tensor-set.h>

G_BEGIN_DECLS

/**
 * VlmHook:
 * @VLM_HOOK_WEIGHTS: after a checkpoint is read, before its tensors are bound
 *   to a model: rename, transpose, drop or synthesize tensors
 * @VLM_HOOK_BEFORE_MERGE: the tensors that reach the step where image features
 *   are merged into the text embeddings (`input_ids`, `attention_mask`,
 *   `image_features`, `pixel_attention_mask`, ...)
 *
 * Where a patch runs.
 */
typedef enum {
  VLM_HOOK_WEIGHTS,
  VLM_HOOK_BEFORE_MERGE,
} VlmHook;

GType       vlm_hook_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_HOOK (vlm_hook_get_type ())
const char *vlm_hook_to_string (VlmHook hook);

/**
 * VlmPatchFunc:
 * @tensors: the tensors at the hook point, to be rewritten in place
 * @model_type: the `model_type` of the model being run
 * @error: return location for a #GError
 *
 * Returns: %FALSE with @error set if the tensors cannot be fixed
 */
typedef gboolean (*VlmPatchFunc) (VlmTensorSet *tensors, const char *model_type, GError **error);

/**
 * VlmPatch:
 *
 * A registered patch: its name, hook, model types, order and function.
 */
typedef struct _VlmPatch VlmPatch;

GType vlm_patch_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_PATCH (vlm_patch_get_type ())

const char        *vlm_patch_get_name (const VlmPatch *patch);
VlmHook            vlm_patch_get_hook (const VlmPatch *patch);
int                vlm_patch_get_order (const VlmPatch *patch);
const char        *vlm_patch_get_description (const VlmPatch *patch);
const char *const *vlm_patch_get_model_types (const VlmPatch *patch);
const char        *vlm_patch_get_plugin_name (const VlmPatch *patch);
gboolean           vlm_patch_applies_to (const VlmPatch *patch, const char *model_type);
gboolean           vlm_patch_apply (const VlmPatch *patch, VlmTensorSet *tensors,
                                    const char *model_type, GError **error);

G_END_DECLS
