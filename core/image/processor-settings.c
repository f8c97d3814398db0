/* processor-settings.c: typed processor-settings reads and the shared rescale +
 * normalize step. */
#include "image/processor-settings.h"

#include <string.h>
#include "vlm/vlm-error.h"
#include "vlm/vlm-tensor.h"

const float VLM_OPENAI_CLIP_MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
const float VLM_OPENAI_CLIP_STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
const float VLM_IMAGENET_STANDARD_MEAN[3] = { 0.5f, 0.5f, 0.5f };
const float VLM_IMAGENET_STANDARD_STD[3] = { 0.5f, 0.5f, 0.5f };

/* A member that is present and not null, else NULL. */
static JsonNode *
member (JsonObject *obj, const char *name)
{
  if (obj == NULL || !json_object_has_member (obj, name))
    return NULL;
  JsonNode *node = json_object_get_member (obj, name);
  return JSON_NODE_HOLDS_NULL (node) ? NULL : node;
}

static gboolean
type_error (const char *source, const char *key, const char *expected, GError **error)
{
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: \"%s\" must be %s", source, key,
               expected);
  return FALSE;
}

static gboolean
is_number (JsonNode *n)
{
  if (!JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

static gboolean
int_in (JsonNode *n, gint64 min, gint64 max, int *out)
{
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (n);
  if (v < min || v > max)
    return FALSE;
  *out = (int) v;
  return TRUE;
}

gboolean
vlm_settings_read_bool (JsonObject *s, const char *key, gboolean *out, const char *source,
                        GError **error)
{
  JsonNode *n = member (s, key);
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return type_error (source, key, "true or false", error);
  *out = json_node_get_boolean (n);
  return TRUE;
}

gboolean
vlm_settings_read_double (JsonObject *s, const char *key, double *out, const char *source,
                          GError **error)
{
  JsonNode *n = member (s, key);
  if (n == NULL)
    return TRUE;
  if (!is_number (n))
    return type_error (source, key, "a number", error);
  *out = json_node_get_double (n);
  return TRUE;
}

gboolean
vlm_settings_read_int (JsonObject *s, const char *key, gint64 min, gint64 max, int *out,
                       const char *source, GError **error)
{
  JsonNode *n = member (s, key);
  if (n == NULL)
    return TRUE;
  if (!int_in (n, min, max, out)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                 "%s: \"%s\" must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
                 source, key, min, max);
    return FALSE;
  }
  return TRUE;
}

gboolean
vlm_settings_read_member_int (JsonObject *s, const char *key, const char *name, int *out,
                              const char *source, GError **error)
{
  JsonNode *n = member (s, key);
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return type_error (source, key, "an object", error);
  JsonNode *m = member (json_node_get_object (n), name);
  if (m == NULL)
    return TRUE;
  if (!int_in (m, 1, 1 << 28, out)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: \"%s.%s\" must be a positive integer",
                 source, key, name);
    return FALSE;
  }
  return TRUE;
}

gboolean
vlm_settings_read_triple (JsonObject *s, const char *key, float out[3], gboolean nonzero,
                          const char *source, GError **error)
{
  JsonNode *n = member (s, key);
  if (n == NULL)
    return TRUE;
  JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  const char *expected = nonzero ? "an array of 3 non-zero numbers" : "an array of 3 numbers";
  if (a == NULL || json_array_get_length (a) != 3)
    return type_error (source, key, expected, error);
  float v[3];
  for (guint i = 0; i < 3; i++) {
    JsonNode *e = json_array_get_element (a, i);
    if (!is_number (e) || (nonzero && json_node_get_double (e) == 0.0))
      return type_error (source, key, expected, error);
    /* numpy builds the float32 mean/std arrays from the Python floats. */
    v[i] = (float) json_node_get_double (e);
  }
  memcpy (out, v, sizeof v);
  return TRUE;
}

gboolean
vlm_settings_read_resample (JsonObject *s, const char *key, VlmResample *out, const char *source,
                            GError **error)
{
  JsonNode *n = member (s, key);
  if (n == NULL)
    return TRUE;
  int id;
  if (!int_in (n, VLM_RESAMPLE_NEAREST, VLM_RESAMPLE_HAMMING, &id))
    return type_error (source, key, "a Pillow filter id from 0 to 5", error);
  *out = (VlmResample) id;
  return TRUE;
}

