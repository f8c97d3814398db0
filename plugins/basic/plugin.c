/* plugin.c: the basic plugin: sinks and tensor utilities every pipeline can use. */
#include "basic.h"

static gboolean
basic_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "text-sink", vlm_text_sink_get_type (), error)
         && vlm_plugin_register_element (plugin, "tensor-info", vlm_tensor_info_get_type (), error)
         && vlm_plugin_register_element (plugin, "tensor-cast", vlm_tensor_cast_get_type (), error);
}

VLM_PLUGIN_DEFINE ("basic", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Text sink and tensor utilities", basic_init)
