/* test-idefics3-image.c: the Idefics3 / SmolVLM image processor and prompt
 * expansion against the real SmolVLM-256M fixture and the arch goldens. */
#include "image-test-util.h"
#include "idefics3-image.h"

#include <math.h>
#include <string.h>

/* The settings of a fixture folder (which may have no config.json): its
 * preprocessor_config.json with processor_config.json's image_seq_len, as a
 * model folder merges them. */
static Idefics3ImageSettings
load_settings (const char *dir)
{
  g_autofree char *pre_path = g_build_filename (dir, "preprocessor_config.json", NULL);
  g_autofree char *proc_path = g_build_filename (dir, "processor_config.json", NULL);
  g_autoptr (JsonParser) pre = json_parser_new ();
  g_autoptr (JsonParser) proc = json_parser_new ();
  JsonObject *settings = fixture_json (pre, pre_path);
  json_object_set_int_member (settings, "image_seq_len",
                              json_object_get_int_member (fixture_json (proc, proc_path),
                                                          "image_seq_len"));
  Idefics3ImageSettings s;
  g_autoptr (GError) error = NULL;
  g_assert_true (idefics3_image_settings_load (&s, settings, pre_path, &error));
  g_assert_no_error (error);
  return s;
}

static char *
expand (const Idefics3ImageSettings *s, const char *prompt, const int *rows, const int *cols,
        guint n)
{
  g_autoptr (GError) error = NULL;
  char *out = idefics3_expand_prompt (prompt, rows, cols, n, s->image_seq_len, NULL, &error);
  g_assert_no_error (error);
  return out;
}

/* Checks pixel_values against the stored uint8 tiles in uint8-level units:
 * one level is 1/255/std after normalization. */
static void
check_pixel_values (const Idefics3ImageSettings *s, VlmTensor *pv, VlmTensor *ref_u8,
                    const char *what)
{
  gint64 n = vlm_tensor_get_dim (ref_u8, 0), h = vlm_tensor_get_dim (ref_u8, 1);
  gint64 w = vlm_tensor_get_dim (ref_u8, 2);
  g_assert_cmpint (vlm_tensor_get_dim (pv, 1), ==, n);
  const float *p = vlm_tensor_get_data (pv);
  const guint8 *r = vlm_tensor_get_data (ref_u8);
  gsize exact = 0, within = 0, total = (gsize) (n * h * w * 3);
  for (gint64 t = 0; t < n; t++)
    for (int c = 0; c < 3; c++)
      for (gint64 i = 0; i < h * w; i++) {
        const VlmImageNormalize *norm = &s->norm;
        float ref = ((float) (r[(t * h * w + i) * 3 + c] * norm->rescale_factor)
                     - norm->image_mean[c]) / norm->image_std[c];
        float got = p[((t * 3 + c) * h * w) + i];
        double levels = fabs ((double) got - ref) * 255.0 * norm->image_std[c];
        exact += got == ref;
        within += levels <= 1.0 + 1e-4;
      }
  g_test_message ("%s pixel_values: exact %.4f%%, within 1 level %.4f%%", what,
                  100.0 * exact / total, 100.0 * within / total);
  g_assert_cmpfloat ((double) within / total, >=, 0.999);
}

static void
check_mask_extent (VlmTensor *mask, VlmTensor *extent)
{
  gint64 n = vlm_tensor_get_dim (mask, 1), h = vlm_tensor_get_dim (mask, 2);
  gint64 w = vlm_tensor_get_dim (mask, 3);
  g_assert_cmpint (vlm_tensor_get_dim (extent, 0), ==, n);
  const gint64 *m = vlm_tensor_get_data (mask), *e = vlm_tensor_get_data (extent);
  for (gint64 t = 0; t < n; t++)
    for (gint64 y = 0; y < h; y++)
      for (gint64 x = 0; x < w; x++)
        g_assert_cmpint (m[(t * h + y) * w + x], ==, y < e[t * 2] && x < e[t * 2 + 1]);
}

