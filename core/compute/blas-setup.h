/* blas-setup.h: picks OpenBLAS's kernels for CPUs its build does not recognise. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void vlm_blas_setup (void);
const char *vlm_blas_core_name (void);

G_END_DECLS
