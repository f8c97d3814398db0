/* plugin.c: the gemma3 plugin: Gemma 3's processor (square resize, optional
 * pan-and-scan crops, <start_of_image> expansion, token_type_ids). */
#include "gemma3-elements.h"

static gboolean
gemma3_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "gemma3-processor", gemma3_processor_get_type (),
                                      error);
}

VLM_PLUGIN_DEFINE ("gemma3", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Gemma 3: image processing with pan-and-scan and prompt expansion", gemma3_init)
