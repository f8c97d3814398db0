/* cmd-convert.c: `vlm-pipeline convert`: rewrites a model folder in the layout of
 * mlx-community checkpoints (mlx-vlm's names, conv kernels [O, kH, kW, I]), optionally
 * with MLX affine-quantized Linear and Embedding weights, which the loader reads back.
 *
 * Like mlx-vlm's convert, a module is quantized when its weight is 2-D (a Linear or an
 * Embedding, position embeddings included) and its input width is a multiple of the
 * group size; norms, biases and convolutions stay dense. --skip-vision leaves the
 * vision tower dense too. */
#include "vlm-cli.h"
#include "compute/quantize.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  char *model, *out, *dtype_name;
  int bits, group_size;
  gboolean skip_vision;
  VlmDType dtype;
} ConvertOptions;

/* Hugging Face prefixes and their mlx-vlm names (first match wins). */
static const struct { const char *hf, *mlx; } renames[] = {
  { "model.text_model.", "language_model." },
  { "language_model.model.", "language_model." },
  { "model.language_model.", "language_model." },
  { "lm_head.", "language_model.lm_head." },
  { "model.vision_model.", "vision_model." },
  { "model.connector.", "connector." },
  { "model.multi_modal_projector.", "multi_modal_projector." },
};

static char *
mlx_name (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (renames); i++)
    if (g_str_has_prefix (name, renames[i].hf))
      return g_strconcat (renames[i].mlx, name + strlen (renames[i].hf), NULL);
  return g_strdup (name);
}

static gboolean
insert_as (VlmTensorSet *set, const char *name, VlmTensor *t, VlmDType dtype, GError **error)
{
  g_autoptr (VlmTensor) c = vlm_tensor_to_dtype (t, dtype, error);
  if (!c)
    return FALSE;
  g_autoptr (VlmTensor) cc = vlm_tensor_contiguous (c);
  vlm_tensor_set_insert (set, name, cc);
  return TRUE;
}

static VlmTensor *
f32_tensor (gint64 rows, gint64 cols, const float *data)
{
  return vlm_tensor_new_from_data (VLM_DTYPE_F32, 2, (gint64[]) { rows, cols }, data,
                                   (gsize) (rows * cols) * sizeof (float), NULL);
}

/* name.weight [out, in] -> name.weight U32 codes, name.scales, name.biases. */
static gboolean
quantize_into (VlmTensorSet *set, const char *module, VlmTensor *w, ConvertOptions *o,
               GError **error)
{
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (w, VLM_DTYPE_F32, error);
  if (!f)
    return FALSE;
  g_autoptr (VlmTensor) fc = vlm_tensor_contiguous (f);
  gint64 rows = vlm_tensor_get_dim (fc, 0), cols = vlm_tensor_get_dim (fc, 1);
  gint64 words = cols * o->bits / 32, groups = cols / o->group_size;
  g_autoptr (VlmTensor) q = vlm_tensor_new (VLM_DTYPE_U32, 2, (gint64[]) { rows, words });
  g_autofree float *scales = g_new (float, rows * groups);
  g_autofree float *biases = g_new (float, rows * groups);
  const float *src = vlm_tensor_get_data (fc);
  guint32 *dst = vlm_tensor_get_data_mut (q);
  for (gint64 r = 0; r < rows; r++)
    vlm_quantize_affine_row (src + r * cols, cols, o->bits, o->group_size, dst + r * words,
                             scales + r * groups, biases + r * groups);
  g_autofree char *wn = g_strconcat (module, ".weight", NULL);
  g_autofree char *sn = g_strconcat (module, ".scales", NULL);
  g_autofree char *bn = g_strconcat (module, ".biases", NULL);
  vlm_tensor_set_insert (set, wn, q);
  g_autoptr (VlmTensor) st = f32_tensor (rows, groups, scales);
  g_autoptr (VlmTensor) bt = f32_tensor (rows, groups, biases);
  return insert_as (set, sn, st, o->dtype, error) && insert_as (set, bn, bt, o->dtype, error);
}

static gboolean
convert_tensor (VlmTensorSet *out, const char *name, VlmTensor *t, ConvertOptions *o,
                GError **error)
{
  g_autofree char *n = mlx_name (name);
  guint nd = vlm_tensor_get_ndim (t);
  if (!vlm_dtype_is_float (vlm_tensor_get_dtype (t))) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s: %s is not a float tensor (convert reads dense checkpoints)", name,
                 vlm_dtype_name (vlm_tensor_get_dtype (t)));
    return FALSE;
  }
  if (nd == 4) {
    /* conv kernels: [O, I, kH, kW] -> [O, kH, kW, I] */
    g_autoptr (VlmTensor) p = vlm_tensor_permute (t, (const guint[]) { 0, 2, 3, 1 }, 4, error);
    return p && insert_as (out, n, p, o->dtype, error);
  }
  gboolean vision = g_str_has_prefix (n, "vision_model.");
  if (o->bits && nd == 2 && g_str_has_suffix (n, ".weight")
      && vlm_tensor_get_dim (t, 1) % o->group_size == 0 && !(vision && o->skip_vision)) {
    g_autofree char *module = g_strndup (n, strlen (n) - strlen (".weight"));
    return quantize_into (out, module, t, o, error);
  }
  return insert_as (out, n, t, o->dtype, error);
}

