/* vlm-image.c: the VlmImage value (mode + U8 HWC pixels) and its Pillow-mode
 * conversions, crops and the float conversion processors end with. */
#include "vlm/vlm-image.h"
#include "vlm/vlm-error.h"
#include "image/image-private.h"

#include <string.h>

struct _VlmImage {
  gatomicrefcount ref;
  VlmImageMode mode;
  VlmTensor *pixels; /* contiguous U8 [H, W, C] */
};

G_DEFINE_BOXED_TYPE (VlmImage, vlm_image, vlm_image_ref, vlm_image_unref)

G_DEFINE_ENUM_TYPE (VlmImageMode, vlm_image_mode,
  G_DEFINE_ENUM_VALUE (VLM_IMAGE_MODE_L, "L"),
  G_DEFINE_ENUM_VALUE (VLM_IMAGE_MODE_LA, "LA"),
  G_DEFINE_ENUM_VALUE (VLM_IMAGE_MODE_RGB, "RGB"),
  G_DEFINE_ENUM_VALUE (VLM_IMAGE_MODE_RGBA, "RGBA"),
  G_DEFINE_ENUM_VALUE (VLM_IMAGE_MODE_P, "P"))

G_DEFINE_ENUM_TYPE (VlmResample, vlm_resample,
  G_DEFINE_ENUM_VALUE (VLM_RESAMPLE_NEAREST, "nearest"),
  G_DEFINE_ENUM_VALUE (VLM_RESAMPLE_LANCZOS, "lanczos"),
  G_DEFINE_ENUM_VALUE (VLM_RESAMPLE_BILINEAR, "bilinear"),
  G_DEFINE_ENUM_VALUE (VLM_RESAMPLE_BICUBIC, "bicubic"),
  G_DEFINE_ENUM_VALUE (VLM_RESAMPLE_BOX, "box"),
  G_DEFINE_ENUM_VALUE (VLM_RESAMPLE_HAMMING, "hamming"))

static const char *const mode_names[] = { "L", "LA", "RGB", "RGBA", "P" };

/**
 * vlm_image_mode_to_string:
 * @mode: a #VlmImageMode
 *
 * Returns: the Pillow mode name ("L", "LA", "RGB", "RGBA" or "P")
 */
const char *
vlm_image_mode_to_string (VlmImageMode mode)
{
  g_return_val_if_fail ((guint) mode < G_N_ELEMENTS (mode_names), "?");
  return mode_names[mode];
}

/**
 * vlm_image_mode_from_string:
 * @name: a Pillow mode name
 * @out: (out): the mode
 *
 * Returns: %TRUE if @name is one of the supported modes
 */
gboolean
vlm_image_mode_from_string (const char *name, VlmImageMode *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (mode_names); i++) {
    if (g_strcmp0 (name, mode_names[i]) == 0) {
      *out = (VlmImageMode) i;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
channels_fit_mode (VlmImageMode mode, gint64 channels)
{
  switch (mode) {
  case VLM_IMAGE_MODE_L: return channels == 1;
  case VLM_IMAGE_MODE_LA: return channels == 2;
  case VLM_IMAGE_MODE_RGB: return channels == 3;
  case VLM_IMAGE_MODE_RGBA: return channels == 4;
  case VLM_IMAGE_MODE_P: return channels == 3 || channels == 4;
  default: return FALSE;
  }
}

/**
 * vlm_image_new:
 * @mode: the Pillow mode of the pixels
 * @pixels: a U8 tensor [height, width, channels] whose channel count fits @mode
 * @error: return location for a #GError
 *
 * Wraps @pixels (made contiguous if needed) as an image.
 *
 * Returns: (transfer full) (nullable): the image, or %NULL with @error set
 */
VlmImage *
vlm_image_new (VlmImageMode mode, VlmTensor *pixels, GError **error)
{
  g_return_val_if_fail (pixels != NULL, NULL);
  if (vlm_tensor_get_dtype (pixels) != VLM_DTYPE_U8 || vlm_tensor_get_ndim (pixels) != 3 ||
      vlm_tensor_get_dim (pixels, 0) < 1 || vlm_tensor_get_dim (pixels, 1) < 1 ||
      vlm_tensor_get_dim (pixels, 0) > G_MAXINT || vlm_tensor_get_dim (pixels, 1) > G_MAXINT ||
      !channels_fit_mode (mode, vlm_tensor_get_dim (pixels, 2))) {
    g_autofree char *desc = vlm_tensor_describe (pixels);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "image pixels %s: expected a non-empty U8 [height, width, channels] tensor "
                 "with channels fitting mode %s",
                 desc, vlm_image_mode_to_string (mode));
    return NULL;
  }
  VlmImage *self = g_new0 (VlmImage, 1);
  g_atomic_ref_count_init (&self->ref);
  self->mode = mode;
  self->pixels = vlm_tensor_is_contiguous (pixels) ? vlm_tensor_ref (pixels)
                                                    : vlm_tensor_contiguous (pixels);
  return self;
}

/* Takes ownership of a freshly made contiguous tensor that is known to fit. */
VlmImage *
vlm_image_new_take (VlmImageMode mode, VlmTensor *pixels)
{
  VlmImage *self = vlm_image_new (mode, pixels, NULL);
  g_assert (self != NULL);
  vlm_tensor_unref (pixels);
  return self;
}

VlmImage *
vlm_image_new_blank (VlmImageMode mode, int width, int height, int channels)
{
  gint64 shape[3] = { height, width, channels };
  return vlm_image_new_take (mode, vlm_tensor_new_empty (VLM_DTYPE_U8, 3, shape));
}

/**
 * vlm_image_ref:
 * @image: an image
 *
 * Returns: (transfer full): @image
 */
VlmImage *
vlm_image_ref (VlmImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);
  g_atomic_ref_count_inc (&image->ref);
  return image;
}

