/* test-tensor.c: tensor storage, views and dtype conversion. */
#include <vlm/vlm.h>
#include <math.h>
#include <string.h>

static void
test_views (void)
{
  gint64 shape[] = { 2, 3, 4 };
  g_autoptr (VlmTensor) t = vlm_tensor_new (VLM_DTYPE_F32, 3, shape);
  float *d = vlm_tensor_get_data_mut (t);
  for (int i = 0; i < 24; i++)
    d[i] = (float) i;
  g_assert_true (vlm_tensor_is_contiguous (t));
  g_assert_cmpint (vlm_tensor_get_numel (t), ==, 24);

  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) tr = vlm_tensor_transpose (t, 0, 2, &error);
  g_assert_no_error (error);
  g_assert_false (vlm_tensor_is_contiguous (tr));
  g_assert_cmpint (vlm_tensor_get_dim (tr, 0), ==, 4);
  /* element [k][j][i] of the transpose is element [i][j][k] of the source */
  for (gint64 i = 0; i < 2; i++)
    for (gint64 j = 0; j < 3; j++)
      for (gint64 k = 0; k < 4; k++) {
        gint64 idx[] = { k, j, i };
        g_assert_cmpfloat (vlm_tensor_get_element (tr, idx), ==, (double) (i * 12 + j * 4 + k));
      }
  g_autoptr (VlmTensor) c = vlm_tensor_contiguous (tr);
  g_assert_true (vlm_tensor_is_contiguous (c));
  const float *cd = vlm_tensor_get_data (c);
  g_assert_cmpfloat (cd[1], ==, 12.0f); /* [0][0][1] = source [1][0][0] */

  g_autoptr (VlmTensor) s = vlm_tensor_slice (t, 1, 1, 3, &error);
  g_assert_no_error (error);
  gint64 idx[] = { 1, 0, 2 };
  g_assert_cmpfloat (vlm_tensor_get_element (s, idx), ==, 12 + 4 + 2);

  gint64 flat[] = { -1, 4 };
  g_autoptr (VlmTensor) r = vlm_tensor_reshape (s, 2, flat, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vlm_tensor_get_dim (r, 0), ==, 4);
  gint64 ridx[] = { 3, 1 };
  g_assert_cmpfloat (vlm_tensor_get_element (r, ridx), ==, 12 + 8 + 1);

  gint64 bad[] = { 5, 5 };
  g_autoptr (VlmTensor) none = vlm_tensor_reshape (t, 2, bad, &error);
  g_assert_null (none);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (VlmTensor) none2 = vlm_tensor_slice (t, 0, 1, 3, &error);
  g_assert_null (none2);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
}

static void
test_conversions (void)
{
  gint64 shape[] = { 4 };
  gint64 vals[] = { 0, 1, 255, 256 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) t = vlm_tensor_new_from_data (VLM_DTYPE_I64, 1, shape, vals, sizeof vals,
                                                      &error);
  g_assert_no_error (error);
  vlm_tensor_set_name (t, "ids");
  g_autoptr (VlmTensor) u8 = vlm_tensor_to_dtype (t, VLM_DTYPE_U8, &error);
  g_assert_null (u8);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "ids"));
  g_assert_nonnull (strstr (error->message, "element 3"));
  g_clear_error (&error);

  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (t, VLM_DTYPE_F32, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (((const float *) vlm_tensor_get_data (f))[3], ==, 256.0f);
  g_autoptr (VlmTensor) b = vlm_tensor_to_dtype (t, VLM_DTYPE_BOOL, &error);
  g_assert_cmpuint (((const guint8 *) vlm_tensor_get_data (b))[0], ==, 0);
  g_assert_cmpuint (((const guint8 *) vlm_tensor_get_data (b))[2], ==, 1);

  float half[] = { 0.5f, -2.25f };
  gint64 s2[] = { 2 };
  g_autoptr (VlmTensor) h = vlm_tensor_new_from_data (VLM_DTYPE_F32, 1, s2, half, sizeof half, &error);
  g_autoptr (VlmTensor) hi = vlm_tensor_to_dtype (h, VLM_DTYPE_I32, &error);
  g_assert_null (hi); /* 0.5 is not an integer */
  g_clear_error (&error);

  g_autoptr (VlmTensor) size_mismatch = vlm_tensor_new_from_data (VLM_DTYPE_F32, 1, s2, half, 4, &error);
  g_assert_null (size_mismatch);
  g_clear_error (&error);
}

static void
test_half_precision (void)
{
  /* Values exactly representable in each format survive a round trip. */
  const float exact[] = { 0.0f, 1.0f, -2.0f, 0.5f, 65504.0f, 6.103515625e-05f, 5.9604645e-08f };
  for (guint i = 0; i < G_N_ELEMENTS (exact); i++) {
    g_assert_cmpfloat (vlm_f16_to_f32 (vlm_f32_to_f16 (exact[i])), ==, exact[i]);
    if (exact[i] != 65504.0f) /* 65504 needs 11 mantissa bits */
      g_assert_cmpfloat (vlm_bf16_to_f32 (vlm_f32_to_bf16 (exact[i])), ==, exact[i]);
  }
  /* Round to nearest even: 1 + 2^-8 lies halfway between two BF16 values. */
  g_assert_cmphex (vlm_f32_to_bf16 (1.0f + 1.0f / 256), ==, 0x3f80);
  g_assert_cmphex (vlm_f32_to_bf16 (1.0f + 3.0f / 256), ==, 0x3f82);
  g_assert_true (isinf (vlm_f16_to_f32 (vlm_f32_to_f16 (1e6f))));
  g_assert_true (isnan (vlm_bf16_to_f32 (vlm_f32_to_bf16 (NAN))));
  /* Every F16 bit pattern (but NaNs) converts to F32 and back unchanged. */
  for (guint32 bits = 0; bits < 0x10000; bits++) {
    float f = vlm_f16_to_f32 ((guint16) bits);
    if (!isnan (f))
      g_assert_cmphex (vlm_f32_to_f16 (f), ==, bits);
  }
}

static void
test_tensor_set (void)
{
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  gint64 shape[] = { 1 };
  g_autoptr (VlmTensor) a = vlm_tensor_new (VLM_DTYPE_F32, 1, shape);
  g_autoptr (VlmTensor) b = vlm_tensor_new (VLM_DTYPE_I64, 1, shape);
  vlm_tensor_set_insert (set, "a", a);
  vlm_tensor_set_insert (set, "b", b);
  g_assert_true (vlm_tensor_set_rename (set, "a", "c"));
  g_assert_false (vlm_tensor_set_rename (set, "b", "c"));
  g_assert_cmpstr (vlm_tensor_set_get_nth_name (set, 0), ==, "c");
  g_assert_true (vlm_tensor_set_get (set, "c") == a);
  vlm_tensor_set_insert (set, "c", b); /* replace in place */
  g_assert_true (vlm_tensor_set_get_nth (set, 0) == b);
  g_assert_true (vlm_tensor_set_remove (set, "c"));
  g_assert_cmpuint (vlm_tensor_set_get_size (set), ==, 1);
  g_auto (GStrv) names = vlm_tensor_set_list_names (set);
  g_assert_cmpstr (names[0], ==, "b");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tensor/views", test_views);
  g_test_add_func ("/tensor/conversions", test_conversions);
  g_test_add_func ("/tensor/half-precision", test_half_precision);
  g_test_add_func ("/tensor/set", test_tensor_set);
  return g_test_run ();
}
