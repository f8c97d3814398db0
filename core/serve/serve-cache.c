/* serve-cache.c: one least-recently-used store, bounded in bytes, for the two things
 * worth keeping between requests: the vision features of an image (keyed by a digest
 * of its pixels and the preprocessing settings) and the KV cache of a finished
 * sequence (keyed by the identity of each position: token ids, and for image
 * positions the image digest), so a conversation's next turn prefills only what is new.
 * The worker thread and the engine both use it, under one lock. */
#include "serve/serve.h"

#include <string.h>

typedef struct {
  char *image_key;       /* image entry */
  VlmTensor *features;
  guint64 *keys;         /* prefix entry: keys of the kv->len positions */
  VlmKvCache *kv;
  gsize bytes;
} Entry;

struct _ServeCache {
  GMutex lock;
  GQueue lru;            /* Entry*, most recent first */
  gsize budget, bytes;
  guint64 image_hits, image_misses, prefix_hits;
};

static void
entry_free (Entry *e)
{
  g_free (e->image_key);
  if (e->features)
    vlm_tensor_unref (e->features);
  g_free (e->keys);
  vlm_kv_cache_free (e->kv);
  g_free (e);
}

ServeCache *
serve_cache_new (gsize budget_bytes)
{
  ServeCache *c = g_new0 (ServeCache, 1);
  g_mutex_init (&c->lock);
  g_queue_init (&c->lru);
  c->budget = budget_bytes;
  return c;
}

