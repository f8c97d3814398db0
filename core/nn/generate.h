/* generate.h: the generation loop: prefill the prompt, then sample token by token over
 * the KV cache until an end-of-sequence id, a stop string or the token limit. */
#pragma once

#include "nn/decoder.h"
#include "vlm/vlm-sampler.h"
#include "vlm/vlm-tokenizer.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* Receives each piece of generated text as soon as it is final (complete UTF-8, and
 * never a part that might still become a stop string). */
typedef void (*VlmTextFunc) (const char *text, gpointer user_data);

typedef struct {
  gint64 max_tokens;
  gboolean ignore_eos;
  const gint64 *eos_ids;
  guint n_eos;
  const char *const *stop;     /* nullable, NULL-terminated stop strings */
  VlmSampler *sampler;         /* resolved settings (vlm_sampler_new_for_generation) */
  VlmTokenizer *tokenizer;     /* nullable: no text is produced */
  VlmTextFunc on_text;         /* nullable */
  gpointer on_text_data;
  GCancellable *cancellable;   /* nullable: checked before each new token */
  const gint64 *spans;         /* nullable: bidirectional prompt spans (vlm_decoder_prompt_spans) */
  guint n_spans;
  const gint64 *position_ids;  /* nullable [3, n_prompt]: the prompt's M-RoPE streams */
  gint64 position_delta;       /* added to the positions of generated tokens (rope_deltas) */
} VlmGenerateOptions;

typedef struct {
  GArray *tokens;              /* gint64, the stop token included when one was produced */
  char *text;                  /* without the stop token's text and without a stop string */
  const char *finish_reason;   /* "stop" or "length" */
  gint64 prompt_tokens;
  gint64 decode_steps;         /* forward passes after the prefill */
  double prefill_ms, decode_ms;
} VlmGenerateResult;

gboolean vlm_generate (VlmDecoder *dec, const float *embeds, const gint64 *prompt_ids,
                       const guint8 *prompt_valid, gint64 n_prompt,
                       const VlmGenerateOptions *opts, float *final_hidden, float *logits_last,
                       VlmGenerateResult *result, GError **error);
void     vlm_generate_result_clear (VlmGenerateResult *result);
char    *vlm_generate_result_stats_json (const VlmGenerateResult *result);

G_END_DECLS