/**
 * vlm_image_unref:
 * @image: (transfer full): an image
 *
 * Drops a reference.
 */
void
vlm_image_unref (VlmImage *image)
{
  g_return_if_fail (image != NULL);
  if (g_atomic_ref_count_dec (&image->ref)) {
    vlm_tensor_unref (image->pixels);
    g_free (image);
  }
}

/**
 * vlm_image_get_mode:
 * @image: an image
 *
 * Returns: the Pillow mode the pixels are in
 */
VlmImageMode
vlm_image_get_mode (const VlmImage *image)
{
  return image->mode;
}

/**
 * vlm_image_get_pixels:
 * @image: an image
 *
 * Returns: (transfer none): the contiguous U8 [height, width, channels] tensor;
 *   treat it as read-only
 */
VlmTensor *
vlm_image_get_pixels (const VlmImage *image)
{
  return image->pixels;
}

/**
 * vlm_image_get_width:
 * @image: an image
 *
 * Returns: the width in pixels
 */
int
vlm_image_get_width (const VlmImage *image)
{
  return (int) vlm_tensor_get_dim (image->pixels, 1);
}

/**
 * vlm_image_get_height:
 * @image: an image
 *
 * Returns: the height in pixels
 */
int
vlm_image_get_height (const VlmImage *image)
{
  return (int) vlm_tensor_get_dim (image->pixels, 0);
}

/**
 * vlm_image_get_channels:
 * @image: an image
 *
 * Returns: the channel count (1 to 4)
 */
int
vlm_image_get_channels (const VlmImage *image)
{
  return (int) vlm_tensor_get_dim (image->pixels, 2);
}

const guint8 *
vlm_image_peek_data (const VlmImage *image)
{
  return vlm_tensor_get_data (image->pixels);
}

guint8 *
vlm_image_peek_data_mut (VlmImage *image)
{
  return vlm_tensor_get_data_mut (image->pixels);
}

