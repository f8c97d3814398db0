/* vlm-tokenizer.c: the public tokenizer: loads tokenizer.json (+ the special
 * token settings of tokenizer_config.json / special_tokens_map.json) and runs
 * the encode and decode pipelines of Hugging Face tokenizers. */
#include "vlm/vlm-tokenizer.h"

#include "text/tok-private.h"
#include "vlm/vlm-error.h"

#include <string.h>

struct _VlmTokenizer {
  GObject parent_instance;
  char *path;
  TokNormalizer *normalizer;
  TokPreTokenizer *pre_tokenizer;
  TokModel *model;
  TokPostProcessor *post_processor;
  TokDecoder *decoder;
  TokAddedVocab *added;
  char *special[3];        /* bos, eos, pad contents */
  gboolean add_bos_token;
};

enum { SPECIAL_BOS, SPECIAL_EOS, SPECIAL_PAD };

G_DEFINE_FINAL_TYPE (VlmTokenizer, vlm_tokenizer, G_TYPE_OBJECT)

static void
vlm_tokenizer_finalize (GObject *object)
{
  VlmTokenizer *self = VLM_TOKENIZER (object);
  g_free (self->path);
  tok_normalizer_free (self->normalizer);
  tok_pretokenizer_free (self->pre_tokenizer);
  tok_model_free (self->model);
  tok_post_processor_free (self->post_processor);
  tok_decoder_free (self->decoder);
  tok_added_vocab_free (self->added);
  for (int i = 0; i < 3; i++) g_free (self->special[i]);
  G_OBJECT_CLASS (vlm_tokenizer_parent_class)->finalize (object);
}

static void
vlm_tokenizer_class_init (VlmTokenizerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_tokenizer_finalize;
}

static void
vlm_tokenizer_init (VlmTokenizer *self)
{
}

/* An AddedToken object ({"content", "special", "lstrip", ...}) with its id. */
static void
vlm_tokenizer_add_token (VlmTokenizer *self, const TjNode *t, const char *content, gint32 id)
{
  TokAddedToken tok = {
    (char *) content, id, tj_get_bool (t, "special", FALSE),
    tj_get_bool (t, "lstrip", FALSE), tj_get_bool (t, "rstrip", FALSE),
    tj_get_bool (t, "single_word", FALSE), tj_get_bool (t, "normalized", TRUE),
  };
  tok_added_vocab_add (self->added, &tok);
}

static gboolean
vlm_tokenizer_load_added (VlmTokenizer *self, const TjNode *list, const char *where,
                          GError **error)
{
  self->added = tok_added_vocab_new ();
  if (!list || list->type == TJ_NULL) return TRUE;
  if (!tj_is (list, TJ_ARRAY)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: \"added_tokens\" must be a list", where);
    return FALSE;
  }
  for (guint i = 0; i < list->n; i++) {
    const TjNode *t = list->u.items[i], *id = tj_get (t, "id");
    const char *content = tj_get_string (t, "content");
    if (!content || !*content || !tj_is (id, TJ_NUMBER) || id->u.num < 0 || id->u.num > G_MAXINT32) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: added token %u needs a non-empty \"content\" and an \"id\"", where, i);
      return FALSE;
    }
    vlm_tokenizer_add_token (self, t, content, (gint32) id->u.num);
  }
  return TRUE;
}

/* A special token value is a string or an AddedToken object {"content": ...}. */
static const char *
tok_special_content (const TjNode *node)
{
  if (tj_is (node, TJ_STRING)) return node->u.s;
  return tj_get_string (node, "content");
}

/* tokenizer_config.json wins over special_tokens_map.json; both are optional. */
static gboolean
vlm_tokenizer_load_config (VlmTokenizer *self, const char *dir, GError **error)
{
  static const char *files[] = { "special_tokens_map.json", "tokenizer_config.json" };
  static const char *keys[] = { "bos_token", "eos_token", "pad_token" };
  for (guint f = 0; f < G_N_ELEMENTS (files); f++) {
    char *path = g_build_filename (dir, files[f], NULL);
    if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
      g_free (path);
      continue;
    }
    TjDoc *doc = tj_doc_load (path, error);
    if (!doc) {
      g_free (path);
      return FALSE;
    }
    TjNode *root = tj_doc_root (doc);
    for (int k = 0; k < 3; k++) {
      TjNode *v = tj_get (root, keys[k]);
      if (!v) continue;
      g_free (self->special[k]);
      self->special[k] = g_strdup (tok_special_content (v));
    }
    self->add_bos_token = tj_get_bool (root, "add_bos_token", self->add_bos_token);
    /* Tokens declared only in tokenizer_config.json still exist for the model. */
    TjNode *decl = tj_get (root, "added_tokens_decoder");
    for (guint i = 0; tj_is (decl, TJ_OBJECT) && i < decl->n; i++) {
      const TjNode *t = decl->u.items[2 * i + 1];
      const char *content = tj_get_string (t, "content");
      char *end;
      gint64 id = g_ascii_strtoll (decl->u.items[2 * i]->u.s, &end, 10);
      if (!content || !*content || *end || id < 0 || id > G_MAXINT32
          || tok_added_vocab_by_id (self->added, id) || tok_added_vocab_by_content (self->added, content))
        continue;
      vlm_tokenizer_add_token (self, t, content, (gint32) id);
    }
    tj_doc_free (doc);
    g_free (path);
  }
  return TRUE;
}

