/* processor-io.h: what every processor element does around its own image
 * arithmetic: rebuild the loader's images, expand image placeholders in the
 * prompt, tokenize as transformers' processors do, and build the I64 outputs.
 * Internal. */
#pragma once

#include "vlm/vlm-element.h"
#include "vlm/vlm-image.h"
#include "vlm/vlm-tokenizer.h"

G_BEGIN_DECLS

/* Declares the ports every processor has: inputs text, images, modes; outputs input_ids,
 * attention_mask, prompt. Family extras (pixel values, token types) are declared after. */
void       vlm_processor_class_add_ports (VlmElementClass *klass, const char *text_description,
                                          VlmPortFlags text_flags, VlmPortFlags images_flags);

/* The images of the element's "images" input (a tensor set, possibly
 * unconnected) with the Pillow modes of its optional "modes" input (RGB when
 * unlinked). With @to_rgb, each goes through Pillow's convert("RGB") (gray
 * replicated, alpha dropped, palette expanded), as transformers' load_image and
 * convert_to_rgb do. Returns a GPtrArray of VlmImage. */
GPtrArray *vlm_processor_collect_images (VlmElement *element, gboolean to_rgb, GError **error);

/* Number of non-overlapping occurrences of @token in @text. */
guint      vlm_processor_count_token (const char *text, const char *token);
/* Replaces the i-th occurrence of @token by @replacements[i]; fails
 * (VLM_ERROR_INVALID) when @text holds a different number of them than @n. */
char      *vlm_processor_expand_token (const char *text, const char *token,
                                       const char *const *replacements, guint n,
                                       GError **error);
/* @s repeated @count times. */
char      *vlm_processor_repeat (const char *s, guint count);

/* Tokenizes as a processor called on rendered chat text does: special tokens
 * are added unless the text already starts with the tokenizer's BOS token
 * (transformers' apply_chat_template rule, so no second <bos>). */
gint32    *vlm_processor_encode (VlmTokenizer *tokenizer, const char *text, gsize *n_ids);

/* I64 [1, n] holding @ids. */
VlmTensor *vlm_processor_ids_tensor (const gint32 *ids, gsize n);
/* I64 [1, n] with 1 where ids[i] == @id, else 0 (token_type_ids). */
VlmTensor *vlm_processor_id_mask (const gint32 *ids, gsize n, gint32 id);
/* I64 [1, n] filled with @value (attention_mask of an unpadded prompt). */
VlmTensor *vlm_processor_filled (gsize n, gint64 value);

G_END_DECLS
