/* test-paligemma-processor.c: the paligemma-processor element against the real
 * google/paligemma-3b-mix-224 settings on photos and the arch/paligemma goldens. */
#include "processor-test-util.h"

static void
test_preprocess (void)
{
  g_autofree char *settings = fixture_path ("preprocess", "pre_siglip_paligemma224", NULL);
  g_autofree char *arch = fixture_path ("arch", "paligemma", NULL);
  char *model = model_dir_new (settings, arch);
  g_autoptr (VlmPipeline) p = processor_pipeline (model, "paligemma-processor", NULL);
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
    processor_run (p, image, "caption en");
    g_autoptr (VlmTensor) expected = fixture_tensor (file, "pixel_values");
    VlmTensor *pixels = processor_output (p, "pixel_values");
    assert_same_shape (pixels, expected, name);
    assert_pixels_levels (pixels, expected, 224 * 224, mean, std, 1.0 / 255.0, name);
  }
  model_dir_remove (model);
}

static void
test_arch (void)
{
  g_autofree char *model = fixture_path ("arch", "paligemma", NULL);
  g_autofree char *case_path = g_build_filename (model, "case.json", NULL);
  g_autofree char *golden = g_build_filename (model, "golden.safetensors", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *c = fixture_object (parser, case_path);
  g_autoptr (VlmPipeline) p = processor_pipeline (model, "paligemma-processor", NULL);
  const char *name = json_array_get_string_element (json_object_get_array_member (c, "images"), 0);
  g_autofree char *image = g_build_filename (model, name, NULL);
  processor_run (p, image, json_object_get_string_member (c, "rendered_prompt"));

  g_assert_cmpstr (processor_output_string (p, "prompt"), ==,
                   json_object_get_string_member (c, "expanded_prompt"));
  g_autoptr (VlmTensor) ids = fixture_tensor (golden, "input_ids");
  g_autoptr (VlmTensor) mask = fixture_tensor (golden, "attention_mask");
  g_autoptr (VlmTensor) pixels = fixture_tensor (golden, "pixel_values");
  assert_ids_equal (processor_output (p, "input_ids"), ids, "input_ids");
  assert_ids_equal (processor_output (p, "attention_mask"), mask, "attention_mask");
  /* Without a suffix every prompt token is prefix (token type 0). */
  VlmTensor *types = processor_output (p, "token_type_ids");
  assert_same_shape (types, ids, "token_type_ids");
  for (gint64 i = 0; i < vlm_tensor_get_numel (types); i++)
    g_assert_cmpint (((const gint64 *) vlm_tensor_get_data (types))[i], ==, 0);
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
  g_test_add_func ("/paligemma-processor/preprocess", test_preprocess);
  g_test_add_func ("/paligemma-processor/arch", test_arch);
  return g_test_run ();
}
