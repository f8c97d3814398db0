/* tok-pretokenizer.c: Hugging Face pre-tokenizers (ByteLevel, Split, Metaspace,
 * Digits, WhitespaceSplit, Whitespace, Sequence): cut normalized text into words. */
#include "text/tok-private.h"

#include "text/tok-util.h"
#include "vlm/vlm-error.h"

#include <string.h>

/* GPT-2's word pattern, used by ByteLevel when use_regex is true. */
#define TOK_GPT2_PATTERN \
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define TOK_WHITESPACE_PATTERN "\\w+|[^\\w\\s]+"

typedef enum { PRE_BYTE_LEVEL, PRE_SPLIT, PRE_METASPACE, PRE_DIGITS, PRE_WHITESPACE_SPLIT,
               PRE_WHITESPACE, PRE_SEQUENCE } PreKind;
typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } PrependScheme;

struct _TokPreTokenizer {
  PreKind kind;
  gboolean add_prefix_space;   /* ByteLevel */
  GRegex *regex;               /* ByteLevel (use_regex), Split (regex), Whitespace */
  char *pattern;               /* Split (string) */
  TokSplitBehavior behavior;   /* Split */
  gboolean invert;             /* Split */
  char *replacement;           /* Metaspace */
  PrependScheme prepend;       /* Metaspace */
  gboolean split;              /* Metaspace */
  gboolean individual;         /* Digits */
  GPtrArray *children;         /* Sequence */
};

void
tok_pretokenizer_free (TokPreTokenizer *p)
{
  if (!p) return;
  g_clear_pointer (&p->regex, g_regex_unref);
  g_free (p->pattern);
  g_free (p->replacement);
  g_clear_pointer (&p->children, g_ptr_array_unref);
  g_free (p);
}

static gboolean
tok_pre_fail (GError **error, const char *where, const char *what, const char *type)
{
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: %s pre-tokenizer: %s", where, type, what);
  return FALSE;
}

static gboolean
tok_pre_parse (TokPreTokenizer *p, const TjNode *node, const char *type, const char *where,
               GError **error)
{
  if (strcmp (type, "ByteLevel") == 0) {
    p->kind = PRE_BYTE_LEVEL;
    p->add_prefix_space = tj_get_bool (node, "add_prefix_space", TRUE);
    if (tj_get_bool (node, "use_regex", TRUE))
      p->regex = tok_regex_new (TOK_GPT2_PATTERN, where, error);
    return !tj_get_bool (node, "use_regex", TRUE) || p->regex;
  }
  if (strcmp (type, "Split") == 0) {
    p->kind = PRE_SPLIT;
    if (!tok_split_behavior_parse (tj_get_string (node, "behavior"), &p->behavior))
      return tok_pre_fail (error, where, "missing or unknown \"behavior\"", type);
    p->invert = tj_get_bool (node, "invert", FALSE);
    return tok_pattern_parse (tj_get (node, "pattern"), where, &p->pattern, &p->regex, error);
  }
  if (strcmp (type, "Metaspace") == 0) {
    p->kind = PRE_METASPACE;
    const char *r = tj_get_string (node, "replacement");
    if (!r || g_utf8_strlen (r, -1) != 1)
      return tok_pre_fail (error, where, "\"replacement\" must be one character", type);
    p->replacement = g_strdup (r);
    const char *scheme = tj_get_string (node, "prepend_scheme");
    if (!scheme)
      p->prepend = tj_get_bool (node, "add_prefix_space", TRUE) ? PREPEND_ALWAYS : PREPEND_NEVER;
    else if (strcmp (scheme, "always") == 0) p->prepend = PREPEND_ALWAYS;
    else if (strcmp (scheme, "first") == 0) p->prepend = PREPEND_FIRST;
    else if (strcmp (scheme, "never") == 0) p->prepend = PREPEND_NEVER;
    else return tok_pre_fail (error, where, "unknown \"prepend_scheme\"", type);
    p->split = tj_get_bool (node, "split", TRUE);
    return TRUE;
  }
  if (strcmp (type, "Digits") == 0) {
    p->kind = PRE_DIGITS;
    p->individual = tj_get_bool (node, "individual_digits", FALSE);
    return TRUE;
  }
  if (strcmp (type, "WhitespaceSplit") == 0) {
    p->kind = PRE_WHITESPACE_SPLIT;
    return TRUE;
  }
  if (strcmp (type, "Whitespace") == 0) {
    p->kind = PRE_WHITESPACE;
    p->regex = tok_regex_new (TOK_WHITESPACE_PATTERN, where, error);
    return p->regex != NULL;
  }
  if (strcmp (type, "Sequence") == 0) {
    p->kind = PRE_SEQUENCE;
    const TjNode *list = tj_get (node, "pretokenizers");
    if (!tj_is (list, TJ_ARRAY))
      return tok_pre_fail (error, where, "missing \"pretokenizers\" list", type);
    p->children = g_ptr_array_new_with_free_func ((GDestroyNotify) tok_pretokenizer_free);
    for (guint i = 0; i < list->n; i++) {
      TokPreTokenizer *child;
      if (!tok_pretokenizer_new (list->u.items[i], where, &child, error)) return FALSE;
      if (child) g_ptr_array_add (p->children, child);
    }
    return TRUE;
  }
  g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED, "%s: unsupported pre-tokenizer type \"%s\"",
               where, type);
  return FALSE;
}

