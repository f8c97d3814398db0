/* vlm-tokenizer.h: Hugging Face tokenizer.json tokenizers and streaming detokenization. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define VLM_TYPE_TOKENIZER (vlm_tokenizer_get_type ())
G_DECLARE_FINAL_TYPE (VlmTokenizer, vlm_tokenizer, VLM, TOKENIZER, GObject)

VlmTokenizer *vlm_tokenizer_new_from_dir (const char *dir, GError **error);
VlmTokenizer *vlm_tokenizer_new_from_file (const char *tokenizer_json, GError **error);

gint32      *vlm_tokenizer_encode (VlmTokenizer *self, const char *text,
                                   gboolean add_special_tokens, gsize *n_ids);
char       **vlm_tokenizer_encode_to_tokens (VlmTokenizer *self, const char *text,
                                             gboolean add_special_tokens);
char        *vlm_tokenizer_decode (VlmTokenizer *self, const gint32 *ids, gsize n_ids,
                                   gboolean skip_special_tokens, GError **error);

const char  *vlm_tokenizer_id_to_token (VlmTokenizer *self, gint32 id);
gint32       vlm_tokenizer_token_to_id (VlmTokenizer *self, const char *token);
guint        vlm_tokenizer_get_vocab_size (VlmTokenizer *self);
gboolean     vlm_tokenizer_is_special (VlmTokenizer *self, gint32 id);

const char  *vlm_tokenizer_get_bos_token (VlmTokenizer *self);
const char  *vlm_tokenizer_get_eos_token (VlmTokenizer *self);
const char  *vlm_tokenizer_get_pad_token (VlmTokenizer *self);
gint32       vlm_tokenizer_get_bos_id (VlmTokenizer *self);
gint32       vlm_tokenizer_get_eos_id (VlmTokenizer *self);
gint32       vlm_tokenizer_get_pad_id (VlmTokenizer *self);
gboolean     vlm_tokenizer_get_add_bos_token (VlmTokenizer *self);
const char  *vlm_tokenizer_get_path (VlmTokenizer *self);

#define VLM_TYPE_TOKEN_STREAM (vlm_token_stream_get_type ())
G_DECLARE_FINAL_TYPE (VlmTokenStream, vlm_token_stream, VLM, TOKEN_STREAM, GObject)

VlmTokenStream *vlm_token_stream_new (VlmTokenizer *tokenizer, gboolean skip_special_tokens);
char        *vlm_token_stream_push (VlmTokenStream *self, gint32 id, GError **error);
char        *vlm_token_stream_flush (VlmTokenStream *self, GError **error);

G_END_DECLS
