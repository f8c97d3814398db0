/* tok-util.c: hash map, byte-level alphabet and lossy UTF-8 helpers. */
#include "text/tok-util.h"

#include <string.h>

static inline gsize
tok_hash64 (guint64 k)
{
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return (gsize) k;
}

void
tok_u64_map_init (TokU64Map *m, gsize expected)
{
  gsize cap = 16;
  while (cap < expected * 2) cap <<= 1;
  m->keys = g_new0 (guint64, cap);
  m->values = g_new (guint64, cap);
  m->mask = cap - 1;
  m->count = 0;
}

void
tok_u64_map_clear (TokU64Map *m)
{
  g_clear_pointer (&m->keys, g_free);
  g_clear_pointer (&m->values, g_free);
  m->mask = m->count = 0;
}

static void
tok_u64_map_grow (TokU64Map *m)
{
  TokU64Map bigger;
  tok_u64_map_init (&bigger, (m->mask + 1));
  for (gsize i = 0; i <= m->mask; i++)
    if (m->keys[i])
      tok_u64_map_set (&bigger, m->keys[i] - 1, m->values[i]);
  tok_u64_map_clear (m);
  *m = bigger;
}

static gboolean
tok_u64_map_put (TokU64Map *m, guint64 key, guint64 value, gboolean replace)
{
  if ((m->count + 1) * 2 > m->mask + 1)
    tok_u64_map_grow (m);
  gsize i = tok_hash64 (key) & m->mask;
  while (m->keys[i] && m->keys[i] != key + 1)
    i = (i + 1) & m->mask;
  gboolean added = !m->keys[i];
  if (added) {
    m->keys[i] = key + 1;
    m->count++;
  }
  if (added || replace) m->values[i] = value;
  return added;
}

void
tok_u64_map_set (TokU64Map *m, guint64 key, guint64 value)
{
  tok_u64_map_put (m, key, value, TRUE);
}

gboolean
tok_u64_map_add (TokU64Map *m, guint64 key, guint64 value)
{
  return tok_u64_map_put (m, key, value, FALSE);
}

gboolean
tok_u64_map_get (const TokU64Map *m, guint64 key, guint64 *value)
{
  if (!m->keys) return FALSE;
  gsize i = tok_hash64 (key) & m->mask;
  while (m->keys[i]) {
    if (m->keys[i] == key + 1) {
      *value = m->values[i];
      return TRUE;
    }
    i = (i + 1) & m->mask;
  }
  return FALSE;
}

static inline guint32
tok_str_hash (const char *s)
{
  guint32 h = 2166136261u;                 /* FNV-1a */
  for (; *s; s++) h = (h ^ (guchar) *s) * 16777619u;
  return h | 1;                            /* 0 marks an empty slot */
}

void
tok_str_map_init (TokStrMap *m, gsize expected)
{
  gsize cap = 16;
  while (cap < expected * 2) cap <<= 1;
  m->slots = g_new0 (struct TokStrSlot, cap);
  m->mask = cap - 1;
  m->count = 0;
}

void
tok_str_map_clear (TokStrMap *m)
{
  g_clear_pointer (&m->slots, g_free);
  m->mask = m->count = 0;
}

static void
tok_str_map_grow (TokStrMap *m)
{
  TokStrMap bigger;
  tok_str_map_init (&bigger, m->mask + 1);
  for (gsize i = 0; i <= m->mask; i++)
    if (m->slots[i].hash) tok_str_map_set (&bigger, m->slots[i].key, m->slots[i].id);
  tok_str_map_clear (m);
  *m = bigger;
}

void
tok_str_map_set (TokStrMap *m, const char *key, gint32 id)
{
  if ((m->count + 1) * 2 > m->mask + 1) tok_str_map_grow (m);
  guint32 h = tok_str_hash (key);
  gsize i = h & m->mask;
  while (m->slots[i].hash && !(m->slots[i].hash == h && strcmp (m->slots[i].key, key) == 0))
    i = (i + 1) & m->mask;
  if (!m->slots[i].hash) m->count++;
  m->slots[i].hash = h;
  m->slots[i].id = id;
  m->slots[i].key = key;
}

gint32
tok_str_map_get (const TokStrMap *m, const char *key)
{
  if (!m->slots) return -1;
  guint32 h = tok_str_hash (key);
  for (gsize i = h & m->mask; m->slots[i].hash; i = (i + 1) & m->mask)
    if (m->slots[i].hash == h && strcmp (m->slots[i].key, key) == 0) return m->slots[i].id;
  return -1;
}

/* Byte-level alphabet tables, built once. */
static char byte_chars[256][4];
static gint16 cp_to_byte[324];

static void
tok_byte_level_init (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    int extra = 0;
    for (int i = 0; i < 324; i++) cp_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
      gboolean printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      gunichar cp = printable ? (gunichar) b : (gunichar) (256 + extra++);
      int l = g_unichar_to_utf8 (cp, byte_chars[b]);
      byte_chars[b][l] = '\0';
      cp_to_byte[cp] = b;
    }
    g_once_init_leave (&done, 1);
  }
}

const char *
tok_byte_level_char (guint8 byte)
{
  tok_byte_level_init ();
  return byte_chars[byte];
}

int
tok_byte_level_byte (gunichar c)
{
  tok_byte_level_init ();
  return c < 324 ? cp_to_byte[c] : -1;
}

