/* common-patches.h: patches that apply to every architecture. */
#pragma once

#include <vlm/vlm.h>

gboolean vlm_patch_mask_dtype (VlmTensorSet *tensors, const char *model_type, GError **error);
