/* plugin.c: the qwen2vl plugin: Qwen2-VL / Qwen2.5-VL processor (native
 * resolution smart resize, merge-order patches, <|image_pad|> expansion). */
#include "qwen2vl-elements.h"

static gboolean
qwen2vl_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "qwen2vl-processor", qwen2vl_processor_get_type (),
                                      error);
}

VLM_PLUGIN_DEFINE ("qwen2vl", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Qwen2-VL / Qwen2.5-VL: native-resolution image patches and prompt expansion",
                   qwen2vl_init)
