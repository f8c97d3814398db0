/* tok-added.c: added and special tokens, found in the text before the model
 * runs. A byte trie gives the leftmost-longest match at each position (what the
 * Aho-Corasick matcher of Hugging Face tokenizers finds), so the scan is linear
 * in the input times the longest token. */
#include "text/tok-private.h"

#include "text/tok-util.h"

#include <string.h>

typedef struct {
  TokU64Map edges;         /* (node << 8 | byte) -> child node */
  GArray *terminal;        /* per node: token index, or -1 */
} TokTrie;

struct _TokAddedVocab {
  GArray *tokens;          /* TokAddedToken */
  GHashTable *by_content;  /* content -> index + 1 */
  GHashTable *by_id;       /* id -> index + 1 */
  GPtrArray *match_forms;  /* per token: the string matched (normalized form if any) */
  TokTrie raw, norm;
};

static void
tok_trie_init (TokTrie *t)
{
  tok_u64_map_init (&t->edges, 64);
  t->terminal = g_array_new (FALSE, FALSE, sizeof (gint32));
  gint32 none = -1;
  g_array_append_val (t->terminal, none);
}

static void
tok_trie_clear (TokTrie *t)
{
  tok_u64_map_clear (&t->edges);
  g_clear_pointer (&t->terminal, g_array_unref);
}

static void
tok_trie_insert (TokTrie *t, const char *s, gint32 index)
{
  guint64 node = 0;
  for (const guchar *p = (const guchar *) s; *p; p++) {
    guint64 child;
    if (!tok_u64_map_get (&t->edges, node << 8 | *p, &child)) {
      child = t->terminal->len;
      gint32 none = -1;
      g_array_append_val (t->terminal, none);
      tok_u64_map_set (&t->edges, node << 8 | *p, child);
    }
    node = child;
  }
  if (node != 0) g_array_index (t->terminal, gint32, node) = index;
}

TokAddedVocab *
tok_added_vocab_new (void)
{
  TokAddedVocab *v = g_new0 (TokAddedVocab, 1);
  v->tokens = g_array_new (FALSE, FALSE, sizeof (TokAddedToken));
  v->by_content = g_hash_table_new (g_str_hash, g_str_equal);
  v->by_id = g_hash_table_new (NULL, NULL);
  v->match_forms = g_ptr_array_new_with_free_func (g_free);
  tok_trie_init (&v->raw);
  tok_trie_init (&v->norm);
  return v;
}

void
tok_added_vocab_free (TokAddedVocab *v)
{
  if (!v) return;
  for (guint i = 0; i < v->tokens->len; i++)
    g_free (g_array_index (v->tokens, TokAddedToken, i).content);
  g_array_unref (v->tokens);
  g_hash_table_unref (v->by_content);
  g_hash_table_unref (v->by_id);
  g_ptr_array_unref (v->match_forms);
  tok_trie_clear (&v->raw);
  tok_trie_clear (&v->norm);
  g_free (v);
}

void
tok_added_vocab_add (TokAddedVocab *v, const TokAddedToken *t)
{
  gpointer old = g_hash_table_lookup (v->by_content, t->content);
  TokAddedToken copy = *t;
  copy.content = g_strdup (t->content);
  guint index;
  if (old) {
    index = GPOINTER_TO_UINT (old) - 1;
    TokAddedToken *prev = &g_array_index (v->tokens, TokAddedToken, index);
    g_hash_table_remove (v->by_id, GINT_TO_POINTER (prev->id));
    g_free (prev->content);
    *prev = copy;
  } else {
    index = v->tokens->len;
    g_array_append_val (v->tokens, copy);
  }
  TokAddedToken *stored = &g_array_index (v->tokens, TokAddedToken, index);
  g_hash_table_replace (v->by_content, stored->content, GUINT_TO_POINTER (index + 1));
  g_hash_table_insert (v->by_id, GINT_TO_POINTER (stored->id), GUINT_TO_POINTER (index + 1));
}

