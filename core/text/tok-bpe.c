/* tok-bpe.c: the BPE model of Hugging Face tokenizers: merges ranked by their
 * position in "merges", applied lowest rank first with a binary heap per word,
 * with byte fallback, unk fusing, ignore_merges and a word cache. */
#include "text/tok-private.h"

#include "text/tok-util.h"
#include "vlm/vlm-error.h"

#include <string.h>

#define TOK_BPE_CACHE_MAX_WORD 256
#define TOK_BPE_CACHE_MAX_ENTRIES 20000

typedef struct {
  TokModel parent;
  TokStrMap vocab;         /* token -> id (strings in @strings) */
  GStringChunk *strings;
  char **id_to_token;      /* n_ids entries, NULL where no token */
  guint n_ids;
  TokU64Map merges;        /* (left << 32 | right) -> (rank << 32 | merged id) */
  gint32 unk_id;           /* -1 if none */
  gboolean byte_fallback, fuse_unk, ignore_merges;
  char *prefix, *suffix;   /* continuing_subword_prefix, end_of_word_suffix (NULL if none) */
  gint32 byte_ids[256];    /* <0xXX> tokens, -1 if absent */
  GMutex cache_lock;
  GHashTable *cache;       /* word -> GArray of gint32 */
} TokBpe;

typedef struct {
  gint32 id;
  gint32 prev, next;       /* indices into the symbol array, -1 at the ends */
  gboolean removed;
} TokSymbol;

typedef struct {
  guint64 key;             /* rank << 32 | position: smallest first */
  gint32 new_id;
  gint32 left, right;      /* the pair when pushed: unchanged means still valid */
} TokMergeEntry;

static gint32
tok_bpe_lookup (TokBpe *b, const char *token)
{
  return tok_str_map_get (&b->vocab, token);
}

static void
heap_push (GArray *heap, TokMergeEntry e)
{
  g_array_append_val (heap, e);
  TokMergeEntry *h = (TokMergeEntry *) heap->data;
  guint i = heap->len - 1;
  while (i > 0) {
    guint parent = (i - 1) / 2;
    if (h[parent].key <= h[i].key) break;
    TokMergeEntry t = h[parent]; h[parent] = h[i]; h[i] = t;
    i = parent;
  }
}

static TokMergeEntry
heap_pop (GArray *heap)
{
  TokMergeEntry *h = (TokMergeEntry *) heap->data;
  TokMergeEntry top = h[0];
  h[0] = h[heap->len - 1];
  g_array_set_size (heap, heap->len - 1);
  h = (TokMergeEntry *) heap->data;
  guint n = heap->len, i = 0;
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && h[l].key < h[m].key) m = l;
    if (r < n && h[r].key < h[m].key) m = r;
    if (m == i) break;
    TokMergeEntry t = h[m]; h[m] = h[i]; h[i] = t;
    i = m;
  }
  return top;
}

static gboolean
tok_bpe_pair (TokBpe *b, gint32 left, gint32 right, guint32 *rank, gint32 *new_id)
{
  guint64 v;
  if (!tok_u64_map_get (&b->merges, ((guint64) (guint32) left << 32) | (guint32) right, &v))
    return FALSE;
  *rank = v >> 32;
  *new_id = (gint32) (v & 0xffffffffu);
  return TRUE;
}

static void
tok_bpe_push_pair (TokBpe *b, GArray *heap, TokSymbol *sym, gint32 pos)
{
  guint32 rank;
  gint32 new_id;
  if (sym[pos].next >= 0 && tok_bpe_pair (b, sym[pos].id, sym[sym[pos].next].id, &rank, &new_id)) {
    TokMergeEntry e = { ((guint64) rank << 32) | (guint32) pos, new_id, sym[pos].id, sym[sym[pos].next].id };
    heap_push (heap, e);
  }
}

