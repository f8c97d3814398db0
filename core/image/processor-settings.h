/* processor-settings.h: typed reads of image-processor settings (the merged
 * preprocessor_config.json / processor_config.json object of a VlmModelDir) and
 * the rescale + normalize step the SigLIP, CLIP, Gemma 3 and Qwen2-VL image
 * processors share. Internal. */
#pragma once

#include <json-glib/json-glib.h>
#include "vlm/vlm-image.h"

G_BEGIN_DECLS

/* Each reader leaves *out unchanged when @key is absent or null and fails with
 * VLM_ERROR_FORMAT, naming @source and @key, when the value has the wrong type. */
gboolean vlm_settings_read_bool (JsonObject *settings, const char *key, gboolean *out,
                                 const char *source, GError **error);
gboolean vlm_settings_read_double (JsonObject *settings, const char *key, double *out,
                                   const char *source, GError **error);
/* An integer in [min, max]. */
gboolean vlm_settings_read_int (JsonObject *settings, const char *key, gint64 min, gint64 max,
                                int *out, const char *source, GError **error);
/* A positive integer member of an object setting, e.g. "size": {"height": N};
 * absent when the object or the member is absent. */
gboolean vlm_settings_read_member_int (JsonObject *settings, const char *key, const char *member,
                                       int *out, const char *source, GError **error);
/* Three numbers (image_mean, image_std), stored as float32 as numpy does. */
gboolean vlm_settings_read_triple (JsonObject *settings, const char *key, float out[3],
                                   gboolean nonzero, const char *source, GError **error);
/* A Pillow filter id, 0 to 5. */
gboolean vlm_settings_read_resample (JsonObject *settings, const char *key, VlmResample *out,
                                     const char *source, GError **error);
gboolean vlm_settings_read_string (JsonObject *settings, const char *key, char **out,
                                   const char *source, GError **error);

/* transformers' image_utils defaults: OPENAI_CLIP_MEAN / OPENAI_CLIP_STD (CLIP, Qwen2-VL)
 * and IMAGENET_STANDARD_MEAN / IMAGENET_STANDARD_STD (SigLIP, Gemma 3, Idefics3). */
extern const float VLM_OPENAI_CLIP_MEAN[3], VLM_OPENAI_CLIP_STD[3];
extern const float VLM_IMAGENET_STANDARD_MEAN[3], VLM_IMAGENET_STANDARD_STD[3];

/* transformers' rescale + normalize settings. */
typedef struct {
  gboolean do_rescale;
  double rescale_factor;
  gboolean do_normalize;
  float image_mean[3];
  float image_std[3];
} VlmImageNormalize;

/* Sets @norm to transformers' defaults with the given mean/std and reads
 * do_rescale, rescale_factor, do_normalize, image_mean and image_std. */
gboolean vlm_image_normalize_load (VlmImageNormalize *norm, const float mean[3],
                                   const float std[3], JsonObject *settings, const char *source,
                                   GError **error);
/* Writes an RGB image as float32 [3, H, W] into @dst (rescale then normalize,
 * with numpy's float32/float64 rounding). */
gboolean vlm_image_normalize_into (const VlmImageNormalize *norm, VlmImage *rgb, float *dst,
                                   GError **error);

/* Stacks same-sized RGB images into float32 [n, 3, H, W] (NULL with @error
 * set when the sizes differ or @n is 0). */
VlmTensor *vlm_image_normalize_batch (const VlmImageNormalize *norm, VlmImage **images, guint n,
                                      GError **error);

/* Fixed-size resizing (SigLIP-style processors: PaliGemma, Gemma 3). */
typedef struct {
  gboolean do_resize;
  int width, height;       /* size.width, size.height */
  VlmResample resample;
} VlmFixedResize;

/* Reads do_resize, size.height, size.width and resample over the defaults in @resize. */
gboolean vlm_fixed_resize_load (VlmFixedResize *resize, JsonObject *settings, const char *source,
                                GError **error);
/* @image resized to the set size; a new reference to @image when do_resize is off. */
VlmImage *vlm_fixed_resize_apply (const VlmFixedResize *resize, VlmImage *image, GError **error);

G_END_DECLS
