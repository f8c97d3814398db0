/* image-private.h: helpers shared by the core/image sources (internal). */
#pragma once

#include "vlm/vlm-image.h"

G_BEGIN_DECLS

/* Wraps a new contiguous U8 tensor whose shape fits @mode (steals @pixels). */
VlmImage     *vlm_image_new_take (VlmImageMode mode, VlmTensor *pixels);
/* An image with uninitialised pixels the caller fills. */
VlmImage     *vlm_image_new_blank (VlmImageMode mode, int width, int height, int channels);
const guint8 *vlm_image_peek_data (const VlmImage *image);
/* Only for images the caller has just created and not shared yet. */
guint8       *vlm_image_peek_data_mut (VlmImage *image);

G_END_DECLS
