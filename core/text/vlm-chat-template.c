/* vlm-chat-template.c: finds a model folder's chat template
 * (chat_template.jinja > chat_template.json > tokenizer_config.json), parses it
 * once and renders conversations the way transformers' apply_chat_template does. */
#include "vlm/vlm-chat-template.h"

#include "text/jinja-private.h"
#include "vlm/vlm-error.h"

#include <string.h>

struct _VlmChatTemplate {
  GObject parent_instance;
  char *name;
  char *source;
  JTemplate *tmpl;
  JsonObject *special;     /* bos_token, eos_token, ... from the folder (may be empty) */
};

G_DEFINE_FINAL_TYPE (VlmChatTemplate, vlm_chat_template, G_TYPE_OBJECT)

static void
vlm_chat_template_finalize (GObject *object)
{
  VlmChatTemplate *self = VLM_CHAT_TEMPLATE (object);
  g_free (self->name);
  g_free (self->source);
  jinja_template_free (self->tmpl);
  json_object_unref (self->special);
  G_OBJECT_CLASS (vlm_chat_template_parent_class)->finalize (object);
}

static void
vlm_chat_template_class_init (VlmChatTemplateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_chat_template_finalize;
}

static void
vlm_chat_template_init (VlmChatTemplate *self)
{
  self->special = json_object_new ();
}

/**
 * vlm_chat_template_new_from_string:
 * @source: Jinja template source
 * @name: a name used in error messages (a file name, say)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the parsed template, or %NULL with @error set
 *   (naming @name and the line)
 */
VlmChatTemplate *
vlm_chat_template_new_from_string (const char *source, const char *name, GError **error)
{
  g_return_val_if_fail (source != NULL, NULL);
  if (!name) name = "(string)";
  JTemplate *t = jinja_template_parse (source, name, error);
  if (!t) return NULL;
  VlmChatTemplate *self = g_object_new (VLM_TYPE_CHAT_TEMPLATE, NULL);
  self->name = g_strdup (name);
  self->source = g_strdup (source);
  self->tmpl = t;
  return self;
}

static JsonNode *
vlm_load_json (const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *local = NULL;
  if (!json_parser_load_from_file (parser, path, &local)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: %s", path, local->message);
    g_error_free (local);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: the top level must be an object", path);
    return NULL;
  }
  return json_node_copy (root);
}

/* The template source in a chat_template.json or tokenizer_config.json node:
 * a string, or a list of {"name", "template"} where @want (or "default") is taken. */
static char *
vlm_pick_template (JsonNode *node, const char *path, const char *want, GError **error)
{
  if (node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING) {
    if (want && strcmp (want, "default") != 0) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "%s: no chat template named \"%s\"", path, want);
      return NULL;
    }
    return g_strdup (json_node_get_string (node));
  }
  if (node && JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *list = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (list); i++) {
      JsonNode *item = json_array_get_element (list, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;
      const char *name = o ? json_object_get_string_member_with_default (o, "name", NULL) : NULL;
      const char *tmpl = o ? json_object_get_string_member_with_default (o, "template", NULL) : NULL;
      if (name && tmpl && strcmp (name, want ? want : "default") == 0) return g_strdup (tmpl);
    }
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "%s: no chat template named \"%s\"", path,
                 want ? want : "default");
    return NULL;
  }
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
               "%s: \"chat_template\" must be a string or a list of named templates", path);
  return NULL;
}

/* Special tokens as transformers passes them to templates; tokenizer_config.json wins. */
static void
vlm_chat_template_load_special (VlmChatTemplate *self, const char *dir)
{
  static const char *files[] = { "special_tokens_map.json", "tokenizer_config.json" };
  static const char *keys[] = { "bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
                                "cls_token", "mask_token", "additional_special_tokens" };
  for (guint f = 0; f < G_N_ELEMENTS (files); f++) {
    g_autofree char *path = g_build_filename (dir, files[f], NULL);
    if (!g_file_test (path, G_FILE_TEST_EXISTS)) continue;
    JsonNode *root = vlm_load_json (path, NULL);
    if (!root) continue;
    JsonObject *o = json_node_get_object (root);
    for (guint k = 0; k < G_N_ELEMENTS (keys); k++) {
      JsonNode *v = json_object_get_member (o, keys[k]);
      if (!v) continue;
      if (JSON_NODE_HOLDS_OBJECT (v)) {
        const char *content = json_object_get_string_member_with_default (json_node_get_object (v), "content", NULL);
        if (content) json_object_set_string_member (self->special, keys[k], content);
      } else {
        json_object_set_member (self->special, keys[k], json_node_copy (v));
      }
    }
    json_node_unref (root);
  }
}

