/* text.h: element types of the text plugin. */
#pragma once

#include <vlm/vlm.h>

G_DECLARE_FINAL_TYPE (VlmTokenizerElement, vlm_tokenizer_element, VLM, TOKENIZER_ELEMENT, VlmElement)
G_DECLARE_FINAL_TYPE (VlmChatTemplateElement, vlm_chat_template_element, VLM, CHAT_TEMPLATE_ELEMENT,
                      VlmElement)
