/* vlm-chat-template.h: Jinja chat templates of Hugging Face model folders. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VLM_TYPE_CHAT_TEMPLATE (vlm_chat_template_get_type ())
G_DECLARE_FINAL_TYPE (VlmChatTemplate, vlm_chat_template, VLM, CHAT_TEMPLATE, GObject)

VlmChatTemplate *vlm_chat_template_new_from_string (const char *source, const char *name,
                                                    GError **error);
VlmChatTemplate *vlm_chat_template_new_from_dir (const char *dir, const char *template_name,
                                                 GError **error);

char        *vlm_chat_template_render (VlmChatTemplate *self, JsonNode *messages,
                                       gboolean add_generation_prompt, JsonObject *extra,
                                       GError **error);
const char  *vlm_chat_template_get_name (VlmChatTemplate *self);
const char  *vlm_chat_template_get_source (VlmChatTemplate *self);
JsonObject  *vlm_chat_template_get_special_tokens (VlmChatTemplate *self);

G_END_DECLS
