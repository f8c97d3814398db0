/* paligemma-processor.c: images + prompt -> input_ids, pixel_values, as
 * transformers' PaliGemmaProcessor with SiglipImageProcessor (slow path) does:
 * convert("RGB"), fixed-size resize (aspect not kept), rescale, normalize; no
 * chat template: the prompt becomes <image> x image_seq_length per image, <bos>,
 * the text and "\n", tokenized without further special tokens. */
#include "paligemma-elements.h"

#include <string.h>
#include "image/processor-io.h"
#include "image/processor-settings.h"

#define IMAGE_TOKEN "<image>"

struct _PaligemmaProcessor {
  VlmModelElement parent;
  VlmFixedResize resize;
  VlmImageNormalize norm;
  int image_seq_length;
  VlmTokenizer *tokenizer;
};

G_DEFINE_FINAL_TYPE (PaligemmaProcessor, paligemma_processor, VLM_TYPE_MODEL_ELEMENT)

/* SiglipImageProcessor's constructor defaults (IMAGENET_STANDARD mean/std). */
static const float SIGLIP_MEAN[3] = { 0.5f, 0.5f, 0.5f };
static const float SIGLIP_STD[3] = { 0.5f, 0.5f, 0.5f };

static gboolean
load_settings (PaligemmaProcessor *self, VlmModelDir *dir, GError **error)
{
  JsonObject *s = vlm_model_dir_get_processor_config (dir);
  g_autofree char *source = g_build_filename (vlm_model_dir_get_path (dir),
                                              "preprocessor_config.json", NULL);
  self->resize = (VlmFixedResize) { TRUE, 224, 224, VLM_RESAMPLE_BICUBIC };
  self->image_seq_length = 0;
  if (!vlm_fixed_resize_load (&self->resize, s, source, error)
      || !vlm_image_normalize_load (&self->norm, SIGLIP_MEAN, SIGLIP_STD, s, source, error)
      || !vlm_settings_read_int (s, "image_seq_length", 1, 1 << 20, &self->image_seq_length,
                                 source, error))
    return FALSE;
  if (self->image_seq_length == 0) {
    /* PaliGemmaProcessor refuses an image processor without image_seq_length. */
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: no \"image_seq_length\"", source);
    return FALSE;
  }
  return TRUE;
}

static gboolean
processor_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  PaligemmaProcessor *self = PALIGEMMA_PROCESSOR (element);
  if (!load_settings (self, dir, error))
    return FALSE;
  g_clear_object (&self->tokenizer);
  self->tokenizer = vlm_tokenizer_new_from_dir (vlm_model_dir_get_path (dir), error);
  if (!self->tokenizer)
    return FALSE;
  if (!vlm_tokenizer_get_bos_token (self->tokenizer)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: the tokenizer has no BOS token",
                 vlm_tokenizer_get_path (self->tokenizer));
    g_clear_object (&self->tokenizer);
    return FALSE;
  }
  return TRUE;
}

/* build_string_from_input, or, when the text already has <image> tokens, each
 * expanded in place with <bos> after the last one; "\n" ends the prefix. */
static char *
format_prompt (PaligemmaProcessor *self, const char *text, guint n_images)
{
  const char *bos = vlm_tokenizer_get_bos_token (self->tokenizer);
  g_autofree char *run = vlm_processor_repeat (IMAGE_TOKEN, self->image_seq_length);
  if (!strstr (text, IMAGE_TOKEN)) {
    g_autofree char *images = vlm_processor_repeat (run, n_images);
    return g_strconcat (images, bos, text, "\n", NULL);
  }
  g_auto (GStrv) parts = g_strsplit (text, IMAGE_TOKEN, -1);
  g_autofree char *expanded = g_strjoinv (run, parts);
  const char *last = g_strrstr (expanded, IMAGE_TOKEN);
  gsize at = last - expanded + strlen (IMAGE_TOKEN);
  return g_strdup_printf ("%.*s%s%s\n", (int) at, expanded, bos, expanded + at);
}

static gboolean
processor_process (VlmElement *element, GError **error)
{
  PaligemmaProcessor *self = PALIGEMMA_PROCESSOR (element);
  const char *text = vlm_element_get_input_string (element, "text");
  g_autoptr (GPtrArray) images = vlm_processor_collect_images (element, TRUE, error);
  if (!images)
    return FALSE;
  if (images->len == 0) {
    g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID,
                         "PaliGemma needs at least one image");
    return FALSE;
  }
  for (guint i = 0; i < images->len; i++) {
    VlmImage *resized = vlm_fixed_resize_apply (&self->resize, images->pdata[i], error);
    if (!resized) {
      g_prefix_error (error, "image %u: ", i);
      return FALSE;
    }
    vlm_image_unref (images->pdata[i]);
    images->pdata[i] = resized;
  }
  g_autoptr (VlmTensor) pixel_values = vlm_image_normalize_batch (&self->norm,
                                                                  (VlmImage **) images->pdata,
                                                                  images->len, error);
  if (!pixel_values)
    return FALSE;
  g_autofree char *prompt = format_prompt (self, text ? text : "", images->len);
  gsize n = 0;
  /* The <bos> is in the string; the processor turns add_bos_token off. */
  g_autofree gint32 *ids = vlm_tokenizer_encode (self->tokenizer, prompt, FALSE, &n);
  g_autoptr (VlmTensor) input_ids = vlm_processor_ids_tensor (ids, n);
  g_autoptr (VlmTensor) attention_mask = vlm_processor_filled (n, 1);
  g_autoptr (VlmTensor) token_type_ids = vlm_processor_filled (n, 0);
  vlm_element_set_output_tensor (element, "input_ids", input_ids);
  vlm_element_set_output_tensor (element, "attention_mask", attention_mask);
  vlm_element_set_output_tensor (element, "token_type_ids", token_type_ids);
  vlm_element_set_output_string (element, "prompt", prompt);
  vlm_element_set_output_tensor (element, "pixel_values", pixel_values);
  return TRUE;
}

static void
processor_finalize (GObject *object)
{
  PaligemmaProcessor *self = PALIGEMMA_PROCESSOR (object);
  g_clear_object (&self->tokenizer);
  G_OBJECT_CLASS (paligemma_processor_parent_class)->finalize (object);
}

static void
paligemma_processor_class_init (PaligemmaProcessorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = processor_finalize;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = processor_load;
  ec->process = processor_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_PROCESSOR, "PaliGemma processor",
                                  "SigLIP image processing, PaliGemma prompt format and "
                                  "tokenization");
  vlm_processor_class_add_ports (ec, "the prompt (no chat template)",
                                 VLM_PORT_FLAG_OPTIONAL, VLM_PORT_FLAG_NONE);
  vlm_element_class_add_port (ec, "token_type_ids", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "I64 [1, L] zeros: every prompt token is prefix (the reference "
                              "returns them only with a suffix, as 0 for the prefix)");
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, 0,
                              "F32 [n_images, 3, H, W]");
}

static void
paligemma_processor_init (PaligemmaProcessor *self)
{
}
