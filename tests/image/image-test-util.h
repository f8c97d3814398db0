/* image-test-util.h: fixture access and pixel comparisons for the image tests. */
#pragma once

#include <json-glib/json-glib.h>
#include <vlm/vlm.h>

/* Path under $VLM_SHARED_DIR/fixtures (g_free it). */
char       *fixture_path (const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Parses a JSON file; the parser owns the returned object. */
JsonObject *fixture_json (JsonParser *parser, const char *path);
/* One tensor of a safetensors file. */
VlmTensor  *fixture_tensor (const char *path, const char *name);
/* Loads an image from a fixture folder, asserting success. */
VlmImage   *fixture_image (const char *dir, const char *file);

typedef struct {
  gsize n;
  gsize exact;
  gsize within1;
  int max_diff;
} PixelStats;

/* Compares @n bytes with a stride between samples of @b (1: contiguous). */
void        pixel_stats_add (PixelStats *st, const guint8 *a, const guint8 *b, gsize n,
                             gsize b_stride);
/* Asserts the project target (within 1 level on 99.9%; exact when @exact)
 * and logs the exact-match rate under @what. */
void        pixel_stats_check (const PixelStats *st, const char *what, gboolean exact);
/* Lower-case hex SHA-256 of the image's pixel bytes (g_free it). */
char       *image_sha256 (VlmImage *image);
