/* mask-dtype.c: masks reach the merge step as whatever the processor produced (transformers
 * returns int64 attention and pixel masks; some checkpoints ship U8 or F32 ones). The
 * decoders of this project read masks as BOOL, so convert them, checking every value is 0/1. */
#include "common-patches.h"

static const char *const mask_names[] = { "attention_mask", "pixel_attention_mask", NULL };

gboolean
vlm_patch_mask_dtype (VlmTensorSet *tensors, const char *model_type, GError **error)
{
  for (guint i = 0; mask_names[i]; i++) {
    VlmTensor *mask = vlm_tensor_set_get (tensors, mask_names[i]);
    if (!mask || vlm_tensor_get_dtype (mask) == VLM_DTYPE_BOOL)
      continue;
    g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (mask, VLM_DTYPE_F64, error);
    if (!f)
      return FALSE;
    const double *v = vlm_tensor_get_data (f);
    for (gint64 k = 0; k < vlm_tensor_get_numel (f); k++)
      if (v[k] != 0 && v[k] != 1) {
        g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                     "%s element %" G_GINT64_FORMAT " is %g, not 0 or 1", mask_names[i], k, v[k]);
        return FALSE;
      }
    g_autoptr (VlmTensor) b = vlm_tensor_to_dtype (mask, VLM_DTYPE_BOOL, error);
    if (!b)
      return FALSE;
    g_debug ("%s: %s -> BOOL", mask_names[i], vlm_dtype_name (vlm_tensor_get_dtype (mask)));
    vlm_tensor_set_insert (tensors, mask_names[i], b);
  }
  return TRUE;
}
