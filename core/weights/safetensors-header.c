/* safetensors-header.c: a strict, allocation-bounded parser of safetensors headers.
 *
 * The header grammar is tiny (an object of tensor entries plus "__metadata__"), so a
 * dedicated recursive-descent reader is used instead of a general JSON library: it
 * rejects duplicate keys (json-glib keeps the last one silently), unknown fields,
 * non-integer numbers and invalid UTF-8, and it never recurses deeper than two levels.
 */
#include "weights/safetensors-header.h"
#include "vlm/vlm-error.h"

#include <string.h>

typedef struct {
  const char *start, *p, *end;
  const char *file;
  GError **error;
} Lex;

static gboolean G_GNUC_PRINTF (2, 3)
fail (Lex *lx, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (lx->error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: safetensors header byte %td: %s",
               lx->file, lx->p - lx->start, msg);
  return FALSE;
}

static void
skip_ws (Lex *lx)
{
  while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
    lx->p++;
}

static gboolean
expect (Lex *lx, char c)
{
  skip_ws (lx);
  if (lx->p >= lx->end || *lx->p != c)
    return fail (lx, "expected '%c'", c);
  lx->p++;
  return TRUE;
}

/* Consumes ',' (returns TRUE, *more = TRUE) or the closing bracket (*more = FALSE). */
static gboolean
next_item (Lex *lx, char close, gboolean *more)
{
  skip_ws (lx);
  if (lx->p < lx->end && *lx->p == ',') {
    lx->p++;
    *more = TRUE;
    return TRUE;
  }
  if (lx->p < lx->end && *lx->p == close) {
    lx->p++;
    *more = FALSE;
    return TRUE;
  }
  return fail (lx, "expected ',' or '%c'", close);
}

static gboolean
hex4 (Lex *lx, guint32 *out)
{
  guint32 v = 0;
  if (lx->end - lx->p < 4)
    return fail (lx, "truncated \\u escape");
  for (int i = 0; i < 4; i++) {
    int d = g_ascii_xdigit_value (lx->p[i]);
    if (d < 0)
      return fail (lx, "bad \\u escape");
    v = v * 16 + (guint32) d;
  }
  lx->p += 4;
  *out = v;
  return TRUE;
}

