/* image-sniff.h: dimensions and Pillow mode from an image file's header (internal). */
#pragma once

#include <glib.h>
#include "vlm/vlm-image.h"

G_BEGIN_DECLS

typedef struct {
  const char *format;   /* "png", "jpeg", "gif", "webp" */
  guint32 width;
  guint32 height;
  gboolean mode_known;  /* FALSE: decide RGB/RGBA from the decoded alpha */
  VlmImageMode mode;
  gboolean truncated;   /* the container declares more bytes than there are */
} VlmImageHeader;

/* Parses the header of a PNG, JPEG, GIF or WebP without decoding pixels.
 * Returns FALSE for other formats or a header too short to tell. */
gboolean vlm_image_sniff (const guint8 *data, gsize len, VlmImageHeader *out);

G_END_DECLS
