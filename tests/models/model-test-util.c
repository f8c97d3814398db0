/* model-test-util.c: fixture access and tensor comparison for end-to-end model tests. */
#include "model-test-util.h"

#include <math.h>

char *
fixture_path (const char *first, ...)
{
  va_list args;
  va_start (args, first);
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) g_getenv ("VLM_SHARED_DIR"));
  for (const char *p = first; p; p = va_arg (args, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (args);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

JsonNode *
fixture_json (const char *path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (!json_parser_load_from_file (parser, path, &error))
    g_error ("%s", error->message);
  return json_node_copy (json_parser_get_root (parser));
}

VlmTensor *
golden_tensor (VlmSafetensors *golden, const char *name)
{
  g_autoptr (GError) error = NULL;
  VlmTensor *t = vlm_safetensors_get_tensor (golden, name, &error);
  g_assert_no_error (error);
  return t;
}

double
rel_l2 (VlmTensor *actual, VlmTensor *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) a = vlm_tensor_to_dtype (actual, VLM_DTYPE_F64, &error);
  g_autoptr (VlmTensor) e = vlm_tensor_to_dtype (expected, VLM_DTYPE_F64, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_tensor_get_numel (a), ==, vlm_tensor_get_numel (e));
  const double *x = vlm_tensor_get_data (a), *y = vlm_tensor_get_data (e);
  double num = 0, den = 0;
  for (gint64 i = 0; i < vlm_tensor_get_numel (a); i++) {
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += y[i] * y[i];
  }
  return sqrt (num) / MAX (sqrt (den), 1e-30);
}

void
assert_close (VlmTensor *actual, VlmTensor *expected, double tolerance, const char *what)
{
  g_assert_nonnull (actual);
  g_autofree char *da = vlm_tensor_describe (actual), *de = vlm_tensor_describe (expected);
  if (vlm_tensor_get_numel (actual) != vlm_tensor_get_numel (expected))
    g_error ("%s: %s vs golden %s", what, da, de);
  double err = rel_l2 (actual, expected);
  g_test_message ("%s: relative L2 error %.3g", what, err);
  if (!(err <= tolerance))
    g_error ("%s: relative L2 error %.3g exceeds %.g", what, err, tolerance);
}

void
assert_ids_equal (VlmTensor *actual, VlmTensor *expected, const char *what)
{
  g_assert_nonnull (actual);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) a = vlm_tensor_to_dtype (actual, VLM_DTYPE_I64, &error);
  g_autoptr (VlmTensor) e = vlm_tensor_to_dtype (expected, VLM_DTYPE_I64, &error);
  g_assert_no_error (error);
  gint64 n = vlm_tensor_get_numel (e);
  if (vlm_tensor_get_numel (a) != n)
    g_error ("%s: %" G_GINT64_FORMAT " ids, golden has %" G_GINT64_FORMAT, what,
             vlm_tensor_get_numel (a), n);
  const gint64 *x = vlm_tensor_get_data (a), *y = vlm_tensor_get_data (e);
  for (gint64 i = 0; i < n; i++)
    if (x[i] != y[i])
      g_error ("%s: id %" G_GINT64_FORMAT " is %" G_GINT64_FORMAT ", golden %" G_GINT64_FORMAT,
               what, i, x[i], y[i]);
}

/* The first node output called @port (node ids are the architecture's business). */
VlmTensor *
pipeline_output (VlmPipeline *pipeline, const char *port)
{
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  for (guint i = 0; ids[i]; i++) {
    const GValue *v = vlm_element_get_output (vlm_pipeline_get_element (pipeline, ids[i]), port);
    if (v && G_VALUE_HOLDS (v, VLM_TYPE_TENSOR))
      return g_value_get_boxed (v);
  }
  return NULL;
}

/* The architecture registered for fixture @dir's model_type, set up as `generate --model`
 * does with case @c's prompt, system message, images and token limits. */
