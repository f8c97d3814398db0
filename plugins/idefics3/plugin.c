/* plugin.c: the idefics3 plugin: Idefics3 / SmolVLM (model types idefics3 and smolvlm):
 * processor, SigLIP vision tower with patch-mask position ids, pixel-shuffle connector, and
 * the architecture template wiring them to the Llama decoder of the llm plugin. */
#include "idefics3-elements.h"
#include "idefics3-resources.h"

static gboolean
idefics3_init (VlmPlugin *plugin, GError **error)
{
  g_autoptr (GBytes) pipeline = g_resource_lookup_data (idefics3_get_resource (),
                                                        "/org/vlm/idefics3/idefics3-pipeline.json",
                                                        G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (!pipeline)
    return FALSE;
  const char *json = g_bytes_get_data (pipeline, NULL);
  return vlm_plugin_register_element (plugin, "idefics3-processor", idefics3_processor_get_type (),
                                      error)
         && vlm_plugin_register_element (plugin, "siglip-vision", siglip_vision_get_type (), error)
         && vlm_plugin_register_element (plugin, "idefics3-connector",
                                         idefics3_connector_get_type (), error)
         && vlm_plugin_register_architecture (plugin, "idefics3", json, error)
         && vlm_plugin_register_architecture (plugin, "smolvlm", json, error);
}

VLM_PLUGIN_DEFINE ("idefics3", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Idefics3 / SmolVLM: processor, SigLIP tower, pixel-shuffle connector",
                   idefics3_init)
