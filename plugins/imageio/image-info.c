/* image-info.c: one line per loaded image (index, size, channels, mode), to
 * make image pipelines easy to inspect. */
#include "imageio.h"

struct _VlmImageInfo {
  VlmElement parent;
};

G_DEFINE_FINAL_TYPE (VlmImageInfo, vlm_image_info, VLM_TYPE_ELEMENT)

static gboolean
image_info_process (VlmElement *element, GError **error)
{
  VlmTensorSet *images = vlm_element_get_input_tensor_set (element, "images");
  const GValue *mv = vlm_element_get_input (element, "modes");
  const char *const *modes = mv != NULL ? g_value_get_boxed (mv) : NULL;
  guint n = vlm_tensor_set_get_size (images);
  if (modes != NULL && g_strv_length ((GStrv) modes) != n) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "node '%s': %u images but %u modes", vlm_element_get_id (element), n,
                 g_strv_length ((GStrv) modes));
    return FALSE;
  }
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    VlmTensor *t = vlm_tensor_set_get_nth (images, i);
    const char *name = vlm_tensor_set_get_nth_name (images, i);
    if (vlm_tensor_get_ndim (t) != 3 || vlm_tensor_get_dtype (t) != VLM_DTYPE_U8) {
      g_autofree char *d = vlm_tensor_describe (t);
      g_string_free (out, TRUE);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "node '%s': image '%s' is %s, not a U8 [H, W, C] tensor",
                   vlm_element_get_id (element), name, d);
      return FALSE;
    }
    g_string_append_printf (out, "%s: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                            " channel(s)", name, vlm_tensor_get_dim (t, 1),
                            vlm_tensor_get_dim (t, 0), vlm_tensor_get_dim (t, 2));
    if (modes != NULL)
      g_string_append_printf (out, ", mode %s", modes[i]);
    g_string_append_c (out, '\n');
  }
  vlm_element_set_output_string (element, "text", out->str);
  g_string_free (out, TRUE);
  return TRUE;
}

static void
vlm_image_info_class_init (VlmImageInfoClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  ec->process = image_info_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Image info",
                                  "Describes loaded images: size, channels and mode");
  vlm_element_class_add_port (ec, "images", VLM_PORT_INPUT, VLM_TYPE_TENSOR_SET,
                              VLM_PORT_FLAG_NONE, "U8 [H, W, C] tensors (image-loader)");
  vlm_element_class_add_port (ec, "modes", VLM_PORT_INPUT, G_TYPE_STRV, VLM_PORT_FLAG_OPTIONAL,
                              "the Pillow mode of each image");
  vlm_element_class_add_port (ec, "text", VLM_PORT_OUTPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
                              "one line per image");
}

static void
vlm_image_info_init (VlmImageInfo *self)
{
}
