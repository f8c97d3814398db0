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
