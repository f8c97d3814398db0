/* plugin.c: the gemma3 plugin: Gemma 3's processor (square resize, optional
 * pan-and-scan crops, <start_of_image> expansion, token_type_ids), its pooling
 * projector, and the architecture template wiring them to the shared SigLIP tower
 * (idefics3 plugin) and the Gemma 3 decoder (llm plugin's llama-decoder). */
#include "gemma3-elements.h"
#include "gemma3-resources.h"

static gboolean
gemma3_init (VlmPlugin *plugin, GError **error)
{
  g_autoptr (GBytes) pipeline = g_resource_lookup_data (gemma3_get_resource (),
                                                        "/org/vlm/gemma3/gemma3-pipeline.json",
                                                        G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (!pipeline)
    return FALSE;
  return vlm_plugin_register_element (plugin, "gemma3-processor", gemma3_processor_get_type (),
                                      error)
         && vlm_plugin_register_element (plugin, "gemma3-projector", gemma3_projector_get_type (),
                                         error)
         && vlm_plugin_register_architecture (plugin, "gemma3", g_bytes_get_data (pipeline, NULL),
                                              error);
}

VLM_PLUGIN_DEFINE ("gemma3", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Gemma 3: image processing with pan-and-scan, prompt expansion, projector",
                   gemma3_init)
