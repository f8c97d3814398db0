/* vlm-safetensors-write.c: writes a tensor set as one safetensors file. */
#include "vlm/vlm-safetensors.h"
#include "vlm/vlm-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
append_json_string (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (const guchar *p = (const guchar *) str; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (s, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf (s, "\\u%04x", *p);
    else
      g_string_append_c (s, (char) *p);
  }
  g_string_append_c (s, '"');
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/**
 * vlm_safetensors_write:
 * @path: the file to create (replaced atomically)
 * @tensors: the tensors, written in set order (non-contiguous ones are compacted)
 * @metadata: (nullable) (element-type utf8 utf8): string pairs for `__metadata__`
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_safetensors_write (const char *path, VlmTensorSet *tensors, GHashTable *metadata,
                       GError **error)
{
  g_autoptr (GString) h = g_string_new ("{");
  guint n = vlm_tensor_set_get_size (tensors);
  guint64 pos = 0;
  if (metadata && g_hash_table_size (metadata)) {
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array (metadata, NULL);
    guint nk = g_hash_table_size (metadata);
    qsort (keys, nk, sizeof (gpointer), cmp_str);
    g_string_append (h, "\"__metadata__\":{");
    for (guint i = 0; i < nk; i++) {
      if (i)
        g_string_append_c (h, ',');
      append_json_string (h, keys[i]);
      g_string_append_c (h, ':');
      append_json_string (h, g_hash_table_lookup (metadata, keys[i]));
    }
    g_string_append (h, "}");
    if (n)
      g_string_append_c (h, ',');
  }
  for (guint i = 0; i < n; i++) {
    VlmTensor *t = vlm_tensor_set_get_nth (tensors, i);
    guint ndim;
    const gint64 *shape = vlm_tensor_get_shape (t, &ndim);
    if (i)
      g_string_append_c (h, ',');
    append_json_string (h, vlm_tensor_set_get_nth_name (tensors, i));
    g_string_append_printf (h, ":{\"dtype\":\"%s\",\"shape\":[", vlm_dtype_name (vlm_tensor_get_dtype (t)));
    for (guint d = 0; d < ndim; d++)
      g_string_append_printf (h, "%s%" G_GINT64_FORMAT, d ? "," : "", shape[d]);
    guint64 nb = vlm_tensor_get_nbytes (t);
    g_string_append_printf (h, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                            pos, pos + nb);
    pos += nb;
  }
  g_string_append_c (h, '}');
  /* Pad with spaces so the data area starts 8-byte aligned, as the reference writer does. */
  while ((h->len + 8) % 8)
    g_string_append_c (h, ' ');

  g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d", path, (int) getpid ());
  FILE *fp = g_fopen (tmp, "wb");
  if (!fp) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s: %s", path, g_strerror (errno));
    return FALSE;
  }
  guint8 len8[8];
  for (int i = 0; i < 8; i++)
    len8[i] = (guint8) ((guint64) h->len >> (8 * i));
  gboolean ok = fwrite (len8, 1, 8, fp) == 8 && fwrite (h->str, 1, h->len, fp) == h->len;
  for (guint i = 0; ok && i < n; i++) {
    g_autoptr (VlmTensor) c = vlm_tensor_contiguous (vlm_tensor_set_get_nth (tensors, i));
    gsize nb = vlm_tensor_get_nbytes (c);
    ok = fwrite (vlm_tensor_get_data (c), 1, nb, fp) == nb;
  }
  int saved = errno;
  if (fclose (fp) != 0 && ok) {
    ok = FALSE;
    saved = errno;
  }
  if (!ok || g_rename (tmp, path) != 0) {
    if (ok)
      saved = errno;
    g_unlink (tmp);
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s: %s", path, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}
