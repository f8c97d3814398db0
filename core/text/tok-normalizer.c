/* tok-normalizer.c: Hugging Face normalizers (NFC/NFKC/NFD/NFKD, Replace,
 * Prepend, Lowercase, Strip, Sequence). Offsets are not tracked: the pipeline
 * only needs ids and token strings. */
#include "text/tok-private.h"

#include "text/tok-util.h"
#include "vlm/vlm-error.h"

#include <string.h>

typedef enum { NORM_UNICODE, NORM_REPLACE, NORM_PREPEND, NORM_LOWERCASE, NORM_STRIP,
               NORM_SEQUENCE } NormKind;

struct _TokNormalizer {
  NormKind kind;
  GNormalizeMode mode;     /* NORM_UNICODE */
  char *pattern;           /* NORM_REPLACE (string form) */
  GRegex *regex;           /* NORM_REPLACE (regex form) */
  char *content;           /* NORM_REPLACE replacement, NORM_PREPEND prefix */
  gboolean left, right;    /* NORM_STRIP */
  GPtrArray *children;     /* NORM_SEQUENCE */
};

void
tok_normalizer_free (TokNormalizer *n)
{
  if (!n) return;
  g_free (n->pattern);
  g_clear_pointer (&n->regex, g_regex_unref);
  g_free (n->content);
  g_clear_pointer (&n->children, g_ptr_array_unref);
  g_free (n);
}

gboolean
tok_normalizer_new (const TjNode *node, const char *where, TokNormalizer **out, GError **error)
{
  *out = NULL;
  if (!node || node->type == TJ_NULL) return TRUE;
  const char *type = tj_get_string (node, "type");
  if (!type) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: normalizer without a \"type\"", where);
    return FALSE;
  }
  TokNormalizer *n = g_new0 (TokNormalizer, 1);
  static const struct { const char *name; GNormalizeMode mode; } unicode[] = {
    { "NFC", G_NORMALIZE_NFC }, { "NFKC", G_NORMALIZE_NFKC },
    { "NFD", G_NORMALIZE_NFD }, { "NFKD", G_NORMALIZE_NFKD },
  };
  for (guint i = 0; i < G_N_ELEMENTS (unicode); i++)
    if (strcmp (type, unicode[i].name) == 0) {
      n->kind = NORM_UNICODE;
      n->mode = unicode[i].mode;
      *out = n;
      return TRUE;
    }
  if (strcmp (type, "Replace") == 0) {
    n->kind = NORM_REPLACE;
    const char *content = tj_get_string (node, "content");
    if (!content) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: Replace without \"content\"", where);
      goto fail;
    }
    n->content = g_strdup (content);
    if (!tok_pattern_parse (tj_get (node, "pattern"), where, &n->pattern, &n->regex, error))
      goto fail;
  } else if (strcmp (type, "Prepend") == 0) {
    n->kind = NORM_PREPEND;
    const char *p = tj_get_string (node, "prepend");
    if (!p) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: Prepend without \"prepend\"", where);
      goto fail;
    }
    n->content = g_strdup (p);
  } else if (strcmp (type, "Lowercase") == 0) {
    n->kind = NORM_LOWERCASE;
  } else if (strcmp (type, "Strip") == 0) {
    n->kind = NORM_STRIP;
    n->left = tj_get_bool (node, "strip_left", TRUE);
    n->right = tj_get_bool (node, "strip_right", TRUE);
  } else if (strcmp (type, "Sequence") == 0) {
    n->kind = NORM_SEQUENCE;
    const TjNode *list = tj_get (node, "normalizers");
    if (!tj_is (list, TJ_ARRAY)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: Sequence normalizer without a \"normalizers\" list", where);
      goto fail;
    }
    n->children = g_ptr_array_new_with_free_func ((GDestroyNotify) tok_normalizer_free);
    for (guint i = 0; i < list->n; i++) {
      TokNormalizer *child;
      if (!tok_normalizer_new (list->u.items[i], where, &child, error)) goto fail;
      if (child) g_ptr_array_add (n->children, child);
    }
  } else {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED, "%s: unsupported normalizer type \"%s\"",
                 where, type);
    goto fail;
  }
  *out = n;
  return TRUE;
fail:
  tok_normalizer_free (n);
  return FALSE;
}

static void
tok_string_take (GString *s, char *text)
{
  g_string_assign (s, text);
  g_free (text);
}

void
tok_normalizer_apply (const TokNormalizer *n, GString *s)
{
  if (!n) return;
  switch (n->kind) {
  case NORM_UNICODE:
    if (s->len) tok_string_take (s, tok_utf8_normalize (s->str, s->len, n->mode));
    break;
  case NORM_REPLACE:
    if (n->regex) {
      char *r = g_regex_replace_literal (n->regex, s->str, s->len, 0, n->content, 0, NULL);
      if (r) tok_string_take (s, r);
    } else if (n->pattern[0]) {
      tok_string_replace (s, n->pattern, n->content);
    }
    break;
  case NORM_PREPEND:
    if (s->len) g_string_prepend (s, n->content);
    break;
  case NORM_LOWERCASE:
    tok_string_take (s, g_utf8_strdown (s->str, s->len));
    break;
  case NORM_STRIP: {
    const char *b = s->str, *e = s->str + s->len;
    if (n->left)
      while (b < e && g_unichar_isspace (g_utf8_get_char (b))) b = g_utf8_next_char (b);
    if (n->right)
      while (e > b) {
        const char *p = g_utf8_prev_char (e);
        if (!g_unichar_isspace (g_utf8_get_char (p))) break;
        e = p;
      }
    gsize len = e - b;
    memmove (s->str, b, len);
    g_string_truncate (s, len);
    break;
  }
  case NORM_SEQUENCE:
    for (guint i = 0; i < n->children->len; i++)
      tok_normalizer_apply (n->children->pdata[i], s);
    break;
  }
}
