/* vlm-token-stream.c: incremental detokenization. Like Hugging Face's
 * DecodeStream, it decodes the ids since the last emitted boundary together
 * with the previous window as context and emits only the new, stable suffix:
 * nothing is emitted while the text ends in U+FFFD (an unfinished character). */
#include "vlm/vlm-tokenizer.h"

#include "vlm/vlm-error.h"

#include <string.h>

struct _VlmTokenStream {
  GObject parent_instance;
  VlmTokenizer *tokenizer;
  gboolean skip_special;
  GArray *ids;             /* the context window */
  gsize prefix_index;      /* ids before it are the context, after it are unemitted */
  char *prefix;            /* decode of ids[0, prefix_index) as seen by this window */
};

G_DEFINE_FINAL_TYPE (VlmTokenStream, vlm_token_stream, G_TYPE_OBJECT)

static void
vlm_token_stream_finalize (GObject *object)
{
  VlmTokenStream *self = VLM_TOKEN_STREAM (object);
  g_clear_object (&self->tokenizer);
  g_array_unref (self->ids);
  g_free (self->prefix);
  G_OBJECT_CLASS (vlm_token_stream_parent_class)->finalize (object);
}

static void
vlm_token_stream_class_init (VlmTokenStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_token_stream_finalize;
}

static void
vlm_token_stream_init (VlmTokenStream *self)
{
  self->ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->prefix = g_strdup ("");
}

/**
 * vlm_token_stream_new:
 * @tokenizer: a #VlmTokenizer
 * @skip_special_tokens: leave out special tokens
 *
 * Returns: (transfer full): a new stream decoder
 */
VlmTokenStream *
vlm_token_stream_new (VlmTokenizer *tokenizer, gboolean skip_special_tokens)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (tokenizer), NULL);
  VlmTokenStream *self = g_object_new (VLM_TYPE_TOKEN_STREAM, NULL);
  self->tokenizer = g_object_ref (tokenizer);
  self->skip_special = skip_special_tokens;
  return self;
}

static char *
vlm_token_stream_step (VlmTokenStream *self, gboolean final, GError **error)
{
  g_autofree char *text = vlm_tokenizer_decode (self->tokenizer, (gint32 *) self->ids->data,
                                                self->ids->len, self->skip_special, error);
  if (!text) return NULL;
  gsize plen = strlen (self->prefix), tlen = strlen (text);
  gboolean pending = tlen >= 3 && memcmp (text + tlen - 3, "\xEF\xBF\xBD", 3) == 0;
  if (tlen <= plen || (pending && !final)) return g_strdup ("");
  if (strncmp (text, self->prefix, plen) != 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FAILED,
                 "%s: streaming decode changed already emitted text", vlm_tokenizer_get_path (self->tokenizer));
    return NULL;
  }
  char *fresh = g_strdup (text + plen);
  /* The new window starts at the old boundary: the ids emitted last become context. */
  gsize new_prefix_index = self->ids->len - self->prefix_index;
  g_array_remove_range (self->ids, 0, self->prefix_index);
  g_free (self->prefix);
  self->prefix = vlm_tokenizer_decode (self->tokenizer, (gint32 *) self->ids->data, self->ids->len,
                                       self->skip_special, NULL);
  self->prefix_index = new_prefix_index;
  return fresh;
}

/**
 * vlm_token_stream_push:
 * @self: a #VlmTokenStream
 * @id: the next token id
 * @error: return location for a #GError
 *
 * Adds one id and returns the text it completes. The result is always whole
 * UTF-8 characters; it is empty while a character is still incomplete.
 *
 * Returns: (transfer full): the new text (possibly empty), or %NULL with
 *   @error set for an id outside the vocabulary
 */
char *
vlm_token_stream_push (VlmTokenStream *self, gint32 id, GError **error)
{
  g_return_val_if_fail (VLM_IS_TOKEN_STREAM (self), NULL);
  g_array_append_val (self->ids, id);
  char *r = vlm_token_stream_step (self, FALSE, error);
  if (!r) g_array_set_size (self->ids, self->ids->len - 1);
  return r;
}

/**
 * vlm_token_stream_flush:
 * @self: a #VlmTokenStream
 * @error: return location for a #GError
 *
 * Returns what is still held back (an unfinished character becomes U+FFFD),
 * so that all pushes plus the flush equal the decode of all ids.
 *
 * Returns: (transfer full): the remaining text (possibly empty)
 */
char *
vlm_token_stream_flush (VlmTokenStream *self, GError **error)
{
  g_return_val_if_fail (VLM_IS_TOKEN_STREAM (self), NULL);
  return vlm_token_stream_step (self, TRUE, error);
}
