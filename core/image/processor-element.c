/* processor-element.c: what every processor element does around its family's
 * image step: settings and tokenizer loading, image collection, tokenization
 * and the shared outputs. */
#include "image/processor-element.h"

#include "image/processor-io.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-image.h"
#include "vlm/vlm-tensor-set.h"

typedef struct {
  VlmTokenizer *tokenizer;
} VlmProcessorPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (VlmProcessor, vlm_processor, VLM_TYPE_MODEL_ELEMENT)

static gboolean
processor_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  VlmProcessor *self = VLM_PROCESSOR (element);
  VlmProcessorPrivate *priv = vlm_processor_get_instance_private (self);
  g_autofree char *source = g_build_filename (vlm_model_dir_get_path (dir),
                                              "preprocessor_config.json", NULL);
  if (!VLM_PROCESSOR_GET_CLASS (self)->load_settings (self, dir,
                                                      vlm_model_dir_get_processor_config (dir),
                                                      source, error))
    return FALSE;
  g_clear_object (&priv->tokenizer);
  priv->tokenizer = vlm_tokenizer_new_from_dir (vlm_model_dir_get_path (dir), error);
  return priv->tokenizer != NULL;
}

/* The images of the "images" input (a tensor set, possibly unconnected) with
 * the Pillow modes of the optional "modes" input (RGB when unlinked). With
 * @to_rgb, each goes through Pillow's convert("RGB") (gray replicated, alpha
 * dropped, palette expanded), as transformers' load_image and convert_to_rgb do. */
static GPtrArray *
collect_images (VlmElement *element, gboolean to_rgb, GError **error)
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

static gint32 *
encode (VlmProcessor *self, const char *text, gsize *n_ids)
{
  VlmProcessorPrivate *priv = vlm_processor_get_instance_private (self);
  gboolean add_special = FALSE;
  if (!VLM_PROCESSOR_GET_CLASS (self)->literal_prompt) {
    const char *bos = vlm_tokenizer_get_bos_token (priv->tokenizer);
    add_special = !(bos && *bos && g_str_has_prefix (text, bos));
  }
  return vlm_tokenizer_encode (priv->tokenizer, text, add_special, n_ids);
}

static gboolean
processor_process (VlmElement *element, GError **error)
{
  VlmProcessor *self = VLM_PROCESSOR (element);
  VlmProcessorClass *klass = VLM_PROCESSOR_GET_CLASS (self);
  const char *text = vlm_element_get_input_string (element, "text");
  g_autoptr (GPtrArray) images = collect_images (element, !klass->keep_image_modes, error);
  if (!images)
    return FALSE;
  g_autofree char *prompt = klass->process_images (self, text ? text : "", images, error);
  if (!prompt)
    return FALSE;
  gsize n = 0;
  g_autofree gint32 *ids = encode (self, prompt, &n);
  g_autoptr (VlmTensor) input_ids = vlm_processor_ids_tensor (ids, n);
  g_autoptr (VlmTensor) attention_mask = vlm_processor_filled (n, 1);
  vlm_element_set_output_tensor (element, "input_ids", input_ids);
  vlm_element_set_output_tensor (element, "attention_mask", attention_mask);
  vlm_element_set_output_string (element, "prompt", prompt);
  if (klass->token_types) {
    g_autoptr (VlmTensor) token_type_ids = klass->token_types (self, ids, n);
    vlm_element_set_output_tensor (element, "token_type_ids", token_type_ids);
  }
  return TRUE;
}

static void
vlm_processor_finalize (GObject *object)
{
  VlmProcessorPrivate *priv = vlm_processor_get_instance_private (VLM_PROCESSOR (object));
  g_clear_object (&priv->tokenizer);
  G_OBJECT_CLASS (vlm_processor_parent_class)->finalize (object);
}

static void
vlm_processor_class_init (VlmProcessorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_processor_finalize;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = processor_load;
  VLM_ELEMENT_CLASS (klass)->process = processor_process;
}

static void
vlm_processor_init (VlmProcessor *self)
{
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

VlmTokenizer *
vlm_processor_get_tokenizer (VlmProcessor *self)
{
  VlmProcessorPrivate *priv = vlm_processor_get_instance_private (self);
  return priv->tokenizer;
}

VlmTensor *
vlm_processor_pixel_values (VlmProcessor *self, GPtrArray *images, VlmProcessorImageStep step,
                            const VlmImageNormalize *norm, GError **error)
{
  for (guint i = 0; i < images->len; i++) {
    VlmImage *ready = step (self, images->pdata[i], error);
    if (!ready) {
      g_prefix_error (error, "image %u: ", i);
      return NULL;
    }
    vlm_image_unref (images->pdata[i]);
    images->pdata[i] = ready;
  }
  return vlm_image_normalize_batch (norm, (VlmImage **) images->pdata, images->len, error);
}