static void
tok_bpe_merge_word (TokBpe *b, const char *w, gsize len, GArray *out)
{
  GArray *syms = g_array_new (FALSE, FALSE, sizeof (TokSymbol));
  gint32 pending_unk = -1;   /* a pending (possibly fused) unknown token */
  GString *s = g_string_new (NULL);

#define ADD_SYMBOL(ID) G_STMT_START {                                              \
    TokSymbol sy = { (ID), (gint32) syms->len - 1, (gint32) syms->len + 1, FALSE }; \
    g_array_append_val (syms, sy);                                                  \
  } G_STMT_END

  for (const char *q = w; q < w + len;) {
    const char *nq = g_utf8_next_char (q);
    if (nq > w + len) nq = w + len;
    g_string_truncate (s, 0);
    if (q != w && b->prefix) g_string_append (s, b->prefix);
    g_string_append_len (s, q, nq - q);
    if (nq == w + len && b->suffix) g_string_append (s, b->suffix);
    gint32 id = tok_bpe_lookup (b, s->str);
    if (id >= 0) {
      if (pending_unk >= 0) { ADD_SYMBOL (pending_unk); pending_unk = -1; }
      ADD_SYMBOL (id);
    } else {
      gboolean done = FALSE;
      if (b->byte_fallback) {
        gboolean all = TRUE;
        for (gsize i = 0; i < s->len && all; i++) all = b->byte_ids[(guint8) s->str[i]] >= 0;
        if (all) {
          for (gsize i = 0; i < s->len; i++) ADD_SYMBOL (b->byte_ids[(guint8) s->str[i]]);
          done = TRUE;
        }
      }
      if (!done && b->unk_id >= 0) {
        if (pending_unk >= 0 && !b->fuse_unk) ADD_SYMBOL (pending_unk);
        pending_unk = b->unk_id;
      }
    }
    q = nq;
  }
  if (pending_unk >= 0) ADD_SYMBOL (pending_unk);
#undef ADD_SYMBOL
  g_string_free (s, TRUE);

  TokSymbol *sym = (TokSymbol *) syms->data;
  gint32 n = syms->len;
  if (n > 0) sym[n - 1].next = -1;
  GArray *heap = g_array_sized_new (FALSE, FALSE, sizeof (TokMergeEntry), n);
  for (gint32 i = 0; i + 1 < n; i++) tok_bpe_push_pair (b, heap, sym, i);
  while (heap->len > 0) {
    TokMergeEntry top = heap_pop (heap);
    gint32 pos = top.key & 0xffffffffu;
    if (sym[pos].removed || sym[pos].next < 0) continue;
    gint32 right = sym[pos].next;
    guint32 rank;
    gint32 new_id;
    /* Skip entries made stale by an earlier merge. Like Hugging Face, an entry
     * stays valid when the pair now there merges into the same token. */
    if ((sym[pos].id != top.left || sym[right].id != top.right)
        && (!tok_bpe_pair (b, sym[pos].id, sym[right].id, &rank, &new_id) || new_id != top.new_id))
      continue;
    sym[pos].id = top.new_id;
    sym[pos].next = sym[right].next;
    sym[right].removed = TRUE;
    if (sym[right].next >= 0) sym[sym[right].next].prev = pos;
    if (sym[pos].prev >= 0) tok_bpe_push_pair (b, heap, sym, sym[pos].prev);
    tok_bpe_push_pair (b, heap, sym, pos);
  }
  g_array_unref (heap);
  for (gint32 i = 0; i < n; i++)
    if (!sym[i].removed) g_array_append_val (out, sym[i].id);
  g_array_unref (syms);
}

