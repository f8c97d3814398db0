/* image-test-util.c: see image-test-util.h. */
#include "image-test-util.h"

#include <stdarg.h>
#include <stdlib.h>

char *
fixture_path (const char *first, ...)
{
  const char *shared = g_getenv ("VLM_SHARED_DIR");
  g_assert_nonnull (shared);
  GPtrArray *parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) shared);
  g_ptr_array_add (parts, (gpointer) "fixtures");
  va_list ap;
  va_start (ap, first);
  for (const char *p = first; p != NULL; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  char *path = g_build_filenamev ((char **) parts->pdata);
  g_ptr_array_unref (parts);
  return path;
}

JsonObject *
fixture_json (JsonParser *parser, const char *path)
{
  g_autoptr (GError) error = NULL;
  json_parser_load_from_mapped_file (parser, path, &error);
  g_assert_no_error (error);
  JsonNode *root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

VlmTensor *
fixture_tensor (const char *path, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmSafetensors) st = vlm_safetensors_open (path, &error);
  g_assert_no_error (error);
  VlmTensor *t = vlm_safetensors_get_tensor (st, name, &error);
  g_assert_no_error (error);
  /* A private copy, independent of the file mapping. */
  VlmTensor *copy = vlm_tensor_contiguous (t);
  vlm_tensor_unref (t);
  return copy;
}

VlmImage *
fixture_image (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (GError) error = NULL;
  VlmImage *image = vlm_image_load_file (path, 0, FALSE, &error);
  g_assert_no_error (error);
  return image;
}

void
pixel_stats_add (PixelStats *st, const guint8 *a, const guint8 *b, gsize n, gsize b_stride)
{
  for (gsize i = 0; i < n; i++) {
    int d = abs ((int) a[i] - (int) b[i * b_stride]);
    st->exact += d == 0;
    st->within1 += d <= 1;
    st->max_diff = MAX (st->max_diff, d);
  }
  st->n += n;
}

void
pixel_stats_check (const PixelStats *st, const char *what, gboolean exact)
{
  g_assert_cmpuint (st->n, >, 0);
  double exact_rate = (double) st->exact / st->n;
  double within_rate = (double) st->within1 / st->n;
  g_test_message ("%s: %" G_GSIZE_FORMAT " samples, exact %.4f%%, within 1 level %.4f%%, "
                  "max diff %d",
                  what, st->n, 100 * exact_rate, 100 * within_rate, st->max_diff);
  g_assert_cmpfloat (within_rate, >=, 0.999);
  if (exact)
    g_assert_cmpuint (st->exact, ==, st->n);
}

char *
image_sha256 (VlmImage *image)
{
  VlmTensor *px = vlm_image_get_pixels (image);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, vlm_tensor_get_data (px),
                                      vlm_tensor_get_nbytes (px));
}
