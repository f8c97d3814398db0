/* idefics3-processor.c: images + rendered chat prompt -> input_ids, pixel_values and the
 * pixel attention mask, as transformers' Idefics3Processor does (image tiles, prompt
 * expansion, tokenization of the expanded prompt as a whole). */
#include "idefics3-elements.h"
#include "idefics3-image.h"

struct _Idefics3Processor {
  VlmProcessor parent;
  Idefics3ImageSettings settings;
};

G_DEFINE_FINAL_TYPE (Idefics3Processor, idefics3_processor, VLM_TYPE_PROCESSOR)

static gboolean
load_settings (VlmProcessor *processor, VlmModelDir *dir, JsonObject *settings,
               const char *source, GError **error)
{
  return idefics3_image_settings_load (&IDEFICS3_PROCESSOR (processor)->settings, settings,
                                       source, error);
}

/* The images' tiles into pixel_values and pixel_attention_mask; every <image>
 * expanded to its tiles' tokens. */
static char *
process_images (VlmProcessor *processor, const char *text, GPtrArray *images, GError **error)
{
  Idefics3Processor *self = IDEFICS3_PROCESSOR (processor);
  Idefics3ImageBatch batch = { 0 };
  if (images->len
      && !idefics3_image_process (&self->settings, (VlmImage **) images->pdata, images->len,
                                  &batch, error))
    return NULL;
  char *prompt = idefics3_expand_prompt (text, batch.rows, batch.cols, images->len,
                                         self->settings.image_seq_len, NULL, error);
  if (prompt && images->len) {
    VlmElement *element = VLM_ELEMENT (self);
    vlm_element_set_output_tensor (element, "pixel_values", batch.pixel_values);
    vlm_element_set_output_tensor (element, "pixel_attention_mask", batch.pixel_attention_mask);
  }
  idefics3_image_batch_clear (&batch);
  return prompt;
}

static void
idefics3_processor_class_init (Idefics3ProcessorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  VlmProcessorClass *pc = VLM_PROCESSOR_CLASS (klass);
  pc->load_settings = load_settings;
  pc->process_images = process_images;
  /* Images are converted to RGB after resizing; the template writes every special token. */
  pc->keep_image_modes = TRUE;
  pc->literal_prompt = TRUE;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_PROCESSOR, "Idefics3 processor",
                                  "Idefics3/SmolVLM image tiles, prompt expansion and tokenization");
  vlm_processor_class_add_ports (ec, "the rendered chat prompt, one <image> per image",
                                 VLM_PORT_FLAG_NONE, VLM_PORT_FLAG_OPTIONAL);
  vlm_element_class_add_port (ec, "pixel_values", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "F32 [1, tiles, 3, H, W]");
  vlm_element_class_add_port (ec, "pixel_attention_mask", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR,
                              VLM_PORT_FLAG_OPTIONAL, "I64 [1, tiles, H, W]: 1 on real pixels");
}

static void
idefics3_processor_init (Idefics3Processor *self)
{
}
