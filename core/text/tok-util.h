/* tok-util.h: small helpers shared by the tokenizer parts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Open-addressing map from a 64-bit key to a 64-bit value (BPE merges, trie edges). */
typedef struct {
  guint64 *keys;           /* key + 1, so 0 marks an empty slot */
  guint64 *values;
  gsize mask, count;
} TokU64Map;

void     tok_u64_map_init (TokU64Map *m, gsize expected);
void     tok_u64_map_clear (TokU64Map *m);
void     tok_u64_map_set (TokU64Map *m, guint64 key, guint64 value);
gboolean tok_u64_map_get (const TokU64Map *m, guint64 key, guint64 *value);
/* Sets @key only if absent; returns whether it was added. */
gboolean tok_u64_map_add (TokU64Map *m, guint64 key, guint64 value);

/* Open-addressing map from a string to an id (the BPE vocabulary): one probe
 * array holding the hash, so most misses never touch the strings. Keys are
 * borrowed and must outlive the map. */
typedef struct {
  struct TokStrSlot { guint32 hash; gint32 id; const char *key; } *slots;
  gsize mask, count;
} TokStrMap;

void     tok_str_map_init (TokStrMap *m, gsize expected);
void     tok_str_map_clear (TokStrMap *m);
void     tok_str_map_set (TokStrMap *m, const char *key, gint32 id);
gint32   tok_str_map_get (const TokStrMap *m, const char *key);     /* -1 if absent */

/* GPT-2 byte-level alphabet: each byte is shown as one printable code point. */
const char *tok_byte_level_char (guint8 byte);      /* UTF-8 of the code point */
int      tok_byte_level_byte (gunichar c);           /* -1 if c is not in the alphabet */

/* Appends @len bytes to @out as UTF-8, replacing each maximal invalid subpart
 * by U+FFFD (what Rust's String::from_utf8_lossy does). */
void     tok_append_utf8_lossy (GString *out, const char *data, gsize len);

/* Length of the longest prefix of @data that is complete UTF-8 (an incomplete
 * but so far valid sequence at the end is left out). */
gsize    tok_utf8_complete_prefix (const char *data, gsize len);

/* First occurrence of @pattern in [@p, @end), or NULL. A plain scan: strstr
 * rescans the whole rest of the string under ASan, which makes loops quadratic. */
const char *tok_find (const char *p, const char *end, const char *pattern, gsize pattern_len);

/* Replaces every occurrence of @pattern (non-empty) in @s, in linear time
 * (GLib 2.74's g_string_replace is quadratic in the number of hits). */
void     tok_string_replace (GString *s, const char *pattern, const char *replacement);

/* g_utf8_normalize in linear time: long texts are normalized in pieces cut
 * where no character can combine across the cut (GLib's own pass is
 * quadratic on long runs of composable characters). */
char    *tok_utf8_normalize (const char *s, gsize len, GNormalizeMode mode);

G_END_DECLS
