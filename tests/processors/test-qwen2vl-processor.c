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
  g_auto (PreprocessFixture) f = preprocess_fixture ("pre_qwen2vl_2b", "qwen2_vl", "cases");
  for (guint i = 0; i < json_array_get_length (f.cases); i++) {
    g_auto (PreprocessCase) c = preprocess_case (&f, i);
    g_autofree char *props = override_properties (c.json);
    g_autoptr (VlmPipeline) p = processor_pipeline (f.model, "qwen2vl-processor", props);
    processor_run (p, c.image, "<|vision_start|><|image_pad|><|vision_end|>");

    g_autoptr (VlmTensor) grid = fixture_tensor (c.file, "image_grid_thw");
    assert_ids_equal (processor_output (p, "image_grid_thw"), grid, "image_grid_thw");
    VlmTensor *n_tokens = processor_output (p, "num_image_tokens");
    g_assert_cmpint (((const gint64 *) vlm_tensor_get_data (n_tokens))[0], ==,
                     json_object_get_int_member (c.json, "num_image_tokens"));
    g_autoptr (VlmTensor) expected = fixture_tensor (c.file, "pixel_values");
    assert_pixel_values (p, expected, CHANNEL_PLANE, f.mean, f.std, c.name);
  }
}

static void
test_arch (gconstpointer data)
{
  g_auto (ArchCase) c = arch_case_run (data, "qwen2vl-processor");
  arch_case_assert_ids (&c, "input_ids", "attention_mask", "image_grid_thw", NULL);
  arch_case_assert_pixels (&c, CHANNEL_PLANE);
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
