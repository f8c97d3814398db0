/* test-llava-processor.c: the llava-processor element against the real
 * llava-hf/llava-1.5-7b-hf settings and tokenizer on photos and the arch/llava
 * goldens. */
#include "processor-test-util.h"

static void
test_preprocess (void)
{
  g_auto (PreprocessFixture) f = preprocess_fixture ("pre_clip_llava336", "llava", "images");
  g_autoptr (VlmPipeline) p = processor_pipeline (f.model, "llava-processor", NULL);
  for (guint i = 0; i < json_array_get_length (f.cases); i++) {
    g_auto (PreprocessCase) c = preprocess_case (&f, i);
    processor_run (p, c.image, "USER: <image>\nWhat is this? ASSISTANT:");
    g_autoptr (VlmTensor) expected = fixture_tensor (c.file, "pixel_values");
    VlmTensor *pixels = processor_output (p, "pixel_values");
    const gint64 *shape = vlm_tensor_get_shape (expected, NULL);
    g_assert_cmpint (vlm_tensor_get_ndim (pixels), ==, 4);
    g_assert_cmpint (vlm_tensor_get_shape (pixels, NULL)[0], ==, 1);
    assert_pixels_levels (pixels, expected, shape[1] * shape[2], f.mean, f.std, 1.0 / 255.0,
                          c.name);
  }

  /* The expanded prompt and its ids. */
  JsonObject *pc = json_object_get_object_member (f.root, "prompt_case");
  const char *name = json_object_get_string_member (pc, "image");
  g_autofree char *image = fixture_path ("preprocess", f.name, name, NULL);
  processor_run (p, image, json_object_get_string_member (pc, "text"));
  g_assert_cmpstr (processor_output_string (p, "prompt"), ==,
                   json_object_get_string_member (pc, "expanded_prompt"));
  g_autoptr (VlmTensor) ids = ids_from_json (json_object_get_array_member (pc, "input_ids"));
  g_autoptr (VlmTensor) mask = ids_from_json (json_object_get_array_member (pc, "attention_mask"));
  assert_ids_equal (processor_output (p, "input_ids"), ids, "prompt_case input_ids");
  assert_ids_equal (processor_output (p, "attention_mask"), mask, "prompt_case attention_mask");
}

static void
test_arch (void)
{
  g_auto (ArchCase) c = arch_case_run ("llava", "llava-processor");
  arch_case_assert_ids (&c, "input_ids", "attention_mask", NULL);
  arch_case_assert_pixels (&c, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/llava-processor/preprocess", test_preprocess);
  g_test_add_func ("/llava-processor/arch", test_arch);
  return g_test_run ();
}