static void
tok_bpe_tokenize (TokModel *m, const char *word, gsize len, GArray *ids)
{
  TokBpe *b = (TokBpe *) m;
  if (len == 0) return;
  const char *key = word;   /* NUL-terminated at @len (see TokModelClass) */
  if (b->ignore_merges) {
    gint32 id = tok_bpe_lookup (b, key);
    if (id >= 0) {
      g_array_append_val (ids, id);
      return;
    }
  }
  gboolean cacheable = len <= TOK_BPE_CACHE_MAX_WORD;
  if (cacheable) {
    g_mutex_lock (&b->cache_lock);
    GArray *hit = g_hash_table_lookup (b->cache, key);
    if (hit) g_array_append_vals (ids, hit->data, hit->len);
    g_mutex_unlock (&b->cache_lock);
    if (hit) {
      return;
    }
  }
  guint start = ids->len;
  tok_bpe_merge_word (b, word, len, ids);
  if (cacheable) {
    g_mutex_lock (&b->cache_lock);
    if (g_hash_table_size (b->cache) < TOK_BPE_CACHE_MAX_ENTRIES && !g_hash_table_contains (b->cache, key)) {
      GArray *cached = g_array_sized_new (FALSE, FALSE, sizeof (gint32), ids->len - start);
      g_array_append_vals (cached, &g_array_index (ids, gint32, start), ids->len - start);
      g_hash_table_insert (b->cache, g_strdup (key), cached);
    }
    g_mutex_unlock (&b->cache_lock);
  }
}

static const char *
tok_bpe_id_to_token (TokModel *m, gint32 id)
{
  TokBpe *b = (TokBpe *) m;
  return id >= 0 && (guint) id < b->n_ids ? b->id_to_token[id] : NULL;
}

static gint32
tok_bpe_token_to_id (TokModel *m, const char *token)
{
  return tok_bpe_lookup ((TokBpe *) m, token);
}

static guint
tok_bpe_vocab_size (TokModel *m)
{
  return ((TokBpe *) m)->vocab.count;
}

static void
tok_bpe_free (TokModel *m)
{
  TokBpe *b = (TokBpe *) m;
  tok_str_map_clear (&b->vocab);
  g_clear_pointer (&b->cache, g_hash_table_unref);
  g_mutex_clear (&b->cache_lock);
  if (b->strings) g_string_chunk_free (b->strings);
  g_free (b->id_to_token);
  tok_u64_map_clear (&b->merges);
  g_free (b->prefix);
  g_free (b->suffix);
  g_free (b);
}

static const TokModelClass tok_bpe_class = {
  "BPE", tok_bpe_tokenize, tok_bpe_id_to_token, tok_bpe_token_to_id, tok_bpe_vocab_size,
  tok_bpe_free,
};

