/* plugin.c: the common-patches plugin. */
#include "common-patches.h"

static gboolean
common_patches_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_patch (plugin, "mask-dtype", VLM_HOOK_BEFORE_MERGE, NULL, 0,
                                    "converts attention/pixel masks given as I64/U8/F32 to BOOL",
                                    vlm_patch_mask_dtype, error);
}

VLM_PLUGIN_DEFINE ("common-patches", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Patches for what processors and checkpoints commonly get wrong",
                   common_patches_init)
