/* cmd-generate.c: `vlm-pipeline generate`: one question about images, answered by the
 * pipeline the model's architecture plugin supplies. */
#include "vlm-cli.h"
#include "vlm-json-value.h"

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
on_text (VlmPipeline *pipeline, const char *node, const char *text, gpointer data)
{
  fputs (text, stdout);
  fflush (stdout);
}

static VlmElement *
find_by_kind (VlmPipeline *pipeline, VlmElementKind kind)
{
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  for (guint i = 0; ids[i]; i++) {
    VlmElement *e = vlm_pipeline_get_element (pipeline, ids[i]);
    if (vlm_element_class_get_kind (VLM_ELEMENT_GET_CLASS (e)) == kind)
      return e;
  }
  return NULL;
}

/* Sets a property only where the user gave a value (negative means "not given"). */
static void
set_if_given (VlmElement *e, const char *prop, double value, gboolean is_int)
{
  if (!e || value < 0 || !g_object_class_find_property (G_OBJECT_GET_CLASS (e), prop))
    return;
  if (is_int)
    g_object_set (e, prop, (int) value, NULL);
  else
    g_object_set (e, prop, value, NULL);
}

static double
elapsed_of_kinds (VlmPipeline *pipeline, const VlmElementKind *kinds, guint n)
{
  double ms = 0;
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  for (guint i = 0; ids[i]; i++) {
    VlmElement *e = vlm_pipeline_get_element (pipeline, ids[i]);
    VlmElementKind k = vlm_element_class_get_kind (VLM_ELEMENT_GET_CLASS (e));
    for (guint j = 0; j < n; j++)
      if (k == kinds[j])
        ms += vlm_element_get_elapsed_ms (e);
  }
  return ms;
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

static const GValue *
decoder_output (VlmElement *decoder, const char *port)
{
  return decoder ? vlm_element_get_output (decoder, port) : NULL;
}

static void
print_json (VlmPipeline *pipeline, VlmElement *decoder, double load_ms)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const GValue *text = decoder_output (decoder, "text");
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text ? g_value_get_string (text) : "");
  json_builder_set_member_name (b, "tokens");
  json_builder_begin_array (b);
  const GValue *tokens = decoder_output (decoder, "tokens");
  if (tokens) {
    VlmTensor *t = g_value_get_boxed (tokens);
    const gint64 *d = vlm_tensor_get_data (t);
    for (gint64 i = 0; i < vlm_tensor_get_numel (t); i++)
      json_builder_add_int_value (b, d[i]);
  }
  json_builder_end_array (b);

  /* The decoder's stats are a JSON object: prompt_tokens, finish_reason, prefill/decode. */
  const GValue *stats = decoder_output (decoder, "stats");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *s = NULL;
  if (stats && json_parser_load_from_data (parser, g_value_get_string (stats), -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    s = json_node_get_object (json_parser_get_root (parser));
  json_builder_set_member_name (b, "prompt_tokens");
  json_builder_add_int_value (b, s ? json_object_get_int_member_with_default (s, "prompt_tokens", 0) : 0);
  /* What the image cost: rows of image features merged into the prompt. */
  VlmTensor *features = find_output_tensor (pipeline, "image_features");
  json_builder_set_member_name (b, "image_tokens");
  json_builder_add_int_value (b, features ? vlm_tensor_get_dim (features, 0) : 0);
  json_builder_set_member_name (b, "finish_reason");
  json_builder_add_string_value (b, s ? json_object_get_string_member_with_default (s, "finish_reason", "length") : "length");

  static const VlmElementKind pre[] = { VLM_ELEMENT_KIND_IMAGE_LOADER, VLM_ELEMENT_KIND_PROCESSOR,
                                        VLM_ELEMENT_KIND_TOKENIZER, VLM_ELEMENT_KIND_OTHER };
  static const VlmElementKind vis[] = { VLM_ELEMENT_KIND_VISION_TOWER, VLM_ELEMENT_KIND_PROJECTOR };
  json_builder_set_member_name (b, "timings");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "load_ms");
  json_builder_add_double_value (b, load_ms);
  json_builder_set_member_name (b, "preprocess_ms");
  json_builder_add_double_value (b, elapsed_of_kinds (pipeline, pre, G_N_ELEMENTS (pre)));
  json_builder_set_member_name (b, "vision_ms");
  json_builder_add_double_value (b, elapsed_of_kinds (pipeline, vis, G_N_ELEMENTS (vis)));
  static const char *const decode_keys[] = { "prefill_ms", "decode_ms", "prefill_tokens_per_s",
                                             "decode_tokens_per_s" };
  for (guint i = 0; i < G_N_ELEMENTS (decode_keys); i++) {
    json_builder_set_member_name (b, decode_keys[i]);
    json_builder_add_double_value (b, s ? json_object_get_double_member_with_default (s, decode_keys[i], 0) : 0);
  }
  json_builder_end_object (b);
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  json_builder_set_member_name (b, "peak_rss_mb");
  json_builder_add_double_value (b, usage.ru_maxrss / 1024.0);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *out = json_to_string (root, FALSE);
  printf ("%s\n", out);
}

static int
generate (GenerateOptions *o)
{
  GError *error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autofree char *model = vlm_model_dir_resolve (o->model, &error);
  if (!model)
    return vlm_cli_fail (error);
  g_autoptr (VlmPipeline) pipeline = vlm_pipeline_new_for_model (model, &error);
  if (!pipeline)
    return vlm_cli_fail (error);
  vlm_pipeline_set_prompt (pipeline, o->prompt);
  vlm_pipeline_set_system (pipeline, o->system);
  vlm_pipeline_set_images (pipeline, (const char *const *) o->images);

  for (guint i = 0; o->sets && o->sets[i]; i++)
    if (!vlm_pipeline_set_node_property (pipeline, o->sets[i], &error))
      return vlm_cli_fail (error);
  VlmElement *decoder = find_by_kind (pipeline, VLM_ELEMENT_KIND_DECODER);
  VlmElement *sampler = find_by_kind (pipeline, VLM_ELEMENT_KIND_SAMPLER);
  set_if_given (decoder, "max-tokens", o->max_tokens, TRUE);
  if (decoder) {
    g_object_set (decoder, "ignore-eos", o->ignore_eos, "stream", !o->json, NULL);
    if (o->stop)
      g_object_set (decoder, "stop", o->stop, NULL);
  }
  set_if_given (sampler, "temperature", o->temperature, FALSE);
  set_if_given (sampler, "top-p", o->top_p, FALSE);
  set_if_given (sampler, "min-p", o->min_p, FALSE);
  set_if_given (sampler, "repetition-penalty", o->repetition_penalty, FALSE);
  set_if_given (sampler, "top-k", o->top_k, TRUE);
  set_if_given (sampler, "seed", o->seed, TRUE);

  if (!vlm_pipeline_prepare (pipeline, &error))
    return vlm_cli_fail (error);
  double load_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  if (!o->json)
    g_signal_connect (pipeline, "text", G_CALLBACK (on_text), NULL);
  if (!vlm_pipeline_run (pipeline, NULL, &error)) {
    fflush (stdout);
    if (error->domain == VLM_ERROR && error->code == VLM_ERROR_INVALID)
      error->code = VLM_ERROR_FAILED; /* a bad input found while running is a runtime error */
    return vlm_cli_fail (error);
  }
  if (!o->json)
    printf ("\n");
  if (o->dump && !dump_tensors (pipeline, o->dump, &error))
    return vlm_cli_fail (error);
  if (o->json)
    print_json (pipeline, decoder, load_ms);
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