/* Length of the valid UTF-8 sequence at @s (1..4), 0 if invalid; *need gets
 * the sequence length when @s holds only a valid but incomplete prefix. */
static int
tok_utf8_seq (const guchar *s, gsize len, int *need)
{
  guchar c = s[0];
  int n;
  guchar lo = 0x80, hi = 0xBF;
  *need = 0;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else return 0;
  for (int i = 1; i < n; i++) {
    if ((gsize) i >= len) { *need = n; return -i; }   /* valid so far, truncated */
    guchar lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
    if (s[i] < lo_i || s[i] > hi_i) return -i;         /* invalid after i bytes */
  }
  return n;
}

void
tok_append_utf8_lossy (GString *out, const char *data, gsize len)
{
  const guchar *s = (const guchar *) data;
  gsize i = 0, run = 0;
  while (i < len) {
    int need;
    int n = tok_utf8_seq (s + i, len - i, &need);
    if (n > 0) { i += n; continue; }
    g_string_append_len (out, data + run, i - run);
    g_string_append (out, "\xEF\xBF\xBD");
    i += n == 0 ? 1 : (gsize) -n;      /* skip the maximal invalid subpart */
    run = i;
  }
  g_string_append_len (out, data + run, len - run);
}

gsize
tok_utf8_complete_prefix (const char *data, gsize len)
{
  const guchar *s = (const guchar *) data;
  gsize i = 0;
  while (i < len) {
    int need;
    int n = tok_utf8_seq (s + i, len - i, &need);
    if (n > 0) i += n;
    else if (need) return i;           /* a character still being completed */
    else i += n == 0 ? 1 : (gsize) -n; /* invalid bytes are final (shown as U+FFFD) */
  }
  return i;
}

const char *
tok_find (const char *p, const char *end, const char *pattern, gsize pattern_len)
{
  for (; pattern_len && (gsize) (end - p) >= pattern_len; p++)
    if (*p == pattern[0] && memcmp (p, pattern, pattern_len) == 0) return p;
  return NULL;
}

void
tok_string_replace (GString *s, const char *pattern, const char *replacement)
{
  gsize pl = strlen (pattern);
  const char *p = s->str, *end = s->str + s->len;
  const char *hit = tok_find (p, end, pattern, pl);
  if (!hit) return;
  GString *out = g_string_sized_new (s->len);
  for (; hit; hit = tok_find (p, end, pattern, pl)) {
    g_string_append_len (out, p, hit - p);
    g_string_append (out, replacement);
    p = hit + pl;
  }
  g_string_append_len (out, p, end - p);
  g_string_truncate (s, 0);
  g_string_append_len (s, out->str, out->len);
  g_string_free (out, TRUE);
}

#define TOK_NORMALIZE_CHUNK 256

/* Code points that are the second half of a canonical pair decomposition:
 * they may compose with what precedes them. */
static GHashTable *
tok_second_halves (void)
{
  static GHashTable *set;
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    set = g_hash_table_new (NULL, NULL);
    /* No canonical decomposition lies above the CJK compatibility supplement. */
    for (gunichar c = 0; c < 0x2FA20; c++) {
      gunichar a, b;
      if (c >= 0xD800 && c < 0xE000) continue;
      if (g_unichar_decompose (c, &a, &b) && b)
        g_hash_table_add (set, GUINT_TO_POINTER (b));
    }
    g_once_init_leave (&done, 1);
  }
  return set;
}

/* Whether normalization can start afresh before @c. */
static gboolean
tok_normalize_boundary (gunichar c)
{
  if (c < 0x80) return TRUE;
  gunichar first[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
  gsize n = g_unichar_fully_decompose (c, FALSE, first, G_N_ELEMENTS (first));
  gunichar lead = n ? first[0] : c;
  return g_unichar_combining_class (lead) == 0
         && !g_hash_table_contains (tok_second_halves (), GUINT_TO_POINTER (lead));
}

/* Whether normalizing @s in @mode leaves it unchanged, by a quick scan: ASCII
 * is stable in every form, and nothing below U+0300 (the combining marks)
 * changes under NFC. */
static gboolean
tok_normalize_is_identity (const char *s, gsize len, GNormalizeMode mode)
{
  gunichar limit = mode == G_NORMALIZE_NFC ? 0x300 : 0x80;
  for (const char *p = s; p < s + len;) {
    if ((guchar) *p < 0x80) { p++; continue; }
    if (g_utf8_get_char (p) >= limit) return FALSE;
    p = g_utf8_next_char (p);
  }
  return TRUE;
}

static void
tok_normalize_append (GString *out, const char *s, gsize len, GNormalizeMode mode)
{
  if (tok_normalize_is_identity (s, len, mode)) {
    g_string_append_len (out, s, len);
    return;
  }
  char *piece = g_utf8_normalize (s, len, mode);
  g_string_append (out, piece);
  g_free (piece);
}

char *
tok_utf8_normalize (const char *s, gsize len, GNormalizeMode mode)
{
  GString *out = g_string_sized_new (len);
  const char *start = s, *end = s + len;
  for (const char *p = s; p < end; p = g_utf8_next_char (p)) {
    if (p - start >= TOK_NORMALIZE_CHUNK && tok_normalize_boundary (g_utf8_get_char (p))) {
      tok_normalize_append (out, start, p - start, mode);
      start = p;
    }
  }
  tok_normalize_append (out, start, end - start, mode);
  return g_string_free (out, FALSE);
}