static gboolean
parse_string (Lex *lx, char **out)
{
  if (!expect (lx, '"'))
    return FALSE;
  GString *s = g_string_new (NULL);
  while (TRUE) {
    if (lx->p >= lx->end) {
      g_string_free (s, TRUE);
      return fail (lx, "unterminated string");
    }
    char c = *lx->p++;
    if (c == '"')
      break;
    if ((guchar) c < 0x20) {
      g_string_free (s, TRUE);
      return fail (lx, "control character in string");
    }
    if (c != '\\') {
      g_string_append_c (s, c);
      continue;
    }
    if (lx->p >= lx->end) {
      g_string_free (s, TRUE);
      return fail (lx, "unterminated escape");
    }
    c = *lx->p++;
    guint32 cp;
    switch (c) {
    case '"': case '\\': case '/': g_string_append_c (s, c); break;
    case 'b': g_string_append_c (s, '\b'); break;
    case 'f': g_string_append_c (s, '\f'); break;
    case 'n': g_string_append_c (s, '\n'); break;
    case 'r': g_string_append_c (s, '\r'); break;
    case 't': g_string_append_c (s, '\t'); break;
    case 'u':
      if (!hex4 (lx, &cp)) {
        g_string_free (s, TRUE);
        return FALSE;
      }
      if (cp >= 0xD800 && cp < 0xDC00) {
        guint32 lo;
        if (lx->end - lx->p < 2 || lx->p[0] != '\\' || lx->p[1] != 'u') {
          g_string_free (s, TRUE);
          return fail (lx, "unpaired surrogate");
        }
        lx->p += 2;
        if (!hex4 (lx, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
          g_string_free (s, TRUE);
          return lx->error && *lx->error ? FALSE : fail (lx, "unpaired surrogate");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp < 0xE000) {
        g_string_free (s, TRUE);
        return fail (lx, "unpaired surrogate");
      }
      if (cp == 0) {
        g_string_free (s, TRUE);
        return fail (lx, "NUL character in string");
      }
      g_string_append_unichar (s, cp);
      break;
    default:
      g_string_free (s, TRUE);
      return fail (lx, "bad escape '\\%c'", c);
    }
  }
  if (!g_utf8_validate_len (s->str, s->len, NULL)) {
    g_string_free (s, TRUE);
    return fail (lx, "string is not valid UTF-8");
  }
  *out = g_string_free (s, FALSE);
  return TRUE;
}

/* Non-negative integers only, bounded by 2^53 (what JSON readers agree on). */
static gboolean
parse_uint (Lex *lx, guint64 *out)
{
  skip_ws (lx);
  const char *s = lx->p;
  guint64 v = 0;
  while (lx->p < lx->end && g_ascii_isdigit (*lx->p)) {
    v = v * 10 + (guint64) (*lx->p - '0');
    if (v > (G_GUINT64_CONSTANT (1) << 53))
      return fail (lx, "integer too large");
    lx->p++;
  }
  if (lx->p == s)
    return fail (lx, "expected a non-negative integer");
  if (lx->p - s > 1 && *s == '0')
    return fail (lx, "integer with leading zero");
  if (lx->p < lx->end && (*lx->p == '.' || *lx->p == 'e' || *lx->p == 'E'))
    return fail (lx, "expected an integer");
  *out = v;
  return TRUE;
}

/* Reads "[n, n, ...]" into vals (at most max entries). */
static gboolean
parse_uint_array (Lex *lx, guint64 *vals, guint max, guint *n, const char *what)
{
  gboolean more = TRUE;
  *n = 0;
  if (!expect (lx, '['))
    return FALSE;
  skip_ws (lx);
  if (lx->p < lx->end && *lx->p == ']') {
    lx->p++;
    return TRUE;
  }
  while (more) {
    if (*n >= max)
      return fail (lx, "%s has more than %u entries", what, max);
    if (!parse_uint (lx, &vals[(*n)++]) || !next_item (lx, ']', &more))
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_metadata (Lex *lx, GHashTable *meta)
{
  gboolean more = TRUE;
  if (!expect (lx, '{'))
    return FALSE;
  skip_ws (lx);
  if (lx->p < lx->end && *lx->p == '}') {
    lx->p++;
    return TRUE;
  }
  while (more) {
    char *k = NULL, *v = NULL;
    if (!parse_string (lx, &k))
      return FALSE;
    if (g_hash_table_contains (meta, k)) {
      fail (lx, "duplicate metadata key '%s'", k);
      g_free (k);
      return FALSE;
    }
    if (!expect (lx, ':') || !parse_string (lx, &v)) {
      g_free (k);
      return FALSE;
    }
    g_hash_table_insert (meta, k, v);
    if (!next_item (lx, '}', &more))
      return FALSE;
  }
  return TRUE;
}

static void
entry_free (gpointer p)
{
  VlmStEntry *e = p;
  g_free (e->name);
  g_free (e);
}

static gboolean
parse_entry (Lex *lx, VlmStEntry *e)
{
  gboolean more = TRUE, have_dtype = FALSE, have_shape = FALSE, have_offsets = FALSE;
  if (!expect (lx, '{'))
    return FALSE;
  while (more) {
    g_autofree char *key = NULL;
    if (!parse_string (lx, &key) || !expect (lx, ':'))
      return FALSE;
    if (strcmp (key, "dtype") == 0) {
      g_autofree char *dt = NULL;
      if (have_dtype)
        return fail (lx, "tensor '%s': duplicate key 'dtype'", e->name);
      have_dtype = TRUE;
      if (!parse_string (lx, &dt))
        return FALSE;
      if (!vlm_dtype_from_name (dt, &e->dtype)) {
        g_set_error (lx->error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                     "%s: tensor '%s': unsupported dtype '%s'", lx->file, e->name, dt);
        return FALSE;
      }
    } else if (strcmp (key, "shape") == 0) {
      guint64 dims[VLM_TENSOR_MAX_DIMS];
      if (have_shape)
        return fail (lx, "tensor '%s': duplicate key 'shape'", e->name);
      have_shape = TRUE;
      if (!parse_uint_array (lx, dims, VLM_TENSOR_MAX_DIMS, &e->ndim, "shape"))
        return FALSE;
      for (guint i = 0; i < e->ndim; i++)
        e->shape[i] = (gint64) dims[i];
    } else if (strcmp (key, "data_offsets") == 0) {
      guint64 off[2];
      guint n;
      if (have_offsets)
        return fail (lx, "tensor '%s': duplicate key 'data_offsets'", e->name);
      have_offsets = TRUE;
      if (!parse_uint_array (lx, off, 2, &n, "data_offsets"))
        return FALSE;
      if (n != 2)
        return fail (lx, "tensor '%s': data_offsets needs 2 entries", e->name);
      e->begin = off[0];
      e->end = off[1];
    } else {
      return fail (lx, "tensor '%s': unknown key '%s'", e->name, key);
    }
    if (!next_item (lx, '}', &more))
      return FALSE;
  }
  if (!have_dtype || !have_shape || !have_offsets)
    return fail (lx, "tensor '%s': missing '%s'", e->name,
                 !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
  return TRUE;
}

static gint
cmp_begin (gconstpointer a, gconstpointer b)
{
  const VlmStEntry *x = *(VlmStEntry *const *) a, *y = *(VlmStEntry *const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Sizes must match dtype * numel exactly and the ranges must tile the data area
 * without overlap or gaps (as the reference library requires). */
static gboolean
check_ranges (GPtrArray *entries, guint64 data_size, const char *file, GError **error)
{
  for (guint i = 0; i < entries->len; i++) {
    VlmStEntry *e = entries->pdata[i];
    guint64 numel = 1;
    for (guint d = 0; d < e->ndim; d++) {
      guint64 dim = (guint64) e->shape[d];
      if (dim != 0 && numel > (G_GUINT64_CONSTANT (1) << 53) / dim) {
        g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: tensor '%s': shape too large",
                     file, e->name);
        return FALSE;
      }
      numel *= dim;
    }
    if (e->end < e->begin || e->end > data_size) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                   "] outside the data area of %" G_GUINT64_FORMAT " bytes",
                   file, e->name, e->begin, e->end, data_size);
      return FALSE;
    }
    if (e->end - e->begin != numel * vlm_dtype_size (e->dtype)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: tensor '%s': %" G_GUINT64_FORMAT " bytes of data but %s shape needs %"
                   G_GUINT64_FORMAT, file, e->name, e->end - e->begin,
                   vlm_dtype_name (e->dtype), numel * vlm_dtype_size (e->dtype));
      return FALSE;
    }
  }
  g_autoptr (GPtrArray) sorted = g_ptr_array_copy (entries, NULL, NULL);
  g_ptr_array_set_free_func (sorted, NULL); /* the copy borrows the entries */
  g_ptr_array_sort (sorted, cmp_begin);
  guint64 pos = 0;
  for (guint i = 0; i < sorted->len; i++) {
    VlmStEntry *e = sorted->pdata[i];
    if (e->begin < pos) {
      VlmStEntry *prev = sorted->pdata[i - 1];
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: tensor '%s' overlaps tensor '%s'", file, e->name, prev->name);
      return FALSE;
    }
    if (e->begin > pos) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                   "%s: tensor '%s': unused bytes [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                   ") before its data", file, e->name, pos, e->begin);
      return FALSE;
    }
    pos = e->end;
  }
  if (pos != data_size) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                 "%s: %" G_GUINT64_FORMAT " bytes after the last tensor", file, data_size - pos);
    return FALSE;
  }
  return TRUE;
}

