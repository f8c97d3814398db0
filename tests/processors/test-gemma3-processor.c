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
  g_auto (PreprocessFixture) f = preprocess_fixture ("pre_gemma3_896", "gemma3", "cases");
  g_autoptr (VlmPipeline) plain = processor_pipeline (f.model, "gemma3-processor", NULL);
  g_autoptr (VlmPipeline) pan = processor_pipeline (f.model, "gemma3-processor",
                                                    "{\"do-pan-and-scan\": true}");
  for (guint i = 0; i < json_array_get_length (f.cases); i++) {
    g_auto (PreprocessCase) c = preprocess_case (&f, i);
    gboolean do_pan = json_object_get_boolean_member (c.json, "do_pan_and_scan");
    VlmPipeline *p = do_pan ? pan : plain;
    processor_run (p, c.image,
                   do_pan ? json_object_get_string_member (c.json, "text") : "<start_of_image>");
    VlmTensor *pixels = processor_output (p, "pixel_values");
    g_autoptr (VlmTensor) u8 = fixture_tensor (c.file,
                                               do_pan ? "resized_u8_stride8" : "resized_u8");
    assert_pixels_u8 (pixels, u8, do_pan ? 8 : 1, f.mean, f.std, 1.0 / 255.0, c.name);
    assert_token_types (p, f.model);
    if (do_pan) {
      g_assert_cmpint (vlm_tensor_get_shape (pixels, NULL)[0], ==,
                       1 + json_object_get_int_member (c.json, "num_crops"));
      g_assert_cmpstr (processor_output_string (p, "prompt"), ==,
                       json_object_get_string_member (c.json, "expanded_prompt"));
      JsonArray *expected_ids = json_object_get_array_member (c.json, "input_ids");
      g_autoptr (VlmTensor) ids = ids_from_json (expected_ids);
      assert_ids_equal (processor_output (p, "input_ids"), ids, "pan-and-scan input_ids");
    }
  }
}

static void
test_arch (void)
{
  g_auto (ArchCase) c = arch_case_run ("gemma3", "gemma3-processor");
  arch_case_assert_ids (&c, "input_ids", "attention_mask", "token_type_ids", NULL);
  arch_case_assert_pixels (&c, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gemma3-processor/preprocess", test_preprocess);
  g_test_add_func ("/gemma3-processor/arch", test_arch);
  return g_test_run ();
}
