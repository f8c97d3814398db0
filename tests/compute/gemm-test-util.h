/* gemm-test-util.h: what the tests of the opt-in reduced-precision products (BF16, FP16)
 * share: the --kernels=SET argument, random layers, the error against a double product,
 * the exact fallback and the thread-count independence. */
#pragma once

#include "compute/linear.h"

/* A product under test: y = x W^T + b of @lin, @n rows. */
typedef void (*GemmForwardFunc) (const VlmLinear *lin, const float *x, gint64 n, float *y);

typedef struct {
  const char *name;
  GemmForwardFunc forward;
  gboolean (*supported) (void);
  /* the operand rounding the reference applies (NULL: exact operands) */
  float (*round) (float value);
  double tolerance;      /* max error relative to max |reference| */
} GemmMode;

void    gemm_test_init (int *argc, char ***argv);
double  gemm_test_max_rel_error (const float *y, const float *x, const float *w,
                                 const float *bias, gint64 n, gint64 out, gint64 in,
                                 float (*round) (float value));
void    gemm_test_check_shape (const GemmMode *mode, VlmDType dtype, gint64 n, gint64 out,
                               gint64 in, gboolean with_bias, double x_range);
void    gemm_test_threads (GemmForwardFunc forward);