static gboolean
tok_bpe_fail (GError **error, const char *where, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
tok_bpe_fail (GError **error, const char *where, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: BPE model: %s", where, msg);
  g_free (msg);
  return FALSE;
}

static gboolean
tok_bpe_load_vocab (TokBpe *b, const TjNode *vocab, const char *where, GError **error)
{
  if (!tj_is (vocab, TJ_OBJECT))
    return tok_bpe_fail (error, where, "\"vocab\" must be an object of token: id");
  tok_str_map_init (&b->vocab, vocab->n);
  gint64 max_id = -1;
  for (guint i = 0; i < vocab->n; i++) {
    const TjNode *k = vocab->u.items[2 * i], *v = vocab->u.items[2 * i + 1];
    if (!tj_is (v, TJ_NUMBER) || v->u.num < 0 || v->u.num >= G_MAXINT32 || v->u.num != (gint32) v->u.num)
      return tok_bpe_fail (error, where, "vocab entry \"%s\" has no valid id", k->u.s);
    max_id = MAX (max_id, (gint64) v->u.num);
  }
  b->n_ids = max_id + 1;
  b->id_to_token = g_new0 (char *, MAX (b->n_ids, 1));
  for (guint i = 0; i < vocab->n; i++) {
    const TjNode *k = vocab->u.items[2 * i];
    gint32 id = vocab->u.items[2 * i + 1]->u.num;
    char *key = g_string_chunk_insert_len (b->strings, k->u.s, k->n);
    tok_str_map_set (&b->vocab, key, id);
    b->id_to_token[id] = key;
  }
  return TRUE;
}

static gboolean
tok_bpe_load_merges (TokBpe *b, TjNode *merges, const char *where, GError **error)
{
  if (merges && merges->type == TJ_NULL) merges = NULL;
  if (merges && !tj_is (merges, TJ_ARRAY))
    return tok_bpe_fail (error, where, "\"merges\" must be a list");
  guint n = merges ? merges->n : 0;
  tok_u64_map_init (&b->merges, n);
  gsize plen = b->prefix ? strlen (b->prefix) : 0;
  GString *joined = g_string_new (NULL);
  gboolean ok = TRUE;
  for (guint i = 0; i < n && ok; i++) {
    const TjNode *m = merges->u.items[i];
    const char *left = NULL, *right = NULL;
    char *space = NULL;
    if (tj_is (m, TJ_STRING)) {
      /* "a b": split in place (the document buffer is ours and freed after loading). */
      space = strchr (m->u.s, ' ');
      if (space) {
        *space = '\0';
        left = m->u.s;
        right = space + 1;
      }
    } else if (tj_is (m, TJ_ARRAY) && m->n == 2 && tj_is (m->u.items[0], TJ_STRING)
               && tj_is (m->u.items[1], TJ_STRING)) {
      left = m->u.items[0]->u.s;
      right = m->u.items[1]->u.s;
    }
    if (!left) {
      ok = tok_bpe_fail (error, where, "merge %u is not a pair of tokens (\"a b\" or [\"a\", \"b\"])", i);
      break;
    }
    gint32 l = tok_bpe_lookup (b, left), r = tok_bpe_lookup (b, right);
    g_string_assign (joined, left);
    g_string_append (joined, plen && g_str_has_prefix (right, b->prefix) ? right + plen : right);
    gint32 j = tok_bpe_lookup (b, joined->str);
    if (l < 0 || r < 0)
      ok = tok_bpe_fail (error, where, "merge %u (\"%s\" \"%s\") uses a token missing from the vocab",
                         i, left, right);
    else if (j < 0)
      ok = tok_bpe_fail (error, where, "merge %u gives \"%s\", which is missing from the vocab", i,
                         joined->str);
    else {
      /* A duplicated merge keeps its first (best) rank. */
      tok_u64_map_add (&b->merges, ((guint64) (guint32) l << 32) | (guint32) r,
                       ((guint64) i << 32) | (guint32) j);
    }
    if (space) *space = ' ';
  }
  g_string_free (joined, TRUE);
  return ok;
}

TokModel *
tok_bpe_new (TjNode *node, const char *where, GError **error)
{
  TokBpe *b = g_new0 (TokBpe, 1);
  b->parent.klass = &tok_bpe_class;
  b->strings = g_string_chunk_new (1 << 20);
  g_mutex_init (&b->cache_lock);
  b->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
  b->byte_fallback = tj_get_bool (node, "byte_fallback", FALSE);
  b->fuse_unk = tj_get_bool (node, "fuse_unk", FALSE);
  b->ignore_merges = tj_get_bool (node, "ignore_merges", FALSE);
  const char *prefix = tj_get_string (node, "continuing_subword_prefix");
  const char *suffix = tj_get_string (node, "end_of_word_suffix");
  b->prefix = prefix && *prefix ? g_strdup (prefix) : NULL;
  b->suffix = suffix && *suffix ? g_strdup (suffix) : NULL;
  if (!tok_bpe_load_vocab (b, tj_get (node, "vocab"), where, error)
      || !tok_bpe_load_merges (b, tj_get (node, "merges"), where, error))
    goto fail;
  b->unk_id = -1;
  const char *unk = tj_get_string (node, "unk_token");
  if (unk) {
    b->unk_id = tok_bpe_lookup (b, unk);
    if (b->unk_id < 0) {
      tok_bpe_fail (error, where, "unk_token \"%s\" is not in the vocab", unk);
      goto fail;
    }
  }
  for (int i = 0; i < 256; i++) {
    char name[8];
    g_snprintf (name, sizeof name, "<0x%02X>", i);
    b->byte_ids[i] = tok_bpe_lookup (b, name);
  }
  return &b->parent;
fail:
  tok_bpe_free (&b->parent);
  return NULL;
}
