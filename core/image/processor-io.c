/* processor-io.c: image collection, placeholder expansion, tokenization and the
 * I64 outputs shared by the processor elements. */
#include "image/processor-io.h"

#include <string.h>
#include "vlm/vlm-error.h"
#include "vlm/vlm-tensor-set.h"

GPtrArray *
vlm_processor_collect_images (VlmElement *element, gboolean to_rgb, GError **error)
{
  VlmTensorSet *set = vlm_element_get_input_tensor_set (element, "images");
  const GValue *mv = vlm_element_get_input (element, "modes");
  const char *const *modes = mv && G_VALUE_HOLDS (mv, G_TYPE_STRV) ? g_value_get_boxed (mv) : NULL;
  g_autoptr (GPtrArray) images = g_ptr_array_new_with_free_func ((GDestroyNotify) vlm_image_unref);
  guint n_modes = modes ? g_strv_length ((char **) modes) : 0;
  for (guint i = 0; set && i < vlm_tensor_set_get_size (set); i++) {
    VlmImageMode mode = VLM_IMAGE_MODE_RGB;
    if (i < n_modes && !vlm_image_mode_from_string (modes[i], &mode)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "image %u: unknown mode '%s'", i, modes[i]);
      return NULL;
    }
    g_autoptr (VlmImage) image = vlm_image_new (mode, vlm_tensor_set_get_nth (set, i), error);
    if (image && to_rgb) {
      VlmImage *rgb = vlm_image_convert (image, VLM_IMAGE_MODE_RGB, error);
      g_clear_pointer (&image, vlm_image_unref);
      image = rgb;
    }
    if (image == NULL) {
      g_prefix_error (error, "image %u: ", i);
      return NULL;
    }
    g_ptr_array_add (images, g_steal_pointer (&image));
  }
  return g_steal_pointer (&images);
}

guint
vlm_processor_count_token (const char *text, const char *token)
{
  guint n = 0;
  gsize len = strlen (token);
  for (const char *p = text; len && (p = strstr (p, token)); p += len)
    n++;
  return n;
}

char *
vlm_processor_expand_token (const char *text, const char *token,
                            const char *const *replacements, guint n, GError **error)
{
  guint found = vlm_processor_count_token (text, token);
  if (found != n) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "the prompt has %u %s token(s) but %u image(s) were given", found, token, n);
    return NULL;
  }
  GString *out = g_string_new (NULL);
  gsize len = strlen (token);
  const char *p = text;
  for (guint i = 0; i < n; i++) {
    const char *hit = strstr (p, token);
    g_string_append_len (out, p, hit - p);
    g_string_append (out, replacements[i]);
    p = hit + len;
  }
  g_string_append (out, p);
  return g_string_free (out, FALSE);
}

char *
vlm_processor_repeat (const char *s, guint count)
{
  GString *out = g_string_sized_new (strlen (s) * count + 1);
  for (guint i = 0; i < count; i++)
    g_string_append (out, s);
  return g_string_free (out, FALSE);
}

gint32 *
vlm_processor_encode (VlmTokenizer *tokenizer, const char *text, gsize *n_ids)
{
  const char *bos = vlm_tokenizer_get_bos_token (tokenizer);
  gboolean has_bos = bos && *bos && g_str_has_prefix (text, bos);
  return vlm_tokenizer_encode (tokenizer, text, !has_bos, n_ids);
}

static VlmTensor *
row_tensor (gsize n, gint64 **data)
{
  gint64 shape[] = { 1, (gint64) n };
  VlmTensor *t = vlm_tensor_new (VLM_DTYPE_I64, 2, shape);
  *data = vlm_tensor_get_data_mut (t);
  return t;
}

VlmTensor *
vlm_processor_ids_tensor (const gint32 *ids, gsize n)
{
  gint64 *d;
  VlmTensor *t = row_tensor (n, &d);
  for (gsize i = 0; i < n; i++)
    d[i] = ids[i];
  return t;
}

VlmTensor *
vlm_processor_id_mask (const gint32 *ids, gsize n, gint32 id)
{
  gint64 *d;
  VlmTensor *t = row_tensor (n, &d);
  for (gsize i = 0; i < n; i++)
    d[i] = ids[i] == id;
  return t;
}

VlmTensor *
vlm_processor_filled (gsize n, gint64 value)
{
  gint64 *d;
  VlmTensor *t = row_tensor (n, &d);
  for (gsize i = 0; i < n; i++)
    d[i] = value;
  return t;
}

void
vlm_processor_class_add_ports (VlmElementClass *klass, const char *text_description,
                               VlmPortFlags text_flags, VlmPortFlags images_flags)
{
  vlm_element_class_add_port (klass, "text", VLM_PORT_INPUT, G_TYPE_STRING, text_flags,
                              text_description);
  vlm_element_class_add_port (klass, "images", VLM_PORT_INPUT, VLM_TYPE_TENSOR_SET, images_flags,
                              "decoded images, U8 [H, W, C]");
  vlm_element_class_add_port (klass, "modes", VLM_PORT_INPUT, G_TYPE_STRV, VLM_PORT_FLAG_OPTIONAL,
                              "the images' Pillow modes");
  vlm_element_class_add_port (klass, "input_ids", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "I64 [1, L] token ids of the expanded prompt");
  vlm_element_class_add_port (klass, "attention_mask", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "I64 [1, L] ones, as the reference returns it");
  vlm_element_class_add_port (klass, "prompt", VLM_PORT_OUTPUT, G_TYPE_STRING, 0,
                              "the expanded prompt text");
}