/**
 * vlm_st_header_parse:
 * @json: header bytes (not NUL-terminated)
 * @len: their length
 * @data_size: size of the data area that follows the header
 * @file: file name for messages
 * @out: (out caller-allocates): the parsed header; clear with vlm_st_header_clear()
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the header is well formed and consistent with @data_size
 */
gboolean
vlm_st_header_parse (const char *json, gsize len, guint64 data_size, const char *file,
                     VlmStHeader *out, GError **error)
{
  Lex lx = { json, json, json + len, file, error };
  gboolean more = TRUE, have_meta = FALSE;
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  out->entries = g_ptr_array_new_with_free_func (entry_free);
  out->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!expect (&lx, '{'))
    goto fail;
  skip_ws (&lx);
  if (lx.p < lx.end && *lx.p == '}') {
    lx.p++;
    more = FALSE;
  }
  while (more) {
    char *key = NULL;
    if (!parse_string (&lx, &key))
      goto fail;
    if (strcmp (key, "__metadata__") == 0) {
      g_free (key);
      if (have_meta) {
        fail (&lx, "duplicate key '__metadata__'");
        goto fail;
      }
      have_meta = TRUE;
      if (!expect (&lx, ':') || !parse_metadata (&lx, out->metadata))
        goto fail;
    } else {
      VlmStEntry *e = g_new0 (VlmStEntry, 1);
      e->name = key;
      if (g_hash_table_contains (names, key)) {
        fail (&lx, "duplicate tensor name '%s'", key);
        entry_free (e);
        goto fail;
      }
      g_ptr_array_add (out->entries, e);
      g_hash_table_add (names, e->name);
      if (!expect (&lx, ':') || !parse_entry (&lx, e))
        goto fail;
    }
    if (!next_item (&lx, '}', &more))
      goto fail;
  }
  skip_ws (&lx);
  if (lx.p != lx.end) {
    fail (&lx, "trailing bytes after the header object");
    goto fail;
  }
  if (!check_ranges (out->entries, data_size, file, error))
    goto fail;
  return TRUE;

