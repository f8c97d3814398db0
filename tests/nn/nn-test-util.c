/* nn-test-util.c: fixture access and comparisons shared by the nn tests. */
#include "nn-test-util.h"

#include <math.h>

/* A path under $VLM_SHARED_DIR/fixtures. */
char *
nn_fixture_path (const char *first, ...)
{
  const char *shared = g_getenv ("VLM_SHARED_DIR");
  g_assert_nonnull (shared);
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) shared);
  g_ptr_array_add (parts, "fixtures");
  va_list ap;
  va_start (ap, first);
  for (const char *p = first; p; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

/* A tensor of arch/<arch>/golden.safetensors (a mapped view). */
VlmTensor *
nn_golden (const char *arch, const char *name)
{
  g_autofree char *path = nn_fixture_path ("arch", arch, "golden.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmSafetensors) st = vlm_safetensors_open (path, &error);
  g_assert_no_error (error);
  VlmTensor *t = vlm_safetensors_get_tensor (st, name, &error);
  g_assert_no_error (error);
  return t;
}

/* The decoder of arch/<arch>. */
VlmDecoder *
nn_load_decoder (const char *arch)
{
  g_autofree char *path = nn_fixture_path ("arch", arch, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) dir = vlm_model_dir_new (path, &error);
  g_assert_no_error (error);
  VlmDecoder *dec = vlm_decoder_load (dir, NULL, &error);
  g_assert_no_error (error);
  return dec;
}

double
nn_rel_l2 (const float *got, const float *want, gint64 n)
{
  double num = 0, den = 0;
  for (gint64 i = 0; i < n; i++) {
    num += ((double) got[i] - want[i]) * ((double) got[i] - want[i]);
    den += (double) want[i] * want[i];
  }
  return sqrt (num / MAX (den, 1e-30));
}

void
nn_set_tensor_input (VlmElement *e, const char *port, VlmTensor *t)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, VLM_TYPE_TENSOR);
  g_value_set_boxed (&v, t);
  vlm_element_set_input (e, port, &v);
  g_value_unset (&v);
}

/* A llama-decoder element for arch/<arch> with the given inputs (image_features nullable). */
VlmElement *
nn_make_decoder (const char *arch, VlmTensor *input_ids, VlmTensor *image_features)
{
  g_autoptr (GError) error = NULL;
  VlmElement *e = vlm_registry_make_element (vlm_registry_get_default (), "llama-decoder",
                                             "decoder", &error);
  g_assert_no_error (error);
  g_autofree char *model = nn_fixture_path ("arch", arch, NULL);
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, model);
  vlm_element_set_input (e, "model", &v);
  g_value_unset (&v);
  nn_set_tensor_input (e, "input_ids", input_ids);
  if (image_features)
    nn_set_tensor_input (e, "image_features", image_features);
  return e;
}