gboolean
vlm_settings_read_string (JsonObject *s, const char *key, char **out, const char *source,
                          GError **error)
{
  JsonNode *n = member (s, key);
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return type_error (source, key, "a string", error);
  g_free (*out);
  *out = g_strdup (json_node_get_string (n));
  return TRUE;
}

gboolean
vlm_image_normalize_load (VlmImageNormalize *norm, const float mean[3], const float std[3],
                          JsonObject *s, const char *source, GError **error)
{
  *norm = (VlmImageNormalize) { .do_rescale = TRUE, .rescale_factor = 1.0 / 255.0,
                                .do_normalize = TRUE };
  memcpy (norm->image_mean, mean, sizeof norm->image_mean);
  memcpy (norm->image_std, std, sizeof norm->image_std);
  return vlm_settings_read_bool (s, "do_rescale", &norm->do_rescale, source, error)
         && vlm_settings_read_double (s, "rescale_factor", &norm->rescale_factor, source, error)
         && vlm_settings_read_bool (s, "do_normalize", &norm->do_normalize, source, error)
         && vlm_settings_read_triple (s, "image_mean", norm->image_mean, FALSE, source, error)
         && vlm_settings_read_triple (s, "image_std", norm->image_std, TRUE, source, error);
}

gboolean
vlm_image_normalize_into (const VlmImageNormalize *norm, VlmImage *rgb, float *dst,
                          GError **error)
{
  if (vlm_image_get_channels (rgb) != 3) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "expected an RGB image, got %s",
                 vlm_image_mode_to_string (vlm_image_get_mode (rgb)));
    return FALSE;
  }
  g_autoptr (VlmTensor) chw = vlm_image_to_chw_f32 (rgb, norm->do_rescale ? norm->rescale_factor : 1.0,
                                                    norm->do_normalize ? norm->image_mean : NULL,
                                                    norm->do_normalize ? norm->image_std : NULL,
                                                    error);
  if (chw == NULL)
    return FALSE;
  memcpy (dst, vlm_tensor_get_data (chw), vlm_tensor_get_nbytes (chw));
  return TRUE;
}

VlmTensor *
vlm_image_normalize_batch (const VlmImageNormalize *norm, VlmImage **images, guint n,
                           GError **error)
{
  if (n == 0) {
    g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID, "no images to process");
    return NULL;
  }
  int w = vlm_image_get_width (images[0]), h = vlm_image_get_height (images[0]);
  gint64 shape[] = { n, 3, h, w };
  g_autoptr (VlmTensor) out = vlm_tensor_new_empty (VLM_DTYPE_F32, 4, shape);
  float *d = vlm_tensor_get_data_mut (out);
  gsize per_image = (gsize) 3 * h * w;
  for (guint i = 0; i < n; i++) {
    if (vlm_image_get_width (images[i]) != w || vlm_image_get_height (images[i]) != h) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "image %u is %dx%d, image 0 is %dx%d: a batch needs one size", i,
                   vlm_image_get_width (images[i]), vlm_image_get_height (images[i]), w, h);
      return NULL;
    }
    if (!vlm_image_normalize_into (norm, images[i], d + i * per_image, error))
      return NULL;
  }
  return g_steal_pointer (&out);
}

gboolean
vlm_fixed_resize_load (VlmFixedResize *r, JsonObject *s, const char *source, GError **error)
{
  return vlm_settings_read_bool (s, "do_resize", &r->do_resize, source, error)
         && vlm_settings_read_member_int (s, "size", "height", &r->height, source, error)
         && vlm_settings_read_member_int (s, "size", "width", &r->width, source, error)
         && vlm_settings_read_resample (s, "resample", &r->resample, source, error);
}

VlmImage *
vlm_fixed_resize_apply (const VlmFixedResize *r, VlmImage *image, GError **error)
{
  return r->do_resize ? vlm_image_resize (image, r->width, r->height, r->resample, error)
                      : vlm_image_ref (image);
}
