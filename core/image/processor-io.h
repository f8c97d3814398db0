/* processor-io.h: the prompt and I64 output helpers of the processor elements:
 * expand image placeholders in the prompt and build the I64 outputs. Internal. */
#pragma once

#include "vlm/vlm-tensor.h"

G_BEGIN_DECLS

/* Number of non-overlapping occurrences of @token in @text. */
guint      vlm_processor_count_token (const char *text, const char *token);
/* Replaces the i-th occurrence of @token by @replacements[i]; fails
 * (VLM_ERROR_INVALID) when @text holds a different number of them than @n. */
char      *vlm_processor_expand_token (const char *text, const char *token,
                                       const char *const *replacements, guint n,
                                       GError **error);
/* @s repeated @count times. */
char      *vlm_processor_repeat (const char *s, guint count);

/* I64 [1, n] holding @ids. */
VlmTensor *vlm_processor_ids_tensor (const gint32 *ids, gsize n);
/* I64 [1, n] with 1 where ids[i] == @id, else 0 (token_type_ids). */
VlmTensor *vlm_processor_id_mask (const gint32 *ids, gsize n, gint32 id);
/* I64 [1, n] filled with @value (attention_mask of an unpadded prompt). */
VlmTensor *vlm_processor_filled (gsize n, gint64 value);

G_END_DECLS
