/* vlm-image-resize.c: Image.resize with Pillow 9.4's per-mode rules around the
 * 8-bit resampler: "P" images always resize nearest, and images with alpha
 * resize premultiplied ("RGBa"/"La") unless the filter is nearest. */
#include "vlm/vlm-image.h"
#include "vlm/vlm-error.h"
#include "image/image-private.h"
#include "image/pil-resample.h"

/* Pillow's rounded a * b / 255. */
static inline guint8
muldiv255 (guint a, guint b)
{
  guint t = a * b + 128;
  return (guint8) (((t >> 8) + t) >> 8);
}

static void
premultiply (guint8 *px, gsize n, int channels)
{
  for (gsize i = 0; i < n; i++, px += channels) {
    guint alpha = px[channels - 1];
    for (int c = 0; c < channels - 1; c++)
      px[c] = muldiv255 (px[c], alpha);
  }
}

static void
unpremultiply (guint8 *px, gsize n, int channels)
{
  for (gsize i = 0; i < n; i++, px += channels) {
    guint alpha = px[channels - 1];
    if (alpha == 0 || alpha == 255)
      continue;
    for (int c = 0; c < channels - 1; c++) {
      guint v = 255 * px[c] / alpha;
      px[c] = (guint8) MIN (v, 255);
    }
  }
}

/**
 * vlm_image_resize:
 * @image: an image
 * @width: output width, at least 1
 * @height: output height, at least 1
 * @filter: the resampling filter (Pillow's id)
 * @error: return location for a #GError
 *
 * Pillow 9.4's `Image.resize((width, height), filter)` on the whole image,
 * bit-exact: palette ("P") images resize nearest-neighbour whatever @filter
 * says, images with alpha are premultiplied around the resampling, and an
 * unchanged size returns the image itself.
 *
 * Returns: (transfer full) (nullable): the resized image, or %NULL with
 *   @error set
 */
VlmImage *
vlm_image_resize (VlmImage *image, int width, int height, VlmResample filter, GError **error)
{
  g_return_val_if_fail (image != NULL, NULL);
  if (width < 1 || height < 1) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "cannot resize an image to %dx%d", width, height);
    return NULL;
  }
  if ((guint) filter > VLM_RESAMPLE_HAMMING) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "unknown resampling filter %d",
                 (int) filter);
    return NULL;
  }
  /* Keep one output (or temporary) buffer under 4 GiB of 8-bit samples. */
  int channels = vlm_image_get_channels (image);
  if ((guint64) width * height * channels > G_MAXUINT32) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT,
                 "resizing to %dx%d exceeds the image size limit", width, height);
    return NULL;
  }
  int in_w = vlm_image_get_width (image), in_h = vlm_image_get_height (image);
  if (in_w == width && in_h == height)
    return vlm_image_ref (image);

  VlmImageMode mode = vlm_image_get_mode (image);
  if (mode == VLM_IMAGE_MODE_P)
    filter = VLM_RESAMPLE_NEAREST;
  gboolean premul = filter != VLM_RESAMPLE_NEAREST &&
                    (mode == VLM_IMAGE_MODE_RGBA || mode == VLM_IMAGE_MODE_LA);

  const guint8 *src = vlm_image_peek_data (image);
  guint8 *scratch = NULL;
  if (premul) {
    gsize n = (gsize) in_w * in_h;
    scratch = g_memdup2 (src, n * channels);
    premultiply (scratch, n, channels);
    src = scratch;
  }
  VlmImage *out = vlm_image_new_blank (mode, width, height, channels);
  guint8 *dst = vlm_image_peek_data_mut (out);
  vlm_pil_resample_u8 (src, in_w, in_h, channels, dst, width, height, filter);
  if (premul)
    unpremultiply (dst, (gsize) width * height, channels);
  g_free (scratch);
  return out;
}
