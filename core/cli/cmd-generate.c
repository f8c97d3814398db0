/* cmd-generate.c: `vlm-pipeline generate`: one question about images, answered by the
 * pipeline the model's architecture plugin supplies (through VlmModel). */
#include "vlm-cli.h"

#include <stdio.h>
#include <sys/resource.h>

typedef struct {
  char *model, *prompt, *system, *dump;
  GStrv images, stop, sets;
  int max_tokens, top_k, seed;
  double temperature, top_p, min_p, repetition_penalty;
  gboolean ignore_eos, json;
} GenerateOptions;

static void
on_text (VlmModel *model, const char *text, gpointer data)
{
  fputs (text, stdout);
  fflush (stdout);
}

static VlmTensor *
find_output_tensor (VlmPipeline *pipeline, const char *port)
{
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  for (guint i = 0; ids[i]; i++) {
    const GValue *v = vlm_element_get_output (vlm_pipeline_get_element (pipeline, ids[i]), port);
    if (v && G_VALUE_HOLDS (v, VLM_TYPE_TENSOR) && g_value_get_boxed (v))
      return g_value_get_boxed (v);
  }
  return NULL;
}

/* The tensors a user compares with a reference when a checkpoint misbehaves. */
static gboolean
dump_tensors (VlmPipeline *pipeline, const char *path, GError **error)
{
  static const struct { const char *name; VlmDType dtype; } wanted[] = {
    { "input_ids", VLM_DTYPE_I64 }, { "pixel_values", VLM_DTYPE_F32 },
    { "image_features", VLM_DTYPE_F32 }, { "inputs_embeds", VLM_DTYPE_F32 },
    { "final_hidden", VLM_DTYPE_F32 }, { "logits_last", VLM_DTYPE_F32 },
  };
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  for (guint w = 0; w < G_N_ELEMENTS (wanted); w++) {
    VlmTensor *found = find_output_tensor (pipeline, wanted[w].name);
    if (!found)
      continue;
    g_autoptr (VlmTensor) t = vlm_tensor_to_dtype (found, wanted[w].dtype, error);
    if (!t)
      return FALSE;
    vlm_tensor_set_insert (set, wanted[w].name, t);
  }
  return vlm_safetensors_write (path, set, NULL, error);
}

/* The result's JSON plus what only the command knows: load time, image tokens, peak RSS. */
static void
print_json (VlmModel *model, VlmResult *result)
{
  g_autoptr (JsonNode) root = vlm_result_to_json (result);
  JsonObject *obj = json_node_get_object (root);
  json_object_set_double_member (json_object_get_object_member (obj, "timings"), "load_ms",
                                 vlm_model_get_load_ms (model));
  /* What the image cost: rows of image features merged into the prompt. */
  VlmTensor *features = find_output_tensor (vlm_model_get_pipeline (model), "image_features");
  json_object_set_int_member (obj, "image_tokens", features ? vlm_tensor_get_dim (features, 0) : 0);
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  json_object_set_double_member (obj, "peak_rss_mb", usage.ru_maxrss / 1024.0);
  g_autofree char *out = json_to_string (root, FALSE);
  printf ("%s\n", out);
}

static VlmGenerateParams *
make_params (GenerateOptions *o)
{
  VlmGenerateParams *p = vlm_generate_params_new ();
  /* Negative values mean "not given": the model's own settings apply. */
  if (o->max_tokens >= 0)
    g_object_set (p, "max-tokens", o->max_tokens, NULL);
  if (o->top_k >= 0)
    g_object_set (p, "top-k", o->top_k, NULL);
  if (o->seed >= 0)
    g_object_set (p, "seed", (gint64) o->seed, NULL);
  if (o->temperature >= 0)
    g_object_set (p, "temperature", o->temperature, NULL);
  if (o->top_p >= 0)
    g_object_set (p, "top-p", o->top_p, NULL);
  if (o->min_p >= 0)
    g_object_set (p, "min-p", o->min_p, NULL);
  if (o->repetition_penalty >= 0)
    g_object_set (p, "repetition-penalty", o->repetition_penalty, NULL);
  g_object_set (p, "ignore-eos", o->ignore_eos, "system", o->system, NULL);
  if (o->stop)
    g_object_set (p, "stop", o->stop, NULL);
  return p;
}

