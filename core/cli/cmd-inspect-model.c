/* cmd-inspect-model.c: `vlm-pipeline inspect-model DIR|HF_ID [--tensors]`. */
#include "vlm-cli.h"

static void
print_section (VlmModelDir *md, const char *label, const char *section)
{
  const char *keys[] = { "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                         "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
                         "image_size", "patch_size" };
  g_print ("%s:", label);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    JsonNode *n = vlm_model_dir_lookup (md, section, keys[i]);
    if (!n || !JSON_NODE_HOLDS_VALUE (n))
      continue;
    if (json_node_get_value_type (n) == G_TYPE_STRING)
      g_print (" %s=%s", keys[i], json_node_get_string (n));
    else if (json_node_get_value_type (n) == G_TYPE_INT64)
      g_print (" %s=%" G_GINT64_FORMAT, keys[i], json_node_get_int (n));
  }
  g_print ("\n");
}

int
vlm_cli_inspect_model (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  gboolean tensors = FALSE;
  GOptionEntry entries[] = {
    { "tensors", 't', 0, G_OPTION_ARG_NONE, &tensors, "List every tensor (name, dtype, shape)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("DIR|HF_ID");
  g_option_context_set_summary (ctx, "Summarise a model folder (or a Hugging Face id in the local "
                                     "cache): architecture, sizes, quantization and weights.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!vlm_cli_parse (ctx, &argc, &argv, &code))
    return code;
  if (argc != 2)
    return vlm_cli_usage_error (ctx, "inspect-model takes exactly one model folder or id");
  GError *error = NULL;
  g_autoptr (VlmModelDir) md = vlm_model_dir_new (argv[1], &error);
  if (!md)
    return vlm_cli_fail (error);
  VlmSafetensors *st = vlm_model_dir_get_weights (md, &error);
  if (!st)
    return vlm_cli_fail (error);

  JsonNode *arch = vlm_model_dir_lookup (md, NULL, "architectures");
  const char *arch_name = arch && JSON_NODE_HOLDS_ARRAY (arch)
                            && json_array_get_length (json_node_get_array (arch)) > 0
                            ? json_array_get_string_element (json_node_get_array (arch), 0) : "?";
  g_print ("path: %s\n", vlm_model_dir_get_path (md));
  g_print ("model_type: %s\n", vlm_model_dir_get_model_type (md) ? vlm_model_dir_get_model_type (md) : "?");
  g_print ("architecture: %s\n", arch_name ? arch_name : "?");
  print_section (md, "text", "text_config");
  if (vlm_model_dir_lookup (md, NULL, "vision_config"))
    print_section (md, "vision", "vision_config");
  int gs, bits;
  if (vlm_model_dir_get_quantization (md, &gs, &bits))
    g_print ("quantization: %d-bit, group size %d\n", bits, gs);
  else
    g_print ("quantization: none\n");
  g_print ("weights: %u tensors in %u file(s), %" G_GUINT64_FORMAT " bytes, format %s\n",
           vlm_safetensors_get_n_tensors (st), vlm_safetensors_get_n_files (st),
           vlm_safetensors_get_total_bytes (st),
           vlm_safetensors_get_metadata (st, "format") ? vlm_safetensors_get_metadata (st, "format") : "?");
  if (tensors) {
    g_auto (GStrv) names = vlm_safetensors_list_names (st);
    for (guint i = 0; names[i]; i++) {
      g_autoptr (VlmTensor) t = vlm_safetensors_get_tensor (st, names[i], &error);
      if (!t)
        return vlm_cli_fail (error);
      g_autofree char *d = vlm_tensor_describe (t);
      g_print ("  %s\n", d);
    }
  }
  return VLM_EXIT_OK;
}