void
tok_added_vocab_build (TokAddedVocab *v, const TokNormalizer *normalizer)
{
  g_hash_table_remove_all (v->by_content);
  g_ptr_array_set_size (v->match_forms, 0);
  tok_trie_clear (&v->raw);
  tok_trie_clear (&v->norm);
  tok_trie_init (&v->raw);
  tok_trie_init (&v->norm);
  for (guint i = 0; i < v->tokens->len; i++) {
    TokAddedToken *t = &g_array_index (v->tokens, TokAddedToken, i);
    g_hash_table_insert (v->by_content, t->content, GUINT_TO_POINTER (i + 1));
    GString *form = g_string_new (t->content);
    if (t->normalized) tok_normalizer_apply (normalizer, form);
    tok_trie_insert (t->normalized ? &v->norm : &v->raw, form->str, i);
    g_ptr_array_add (v->match_forms, g_string_free (form, FALSE));
  }
}

const TokAddedToken *
tok_added_vocab_by_id (const TokAddedVocab *v, gint32 id)
{
  gpointer p = g_hash_table_lookup (v->by_id, GINT_TO_POINTER (id));
  return p ? &g_array_index (v->tokens, TokAddedToken, GPOINTER_TO_UINT (p) - 1) : NULL;
}

const TokAddedToken *
tok_added_vocab_by_content (const TokAddedVocab *v, const char *content)
{
  gpointer p = g_hash_table_lookup (v->by_content, content);
  return p ? &g_array_index (v->tokens, TokAddedToken, GPOINTER_TO_UINT (p) - 1) : NULL;
}

guint
tok_added_vocab_size (const TokAddedVocab *v)
{
  return v->tokens->len;
}

gint32
tok_added_vocab_max_id (const TokAddedVocab *v)
{
  gint32 m = -1;
  for (guint i = 0; i < v->tokens->len; i++)
    m = MAX (m, g_array_index (v->tokens, TokAddedToken, i).id);
  return m;
}

/* Word characters for single_word: what regex \w matches. */
static gboolean
tok_is_word_char (gunichar c)
{
  return g_unichar_isalnum (c) || c == '_' || g_unichar_ismark (c);
}

static void
tok_segment_push (GArray *out, gsize start, gsize end, gint32 id)
{
  TokSegment seg = { start, end, id };
  g_array_append_val (out, seg);
}

void
tok_added_vocab_split (const TokAddedVocab *v, gboolean normalized, const char *s, gsize len,
                       GArray *out)
{
  const TokTrie *t = normalized ? &v->norm : &v->raw;
  gsize offset = 0, i = 0;
  if (t->terminal->len <= 1) {
    tok_segment_push (out, 0, len, -1);
    return;
  }
  while (i < len) {
    guint64 node = 0;
    gint32 best = -1;
    gsize best_end = 0;
    for (gsize j = i; j < len; j++) {
      if (!tok_u64_map_get (&t->edges, node << 8 | (guchar) s[j], &node)) break;
      gint32 term = g_array_index (t->terminal, gint32, node);
      if (term >= 0) { best = term; best_end = j + 1; }
    }
    if (best < 0) { i++; continue; }
    const TokAddedToken *tok = &g_array_index (v->tokens, TokAddedToken, best);
    gsize start = i, stop = best_end;
    i = best_end;
    if (tok->single_word) {
      gboolean word_before = start > 0
        && tok_is_word_char (g_utf8_get_char (g_utf8_find_prev_char (s, s + start)));
      gboolean word_after = stop < len && tok_is_word_char (g_utf8_get_char (s + stop));
      if (word_before || word_after) continue;
    }
    if (tok->lstrip) {
      while (start > offset) {
        const char *p = g_utf8_find_prev_char (s, s + start);
        if (!p || !g_unichar_isspace (g_utf8_get_char (p))) break;
        start = p - s;
      }
    }
    if (tok->rstrip)
      while (stop < len && g_unichar_isspace (g_utf8_get_char (s + stop)))
        stop = g_utf8_next_char (s + stop) - s;
    if (start > offset) tok_segment_push (out, offset, start, -1);
    tok_segment_push (out, start, stop, tok->id);
    offset = i = stop;
  }
  if (offset < len || len == 0) tok_segment_push (out, offset, len, -1);
}
