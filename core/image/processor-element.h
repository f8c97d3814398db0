/* processor-element.h: VlmProcessor, the base class of the processor elements:
 * images + prompt -> the family's image tensors, input_ids, attention_mask and
 * the expanded prompt, as transformers' processors do. A family implements its
 * settings and its image step; the base collects the images, tokenizes and sets
 * the outputs every processor has. Internal. */
#pragma once

#include <json-glib/json-glib.h>
#include "image/processor-settings.h"
#include "vlm/vlm-model-element.h"
#include "vlm/vlm-tokenizer.h"

G_BEGIN_DECLS

#define VLM_TYPE_PROCESSOR (vlm_processor_get_type ())
G_DECLARE_DERIVABLE_TYPE (VlmProcessor, vlm_processor, VLM, PROCESSOR, VlmModelElement)

/* load_settings: reads the family's settings from @settings (preprocessor_config.json
 *   merged with processor_config.json, see vlm_model_dir_get_processor_config(); @source
 *   names it in errors) over the family's defaults. The tokenizer is loaded after it;
 *   a family that checks the tokenizer chains up to VlmModelElementClass.load first.
 * process_images: the family's image step on @images (a GPtrArray of VlmImage, possibly
 *   empty): sets its image outputs and returns @text with its image placeholders
 *   expanded (transfer full), or NULL with @error set.
 * token_types: (nullable) the token_type_ids output for @ids.
 * keep_image_modes: the images reach process_images as loaded instead of converted to
 *   RGB (Idefics3 converts after resizing).
 * literal_prompt: the expanded prompt holds all its special tokens (PaliGemma,
 *   Idefics3): tokenized without adding any. Otherwise the tokenizer's special tokens
 *   are added unless the text starts with its BOS token (apply_chat_template's rule). */
struct _VlmProcessorClass {
  VlmModelElementClass parent_class;

  gboolean   (*load_settings) (VlmProcessor *self, VlmModelDir *dir, JsonObject *settings,
                               const char *source, GError **error);
  char      *(*process_images) (VlmProcessor *self, const char *text, GPtrArray *images,
                                GError **error);
  VlmTensor *(*token_types) (VlmProcessor *self, const gint32 *ids, gsize n);
  gboolean   keep_image_modes;
  gboolean   literal_prompt;
};

/* Declares the ports every processor has: inputs text, images, modes; outputs input_ids,
 * attention_mask, prompt. Family extras (pixel values, token types) are declared after. */
void          vlm_processor_class_add_ports (VlmElementClass *klass, const char *text_description,
                                             VlmPortFlags text_flags, VlmPortFlags images_flags);

/* The tokenizer of the loaded model folder (NULL before the first successful load). */
VlmTokenizer *vlm_processor_get_tokenizer (VlmProcessor *self);

/* One image of a batch made ready for the model (resized, cropped...). */
typedef VlmImage *(*VlmProcessorImageStep) (VlmProcessor *self, VlmImage *image, GError **error);
/* Each of @images (replaced in place) through @step, then rescaled and normalized into
 * F32 [n, 3, H, W]; a failing image's error names it. */
VlmTensor    *vlm_processor_pixel_values (VlmProcessor *self, GPtrArray *images,
                                          VlmProcessorImageStep step,
                                          const VlmImageNormalize *norm, GError **error);

G_END_DECLS
