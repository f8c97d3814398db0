/* idefics3-processor.c: images + rendered chat prompt -> input_ids, pixel_values and the
 * pixel attention mask, as transformers' Idefics3Processor does (image tiles, prompt
 * expansion, tokenization of the expanded prompt as a whole). */
#include "idefics3-elements.h"
#include "idefics3-image.h"

#include "image/processor-io.h"

struct _Idefics3Processor {
  VlmModelElement parent;
  Idefics3ImageSettings settings;
  VlmTokenizer *tokenizer;
};

G_DEFINE_FINAL_TYPE (Idefics3Processor, idefics3_processor, VLM_TYPE_MODEL_ELEMENT)

static gboolean
processor_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  Idefics3Processor *self = IDEFICS3_PROCESSOR (element);
  const char *model = vlm_model_dir_get_path (dir);
  if (!idefics3_image_settings_load (&self->settings, model, error))
    return FALSE;
  g_clear_object (&self->tokenizer);
  self->tokenizer = vlm_tokenizer_new_from_dir (model, error);
  return self->tokenizer != NULL;
}

static gboolean
processor_process (VlmElement *element, GError **error)
{
  Idefics3Processor *self = IDEFICS3_PROCESSOR (element);
  const char *text = vlm_element_get_input_string (element, "text");
  g_autoptr (GPtrArray) images = vlm_processor_collect_images (element, FALSE, error);
  if (!images)
    return FALSE;
  Idefics3ImageBatch batch = { 0 };
  if (images->len
      && !idefics3_image_process (&self->settings, (VlmImage **) images->pdata, images->len,
                                  &batch, error))
    return FALSE;
  g_autofree char *expanded = idefics3_expand_prompt (text, batch.rows, batch.cols, images->len,
                                                      self->settings.image_seq_len, NULL, error);
  if (!expanded) {
    idefics3_image_batch_clear (&batch);
    return FALSE;
  }
  gsize n = 0;
  /* The template writes every special token itself: no BOS from the tokenizer. */
  g_autofree gint32 *ids = vlm_tokenizer_encode (self->tokenizer, expanded, FALSE, &n);
  g_autoptr (VlmTensor) input_ids = vlm_processor_ids_tensor (ids, n);
  g_autoptr (VlmTensor) attention_mask = vlm_processor_filled (n, 1);
  vlm_element_set_output_tensor (element, "input_ids", input_ids);
  vlm_element_set_output_tensor (element, "attention_mask", attention_mask);
  vlm_element_set_output_string (element, "prompt", expanded);
  if (images->len) {
    vlm_element_set_output_tensor (element, "pixel_values", batch.pixel_values);
    vlm_element_set_output_tensor (element, "pixel_attention_mask", batch.pixel_attention_mask);
  }
  idefics3_image_batch_clear (&batch);
  return TRUE;
}

static void
processor_finalize (GObject *object)
{
  Idefics3Processor *self = IDEFICS3_PROCESSOR (object);
  g_clear_object (&self->tokenizer);
  G_OBJECT_CLASS (idefics3_processor_parent_class)->finalize (object);
}

static void
idefics3_processor_class_init (Idefics3ProcessorClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = processor_finalize;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = processor_load;
  ec->process = processor_process;
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
