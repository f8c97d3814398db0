/* vlm-image-load.c: decoding with gdk-pixbuf into a VlmImage that keeps the
 * source's Pillow mode (gray stays 1 channel, alpha only when the file has it). */
#include "vlm/vlm-image.h"
#include "vlm/vlm-error.h"
#include "image/image-private.h"
#include "image/image-sniff.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <string.h>

typedef struct {
  guint64 max_pixels;
  gboolean too_big;
  int width, height;
  int rows_done; /* lowest decoded row + 1 */
} SizeCheck;

/* Formats without a sniffed header still get the limit checked as soon as the
 * decoder knows the size; decoding stops there. */
static void
on_size_prepared (GdkPixbufLoader *loader, int width, int height, gpointer user_data)
{
  SizeCheck *check = user_data;
  check->width = width;
  check->height = height;
  if ((guint64) MAX (width, 0) * (guint64) MAX (height, 0) > check->max_pixels)
    check->too_big = TRUE;
}

/* gdk-pixbuf's loaders accept a file that stops early and hand out the
 * partly filled image; Pillow refuses truncated files, so track coverage. */
static void
on_area_updated (GdkPixbufLoader *loader, int x, int y, int width, int height,
                 gpointer user_data)
{
  SizeCheck *check = user_data;
  check->rows_done = MAX (check->rows_done, y + height);
}

static gboolean
check_limit (const char *name, guint64 width, guint64 height, guint64 max_pixels,
             GError **error)
{
  if (width == 0 || height == 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "image '%s' has a zero size (%" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT ")",
                 name, width, height);
    return FALSE;
  }
  if (width * height > max_pixels) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT,
                 "image '%s' is %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT
                 " pixels, over the limit of %" G_GUINT64_FORMAT " pixels",
                 name, width, height, max_pixels);
    return FALSE;
  }
  return TRUE;
}

static GdkPixbuf *
decode (const guint8 *data, gsize len, const char *name, guint64 max_pixels, GError **error)
{
  g_autoptr (GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  SizeCheck check = { max_pixels, FALSE, 0, 0, 0 };
  g_signal_connect (loader, "size-prepared", G_CALLBACK (on_size_prepared), &check);
  g_signal_connect (loader, "area-updated", G_CALLBACK (on_area_updated), &check);

  const gsize chunk = 256 * 1024;
  g_autoptr (GError) local = NULL;
  gboolean ok = TRUE;
  for (gsize pos = 0; pos < len && ok && !check.too_big; pos += chunk)
    ok = gdk_pixbuf_loader_write (loader, data + pos, MIN (chunk, len - pos), &local);
  /* Closing is required even after a failure; its own error is secondary then. */
  gboolean closed = gdk_pixbuf_loader_close (loader, ok && !check.too_big ? &local : NULL);

  if (check.too_big) {
    check_limit (name, check.width, check.height, max_pixels, error);
    return NULL;
  }
  if (!ok || !closed) {
    gboolean unknown = local != NULL && local->domain == GDK_PIXBUF_ERROR &&
                       local->code == GDK_PIXBUF_ERROR_UNKNOWN_TYPE;
    g_set_error (error, VLM_ERROR, unknown ? VLM_ERROR_UNSUPPORTED : VLM_ERROR_FORMAT,
                 "cannot decode image '%s': %s", name,
                 local != NULL ? local->message : "truncated or corrupt data");
    return NULL;
  }
  GdkPixbuf *pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf != NULL && check.rows_done < gdk_pixbuf_get_height (pixbuf)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT,
                 "cannot decode image '%s': truncated data (%d of %d rows)", name,
                 check.rows_done, gdk_pixbuf_get_height (pixbuf));
    return NULL;
  }
  if (pixbuf == NULL) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "cannot decode image '%s': no image data",
                 name);
    return NULL;
  }
  return g_object_ref (pixbuf);
}

