/* plugin.c: the llava plugin: LLaVA-1.5's processor (CLIP image processing and
 * <image> expansion), the CLIP tower read at vision_feature_layer, the MLP projector,
 * and the architecture template wiring them to the Llama decoder of the llm plugin. */
#include "llava-elements.h"
#include "llava-resources.h"

static gboolean
llava_init (VlmPlugin *plugin, GError **error)
{
  g_autoptr (GBytes) pipeline = g_resource_lookup_data (llava_get_resource (),
                                                        "/org/vlm/llava/llava-pipeline.json",
                                                        G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (!pipeline)
    return FALSE;
  return vlm_plugin_register_element (plugin, "llava-processor", llava_processor_get_type (),
                                      error)
         && vlm_plugin_register_element (plugin, "clip-vision", clip_vision_get_type (), error)
         && vlm_plugin_register_element (plugin, "llava-projector", llava_projector_get_type (),
                                         error)
         && vlm_plugin_register_architecture (plugin, "llava", g_bytes_get_data (pipeline, NULL),
                                              error);
}

VLM_PLUGIN_DEFINE ("llava", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "LLaVA: CLIP image processing, CLIP tower, MLP projector", llava_init)
