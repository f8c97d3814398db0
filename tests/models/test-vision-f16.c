/* test-vision-f16.c: the end-to-end golden checks of the SigLIP-tower families (#5's
 * Idefics3 / SmolVLM fixtures, then PaliGemma and Gemma 3) with the vision tower's opt-in
 * precision f16 (FP16 projections and attention products, compute/gemm-f16.c and
 * attention-f16.c): input ids, image_features, inputs_embeds, final_hidden and logits
 * within the fixtures' 1e-3 relative L2, the 12 greedy tokens identical. The FP16 products
 * must really run: the image features differ from the exact run's. Skipped only on CPUs
 * without AVX512_FP16. */
#include "model-test-util.h"
#include "compute/gemm-f16.h"

static void
test_f16_fixture (gconstpointer data)
{
  const char *name = data;
  if (!vlm_gemm_f16_supported ()) {
    g_test_skip ("the CPU has no AVX512_FP16: precision f16 runs the exact F32 path");
    return;
  }
  g_unsetenv ("VLM_VISION_PRECISION");
  g_autoptr (VlmPipeline) exact = arch_fixture_run (name, NULL);
  g_setenv ("VLM_VISION_PRECISION", "f16", TRUE);
  g_autoptr (VlmPipeline) f16 = arch_fixture_run (name, NULL);
  g_unsetenv ("VLM_VISION_PRECISION");
  double moved = rel_l2 (pipeline_output (f16, "image_features"),
                         pipeline_output (exact, "image_features"));
  g_test_message ("%s: f16 image_features moved %.3g (relative L2) from the exact run's", name,
                  moved);
  g_assert_cmpfloat (moved, >, 0);
}

int
main (int argc, char **argv)
{
  /* The FP16 path is what is tested: no cap on the kernels, no precision from outside. */
  g_unsetenv ("VLM_KERNELS");
  g_unsetenv ("VLM_VISION_PRECISION");
  g_test_init (&argc, &argv, NULL);
  const char *const fixtures[] = { "idefics3", "smolvlm", "paligemma", "gemma3" };
  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++) {
    g_autofree char *path = g_strconcat ("/vision-f16/arch/", fixtures[i], NULL);
    g_test_add_data_func (path, fixtures[i], test_f16_fixture);
  }
  return g_test_run ();
}
