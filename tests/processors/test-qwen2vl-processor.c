/* test-qwen2vl-processor.c: the qwen2vl-processor element against the real
 * Qwen/Qwen2-VL-2B-Instruct settings on photos (with a max-pixels override)
 * and the arch/qwen2_vl and arch/qwen2_5_vl goldens. */
#include "processor-test-util.h"

/* Columns of a patch row: 3 channels x 2 temporal copies x 14 x 14, so a
 * value's channel is (i / 392) % 3. */
#define CHANNEL_PLANE (2 * 14 * 14)

/* The case's processor call overrides as element properties (max_pixels -> max-pixels). */
static char *
override_properties (JsonObject *c)
{
  JsonObject *o = json_object_get_object_member (c, "processor_overrides");
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  g_autoptr (GList) members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next) {
    g_autofree char *name = g_strdelimit (g_strdup (l->data), "_", '-');
    json_builder_set_member_name (b, name);
    json_builder_add_int_value (b, json_object_get_int_member (o, l->data));
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static void
test_preprocess (void)
{
  g_autofree char *settings = fixture_path ("preprocess", "pre_qwen2vl_2b", NULL);
  g_autofree char *arch = fixture_path ("arch", "qwen2_vl", NULL);
  char *model = model_dir_new (settings, arch);
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
    g_autofree char *props = override_properties (c);
    g_autoptr (VlmPipeline) p = processor_pipeline (model, "qwen2vl-processor", props);
    processor_run (p, image, "<|vision_start|><|image_pad|><|vision_end|>");

    g_autoptr (VlmTensor) grid = fixture_tensor (file, "image_grid_thw");
    assert_ids_equal (processor_output (p, "image_grid_thw"), grid, "image_grid_thw");
    VlmTensor *n_tokens = processor_output (p, "num_image_tokens");
    g_assert_cmpint (((const gint64 *) vlm_tensor_get_data (n_tokens))[0], ==,
                     json_object_get_int_member (c, "num_image_tokens"));
    g_autoptr (VlmTensor) expected = fixture_tensor (file, "pixel_values");
    VlmTensor *pixels = processor_output (p, "pixel_values");
    assert_same_shape (pixels, expected, name);
    assert_pixels_levels (pixels, expected, CHANNEL_PLANE, mean, std, 1.0 / 255.0, name);
  }
  model_dir_remove (model);
}

static void
test_arch (gconstpointer data)
{
  g_autofree char *model = fixture_path ("arch", data, NULL);
  g_autofree char *case_path = g_build_filename (model, "case.json", NULL);
  g_autofree char *golden = g_build_filename (model, "golden.safetensors", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *c = fixture_object (parser, case_path);
  g_autoptr (VlmPipeline) p = processor_pipeline (model, "qwen2vl-processor", NULL);
  const char *name = json_array_get_string_element (json_object_get_array_member (c, "images"), 0);
  g_autofree char *image = g_build_filename (model, name, NULL);
  processor_run (p, image, json_object_get_string_member (c, "rendered_prompt"));

  g_assert_cmpstr (processor_output_string (p, "prompt"), ==,
                   json_object_get_string_member (c, "expanded_prompt"));
  static const char *const id_tensors[] = { "input_ids", "attention_mask", "image_grid_thw" };
  for (guint i = 0; i < G_N_ELEMENTS (id_tensors); i++) {
    g_autoptr (VlmTensor) expected = fixture_tensor (golden, id_tensors[i]);
    assert_ids_equal (processor_output (p, id_tensors[i]), expected, id_tensors[i]);
  }
  g_autoptr (VlmTensor) pixels = fixture_tensor (golden, "pixel_values");
  float mean[3], std[3];
  settings_mean_std (model, mean, std);
  VlmTensor *out = processor_output (p, "pixel_values");
  assert_same_shape (out, pixels, "pixel_values");
  assert_pixels_levels (out, pixels, CHANNEL_PLANE, mean, std, 1.0 / 255.0, "pixel_values");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/qwen2vl-processor/preprocess", test_preprocess);
  g_test_add_data_func ("/qwen2vl-processor/arch/qwen2_vl", "qwen2_vl", test_arch);
  g_test_add_data_func ("/qwen2vl-processor/arch/qwen2_5_vl", "qwen2_5_vl", test_arch);
  return g_test_run ();
}