static void
test_smolvlm256m_real (void)
{
  g_autofree char *dir = fixture_path ("preprocess", "pre_smolvlm256m_real", NULL);
  g_autofree char *cases_path = g_build_filename (dir, "cases.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *cases = json_object_get_array_member (fixture_json (parser, cases_path), "cases");
  Idefics3ImageSettings s = load_settings (dir);
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *file = json_object_get_string_member (c, "image");
    g_autoptr (VlmImage) image = fixture_image (dir, file);
    g_autoptr (GError) error = NULL;
    int rows, cols;
    g_autoptr (GPtrArray) tiles = idefics3_image_make_tiles (&s, image, &rows, &cols, &error);
    g_assert_no_error (error);
    g_assert_cmpint (rows, ==, json_object_get_int_member (c, "rows"));
    g_assert_cmpint (cols, ==, json_object_get_int_member (c, "cols"));
    JsonArray *shas = json_object_get_array_member (c, "tile_sha256_u8_hwc");
    g_assert_cmpuint (tiles->len, ==, json_array_get_length (shas));
    gsize sha_matches = 0;
    for (guint t = 0; t < tiles->len; t++) {
      g_autofree char *sha = image_sha256 (tiles->pdata[t]);
      sha_matches += strcmp (sha, json_array_get_string_element (shas, t)) == 0;
    }
    g_test_message ("%s: %" G_GSIZE_FORMAT "/%u tiles bit-exact", file, sha_matches, tiles->len);
    if (g_str_has_suffix (file, ".png"))
      g_assert_cmpuint (sha_matches, ==, tiles->len);

    Idefics3ImageBatch batch;
    g_assert_true (idefics3_image_process (&s, &image, 1, &batch, &error));
    g_assert_no_error (error);
    g_assert_cmpint (batch.rows[0], ==, rows);
    g_assert_cmpint (batch.cols[0], ==, cols);
    JsonArray *pv_shape = json_object_get_array_member (c, "pixel_values_shape");
    for (guint k = 0; k < 5; k++)
      g_assert_cmpint (vlm_tensor_get_dim (batch.pixel_values, k), ==,
                       json_array_get_int_element (pv_shape, k));

    if (!JSON_NODE_HOLDS_NULL (json_object_get_member (c, "file"))) {
      g_autofree char *st = g_build_filename (dir, json_object_get_string_member (c, "file"), NULL);
      g_autoptr (VlmTensor) ref = fixture_tensor (st, "resized_u8");
      PixelStats stats = { 0 };
      for (guint t = 0; t < tiles->len; t++) {
        VlmTensor *px = vlm_image_get_pixels (tiles->pdata[t]);
        gsize n = vlm_tensor_get_nbytes (px);
        pixel_stats_add (&stats, vlm_tensor_get_data (px),
                         (const guint8 *) vlm_tensor_get_data (ref) + t * n, n, 1);
      }
      pixel_stats_check (&stats, file, g_str_has_suffix (file, ".png"));
      check_pixel_values (&s, batch.pixel_values, ref, file);
      g_autoptr (VlmTensor) extent = fixture_tensor (st, "pixel_attention_mask_extent");
      check_mask_extent (batch.pixel_attention_mask, extent);
    } else {
      /* Not stored: the per-channel float sums stand in for the values. */
      JsonArray *sums = json_object_get_array_member (c, "pixel_values_f32_channel_sums");
      const float *p = vlm_tensor_get_data (batch.pixel_values);
      gsize plane = 512 * 512;
      for (int ch = 0; ch < 3; ch++) {
        double sum = 0;
        for (guint t = 0; t < tiles->len; t++)
          for (gsize k = 0; k < plane; k++)
            sum += p[(t * 3 + ch) * plane + k];
        double want = json_array_get_double_element (sums, ch);
        g_assert_cmpfloat (fabs (sum - want), <=, 1e-6 * fabs (want) + 1e-3);
      }
    }

    if (json_object_has_member (c, "variant_after_convert_RGB")) {
      /* load_image()'s convert('RGB') first: LANCZOS on RGB instead of nearest. */
      JsonObject *v = json_object_get_object_member (c, "variant_after_convert_RGB");
      g_autoptr (VlmImage) rgb = vlm_image_convert (image, VLM_IMAGE_MODE_RGB, &error);
      g_assert_no_error (error);
      int vr, vc;
      g_autoptr (GPtrArray) vt = idefics3_image_make_tiles (&s, rgb, &vr, &vc, &error);
      g_assert_no_error (error);
      JsonArray *vshas = json_object_get_array_member (v, "tile_sha256_u8_hwc");
      g_assert_cmpuint (vt->len, ==, json_array_get_length (vshas));
      for (guint t = 0; t < vt->len; t++) {
        g_autofree char *sha = image_sha256 (vt->pdata[t]);
        g_assert_cmpstr (sha, ==, json_array_get_string_element (vshas, t));
      }
    }

    g_autofree char *expanded = expand (&s, json_object_get_string_member (c, "rendered_prompt"),
                                        &rows, &cols, 1);
    g_assert_cmpstr (expanded, ==, json_object_get_string_member (c, "expanded_prompt"));
    idefics3_image_batch_clear (&batch);
  }
}

