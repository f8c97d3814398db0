/* plugin.c: the qwen2vl plugin: Qwen2-VL / Qwen2.5-VL (model types qwen2_vl and
 * qwen2_5_vl): processor (native resolution smart resize, merge-order patches,
 * <|image_pad|> expansion), vision tower with patch merger, M-RoPE position index,
 * and the architecture template wiring them to the llm plugin's decoder. */
#include "qwen2vl-elements.h"
#include "qwen2vl-resources.h"

static gboolean
qwen2vl_init (VlmPlugin *plugin, GError **error)
{
  g_autoptr (GBytes) pipeline = g_resource_lookup_data (qwen2vl_get_resource (),
                                                        "/org/vlm/qwen2vl/qwen2vl-pipeline.json",
                                                        G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (!pipeline)
    return FALSE;
  const char *json = g_bytes_get_data (pipeline, NULL);
  return vlm_plugin_register_element (plugin, "qwen2vl-processor", qwen2vl_processor_get_type (),
                                      error)
         && vlm_plugin_register_element (plugin, "qwen2vl-vision",
                                         qwen2vl_vision_element_get_type (), error)
         && vlm_plugin_register_element (plugin, "qwen2vl-rope-index",
                                         qwen2vl_rope_index_get_type (), error)
         && vlm_plugin_register_architecture (plugin, "qwen2_vl", json, error)
         && vlm_plugin_register_architecture (plugin, "qwen2_5_vl", json, error);
}

VLM_PLUGIN_DEFINE ("qwen2vl", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Qwen2-VL / Qwen2.5-VL: native-resolution patches, vision tower and merger, "
                   "M-RoPE positions", qwen2vl_init)