gboolean
tok_pretokenizer_new (const TjNode *node, const char *where, TokPreTokenizer **out,
                      GError **error)
{
  *out = NULL;
  if (!node || node->type == TJ_NULL) return TRUE;
  const char *type = tj_get_string (node, "type");
  if (!type) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: pre-tokenizer without a \"type\"", where);
    return FALSE;
  }
  TokPreTokenizer *p = g_new0 (TokPreTokenizer, 1);
  if (!tok_pre_parse (p, node, type, where, error)) {
    tok_pretokenizer_free (p);
    return FALSE;
  }
  *out = p;
  return TRUE;
}

/* Spans of single characters for which @pred holds. */
static void
tok_spans_chars (const char *s, gsize len, gboolean (*pred) (gunichar), GArray *spans)
{
  gsize prev = 0;
  for (const char *q = s; q < s + len; q = g_utf8_next_char (q)) {
    if (!pred (g_utf8_get_char (q))) continue;
    gsize at = q - s, end = g_utf8_next_char (q) - s;
    TokSpan gap = { prev, at, FALSE }, hit = { at, end, TRUE };
    if (at > prev) g_array_append_val (spans, gap);
    g_array_append_val (spans, hit);
    prev = end;
  }
  if (prev < len) {
    TokSpan gap = { prev, len, FALSE };
    g_array_append_val (spans, gap);
  }
}

/* Rust's char::is_numeric: the Nd, Nl and No categories. */
static gboolean
tok_is_numeric (gunichar c)
{
  GUnicodeType t = g_unichar_type (c);
  return t == G_UNICODE_DECIMAL_NUMBER || t == G_UNICODE_LETTER_NUMBER
         || t == G_UNICODE_OTHER_NUMBER;
}

static gboolean
tok_is_space (gunichar c)
{
  return g_unichar_isspace (c);
}

static void
tok_byte_level_map (GString *piece)
{
  /* Each byte becomes a code point below U+0144: at most 2 UTF-8 bytes. */
  char *m = g_malloc (piece->len * 2 + 1), *w = m;
  for (gsize i = 0; i < piece->len; i++) {
    const char *c = tok_byte_level_char ((guint8) piece->str[i]);
    *w++ = c[0];
    if (c[1]) *w++ = c[1];
  }
  g_string_truncate (piece, 0);
  g_string_append_len (piece, m, w - m);
  g_free (m);
}

static void
tok_pre_one (const TokPreTokenizer *p, GString *piece, gboolean first, GPtrArray *out)
{
  GArray *spans = g_array_new (FALSE, FALSE, sizeof (TokSpan));
  switch (p->kind) {
  case PRE_BYTE_LEVEL: {
    if (p->add_prefix_space && piece->str[0] != ' ')
      g_string_prepend_c (piece, ' ');
    guint start = out->len;
    if (p->regex) {
      tok_spans_regex (p->regex, piece->str, piece->len, spans);
      tok_spans_split (spans, TOK_SPLIT_ISOLATED, FALSE, piece->str, out);
    } else {
      g_ptr_array_add (out, g_string_new_len (piece->str, piece->len));
    }
    for (guint i = start; i < out->len; i++)
      tok_byte_level_map (out->pdata[i]);
    break;
  }
  case PRE_SPLIT:
    if (p->regex)
      tok_spans_regex (p->regex, piece->str, piece->len, spans);
    else
      tok_spans_literal (p->pattern, strlen (p->pattern), piece->str, piece->len, spans);
    tok_spans_split (spans, p->behavior, p->invert, piece->str, out);
    break;
  case PRE_METASPACE: {
    tok_string_replace (piece, " ", p->replacement);
    gboolean starts = g_str_has_prefix (piece->str, p->replacement);
    if (!starts && (p->prepend == PREPEND_ALWAYS || (p->prepend == PREPEND_FIRST && first)))
      g_string_prepend (piece, p->replacement);
    if (p->split) {
      tok_spans_literal (p->replacement, strlen (p->replacement), piece->str, piece->len, spans);
      tok_spans_split (spans, TOK_SPLIT_MERGED_WITH_NEXT, FALSE, piece->str, out);
    } else {
      g_ptr_array_add (out, g_string_new_len (piece->str, piece->len));
    }
    break;
  }
  case PRE_DIGITS:
    tok_spans_chars (piece->str, piece->len, tok_is_numeric, spans);
    tok_spans_split (spans, p->individual ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS, FALSE,
                     piece->str, out);
    break;
  case PRE_WHITESPACE_SPLIT:
    tok_spans_chars (piece->str, piece->len, tok_is_space, spans);
    tok_spans_split (spans, TOK_SPLIT_REMOVED, FALSE, piece->str, out);
    break;
  case PRE_WHITESPACE:
    tok_spans_regex (p->regex, piece->str, piece->len, spans);
    tok_spans_split (spans, TOK_SPLIT_REMOVED, TRUE, piece->str, out);
    break;
  case PRE_SEQUENCE:
    g_assert_not_reached ();
  }
  g_array_unref (spans);
}

void
tok_pretokenizer_apply (const TokPreTokenizer *p, GPtrArray *pieces, gboolean first)
{
  if (!p) return;
  if (p->kind == PRE_SEQUENCE) {
    for (guint i = 0; i < p->children->len; i++)
      tok_pretokenizer_apply (p->children->pdata[i], pieces, first);
    return;
  }
  GPtrArray *out = g_ptr_array_new_full (pieces->len * 2, NULL);
  for (guint i = 0; i < pieces->len; i++) {
    GString *piece = pieces->pdata[i];
    if (piece->len)          /* an empty piece yields no words (and gets no prefix) */
      tok_pre_one (p, piece, first && i == 0, out);
    g_string_free (piece, TRUE);
  }
  g_ptr_array_set_size (pieces, 0);
  for (guint i = 0; i < out->len; i++) g_ptr_array_add (pieces, out->pdata[i]);
  g_ptr_array_unref (out);
}