fail:
  vlm_st_header_clear (out);
  return FALSE;
}

/**
 * vlm_st_parse_file_bytes:
 * @bytes: a whole safetensors file
 * @size: its size
 * @file: file name for messages
 * @out: (out caller-allocates): the parsed header
 * @data_start: (out): offset of the data area in @bytes
 * @error: return location for a #GError
 *
 * Checks the 8-byte length prefix against the file size and the header limit,
 * then parses the header.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_st_parse_file_bytes (const guint8 *bytes, gsize size, const char *file, VlmStHeader *out,
                         guint64 *data_start, GError **error)
{
  guint64 hlen = 0;
  memset (out, 0, sizeof *out);
  if (size < 8) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                 "%s: truncated safetensors file (%" G_GSIZE_FORMAT " bytes)", file, size);
    return FALSE;
  }
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | bytes[i];
  if (hlen > VLM_ST_MAX_HEADER) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT,
                 "%s: safetensors header length %" G_GUINT64_FORMAT " exceeds the %u byte limit",
                 file, hlen, VLM_ST_MAX_HEADER);
    return FALSE;
  }
  if (hlen > size - 8) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                 "%s: safetensors header length %" G_GUINT64_FORMAT " runs past the end of the "
                 "%" G_GSIZE_FORMAT " byte file", file, hlen, size);
    return FALSE;
  }
  *data_start = 8 + hlen;
  return vlm_st_header_parse ((const char *) bytes + 8, hlen, size - 8 - hlen, file, out, error);
}

/**
 * vlm_st_header_clear:
 * @hdr: a header filled by vlm_st_header_parse()
 */
void
vlm_st_header_clear (VlmStHeader *hdr)
{
  g_clear_pointer (&hdr->entries, g_ptr_array_unref);
  g_clear_pointer (&hdr->metadata, g_hash_table_unref);
}
