/* test-vision-precision.c: siglip-vision's opt-in `precision` = bf16 (projections with
 * BF16-rounded inputs, compute/gemm-bf16.c) and f16 (FP16-rounded scaled inputs,
 * compute/gemm-f16.c) on the Idefics3 and SmolVLM fixtures: within a stated looser
 * tolerance of the exact path, which stays the default and bit-identical;
 * VLM_VISION_PRECISION selects the same products. Run with --kernels=avx512 or avx2 it
 * checks the fallbacks: without AVX512_BF16 (AVX-512) kernels bf16 (f16) gives the exact
 * result. */
#include "compute/gemm-bf16.h"
#include "compute/gemm-f16.h"
#include "model-test-util.h"
#include "vlm/vlm.h"

#include <string.h>

/* Relative L2 distance the BF16 or FP16 products may add to vision_hidden (measured:
 * ~3e-3 for bf16, see the test log for f16). */
#define REDUCED_TOLERANCE 2e-2

static void
set_input (VlmElement *e, const char *port, GType type, gconstpointer value)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, type);
  if (type == G_TYPE_STRING)
    g_value_set_string (&v, value);
  else
    g_value_set_boxed (&v, value);
  vlm_element_set_input (e, port, &v);
  g_value_unset (&v);
}

/* vision_hidden of a fresh siglip-vision element; @precision NULL keeps the default. */
static VlmTensor *
run (const char *dir, VlmTensor *pixels, VlmTensor *mask, const char *precision)
{
  g_autoptr (GError) error = NULL;
  VlmRegistry *reg = vlm_registry_get_default ();
  vlm_registry_ensure_loaded (reg);
  g_autoptr (VlmElement) e = vlm_registry_make_element (reg, "siglip-vision", "vision", &error);
  g_assert_no_error (error);
  if (precision) {
    GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "precision");
    g_assert_nonnull (pspec);
    GEnumClass *klass = g_type_class_ref (pspec->value_type);
    GEnumValue *v = g_enum_get_value_by_nick (klass, precision);
    g_assert_nonnull (v);
    g_object_set (e, "precision", v->value, NULL);
    g_type_class_unref (klass);
  }
  set_input (e, "model", G_TYPE_STRING, dir);
  set_input (e, "pixel_values", VLM_TYPE_TENSOR, pixels);
  set_input (e, "pixel_attention_mask", VLM_TYPE_TENSOR, mask);
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  const GValue *out = vlm_element_get_output (e, "vision_hidden");
  g_assert_nonnull (out);
  return vlm_tensor_ref (g_value_get_boxed (out));
}

static void
test_precision (gconstpointer data)
{
  g_autofree char *dir = g_build_filename (g_getenv ("VLM_SHARED_DIR"), "fixtures", "arch",
                                           (const char *) data, NULL);
  g_autofree char *path = g_build_filename (dir, "golden.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmSafetensors) st = vlm_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensor) pixels = golden_tensor (st, "pixel_values");
  g_autoptr (VlmTensor) mask = golden_tensor (st, "pixel_attention_mask");
  g_autoptr (VlmTensor) want = golden_tensor (st, "vision_hidden");

  /* The default is the exact path: f32, within the goldens' 1e-3, same bits as asked. */
  g_autoptr (VlmTensor) exact = run (dir, pixels, mask, NULL);
  g_autoptr (VlmTensor) f32 = run (dir, pixels, mask, "f32");
  g_assert_cmpfloat (rel_l2 (exact, want), <=, 1e-3);
  g_assert_cmpfloat (rel_l2 (f32, exact), ==, 0);

  const struct {
    const char *name;
    gboolean supported;
  } modes[] = { { "bf16", vlm_gemm_bf16_supported () }, { "f16", vlm_gemm_f16_supported () } };
  for (guint i = 0; i < G_N_ELEMENTS (modes); i++) {
    g_autoptr (VlmTensor) reduced = run (dir, pixels, mask, modes[i].name);
    double vs_exact = rel_l2 (reduced, exact), vs_golden = rel_l2 (reduced, want);
    g_test_message ("%s: %s vision_hidden: relative L2 %.3g vs the F32 path, %.3g vs the "
                    "reference", (const char *) data, modes[i].name, vs_exact, vs_golden);
    if (modes[i].supported) {
      g_assert_cmpfloat (vs_exact, >, 0);
      g_assert_cmpfloat (vs_exact, <=, REDUCED_TOLERANCE);
    } else {
      g_assert_cmpfloat (vs_exact, ==, 0);
    }

    /* The environment variable selects the same products. */
    g_setenv ("VLM_VISION_PRECISION", modes[i].name, TRUE);
    g_autoptr (VlmTensor) by_env = run (dir, pixels, mask, NULL);
    g_unsetenv ("VLM_VISION_PRECISION");
    g_assert_cmpfloat (rel_l2 (by_env, reduced), ==, 0);
  }
}

int
main (int argc, char **argv)
{
  if (argc > 1 && g_str_has_prefix (argv[argc - 1], "--kernels=")) {
    g_setenv ("VLM_KERNELS", argv[argc - 1] + strlen ("--kernels="), TRUE);
    argc--;
  }
  g_unsetenv ("VLM_VISION_PRECISION");
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/vision/precision/idefics3", "idefics3", test_precision);
  g_test_add_data_func ("/vision/precision/smolvlm", "smolvlm", test_precision);
  return g_test_run ();
}