/* config.json with the quantization section mlx-vlm writes (and its dtype). */
static gboolean
write_config (ConvertOptions *o, GError **error)
{
  g_autofree char *in = g_build_filename (o->model, "config.json", NULL);
  g_autofree char *outp = g_build_filename (o->out, "config.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  if (!json_parser_load_from_file (p, in, error))
    return FALSE;
  JsonNode *root = json_parser_get_root (p);
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: not a JSON object", in);
    return FALSE;
  }
  JsonObject *cfg = json_node_get_object (root);
  json_object_remove_member (cfg, "quantization");
  json_object_remove_member (cfg, "quantization_config");
  if (o->bits) {
    for (int i = 0; i < 2; i++) {
      JsonObject *q = json_object_new ();
      json_object_set_int_member (q, "group_size", o->group_size);
      json_object_set_int_member (q, "bits", o->bits);
      json_object_set_object_member (cfg, i ? "quantization_config" : "quantization", q);
    }
  }
  json_object_set_string_member (cfg, "torch_dtype", o->dtype == VLM_DTYPE_BF16 ? "bfloat16"
                                                     : o->dtype == VLM_DTYPE_F16 ? "float16"
                                                                                 : "float32");
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  return json_generator_to_file (gen, outp, error);
}

/* Everything but the weights and config.json: tokenizer, templates, processor settings. */
static gboolean
copy_side_files (ConvertOptions *o, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (o->model, 0, error);
  if (!d)
    return FALSE;
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *src = g_build_filename (o->model, name, NULL);
    if (!g_file_test (src, G_FILE_TEST_IS_REGULAR) || g_str_equal (name, "config.json")
        || g_str_has_suffix (name, ".safetensors") || g_str_equal (name, "model.safetensors.index.json"))
      continue;
    g_autofree char *dst = g_build_filename (o->out, name, NULL);
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents (src, &data, &len, error) || !g_file_set_contents (dst, data, (gssize) len, error))
      return FALSE;
  }
  return TRUE;
}

static int
convert (ConvertOptions *o)
{
  GError *error = NULL;
  g_autofree char *model = vlm_model_dir_resolve (o->model, &error);
  if (!model)
    return vlm_cli_fail (error);
  g_free (o->model);
  o->model = g_steal_pointer (&model);
  g_autoptr (VlmSafetensors) st = vlm_safetensors_open (o->model, &error);
  if (!st)
    return vlm_cli_fail (error);
  if (g_mkdir_with_parents (o->out, 0755) != 0) {
    g_set_error (&error, VLM_ERROR, VLM_ERROR_IO, "%s: cannot create the folder", o->out);
    return vlm_cli_fail (error);
  }
  g_autoptr (VlmTensorSet) out = vlm_tensor_set_new ();
  g_auto (GStrv) names = vlm_safetensors_list_names (st);
  for (guint i = 0; names[i]; i++) {
    g_autoptr (VlmTensor) t = vlm_safetensors_get_tensor (st, names[i], &error);
    if (!t || !convert_tensor (out, names[i], t, o, &error))
      return vlm_cli_fail (error);
  }
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, "format", "mlx");
  g_autofree char *path = g_build_filename (o->out, "model.safetensors", NULL);
  if (!vlm_safetensors_write (path, out, meta, &error) || !write_config (o, &error)
      || !copy_side_files (o, &error))
    return vlm_cli_fail (error);
  g_printerr ("wrote %s (%u tensors)\n", o->out, vlm_tensor_set_get_size (out));
  return VLM_EXIT_OK;
}

int
vlm_cli_convert (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  ConvertOptions o = { .group_size = 64 };
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "Model folder or Hugging Face id (local cache)", "DIR|HF_ID" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &o.out, "Folder to write", "DIR" },
    { "quantize", 'q', 0, G_OPTION_ARG_INT, &o.bits, "Quantize Linear and Embedding weights to 4 or 8 bits", "BITS" },
    { "group-size", 0, 0, G_OPTION_ARG_INT, &o.group_size, "Weights per scale/bias pair: 32, 64 (default) or 128", "N" },
    { "dtype", 0, 0, G_OPTION_ARG_STRING, &o.dtype_name, "Type of the dense tensors, scales and biases: bf16 (default), f16 or f32", "TYPE" },
    { "skip-vision", 0, 0, G_OPTION_ARG_NONE, &o.skip_vision, "Leave the vision tower unquantized", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Write a model folder in the mlx-community layout, optionally "
                                     "MLX-quantized (what mlx_vlm.convert produces).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (vlm_cli_parse (ctx, &argc, &argv, &code)) {
    const char *dt = o.dtype_name ? o.dtype_name : "bf16";
    o.dtype = g_str_equal (dt, "f32") ? VLM_DTYPE_F32 : g_str_equal (dt, "f16") ? VLM_DTYPE_F16
                                                                               : VLM_DTYPE_BF16;
    if (!o.model || !o.out)
      code = vlm_cli_usage_error (ctx, "convert needs --model and --out");
    else if (argc > 1)
      code = vlm_cli_usage_error (ctx, "unexpected argument '%s'", argv[1]);
    else if (o.bits != 0 && o.bits != 4 && o.bits != 8)
      code = vlm_cli_usage_error (ctx, "--quantize takes 4 or 8");
    else if (o.group_size != 32 && o.group_size != 64 && o.group_size != 128)
      code = vlm_cli_usage_error (ctx, "--group-size takes 32, 64 or 128");
    else if (!g_str_equal (dt, "bf16") && !g_str_equal (dt, "f16") && !g_str_equal (dt, "f32"))
      code = vlm_cli_usage_error (ctx, "--dtype takes bf16, f16 or f32");
    else
      code = convert (&o);
  }
  g_free (o.model);
  g_free (o.out);
  g_free (o.dtype_name);
  return code;
}
