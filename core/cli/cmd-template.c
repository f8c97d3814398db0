/* cmd-template.c: `vlm-pipeline template --model DIR --messages FILE.json`. */
#include "vlm-cli.h"

#include <json-glib/json-glib.h>

int
vlm_cli_template (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  g_autofree char *model = NULL, *messages_path = NULL;
  gboolean no_prompt = FALSE, as_json = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "model folder holding the chat template", "DIR" },
    { "messages", 0, 0, G_OPTION_ARG_FILENAME, &messages_path,
      "JSON list of {\"role\", \"content\"} messages", "FILE.json" },
    { "no-generation-prompt", 0, 0, G_OPTION_ARG_NONE, &no_prompt,
      "do not open the assistant's turn", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "print {\"text\": \"...\"}", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Render a conversation with a model's chat template "
                                     "(chat_template.jinja > chat_template.json > tokenizer_config.json).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!vlm_cli_parse (ctx, &argc, &argv, &code)) return code;
  if (argc != 1) return vlm_cli_usage_error (ctx, "unexpected argument '%s'", argv[1]);
  if (!model || !messages_path) return vlm_cli_usage_error (ctx, "--model and --messages are required");

  GError *error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, messages_path, &error)) {
    GError *e = g_error_new (VLM_ERROR, VLM_ERROR_INVALID, "%s: %s", messages_path, error->message);
    g_error_free (error);
    return vlm_cli_fail (e);
  }
  JsonNode *messages = json_parser_get_root (parser);
  if (!messages || !JSON_NODE_HOLDS_ARRAY (messages))
    return vlm_cli_fail (g_error_new (VLM_ERROR, VLM_ERROR_INVALID,
                                      "%s: expected a JSON list of messages", messages_path));
  g_autoptr (VlmChatTemplate) tmpl = vlm_chat_template_new_from_dir (model, NULL, &error);
  if (!tmpl) return vlm_cli_fail (error);
  g_autofree char *text = vlm_chat_template_render (tmpl, messages, !no_prompt, NULL, &error);
  if (!text) return vlm_cli_fail (error);
  if (!as_json) {
    g_print ("%s", text);
    return VLM_EXIT_OK;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *out = json_to_string (root, FALSE);
  g_print ("%s\n", out);
  return VLM_EXIT_OK;
}