/* Pillow's Convert.c ITU-R 601-2 luma with 16-bit fixed-point weights. */
static inline guint8
luma (const guint8 *p)
{
  return (guint8) ((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
}

/* Reads pixel @p of a @src_channels image as RGBA the way Pillow's convert("RGBA")
 * does: gray replicated, missing alpha opaque. */
static inline void
to_rgba (const guint8 *p, int src_channels, guint8 out[4])
{
  switch (src_channels) {
  case 1: out[0] = out[1] = out[2] = p[0]; out[3] = 255; break;
  case 2: out[0] = out[1] = out[2] = p[0]; out[3] = p[1]; break;
  case 3: memcpy (out, p, 3); out[3] = 255; break;
  default: memcpy (out, p, 4); break;
  }
}

/**
 * vlm_image_convert:
 * @image: an image
 * @mode: the target mode: %VLM_IMAGE_MODE_L, %VLM_IMAGE_MODE_LA,
 *   %VLM_IMAGE_MODE_RGB or %VLM_IMAGE_MODE_RGBA
 * @error: return location for a #GError
 *
 * Pillow's `convert(mode)`: gray is replicated into R, G and B, alpha is
 * dropped without compositing (or added opaque), color to gray uses
 * ITU-R 601-2 luma in Pillow's fixed point. A palette image converts from its
 * expanded colors.
 *
 * Returns: (transfer full) (nullable): the converted image (a new reference to
 *   @image when the mode already matches), or %NULL with @error set
 */
VlmImage *
vlm_image_convert (VlmImage *image, VlmImageMode mode, GError **error)
{
  g_return_val_if_fail (image != NULL, NULL);
  if (mode == VLM_IMAGE_MODE_P) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "cannot convert a %s image to P: quantizing to a palette is not supported",
                 vlm_image_mode_to_string (image->mode));
    return NULL;
  }
  if (image->mode == mode)
    return vlm_image_ref (image);

  static const int mode_channels[] = { 1, 2, 3, 4 };
  int w = vlm_image_get_width (image), h = vlm_image_get_height (image);
  int sc = vlm_image_get_channels (image), dc = mode_channels[mode];
  VlmImage *out = vlm_image_new_blank (mode, w, h, dc);
  const guint8 *s = vlm_image_peek_data (image);
  guint8 *d = vlm_image_peek_data_mut (out);
  gsize n = (gsize) w * h;
  for (gsize i = 0; i < n; i++, s += sc, d += dc) {
    guint8 rgba[4];
    to_rgba (s, sc, rgba);
    /* Gray from gray keeps the value; from color it is the luma. */
    guint8 gray = sc <= 2 ? s[0] : luma (rgba);
    switch (mode) {
    case VLM_IMAGE_MODE_L: d[0] = gray; break;
    case VLM_IMAGE_MODE_LA: d[0] = gray; d[1] = rgba[3]; break;
    case VLM_IMAGE_MODE_RGB: memcpy (d, rgba, 3); break;
    default: memcpy (d, rgba, 4); break;
    }
  }
  return out;
}

/* Pillow's rounded x / 255 for x < 65536 * 255. */
static inline guint32
div255_shift (guint32 a)
{
  return ((a >> 8) + a) >> 8;
}

/**
 * vlm_image_composite_on_white:
 * @image: an image
 *
 * The RGB conversion of Idefics3-family processors: the image as RGBA,
 * alpha-composited over opaque white with Pillow's `Image.alpha_composite`
 * integer arithmetic, then alpha dropped. Opaque images come out as their RGB
 * conversion. A palette image's own transparency is ignored, as the reference
 * rebuilds it from `getpalette()` (RGB only).
 *
 * Returns: (transfer full): an RGB image
 */
VlmImage *
vlm_image_composite_on_white (VlmImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);
  int w = vlm_image_get_width (image), h = vlm_image_get_height (image);
  int sc = vlm_image_get_channels (image);
  gboolean ignore_alpha = image->mode == VLM_IMAGE_MODE_P;
  VlmImage *out = vlm_image_new_blank (VLM_IMAGE_MODE_RGB, w, h, 3);
  const guint8 *s = vlm_image_peek_data (image);
  guint8 *d = vlm_image_peek_data_mut (out);
  gsize n = (gsize) w * h;
  for (gsize i = 0; i < n; i++, s += sc, d += 3) {
    guint8 px[4];
    to_rgba (s, sc, px);
    guint32 a = ignore_alpha ? 255 : px[3];
    if (a == 0) {
      d[0] = d[1] = d[2] = 255;
      continue;
    }
    /* Destination (white) alpha is 255, so out alpha is 255 and Pillow's
     * 7-bit coefficients reduce to a * 128 and (255 - a) * 128. */
    guint32 blend = 255 * (255 - a);
    guint32 outa255 = a * 255 + blend;
    guint32 coef1 = a * 255 * 255 * 128 / outa255;
    guint32 coef2 = 255 * 128 - coef1;
    for (int c = 0; c < 3; c++) {
      guint32 t = px[c] * coef1 + 255 * coef2;
      d[c] = (guint8) (div255_shift (t + (0x80 << 7)) >> 7);
    }
  }
  return out;
}

