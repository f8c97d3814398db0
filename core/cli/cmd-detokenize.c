/* cmd-detokenize.c: `vlm-pipeline detokenize --model DIR --ids 1,2,3`. */
#include "vlm-cli.h"

#include <stdlib.h>

int
vlm_cli_detokenize (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  g_autofree char *model = NULL, *ids_arg = NULL;
  gboolean skip_special = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "model folder holding tokenizer.json", "DIR" },
    { "ids", 'i', 0, G_OPTION_ARG_STRING, &ids_arg, "comma-separated token ids", "1,2,3" },
    { "skip-special", 0, 0, G_OPTION_ARG_NONE, &skip_special, "leave out special tokens", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Decode token ids with a model's tokenizer and print the text.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!vlm_cli_parse (ctx, &argc, &argv, &code)) return code;
  if (argc != 1) return vlm_cli_usage_error (ctx, "unexpected argument '%s'", argv[1]);
  if (!model || !ids_arg) return vlm_cli_usage_error (ctx, "--model and --ids are required");

  g_auto (GStrv) parts = g_strsplit (ids_arg, ",", -1);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (int i = 0; parts[i]; i++) {
    g_strstrip (parts[i]);
    if (!*parts[i] && !parts[i + 1] && i > 0) break;     /* a trailing comma */
    gint64 v;
    if (!g_ascii_string_to_signed (parts[i], 10, 0, G_MAXINT32, &v, NULL))
      return vlm_cli_usage_error (ctx, "--ids: '%s' is not a token id", parts[i]);
    gint32 id = v;
    g_array_append_val (ids, id);
  }
  GError *error = NULL;
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (model, &error);
  if (!tok) return vlm_cli_fail (error);
  g_autofree char *text = vlm_tokenizer_decode (tok, (gint32 *) ids->data, ids->len, skip_special, &error);
  if (!text) return vlm_cli_fail (error);
  g_print ("%s\n", text);
  return VLM_EXIT_OK;
}
