/* image-sniff.c: reads just enough of a header to (1) check the pixel limit
 * before anything is decoded and (2) know the mode Pillow would open the file
 * in, which gdk-pixbuf hides (it always hands out RGB or RGBA). */
#include "image/image-sniff.h"

#include <string.h>

static guint32
be16 (const guint8 *p)
{
  return ((guint32) p[0] << 8) | p[1];
}

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static guint32
le16 (const guint8 *p)
{
  return p[0] | ((guint32) p[1] << 8);
}

static guint32
le24 (const guint8 *p)
{
  return p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16);
}

static gboolean
sniff_png (const guint8 *d, gsize len, VlmImageHeader *out)
{
  static const guint8 sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  if (len < 8 || memcmp (d, sig, 8) != 0)
    return FALSE;
  out->format = "png";
  if (len < 26 || memcmp (d + 12, "IHDR", 4) != 0)
    return TRUE; /* a PNG with a broken header: the decoder will say why */
  out->width = be32 (d + 16);
  out->height = be32 (d + 20);
  out->mode_known = TRUE;
  switch (d[25]) {
  case 0: out->mode = VLM_IMAGE_MODE_L; break;
  case 3: out->mode = VLM_IMAGE_MODE_P; break;
  case 4: out->mode = VLM_IMAGE_MODE_LA; break;
  case 6: out->mode = VLM_IMAGE_MODE_RGBA; break;
  default: out->mode = VLM_IMAGE_MODE_RGB; break;
  }
  return TRUE;
}

/* Walks the marker segments up to the first start-of-frame. */
static gboolean
sniff_jpeg (const guint8 *d, gsize len, VlmImageHeader *out)
{
  if (len < 3 || d[0] != 0xff || d[1] != 0xd8 || d[2] != 0xff)
    return FALSE;
  out->format = "jpeg";
  gsize pos = 2;
  while (pos + 4 <= len) {
    if (d[pos] != 0xff)
      return TRUE;
    guint8 marker = d[pos + 1];
    if (marker == 0xff) { /* fill byte */
      pos++;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      pos += 2;
      continue;
    }
    guint32 seglen = be16 (d + pos + 2);
    gboolean sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 &&
                   marker != 0xcc;
    if (sof) {
      if (pos + 10 > len)
        return TRUE;
      out->height = be16 (d + pos + 5);
      out->width = be16 (d + pos + 7);
      out->mode_known = TRUE;
      /* One component is Pillow's "L"; YCbCr and (converted) CMYK read as RGB. */
      out->mode = d[pos + 9] == 1 ? VLM_IMAGE_MODE_L : VLM_IMAGE_MODE_RGB;
      return TRUE;
    }
    if (seglen < 2)
      return TRUE;
    pos += 2 + seglen;
  }
  return TRUE;
}

static gboolean
sniff_gif (const guint8 *d, gsize len, VlmImageHeader *out)
{
  if (len < 6 || (memcmp (d, "GIF87a", 6) != 0 && memcmp (d, "GIF89a", 6) != 0))
    return FALSE;
  out->format = "gif";
  if (len >= 10) {
    out->width = le16 (d + 6);
    out->height = le16 (d + 8);
  }
  out->mode_known = TRUE;
  out->mode = VLM_IMAGE_MODE_P;
  return TRUE;
}

static gboolean
sniff_webp (const guint8 *d, gsize len, VlmImageHeader *out)
{
  if (len < 16 || memcmp (d, "RIFF", 4) != 0 || memcmp (d + 8, "WEBP", 4) != 0)
    return FALSE;
  out->format = "webp";
  /* The WebP decoder fills missing data silently; the RIFF size tells. */
  guint64 riff_size = le16 (d + 4) | ((guint64) le16 (d + 6) << 16);
  out->truncated = len < riff_size + 8;
  if (memcmp (d + 12, "VP8X", 4) == 0 && len >= 30) {
    out->width = le24 (d + 24) + 1;
    out->height = le24 (d + 27) + 1;
  } else if (memcmp (d + 12, "VP8L", 4) == 0 && len >= 25 && d[20] == 0x2f) {
    guint32 bits = d[21] | ((guint32) d[22] << 8) | ((guint32) d[23] << 16) |
                   ((guint32) d[24] << 24);
    out->width = (bits & 0x3fff) + 1;
    out->height = ((bits >> 14) & 0x3fff) + 1;
  } else if (memcmp (d + 12, "VP8 ", 4) == 0 && len >= 30) {
    out->width = le16 (d + 26) & 0x3fff;
    out->height = le16 (d + 28) & 0x3fff;
  }
  return TRUE;
}

gboolean
vlm_image_sniff (const guint8 *data, gsize len, VlmImageHeader *out)
{
  memset (out, 0, sizeof *out);
  return sniff_png (data, len, out) || sniff_jpeg (data, len, out) ||
         sniff_gif (data, len, out) || sniff_webp (data, len, out);
}
