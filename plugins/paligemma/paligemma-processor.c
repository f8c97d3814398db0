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
  VlmProcessor parent;
  VlmFixedResize resize;
  VlmImageNormalize norm;
  int image_seq_length;
};

G_DEFINE_FINAL_TYPE (PaligemmaProcessor, paligemma_processor, VLM_TYPE_PROCESSOR)

static gboolean
load_settings (VlmProcessor *processor, VlmModelDir *dir, JsonObject *s, const char *source,
               GError **error)
{
  PaligemmaProcessor *self = PALIGEMMA_PROCESSOR (processor);
  self->resize = (VlmFixedResize) { TRUE, 224, 224, VLM_RESAMPLE_BICUBIC };
  self->image_seq_length = 0;
  if (!vlm_fixed_resize_load (&self->resize, s, source, error)
      || !vlm_image_normalize_load (&self->norm, VLM_IMAGENET_STANDARD_MEAN,
                                    VLM_IMAGENET_STANDARD_STD, s, source, error)
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

/* The settings and tokenizer, which must have the <bos> the prompt format writes. */
static gboolean
processor_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  if (!VLM_MODEL_ELEMENT_CLASS (paligemma_processor_parent_class)->load (element, dir, error))
    return FALSE;
  VlmTokenizer *tokenizer = vlm_processor_get_tokenizer (VLM_PROCESSOR (element));
  if (!vlm_tokenizer_get_bos_token (tokenizer)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: the tokenizer has no BOS token",
                 vlm_tokenizer_get_path (tokenizer));
    return FALSE;
  }
  return TRUE;
}

/* build_string_from_input, or, when the text already has <image> tokens, each
 * expanded in place with <bos> after the last one; "\n" ends the prefix. */
static char *
format_prompt (PaligemmaProcessor *self, const char *text, guint n_images)
{
  VlmTokenizer *tokenizer = vlm_processor_get_tokenizer (VLM_PROCESSOR (self));
  const char *bos = vlm_tokenizer_get_bos_token (tokenizer);
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

static VlmImage *
resize (VlmProcessor *processor, VlmImage *image, GError **error)
{
  return vlm_fixed_resize_apply (&PALIGEMMA_PROCESSOR (processor)->resize, image, error);
}

/* Every image resized and normalized into pixel_values; the prompt formatted. */
static char *
process_images (VlmProcessor *processor, const char *text, GPtrArray *images, GError **error)
{
  PaligemmaProcessor *self = PALIGEMMA_PROCESSOR (processor);
  if (images->len == 0) {
    g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID,
                         "PaliGemma needs at least one image");
    return NULL;
  }
  g_autoptr (VlmTensor) pixel_values = vlm_processor_pixel_values (processor, images, resize,
                                                                   &self->norm, error);
  if (!pixel_values)
    return NULL;
  vlm_element_set_output_tensor (VLM_ELEMENT (self), "pixel_values", pixel_values);
  return format_prompt (self, text, images->len);
}

/* Without a suffix every prompt token is prefix: token type 0. */
static VlmTensor *
token_types (VlmProcessor *processor, const gint32 *ids, gsize n)
{
  return vlm_processor_filled (n, 0);
}

static void
paligemma_processor_class_init (PaligemmaProcessorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  VlmProcessorClass *pc = VLM_PROCESSOR_CLASS (klass);
  VLM_MODEL_ELEMENT_CLASS (klass)->load = processor_load;
  pc->load_settings = load_settings;
  pc->process_images = process_images;
  pc->token_types = token_types;
  /* The <bos> is in the formatted prompt; the processor turns add_bos_token off. */
  pc->literal_prompt = TRUE;
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