/* Copies the decoded RGB(A) rows into the channels @mode keeps. */
static VlmImage *
pixbuf_to_image (GdkPixbuf *pixbuf, VlmImageMode mode, const char *name, GError **error)
{
  int w = gdk_pixbuf_get_width (pixbuf), h = gdk_pixbuf_get_height (pixbuf);
  int n = gdk_pixbuf_get_n_channels (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  if (gdk_pixbuf_get_bits_per_sample (pixbuf) != 8 ||
      gdk_pixbuf_get_colorspace (pixbuf) != GDK_COLORSPACE_RGB || (n != 3 && n != 4)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "image '%s': decoder produced an unsupported pixel layout", name);
    return NULL;
  }
  gboolean alpha = gdk_pixbuf_get_has_alpha (pixbuf);
  int c;
  switch (mode) {
  case VLM_IMAGE_MODE_L: c = 1; break;
  case VLM_IMAGE_MODE_LA: c = 2; break;
  case VLM_IMAGE_MODE_RGB: c = 3; break;
  case VLM_IMAGE_MODE_RGBA: c = 4; break;
  default: c = n; break;
  }
  VlmImage *image = vlm_image_new_blank (mode, w, h, c);
  guint8 *d = vlm_image_peek_data_mut (image);
  const guint8 *rows = gdk_pixbuf_read_pixels (pixbuf);
  for (int y = 0; y < h; y++) {
    const guint8 *s = rows + (gsize) y * stride;
    for (int x = 0; x < w; x++, s += n, d += c) {
      guint8 a = alpha ? s[3] : 255;
      switch (c) {
      case 1: d[0] = s[0]; break;
      case 2: d[0] = s[0]; d[1] = a; break;
      case 3: memcpy (d, s, 3); break;
      default: memcpy (d, s, 3); d[3] = a; break;
      }
    }
  }
  return image;
}

/**
 * vlm_image_load_bytes:
 * @data: the encoded file contents (PNG, JPEG, GIF, WebP or any format a
 *   gdk-pixbuf loader handles)
 * @name: what error messages call the image (usually its path)
 * @max_pixels: the largest width x height accepted, checked before decoding
 *   (0 means %VLM_IMAGE_DEFAULT_MAX_PIXELS)
 * @apply_exif_orientation: rotate/flip as the EXIF orientation tag says
 *   (Pillow does not, so processors expect %FALSE)
 * @error: return location for a #GError
 *
 * Decodes an image keeping the mode Pillow's `Image.open()` reports: gray
 * PNGs and one-component JPEGs are "L" (1 channel), gray + alpha "LA", RGB
 * "RGB", RGBA "RGBA", palette PNGs and GIFs "P" (expanded colors).
 *
 * Returns: (transfer full) (nullable): the image, or %NULL with @error set
 */
VlmImage *
vlm_image_load_bytes (GBytes *data, const char *name, guint64 max_pixels,
                      gboolean apply_exif_orientation, GError **error)
{
  g_return_val_if_fail (data != NULL, NULL);
  if (name == NULL)
    name = "<memory>";
  if (max_pixels == 0)
    max_pixels = VLM_IMAGE_DEFAULT_MAX_PIXELS;
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data (data, &len);
  if (len == 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "image '%s' is empty", name);
    return NULL;
  }
  VlmImageHeader header;
  if (vlm_image_sniff (bytes, len, &header) && (header.width || header.height) &&
      !check_limit (name, header.width, header.height, max_pixels, error))
    return NULL;
  if (header.truncated) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "cannot decode image '%s': truncated data",
                 name);
    return NULL;
  }

  g_autoptr (GdkPixbuf) pixbuf = decode (bytes, len, name, max_pixels, error);
  if (pixbuf == NULL)
    return NULL;
  if (!check_limit (name, gdk_pixbuf_get_width (pixbuf), gdk_pixbuf_get_height (pixbuf),
                    max_pixels, error))
    return NULL;
  if (apply_exif_orientation) {
    GdkPixbuf *oriented = gdk_pixbuf_apply_embedded_orientation (pixbuf);
    g_object_unref (pixbuf);
    pixbuf = oriented;
  }
  VlmImageMode mode = header.mode_known ? header.mode
                      : gdk_pixbuf_get_has_alpha (pixbuf) ? VLM_IMAGE_MODE_RGBA
                                                          : VLM_IMAGE_MODE_RGB;
  return pixbuf_to_image (pixbuf, mode, name, error);
}

/**
 * vlm_image_load_file:
 * @path: (type filename): the image file
 * @max_pixels: the largest width x height accepted (0: the default)
 * @apply_exif_orientation: rotate/flip as the EXIF orientation tag says
 * @error: return location for a #GError
 *
 * Reads and decodes @path; see vlm_image_load_bytes().
 *
 * Returns: (transfer full) (nullable): the image, or %NULL with @error set
 */
VlmImage *
vlm_image_load_file (const char *path, guint64 max_pixels, gboolean apply_exif_orientation,
                     GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &contents, &len, &local)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "cannot read image '%s': %s", path,
                 local->message);
    return NULL;
  }
  g_autoptr (GBytes) bytes = g_bytes_new_take (contents, len);
  return vlm_image_load_bytes (bytes, path, max_pixels, apply_exif_orientation, error);
}
