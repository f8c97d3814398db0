/* test-image-load.c: decoding keeps Pillow's modes; every bad input is a GError. */
#include "image-test-util.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <string.h>

static char *
image_path (const char *file)
{
  return fixture_path ("..", "images", file, NULL);
}

static void
check_mode (const char *file, VlmImageMode mode, int channels, int w, int h)
{
  g_autofree char *path = image_path (file);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmImage) image = vlm_image_load_file (path, 0, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_image_get_mode (image), ==, mode);
  g_assert_cmpint (vlm_image_get_channels (image), ==, channels);
  g_assert_cmpint (vlm_image_get_width (image), ==, w);
  g_assert_cmpint (vlm_image_get_height (image), ==, h);
  VlmTensor *px = vlm_image_get_pixels (image);
  g_assert_cmpint (vlm_tensor_get_dtype (px), ==, VLM_DTYPE_U8);
  g_assert_cmpint (vlm_tensor_get_dim (px, 2), ==, channels);
}

/* Sizes and modes as the preprocessing fixtures record Pillow's decode. */
static void
test_modes (void)
{
  g_autofree char *cases = fixture_path ("preprocess", "pre_gemma3_896", "cases.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *arr = json_object_get_array_member (fixture_json (parser, cases), "cases");
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    JsonObject *c = json_array_get_object_element (arr, i);
    VlmImageMode mode;
    g_assert_true (vlm_image_mode_from_string (json_object_get_string_member (c, "decoded_mode"), &mode));
    JsonArray *wh = json_object_get_array_member (c, "decoded_size_wh");
    static const int channels[] = { 1, 2, 3, 4 };
    check_mode (json_object_get_string_member (c, "image"), mode, channels[mode],
                json_array_get_int_element (wh, 0), json_array_get_int_element (wh, 1));
  }
}

static void
test_bytes_match_file (void)
{
  g_autofree char *path = image_path ("camera-gray.png");
  g_autoptr (GError) error = NULL;
  char *contents;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_autoptr (GBytes) bytes = g_bytes_new_take (contents, len);
  g_autoptr (VlmImage) a = vlm_image_load_bytes (bytes, "camera", 0, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr (VlmImage) b = vlm_image_load_file (path, 0, FALSE, &error);
  g_assert_no_error (error);
  g_autofree char *ha = image_sha256 (a), *hb = image_sha256 (b);
  g_assert_cmpstr (ha, ==, hb);
  /* L -> RGB replicates; RGB -> L is Pillow's luma, which maps gray to itself. */
  g_autoptr (VlmImage) rgb = vlm_image_convert (a, VLM_IMAGE_MODE_RGB, &error);
  g_assert_no_error (error);
  g_autoptr (VlmImage) back = vlm_image_convert (rgb, VLM_IMAGE_MODE_L, &error);
  g_assert_no_error (error);
  g_autofree char *hback = image_sha256 (back);
  g_assert_cmpstr (hback, ==, ha);
  const guint8 *g = vlm_tensor_get_data (vlm_image_get_pixels (a));
  const guint8 *c = vlm_tensor_get_data (vlm_image_get_pixels (rgb));
  for (int i = 0; i < 1000; i++)
    g_assert_true (c[i * 3] == g[i] && c[i * 3 + 1] == g[i] && c[i * 3 + 2] == g[i]);
}

static void
expect_error (GBytes *bytes, const char *name, guint64 max_pixels, int code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmImage) image = vlm_image_load_bytes (bytes, name, max_pixels, FALSE, &error);
  g_assert_null (image);
  g_assert_error (error, VLM_ERROR, code);
  g_assert_nonnull (strstr (error->message, name));
}