void
serve_cache_free (ServeCache *cache)
{
  if (!cache)
    return;
  g_queue_clear_full (&cache->lru, (GDestroyNotify) entry_free);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/* Adds @e as the most recent entry, evicting the least recent ones over budget. */
static void
insert_locked (ServeCache *c, Entry *e)
{
  if (e->bytes > c->budget) {
    entry_free (e);
    return;
  }
  while (c->bytes + e->bytes > c->budget) {
    Entry *old = g_queue_pop_tail (&c->lru);
    c->bytes -= old->bytes;
    entry_free (old);
  }
  g_queue_push_head (&c->lru, e);
  c->bytes += e->bytes;
}

VlmTensor *
serve_cache_lookup_image (ServeCache *cache, const char *key)
{
  VlmTensor *found = NULL;
  g_mutex_lock (&cache->lock);
  for (GList *l = cache->lru.head; l; l = l->next) {
    Entry *e = l->data;
    if (e->image_key && g_str_equal (e->image_key, key)) {
      g_queue_unlink (&cache->lru, l);
      g_queue_push_head_link (&cache->lru, l);
      found = vlm_tensor_ref (e->features);
      break;
    }
  }
  if (found)
    cache->image_hits++;
  else
    cache->image_misses++;
  g_mutex_unlock (&cache->lock);
  return found;
}

void
serve_cache_insert_image (ServeCache *cache, const char *key, VlmTensor *features)
{
  Entry *e = g_new0 (Entry, 1);
  e->image_key = g_strdup (key);
  e->features = vlm_tensor_ref (features);
  e->bytes = vlm_tensor_get_nbytes (features) + strlen (key) + sizeof *e;
  g_mutex_lock (&cache->lock);
  insert_locked (cache, e);
  g_mutex_unlock (&cache->lock);
}

static gsize
kv_bytes (const VlmKvCache *kv)
{
  return 2 * (gsize) kv->n_layers * (gsize) kv->capacity * (gsize) kv->kv_dim * sizeof (float)
         + (gsize) kv->capacity * (1 + sizeof (guint64));
}

/* Copies the first @n positions of every layer of @from into @to (same layout). */
static void
copy_positions (const VlmKvCache *from, VlmKvCache *to, gint64 n)
{
  gsize row = (gsize) from->kv_dim * sizeof (float);
  for (gint64 l = 0; l < from->n_layers; l++) {
    memcpy (vlm_kv_cache_keys (to, l), vlm_kv_cache_keys ((VlmKvCache *) from, l), row * n);
    memcpy (vlm_kv_cache_values (to, l), vlm_kv_cache_values ((VlmKvCache *) from, l), row * n);
  }
  memcpy (to->key_valid, from->key_valid, (gsize) n);
  to->len = n;
}

/* Whether a stored sequence already holds these @n positions (then it is refreshed). */
static gboolean
covered (ServeCache *c, const guint64 *keys, gint64 n)
{
  gboolean found = FALSE;
  g_mutex_lock (&c->lock);
  for (GList *l = c->lru.head; l && !found; l = l->next) {
    Entry *e = l->data;
    if (e->kv && e->kv->len >= n && memcmp (e->keys, keys, (gsize) n * sizeof (guint64)) == 0) {
      found = TRUE;
      g_queue_unlink (&c->lru, l);
      g_queue_push_head_link (&c->lru, l);
    }
  }
  g_mutex_unlock (&c->lock);
  return found;
}

/* Keeps a compact copy of @kv's filled positions, whose identities are @keys. */
void
serve_cache_insert_prefix (ServeCache *cache, const guint64 *keys, VlmKvCache *kv)
{
  if (kv->len <= 0)
    return;
  Entry e0 = { 0 };
  VlmKvCache probe = { .n_layers = kv->n_layers, .capacity = kv->len, .kv_dim = kv->kv_dim };
  if (kv_bytes (&probe) > cache->budget || covered (cache, keys, kv->len))
    return;
  VlmKvCache *copy = vlm_kv_cache_new (kv->n_layers, kv->len, kv->kv_dim, NULL);
  if (!copy)
    return;
  copy_positions (kv, copy, kv->len);
  Entry *e = g_memdup2 (&e0, sizeof e0);
  e->kv = copy;
  e->keys = g_memdup2 (keys, (gsize) kv->len * sizeof (guint64));
  e->bytes = kv_bytes (copy) + sizeof *e;
  g_mutex_lock (&cache->lock);
  /* Entries that are prefixes of this one are now redundant. */
  for (GList *l = cache->lru.head, *next; l; l = next) {
    Entry *o = l->data;
    next = l->next;
    if (o->kv && o->kv->len <= kv->len
        && memcmp (o->keys, keys, (gsize) o->kv->len * sizeof (guint64)) == 0) {
      cache->bytes -= o->bytes;
      g_queue_delete_link (&cache->lru, l);
      entry_free (o);
    }
  }
  insert_locked (cache, e);
  g_mutex_unlock (&cache->lock);
}

/* Finds the stored sequence sharing the longest prefix with @keys[0, n) and copies that
 * prefix into the empty cache @into. At least one position is left to compute, so the
 * caller's prefill yields next-token logits. Returns the positions copied. */
gint64
serve_cache_take_prefix (ServeCache *cache, const guint64 *keys, gint64 n, VlmKvCache *into)
{
  gint64 best = 0;
  Entry *best_e = NULL;
  GList *best_l = NULL;
  g_mutex_lock (&cache->lock);
  for (GList *l = cache->lru.head; l; l = l->next) {
    Entry *e = l->data;
    if (!e->kv || e->kv->kv_dim != into->kv_dim || e->kv->n_layers != into->n_layers)
      continue;
    gint64 m = MIN (MIN (e->kv->len, n - 1), into->capacity), k = 0;
    while (k < m && e->keys[k] == keys[k])
      k++;
    if (k > best) {
      best = k;
      best_e = e;
      best_l = l;
    }
  }
  if (best_e) {
    copy_positions (best_e->kv, into, best);
    g_queue_unlink (&cache->lru, best_l);
    g_queue_push_head_link (&cache->lru, best_l);
    cache->prefix_hits++;
  }
  g_mutex_unlock (&cache->lock);
  return best;
}

void
serve_cache_stats (ServeCache *cache, gsize *bytes, guint64 *image_hits, guint64 *image_misses,
                   guint64 *prefix_hits)
{
  g_mutex_lock (&cache->lock);
  *bytes = cache->bytes;
  *image_hits = cache->image_hits;
  *image_misses = cache->image_misses;
  *prefix_hits = cache->prefix_hits;
  g_mutex_unlock (&cache->lock);
}
