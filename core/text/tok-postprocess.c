/* tok-postprocess.c: post-processors. TemplateProcessing inserts its special
 * tokens around the single sequence; ByteLevel only adjusts offsets, which are
 * not tracked here, so it leaves ids alone. */
#include "text/tok-private.h"

#include "vlm/vlm-error.h"

#include <string.h>

typedef enum { POST_TEMPLATE, POST_BYTE_LEVEL, POST_SEQUENCE } PostKind;

typedef struct {
  gboolean is_sequence;
  GArray *ids;             /* gint32, for a special token piece */
  GPtrArray *tokens;       /* char* */
} TokTemplatePiece;

struct _TokPostProcessor {
  PostKind kind;
  GArray *single;          /* TokTemplatePiece */
  GPtrArray *children;
};

static void
tok_piece_clear (TokTemplatePiece *p)
{
  g_clear_pointer (&p->ids, g_array_unref);
  g_clear_pointer (&p->tokens, g_ptr_array_unref);
}

void
tok_post_processor_free (TokPostProcessor *p)
{
  if (!p) return;
  g_clear_pointer (&p->single, g_array_unref);
  g_clear_pointer (&p->children, g_ptr_array_unref);
  g_free (p);
}

static gboolean
tok_post_fail (GError **error, const char *where, const char *what)
{
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: TemplateProcessing post-processor: %s",
               where, what);
  return FALSE;
}

static gboolean
tok_template_parse (TokPostProcessor *p, const TjNode *node, const char *where, GError **error)
{
  const TjNode *single = tj_get (node, "single");
  const TjNode *specials = tj_get (node, "special_tokens");
  if (!tj_is (single, TJ_ARRAY)) return tok_post_fail (error, where, "\"single\" must be a list");
  p->single = g_array_new (FALSE, TRUE, sizeof (TokTemplatePiece));
  g_array_set_clear_func (p->single, (GDestroyNotify) tok_piece_clear);
  for (guint i = 0; i < single->n; i++) {
    const TjNode *item = single->u.items[i];
    TokTemplatePiece piece = { 0 };
    const TjNode *sp = tj_get (item, "SpecialToken");
    if (tj_get (item, "Sequence")) {
      piece.is_sequence = TRUE;
    } else if (sp) {
      const char *name = tj_get_string (sp, "id");
      const TjNode *def = name ? tj_get (specials, name) : NULL;
      const TjNode *ids = tj_get (def, "ids"), *toks = tj_get (def, "tokens");
      if (!tj_is (ids, TJ_ARRAY) || !tj_is (toks, TJ_ARRAY) || ids->n != toks->n)
        return tok_post_fail (error, where, "a special token has no ids/tokens in \"special_tokens\"");
      piece.ids = g_array_new (FALSE, FALSE, sizeof (gint32));
      piece.tokens = g_ptr_array_new_with_free_func (g_free);
      for (guint k = 0; k < ids->n; k++) {
        if (!tj_is (ids->u.items[k], TJ_NUMBER) || !tj_is (toks->u.items[k], TJ_STRING)) {
          tok_piece_clear (&piece);
          return tok_post_fail (error, where, "bad special token ids or tokens");
        }
        gint32 id = ids->u.items[k]->u.num;
        g_array_append_val (piece.ids, id);
        g_ptr_array_add (piece.tokens, g_strdup (toks->u.items[k]->u.s));
      }
    } else {
      return tok_post_fail (error, where, "items must be SpecialToken or Sequence");
    }
    g_array_append_val (p->single, piece);
  }
  return TRUE;
}

gboolean
tok_post_processor_new (const TjNode *node, const char *where, TokPostProcessor **out,
                        GError **error)
{
  *out = NULL;
  if (!node || node->type == TJ_NULL) return TRUE;
  const char *type = tj_get_string (node, "type");
  TokPostProcessor *p = g_new0 (TokPostProcessor, 1);
  gboolean ok = TRUE;
  if (type && strcmp (type, "TemplateProcessing") == 0) {
    p->kind = POST_TEMPLATE;
    ok = tok_template_parse (p, node, where, error);
  } else if (type && strcmp (type, "ByteLevel") == 0) {
    p->kind = POST_BYTE_LEVEL;
  } else if (type && strcmp (type, "Sequence") == 0) {
    p->kind = POST_SEQUENCE;
    const TjNode *list = tj_get (node, "processors");
    p->children = g_ptr_array_new_with_free_func ((GDestroyNotify) tok_post_processor_free);
    if (!tj_is (list, TJ_ARRAY)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: Sequence post-processor without a \"processors\" list", where);
      ok = FALSE;
    }
    for (guint i = 0; ok && i < list->n; i++) {
      TokPostProcessor *child;
      ok = tok_post_processor_new (list->u.items[i], where, &child, error);
      if (ok && child) g_ptr_array_add (p->children, child);
    }
  } else {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s: unsupported post-processor type \"%s\"", where, type ? type : "(none)");
    ok = FALSE;
  }
  if (!ok) {
    tok_post_processor_free (p);
    return FALSE;
  }
  *out = p;
  return TRUE;
}

void
tok_post_processor_apply (const TokPostProcessor *p, GArray *ids, GPtrArray *tokens)
{
  if (!p) return;
  if (p->kind == POST_SEQUENCE) {
    for (guint i = 0; i < p->children->len; i++)
      tok_post_processor_apply (p->children->pdata[i], ids, tokens);
    return;
  }
  if (p->kind != POST_TEMPLATE) return;
  GArray *new_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GPtrArray *new_tokens = tokens ? g_ptr_array_new_with_free_func (g_free) : NULL;
  for (guint i = 0; i < p->single->len; i++) {
    const TokTemplatePiece *piece = &g_array_index (p->single, TokTemplatePiece, i);
    if (piece->is_sequence) {
      g_array_append_vals (new_ids, ids->data, ids->len);
      for (guint k = 0; tokens && k < tokens->len; k++)
        g_ptr_array_add (new_tokens, g_strdup (tokens->pdata[k]));
    } else {
      g_array_append_vals (new_ids, piece->ids->data, piece->ids->len);
      for (guint k = 0; tokens && k < piece->tokens->len; k++)
        g_ptr_array_add (new_tokens, g_strdup (piece->tokens->pdata[k]));
    }
  }
  g_array_set_size (ids, 0);
  g_array_append_vals (ids, new_ids->data, new_ids->len);
  g_array_unref (new_ids);
  if (tokens) {
    g_ptr_array_set_size (tokens, 0);
    for (guint k = 0; k < new_tokens->len; k++) g_ptr_array_add (tokens, g_strdup (new_tokens->pdata[k]));
    g_ptr_array_unref (new_tokens);
  }
}
