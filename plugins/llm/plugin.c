/* plugin.c: the llm plugin: the Llama-family decoder with generation, and the sampler. */
#include "llm.h"

static gboolean
llm_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "llama-decoder", vlm_llama_decoder_get_type (),
                                      error)
         && vlm_plugin_register_element (plugin, "sampler", vlm_sampler_element_get_type (), error);
}

VLM_PLUGIN_DEFINE ("llm", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Llama-family text decoder with KV-cache generation, and token sampling",
                   llm_init)
