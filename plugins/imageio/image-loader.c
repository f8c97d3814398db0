/* image-loader.c: decodes one or more image files. Output "images" holds one
 * U8 [H, W, C] tensor per file, named "0", "1", ... in order; output "modes"
 * holds the matching Pillow modes ("L", "LA", "RGB", "RGBA", "P") so that
 * processors can rebuild each VlmImage with vlm_image_new() and follow
 * Pillow's conversion and resize rules. */
#include "imageio.h"

struct _VlmImageLoader {
  VlmElement parent;
  char *location;
  guint64 max_pixels;
  gboolean apply_exif_orientation;
};

G_DEFINE_FINAL_TYPE (VlmImageLoader, vlm_image_loader, VLM_TYPE_ELEMENT)

enum { PROP_0, PROP_LOCATION, PROP_MAX_PIXELS, PROP_APPLY_EXIF_ORIENTATION, N_PROPS };

static gboolean
image_loader_process (VlmElement *element, GError **error)
{
  VlmImageLoader *self = VLM_IMAGE_LOADER (element);
  const char *const *paths = NULL;
  const char *single[2] = { self->location, NULL };
  const GValue *in = vlm_element_get_input (element, "locations");
  if (in != NULL && g_value_get_boxed (in) != NULL)
    paths = g_value_get_boxed (in);
  else if (self->location != NULL)
    paths = single;
  if (paths == NULL || paths[0] == NULL) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "node '%s': no image: set 'location' or connect 'locations'",
                 vlm_element_get_id (element));
    return FALSE;
  }

  g_autoptr (VlmTensorSet) images = vlm_tensor_set_new ();
  g_autoptr (GStrvBuilder) modes = g_strv_builder_new ();
  for (guint i = 0; paths[i] != NULL; i++) {
    g_autoptr (VlmImage) image = vlm_image_load_file (paths[i], self->max_pixels,
                                                      self->apply_exif_orientation, error);
    if (image == NULL)
      return FALSE;
    g_autofree char *name = g_strdup_printf ("%u", i);
    vlm_tensor_set_insert (images, name, vlm_image_get_pixels (image));
    g_strv_builder_add (modes, vlm_image_mode_to_string (vlm_image_get_mode (image)));
  }
  vlm_element_set_output_tensor_set (element, "images", images);
  g_auto (GStrv) mode_list = g_strv_builder_end (modes);
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRV);
  g_value_set_boxed (&v, mode_list);
  vlm_element_set_output (element, "modes", &v);
  g_value_unset (&v);
  return TRUE;
}

static void
image_loader_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  VlmImageLoader *self = VLM_IMAGE_LOADER (object);
  switch (id) {
  case PROP_LOCATION:
    g_free (self->location);
    self->location = g_value_dup_string (value);
    break;
  case PROP_MAX_PIXELS:
    self->max_pixels = g_value_get_uint64 (value);
    break;
  case PROP_APPLY_EXIF_ORIENTATION:
    self->apply_exif_orientation = g_value_get_boolean (value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
image_loader_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmImageLoader *self = VLM_IMAGE_LOADER (object);
  switch (id) {
  case PROP_LOCATION:
    g_value_set_string (value, self->location);
    break;
  case PROP_MAX_PIXELS:
    g_value_set_uint64 (value, self->max_pixels);
    break;
  case PROP_APPLY_EXIF_ORIENTATION:
    g_value_set_boolean (value, self->apply_exif_orientation);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
image_loader_finalize (GObject *object)
{
  g_free (VLM_IMAGE_LOADER (object)->location);
  G_OBJECT_CLASS (vlm_image_loader_parent_class)->finalize (object);
}

static void
vlm_image_loader_class_init (VlmImageLoaderClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = image_loader_set_property;
  oc->get_property = image_loader_get_property;
  oc->finalize = image_loader_finalize;
  ec->process = image_loader_process;

  g_object_class_install_property (oc, PROP_LOCATION,
    g_param_spec_string ("location", "Location", "One image file (used when 'locations' is unconnected)",
                         NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_MAX_PIXELS,
    g_param_spec_uint64 ("max-pixels", "Maximum pixels",
                         "Largest width x height accepted, checked before decoding",
                         1, G_MAXUINT64, VLM_IMAGE_DEFAULT_MAX_PIXELS,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (oc, PROP_APPLY_EXIF_ORIENTATION,
    g_param_spec_boolean ("apply-exif-orientation", "Apply EXIF orientation",
                          "Rotate/flip as the EXIF orientation tag says (Pillow and the "
                          "reference processors do not)",
                          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_IMAGE_LOADER, "Image loader",
                                  "Decodes PNG, JPEG, GIF, WebP (any gdk-pixbuf format) into U8 "
                                  "[H, W, C] tensors keeping the source's channels");
  vlm_element_class_add_port (ec, "locations", VLM_PORT_INPUT, G_TYPE_STRV,
                              VLM_PORT_FLAG_OPTIONAL, "image files, in order");
  vlm_element_class_add_port (ec, "images", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR_SET,
                              VLM_PORT_FLAG_NONE,
                              "one U8 [H, W, C] tensor per file, named \"0\", \"1\", ...");
  vlm_element_class_add_port (ec, "modes", VLM_PORT_OUTPUT, G_TYPE_STRV, VLM_PORT_FLAG_NONE,
                              "the Pillow mode of each image (L, LA, RGB, RGBA, P)");
}

static void
vlm_image_loader_init (VlmImageLoader *self)
{
  self->max_pixels = VLM_IMAGE_DEFAULT_MAX_PIXELS;
}
