/* test-gemm-bf16.c: the opt-in BF16 product (compute/gemm-bf16.c) against a double
 * product of the BF16-rounded operands, over shapes with every kind of edge (odd K,
 * several K slices, partial micro-tiles and panels), and its fallback to the exact path
 * (run with --kernels=avx512: no AVX512_BF16). */
#include "gemm-test-util.h"
#include "compute/gemm-bf16.h"

static float
bf16_round (float f)
{
  return vlm_bf16_to_f32 (vlm_f32_to_bf16 (f));
}

static const GemmMode bf16_mode = {
  "bf16", vlm_linear_forward_bf16, vlm_gemm_bf16_supported, bf16_round, 1e-5,
};

static void
test_shapes (void)
{
  const gint64 shapes[][3] = {
    { 16, 48, 2 }, { 37, 101, 515 }, { 200, 96, 256 }, { 97, 50, 33 }, { 130, 7, 1 },
    { 8, 64, 64 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++) {
    const gint64 *s = shapes[i];
    gemm_test_check_shape (&bf16_mode, VLM_DTYPE_BF16, s[0], s[1], s[2], TRUE, 2);
    gemm_test_check_shape (&bf16_mode, VLM_DTYPE_F32, s[0], s[1], s[2], i % 2, 2);
    gemm_test_check_shape (&bf16_mode, VLM_DTYPE_F16, s[0], s[1], s[2], FALSE, 2);
  }
}

static void
test_threads (void)
{
  gemm_test_threads (vlm_linear_forward_bf16);
}

int
main (int argc, char **argv)
{
  gemm_test_init (&argc, &argv);
  g_test_add_func ("/gemm-bf16/shapes", test_shapes);
  g_test_add_func ("/gemm-bf16/threads", test_threads);
  return g_test_run ();
}
