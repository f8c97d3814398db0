/* plugin.c: the paligemma plugin: PaliGemma's processor (SigLIP image
 * processing and the processor's own prompt format). */
#include "paligemma-elements.h"

static gboolean
paligemma_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "paligemma-processor",
                                      paligemma_processor_get_type (), error);
}

VLM_PLUGIN_DEFINE ("paligemma", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "PaliGemma: SigLIP image processing and prompt format", paligemma_init)
