/* tok-decoder.c: decoders turning token strings back into text (ByteLevel,
 * Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence), each a step over
 * the list of token strings as in Hugging Face tokenizers' decode_chain. */
#include "text/tok-private.h"

#include "text/tok-util.h"
#include "vlm/vlm-error.h"

#include <string.h>

typedef enum { DEC_BYTE_LEVEL, DEC_REPLACE, DEC_BYTE_FALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE,
               DEC_SEQUENCE } DecKind;

struct _TokDecoder {
  DecKind kind;
  char *pattern, *content; /* Replace (content: Strip's character too) */
  GRegex *regex;           /* Replace with a regex pattern */
  guint start, stop;       /* Strip */
  gboolean prepend;        /* Metaspace: prepend_scheme is not "never" */
  GPtrArray *children;     /* Sequence */
};

void
tok_decoder_free (TokDecoder *d)
{
  if (!d) return;
  g_free (d->pattern);
  g_free (d->content);
  g_clear_pointer (&d->regex, g_regex_unref);
  g_clear_pointer (&d->children, g_ptr_array_unref);
  g_free (d);
}

static gboolean
tok_dec_parse (TokDecoder *d, const TjNode *node, const char *type, const char *where,
               GError **error)
{
  if (strcmp (type, "ByteLevel") == 0) { d->kind = DEC_BYTE_LEVEL; return TRUE; }
  if (strcmp (type, "ByteFallback") == 0) { d->kind = DEC_BYTE_FALLBACK; return TRUE; }
  if (strcmp (type, "Fuse") == 0) { d->kind = DEC_FUSE; return TRUE; }
  if (strcmp (type, "Replace") == 0) {
    d->kind = DEC_REPLACE;
    const char *c = tj_get_string (node, "content");
    if (!c) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: Replace decoder without \"content\"", where);
      return FALSE;
    }
    d->content = g_strdup (c);
    return tok_pattern_parse (tj_get (node, "pattern"), where, &d->pattern, &d->regex, error);
  }
  if (strcmp (type, "Strip") == 0) {
    d->kind = DEC_STRIP;
    const char *c = tj_get_string (node, "content");
    const TjNode *start = tj_get (node, "start"), *stop = tj_get (node, "stop");
    if (!c || g_utf8_strlen (c, -1) != 1 || !tj_is (start, TJ_NUMBER) || !tj_is (stop, TJ_NUMBER)
        || start->u.num < 0 || stop->u.num < 0) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: Strip decoder needs a one-character \"content\" and \"start\"/\"stop\" counts", where);
      return FALSE;
    }
    d->content = g_strdup (c);
    d->start = MIN (start->u.num, G_MAXINT);
    d->stop = MIN (stop->u.num, G_MAXINT);
    return TRUE;
  }
  if (strcmp (type, "Metaspace") == 0) {
    d->kind = DEC_METASPACE;
    const char *r = tj_get_string (node, "replacement");
    if (!r || g_utf8_strlen (r, -1) != 1) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: Metaspace decoder needs a one-character \"replacement\"", where);
      return FALSE;
    }
    d->content = g_strdup (r);
    const char *scheme = tj_get_string (node, "prepend_scheme");
    d->prepend = scheme ? strcmp (scheme, "never") != 0 : tj_get_bool (node, "add_prefix_space", TRUE);
    return TRUE;
  }
  if (strcmp (type, "Sequence") == 0) {
    d->kind = DEC_SEQUENCE;
    const TjNode *list = tj_get (node, "decoders");
    if (!tj_is (list, TJ_ARRAY)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: Sequence decoder without a \"decoders\" list", where);
      return FALSE;
    }
    d->children = g_ptr_array_new_with_free_func ((GDestroyNotify) tok_decoder_free);
    for (guint i = 0; i < list->n; i++) {
      TokDecoder *child;
      if (!tok_decoder_new (list->u.items[i], where, &child, error)) return FALSE;
      if (child) g_ptr_array_add (d->children, child);
    }
    return TRUE;
  }
  g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED, "%s: unsupported decoder type \"%s\"", where, type);
  return FALSE;
}

gboolean
tok_decoder_new (const TjNode *node, const char *where, TokDecoder **out, GError **error)
{
  *out = NULL;
  if (!node || node->type == TJ_NULL) return TRUE;
  const char *type = tj_get_string (node, "type");
  if (!type) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: decoder without a \"type\"", where);
    return FALSE;
  }
  TokDecoder *d = g_new0 (TokDecoder, 1);
  if (!tok_dec_parse (d, node, type, where, error)) {
    tok_decoder_free (d);
    return FALSE;
  }
  *out = d;
  return TRUE;
}

static void
tok_tokens_replace (GPtrArray *tokens, GPtrArray *with)
{
  g_ptr_array_set_size (tokens, 0);
  for (guint i = 0; i < with->len; i++) g_ptr_array_add (tokens, with->pdata[i]);
  g_ptr_array_set_free_func (with, NULL);
  g_ptr_array_unref (with);
}

/* Every token is mapped back to bytes (or kept as is when it is not in the
 * byte alphabet), the bytes are joined and read as lossy UTF-8. */
