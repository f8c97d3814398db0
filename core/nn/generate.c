/* generate.c: prefill, then one cached forward pass per new token. Everything the loop
 * needs (cache, scratch, token buffers) is allocated before the first token. */
#include "nn/generate.h"

#include "vlm/vlm-error.h"

#include <string.h>

/* Generated text, with stop strings cut off and streamed pieces held back while they
 * might still be the start of a stop string. */
typedef struct {
  GString *text;
  gsize emitted;
  const char *const *stop;
  gsize max_stop;
  VlmTextFunc fn;
  gpointer data;
} TextOut;

static void
emit_upto (TextOut *o, gsize end)
{
  if (end <= o->emitted)
    return;
  if (o->fn) {
    /* Terminate the piece in place for the callback, rather than copying it. */
    char saved = o->text->str[end];
    o->text->str[end] = '\0';
    o->fn (o->text->str + o->emitted, o->data);
    o->text->str[end] = saved;
  }
  o->emitted = end;
}

/* Returns TRUE when the text now contains a stop string (the text is cut before it). */
static gboolean
text_push (TextOut *o, const char *piece)
{
  gsize old = o->text->len;
  g_string_append (o->text, piece);
  /* A new match must end in the new piece. */
  gsize from = old >= o->max_stop ? old - o->max_stop + 1 : 0, cut = G_MAXSIZE;
  for (guint s = 0; o->stop && o->stop[s]; s++) {
    if (!*o->stop[s])
      continue;
    const char *p = strstr (o->text->str + from, o->stop[s]);
    if (p && (gsize) (p - o->text->str) < cut)
      cut = (gsize) (p - o->text->str);
  }
  if (cut != G_MAXSIZE) {
    g_string_truncate (o->text, cut);
    emit_upto (o, cut);
    return TRUE;
  }
  gsize hold = 0;
  for (guint s = 0; o->stop && o->stop[s]; s++) {
    gsize len = strlen (o->stop[s]);
    for (gsize k = MIN (len ? len - 1 : 0, o->text->len); k > hold; k--)
      if (memcmp (o->text->str + o->text->len - k, o->stop[s], k) == 0) {
        hold = k;
        break;
      }
  }
  emit_upto (o, o->text->len - hold);
  return FALSE;
}

static gboolean
is_eos (const VlmGenerateOptions *opts, gint64 tok)
{
  for (guint i = 0; i < opts->n_eos; i++)
    if (opts->eos_ids[i] == tok)
      return TRUE;
  return FALSE;
}

typedef struct {
  VlmDecoderState *state;
  gint64 *context;
  float *row;
  VlmTokenStream *stream;
  TextOut out;
} Loop;

static void
loop_clear (Loop *l)
{
  vlm_decoder_state_free (l->state);
  g_free (l->context);
  g_free (l->row);
  g_clear_object (&l->stream);
  if (l->out.text)
    g_string_free (l->out.text, TRUE);
}

/* Samples up to max_tokens tokens after the prefill; FALSE only on a decoding error. */
static gboolean
decode_loop (VlmDecoder *dec, const VlmGenerateOptions *opts, Loop *l, gint64 n_prompt,
             VlmGenerateResult *r, GError **error)
{
  gint64 vocab = dec->cfg.vocab;
  gboolean eos = FALSE, stopped = FALSE; /* by an end id; by a stop string */
  vlm_sampler_reset (opts->sampler);
  for (gint64 i = 0; i < opts->max_tokens; i++) {
    if (opts->cancellable && g_cancellable_is_cancelled (opts->cancellable)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_CANCELLED, "generation cancelled after %"
                   G_GINT64_FORMAT " tokens", i);
      return FALSE;
    }
    gint64 tok = vlm_sampler_sample (opts->sampler, l->state->logits, vocab, l->context,
                                     (gsize) (n_prompt + i));
    l->context[n_prompt + i] = tok;
    g_array_append_val (r->tokens, tok);
    if (!opts->ignore_eos && is_eos (opts, tok)) {
      eos = TRUE;
      break;
    }
    if (l->stream) {
      g_autofree char *piece = vlm_token_stream_push (l->stream, (gint32) tok, error);
      if (!piece)
        return FALSE;
      stopped = text_push (&l->out, piece);
    }
    if (stopped || i + 1 == opts->max_tokens)
      break;
    if (!vlm_decoder_embed (dec, &tok, 1, l->row, error))
      return FALSE;
    vlm_decoder_forward (dec, l->state, l->row, 1, NULL);
    r->decode_steps++;
  }
  if (l->stream && !stopped) {
    g_autofree char *rest = vlm_token_stream_flush (l->stream, error);
    if (!rest)
      return FALSE;
    stopped = text_push (&l->out, rest);
  }
  emit_upto (&l->out, l->out.text->len);
  r->finish_reason = eos || stopped ? "stop" : "length";
  return TRUE;
}

