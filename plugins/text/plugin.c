/* plugin.c: the text plugin: tokenizer and chat-template elements. */
#include "text.h"

static gboolean
text_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "tokenizer", vlm_tokenizer_element_get_type (), error)
         && vlm_plugin_register_element (plugin, "chat-template", vlm_chat_template_element_get_type (),
                                         error);
}

VLM_PLUGIN_DEFINE ("text", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Hugging Face tokenizers and Jinja chat templates", text_init)
