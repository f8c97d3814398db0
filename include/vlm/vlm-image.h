/* vlm-image.h: decoded images and the Pillow-exact operations processors need. */
#pragma once

#include <glib-object.h>
#include <vlm/vlm-tensor.h>

G_BEGIN_DECLS

/**
 * VLM_IMAGE_DEFAULT_MAX_PIXELS:
 *
 * The default limit on width x height when loading (100 megapixels).
 */
#define VLM_IMAGE_DEFAULT_MAX_PIXELS G_GUINT64_CONSTANT (100000000)

/**
 * VlmImageMode:
 * @VLM_IMAGE_MODE_L: gray, 1 channel
 * @VLM_IMAGE_MODE_LA: gray + alpha, 2 channels
 * @VLM_IMAGE_MODE_RGB: 3 channels
 * @VLM_IMAGE_MODE_RGBA: RGB + straight (not premultiplied) alpha, 4 channels
 * @VLM_IMAGE_MODE_P: a palette image (PNG color type 3, GIF) stored expanded to
 *   RGB, or RGBA when the palette has transparency. Pillow would keep palette
 *   indices; what matters to processors is that Pillow resizes "P" images
 *   nearest-neighbour whatever filter is asked for.
 *
 * The Pillow mode a source decodes to with `Image.open()`, so processors can
 * reproduce Pillow's `convert()` and `resize()` rules exactly.
 */
typedef enum {
  VLM_IMAGE_MODE_L,
  VLM_IMAGE_MODE_LA,
  VLM_IMAGE_MODE_RGB,
  VLM_IMAGE_MODE_RGBA,
  VLM_IMAGE_MODE_P,
} VlmImageMode;

/**
 * VlmResample:
 * @VLM_RESAMPLE_NEAREST: nearest neighbour (Pillow's affine-scale path)
 * @VLM_RESAMPLE_LANCZOS: Lanczos, a = 3
 * @VLM_RESAMPLE_BILINEAR: triangle filter
 * @VLM_RESAMPLE_BICUBIC: cubic convolution, a = -0.5
 * @VLM_RESAMPLE_BOX: box filter
 * @VLM_RESAMPLE_HAMMING: Hamming-windowed sinc, support 1
 *
 * Resampling filters; the values are Pillow's filter ids, as found in
 * `preprocessor_config.json` "resample" fields.
 */
typedef enum {
  VLM_RESAMPLE_NEAREST = 0,
  VLM_RESAMPLE_LANCZOS = 1,
  VLM_RESAMPLE_BILINEAR = 2,
  VLM_RESAMPLE_BICUBIC = 3,
  VLM_RESAMPLE_BOX = 4,
  VLM_RESAMPLE_HAMMING = 5,
} VlmResample;

/**
 * VlmImage:
 *
 * An immutable, reference-counted decoded image: a #VlmImageMode and a
 * contiguous U8 tensor [height, width, channels] (channels as the mode says;
 * 3 or 4 for %VLM_IMAGE_MODE_P).
 */
typedef struct _VlmImage VlmImage;

GType         vlm_image_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_IMAGE (vlm_image_get_type ())
GType         vlm_image_mode_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_IMAGE_MODE (vlm_image_mode_get_type ())
GType         vlm_resample_get_type (void) G_GNUC_CONST;
#define VLM_TYPE_RESAMPLE (vlm_resample_get_type ())

const char   *vlm_image_mode_to_string (VlmImageMode mode);
gboolean      vlm_image_mode_from_string (const char *name, VlmImageMode *out);

VlmImage     *vlm_image_new (VlmImageMode mode, VlmTensor *pixels, GError **error);
VlmImage     *vlm_image_ref (VlmImage *image);
void          vlm_image_unref (VlmImage *image);
VlmImageMode  vlm_image_get_mode (const VlmImage *image);
VlmTensor    *vlm_image_get_pixels (const VlmImage *image);
int           vlm_image_get_width (const VlmImage *image);
int           vlm_image_get_height (const VlmImage *image);
int           vlm_image_get_channels (const VlmImage *image);

VlmImage     *vlm_image_load_file (const char *path, guint64 max_pixels,
                                   gboolean apply_exif_orientation, GError **error);
VlmImage     *vlm_image_load_bytes (GBytes *data, const char *name, guint64 max_pixels,
                                    gboolean apply_exif_orientation, GError **error);

VlmImage     *vlm_image_resize (VlmImage *image, int width, int height, VlmResample filter,
                                GError **error);
VlmImage     *vlm_image_convert (VlmImage *image, VlmImageMode mode, GError **error);
VlmImage     *vlm_image_composite_on_white (VlmImage *image);
VlmImage     *vlm_image_crop (VlmImage *image, int x, int y, int width, int height,
                              GError **error);
VlmImage     *vlm_image_center_crop (VlmImage *image, int width, int height, GError **error);
VlmTensor    *vlm_image_to_chw_f32 (VlmImage *image, double rescale_factor,
                                    const float *mean, const float *std, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VlmImage, vlm_image_unref)

G_END_DECLS
