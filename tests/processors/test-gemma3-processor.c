/* test-gemma3-processor.c: the gemma3-processor element against the real
 * google/gemma-3-4b-it settings on photos (with pan-and-scan) and the
 * arch/gemma3 goldens. */
#include "processor-test-util.h"

/* token_type_ids must be 1 exactly where input_ids hold <image_soft_token>. */
static void
assert_token_types (VlmPipeline *p, const char *model)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (model, &error);
  g_assert_no_error (error);
  gint64 soft = vlm_tokenizer_token_to_id (tok, "<image_soft_token>");
  VlmTensor *ids = processor_output (p, "input_ids");
  VlmTensor *types = processor_output (p, "token_type_ids");
  assert_same_shape (types, ids, "token_type_ids");
  const gint64 *i = vlm_tensor_get_data (ids), *t = vlm_tensor_get_data (types);
  for (gint64 k = 0; k < vlm_tensor_get_numel (ids); k++)
    g_assert_cmpint (t[k], ==, i[k] == soft);
}

static void
test_preprocess (void)
{
  g_autofree char *settings = fixture_path ("preprocess", "pre_gemma3_896", NULL);
  g_autofree char *arch = fixture_path ("arch", "gemma3", NULL);
  char *model = model_dir_new (settings, arch);
  g_autoptr (VlmPipeline) plain = processor_pipeline (model, "gemma3-processor", NULL);
  g_autoptr (VlmPipeline) pan = processor_pipeline (model, "gemma3-processor",
                                                    "{\"do-pan-and-scan\": true}");
  float mean[3], std[3];
  settings_mean_std (settings, mean, std);
  g_autofree char *cases_path = g_build_filename (settings, "cases.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *cases = json_object_get_array_member (fixture_object (parser, cases_path), "cases");
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *name = json_object_get_string_member (c, "image");
    g_autofree char *image = g_build_filename (settings, name, NULL);
    g_autofree char *file = g_build_filename (settings, json_object_get_string_member (c, "file"), NULL);
    gboolean do_pan = json_object_get_boolean_member (c, "do_pan_and_scan");
    VlmPipeline *p = do_pan ? pan : plain;
    processor_run (p, image, do_pan ? json_object_get_string_member (c, "text") : "<start_of_image>");
    VlmTensor *pixels = processor_output (p, "pixel_values");
    g_autoptr (VlmTensor) u8 = fixture_tensor (file, do_pan ? "resized_u8_stride8" : "resized_u8");
    assert_pixels_u8 (pixels, u8, do_pan ? 8 : 1, mean, std, 1.0 / 255.0, name);
    assert_token_types (p, model);
    if (do_pan) {
      g_assert_cmpint (vlm_tensor_get_shape (pixels, NULL)[0], ==,
                       1 + json_object_get_int_member (c, "num_crops"));
      g_assert_cmpstr (processor_output_string (p, "prompt"), ==,
                       json_object_get_string_member (c, "expanded_prompt"));
      g_autoptr (VlmTensor) ids = ids_from_json (json_object_get_array_member (c, "input_ids"));
      assert_ids_equal (processor_output (p, "input_ids"), ids, "pan-and-scan input_ids");
    }
  }
  model_dir_remove (model);
}

static void
test_arch (void)
{
  g_autofree char *model = fixture_path ("arch", "gemma3", NULL);
  g_autofree char *case_path = g_build_filename (model, "case.json", NULL);
  g_autofree char *golden = g_build_filename (model, "golden.safetensors", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *c = fixture_object (parser, case_path);
  g_autoptr (VlmPipeline) p = processor_pipeline (model, "gemma3-processor", NULL);
  const char *name = json_array_get_string_element (json_object_get_array_member (c, "images"), 0);
  g_autofree char *image = g_build_filename (model, name, NULL);
  processor_run (p, image, json_object_get_string_member (c, "rendered_prompt"));

  g_assert_cmpstr (processor_output_string (p, "prompt"), ==,
                   json_object_get_string_member (c, "expanded_prompt"));
  static const char *const id_tensors[] = { "input_ids", "attention_mask", "token_type_ids" };
  for (guint i = 0; i < G_N_ELEMENTS (id_tensors); i++) {
    g_autoptr (VlmTensor) expected = fixture_tensor (golden, id_tensors[i]);
    assert_ids_equal (processor_output (p, id_tensors[i]), expected, id_tensors[i]);
  }
  g_autoptr (VlmTensor) pixels = fixture_tensor (golden, "pixel_values");
  float mean[3], std[3];
  settings_mean_std (model, mean, std);
  VlmTensor *out = processor_output (p, "pixel_values");
  assert_same_shape (out, pixels, "pixel_values");
  const gint64 *shape = vlm_tensor_get_shape (pixels, NULL);
  assert_pixels_levels (out, pixels, shape[2] * shape[3], mean, std, 1.0 / 255.0, "pixel_values");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gemma3-processor/preprocess", test_preprocess);
  g_test_add_func ("/gemma3-processor/arch", test_arch);
  return g_test_run ();
}
