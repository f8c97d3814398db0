/* plugin.c: the paligemma plugin: PaliGemma's processor (SigLIP image processing and
 * the processor's own prompt format), its projector, and the architecture template
 * wiring them to the shared SigLIP tower (idefics3 plugin) and the Gemma decoder
 * (llm plugin's llama-decoder, configured by the text model_type). */
#include "paligemma-elements.h"
#include "paligemma-resources.h"

static gboolean
paligemma_init (VlmPlugin *plugin, GError **error)
{
  g_autoptr (GBytes) pipeline = g_resource_lookup_data (paligemma_get_resource (),
                                                        "/org/vlm/paligemma/paligemma-pipeline.json",
                                                        G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (!pipeline)
    return FALSE;
  return vlm_plugin_register_element (plugin, "paligemma-processor",
                                      paligemma_processor_get_type (), error)
         && vlm_plugin_register_element (plugin, "paligemma-projector",
                                         paligemma_projector_get_type (), error)
         && vlm_plugin_register_architecture (plugin, "paligemma",
                                              g_bytes_get_data (pipeline, NULL), error);
}

VLM_PLUGIN_DEFINE ("paligemma", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "PaliGemma: SigLIP image processing, prompt format, projector", paligemma_init)
