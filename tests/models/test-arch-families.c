/* test-arch-families.c: PaliGemma, LLaVA-1.5 and Gemma 3 end to end against the
 * reference goldens of fixtures/arch/{paligemma,llava,gemma3}: the checks every
 * architecture has (arch_fixture_run), then each family's own intermediate tensors. */
#include "model-test-util.h"

#include <string.h>

/* Rows [first, first + rows) of a [n, ...] golden, as its own tensor. */
static VlmTensor *
golden_rows (VlmTensor *t, gint64 index, gint64 first, gint64 rows)
{
  g_autoptr (GError) error = NULL;
  const gint64 *s = vlm_tensor_get_shape (t, NULL);
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (t, VLM_DTYPE_F32, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensor) c = vlm_tensor_contiguous (f);
  gint64 width = s[2];
  VlmTensor *out = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { rows, width });
  memcpy (vlm_tensor_get_data_mut (out),
          (const float *) vlm_tensor_get_data (c) + (index * s[1] + first) * width,
          (gsize) (rows * width) * sizeof (float));
  return out;
}

static void
test_paligemma (void)
{
  g_autoptr (VlmSafetensors) golden = NULL;
  g_autoptr (VlmPipeline) p = arch_fixture_run ("paligemma", &golden);
  g_autoptr (VlmTensor) vision = golden_tensor (golden, "vision_last_hidden");
  assert_close (pipeline_output (p, "vision_hidden"), vision, 1e-3, "vision_last_hidden");
}

static void
test_llava (void)
{
  g_autoptr (VlmSafetensors) golden = NULL;
  g_autoptr (VlmPipeline) p = arch_fixture_run ("llava", &golden);
  g_autofree char *case_path = fixture_path ("fixtures", "arch", "llava", "case.json", NULL);
  g_autoptr (JsonNode) node = fixture_json (case_path);
  JsonObject *c = json_node_get_object (node);
  /* The selected CLIP hidden state without its class row. */
  g_autoptr (VlmTensor) states = golden_tensor (golden, "vision_hidden_states");
  gint64 index = json_object_get_int_member (c, "vision_feature_hidden_state_index");
  gint64 patches = vlm_tensor_get_dim (states, 1) - 1;
  g_autoptr (VlmTensor) want = golden_rows (states, index, 1, patches);
  assert_close (pipeline_output (p, "vision_hidden"), want, 1e-3, "vision hidden state");
}

static void
test_gemma3 (void)
{
  g_autoptr (VlmSafetensors) golden = NULL;
  g_autoptr (VlmPipeline) p = arch_fixture_run ("gemma3", &golden);
  g_autoptr (VlmTensor) vision = golden_tensor (golden, "vision_last_hidden");
  g_autoptr (VlmTensor) types = golden_tensor (golden, "token_type_ids");
  assert_close (pipeline_output (p, "vision_hidden"), vision, 1e-3, "vision_last_hidden");
  assert_ids_equal (pipeline_output (p, "token_type_ids"), types, "token_type_ids");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/arch/paligemma", test_paligemma);
  g_test_add_func ("/arch/llava", test_llava);
  g_test_add_func ("/arch/gemma3", test_gemma3);
  return g_test_run ();
}
