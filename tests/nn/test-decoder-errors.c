/* test-decoder-errors.c: bad inputs and broken checkpoints give one clear error. */
#include "nn-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

static void
expect_error (VlmElement *e, int code, const char *const *needles)
{
  g_autoptr (GError) error = NULL;
  g_assert_false (vlm_element_process (e, &error));
  g_assert_error (error, VLM_ERROR, code);
  g_test_message ("%s", error->message);
  for (guint i = 0; needles[i]; i++)
    g_assert_nonnull (strstr (error->message, needles[i]));
}

/* One image feature row too few: the error names both counts. */
static void
test_image_token_count (void)
{
  g_autoptr (VlmTensor) ids = nn_golden ("idefics3", "input_ids");
  g_autoptr (VlmTensor) feats = nn_golden ("idefics3", "image_features");
  gint64 n = vlm_tensor_get_dim (feats, 0);
  g_autoptr (VlmTensor) fewer = vlm_tensor_slice (feats, 0, 0, n - 1, NULL);
  g_autoptr (VlmElement) e = nn_make_decoder ("idefics3", ids, fewer);
  g_autofree char *tokens = g_strdup_printf ("%" G_GINT64_FORMAT " image tokens", n);
  g_autofree char *rows = g_strdup_printf ("%" G_GINT64_FORMAT " rows", n - 1);
  const char *const needles[] = { tokens, rows, NULL };
  expect_error (e, VLM_ERROR_INVALID, needles);
  /* No features at all for a prompt with image tokens. */
  g_autoptr (VlmElement) e2 = nn_make_decoder ("idefics3", ids, NULL);
  const char *const needles2[] = { tokens, "0 rows", NULL };
  expect_error (e2, VLM_ERROR_INVALID, needles2);
}

/* Masks must reach the decoder as BOOL (the mask-dtype patch converts pipelines' ones). */
static void
test_mask_dtype (void)
{
  g_autoptr (VlmTensor) ids = nn_golden ("idefics3", "input_ids");
  g_autoptr (VlmTensor) feats = nn_golden ("idefics3", "image_features");
  g_autoptr (VlmTensor) mask = nn_golden ("idefics3", "attention_mask");
  g_autoptr (VlmElement) e = nn_make_decoder ("idefics3", ids, feats);
  nn_set_tensor_input (e, "attention_mask", mask);
  const char *const needles[] = { "attention_mask", "I64", "BOOL", NULL };
  expect_error (e, VLM_ERROR_INVALID, needles);
  /* The same mask as BOOL is accepted. */
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTensor) b = vlm_tensor_to_dtype (mask, VLM_DTYPE_BOOL, &error);
  nn_set_tensor_input (e, "attention_mask", b);
  g_object_set (e, "max-tokens", 1, NULL);
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
}

static void
test_bad_ids (void)
{
  g_autoptr (VlmTensor) ids = vlm_tensor_new (VLM_DTYPE_I64, 2, (gint64[]) { 1, 3 });
  gint64 *v = vlm_tensor_get_data_mut (ids);
  v[0] = 1;
  v[1] = 1 << 30;
  v[2] = 2;
  g_autoptr (VlmElement) e = nn_make_decoder ("idefics3", ids, NULL);
  const char *const needles[] = { "1073741824", "position 1", NULL };
  expect_error (e, VLM_ERROR_INVALID, needles);
  g_autoptr (VlmTensor) f = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { 1, 3 });
  g_autoptr (VlmElement) e2 = nn_make_decoder ("idefics3", f, NULL);
  const char *const needles2[] = { "input_ids", "F32", NULL };
  expect_error (e2, VLM_ERROR_INVALID, needles2);
}

/* A copy of arch/<arch> whose checkpoint lacks @drop (the other files are links). */
static char *
model_without (const char *arch, const char *drop)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *src = nn_fixture_path ("arch", arch, NULL);
  char *tmp = g_dir_make_tmp ("vlm-nn-XXXXXX", &error);
  g_assert_no_error (error);
  g_autoptr (GDir) dir = g_dir_open (src, 0, &error);
  g_assert_no_error (error);
  for (const char *name; (name = g_dir_read_name (dir));) {
    if (g_str_has_prefix (name, "model.safetensors"))
      continue;
    g_autofree char *from = g_build_filename (src, name, NULL);
    g_autofree char *to = g_build_filename (tmp, name, NULL);
    g_assert_cmpint (symlink (from, to), ==, 0);
  }
  g_autoptr (VlmModelDir) md = vlm_model_dir_new (src, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensorSet) set = vlm_safetensors_to_tensor_set (
      vlm_model_dir_get_weights (md, &error), &error);
  g_assert_no_error (error);
  g_assert_true (vlm_tensor_set_remove (set, drop));
  g_autofree char *out = g_build_filename (tmp, "model.safetensors", NULL);
  g_assert_true (vlm_safetensors_write (out, set, NULL, &error));
  g_assert_no_error (error);
  return tmp;
}

static void
remove_dir (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name (dir));) {
    g_autofree char *p = g_build_filename (path, name, NULL);
    g_unlink (p);
  }
  g_rmdir (path);
}

static void
test_missing_tensor (gconstpointer data)
{
  const char *const *c = data; /* arch, tensor */
  g_autofree char *tmp = model_without (c[0], c[1]);
  g_autoptr (VlmTensor) ids = nn_golden (c[0], "input_ids");
  g_autoptr (VlmElement) e = nn_make_decoder (c[0], ids, NULL);
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, tmp);
  vlm_element_set_input (e, "model", &v);
  g_value_unset (&v);
  const char *const needles[] = { c[1], "missing", NULL };
  expect_error (e, VLM_ERROR_FORMAT, needles);
  remove_dir (tmp);
}

int
main (int argc, char **argv)
{
  static const char *const hf[] = { "idefics3", "model.text_model.layers.1.mlp.up_proj.weight" };
  static const char *const mlx[] = { "smolvlm", "language_model.lm_head.weight" };
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nn/errors/image-token-count", test_image_token_count);
  g_test_add_func ("/nn/errors/mask-dtype", test_mask_dtype);
  g_test_add_func ("/nn/errors/bad-ids", test_bad_ids);
  g_test_add_data_func ("/nn/errors/missing-tensor/hf", hf, test_missing_tensor);
  g_test_add_data_func ("/nn/errors/missing-tensor/mlx", mlx, test_missing_tensor);
  return g_test_run ();
}
