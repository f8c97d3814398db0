/* pil-resample.h: Pillow 9.4's 8-bit resize, reproduced bit for bit (internal). */
#pragma once

#include <glib.h>
#include "vlm/vlm-image.h"

G_BEGIN_DECLS

/* Resizes interleaved 8-bit pixels (@channels per pixel, rows packed) the way
 * Pillow's Image.resize does on a non-"P" image with the full source box:
 * NEAREST through the affine scaler, the other filters through the separable
 * convolution (horizontal pass first, each pass rounded to 8 bits). Channels
 * are treated independently: premultiplying alpha is the caller's job. */
void vlm_pil_resample_u8 (const guint8 *src, int in_width, int in_height, int channels,
                          guint8 *dst, int out_width, int out_height, VlmResample filter);

G_END_DECLS
