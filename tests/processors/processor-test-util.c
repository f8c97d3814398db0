/* processor-test-util.c: helpers for the processor element tests. */
#include "processor-test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <unistd.h>

char *
fixture_path (const char *first, ...)
{
  va_list args;
  va_start (args, first);
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) g_getenv ("VLM_SHARED_DIR"));
  g_ptr_array_add (parts, (gpointer) "fixtures");
  for (const char *p = first; p; p = va_arg (args, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (args);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

JsonObject *
fixture_object (JsonParser *parser, const char *path)
{
  g_autoptr (GError) error = NULL;
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

VlmTensor *
fixture_tensor (const char *path, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmSafetensors) st = vlm_safetensors_open (path, &error);
  g_assert_no_error (error);
  VlmTensor *t = vlm_safetensors_get_tensor (st, name, &error);
  g_assert_no_error (error);
  return t;
}

static void
link_if_exists (const char *from_dir, const char *name, const char *to_dir)
{
  g_autofree char *src = g_build_filename (from_dir, name, NULL);
  g_autofree char *dst = g_build_filename (to_dir, name, NULL);
  if (g_file_test (src, G_FILE_TEST_EXISTS))
    g_assert_cmpint (symlink (src, dst), ==, 0);
}

char *
model_dir_new (const char *settings_dir, const char *tokenizer_dir)
{
  char *dir = g_dir_make_tmp ("vlm-processor-XXXXXX", NULL);
  g_assert_nonnull (dir);
  static const char *const settings[] = { "preprocessor_config.json", "processor_config.json" };
  static const char *const tokenizer[] = { "config.json", "tokenizer.json", "tokenizer_config.json",
                                           "special_tokens_map.json", "added_tokens.json" };
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    link_if_exists (settings_dir, settings[i], dir);
  for (guint i = 0; i < G_N_ELEMENTS (tokenizer); i++)
    link_if_exists (tokenizer_dir, tokenizer[i], dir);
  return dir;
}

void
model_dir_remove (char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_unlink (path);
  }
  g_rmdir (dir);
  g_free (dir);
}

VlmPipeline *
processor_pipeline (const char *model, const char *element, const char *properties)
{
  g_autofree char *json = g_strdup_printf (
      "{\"model\": \"%s\", \"nodes\": ["
      "{\"id\": \"load\", \"element\": \"image-loader\", \"inputs\": {\"locations\": \"@images\"}},"
      "{\"id\": \"proc\", \"element\": \"%s\", \"properties\": %s, \"inputs\": {\"model\": \"@model\","
      " \"text\": \"@prompt\", \"images\": \"load.images\", \"modes\": \"load.modes\"}}]}",
      model, element, properties ? properties : "{}");
  g_autoptr (GError) error = NULL;
  VlmPipeline *p = vlm_pipeline_new_from_data (json, -1, NULL, &error);
  g_assert_no_error (error);
  return p;
}

void
processor_run (VlmPipeline *p, const char *image, const char *prompt)
{
  const char *images[] = { image, NULL };
  vlm_pipeline_set_images (p, images);
  vlm_pipeline_set_prompt (p, prompt);
  g_autoptr (GError) error = NULL;
  gboolean ok = vlm_pipeline_run (p, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

VlmTensor *
processor_output (VlmPipeline *p, const char *port)
{
  g_autofree char *name = g_strconcat ("proc.", port, NULL);
  const GValue *v = vlm_pipeline_get_value (p, name);
  g_assert_nonnull (v);
  g_assert_true (G_VALUE_HOLDS (v, VLM_TYPE_TENSOR));
  return g_value_get_boxed (v);
}

const char *
processor_output_string (VlmPipeline *p, const char *port)
{
  g_autofree char *name = g_strconcat ("proc.", port, NULL);
  const GValue *v = vlm_pipeline_get_value (p, name);
  g_assert_nonnull (v);
  return g_value_get_string (v);
}

static VlmTensor *
as_f32 (VlmTensor *t)
{
  g_autoptr (GError) error = NULL;
  VlmTensor *f = vlm_tensor_to_dtype (t, VLM_DTYPE_F32, &error);
  g_assert_no_error (error);
  return f;
}

static void
check_levels (gsize n, gsize within1, gsize exact, double max_diff, const char *what)
{
  g_test_message ("%s: %" G_GSIZE_FORMAT " values, %.4f%% same level, %.4f%% within 1, max %.3f "
                  "levels", what, n, 100.0 * exact / n, 100.0 * within1 / n, max_diff);
  if (within1 < n - n / 1000)
    g_error ("%s: only %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " values within 1 level (max %.3f)",
             what, within1, n, max_diff);
}

/* F16 storage of expected values adds up to ~0.06 level; exact = under half a level. */
#define WITHIN1 1.1
#define SAME 0.5

void
assert_pixels_levels (VlmTensor *actual, VlmTensor *expected, gsize plane, const float mean[3],
                      const float std[3], double rescale, const char *what)
{
  g_assert_nonnull (actual);
  g_assert_cmpint (vlm_tensor_get_dtype (actual), ==, VLM_DTYPE_F32);
  g_assert_cmpint (vlm_tensor_get_numel (actual), ==, vlm_tensor_get_numel (expected));
  g_autoptr (VlmTensor) e = as_f32 (expected);
  const float *x = vlm_tensor_get_data (actual), *y = vlm_tensor_get_data (e);
  gsize n = vlm_tensor_get_numel (actual), within1 = 0, exact = 0;
  double max_diff = 0;
  for (gsize i = 0; i < n; i++) {
    int c = (i / plane) % 3;
    double d = fabs ((double) x[i] - y[i]) * std[c] / rescale;
    within1 += d <= WITHIN1;
    exact += d < SAME;
    max_diff = MAX (max_diff, d);
  }
  (void) mean;
  check_levels (n, within1, exact, max_diff, what);
}

void
assert_pixels_u8 (VlmTensor *actual, VlmTensor *u8, int stride, const float mean[3],
                  const float std[3], double rescale, const char *what)
{
  g_assert_nonnull (actual);
  guint nd;
  const gint64 *as = vlm_tensor_get_shape (actual, &nd);
  const gint64 *us = vlm_tensor_get_shape (u8, NULL);
  g_assert_cmpint (nd, ==, 4);
  g_assert_cmpint (as[0], ==, us[0]);
  g_assert_cmpint (as[1], ==, 3);
  g_assert_cmpint ((as[2] + stride - 1) / stride, ==, us[1]);
  g_assert_cmpint ((as[3] + stride - 1) / stride, ==, us[2]);
  const float *x = vlm_tensor_get_data (actual);
  const guint8 *y = vlm_tensor_get_data (u8);
  gsize n = 0, within1 = 0, exact = 0;
  double max_diff = 0;
  for (gint64 i = 0; i < us[0]; i++)
    for (gint64 r = 0; r < us[1]; r++)
      for (gint64 col = 0; col < us[2]; col++)
        for (int c = 0; c < 3; c++) {
          float v = x[((i * 3 + c) * as[2] + r * stride) * as[3] + col * stride];
          double level = ((double) v * std[c] + mean[c]) / rescale;
          double d = fabs (level - y[((i * us[1] + r) * us[2] + col) * 3 + c]);
          n++;
          within1 += d <= WITHIN1;
          exact += d < SAME;
          max_diff = MAX (max_diff, d);
        }
  check_levels (n, within1, exact, max_diff, what);
}

void
assert_pixel_values (VlmPipeline *p, VlmTensor *expected, gsize plane, const float mean[3],
                     const float std[3], const char *what)
{
  VlmTensor *pixels = processor_output (p, "pixel_values");
  assert_same_shape (pixels, expected, what);
  assert_pixels_levels (pixels, expected, plane, mean, std, 1.0 / 255.0, what);
}

void
assert_same_shape (VlmTensor *actual, VlmTensor *expected, const char *what)
{
  g_assert_nonnull (actual);
  guint na, ne;
  const gint64 *a = vlm_tensor_get_shape (actual, &na), *e = vlm_tensor_get_shape (expected, &ne);
  gboolean same = na == ne;
  for (guint i = 0; same && i < na; i++)
    same = a[i] == e[i];
  if (!same) {
    g_autofree char *da = vlm_tensor_describe (actual), *de = vlm_tensor_describe (expected);
    g_error ("%s: shape %s, expected %s", what, da, de);
  }
}

void
assert_ids_equal (VlmTensor *actual, VlmTensor *expected, const char *what)
{
  g_assert_nonnull (actual);
  g_assert_cmpint (vlm_tensor_get_dtype (actual), ==, VLM_DTYPE_I64);
  g_assert_cmpint (vlm_tensor_get_ndim (actual), ==, vlm_tensor_get_ndim (expected));
  g_assert_cmpint (vlm_tensor_get_numel (actual), ==, vlm_tensor_get_numel (expected));
  const gint64 *a = vlm_tensor_get_data (actual), *e = vlm_tensor_get_data (expected);
  for (gint64 i = 0; i < vlm_tensor_get_numel (actual); i++)
    if (a[i] != e[i])
      g_error ("%s: element %" G_GINT64_FORMAT " is %" G_GINT64_FORMAT ", expected %"
               G_GINT64_FORMAT, what, i, a[i], e[i]);
}

VlmTensor *
ids_from_json (JsonArray *array)
{
  gint64 shape[] = { 1, json_array_get_length (array) };
  VlmTensor *t = vlm_tensor_new (VLM_DTYPE_I64, 2, shape);
  gint64 *d = vlm_tensor_get_data_mut (t);
  for (gint64 i = 0; i < shape[1]; i++)
    d[i] = json_array_get_int_element (array, i);
  return t;
}

static void
settings_mean_std (const char *settings_dir, float mean[3], float std[3])
{
  g_autofree char *path = g_build_filename (settings_dir, "preprocessor_config.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = fixture_object (parser, path);
  JsonArray *m = json_object_get_array_member (o, "image_mean");
  JsonArray *s = json_object_get_array_member (o, "image_std");
  for (guint i = 0; i < 3; i++) {
    mean[i] = json_array_get_double_element (m, i);
    std[i] = json_array_get_double_element (s, i);
  }
}

PreprocessFixture
preprocess_fixture (const char *name, const char *arch, const char *member)
{
  PreprocessFixture f = { .name = name, .parser = json_parser_new () };
  g_autofree char *settings = fixture_path ("preprocess", name, NULL);
  g_autofree char *tokenizer = fixture_path ("arch", arch, NULL);
  f.model = model_dir_new (settings, tokenizer);
  g_autofree char *cases_path = g_build_filename (settings, "cases.json", NULL);
  f.root = fixture_object (f.parser, cases_path);
  f.cases = json_object_get_array_member (f.root, member);
  settings_mean_std (settings, f.mean, f.std);
  return f;
}

void
preprocess_fixture_clear (PreprocessFixture *f)
{
  model_dir_remove (f->model);
  g_object_unref (f->parser);
}

PreprocessCase
preprocess_case (const PreprocessFixture *f, guint i)
{
  JsonObject *json = json_array_get_object_element (f->cases, i);
  const char *name = json_object_get_string_member (json, "image");
  const char *file = json_object_get_string_member (json, "file");
  return (PreprocessCase) {
    .json = json,
    .name = name,
    .image = fixture_path ("preprocess", f->name, name, NULL),
    .file = fixture_path ("preprocess", f->name, file, NULL),
  };
}

void
preprocess_case_clear (PreprocessCase *c)
{
  g_free (c->image);
  g_free (c->file);
}

ArchCase
arch_case_run (const char *arch, const char *element)
{
  g_autofree char *model = fixture_path ("arch", arch, NULL);
  g_autofree char *case_path = g_build_filename (model, "case.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *json = fixture_object (parser, case_path);
  ArchCase c = { arch, processor_pipeline (model, element, NULL) };
  JsonArray *images = json_object_get_array_member (json, "images");
  g_autofree char *image = g_build_filename (model, json_array_get_string_element (images, 0),
                                             NULL);
  processor_run (c.pipeline, image, json_object_get_string_member (json, "rendered_prompt"));
  g_assert_cmpstr (processor_output_string (c.pipeline, "prompt"), ==,
                   json_object_get_string_member (json, "expanded_prompt"));
  return c;
}

void
arch_case_clear (ArchCase *c)
{
  g_clear_object (&c->pipeline);
}

static VlmTensor *
golden_tensor (const ArchCase *c, const char *name)
{
  g_autofree char *golden = fixture_path ("arch", c->arch, "golden.safetensors", NULL);
  return fixture_tensor (golden, name);
}

void
arch_case_assert_ids (const ArchCase *c, const char *first, ...)
{
  va_list args;
  va_start (args, first);
  for (const char *name = first; name; name = va_arg (args, const char *)) {
    g_autoptr (VlmTensor) expected = golden_tensor (c, name);
    assert_ids_equal (processor_output (c->pipeline, name), expected, name);
  }
  va_end (args);
}

void
arch_case_assert_pixels (const ArchCase *c, gsize plane)
{
  g_autoptr (VlmTensor) expected = golden_tensor (c, "pixel_values");
  g_autofree char *model = fixture_path ("arch", c->arch, NULL);
  float mean[3], std[3];
  settings_mean_std (model, mean, std);
  const gint64 *shape = vlm_tensor_get_shape (expected, NULL);
  assert_pixel_values (c->pipeline, expected, plane ? plane : (gsize) (shape[2] * shape[3]), mean,
                       std, "pixel_values");
}
