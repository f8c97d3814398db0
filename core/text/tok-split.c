/* tok-split.c: match spans and the split behaviours of Hugging Face's
 * SplitDelimiterBehavior, shared by normalizers and pre-tokenizers. */
#include "text/tok-private.h"

#include "text/tok-util.h"
#include "vlm/vlm-error.h"

#include <string.h>

GRegex *
tok_regex_new (const char *pattern, const char *where, GError **error)
{
  GError *local = NULL;
  GRegex *re = g_regex_new (pattern, G_REGEX_OPTIMIZE, 0, &local);
  if (!re) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: invalid regex /%s/: %s", where,
                 pattern, local->message);
    g_error_free (local);
  }
  return re;
}

gboolean
tok_pattern_parse (const TjNode *node, const char *where, char **string, GRegex **regex,
                   GError **error)
{
  const char *s = tj_get_string (node, "String");
  const char *r = tj_get_string (node, "Regex");
  *string = NULL;
  *regex = NULL;
  if (s) {
    *string = g_strdup (s);
    return TRUE;
  }
  if (r) {
    *regex = tok_regex_new (r, where, error);
    return *regex != NULL;
  }
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
               "%s: \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}", where);
  return FALSE;
}

static void
tok_span_push (GArray *spans, gsize start, gsize end, gboolean is_match)
{
  TokSpan sp = { start, end, is_match };
  g_array_append_val (spans, sp);
}

void
tok_spans_regex (const GRegex *re, const char *s, gsize len, GArray *spans)
{
  GMatchInfo *mi = NULL;
  gsize prev = 0;
  g_regex_match_full (re, s, len, 0, 0, &mi, NULL);
  while (g_match_info_matches (mi)) {
    int ms, me;
    g_match_info_fetch_pos (mi, 0, &ms, &me);
    if ((gsize) ms > prev) tok_span_push (spans, prev, ms, FALSE);
    tok_span_push (spans, ms, me, TRUE);
    prev = me;
    if (!g_match_info_next (mi, NULL)) break;
  }
  g_match_info_free (mi);
  if (prev < len) tok_span_push (spans, prev, len, FALSE);
}

void
tok_spans_literal (const char *pat, gsize pat_len, const char *s, gsize len, GArray *spans)
{
  gsize prev = 0, i = 0;
  if (pat_len == 0) {
    tok_span_push (spans, 0, len, FALSE);
    return;
  }
  while (i + pat_len <= len) {
    const char *hit = tok_find (s + i, s + len, pat, pat_len);
    if (!hit) break;
    gsize at = hit - s;
    if (at > prev) tok_span_push (spans, prev, at, FALSE);
    tok_span_push (spans, at, at + pat_len, TRUE);
    prev = i = at + pat_len;
  }
  if (prev < len) tok_span_push (spans, prev, len, FALSE);
}

gboolean
tok_split_behavior_parse (const char *name, TokSplitBehavior *out)
{
  static const char *names[] = { "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                 "Contiguous" };
  for (guint i = 0; name && i < G_N_ELEMENTS (names); i++)
    if (strcmp (name, names[i]) == 0) {
      *out = i;
      return TRUE;
    }
  return FALSE;
}

void
tok_spans_split (GArray *spans, TokSplitBehavior behavior, gboolean invert, const char *s,
                 GPtrArray *out)
{
  TokSpan *sp = (TokSpan *) spans->data;
  guint n = spans->len;
  GArray *res = g_array_new (FALSE, FALSE, sizeof (TokSpan));
  if (invert)
    for (guint i = 0; i < n; i++) sp[i].is_match = !sp[i].is_match;

  switch (behavior) {
  case TOK_SPLIT_REMOVED:
    for (guint i = 0; i < n; i++)
      if (!sp[i].is_match) g_array_append_val (res, sp[i]);
    break;
  case TOK_SPLIT_ISOLATED:
    g_array_append_vals (res, sp, n);
    break;
  case TOK_SPLIT_MERGED_WITH_PREVIOUS: {
    gboolean prev_match = FALSE;
    for (guint i = 0; i < n; i++) {
      if (sp[i].is_match && !prev_match && res->len > 0)
        g_array_index (res, TokSpan, res->len - 1).end = sp[i].end;
      else
        g_array_append_val (res, sp[i]);
      prev_match = sp[i].is_match;
    }
    break;
  }
  case TOK_SPLIT_MERGED_WITH_NEXT: {
    gboolean next_match = FALSE;
    for (guint k = n; k-- > 0;) {
      if (sp[k].is_match && !next_match && res->len > 0)
        g_array_index (res, TokSpan, res->len - 1).start = sp[k].start;
      else
        g_array_append_val (res, sp[k]);
      next_match = sp[k].is_match;
    }
    for (guint a = 0, b = res->len ? res->len - 1 : 0; a < b; a++, b--) {
      TokSpan t = g_array_index (res, TokSpan, a);
      g_array_index (res, TokSpan, a) = g_array_index (res, TokSpan, b);
      g_array_index (res, TokSpan, b) = t;
    }
    break;
  }
  case TOK_SPLIT_CONTIGUOUS: {
    gboolean prev_match = FALSE;
    for (guint i = 0; i < n; i++) {
      if (sp[i].is_match == prev_match && res->len > 0)
        g_array_index (res, TokSpan, res->len - 1).end = sp[i].end;
      else
        g_array_append_val (res, sp[i]);
      prev_match = sp[i].is_match;
    }
    break;
  }
  }
  for (guint i = 0; i < res->len; i++) {
    TokSpan *r = &g_array_index (res, TokSpan, i);
    if (r->end > r->start)
      g_ptr_array_add (out, g_string_new_len (s + r->start, r->end - r->start));
  }
  g_array_unref (res);
}
