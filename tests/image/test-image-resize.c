/* test-image-resize.c: Pillow-exact resizing against every preprocessing
 * fixture that stores the reference's uint8 resize output. */
#include "image-test-util.h"

#include <string.h>

typedef struct {
  JsonParser *parser;
  JsonObject *cases;
  JsonObject *config;
  JsonParser *config_parser;
  char *dir;
} Fixture;

static void
fixture_open (Fixture *f, const char *name)
{
  f->dir = fixture_path ("preprocess", name, NULL);
  g_autofree char *cases = g_build_filename (f->dir, "cases.json", NULL);
  g_autofree char *config = g_build_filename (f->dir, "preprocessor_config.json", NULL);
  f->parser = json_parser_new ();
  f->config_parser = json_parser_new ();
  f->cases = fixture_json (f->parser, cases);
  f->config = fixture_json (f->config_parser, config);
}

static void
fixture_close (Fixture *f)
{
  g_object_unref (f->parser);
  g_object_unref (f->config_parser);
  g_free (f->dir);
}

static JsonArray *
cases_of (Fixture *f)
{
  const char *key = json_object_has_member (f->cases, "cases") ? "cases" : "images";
  return json_object_get_array_member (f->cases, key);
}

/* What transformers.image_utils.load_image hands these processors. */
static VlmImage *
load_rgb (Fixture *f, const char *file)
{
  g_autoptr (VlmImage) image = fixture_image (f->dir, file);
  g_autoptr (GError) error = NULL;
  VlmImage *rgb = vlm_image_convert (image, VLM_IMAGE_MODE_RGB, &error);
  g_assert_no_error (error);
  return rgb;
}

static VlmImage *
resize (VlmImage *image, int w, int h, VlmResample filter)
{
  g_autoptr (GError) error = NULL;
  VlmImage *out = vlm_image_resize (image, w, h, filter, &error);
  g_assert_no_error (error);
  return out;
}

static void
compare_image (VlmImage *ours, VlmTensor *ref, gsize ref_offset, gsize ref_stride,
               const char *what, const char *file)
{
  const guint8 *a = vlm_tensor_get_data (vlm_image_get_pixels (ours));
  const guint8 *b = (const guint8 *) vlm_tensor_get_data (ref) + ref_offset;
  PixelStats st = { 0 };
  pixel_stats_add (&st, a, b, vlm_tensor_get_nbytes (vlm_image_get_pixels (ours)), ref_stride);
  g_autofree char *label = g_strdup_printf ("%s %s", what, file);
  /* JPEG decoders may round differently; PNG decoding is exact. */
  pixel_stats_check (&st, label, g_str_has_suffix (file, ".png"));
}

static VlmResample
config_resample (Fixture *f)
{
  return (VlmResample) json_object_get_int_member (f->config, "resample");
}

/* SigLIP (PaliGemma) and Gemma 3: convert('RGB'), then a plain resize to the
 * configured size; Gemma's pan-and-scan crops are resized the same way. */
static void
test_fixed_size (gconstpointer data)
{
  Fixture f;
  fixture_open (&f, data);
  JsonObject *size = json_object_get_object_member (f.config, "size");
  int w = json_object_get_int_member (size, "width");
  int h = json_object_get_int_member (size, "height");
  JsonArray *cases = cases_of (&f);
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *file = json_object_get_string_member (c, "image");
    g_autofree char *st_path = g_build_filename (f.dir, json_object_get_string_member (c, "file"), NULL);
    g_autoptr (VlmImage) rgb = load_rgb (&f, file);
    if (json_object_has_member (c, "crop_boxes_top_left_bottom_right")) {
      /* Full image first, then each crop; stored every 8th row and column. */
      g_autoptr (VlmTensor) ref = fixture_tensor (st_path, "resized_u8_stride8");
      JsonArray *boxes = json_object_get_array_member (c, "crop_boxes_top_left_bottom_right");
      JsonArray *shas = json_object_get_array_member (c, "resized_u8_sha256");
      for (guint k = 0; k <= json_array_get_length (boxes); k++) {
        g_autoptr (VlmImage) part = NULL;
        if (k == 0) {
          part = vlm_image_ref (rgb);
        } else {
          JsonArray *b = json_array_get_array_element (boxes, k - 1);
          int top = json_array_get_int_element (b, 0), left = json_array_get_int_element (b, 1);
          int bottom = json_array_get_int_element (b, 2), right = json_array_get_int_element (b, 3);
          g_autoptr (GError) error = NULL;
          part = vlm_image_crop (rgb, left, top, right - left, bottom - top, &error);
          g_assert_no_error (error);
        }
        g_autoptr (VlmImage) out = resize (part, w, h, config_resample (&f));
        g_autofree char *sha = image_sha256 (out);
        g_assert_cmpstr (sha, ==, json_array_get_string_element (shas, k));
        const guint8 *px = vlm_tensor_get_data (vlm_image_get_pixels (out));
        int sh = (int) vlm_tensor_get_dim (ref, 1), sw = (int) vlm_tensor_get_dim (ref, 2);
        const guint8 *rd = (const guint8 *) vlm_tensor_get_data (ref) + (gsize) k * sh * sw * 3;
        PixelStats st = { 0 };
        for (int y = 0; y < sh; y++)
          for (int x = 0; x < sw; x++)
            pixel_stats_add (&st, px + ((gsize) y * 8 * w + x * 8) * 3, rd + ((gsize) y * sw + x) * 3, 3, 1);
        pixel_stats_check (&st, file, FALSE);
      }
      continue;
    }
    g_autoptr (VlmTensor) ref = fixture_tensor (st_path, "resized_u8");
    g_autoptr (VlmImage) out = resize (rgb, w, h, config_resample (&f));
    compare_image (out, ref, 0, 1, data, file);
    if (json_object_has_member (c, "resized_u8_sha256")) {
      g_autofree char *sha = image_sha256 (out);
      if (g_str_has_suffix (file, ".png"))
        g_assert_cmpstr (sha, ==, json_object_get_string_member (c, "resized_u8_sha256"));
    }
  }
  fixture_close (&f);
}

