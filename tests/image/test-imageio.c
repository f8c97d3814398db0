/* test-imageio.c: the imageio plugin's elements, alone and in a pipeline. */
#include "image-test-util.h"

#include <string.h>

static VlmElement *
make (const char *factory)
{
  g_autoptr (GError) error = NULL;
  VlmElement *e = vlm_registry_make_element (vlm_registry_get_default (), factory, factory, &error);
  g_assert_no_error (error);
  return e;
}

static void
set_locations (VlmElement *e, const char *const *paths)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRV);
  g_value_set_boxed (&v, paths);
  vlm_element_set_input (e, "locations", &v);
  g_value_unset (&v);
}

static void
test_loader (void)
{
  g_autoptr (VlmElement) loader = make ("image-loader");
  g_autofree char *gray = fixture_path ("..", "images", "camera-gray.png", NULL);
  g_autofree char *rgba = fixture_path ("..", "images", "horse-rgba.png", NULL);
  const char *paths[] = { gray, rgba, NULL };
  set_locations (loader, paths);
  g_autoptr (GError) error = NULL;
  g_assert_true (vlm_element_process (loader, &error));
  g_assert_no_error (error);

  const GValue *iv = vlm_element_get_output (loader, "images");
  VlmTensorSet *images = g_value_get_boxed (iv);
  g_assert_cmpuint (vlm_tensor_set_get_size (images), ==, 2);
  g_assert_cmpstr (vlm_tensor_set_get_nth_name (images, 1), ==, "1");
  VlmTensor *t0 = vlm_tensor_set_get (images, "0");
  g_assert_cmpint (vlm_tensor_get_dtype (t0), ==, VLM_DTYPE_U8);
  g_assert_cmpint (vlm_tensor_get_dim (t0, 2), ==, 1);
  g_assert_cmpint (vlm_tensor_get_dim (vlm_tensor_set_get (images, "1"), 2), ==, 4);
  const char *const *modes = g_value_get_boxed (vlm_element_get_output (loader, "modes"));
  g_assert_cmpstr (modes[0], ==, "L");
  g_assert_cmpstr (modes[1], ==, "RGBA");
  g_assert_null (modes[2]);

  /* A processor rebuilds the image from the two outputs. */
  VlmImageMode mode;
  g_assert_true (vlm_image_mode_from_string (modes[0], &mode));
  g_autoptr (VlmImage) image = vlm_image_new (mode, t0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_image_get_width (image), ==, 512);

  g_autoptr (VlmElement) info = make ("image-info");
  vlm_element_set_input (info, "images", iv);
  vlm_element_set_input (info, "modes", vlm_element_get_output (loader, "modes"));
  g_assert_true (vlm_element_process (info, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (g_value_get_string (vlm_element_get_output (info, "text")), ==,
                   "0: 512x512, 1 channel(s), mode L\n1: 400x328, 4 channel(s), mode RGBA\n");
}

static void
test_loader_errors (void)
{
  g_autoptr (VlmElement) loader = make ("image-loader");
  g_autoptr (GError) error = NULL;
  g_assert_false (vlm_element_process (loader, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);

  g_object_set (loader, "location", "/nonexistent/picture.jpg", NULL);
  g_assert_false (vlm_element_process (loader, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/picture.jpg"));
  g_clear_error (&error);

  g_autofree char *cats = fixture_path ("..", "images", "cats.jpg", NULL);
  g_object_set (loader, "location", cats, "max-pixels", (guint64) 1000, NULL);
  g_assert_false (vlm_element_process (loader, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_LIMIT);
}

static void
test_pipeline (void)
{
  g_autofree char *images = fixture_path ("..", "images", NULL);
  static const char json[] =
    "{ \"name\": \"image-info\", \"images\": [\"cats.jpg\", \"tall-strip.png\"],"
    "  \"nodes\": ["
    "    { \"id\": \"load\", \"element\": \"image-loader\", \"inputs\": { \"locations\": \"@images\" } },"
    "    { \"id\": \"info\", \"element\": \"image-info\","
    "      \"inputs\": { \"images\": \"load.images\", \"modes\": \"load.modes\" } }"
    "  ] }";
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmPipeline) p = vlm_pipeline_new_from_data (json, -1, images, &error);
  g_assert_no_error (error);
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  const GValue *text = vlm_pipeline_get_value (p, "info.text");
  g_assert_nonnull (text);
  g_assert_cmpstr (g_value_get_string (text), ==,
                   "0: 451x300, 3 channel(s), mode RGB\n1: 100x400, 3 channel(s), mode RGB\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/imageio/loader", test_loader);
  g_test_add_func ("/imageio/loader-errors", test_loader_errors);
  g_test_add_func ("/imageio/pipeline", test_pipeline);
  return g_test_run ();
}