/**
 * vlm_image_crop:
 * @image: an image
 * @x: left column
 * @y: top row
 * @width: columns to keep
 * @height: rows to keep
 * @error: return location for a #GError
 *
 * Copies a rectangle that lies inside @image (numpy slicing).
 *
 * Returns: (transfer full) (nullable): the crop, or %NULL with @error set
 */
VlmImage *
vlm_image_crop (VlmImage *image, int x, int y, int width, int height, GError **error)
{
  g_return_val_if_fail (image != NULL, NULL);
  int w = vlm_image_get_width (image), h = vlm_image_get_height (image);
  int c = vlm_image_get_channels (image);
  if (x < 0 || y < 0 || width < 1 || height < 1 || x > w - width || y > h - height) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "crop %dx%d at (%d, %d) does not fit in a %dx%d image", width, height, x, y,
                 w, h);
    return NULL;
  }
  VlmImage *out = vlm_image_new_blank (image->mode, width, height, c);
  const guint8 *s = vlm_image_peek_data (image);
  guint8 *d = vlm_image_peek_data_mut (out);
  gsize row = (gsize) width * c;
  for (int r = 0; r < height; r++)
    memcpy (d + r * row, s + ((gsize) (y + r) * w + x) * c, row);
  return out;
}

/**
 * vlm_image_center_crop:
 * @image: an image
 * @width: crop width, at most the image width
 * @height: crop height, at most the image height
 * @error: return location for a #GError
 *
 * transformers' `center_crop` for crops that fit: top = (H - height) / 2 and
 * left = (W - width) / 2, rounded down.
 *
 * Returns: (transfer full) (nullable): the crop, or %NULL with @error set
 */
VlmImage *
vlm_image_center_crop (VlmImage *image, int width, int height, GError **error)
{
  g_return_val_if_fail (image != NULL, NULL);
  int w = vlm_image_get_width (image), h = vlm_image_get_height (image);
  return vlm_image_crop (image, (w - width) / 2, (h - height) / 2, width, height, error);
}

/**
 * vlm_image_to_chw_f32:
 * @image: an image
 * @rescale_factor: multiplies every value (1/255 in most processors), in double
 *   precision as numpy does on the uint8 array
 * @mean: (array) (nullable): one value per channel, or %NULL to skip normalizing
 * @std: (array) (nullable): one value per channel, or %NULL to skip normalizing
 * @error: return location for a #GError
 *
 * The processors' rescale and normalize: float32(u8 * @rescale_factor), then
 * (x - mean) / std in float32, transposed to [channels, height, width].
 *
 * Returns: (transfer full) (nullable): an F32 tensor, or %NULL with @error set
 */
VlmTensor *
vlm_image_to_chw_f32 (VlmImage *image, double rescale_factor, const float *mean,
                      const float *std, GError **error)
{
  g_return_val_if_fail (image != NULL, NULL);
  if ((mean == NULL) != (std == NULL)) {
    g_set_error_literal (error, VLM_ERROR, VLM_ERROR_INVALID,
                         "image normalization needs both mean and std, or neither");
    return NULL;
  }
  int w = vlm_image_get_width (image), h = vlm_image_get_height (image);
  int c = vlm_image_get_channels (image);
  if (std != NULL) {
    for (int k = 0; k < c; k++) {
      if (std[k] == 0.0f) {
        g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                     "image normalization: std of channel %d is zero", k);
        return NULL;
      }
    }
  }
  gint64 shape[3] = { c, h, w };
  VlmTensor *out = vlm_tensor_new_empty (VLM_DTYPE_F32, 3, shape);
  float *d = vlm_tensor_get_data_mut (out);
  const guint8 *s = vlm_image_peek_data (image);
  gsize plane = (gsize) w * h;
  for (int k = 0; k < c; k++) {
    /* Only 256 distinct inputs per channel: tabulate them. */
    float table[256];
    for (int v = 0; v < 256; v++) {
      float x = (float) (v * rescale_factor);
      table[v] = std != NULL ? (x - mean[k]) / std[k] : x;
    }
    for (gsize i = 0; i < plane; i++)
      d[k * plane + i] = table[s[i * c + k]];
  }
  return out;
}
