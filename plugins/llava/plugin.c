/* plugin.c: the llava plugin: LLaVA-1.5's processor (CLIP image processing and
 * <image> expansion). */
#include "llava-elements.h"

static gboolean
llava_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "llava-processor", llava_processor_get_type (),
                                      error);
}

VLM_PLUGIN_DEFINE ("llava", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "LLaVA: CLIP image processing and image-token expansion", llava_init)
