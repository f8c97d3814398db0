/* test-paligemma-processor.c: the paligemma-processor element against the real
 * google/paligemma-3b-mix-224 settings on photos and the arch/paligemma goldens. */
#include "processor-test-util.h"

static void
test_preprocess (void)
{
  g_auto (PreprocessFixture) f = preprocess_fixture ("pre_siglip_paligemma224", "paligemma",
                                                     "cases");
  g_autoptr (VlmPipeline) p = processor_pipeline (f.model, "paligemma-processor", NULL);
  for (guint i = 0; i < json_array_get_length (f.cases); i++) {
    g_auto (PreprocessCase) c = preprocess_case (&f, i);
    processor_run (p, c.image, "caption en");
    g_autoptr (VlmTensor) expected = fixture_tensor (c.file, "pixel_values");
    assert_pixel_values (p, expected, 224 * 224, f.mean, f.std, c.name);
  }
}

static void
test_arch (void)
{
  g_auto (ArchCase) c = arch_case_run ("paligemma", "paligemma-processor");
  arch_case_assert_ids (&c, "input_ids", "attention_mask", NULL);
  /* Without a suffix every prompt token is prefix (token type 0). */
  VlmTensor *types = processor_output (c.pipeline, "token_type_ids");
  assert_same_shape (types, processor_output (c.pipeline, "input_ids"), "token_type_ids");
  for (gint64 i = 0; i < vlm_tensor_get_numel (types); i++)
    g_assert_cmpint (((const gint64 *) vlm_tensor_get_data (types))[i], ==, 0);
  arch_case_assert_pixels (&c, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/paligemma-processor/preprocess", test_preprocess);
  g_test_add_func ("/paligemma-processor/arch", test_arch);
  return g_test_run ();
}
