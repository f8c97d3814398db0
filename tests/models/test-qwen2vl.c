/* test-qwen2vl.c: Qwen2-VL and Qwen2.5-VL end to end against the reference goldens
 * (arch fixtures, HF BF16): ids, patches, grids, M-RoPE positions, vision tower,
 * merged features, prompt states, logits and greedy tokens; text-only prompts and
 * inconsistent inputs. */
#include "model-test-util.h"
#include "nn/decoder.h"

#include <glib/gstdio.h>
#include <string.h>

static void
test_arch (gconstpointer data)
{
  const char *name = data;
  g_autofree char *dir = fixture_path ("fixtures", "arch", name, NULL);
  g_autofree char *case_path = g_build_filename (dir, "case.json", NULL);
  g_autoptr (JsonNode) case_node = fixture_json (case_path);
  JsonObject *c = json_node_get_object (case_node);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmPipeline) p = arch_case_pipeline (dir, c);
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);

  g_autofree char *golden_path = g_build_filename (dir, "golden.safetensors", NULL);
  g_autoptr (VlmSafetensors) golden = vlm_safetensors_open (golden_path, &error);
  g_assert_no_error (error);
  const char *exact[][2] = {
    { "input_ids", "input_ids" }, { "image_grid_thw", "image_grid_thw" },
    { "position_ids", "position_ids" }, { "rope_deltas", "rope_deltas" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (exact); i++) {
    g_autoptr (VlmTensor) want = golden_tensor (golden, exact[i][0]);
    assert_ids_equal (pipeline_output (p, exact[i][1]), want, exact[i][0]);
  }
  const struct { const char *golden, *port; double tol; } close[] = {
    { "pixel_values", "pixel_values", 1e-6 },
    { "vision_last_block", "vision_hidden", 1e-3 },
    { "image_features", "image_features", 1e-3 },
    { "inputs_embeds", "inputs_embeds", 1e-3 },
    { "final_hidden", "final_hidden", 1e-3 },
    { "logits_last", "logits_last", 1e-3 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (close); i++) {
    g_autoptr (VlmTensor) want = golden_tensor (golden, close[i].golden);
    assert_close (pipeline_output (p, close[i].port), want, close[i].tol, close[i].golden);
  }
  g_autoptr (VlmTensor) greedy = golden_tensor (golden, "greedy_tokens");
  assert_ids_equal (pipeline_output (p, "tokens"), greedy, "greedy tokens");

  /* A second run on the same pipeline reuses the loaded weights and gives the same tokens. */
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  assert_ids_equal (pipeline_output (p, "tokens"), greedy, "greedy tokens, second run");
}

/* Without images the vision tower outputs nothing and positions are plain 0..L-1
 * (the architecture pipeline needs images for its loader; this is its rest). */
static void
test_text_only (void)
{
  g_autofree char *dir = fixture_path ("fixtures", "arch", "qwen2_vl", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *json = g_strdup_printf (
      "{\"model\": \"%s\", \"prompt\": \"Hello\", \"nodes\": ["
      "{\"id\": \"chat\", \"element\": \"chat-template\", \"inputs\": {\"model\": \"@model\","
      " \"prompt\": \"@prompt\"}},"
      "{\"id\": \"proc\", \"element\": \"qwen2vl-processor\", \"inputs\": {\"model\": \"@model\","
      " \"text\": \"chat.text\"}},"
      "{\"id\": \"vision\", \"element\": \"qwen2vl-vision\", \"inputs\": {\"model\": \"@model\","
      " \"pixel_values\": \"proc.pixel_values\", \"image_grid_thw\": \"proc.image_grid_thw\"}},"
      "{\"id\": \"rope\", \"element\": \"qwen2vl-rope-index\", \"inputs\": {\"model\": \"@model\","
      " \"input_ids\": \"proc.input_ids\", \"image_grid_thw\": \"proc.image_grid_thw\"}},"
      "{\"id\": \"decoder\", \"element\": \"llama-decoder\", \"properties\": {\"max-tokens\": 3,"
      " \"ignore-eos\": true}, \"inputs\": {\"model\": \"@model\", \"input_ids\": \"proc.input_ids\","
      " \"image_features\": \"vision.image_features\", \"position_ids\": \"rope.position_ids\","
      " \"rope_deltas\": \"rope.rope_deltas\"}}]}", dir);
  g_autoptr (VlmPipeline) p = vlm_pipeline_new_from_data (json, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (pipeline_output (p, "image_features"));
  VlmTensor *pos = pipeline_output (p, "position_ids");
  g_assert_nonnull (pos);
  gint64 L = vlm_tensor_get_dim (pos, 2);
  const gint64 *v = vlm_tensor_get_data (pos);
  for (gint64 s = 0; s < 3; s++)
    for (gint64 i = 0; i < L; i++)
      g_assert_cmpint (v[s * L + i], ==, i);
  g_assert_cmpint (*(const gint64 *) vlm_tensor_get_data (pipeline_output (p, "rope_deltas")), ==,
                   0);
  g_assert_cmpint (vlm_tensor_get_numel (pipeline_output (p, "tokens")), ==, 3);
}

/* The tower and the rope index reject grids that do not match their inputs. */
static void
test_bad_grid (void)
{
  g_autofree char *dir = fixture_path ("fixtures", "arch", "qwen2_5_vl", NULL);
  g_autoptr (GError) error = NULL;
  VlmRegistry *registry = vlm_registry_get_default ();
  vlm_registry_ensure_loaded (registry);
  g_autoptr (VlmElement) vision = vlm_registry_make_element (registry, "qwen2vl-vision", "vision",
                                                             &error);
  g_assert_no_error (error);
  g_autoptr (VlmElement) rope = vlm_registry_make_element (registry, "qwen2vl-rope-index", "rope",
                                                           &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensor) pixels = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { 16, 1176 });
  g_autoptr (VlmTensor) grid = vlm_tensor_new (VLM_DTYPE_I64, 2, (gint64[]) { 1, 3 });
  gint64 *g = vlm_tensor_get_data_mut (grid);
  g[0] = 1, g[1] = 4, g[2] = 6; /* 24 patches, 16 given */
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, dir);
  vlm_element_set_input (vision, "model", &v);
  vlm_element_set_input (rope, "model", &v);
  g_value_unset (&v);
  g_value_init (&v, VLM_TYPE_TENSOR);
  g_value_set_boxed (&v, pixels);
  vlm_element_set_input (vision, "pixel_values", &v);
  g_value_set_boxed (&v, grid);
  vlm_element_set_input (vision, "image_grid_thw", &v);
  vlm_element_set_input (rope, "image_grid_thw", &v);
  g_assert_false (vlm_element_process (vision, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "24 patches"));
  g_clear_error (&error);

  /* <|vision_start|> <|image_pad|> x 2, but the grid needs 6 image tokens. */
  g_autoptr (VlmTensor) ids = vlm_tensor_new (VLM_DTYPE_I64, 2, (gint64[]) { 1, 4 });
  gint64 *id = vlm_tensor_get_data_mut (ids);
  id[0] = 151652, id[1] = 151655, id[2] = 151655, id[3] = 151653;
  g_value_set_boxed (&v, ids);
  vlm_element_set_input (rope, "input_ids", &v);
  g_value_unset (&v);
  g_assert_false (vlm_element_process (rope, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "image tokens"));
  g_clear_error (&error);

  /* Absurd grids are refused before any size is computed from them. */
  g[1] = G_GINT64_CONSTANT (1) << 40;
  g_assert_false (vlm_element_process (rope, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (vlm_element_process (vision, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "image_grid_thw row 0"));
}

/* The fixture's text config with its mrope_section replaced by @section. */
static gboolean
load_with_section (const char *section, VlmDecoderConfig *cfg, GError **error)
{
  g_autofree char *src = fixture_path ("fixtures", "arch", "qwen2_vl", "config.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (src, &text, NULL, NULL));
  g_autoptr (GRegex) re = g_regex_new ("\\[\\s*2,\\s*1,\\s*1\\s*\\]", 0, 0, NULL);
  g_autofree char *edited = g_regex_replace_literal (re, text, -1, 0, section, 0, NULL);
  g_autofree char *dir = g_dir_make_tmp ("vlm-qwen2vl-config-XXXXXX", NULL);
  g_autofree char *dst = g_build_filename (dir, "config.json", NULL);
  g_assert_true (g_file_set_contents (dst, edited, -1, NULL));
  g_autoptr (VlmModelDir) md = vlm_model_dir_new (dir, error);
  gboolean ok = md && vlm_decoder_config_load (cfg, md, error);
  g_unlink (dst);
  g_rmdir (dir);
  return ok;
}

/* M-RoPE sections must split head_dim / 2 frequencies three ways. */
static void
test_mrope_section (void)
{
  VlmDecoderConfig cfg;
  g_autoptr (GError) error = NULL;
  g_assert_true (load_with_section ("[1, 2, 1]", &cfg, &error));
  g_assert_no_error (error);
  g_assert_true (cfg.attention_bias);
  g_assert_cmpint (cfg.mrope_section[0], ==, 1);
  g_assert_cmpint (cfg.mrope_section[1], ==, 2);
  g_assert_cmpint (cfg.mrope_section[2], ==, 1);
  g_assert_cmpint (cfg.sliding_window, ==, 0);
  const char *bad[] = { "[2, 1, 2]", "[2, 2]", "[\"2\", 1, 1]", "[-1, 4, 1]", "3" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (load_with_section (bad[i], &cfg, &error));
    g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "mrope_section"));
    g_clear_error (&error);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/qwen2vl/arch/qwen2_vl", "qwen2_vl", test_arch);
  g_test_add_data_func ("/qwen2vl/arch/qwen2_5_vl", "qwen2_5_vl", test_arch);
  g_test_add_func ("/qwen2vl/text-only", test_text_only);
  g_test_add_func ("/qwen2vl/bad-grid", test_bad_grid);
  g_test_add_func ("/qwen2vl/mrope-section", test_mrope_section);
  return g_test_run ();
}
