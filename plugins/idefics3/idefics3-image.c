/* idefics3-image.c: transformers' Idefics3ImageProcessor (slow path) and the
 * image part of Idefics3Processor: longest-edge resize, resize up to whole
 * tiles, row-major crops plus a global image, RGB over white, rescale,
 * normalize, pad; and the prompt expansion. */
#include "idefics3-image.h"

#include <math.h>
#include <string.h>

/* transformers caps the longest-edge resize so no side exceeds this. */
#define MAX_IMAGE_SIZE 4096

/* transformers reads size["longest_edge"] and max_image_size["longest_edge"] without a
 * default: an object given without the key is an error there, and here. */
static gboolean
require_longest_edge (JsonObject *settings, const char *key, const char *source, GError **error)
{
  JsonNode *n = settings ? json_object_get_member (settings, key) : NULL;
  if (!n || !JSON_NODE_HOLDS_OBJECT (n)
      || json_object_has_member (json_node_get_object (n), "longest_edge"))
    return TRUE;
  g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: \"%s\" must have \"longest_edge\"",
               source, key);
  return FALSE;
}

gboolean
idefics3_image_settings_load (Idefics3ImageSettings *s, JsonObject *settings, const char *source,
                              GError **error)
{
  /* Idefics3ImageProcessor's and Idefics3Processor's constructor defaults. */
  *s = (Idefics3ImageSettings) {
    .do_convert_rgb = TRUE,
    .do_resize = TRUE,
    .longest_edge = 4 * 364,
    .resample = VLM_RESAMPLE_LANCZOS,
    .do_image_splitting = TRUE,
    .max_image_size = 364,
    .do_pad = TRUE,
    .image_seq_len = 169,
  };
  return require_longest_edge (settings, "size", source, error)
         && require_longest_edge (settings, "max_image_size", source, error)
         && vlm_settings_read_bool (settings, "do_convert_rgb", &s->do_convert_rgb, source, error)
         && vlm_settings_read_bool (settings, "do_resize", &s->do_resize, source, error)
         && vlm_settings_read_member_int (settings, "size", "longest_edge", &s->longest_edge,
                                          source, error)
         && vlm_settings_read_resample (settings, "resample", &s->resample, source, error)
         && vlm_settings_read_bool (settings, "do_image_splitting", &s->do_image_splitting,
                                    source, error)
         && vlm_settings_read_member_int (settings, "max_image_size", "longest_edge",
                                          &s->max_image_size, source, error)
         && vlm_image_normalize_load (&s->norm, VLM_IMAGENET_STANDARD_MEAN,
                                      VLM_IMAGENET_STANDARD_STD, settings, source, error)
         && vlm_settings_read_bool (settings, "do_pad", &s->do_pad, source, error)
         && vlm_settings_read_int (settings, "image_seq_len", 1, 1 << 20, &s->image_seq_len,
                                   source, error);
}

/* _resize_output_size_rescale_to_max_len then ..._scale_below_upper_bound:
 * the longest side becomes @max_len (up or down), the other keeps the aspect
 * ratio truncated and rounded up to even; then both stay within 4096. */
static void
longest_edge_size (int height, int width, int max_len, int *out_h, int *out_w)
{
  double aspect = (double) width / height;
  int h, w;
  if (width >= height) {
    w = max_len;
    h = (int) (w / aspect);
    if (h % 2 != 0)
      h++;
  } else {
    h = max_len;
    w = (int) (h * aspect);
    if (w % 2 != 0)
      w++;
  }
  h = MAX (h, 1);
  w = MAX (w, 1);

  aspect = (double) w / h;
  if (w >= h && w > MAX_IMAGE_SIZE) {
    w = MAX_IMAGE_SIZE;
    h = (int) (w / aspect);
  } else if (h > w && h > MAX_IMAGE_SIZE) {
    h = MAX_IMAGE_SIZE;
    w = (int) (h * aspect);
  }
  *out_h = MAX (h, 1);
  *out_w = MAX (w, 1);
}

/* resize_for_vision_encoder: both sides up to whole tiles, the second side
 * derived from the first through the (truncated) aspect ratio. */
static void
whole_tiles_size (int height, int width, int tile, int *out_h, int *out_w)
{
  double aspect = (double) width / height;
  int h, w;
  if (width >= height) {
    w = (int) ceil ((double) width / tile) * tile;
    h = (int) (w / aspect);
    h = (int) ceil ((double) h / tile) * tile;
  } else {
    h = (int) ceil ((double) height / tile) * tile;
    w = (int) (h * aspect);
    w = (int) ceil ((double) w / tile) * tile;
  }
  *out_h = MAX (h, tile);
  *out_w = MAX (w, tile);
}

/* The processor's resize: a one-channel array goes through PIL as mode "P",
 * which Pillow always resamples nearest-neighbour. */
