/* processor-io.c: placeholder expansion and the I64 outputs shared by the
 * processor elements. */
#include "image/processor-io.h"

#include <string.h>
#include "vlm/vlm-error.h"

guint
vlm_processor_count_token (const char *text, const char *token)
{
  guint n = 0;
  gsize len = strlen (token);
  for (const char *p = text; len && (p = strstr (p, token)); p += len)
    n++;
  return n;
}

char *
vlm_processor_expand_token (const char *text, const char *token,
                            const char *const *replacements, guint n, GError **error)
{
  guint found = vlm_processor_count_token (text, token);
  if (found != n) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "the prompt has %u %s token(s) but %u image(s) were given", found, token, n);
    return NULL;
  }
  GString *out = g_string_new (NULL);
  gsize len = strlen (token);
  const char *p = text;
  for (guint i = 0; i < n; i++) {
    const char *hit = strstr (p, token);
    g_string_append_len (out, p, hit - p);
    g_string_append (out, replacements[i]);
    p = hit + len;
  }
  g_string_append (out, p);
  return g_string_free (out, FALSE);
}

char *
vlm_processor_repeat (const char *s, guint count)
{
  GString *out = g_string_sized_new (strlen (s) * count + 1);
  for (guint i = 0; i < count; i++)
    g_string_append (out, s);
  return g_string_free (out, FALSE);
}

static VlmTensor *
row_tensor (gsize n, gint64 **data)
{
  gint64 shape[] = { 1, (gint64) n };
  VlmTensor *t = vlm_tensor_new (VLM_DTYPE_I64, 2, shape);
  *data = vlm_tensor_get_data_mut (t);
  return t;
}

VlmTensor *
vlm_processor_ids_tensor (const gint32 *ids, gsize n)
{
  gint64 *d;
  VlmTensor *t = row_tensor (n, &d);
  for (gsize i = 0; i < n; i++)
    d[i] = ids[i];
  return t;
}

VlmTensor *
vlm_processor_id_mask (const gint32 *ids, gsize n, gint32 id)
{
  gint64 *d;
  VlmTensor *t = row_tensor (n, &d);
  for (gsize i = 0; i < n; i++)
    d[i] = ids[i] == id;
  return t;
}

VlmTensor *
vlm_processor_filled (gsize n, gint64 value)
{
  gint64 *d;
  VlmTensor *t = row_tensor (n, &d);
  for (gsize i = 0; i < n; i++)
    d[i] = value;
  return t;
}
