/* chat-template-element.c: "chat-template": renders one user turn (images
 * first, then the prompt; an optional system message) with the model's chat
 * template and the generation prompt, as the model's processor expects. */
#include "text.h"

struct _VlmChatTemplateElement {
  VlmElement parent;
  char *model;
  char *loaded_from;
  gboolean generation_prompt;
  VlmChatTemplate *tmpl;
};

G_DEFINE_FINAL_TYPE (VlmChatTemplateElement, vlm_chat_template_element, VLM_TYPE_ELEMENT)

enum { PROP_0, PROP_MODEL, PROP_GENERATION_PROMPT, N_PROPS };

static void
add_text_item (JsonBuilder *b, const char *text)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "text");
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
}

/* [{"role": "system", ...}, {"role": "user", "content": [images..., text]}] */
static JsonNode *
build_messages (const char *system, const char *prompt, guint n_images)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  if (system) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "role");
    json_builder_add_string_value (b, "system");
    json_builder_set_member_name (b, "content");
    json_builder_begin_array (b);
    add_text_item (b, system);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, "user");
  json_builder_set_member_name (b, "content");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_images; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "image");
    json_builder_end_object (b);
  }
  add_text_item (b, prompt);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

/* The folder comes from the "model" input (linked to @model) or else the property; the
 * template is loaded once per folder. */
static gboolean
chat_template_element_prepare (VlmElement *element, GError **error)
{
  VlmChatTemplateElement *self = VLM_CHAT_TEMPLATE_ELEMENT (element);
  const char *model = vlm_element_get_input_string (element, "model");
  if (!model)
    model = self->model;
  if (!model) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "link input \"model\" or set property \"model\" (a folder with a chat template)");
    return FALSE;
  }
  if (self->tmpl && !g_strcmp0 (self->loaded_from, model))
    return TRUE;
  g_clear_object (&self->tmpl);
  self->tmpl = vlm_chat_template_new_from_dir (model, NULL, error);
  if (!self->tmpl)
    return FALSE;
  g_free (self->loaded_from);
  self->loaded_from = g_strdup (model);
  return TRUE;
}

static gboolean
chat_template_element_process (VlmElement *element, GError **error)
{
  VlmChatTemplateElement *self = VLM_CHAT_TEMPLATE_ELEMENT (element);
  if (!chat_template_element_prepare (element, error))
    return FALSE;
  const char *prompt = vlm_element_get_input_string (element, "prompt");
  const char *system = vlm_element_get_input_string (element, "system");
  VlmTensorSet *images = vlm_element_has_input (element, "images")
                         ? vlm_element_get_input_tensor_set (element, "images") : NULL;
  g_autoptr (JsonNode) messages = build_messages (system, prompt ? prompt : "",
                                                  images ? vlm_tensor_set_get_size (images) : 0);
  g_autofree char *text = vlm_chat_template_render (self->tmpl, messages, self->generation_prompt, NULL, error);
  if (!text) return FALSE;
  vlm_element_set_output_string (element, "text", text);
  return TRUE;
}

static void
chat_template_element_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  VlmChatTemplateElement *self = VLM_CHAT_TEMPLATE_ELEMENT (object);
  switch (id) {
  case PROP_MODEL:
    g_free (self->model);
    self->model = g_value_dup_string (value);
    g_clear_object (&self->tmpl);
    g_clear_pointer (&self->loaded_from, g_free);
    break;
  case PROP_GENERATION_PROMPT: self->generation_prompt = g_value_get_boolean (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
chat_template_element_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmChatTemplateElement *self = VLM_CHAT_TEMPLATE_ELEMENT (object);
  switch (id) {
  case PROP_MODEL: g_value_set_string (value, self->model); break;
  case PROP_GENERATION_PROMPT: g_value_set_boolean (value, self->generation_prompt); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
chat_template_element_finalize (GObject *object)
{
  VlmChatTemplateElement *self = VLM_CHAT_TEMPLATE_ELEMENT (object);
  g_free (self->model);
  g_free (self->loaded_from);
  g_clear_object (&self->tmpl);
  G_OBJECT_CLASS (vlm_chat_template_element_parent_class)->finalize (object);
}

static void
vlm_chat_template_element_class_init (VlmChatTemplateElementClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = chat_template_element_set_property;
  oc->get_property = chat_template_element_get_property;
  oc->finalize = chat_template_element_finalize;
  ec->process = chat_template_element_process;
  ec->prepare = chat_template_element_prepare;
  g_object_class_install_property (oc, PROP_MODEL,
      g_param_spec_string ("model", "Model",
                           "Model folder (chat_template.jinja > chat_template.json > tokenizer_config.json)",
                           NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_GENERATION_PROMPT,
      g_param_spec_boolean ("add-generation-prompt", "Add generation prompt",
                            "Open the assistant's turn after the user message", TRUE,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Chat template",
                                  "Renders a user turn with the model's Jinja chat template");
  vlm_element_class_add_port (ec, "model", VLM_PORT_INPUT, G_TYPE_STRING, VLM_PORT_FLAG_OPTIONAL,
                              "model folder (instead of the property)");
  vlm_element_class_add_port (ec, "prompt", VLM_PORT_INPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
                              "the user's text");
  vlm_element_class_add_port (ec, "system", VLM_PORT_INPUT, G_TYPE_STRING, VLM_PORT_FLAG_OPTIONAL,
                              "a system message");
  vlm_element_class_add_port (ec, "images", VLM_PORT_INPUT, VLM_TYPE_TENSOR_SET, VLM_PORT_FLAG_OPTIONAL,
                              "the images; one image item per tensor precedes the text");
  vlm_element_class_add_port (ec, "text", VLM_PORT_OUTPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
                              "the rendered prompt");
}

static void
vlm_chat_template_element_init (VlmChatTemplateElement *self)
{
  self->generation_prompt = TRUE;
}