static int
generate (GenerateOptions *o)
{
  GError *error = NULL;
  g_autoptr (VlmModel) model = vlm_model_load (o->model, NULL, &error);
  if (!model)
    return vlm_cli_fail (error);
  for (guint i = 0; o->sets && o->sets[i]; i++)
    if (!vlm_pipeline_set_node_property (vlm_model_get_pipeline (model), o->sets[i], &error))
      return vlm_cli_fail (error);
  if (!o->json)
    g_signal_connect (model, "text", G_CALLBACK (on_text), NULL);
  g_autoptr (VlmGenerateParams) params = make_params (o);
  g_autoptr (VlmResult) result = vlm_model_generate (model, o->prompt,
                                                     (const char *const *) o->images, params,
                                                     NULL, &error);
  if (!result) {
    fflush (stdout);
    if (error->domain == VLM_ERROR && error->code == VLM_ERROR_INVALID)
      error->code = VLM_ERROR_FAILED; /* a bad input found while running is a runtime error */
    return vlm_cli_fail (error);
  }
  if (!o->json)
    printf ("\n");
  if (o->dump && !dump_tensors (vlm_model_get_pipeline (model), o->dump, &error))
    return vlm_cli_fail (error);
  if (o->json)
    print_json (model, result);
  return VLM_EXIT_OK;
}

int
vlm_cli_generate (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  GenerateOptions o = { .max_tokens = -1, .top_k = -1, .seed = -1, .temperature = -1,
                        .top_p = -1, .min_p = -1, .repetition_penalty = -1 };
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "Model folder or Hugging Face id (local cache)", "DIR|HF_ID" },
    { "image", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &o.images, "An image (repeatable; shown before the text)", "PATH" },
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &o.prompt, "The question", "TEXT" },
    { "system", 0, 0, G_OPTION_ARG_STRING, &o.system, "A system message", "TEXT" },
    { "max-tokens", 'n', 0, G_OPTION_ARG_INT, &o.max_tokens, "Most tokens to generate", "N" },
    { "temperature", 't', 0, G_OPTION_ARG_DOUBLE, &o.temperature, "Sampling temperature (0: greedy)", "T" },
    { "top-p", 0, 0, G_OPTION_ARG_DOUBLE, &o.top_p, "Nucleus sampling mass", "P" },
    { "top-k", 0, 0, G_OPTION_ARG_INT, &o.top_k, "Sample among the K most likely tokens", "K" },
    { "min-p", 0, 0, G_OPTION_ARG_DOUBLE, &o.min_p, "Drop tokens below P x the top probability", "P" },
    { "repetition-penalty", 0, 0, G_OPTION_ARG_DOUBLE, &o.repetition_penalty, "Penalise tokens already seen", "R" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &o.seed, "Random seed for sampling", "S" },
    { "stop", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.stop, "Stop at this text (repeatable)", "TEXT" },
    { "ignore-eos", 0, 0, G_OPTION_ARG_NONE, &o.ignore_eos, "Keep generating past end-of-sequence tokens", NULL },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &o.sets, "Set a property of the model's pipeline (see `inspect`), e.g. proc.max-pixels=200704", "NODE.PROP=VALUE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print one JSON line with text, tokens and timings", NULL },
    { "dump-tensors", 0, 0, G_OPTION_ARG_FILENAME, &o.dump, "Write input ids, pixel values, features, hidden states and logits", "FILE.safetensors" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Answer a question about images. The prompt becomes one user "
                                     "message (the images, then the text) rendered with the model's "
                                     "chat template; the answer streams to stdout.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (vlm_cli_parse (ctx, &argc, &argv, &code)) {
    if (!o.model || !o.prompt)
      code = vlm_cli_usage_error (ctx, "generate needs --model and --prompt");
    else if (argc > 1)
      code = vlm_cli_usage_error (ctx, "unexpected argument '%s'", argv[1]);
    else
      code = generate (&o);
  }
  g_free (o.model);
  g_free (o.prompt);
  g_free (o.system);
  g_free (o.dump);
  g_strfreev (o.images);
  g_strfreev (o.stop);
  g_strfreev (o.sets);
  return code;
}
