/* vlm-result.h: what one generation produced: text, token ids, finish reason, timings. */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VLM_TYPE_RESULT (vlm_result_get_type ())
G_DECLARE_FINAL_TYPE (VlmResult, vlm_result, VLM, RESULT, GObject)

VlmResult   *vlm_result_new (const char *text, const gint64 *tokens, gsize n_tokens,
                             gint64 prompt_tokens, const char *finish_reason, GVariant *timings);
const char  *vlm_result_get_text (VlmResult *self);
const gint64 *vlm_result_get_tokens (VlmResult *self, gsize *n_tokens);
gint64       vlm_result_get_prompt_tokens (VlmResult *self);
const char  *vlm_result_get_finish_reason (VlmResult *self);
GVariant    *vlm_result_get_timings (VlmResult *self);
double       vlm_result_get_timing (VlmResult *self, const char *name);
JsonNode    *vlm_result_to_json (VlmResult *self);

G_END_DECLS