static GBytes *
file_bytes (const char *file)
{
  g_autofree char *path = image_path (file);
  char *contents;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  return g_bytes_new_take (contents, len);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmImage) none = vlm_image_load_file ("/nonexistent/x.png", 0, FALSE, &error);
  g_assert_null (none);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/x.png"));
  g_clear_error (&error);

  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  expect_error (empty, "empty.png", 0, VLM_ERROR_FORMAT);

  static const char text[] = "this is not an image, just some words in a text file\n";
  g_autoptr (GBytes) words = g_bytes_new_static (text, sizeof text - 1);
  expect_error (words, "notes.txt", 0, VLM_ERROR_UNSUPPORTED);

  /* Over the limit: refused from the header, for each format we sniff. */
  g_autoptr (GBytes) png = file_bytes ("astronaut.png");
  g_autoptr (GBytes) jpg = file_bytes ("cats.jpg");
  expect_error (png, "astronaut.png", 512 * 512 - 1, VLM_ERROR_LIMIT);
  expect_error (jpg, "cats.jpg", 1000, VLM_ERROR_LIMIT);
  g_autoptr (VlmImage) exact_fit = vlm_image_load_bytes (png, "astronaut.png", 512 * 512, FALSE, &error);
  g_assert_no_error (error);

  /* Truncated and corrupted data. */
  gsize len;
  const guint8 *d = g_bytes_get_data (png, &len);
  g_autoptr (GBytes) half = g_bytes_new (d, len / 2);
  expect_error (half, "half.png", 0, VLM_ERROR_FORMAT);
  g_autoptr (GBytes) header_only = g_bytes_new (d, 40);
  expect_error (header_only, "header.png", 0, VLM_ERROR_FORMAT);
  guint8 *bad = g_memdup2 (d, len);
  memset (bad + 100, 0x5a, 4000);
  g_autoptr (GBytes) corrupt = g_bytes_new_take (bad, len);
  expect_error (corrupt, "corrupt.png", 0, VLM_ERROR_FORMAT);
  const guint8 *j = g_bytes_get_data (jpg, &len);
  g_autoptr (GBytes) jhalf = g_bytes_new (j, 200);
  expect_error (jhalf, "cut.jpg", 0, VLM_ERROR_FORMAT);

  /* A zero width in the PNG header. */
  guint8 *zero = g_memdup2 (d, len);
  memset (zero + 16, 0, 4);
  g_autoptr (GBytes) zero_bytes = g_bytes_new_take (zero, len);
  expect_error (zero_bytes, "zero.png", 0, VLM_ERROR_FORMAT);
}

/* EXIF orientation is applied only on request: a JPEG carrying orientation 6
 * (rotate 90 degrees) keeps its stored layout by default. */
static void
test_exif_orientation (void)
{
  g_autofree char *path = image_path ("tiny-7x5.png");
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  char *jpeg;
  gsize len;
  gdk_pixbuf_save_to_buffer (pb, &jpeg, &len, "jpeg", &error, NULL);
  g_assert_no_error (error);
  /* APP1 "Exif": big-endian TIFF header, one IFD entry 0x0112 SHORT = 6. */
  static const guint8 app1[] = {
    0xff, 0xe1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,
    'M', 'M', 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08,
    0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
  };
  GByteArray *with_exif = g_byte_array_new ();
  g_byte_array_append (with_exif, (const guint8 *) jpeg, 2);
  g_byte_array_append (with_exif, app1, sizeof app1);
  g_byte_array_append (with_exif, (const guint8 *) jpeg + 2, len - 2);
  g_free (jpeg);
  g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (with_exif);
  g_autoptr (VlmImage) plain = vlm_image_load_bytes (bytes, "o.jpg", 0, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_image_get_width (plain), ==, 7);
  g_assert_cmpint (vlm_image_get_height (plain), ==, 5);
  g_autoptr (VlmImage) turned = vlm_image_load_bytes (bytes, "o.jpg", 0, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_image_get_width (turned), ==, 5);
  g_assert_cmpint (vlm_image_get_height (turned), ==, 7);
}

