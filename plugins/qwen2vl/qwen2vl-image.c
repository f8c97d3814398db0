/* qwen2vl-image.c: smart_resize and the merge-order patch layout. */
#include "qwen2vl-image.h"

#include <math.h>
#include <string.h>

gboolean
qwen2vl_smart_resize (int height, int width, int factor, gint64 min_pixels, gint64 max_pixels,
                      int *out_height, int *out_width, GError **error)
{
  int lo = MIN (height, width), hi = MAX (height, width);
  if (lo < 1 || (double) hi / lo > 200) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "a %dx%d image: the aspect ratio must be at most 200", width, height);
    return FALSE;
  }
  /* Python's round(): half to even, which nearbyint does in the default mode. */
  double h_bar = nearbyint ((double) height / factor) * factor;
  double w_bar = nearbyint ((double) width / factor) * factor;
  double area = (double) height * width;
  if (h_bar * w_bar > (double) max_pixels) {
    double beta = sqrt (area / (double) max_pixels);
    h_bar = MAX (factor, floor (height / beta / factor) * factor);
    w_bar = MAX (factor, floor (width / beta / factor) * factor);
  } else if (h_bar * w_bar < (double) min_pixels) {
    double beta = sqrt ((double) min_pixels / area);
    h_bar = ceil (height * beta / factor) * factor;
    w_bar = ceil (width * beta / factor) * factor;
  }
  if (h_bar > 1 << 20 || w_bar > 1 << 20) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT, "a %dx%d image resizes to %.0fx%.0f", width,
                 height, w_bar, h_bar);
    return FALSE;
  }
  *out_height = (int) h_bar;
  *out_width = (int) w_bar;
  return TRUE;
}

void
qwen2vl_patchify (const float *chw, int height, int width, int patch, int merge, int temporal,
                  float *dst)
{
  int grid_h = height / patch, grid_w = width / patch;
  gsize plane = (gsize) height * width;
  gsize cols = (gsize) 3 * temporal * patch * patch;
  float *row = dst;
  for (int bh = 0; bh < grid_h / merge; bh++)
    for (int bw = 0; bw < grid_w / merge; bw++)
      for (int mh = 0; mh < merge; mh++)
        for (int mw = 0; mw < merge; mw++, row += cols) {
          int y0 = (bh * merge + mh) * patch, x0 = (bw * merge + mw) * patch;
          float *d = row;
          for (int c = 0; c < 3; c++)
            for (int t = 0; t < temporal; t++)
              for (int py = 0; py < patch; py++, d += patch)
                memcpy (d, chw + c * plane + (gsize) (y0 + py) * width + x0,
                        patch * sizeof (float));
        }
}
