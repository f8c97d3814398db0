/* kernels.h: inner loops of the matrix-vector products, one per weight format. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each computes y[o] = dot(w row o, x) for rows [o0, o1). Quantized rows also take
 * xsum[g] = sum of x over group g, so that sum(x * (s*q + b)) = s*sum(x*q) + b*xsum. */
typedef struct {
  float (*dot_f32) (const float *a, const float *b, gint64 n);
  float (*dot_bf16) (const guint16 *w, const float *x, gint64 n);
  float (*dot_f16) (const guint16 *w, const float *x, gint64 n);
  /* sum over k < n of x[k] * code[k] for a group that starts on a word boundary */
  float (*dot_q4) (const guint32 *w, const float *x, gint64 n);
  float (*dot_q8) (const guint32 *w, const float *x, gint64 n);
  void (*bf16_to_f32) (const guint16 *src, float *dst, gint64 n);
  const char *name;
} VlmKernels;

const VlmKernels *vlm_kernels_get (void);
const VlmKernels *vlm_kernels_get_portable (void);

G_END_DECLS