/* WebP keeps RGBA when it has alpha; a cut WebP is refused like in Pillow. */
static void
test_webp (void)
{
  g_autofree char *path = image_path ("horse-rgba.png");
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  char *buf;
  gsize len;
  g_assert_true (gdk_pixbuf_save_to_buffer (pb, &buf, &len, "webp", &error, NULL));
  g_assert_no_error (error);
  g_autoptr (GBytes) bytes = g_bytes_new_take (buf, len);
  g_autoptr (VlmImage) image = vlm_image_load_bytes (bytes, "horse.webp", 0, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_image_get_mode (image), ==, VLM_IMAGE_MODE_RGBA);
  g_assert_cmpint (vlm_image_get_width (image), ==, gdk_pixbuf_get_width (pb));
  g_autoptr (GBytes) cut = g_bytes_new_from_bytes (bytes, 0, len * 2 / 3);
  expect_error (cut, "cut.webp", 0, VLM_ERROR_FORMAT);
}

/* A 1x1 GIF whose only color is transparent: mode "P", expanded to RGBA;
 * Pillow resizes "P" nearest whatever the filter. */
static void
test_gif_palette (void)
{
  static const guint8 gif[] = {
    'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0xff, 0xff, 0, 0, 0,
    '!', 0xf9, 4, 1, 0, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';',
  };
  g_autoptr (GBytes) bytes = g_bytes_new_static (gif, sizeof gif);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmImage) image = vlm_image_load_bytes (bytes, "dot.gif", 0, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_image_get_mode (image), ==, VLM_IMAGE_MODE_P);
  g_assert_cmpint (vlm_image_get_channels (image), ==, 4);
  g_autoptr (VlmImage) big = vlm_image_resize (image, 3, 2, VLM_RESAMPLE_LANCZOS, &error);
  g_assert_no_error (error);
  const guint8 *a = vlm_tensor_get_data (vlm_image_get_pixels (image));
  const guint8 *b = vlm_tensor_get_data (vlm_image_get_pixels (big));
  for (int i = 0; i < 6; i++)
    g_assert_cmpmem (a, 4, b + i * 4, 4);
}

static void
test_composite_and_crop (void)
{
  gint64 shape[3] = { 1, 4, 4 };
  static const guint8 px[16] = { 10, 20, 30, 255,  10, 20, 30, 0,  200, 100, 0, 128,  0, 0, 0, 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) t = vlm_tensor_new_from_data (VLM_DTYPE_U8, 3, shape, px, sizeof px, &error);
  g_assert_no_error (error);
  g_autoptr (VlmImage) rgba = vlm_image_new (VLM_IMAGE_MODE_RGBA, t, &error);
  g_assert_no_error (error);
  g_autoptr (VlmImage) flat = vlm_image_composite_on_white (rgba);
  const guint8 *o = vlm_tensor_get_data (vlm_image_get_pixels (flat));
  /* Opaque kept, transparent white, partial alpha blended towards white. */
  g_assert_cmpint (o[0], ==, 10);
  g_assert_cmpint (o[2], ==, 30);
  g_assert_cmpint (o[3], ==, 255);
  g_assert_cmpint (o[5], ==, 255);
  g_assert_cmpint (o[6], >, 200);
  g_assert_cmpint (o[6], <, 230);
  g_assert_cmpint (o[8], >, 120);
  g_assert_cmpint (o[8], <, 135);
  g_assert_cmpint (o[9], >=, 253);

  g_autoptr (VlmImage) bad = vlm_image_new (VLM_IMAGE_MODE_RGB, t, &error);
  g_assert_null (bad);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (VlmImage) crop = vlm_image_crop (rgba, 3, 0, 2, 1, &error);
  g_assert_null (crop);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (VlmImage) zero = vlm_image_resize (rgba, 0, 3, VLM_RESAMPLE_BICUBIC, &error);
  g_assert_null (zero);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/image/load/modes", test_modes);
  g_test_add_func ("/image/load/bytes", test_bytes_match_file);
  g_test_add_func ("/image/load/errors", test_errors);
  g_test_add_func ("/image/load/orientation", test_exif_orientation);
  g_test_add_func ("/image/load/webp", test_webp);
  g_test_add_func ("/image/load/gif-palette", test_gif_palette);
  g_test_add_func ("/image/ops/composite-crop", test_composite_and_crop);
  return g_test_run ();
}