/**
 * vlm_chat_template_new_from_dir:
 * @dir: a model folder
 * @template_name: (nullable): which named template of a list (%NULL: "default")
 * @error: return location for a #GError
 *
 * Loads the chat template of a model folder, taking `chat_template.jinja`,
 * else `chat_template.json`, else the `chat_template` of `tokenizer_config.json`,
 * and the folder's special tokens (bos_token, eos_token...) as render defaults.
 *
 * Returns: (transfer full): the template, or %NULL with @error set
 */
VlmChatTemplate *
vlm_chat_template_new_from_dir (const char *dir, const char *template_name, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);
  g_autofree char *jinja = g_build_filename (dir, "chat_template.jinja", NULL);
  g_autofree char *json = g_build_filename (dir, "chat_template.json", NULL);
  g_autofree char *config = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_autofree char *source = NULL;
  const char *from = NULL;
  if (g_file_test (jinja, G_FILE_TEST_EXISTS)) {
    GError *local = NULL;
    if (!g_file_get_contents (jinja, &source, NULL, &local)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s", local->message);
      g_error_free (local);
      return NULL;
    }
    from = jinja;
  } else {
    const char *files[] = { json, config };
    for (guint i = 0; i < 2 && !from; i++) {
      if (!g_file_test (files[i], G_FILE_TEST_EXISTS)) continue;
      JsonNode *root = vlm_load_json (files[i], error);
      if (!root) return NULL;
      JsonNode *t = json_object_get_member (json_node_get_object (root), "chat_template");
      if (t) {
        source = vlm_pick_template (t, files[i], template_name, error);
        from = files[i];
      }
      json_node_unref (root);
      if (from && !source) return NULL;
    }
  }
  if (!from) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND,
                 "%s: no chat template (chat_template.jinja, chat_template.json or tokenizer_config.json)", dir);
    return NULL;
  }
  if (!g_utf8_validate (source, -1, NULL)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: the template is not valid UTF-8", from);
    return NULL;
  }
  VlmChatTemplate *self = vlm_chat_template_new_from_string (source, from, error);
  if (self) vlm_chat_template_load_special (self, dir);
  return self;
}

/**
 * vlm_chat_template_render:
 * @self: a #VlmChatTemplate
 * @messages: a JSON array of `{"role", "content"}` messages (content a string
 *   or a list of `{"type": "text"|"image", ...}` items)
 * @add_generation_prompt: append the assistant turn opener
 * @extra: (nullable): more variables (bos_token, eos_token, tools...), overriding
 *   the folder's special tokens
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the rendered prompt, or %NULL with @error set
 *   (template name, line and construct; raise_exception() messages included)
 */
char *
vlm_chat_template_render (VlmChatTemplate *self, JsonNode *messages,
                          gboolean add_generation_prompt, JsonObject *extra, GError **error)
{
  g_return_val_if_fail (VLM_IS_CHAT_TEMPLATE (self) && messages != NULL, NULL);
  if (!JSON_NODE_HOLDS_ARRAY (messages)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "template %s: messages must be a list", self->name);
    return NULL;
  }
  g_autoptr (JValue) vars = jv_dict_new ();
  jv_dict_set (vars, "tools", jv_none ());
  jv_dict_set (vars, "documents", jv_none ());
  JsonObject *sources[] = { self->special, extra };
  for (guint s = 0; s < 2; s++) {
    if (!sources[s]) continue;
    GList *members = json_object_get_members (sources[s]);
    for (GList *l = members; l; l = l->next)
      jv_dict_set (vars, l->data, jv_from_json (json_object_get_member (sources[s], l->data)));
    g_list_free (members);
  }
  jv_dict_set (vars, "messages", jv_from_json (messages));
  jv_dict_set (vars, "add_generation_prompt", jv_bool (add_generation_prompt));
  return jinja_template_render (self->tmpl, vars, error);
}

/**
 * vlm_chat_template_get_name:
 * @self: a #VlmChatTemplate
 *
 * Returns: the name given at creation (the file it came from, for a folder)
 */
const char *
vlm_chat_template_get_name (VlmChatTemplate *self)
{
  g_return_val_if_fail (VLM_IS_CHAT_TEMPLATE (self), NULL);
  return self->name;
}

/**
 * vlm_chat_template_get_source:
 * @self: a #VlmChatTemplate
 *
 * Returns: the template source
 */
const char *
vlm_chat_template_get_source (VlmChatTemplate *self)
{
  g_return_val_if_fail (VLM_IS_CHAT_TEMPLATE (self), NULL);
  return self->source;
}

/**
 * vlm_chat_template_get_special_tokens:
 * @self: a #VlmChatTemplate
 *
 * Returns: (transfer none): the special tokens read from the model folder
 *   (bos_token, eos_token...), used as defaults by vlm_chat_template_render()
 */
JsonObject *
vlm_chat_template_get_special_tokens (VlmChatTemplate *self)
{
  g_return_val_if_fail (VLM_IS_CHAT_TEMPLATE (self), NULL);
  return self->special;
}