static VlmTokenizer *
vlm_tokenizer_load (const char *path, const char *dir, GError **error)
{
  g_autoptr (TjDoc) doc = tj_doc_load (path, error);
  if (!doc) return NULL;
  TjNode *root = tj_doc_root (doc);
  if (!tj_is (root, TJ_OBJECT)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: the top level must be an object", path);
    return NULL;
  }
  g_autoptr (VlmTokenizer) self = g_object_new (VLM_TYPE_TOKENIZER, NULL);
  self->path = g_strdup (path);
  if (!tok_normalizer_new (tj_get (root, "normalizer"), path, &self->normalizer, error)
      || !tok_pretokenizer_new (tj_get (root, "pre_tokenizer"), path, &self->pre_tokenizer, error)
      || !(self->model = tok_model_new (tj_get (root, "model"), path, error))
      || !tok_post_processor_new (tj_get (root, "post_processor"), path, &self->post_processor, error)
      || !tok_decoder_new (tj_get (root, "decoder"), path, &self->decoder, error)
      || !vlm_tokenizer_load_added (self, tj_get (root, "added_tokens"), path, error))
    return NULL;
  if (dir && !vlm_tokenizer_load_config (self, dir, error)) return NULL;
  tok_added_vocab_build (self->added, self->normalizer);
  return g_steal_pointer (&self);
}

/**
 * vlm_tokenizer_new_from_file:
 * @tokenizer_json: path of a Hugging Face `tokenizer.json`
 * @error: return location for a #GError
 *
 * Loads a tokenizer from one file; special tokens (bos/eos/pad) stay unset
 * because they live in the neighbouring config files.
 *
 * Returns: (transfer full): the tokenizer, or %NULL with @error set
 */
VlmTokenizer *
vlm_tokenizer_new_from_file (const char *tokenizer_json, GError **error)
{
  g_return_val_if_fail (tokenizer_json != NULL, NULL);
  return vlm_tokenizer_load (tokenizer_json, NULL, error);
}

/**
 * vlm_tokenizer_new_from_dir:
 * @dir: a model folder holding `tokenizer.json` and optionally
 *   `tokenizer_config.json` and `special_tokens_map.json`
 * @error: return location for a #GError
 *
 * Loads the tokenizer of a model folder with its special tokens
 * (tokenizer_config.json wins over special_tokens_map.json).
 *
 * Returns: (transfer full): the tokenizer, or %NULL with @error set
 */
VlmTokenizer *
vlm_tokenizer_new_from_dir (const char *dir, GError **error)
{
  g_return_val_if_fail (dir != NULL, NULL);
  g_autofree char *path = g_build_filename (dir, "tokenizer.json", NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND, "%s: no tokenizer.json in this folder", dir);
    return NULL;
  }
  return vlm_tokenizer_load (path, dir, error);
}

static void
vlm_tokenizer_push (GArray *ids, GPtrArray *tokens, gint32 id, const char *token)
{
  g_array_append_val (ids, id);
  if (tokens) g_ptr_array_add (tokens, g_strdup (token ? token : ""));
}

/* Pre-tokenizes and runs the model on a normalized piece without added tokens. */
static void
vlm_tokenizer_encode_piece (VlmTokenizer *self, const char *s, gsize len, gboolean first,
                            GArray *ids, GPtrArray *tokens)
{
  GPtrArray *pieces = g_ptr_array_new ();
  g_ptr_array_add (pieces, g_string_new_len (s, len));
  tok_pretokenizer_apply (self->pre_tokenizer, pieces, first);
  for (guint i = 0; i < pieces->len; i++) {
    GString *w = pieces->pdata[i];
    guint start = ids->len;
    tok_model_tokenize (self->model, w->str, w->len, ids);
    for (guint k = start; tokens && k < ids->len; k++)
      g_ptr_array_add (tokens, g_strdup (tok_model_id_to_token (self->model, g_array_index (ids, gint32, k))));
    g_string_free (w, TRUE);
  }
  g_ptr_array_unref (pieces);
}