/**
 * vlm_generate:
 * @dec: a decoder
 * @embeds: [n_prompt, hidden] the prompt's input embeddings (image features merged)
 * @prompt_ids: (array length=n_prompt): the prompt's ids (for the repetition penalty)
 * @prompt_valid: (nullable) (array length=n_prompt): 0 marks padding positions
 * @n_prompt: prompt length
 * @opts: limits, stop conditions, sampler, tokenizer, streaming callback
 * @final_hidden: (nullable): [n_prompt, hidden] receives the prompt's normalised states
 * @logits_last: (nullable): [vocab] receives the logits after the last prompt position
 * @result: (out caller-allocates): tokens, text, finish reason and timings; clear it with
 *   vlm_generate_result_clear()
 * @error: return location for a #GError
 *
 * Returns: %FALSE with @error set when memory for the context is lacking, decoding fails
 *   or the generation is cancelled
 */
gboolean
vlm_generate (VlmDecoder *dec, const float *embeds, const gint64 *prompt_ids,
              const guint8 *prompt_valid, gint64 n_prompt, const VlmGenerateOptions *opts,
              float *final_hidden, float *logits_last, VlmGenerateResult *result,
              GError **error)
{
  memset (result, 0, sizeof *result);
  gint64 max_new = MAX (opts->max_tokens, 0);
  result->prompt_tokens = n_prompt;
  result->finish_reason = "length";
  Loop l = { 0 };
  l.state = vlm_decoder_state_new (dec, n_prompt, n_prompt + MAX (max_new, 1), error);
  if (!l.state)
    return FALSE;
  if (prompt_valid)
    memcpy (l.state->cache->key_valid, prompt_valid, (gsize) n_prompt);
  if (opts->n_spans) {
    l.state->spans = g_memdup2 (opts->spans, 2 * opts->n_spans * sizeof (gint64));
    l.state->n_spans = opts->n_spans;
  }
  l.state->next_streams = opts->position_ids;
  l.state->position_delta = opts->position_delta;
  l.context = g_new (gint64, n_prompt + max_new);
  memcpy (l.context, prompt_ids, (gsize) n_prompt * sizeof (gint64));
  l.row = g_new (float, dec->cfg.hidden);
  l.out.text = g_string_sized_new (256);
  l.out.stop = opts->stop;
  for (guint s = 0; opts->stop && opts->stop[s]; s++)
    l.out.max_stop = MAX (l.out.max_stop, strlen (opts->stop[s]));
  l.out.fn = opts->on_text;
  l.out.data = opts->on_text_data;
  if (opts->tokenizer)
    l.stream = vlm_token_stream_new (opts->tokenizer, TRUE);
  result->tokens = g_array_sized_new (FALSE, FALSE, sizeof (gint64), (guint) max_new);

  gint64 t0 = g_get_monotonic_time ();
  vlm_decoder_forward (dec, l.state, embeds, n_prompt, final_hidden);
  if (logits_last)
    memcpy (logits_last, l.state->logits, (gsize) dec->cfg.vocab * sizeof (float));
  gint64 t1 = g_get_monotonic_time ();
  gboolean ok = decode_loop (dec, opts, &l, n_prompt, result, error);
  gint64 t2 = g_get_monotonic_time ();
  result->prefill_ms = (double) (t1 - t0) / 1000.0;
  result->decode_ms = (double) (t2 - t1) / 1000.0;
  if (ok)
    result->text = g_strdup (l.out.text->str);
  loop_clear (&l);
  if (!ok)
    vlm_generate_result_clear (result);
  return ok;
}

/**
 * vlm_generate_result_clear:
 * @result: a result
 */
void
vlm_generate_result_clear (VlmGenerateResult *result)
{
  if (result->tokens)
    g_array_unref (result->tokens);
  g_free (result->text);
  result->tokens = NULL;
  result->text = NULL;
}

/**
 * vlm_generate_result_stats_json:
 * @result: a result
 *
 * Returns: (transfer full): one JSON object: prompt_tokens, generated_tokens,
 *   finish_reason, prefill_ms, decode_ms, prefill_tokens_per_s, decode_tokens_per_s
 *   (decode steps per second of decode time)
 */
static void
add_number (GString *s, const char *name, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append_printf (s, ",\"%s\":%s", name, g_ascii_formatd (buf, sizeof buf, "%.3f", v));
}

char *
vlm_generate_result_stats_json (const VlmGenerateResult *result)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "{\"prompt_tokens\":%" G_GINT64_FORMAT ",\"generated_tokens\":%u,"
                          "\"finish_reason\":\"%s\"", result->prompt_tokens,
                          result->tokens ? result->tokens->len : 0, result->finish_reason);
  add_number (s, "prefill_ms", result->prefill_ms);
  add_number (s, "decode_ms", result->decode_ms);
  add_number (s, "prefill_tokens_per_s",
              result->prefill_ms > 0 ? result->prompt_tokens * 1000.0 / result->prefill_ms : 0);
  add_number (s, "decode_tokens_per_s",
              result->decode_ms > 0 ? result->decode_steps * 1000.0 / result->decode_ms : 0);
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}
