/* pil-resample.c: Pillow 9.4's 8-bit resampler (libImaging/Resample.c and the
 * nearest-neighbour affine scaler of Geometry.c), written again so that every
 * rounding step matches: double-precision filter weights normalised per
 * output pixel, converted to 22-bit fixed point, integer accumulation with a
 * half-unit bias, and clipping to 0..255 after each pass. */
#include "image/pil-resample.h"

#include <math.h>
#include <string.h>

/* 32 bits minus 8 for the pixel and 2 for the overshoot of negative lobes. */
#define PRECISION_BITS (32 - 8 - 2)

typedef double (*FilterFunc) (double x);

static double
box_filter (double x)
{
  return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

static double
bilinear_filter (double x)
{
  x = fabs (x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

static double
hamming_filter (double x)
{
  x = fabs (x);
  if (x == 0.0)
    return 1.0;
  if (x >= 1.0)
    return 0.0;
  x *= G_PI;
  /* Pillow writes the window constants as floats; keep their float values. */
  return sin (x) / x * ((double) 0.54f + (double) 0.46f * cos (x));
}

static double
bicubic_filter (double x)
{
  const double a = -0.5;
  x = fabs (x);
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0)
    return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

static double
sinc (double x)
{
  if (x == 0.0)
    return 1.0;
  x *= G_PI;
  return sin (x) / x;
}

static double
lanczos_filter (double x)
{
  return (-3.0 <= x && x < 3.0) ? sinc (x) * sinc (x / 3) : 0.0;
}

static void
filter_for (VlmResample resample, FilterFunc *func, double *support)
{
  switch (resample) {
  case VLM_RESAMPLE_BOX: *func = box_filter; *support = 0.5; break;
  case VLM_RESAMPLE_BILINEAR: *func = bilinear_filter; *support = 1.0; break;
  case VLM_RESAMPLE_HAMMING: *func = hamming_filter; *support = 1.0; break;
  case VLM_RESAMPLE_BICUBIC: *func = bicubic_filter; *support = 2.0; break;
  case VLM_RESAMPLE_LANCZOS:
  case VLM_RESAMPLE_NEAREST:
  default: *func = lanczos_filter; *support = 3.0; break;
  }
}

/* Per output index: first source index, tap count, and @ksize fixed-point
 * weights. Returns ksize. */
static int
precompute_coeffs (int in_size, int out_size, VlmResample resample, int **bounds_out,
                   gint32 **coeffs_out)
{
  FilterFunc filter;
  double base_support;
  filter_for (resample, &filter, &base_support);

  /* Pillow's box corners are floats: (in1 - in0) is a float subtraction. */
  double scale = (double) ((float) in_size - 0.0f) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = base_support * filterscale;
  int ksize = (int) ceil (support) * 2 + 1;

  int *bounds = g_new (int, (gsize) out_size * 2);
  gint32 *coeffs = g_new0 (gint32, (gsize) out_size * ksize);
  double *w = g_new (double, ksize);

  for (int xx = 0; xx < out_size; xx++) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / filterscale;
    double ww = 0.0;
    int xmin = (int) (center - support + 0.5);
    if (xmin < 0)
      xmin = 0;
    int xmax = (int) (center + support + 0.5);
    if (xmax > in_size)
      xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; x++) {
      w[x] = filter ((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    gint32 *k = coeffs + (gsize) xx * ksize;
    for (int x = 0; x < xmax; x++) {
      double v = ww != 0.0 ? w[x] / ww : w[x];
      /* Round half away from zero, as Pillow's normalize_coeffs_8bpc does. */
      k[x] = v < 0 ? (gint32) (-0.5 + v * (1 << PRECISION_BITS))
                   : (gint32) (0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  g_free (w);
  *bounds_out = bounds;
  *coeffs_out = coeffs;
  return ksize;
}

static inline guint8
clip8 (int acc)
{
  int v = acc >> PRECISION_BITS; /* arithmetic shift, as Pillow's lookup index */
  return v < 0 ? 0 : v > 255 ? 255 : (guint8) v;
}

/* Horizontal pass over rows [row0, row0 + rows) of @src. */
static void
resample_horizontal (const guint8 *src, int in_width, int row0, int rows, int channels,
                     guint8 *dst, int out_width, int ksize, const int *bounds,
                     const gint32 *coeffs)
{
  for (int yy = 0; yy < rows; yy++) {
    const guint8 *in_row = src + ((gsize) (yy + row0) * in_width) * channels;
    guint8 *out_row = dst + (gsize) yy * out_width * channels;
    for (int xx = 0; xx < out_width; xx++) {
      int xmin = bounds[xx * 2], xmax = bounds[xx * 2 + 1];
      const gint32 *k = coeffs + (gsize) xx * ksize;
      for (int c = 0; c < channels; c++) {
        int acc = 1 << (PRECISION_BITS - 1);
        const guint8 *p = in_row + (gsize) xmin * channels + c;
        for (int x = 0; x < xmax; x++)
          acc += p[(gsize) x * channels] * k[x];
        out_row[(gsize) xx * channels + c] = clip8 (acc);
      }
    }
  }
}

/* Vertical pass; @bounds are relative to the first row of @src. */
static void
resample_vertical (const guint8 *src, int width, int channels, guint8 *dst, int out_height,
                   int ksize, const int *bounds, const gint32 *coeffs)
{
  gsize row_len = (gsize) width * channels;
  for (int yy = 0; yy < out_height; yy++) {
    int ymin = bounds[yy * 2], ymax = bounds[yy * 2 + 1];
    const gint32 *k = coeffs + (gsize) yy * ksize;
    guint8 *out_row = dst + (gsize) yy * row_len;
    for (gsize i = 0; i < row_len; i++) {
      int acc = 1 << (PRECISION_BITS - 1);
      const guint8 *p = src + (gsize) ymin * row_len + i;
      for (int y = 0; y < ymax; y++)
        acc += p[(gsize) y * row_len] * k[y];
      out_row[i] = clip8 (acc);
    }
  }
}

/* Pillow's nearest resize: source position of each output pixel centre,
 * stepped by repeated addition in double precision (the accumulated error
 * decides ties), truncated. */
static void
resample_nearest (const guint8 *src, int in_width, int in_height, int channels, guint8 *dst,
                  int out_width, int out_height)
{
  double ax = (double) in_width / out_width;
  double ay = (double) in_height / out_height;
  int *xin = g_new (int, out_width);
  double xo = ax * 0.5;
  for (int x = 0; x < out_width; x++) {
    int xi = xo < 0.0 ? -1 : (int) xo;
    xin[x] = CLAMP (xi, 0, in_width - 1);
    xo += ax;
  }
  double yo = ay * 0.5;
  for (int y = 0; y < out_height; y++) {
    int yi = yo < 0.0 ? -1 : (int) yo;
    yi = CLAMP (yi, 0, in_height - 1);
    const guint8 *in_row = src + (gsize) yi * in_width * channels;
    guint8 *out_row = dst + (gsize) y * out_width * channels;
    for (int x = 0; x < out_width; x++)
      memcpy (out_row + (gsize) x * channels, in_row + (gsize) xin[x] * channels, channels);
    yo += ay;
  }
  g_free (xin);
}

void
vlm_pil_resample_u8 (const guint8 *src, int in_width, int in_height, int channels,
                     guint8 *dst, int out_width, int out_height, VlmResample filter)
{
  g_return_if_fail (in_width > 0 && in_height > 0 && out_width > 0 && out_height > 0);

  if (in_width == out_width && in_height == out_height) {
    memcpy (dst, src, (gsize) in_width * in_height * channels);
    return;
  }
  if (filter == VLM_RESAMPLE_NEAREST) {
    resample_nearest (src, in_width, in_height, channels, dst, out_width, out_height);
    return;
  }

  int *hb, *vb;
  gint32 *hk, *vk;
  int hksize = precompute_coeffs (in_width, out_width, filter, &hb, &hk);
  int vksize = precompute_coeffs (in_height, out_height, filter, &vb, &vk);

  if (in_width == out_width) {
    resample_vertical (src, in_width, channels, dst, out_height, vksize, vb, vk);
  } else if (in_height == out_height) {
    resample_horizontal (src, in_width, 0, in_height, channels, dst, out_width, hksize, hb, hk);
  } else {
    /* Only the source rows the vertical pass reads go through the first pass. */
    int first = vb[0];
    int last = vb[(out_height - 1) * 2] + vb[(out_height - 1) * 2 + 1];
    for (int i = 0; i < out_height; i++)
      vb[i * 2] -= first;
    guint8 *tmp = g_malloc ((gsize) out_width * (last - first) * channels);
    resample_horizontal (src, in_width, first, last - first, channels, tmp, out_width,
                         hksize, hb, hk);
    resample_vertical (tmp, out_width, channels, dst, out_height, vksize, vb, vk);
    g_free (tmp);
  }
  g_free (hb);
  g_free (hk);
  g_free (vb);
  g_free (vk);
}
