/* blas-setup.c: OpenBLAS kernel selection for CPUs newer than the library.
 *
 * A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU model when it loads; one
 * older than the CPU (Debian's 0.3.21 on Sapphire/Emerald Rapids or Zen 4/5) falls
 * back to the generic "Prescott" SSE3 kernels, 4-5x slower than its own AVX-512
 * ones. OPENBLAS_CORETYPE fixes that but is read only at load time, before our code
 * runs. So when the user has not set it and OpenBLAS reports that fallback, the
 * library re-runs OpenBLAS's own selection (its exported gotoblas_dynamic_quit/init,
 * found with dlsym so that other BLAS builds are unaffected) with the best core type
 * this CPU supports. This happens once, before the first product.
 */
#include "compute/blas-setup.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static const char *
best_core_type (void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init ();
  gboolean avx512 = __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
                    && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512dq");
  if (avx512 && __builtin_cpu_supports ("avx512bf16"))
    return "Cooperlake";
  if (avx512)
    return "SkylakeX";
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    return "Haswell";
#endif
  return NULL;
}

/**
 * vlm_blas_core_name:
 *
 * Returns: (nullable): OpenBLAS's kernel set ("Cooperlake", ...), %NULL for another BLAS
 */
const char *
vlm_blas_core_name (void)
{
  char *(*corename) (void) = (char *(*) (void)) dlsym (RTLD_DEFAULT, "openblas_get_corename");
  return corename ? corename () : NULL;
}

/**
 * vlm_blas_setup:
 *
 * Replaces OpenBLAS's generic fallback kernels by the CPU's own (see above); a no-op
 * when OPENBLAS_CORETYPE or VLM_BLAS_KEEP_CORE is set, or for other BLAS libraries.
 */
void
vlm_blas_setup (void)
{
  static gsize done;
  if (!g_once_init_enter (&done))
    return;
  void (*quit) (void) = (void (*) (void)) dlsym (RTLD_DEFAULT, "gotoblas_dynamic_quit");
  void (*init) (void) = (void (*) (void)) dlsym (RTLD_DEFAULT, "gotoblas_dynamic_init");
  const char *now = vlm_blas_core_name (), *want = best_core_type ();
  if (quit && init && now && want && !g_getenv ("OPENBLAS_CORETYPE")
      && !g_getenv ("VLM_BLAS_KEEP_CORE")
      && (g_ascii_strcasecmp (now, "Prescott") == 0 || g_ascii_strcasecmp (now, "Core2") == 0
          || g_ascii_strcasecmp (now, "Nehalem") == 0)) {
    g_setenv ("OPENBLAS_CORETYPE", want, TRUE);
    quit ();
    init ();
    g_unsetenv ("OPENBLAS_CORETYPE");
    g_debug ("OpenBLAS kernels: %s instead of %s", vlm_blas_core_name (), now);
  }
  g_once_init_leave (&done, 1);
}