static void
vlm_tokenizer_encode_impl (VlmTokenizer *self, const char *text, gboolean add_special,
                           GArray *ids, GPtrArray *tokens)
{
  g_autofree char *valid = NULL;
  gsize len = strlen (text);
  if (!g_utf8_validate_len (text, len, NULL)) text = valid = g_utf8_make_valid (text, len);
  len = strlen (text);

  GArray *raw = g_array_new (FALSE, FALSE, sizeof (TokSegment));
  GArray *norm = g_array_new (FALSE, FALSE, sizeof (TokSegment));
  tok_added_vocab_split (self->added, FALSE, text, len, raw);
  for (guint i = 0; i < raw->len; i++) {
    TokSegment *seg = &g_array_index (raw, TokSegment, i);
    if (seg->id >= 0) {
      g_autofree char *matched = g_strndup (text + seg->start, seg->end - seg->start);
      vlm_tokenizer_push (ids, tokens, seg->id, matched);
      continue;
    }
    GString *piece = g_string_new_len (text + seg->start, seg->end - seg->start);
    tok_normalizer_apply (self->normalizer, piece);
    g_array_set_size (norm, 0);
    tok_added_vocab_split (self->added, TRUE, piece->str, piece->len, norm);
    for (guint k = 0; k < norm->len; k++) {
      TokSegment *ns = &g_array_index (norm, TokSegment, k);
      if (ns->id >= 0) {
        /* The token string is the matched text, normalized form included. */
        g_autofree char *matched = g_strndup (piece->str + ns->start, ns->end - ns->start);
        vlm_tokenizer_push (ids, tokens, ns->id, matched);
      } else
        vlm_tokenizer_encode_piece (self, piece->str + ns->start, ns->end - ns->start,
                                    seg->start == 0 && ns->start == 0, ids, tokens);
    }
    g_string_free (piece, TRUE);
  }
  g_array_unref (raw);
  g_array_unref (norm);
  if (add_special) tok_post_processor_apply (self->post_processor, ids, tokens);
}

/**
 * vlm_tokenizer_encode:
 * @self: a #VlmTokenizer
 * @text: UTF-8 text (invalid sequences are replaced by U+FFFD)
 * @add_special_tokens: whether the post-processor adds its special tokens (bos...)
 * @n_ids: (out): number of ids returned
 *
 * Encodes @text the way Hugging Face tokenizers' `encode` does.
 *
 * Returns: (transfer full) (array length=n_ids): the token ids
 */
gint32 *
vlm_tokenizer_encode (VlmTokenizer *self, const char *text, gboolean add_special_tokens,
                      gsize *n_ids)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self) && text != NULL && n_ids != NULL, NULL);
  GArray *ids = g_array_new (TRUE, FALSE, sizeof (gint32));
  vlm_tokenizer_encode_impl (self, text, add_special_tokens, ids, NULL);
  *n_ids = ids->len;
  return (gint32 *) g_array_free (ids, FALSE);
}

/**
 * vlm_tokenizer_encode_to_tokens:
 * @self: a #VlmTokenizer
 * @text: UTF-8 text
 * @add_special_tokens: whether the post-processor adds its special tokens
 *
 * Encodes @text and returns the token strings instead of the ids.
 *
 * Returns: (transfer full) (array zero-terminated=1): the token strings
 */
char **
vlm_tokenizer_encode_to_tokens (VlmTokenizer *self, const char *text, gboolean add_special_tokens)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self) && text != NULL, NULL);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GPtrArray *tokens = g_ptr_array_new_with_free_func (g_free);
  vlm_tokenizer_encode_impl (self, text, add_special_tokens, ids, tokens);
  g_array_unref (ids);
  g_ptr_array_add (tokens, NULL);
  g_ptr_array_set_free_func (tokens, NULL);
  return (char **) g_ptr_array_free (tokens, FALSE);
}

/**
 * vlm_tokenizer_id_to_token:
 * @self: a #VlmTokenizer
 * @id: a token id
 *
 * Returns: (nullable): the token string of @id (added tokens first), or %NULL
 */
const char *
vlm_tokenizer_id_to_token (VlmTokenizer *self, gint32 id)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), NULL);
  const TokAddedToken *t = tok_added_vocab_by_id (self->added, id);
  return t ? t->content : tok_model_id_to_token (self->model, id);
}

/**
 * vlm_tokenizer_token_to_id:
 * @self: a #VlmTokenizer
 * @token: a token string
 *
 * Returns: the id of @token (added tokens first), or -1
 */
gint32
vlm_tokenizer_token_to_id (VlmTokenizer *self, const char *token)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self) && token != NULL, -1);
  const TokAddedToken *t = tok_added_vocab_by_content (self->added, token);
  return t ? t->id : tok_model_token_to_id (self->model, token);
}

