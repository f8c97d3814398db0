/* cmd-validate.c: `vlm-pipeline validate FILE.json`. */
#include "vlm-cli.h"

int
vlm_cli_validate (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE.json");
  g_option_context_set_summary (ctx, "Check a pipeline (syntax, elements, properties, links, "
                                     "port types, cycles) without running it.");
  if (!vlm_cli_parse (ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vlm_cli_usage_error (ctx, "validate takes exactly one pipeline file");
  GError *error = NULL;
  g_autoptr (VlmPipeline) pipeline = vlm_pipeline_new_from_file (argv[1], &error);
  if (!pipeline) {
    /* An unreadable file is a runtime error; anything wrong inside it is invalid. */
    if (!g_error_matches (error, VLM_ERROR, VLM_ERROR_IO))
      error->code = VLM_ERROR_INVALID;
    return vlm_cli_fail (error);
  }
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  g_autofree char *order = g_strjoinv (" -> ", ids);
  g_print ("%s: valid, %u nodes: %s\n", argv[1], g_strv_length (ids), order);
  return VLM_EXIT_OK;
}
