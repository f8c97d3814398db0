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

static void
set_input (VlmElement *e, const char *port, GType type, gconstpointer value)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, type);
  if (type == G_TYPE_STRING)
    g_value_set_string (&v, value);
  else
    g_value_set_boxed (&v, value);
  vlm_element_set_input (e, port, &v);
  g_value_unset (&v);
}

/* An element of @factory on fixtures/arch/@arch, with golden tensors on its inputs
 * (pairs of port and golden name). */
static VlmElement *
make_element (const char *factory, const char *arch, VlmSafetensors **golden, ...)
{
  g_autoptr (GError) error = NULL;
  VlmElement *e = vlm_registry_make_element (vlm_registry_get_default (), factory, "node", &error);
  g_assert_no_error (error);
  g_autofree char *dir = fixture_path ("fixtures", "arch", arch, NULL);
  g_autofree char *golden_path = g_build_filename (dir, "golden.safetensors", NULL);
  *golden = vlm_safetensors_open (golden_path, &error);
  g_assert_no_error (error);
  set_input (e, "model", G_TYPE_STRING, dir);
  va_list args;
  va_start (args, golden);
  for (const char *port = va_arg (args, const char *); port; port = va_arg (args, const char *)) {
    g_autoptr (VlmTensor) t = golden_tensor (*golden, va_arg (args, const char *));
    set_input (e, port, VLM_TYPE_TENSOR, t);
  }
  va_end (args);
  return e;
}

static void
expect_error (VlmElement *e, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_assert_false (vlm_element_process (e, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
}

/* Gemma 3 needs token_type_ids to find its image blocks, and they must be 0/1 integers. */
static void
test_gemma3_token_types (void)
{
  g_autoptr (VlmSafetensors) golden = NULL;
  g_autoptr (VlmElement) e = make_element ("llama-decoder", "gemma3", &golden,
                                           "input_ids", "input_ids",
                                           "image_features", "image_features", NULL);
  g_object_set (e, "max-tokens", 1, NULL);
  expect_error (e, "token_type_ids are needed");
  g_autoptr (VlmTensor) types = golden_tensor (golden, "token_type_ids");
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) bad = vlm_tensor_copy (types);
  ((gint64 *) vlm_tensor_get_data_mut (bad))[3] = 2;
  set_input (e, "token_type_ids", VLM_TYPE_TENSOR, bad);
  expect_error (e, "token_type_ids element 3 is 2");
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (types, VLM_DTYPE_F32, &error);
  set_input (e, "token_type_ids", VLM_TYPE_TENSOR, f);
  expect_error (e, "token_type_ids must be integers");
  set_input (e, "token_type_ids", VLM_TYPE_TENSOR, types);
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
}

/* Projectors and the CLIP tower name the tensor and the shape they expected. */
static void
test_bad_shapes (void)
{
  g_autoptr (VlmSafetensors) g1 = NULL, g2 = NULL, g3 = NULL, g4 = NULL;
  /* [16, 32] (no image axis) and a grid that does not pool to 16 tokens. */
  g_autoptr (VlmElement) gp = make_element ("gemma3-projector", "gemma3", &g1,
                                            "vision_hidden", "vision_last_hidden", NULL);
  expect_error (gp, "vision_hidden");
  g_autoptr (VlmTensor) odd = vlm_tensor_new (VLM_DTYPE_F32, 3, (gint64[]) { 1, 36, 32 });
  set_input (gp, "vision_hidden", VLM_TYPE_TENSOR, odd);
  expect_error (gp, "mm_tokens_per_image 16");
  g_autoptr (VlmElement) pp = make_element ("paligemma-projector", "paligemma", &g2,
                                            "vision_hidden", "projector_output", NULL);
  expect_error (pp, "vision_hidden");
  g_autoptr (VlmElement) lp = make_element ("llava-projector", "llava", &g3,
                                            "vision_hidden", "image_features", NULL);
  expect_error (lp, "vision_hidden");
  /* LLaVA's position table has no interpolation: the image must be image_size. */
  g_autoptr (VlmElement) cv = make_element ("clip-vision", "llava", &g4, NULL);
  g_autoptr (VlmTensor) big = vlm_tensor_new (VLM_DTYPE_F32, 4, (gint64[]) { 1, 3, 40, 40 });
  set_input (cv, "pixel_values", VLM_TYPE_TENSOR, big);
  expect_error (cv, "[n_images, 3, 32, 32]");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/arch/paligemma", test_paligemma);
  g_test_add_func ("/arch/llava", test_llava);
  g_test_add_func ("/arch/gemma3", test_gemma3);
  g_test_add_func ("/arch/errors/gemma3-token-types", test_gemma3_token_types);
  g_test_add_func ("/arch/errors/shapes", test_bad_shapes);
  return g_test_run ();
}