static void
tok_dec_byte_level (GPtrArray *tokens)
{
  GByteArray *bytes = g_byte_array_new ();
  for (guint i = 0; i < tokens->len; i++) {
    const char *t = tokens->pdata[i];
    guint mark = bytes->len;
    gboolean all = TRUE;
    for (const char *p = t; *p && all; p = g_utf8_next_char (p)) {
      int b = tok_byte_level_byte (g_utf8_get_char (p));
      if (b < 0) all = FALSE;
      else {
        guint8 v = b;
        g_byte_array_append (bytes, &v, 1);
      }
    }
    if (!all) {
      g_byte_array_set_size (bytes, mark);
      g_byte_array_append (bytes, (const guint8 *) t, strlen (t));
    }
  }
  GString *s = g_string_new (NULL);
  tok_append_utf8_lossy (s, (const char *) bytes->data, bytes->len);
  g_byte_array_unref (bytes);
  g_ptr_array_set_size (tokens, 0);
  g_ptr_array_add (tokens, g_string_free (s, FALSE));
}

static int
tok_byte_token (const char *t)
{
  if (strlen (t) != 6 || strncmp (t, "<0x", 3) != 0 || t[5] != '>'
      || !g_ascii_isxdigit (t[3]) || !g_ascii_isxdigit (t[4]))
    return -1;
  return g_ascii_xdigit_value (t[3]) * 16 + g_ascii_xdigit_value (t[4]);
}

static void
tok_flush_bytes (GByteArray *pending, GPtrArray *out)
{
  if (!pending->len) return;
  if (g_utf8_validate_len ((const char *) pending->data, pending->len, NULL))
    g_ptr_array_add (out, g_strndup ((const char *) pending->data, pending->len));
  else
    for (guint k = 0; k < pending->len; k++) g_ptr_array_add (out, g_strdup ("\xEF\xBF\xBD"));
  g_byte_array_set_size (pending, 0);
}

static void
tok_dec_byte_fallback (GPtrArray *tokens)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GByteArray *pending = g_byte_array_new ();
  for (guint i = 0; i < tokens->len; i++) {
    int b = tok_byte_token (tokens->pdata[i]);
    if (b >= 0) {
      guint8 v = b;
      g_byte_array_append (pending, &v, 1);
    } else {
      tok_flush_bytes (pending, out);
      g_ptr_array_add (out, g_strdup (tokens->pdata[i]));
    }
  }
  tok_flush_bytes (pending, out);
  g_byte_array_unref (pending);
  tok_tokens_replace (tokens, out);
}

static char *
tok_dec_strip (const TokDecoder *d, const char *t)
{
  gunichar c = g_utf8_get_char (d->content);
  const char *b = t, *e = t + strlen (t);
  for (guint k = 0; k < d->start && b < e && g_utf8_get_char (b) == c; k++) b = g_utf8_next_char (b);
  for (guint k = 0; k < d->stop && e > b; k++) {
    const char *p = g_utf8_prev_char (e);
    if (g_utf8_get_char (p) != c) break;
    e = p;
  }
  return g_strndup (b, e - b);
}

static char *
tok_dec_replace (const TokDecoder *d, const char *t)
{
  if (d->regex) return g_regex_replace_literal (d->regex, t, -1, 0, d->content, 0, NULL);
  GString *s = g_string_new (t);
  if (d->pattern[0]) tok_string_replace (s, d->pattern, d->content);
  return g_string_free (s, FALSE);
}

static char *
tok_dec_metaspace (const TokDecoder *d, const char *t, gboolean first)
{
  GString *s = g_string_new (NULL);
  gsize rl = strlen (d->content);
  for (const char *p = t; *p;) {
    if (strncmp (p, d->content, rl) == 0) {
      if (!(first && d->prepend)) g_string_append_c (s, ' ');
      p += rl;
    } else {
      const char *n = g_utf8_next_char (p);
      g_string_append_len (s, p, n - p);
      p = n;
    }
  }
  return g_string_free (s, FALSE);
}

void
tok_decoder_apply (const TokDecoder *d, GPtrArray *tokens)
{
  if (!d) return;
  switch (d->kind) {
  case DEC_SEQUENCE:
    for (guint i = 0; i < d->children->len; i++) tok_decoder_apply (d->children->pdata[i], tokens);
    return;
  case DEC_BYTE_LEVEL:
    tok_dec_byte_level (tokens);
    return;
  case DEC_BYTE_FALLBACK:
    tok_dec_byte_fallback (tokens);
    return;
  case DEC_FUSE: {
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < tokens->len; i++) g_string_append (s, tokens->pdata[i]);
    g_ptr_array_set_size (tokens, 0);
    g_ptr_array_add (tokens, g_string_free (s, FALSE));
    return;
  }
  case DEC_REPLACE:
  case DEC_STRIP:
  case DEC_METASPACE:
    for (guint i = 0; i < tokens->len; i++) {
      char *t = tokens->pdata[i];
      char *n = d->kind == DEC_REPLACE ? tok_dec_replace (d, t)
              : d->kind == DEC_STRIP ? tok_dec_strip (d, t)
              : tok_dec_metaspace (d, t, i == 0);
      g_free (t);
      tokens->pdata[i] = n;
    }
    return;
  }
}
