/* test-llava-processor.c: the llava-processor element against the real
 * llava-hf/llava-1.5-7b-hf settings and tokenizer on photos and the arch/llava
 * goldens. */
#include "processor-test-util.h"

static void
test_preprocess (void)
{
  g_autofree char *settings = fixture_path ("preprocess", "pre_clip_llava336", NULL);
  g_autofree char *arch = fixture_path ("arch", "llava", NULL);
  char *model = model_dir_new (settings, arch);
  g_autoptr (VlmPipeline) p = processor_pipeline (model, "llava-processor", NULL);
  float mean[3], std[3];
  settings_mean_std (settings, mean, std);
  g_autofree char *cases_path = g_build_filename (settings, "cases.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *all = fixture_object (parser, cases_path);
  JsonArray *cases = json_object_get_array_member (all, "images");
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *name = json_object_get_string_member (c, "image");
    g_autofree char *image = g_build_filename (settings, name, NULL);
    g_autofree char *file = g_build_filename (settings, json_object_get_string_member (c, "file"), NULL);
    processor_run (p, image, "USER: <image>\nWhat is this? ASSISTANT:");
    g_autoptr (VlmTensor) expected = fixture_tensor (file, "pixel_values");
    VlmTensor *pixels = processor_output (p, "pixel_values");
    const gint64 *shape = vlm_tensor_get_shape (expected, NULL);
    g_assert_cmpint (vlm_tensor_get_ndim (pixels), ==, 4);
    g_assert_cmpint (vlm_tensor_get_shape (pixels, NULL)[0], ==, 1);
    assert_pixels_levels (pixels, expected, shape[1] * shape[2], mean, std, 1.0 / 255.0, name);
  }

  /* The expanded prompt and its ids. */
  JsonObject *pc = json_object_get_object_member (all, "prompt_case");
  g_autofree char *image = g_build_filename (settings, json_object_get_string_member (pc, "image"), NULL);
  processor_run (p, image, json_object_get_string_member (pc, "text"));
  g_assert_cmpstr (processor_output_string (p, "prompt"), ==,
                   json_object_get_string_member (pc, "expanded_prompt"));
  g_autoptr (VlmTensor) ids = ids_from_json (json_object_get_array_member (pc, "input_ids"));
  g_autoptr (VlmTensor) mask = ids_from_json (json_object_get_array_member (pc, "attention_mask"));
  assert_ids_equal (processor_output (p, "input_ids"), ids, "prompt_case input_ids");
  assert_ids_equal (processor_output (p, "attention_mask"), mask, "prompt_case attention_mask");
  model_dir_remove (model);
}

static void
test_arch (void)
{
  g_autofree char *model = fixture_path ("arch", "llava", NULL);
  g_autofree char *case_path = g_build_filename (model, "case.json", NULL);
  g_autofree char *golden = g_build_filename (model, "golden.safetensors", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *c = fixture_object (parser, case_path);
  g_autoptr (VlmPipeline) p = processor_pipeline (model, "llava-processor", NULL);
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
  g_test_add_func ("/llava-processor/preprocess", test_preprocess);
  g_test_add_func ("/llava-processor/arch", test_arch);
  return g_test_run ();
}