static VlmImage *
processor_resize (const Idefics3ImageSettings *s, VlmImage *image, int width, int height,
                  GError **error)
{
  VlmResample filter = vlm_image_get_channels (image) == 1 ? VLM_RESAMPLE_NEAREST : s->resample;
  return vlm_image_resize (image, width, height, filter, error);
}

GPtrArray *
idefics3_image_make_tiles (const Idefics3ImageSettings *s, VlmImage *image, int *rows,
                           int *cols, GError **error)
{
  g_return_val_if_fail (s != NULL && image != NULL, NULL);
  VlmImageMode mode = vlm_image_get_mode (image);
  g_autoptr (VlmImage) cur = NULL;
  /* The reference only takes 1, 3 or 4 channels: gray + alpha goes as RGBA. */
  if (mode == VLM_IMAGE_MODE_LA)
    cur = vlm_image_convert (image, VLM_IMAGE_MODE_RGBA, error);
  else
    cur = vlm_image_ref (image);
  if (cur == NULL)
    return NULL;
  if (!s->do_convert_rgb && vlm_image_get_mode (cur) != VLM_IMAGE_MODE_RGB) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "Idefics3 processor: a %s image needs do_convert_rgb",
                 vlm_image_mode_to_string (mode));
    return NULL;
  }

  if (s->do_resize) {
    int h, w;
    longest_edge_size (vlm_image_get_height (cur), vlm_image_get_width (cur), s->longest_edge,
                       &h, &w);
    VlmImage *next = processor_resize (s, cur, w, h, error);
    if (next == NULL)
      return NULL;
    vlm_image_unref (cur);
    cur = next;
  }

  int tile = s->max_image_size;
  GPtrArray *tiles = g_ptr_array_new_with_free_func ((GDestroyNotify) vlm_image_unref);
  *rows = *cols = 0;
  if (s->do_image_splitting) {
    int h, w;
    whole_tiles_size (vlm_image_get_height (cur), vlm_image_get_width (cur), tile, &h, &w);
    VlmImage *next = processor_resize (s, cur, w, h, error);
    if (next == NULL)
      goto fail;
    vlm_image_unref (cur);
    cur = next;
    if (h > tile || w > tile) {
      /* Sides are whole tiles here, so every crop is exactly tile x tile. */
      *rows = h / tile;
      *cols = w / tile;
      for (int r = 0; r < *rows; r++) {
        for (int c = 0; c < *cols; c++) {
          VlmImage *crop = vlm_image_crop (cur, c * tile, r * tile, tile, tile, error);
          if (crop == NULL)
            goto fail;
          g_ptr_array_add (tiles, crop);
        }
      }
      next = processor_resize (s, cur, tile, tile, error);
      if (next == NULL)
        goto fail;
      vlm_image_unref (cur);
      cur = next;
    }
  } else {
    VlmImage *next = processor_resize (s, cur, tile, tile, error);
    if (next == NULL)
      goto fail;
    vlm_image_unref (cur);
    cur = next;
  }
  g_ptr_array_add (tiles, g_steal_pointer (&cur));

  /* RGB conversion comes last in the reference, after all the resizing. */
  if (s->do_convert_rgb) {
    for (guint i = 0; i < tiles->len; i++) {
      VlmImage *rgb = vlm_image_composite_on_white (tiles->pdata[i]);
      vlm_image_unref (tiles->pdata[i]);
      tiles->pdata[i] = rgb;
    }
  }
  return tiles;

fail:
  g_ptr_array_unref (tiles);
  return NULL;
}