/* CLIP (LLaVA-1.5): shortest-edge resize to the stored size, center crop. */
static void
test_clip (void)
{
  Fixture f;
  fixture_open (&f, "pre_clip_llava336");
  JsonObject *crop = json_object_get_object_member (f.config, "crop_size");
  int cw = json_object_get_int_member (crop, "width"), ch = json_object_get_int_member (crop, "height");
  JsonArray *cases = cases_of (&f);
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *file = json_object_get_string_member (c, "image");
    JsonArray *hw = json_object_get_array_member (c, "resized_hw");
    JsonArray *tl = json_object_get_array_member (c, "crop_top_left");
    g_autofree char *st_path = g_build_filename (f.dir, json_object_get_string_member (c, "file"), NULL);
    g_autoptr (VlmImage) rgb = load_rgb (&f, file);
    g_autoptr (VlmImage) big = resize (rgb, json_array_get_int_element (hw, 1),
                                       json_array_get_int_element (hw, 0), config_resample (&f));
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmImage) out = vlm_image_center_crop (big, cw, ch, &error);
    g_assert_no_error (error);
    g_autoptr (VlmImage) explicit_crop = vlm_image_crop (big, json_array_get_int_element (tl, 1),
                                                         json_array_get_int_element (tl, 0), cw, ch, &error);
    g_assert_no_error (error);
    g_autofree char *a = image_sha256 (out), *b = image_sha256 (explicit_crop);
    g_assert_cmpstr (a, ==, b);
    g_autoptr (VlmTensor) ref = fixture_tensor (st_path, "resized_u8");
    compare_image (out, ref, 0, 1, "pre_clip_llava336", file);

    /* pixel_values: rescale + normalize of our crop, stored as F16. */
    float mean[3], std[3];
    JsonArray *jm = json_object_get_array_member (f.config, "image_mean");
    JsonArray *js = json_object_get_array_member (f.config, "image_std");
    for (int k = 0; k < 3; k++) {
      mean[k] = (float) json_array_get_double_element (jm, k);
      std[k] = (float) json_array_get_double_element (js, k);
    }
    g_autoptr (VlmTensor) pv = vlm_image_to_chw_f32 (
      out, json_object_get_double_member (f.config, "rescale_factor"), mean, std, &error);
    g_assert_no_error (error);
    g_autoptr (VlmTensor) ref_pv = fixture_tensor (st_path, "pixel_values");
    g_assert_cmpint (vlm_tensor_get_numel (pv), ==, vlm_tensor_get_numel (ref_pv));
    const float *p = vlm_tensor_get_data (pv);
    const guint16 *r = vlm_tensor_get_data (ref_pv);
    gsize mismatches = 0;
    for (gint64 k = 0; k < vlm_tensor_get_numel (pv); k++)
      mismatches += vlm_f32_to_f16 (p[k]) != r[k];
    /* A JPEG level off moves a value by more than one F16 step. */
    g_assert_cmpfloat ((double) mismatches / vlm_tensor_get_numel (pv), <=, 0.001);
    if (g_str_has_suffix (file, ".png"))
      g_assert_cmpuint (mismatches, ==, 0);
  }
  fixture_close (&f);
}

/* Qwen2-VL: convert('RGB') and a BICUBIC resize (Qwen2VLImageProcessor's
 * default; the published config has no "resample") to the smart-resize size. */
static void
test_qwen2vl (void)
{
  Fixture f;
  fixture_open (&f, "pre_qwen2vl_2b");
  JsonArray *cases = cases_of (&f);
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *file = json_object_get_string_member (c, "image");
    JsonArray *hw = json_object_get_array_member (c, "resized_hw");
    g_autofree char *st_path = g_build_filename (f.dir, json_object_get_string_member (c, "file"), NULL);
    g_autoptr (VlmImage) rgb = load_rgb (&f, file);
    g_autoptr (VlmImage) out = resize (rgb, json_array_get_int_element (hw, 1),
                                       json_array_get_int_element (hw, 0), VLM_RESAMPLE_BICUBIC);
    gboolean gray = json_object_has_member (c, "resized_u8_gray");
    g_autoptr (VlmTensor) ref = fixture_tensor (st_path, gray ? "resized_u8_gray" : "resized_u8");
    if (gray) {
      /* Stored once for R = G = B: check every channel against it. */
      for (int k = 0; k < 3; k++) {
        const guint8 *px = vlm_tensor_get_data (vlm_image_get_pixels (out));
        PixelStats st = { 0 };
        gsize n = vlm_tensor_get_numel (ref);
        for (gsize j = 0; j < n; j++)
          pixel_stats_add (&st, px + j * 3 + k, (const guint8 *) vlm_tensor_get_data (ref) + j, 1, 1);
        pixel_stats_check (&st, file, TRUE);
      }
    } else {
      compare_image (out, ref, 0, 1, "pre_qwen2vl_2b", file);
    }
  }
  fixture_close (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/image/resize/siglip", "pre_siglip_paligemma224", test_fixed_size);
  g_test_add_data_func ("/image/resize/gemma3", "pre_gemma3_896", test_fixed_size);
  g_test_add_func ("/image/resize/clip", test_clip);
  g_test_add_func ("/image/resize/qwen2vl", test_qwen2vl);
  return g_test_run ();
}
