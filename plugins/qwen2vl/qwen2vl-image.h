/* qwen2vl-image.h: transformers' Qwen2VLImageProcessor (slow path) for still
 * images: smart_resize, and the patch layout the vision tower's Conv3d patch
 * embedding reads. Internal to the qwen2vl plugin. */
#pragma once

#include <vlm/vlm.h>

G_BEGIN_DECLS

/* smart_resize: both sides multiples of @factor (rounded half to even), the
 * area brought within [min_pixels, max_pixels] keeping the aspect ratio;
 * fails for an aspect ratio above 200. */
gboolean   qwen2vl_smart_resize (int height, int width, int factor, gint64 min_pixels,
                                 gint64 max_pixels, int *out_height, int *out_width,
                                 GError **error);

/* Patches of one normalized image @chw (float32 [3, H, W], H and W multiples
 * of patch * merge), the still image repeated @temporal times, written to @dst
 * as [grid_h * grid_w, 3 * temporal * patch * patch] rows in merge order (each
 * merge x merge block of patches, blocks row-major), columns (channel,
 * temporal copy, y, x). */
void       qwen2vl_patchify (const float *chw, int height, int width, int patch, int merge,
                             int temporal, float *dst);

G_END_DECLS