gboolean
idefics3_image_process (const Idefics3ImageSettings *s, VlmImage **images, guint n_images,
                        Idefics3ImageBatch *out, GError **error)
{
  g_return_val_if_fail (s != NULL && out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  if (n_images == 0) {
    g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID,
                         "Idefics3 processor: no images to process");
    return FALSE;
  }
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) vlm_image_unref);
  int *rows = g_new0 (int, n_images), *cols = g_new0 (int, n_images);
  for (guint i = 0; i < n_images; i++) {
    GPtrArray *tiles = idefics3_image_make_tiles (s, images[i], &rows[i], &cols[i], error);
    if (tiles == NULL) {
      g_free (rows);
      g_free (cols);
      return FALSE;
    }
    for (guint t = 0; t < tiles->len; t++)
      g_ptr_array_add (all, vlm_image_ref (tiles->pdata[t]));
    g_ptr_array_unref (tiles);
  }

  /* Pad every tile to the largest height and width (do_pad); without padding
   * the reference can only stack tiles of one size. */
  int max_h = 0, max_w = 0;
  for (guint t = 0; t < all->len; t++) {
    max_h = MAX (max_h, vlm_image_get_height (all->pdata[t]));
    max_w = MAX (max_w, vlm_image_get_width (all->pdata[t]));
  }
  for (guint t = 0; t < all->len && !s->do_pad; t++) {
    if (vlm_image_get_height (all->pdata[t]) != max_h ||
        vlm_image_get_width (all->pdata[t]) != max_w) {
      g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID,
                           "Idefics3 processor: tiles of different sizes need do_pad");
      g_free (rows);
      g_free (cols);
      return FALSE;
    }
  }

  gint64 pv_shape[5] = { 1, all->len, 3, max_h, max_w };
  gint64 mask_shape[4] = { 1, all->len, max_h, max_w };
  VlmTensor *pv = vlm_tensor_new (VLM_DTYPE_F32, 5, pv_shape);
  VlmTensor *mask = vlm_tensor_new (VLM_DTYPE_I64, 4, mask_shape);
  float *pvd = vlm_tensor_get_data_mut (pv);
  gint64 *md = vlm_tensor_get_data_mut (mask);
  gsize plane = (gsize) max_h * max_w;
  for (guint t = 0; t < all->len; t++) {
    VlmImage *tile = all->pdata[t];
    int h = vlm_image_get_height (tile), w = vlm_image_get_width (tile);
    const VlmImageNormalize *norm = &s->norm;
    g_autoptr (VlmTensor) chw = vlm_image_to_chw_f32 (
      tile, norm->do_rescale ? norm->rescale_factor : 1.0,
      norm->do_normalize ? norm->image_mean : NULL, norm->do_normalize ? norm->image_std : NULL,
      error);
    if (chw == NULL || vlm_tensor_get_dim (chw, 0) != 3) {
      if (chw != NULL)
        g_set_error_literal (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                             "Idefics3 processor: tiles must have 3 channels");
      vlm_tensor_unref (pv);
      vlm_tensor_unref (mask);
      g_free (rows);
      g_free (cols);
      return FALSE;
    }
    const float *src = vlm_tensor_get_data (chw);
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < h; y++)
        memcpy (pvd + (t * 3 + c) * plane + (gsize) y * max_w,
                src + ((gsize) c * h + y) * w, (gsize) w * sizeof (float));
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        md[t * plane + (gsize) y * max_w + x] = 1;
  }
  out->pixel_values = pv;
  out->pixel_attention_mask = mask;
  out->n_images = n_images;
  out->rows = rows;
  out->cols = cols;
  return TRUE;
}

void
idefics3_image_batch_clear (Idefics3ImageBatch *batch)
{
  g_clear_pointer (&batch->pixel_values, vlm_tensor_unref);
  g_clear_pointer (&batch->pixel_attention_mask, vlm_tensor_unref);
  g_clear_pointer (&batch->rows, g_free);
  g_clear_pointer (&batch->cols, g_free);
  batch->n_images = 0;
}

static void
append_repeated (GString *s, const char *text, int times)
{
  for (int i = 0; i < times; i++)
    g_string_append (s, text);
}

char *
idefics3_expand_prompt (const char *prompt, const int *rows, const int *cols, guint n_images,
                        int image_seq_len, const Idefics3PromptTokens *tokens, GError **error)
{
  g_return_val_if_fail (prompt != NULL, NULL);
  const char *fake = tokens && tokens->fake_token_around_image ? tokens->fake_token_around_image
                                                               : "<fake_token_around_image>";
  const char *image = tokens && tokens->image_token ? tokens->image_token : "<image>";
  const char *global = tokens && tokens->global_image_token ? tokens->global_image_token
                                                            : "<global-img>";
  g_auto (GStrv) parts = g_strsplit (prompt, image, -1);
  guint n_parts = g_strv_length (parts), n_tokens = n_parts ? n_parts - 1 : 0; /* "": no parts */
  if (n_tokens != n_images) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "the prompt has %u %s tokens but %u image(s) were given", n_tokens, image,
                 n_images);
    return NULL;
  }
  if (image_seq_len < 1) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "image_seq_len must be positive, not %d",
                 image_seq_len);
    return NULL;
  }
  GString *s = g_string_new (parts[0]);
  for (guint i = 0; i < n_images; i++) {
    if (rows[i] == 0 && cols[i] == 0) {
      g_string_append_printf (s, "%s%s", fake, global);
    } else {
      for (int r = 0; r < rows[i]; r++) {
        for (int c = 0; c < cols[i]; c++) {
          g_string_append_printf (s, "%s<row_%d_col_%d>", fake, r + 1, c + 1);
          append_repeated (s, image, image_seq_len);
        }
        g_string_append_c (s, '\n');
      }
      g_string_append_printf (s, "\n%s%s", fake, global);
    }
    append_repeated (s, image, image_seq_len);
    g_string_append (s, fake);
    g_string_append (s, parts[i + 1]);
  }
  return g_string_free (s, FALSE);
}