/* The tiny arch models' processors: pixel_values and the mask bit for bit. */
static void
test_arch (gconstpointer data)
{
  g_autofree char *dir = fixture_path ("arch", data, NULL);
  g_autofree char *case_path = g_build_filename (dir, "case.json", NULL);
  g_autofree char *golden = g_build_filename (dir, "golden.safetensors", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *c = fixture_json (parser, case_path);
  Idefics3ImageSettings s = load_settings (dir);
  g_assert_cmpint (s.image_seq_len, ==, json_object_get_int_member (c, "image_seq_len"));
  JsonArray *images = json_object_get_array_member (c, "images");
  g_autoptr (VlmImage) image = fixture_image (dir, json_array_get_string_element (images, 0));
  Idefics3ImageBatch batch;
  g_autoptr (GError) error = NULL;
  g_assert_true (idefics3_image_process (&s, &image, 1, &batch, &error));
  g_assert_no_error (error);
  g_assert_cmpint (batch.rows[0], ==, json_array_get_int_element (json_object_get_array_member (c, "rows"), 0));
  g_assert_cmpint (batch.cols[0], ==, json_array_get_int_element (json_object_get_array_member (c, "cols"), 0));

  g_autoptr (VlmTensor) pv = fixture_tensor (golden, "pixel_values");
  g_autoptr (VlmTensor) mask = fixture_tensor (golden, "pixel_attention_mask");
  g_assert_cmpint (vlm_tensor_get_numel (pv), ==, vlm_tensor_get_numel (batch.pixel_values));
  for (guint k = 0; k < 5; k++)
    g_assert_cmpint (vlm_tensor_get_dim (pv, k), ==, vlm_tensor_get_dim (batch.pixel_values, k));
  const float *a = vlm_tensor_get_data (batch.pixel_values), *b = vlm_tensor_get_data (pv);
  gsize exact = 0, n = vlm_tensor_get_numel (pv);
  double max_levels = 0;
  for (gsize k = 0; k < n; k++) {
    exact += a[k] == b[k];
    max_levels = MAX (max_levels, fabs ((double) a[k] - b[k]) * 255.0 * s.norm.image_std[0]);
  }
  g_test_message ("%s pixel_values: exact %.4f%%, max diff %.3f levels", (const char *) data,
                  100.0 * exact / n, max_levels);
  g_assert_cmpfloat ((double) exact / n, >=, 0.999);
  g_assert_cmpfloat (max_levels, <=, 1.0 + 1e-4);
  g_assert_cmpmem (vlm_tensor_get_data (mask), vlm_tensor_get_nbytes (mask),
                   vlm_tensor_get_data (batch.pixel_attention_mask),
                   vlm_tensor_get_nbytes (batch.pixel_attention_mask));

  g_autofree char *expanded = expand (&s, json_object_get_string_member (c, "rendered_prompt"),
                                      batch.rows, batch.cols, 1);
  g_assert_cmpstr (expanded, ==, json_object_get_string_member (c, "expanded_prompt"));
  idefics3_image_batch_clear (&batch);
}

/* Several images: each <image> gets its own expansion, in order; tiles of all
 * images are concatenated. */
static void
test_several_images (void)
{
  g_autofree char *dir = fixture_path ("arch", "idefics3", NULL);
  Idefics3ImageSettings s = load_settings (dir);
  g_autoptr (VlmImage) a = fixture_image (dir, "cats.jpg");
  g_autofree char *tiny_dir = fixture_path ("..", "images", NULL);
  g_autoptr (VlmImage) b = fixture_image (tiny_dir, "tall-strip.png");
  VlmImage *both[2] = { a, b };
  Idefics3ImageBatch batch;
  g_autoptr (GError) error = NULL;
  g_assert_true (idefics3_image_process (&s, both, 2, &batch, &error));
  g_assert_no_error (error);
  /* tall-strip 100x400 -> 32x128 -> 64x128: 2 rows x 1 col. */
  g_assert_cmpint (batch.rows[1], ==, 2);
  g_assert_cmpint (batch.cols[1], ==, 1);
  gint64 want = (batch.rows[0] * batch.cols[0] + 1) + (batch.rows[1] * batch.cols[1] + 1);
  g_assert_cmpint (vlm_tensor_get_dim (batch.pixel_values, 1), ==, want);

  int rows[2] = { 0, 1 }, cols[2] = { 0, 2 };
  g_autofree char *two = idefics3_expand_prompt ("A<image>B<image>C", rows, cols, 2, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (two, ==,
                   "A<fake_token_around_image><global-img><image><image><fake_token_around_image>B"
                   "<fake_token_around_image><row_1_col_1><image><image>"
                   "<fake_token_around_image><row_1_col_2><image><image>\n"
                   "\n<fake_token_around_image><global-img><image><image><fake_token_around_image>C");
  g_autofree char *bad = idefics3_expand_prompt ("only <image> once", rows, cols, 2, 2, NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);
  /* An empty prompt has no image tokens (not "-1"). */
  g_autofree char *empty = idefics3_expand_prompt ("", rows, cols, 1, 2, NULL, &error);
  g_assert_null (empty);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "has 0 <image> tokens"));
  idefics3_image_batch_clear (&batch);
}

/* A wrong type, and a size object without the longest_edge transformers requires. */
static void
test_bad_settings (void)
{
  const char *cases[] = { "{\"size\": {\"longest_edge\": \"big\"}}",
                          "{\"size\": {\"height\": 512, \"width\": 512}}",
                          "{\"max_image_size\": {}}" };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    Idefics3ImageSettings s;
    g_autoptr (JsonParser) p = json_parser_new ();
    g_assert_true (json_parser_load_from_data (p, cases[i], -1, NULL));
    g_autoptr (GError) error = NULL;
    g_assert_false (idefics3_image_settings_load (&s, json_node_get_object (json_parser_get_root (p)),
                                                  "pre.json", &error));
    g_assert_error (error, VLM_ERROR, VLM_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, "pre.json"));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/idefics3/image/smolvlm256m-real", test_smolvlm256m_real);
  g_test_add_data_func ("/idefics3/image/arch-idefics3", "idefics3", test_arch);
  g_test_add_data_func ("/idefics3/image/arch-smolvlm", "smolvlm", test_arch);
  g_test_add_func ("/idefics3/image/several-images", test_several_images);
  g_test_add_func ("/idefics3/image/bad-settings", test_bad_settings);
  return g_test_run ();
}
