/* cmd-tokenize.c: `vlm-pipeline tokenize --model DIR --text TEXT`. */
#include "vlm-cli.h"

#include <json-glib/json-glib.h>

int
vlm_cli_tokenize (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  g_autofree char *model = NULL, *text = NULL;
  gboolean no_special = FALSE, as_json = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "model folder holding tokenizer.json", "DIR" },
    { "text", 't', 0, G_OPTION_ARG_STRING, &text, "text to encode", "TEXT" },
    { "no-special", 0, 0, G_OPTION_ARG_NONE, &no_special, "do not add special tokens (bos...)", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "print {\"ids\": [...], \"tokens\": [...]}", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Encode text with a model's tokenizer and print the token ids.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!vlm_cli_parse (ctx, &argc, &argv, &code)) return code;
  if (argc != 1) return vlm_cli_usage_error (ctx, "unexpected argument '%s'", argv[1]);
  if (!model || !text) return vlm_cli_usage_error (ctx, "--model and --text are required");

  GError *error = NULL;
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (model, &error);
  if (!tok) return vlm_cli_fail (error);
  gsize n;
  g_autofree gint32 *ids = vlm_tokenizer_encode (tok, text, !no_special, &n);
  g_auto (GStrv) tokens = vlm_tokenizer_encode_to_tokens (tok, text, !no_special);
  if (!as_json) {
    GString *line = g_string_new (NULL);
    for (gsize i = 0; i < n; i++) g_string_append_printf (line, "%s%d", i ? "," : "", ids[i]);
    g_print ("%s\n", line->str);
    g_string_free (line, TRUE);
    return VLM_EXIT_OK;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ids");
  json_builder_begin_array (b);
  for (gsize i = 0; i < n; i++) json_builder_add_int_value (b, ids[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "tokens");
  json_builder_begin_array (b);
  for (gsize i = 0; tokens[i]; i++) json_builder_add_string_value (b, tokens[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *out = json_to_string (root, FALSE);
  g_print ("%s\n", out);
  return VLM_EXIT_OK;
}
