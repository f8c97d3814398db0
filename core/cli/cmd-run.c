/* cmd-run.c: `vlm-pipeline run FILE.json`: run a pipeline, print its results. */
#include "vlm-cli.h"
#include "vlm-json-value.h"

#include <stdio.h>

typedef struct {
  gboolean json;
  GString *streamed;
} RunState;

static void
on_text (VlmPipeline *pipeline, const char *node, const char *text, RunState *state)
{
  if (state->json) {
    g_string_append (state->streamed, text);
    return;
  }
  fputs (text, stdout);
  fflush (stdout);
}

static void
print_json (VlmPipeline *pipeline, RunState *state)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, state->streamed->str);
  json_builder_set_member_name (b, "outputs");
  json_builder_begin_object (b);
  g_auto (GStrv) sinks = vlm_pipeline_list_sink_outputs (pipeline);
  for (guint i = 0; sinks[i]; i++) {
    const GValue *v = vlm_pipeline_get_value (pipeline, sinks[i]);
    if (!v)
      continue;
    json_builder_set_member_name (b, sinks[i]);
    json_builder_add_value (b, vlm_gvalue_to_json (v));
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, FALSE);
  printf ("%s\n", text);
}

int
vlm_cli_run (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  g_auto (GStrv) sets = NULL, images = NULL;
  g_autofree char *prompt = NULL, *system = NULL, *model = NULL;
  RunState state = { FALSE, g_string_new (NULL) };
  GOptionEntry entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Set a node property", "NODE.PROP=VALUE" },
    { "image", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &images, "An input image (repeatable)", "PATH" },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "The model folder or Hugging Face id (@model)", "DIR|HF_ID" },
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "The question (@prompt)", "TEXT" },
    { "system", 0, 0, G_OPTION_ARG_STRING, &system, "A system message (@system)", "TEXT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &state.json, "Print results as one JSON object", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE.json");
  g_option_context_set_summary (ctx, "Run a pipeline. Streamed text and sink results go to "
                                     "stdout, messages to stderr.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!vlm_cli_parse (ctx, &argc, &argv, &code)) {
    g_string_free (state.streamed, TRUE);
    return code;
  }
  if (argc != 2) {
    g_string_free (state.streamed, TRUE);
    return vlm_cli_usage_error (ctx, "run takes exactly one pipeline file");
  }
  GError *error = NULL;
  g_autoptr (VlmPipeline) pipeline = vlm_pipeline_new_from_file (argv[1], &error);
  if (!pipeline) {
    g_string_free (state.streamed, TRUE);
    return vlm_cli_fail (error);
  }
  for (guint i = 0; sets && sets[i]; i++)
    if (!vlm_pipeline_set_node_property (pipeline, sets[i], &error)) {
      g_string_free (state.streamed, TRUE);
      return vlm_cli_fail (error);
    }
  if (model && !vlm_pipeline_set_model (pipeline, model, &error)) {
    g_string_free (state.streamed, TRUE);
    return vlm_cli_fail (error);
  }
  if (prompt)
    vlm_pipeline_set_prompt (pipeline, prompt);
  if (system)
    vlm_pipeline_set_system (pipeline, system);
  if (images)
    vlm_pipeline_set_images (pipeline, (const char *const *) images);
  g_signal_connect (pipeline, "text", G_CALLBACK (on_text), &state);
  if (!vlm_pipeline_run (pipeline, NULL, &error)) {
    /* Failures while running are runtime errors even when an input was bad. */
    fflush (stdout);
    if (error->domain == VLM_ERROR && error->code == VLM_ERROR_INVALID)
      error->code = VLM_ERROR_FAILED;
    g_string_free (state.streamed, TRUE);
    return vlm_cli_fail (error);
  }
  if (state.json)
    print_json (pipeline, &state);
  g_string_free (state.streamed, TRUE);
  return VLM_EXIT_OK;
}