VlmPipeline *
arch_case_pipeline (const char *dir, JsonObject *c)
{
  g_autoptr (GError) error = NULL;
  VlmPipeline *p = vlm_pipeline_new_for_model (dir, &error);
  g_assert_no_error (error);
  vlm_pipeline_set_prompt (p, json_object_get_string_member (c, "prompt"));
  if (!json_object_get_null_member (c, "system"))
    vlm_pipeline_set_system (p, json_object_get_string_member (c, "system"));
  JsonArray *images = json_object_get_array_member (c, "images");
  g_autoptr (GStrvBuilder) paths = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (images); i++) {
    g_autofree char *path = g_build_filename (dir, json_array_get_string_element (images, i), NULL);
    g_strv_builder_add (paths, path);
  }
  g_auto (GStrv) image_paths = g_strv_builder_end (paths);
  vlm_pipeline_set_images (p, (const char *const *) image_paths);
  VlmElement *decoder = vlm_pipeline_find_element (p, VLM_ELEMENT_KIND_DECODER);
  g_assert_nonnull (decoder);
  g_object_set (decoder, "max-tokens", (int) json_object_get_int_member (c, "max_tokens"),
                "ignore-eos", json_object_get_boolean_member (c, "ignore_eos"), NULL);
  return p;
}

/* Runs fixtures/arch/@name as `generate --model` does (the architecture registered for
 * its model_type, case.json's prompt, system and images) and checks the goldens every
 * architecture has; returns the pipeline for family-specific checks. */
VlmPipeline *
arch_fixture_run (const char *name, VlmSafetensors **golden_out)
{
  g_autofree char *dir = fixture_path ("fixtures", "arch", name, NULL);
  g_autofree char *case_path = g_build_filename (dir, "case.json", NULL);
  g_autoptr (JsonNode) case_node = fixture_json (case_path);
  JsonObject *c = json_node_get_object (case_node);
  g_autoptr (GError) error = NULL;

  g_autoptr (VlmPipeline) p = arch_case_pipeline (dir, c);
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);

  g_autofree char *golden_path = g_build_filename (dir, "golden.safetensors", NULL);
  g_autoptr (VlmSafetensors) golden = vlm_safetensors_open (golden_path, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensor) ids = golden_tensor (golden, "input_ids");
  g_autoptr (VlmTensor) pixels = golden_tensor (golden, "pixel_values");
  g_autoptr (VlmTensor) features = golden_tensor (golden, "image_features");
  g_autoptr (VlmTensor) embeds = golden_tensor (golden, "inputs_embeds");
  g_autoptr (VlmTensor) hidden = golden_tensor (golden, "final_hidden");
  g_autoptr (VlmTensor) logits = golden_tensor (golden, "logits_last");
  g_autoptr (VlmTensor) greedy = golden_tensor (golden, "greedy_tokens");
  assert_ids_equal (pipeline_output (p, "input_ids"), ids, "input_ids");
  assert_close (pipeline_output (p, "pixel_values"), pixels, 1e-6, "pixel_values");
  assert_close (pipeline_output (p, "image_features"), features, 1e-3, "image_features");
  assert_close (pipeline_output (p, "inputs_embeds"), embeds, 1e-3, "inputs_embeds");
  assert_close (pipeline_output (p, "final_hidden"), hidden, 1e-3, "final_hidden");
  assert_close (pipeline_output (p, "logits_last"), logits, 1e-3, "logits_last");
  assert_ids_equal (pipeline_output (p, "tokens"), greedy, "greedy tokens");

  /* A second run on the same pipeline reuses the loaded weights and gives the same tokens. */
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  assert_ids_equal (pipeline_output (p, "tokens"), greedy, "greedy tokens, second run");
  if (golden_out)
    *golden_out = g_steal_pointer (&golden);
  return g_steal_pointer (&p);
}

/* A GTestDataFunc over arch_fixture_run (data: the fixture name). */
void
test_arch_fixture (gconstpointer name)
{
  g_autoptr (VlmPipeline) p = arch_fixture_run (name, NULL);
}