/**
 * vlm_tokenizer_decode:
 * @self: a #VlmTokenizer
 * @ids: (array length=n_ids): token ids
 * @n_ids: number of ids
 * @skip_special_tokens: leave out special added tokens
 * @error: return location for a #GError
 *
 * Decodes ids with the tokenizer's decoder chain (without transformers'
 * clean_up_tokenization_spaces step).
 *
 * Returns: (transfer full): the text, or %NULL with @error set when an id is
 *   not in the vocabulary
 */
char *
vlm_tokenizer_decode (VlmTokenizer *self, const gint32 *ids, gsize n_ids,
                      gboolean skip_special_tokens, GError **error)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self) && (ids != NULL || n_ids == 0), NULL);
  GPtrArray *tokens = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; i < n_ids; i++) {
    const TokAddedToken *t = tok_added_vocab_by_id (self->added, ids[i]);
    if (t && t->special && skip_special_tokens) continue;
    const char *s = t ? t->content : tok_model_id_to_token (self->model, ids[i]);
    if (!s) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: token id %d is not in the vocabulary",
                   self->path, ids[i]);
      g_ptr_array_unref (tokens);
      return NULL;
    }
    g_ptr_array_add (tokens, g_strdup (s));
  }
  tok_decoder_apply (self->decoder, tokens);
  g_ptr_array_add (tokens, NULL);
  char *text = g_strjoinv (self->decoder ? "" : " ", (char **) tokens->pdata);
  g_ptr_array_unref (tokens);
  return text;
}

/**
 * vlm_tokenizer_get_vocab_size:
 * @self: a #VlmTokenizer
 *
 * Returns: the number of ids, added tokens included (the largest id + 1)
 */
guint
vlm_tokenizer_get_vocab_size (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), 0);
  gint64 n = MAX ((gint64) tok_model_vocab_size (self->model), tok_added_vocab_max_id (self->added) + 1);
  return (guint) n;
}

/**
 * vlm_tokenizer_is_special:
 * @self: a #VlmTokenizer
 * @id: a token id
 *
 * Returns: whether @id is an added token marked special
 */
gboolean
vlm_tokenizer_is_special (VlmTokenizer *self, gint32 id)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), FALSE);
  const TokAddedToken *t = tok_added_vocab_by_id (self->added, id);
  return t && t->special;
}

/**
 * vlm_tokenizer_get_bos_token:
 * @self: a #VlmTokenizer
 *
 * Returns: (nullable): the beginning-of-sequence token from the config files
 */
const char *
vlm_tokenizer_get_bos_token (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), NULL);
  return self->special[SPECIAL_BOS];
}

/**
 * vlm_tokenizer_get_eos_token:
 * @self: a #VlmTokenizer
 *
 * Returns: (nullable): the end-of-sequence token from the config files
 */
const char *
vlm_tokenizer_get_eos_token (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), NULL);
  return self->special[SPECIAL_EOS];
}

/**
 * vlm_tokenizer_get_pad_token:
 * @self: a #VlmTokenizer
 *
 * Returns: (nullable): the padding token from the config files
 */
const char *
vlm_tokenizer_get_pad_token (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), NULL);
  return self->special[SPECIAL_PAD];
}

static gint32
vlm_tokenizer_special_id (VlmTokenizer *self, int which)
{
  return self->special[which] ? vlm_tokenizer_token_to_id (self, self->special[which]) : -1;
}

/**
 * vlm_tokenizer_get_bos_id:
 * @self: a #VlmTokenizer
 *
 * Returns: the id of the bos token, or -1 if there is none
 */
gint32
vlm_tokenizer_get_bos_id (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), -1);
  return vlm_tokenizer_special_id (self, SPECIAL_BOS);
}

/**
 * vlm_tokenizer_get_eos_id:
 * @self: a #VlmTokenizer
 *
 * Returns: the id of the eos token of the tokenizer files, or -1
 */
gint32
vlm_tokenizer_get_eos_id (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), -1);
  return vlm_tokenizer_special_id (self, SPECIAL_EOS);
}

/**
 * vlm_tokenizer_get_pad_id:
 * @self: a #VlmTokenizer
 *
 * Returns: the id of the pad token, or -1
 */
gint32
vlm_tokenizer_get_pad_id (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), -1);
  return vlm_tokenizer_special_id (self, SPECIAL_PAD);
}

/**
 * vlm_tokenizer_get_add_bos_token:
 * @self: a #VlmTokenizer
 *
 * Returns: the `add_bos_token` setting of tokenizer_config.json (%FALSE if absent)
 */
gboolean
vlm_tokenizer_get_add_bos_token (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), FALSE);
  return self->add_bos_token;
}

/**
 * vlm_tokenizer_get_path:
 * @self: a #VlmTokenizer
 *
 * Returns: the tokenizer.json path the tokenizer was loaded from
 */
const char *
vlm_tokenizer_get_path (VlmTokenizer *self)
{
  g_return_val_if_fail (VLM_IS_TOKENIZER (self), NULL);
  return self->path;
}
