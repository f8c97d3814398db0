/* test-safetensors.c: loading fixture checkpoints, writing, sharding, hostile headers. */
#include "vlm/vlm-error.h"
#include "vlm/vlm-safetensors.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

static const char *fixture_models[] = {
  "fixtures/arch/gemma3", "fixtures/arch/idefics3", "fixtures/arch/llava",
  "fixtures/arch/paligemma", "fixtures/arch/qwen2_5_vl", "fixtures/arch/qwen2_vl",
  "fixtures/arch/smolvlm", "models/shapes-idefics3",
};

static char *
shared_path (const char *rel)
{
  const char *dir = g_getenv ("VLM_SHARED_DIR");
  g_assert_nonnull (dir);
  return g_build_filename (dir, rel, NULL);
}

/* Reads the header with json-glib, independently of the loader under test. */
static JsonObject *
read_header_independently (const char *file, guint64 *data_start)
{
  g_autofree char *bytes = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (file, &bytes, &len, NULL));
  guint64 hlen;
  memcpy (&hlen, bytes, 8);
  *data_start = 8 + hlen;
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, bytes + 8, (gssize) hlen, NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

static void
test_fixture_checkpoints (void)
{
  for (guint m = 0; m < G_N_ELEMENTS (fixture_models); m++) {
    g_autofree char *dir = shared_path (fixture_models[m]);
    g_autofree char *file = g_build_filename (dir, "model.safetensors", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmSafetensors) st = vlm_safetensors_open (file, &error);
    g_assert_no_error (error);
    guint64 data_start;
    g_autoptr (JsonObject) hdr = read_header_independently (file, &data_start);
    guint expected = json_object_get_size (hdr) - json_object_has_member (hdr, "__metadata__");
    g_assert_cmpuint (vlm_safetensors_get_n_tensors (st), ==, expected);

    g_autofree char *raw = NULL;
    g_assert_true (g_file_get_contents (file, &raw, NULL, NULL));
    g_auto (GStrv) names = vlm_safetensors_list_names (st);
    for (guint i = 0; names[i]; i++) {
      JsonObject *e = json_object_get_object_member (hdr, names[i]);
      g_assert_nonnull (e);
      g_autoptr (VlmTensor) t = vlm_safetensors_get_tensor (st, names[i], &error);
      g_assert_no_error (error);
      g_assert_cmpstr (vlm_dtype_name (vlm_tensor_get_dtype (t)), ==,
                       json_object_get_string_member (e, "dtype"));
      JsonArray *shape = json_object_get_array_member (e, "shape");
      g_assert_cmpuint (vlm_tensor_get_ndim (t), ==, json_array_get_length (shape));
      for (guint d = 0; d < json_array_get_length (shape); d++)
        g_assert_cmpint (vlm_tensor_get_dim (t, (int) d), ==, json_array_get_int_element (shape, d));
      g_assert_true (vlm_tensor_is_read_only (t));
      JsonArray *off = json_object_get_array_member (e, "data_offsets");
      gint64 begin = json_array_get_int_element (off, 0);
      g_assert_cmpmem (vlm_tensor_get_data (t), vlm_tensor_get_nbytes (t),
                       raw + data_start + begin, json_array_get_int_element (off, 1) - begin);
    }
    /* The folder form finds the same tensors (smolvlm goes through its index). */
    g_autoptr (VlmSafetensors) by_dir = vlm_safetensors_open (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (vlm_safetensors_get_n_tensors (by_dir), ==, expected);
  }
}

static VlmTensorSet *
make_set (void)
{
  VlmTensorSet *set = vlm_tensor_set_new ();
  gint64 s1[] = { 3, 5 }, s2[] = { 7 }, s3[] = { 2, 2, 2 };
  g_autoptr (VlmTensor) a = vlm_tensor_new (VLM_DTYPE_F32, 2, s1);
  g_autoptr (VlmTensor) b = vlm_tensor_new (VLM_DTYPE_BF16, 1, s2);
  g_autoptr (VlmTensor) c = vlm_tensor_new (VLM_DTYPE_I64, 3, s3);
  float *pa = vlm_tensor_get_data_mut (a);
  for (int i = 0; i < 15; i++)
    pa[i] = (float) i * 0.25f - 1.0f;
  guint16 *pb = vlm_tensor_get_data_mut (b);
  for (int i = 0; i < 7; i++)
    pb[i] = vlm_f32_to_bf16 ((float) i);
  gint64 *pc = vlm_tensor_get_data_mut (c);
  for (int i = 0; i < 8; i++)
    pc[i] = -i;
  vlm_tensor_set_insert (set, "alpha", a);
  vlm_tensor_set_insert (set, "beta \"quoted\"", b);
  g_autoptr (VlmTensor) ct = vlm_tensor_transpose (c, 0, 2, NULL);
  vlm_tensor_set_insert (set, "gamma.T", ct);
  return set;
}

static void
assert_sets_equal (VlmTensorSet *want, VlmSafetensors *st)
{
  g_assert_cmpuint (vlm_safetensors_get_n_tensors (st), ==, vlm_tensor_set_get_size (want));
  for (guint i = 0; i < vlm_tensor_set_get_size (want); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmTensor) w = vlm_tensor_contiguous (vlm_tensor_set_get_nth (want, i));
    g_autoptr (VlmTensor) got =
      vlm_safetensors_get_tensor (st, vlm_tensor_set_get_nth_name (want, i), &error);
    g_assert_no_error (error);
    g_autofree char *dw = vlm_tensor_describe (w), *dg = vlm_tensor_describe (got);
    g_assert_cmpstr (strchr (dw, ' ') ? dw + (strstr (dw, vlm_dtype_name (vlm_tensor_get_dtype (w))) - dw) : dw,
                     ==, dg + (strstr (dg, vlm_dtype_name (vlm_tensor_get_dtype (got))) - dg));
    g_assert_cmpmem (vlm_tensor_get_data (w), vlm_tensor_get_nbytes (w), vlm_tensor_get_data (got),
                     vlm_tensor_get_nbytes (got));
  }
}

static void
test_write_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vlm-st-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "x.safetensors", NULL);
  g_autoptr (VlmTensorSet) set = make_set ();
  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, "format", "pt");
  g_assert_true (vlm_safetensors_write (file, set, meta, &error));
  g_assert_no_error (error);
  VlmTensor *keep;
  {
    g_autoptr (VlmSafetensors) st = vlm_safetensors_open (file, &error);
    g_assert_no_error (error);
    assert_sets_equal (set, st);
    g_assert_cmpstr (vlm_safetensors_get_metadata (st, "format"), ==, "pt");
    keep = vlm_safetensors_get_tensor (st, "alpha", &error);
  }
  /* A view keeps the mapping alive after the checkpoint object is gone. */
  g_assert_cmpfloat (((const float *) vlm_tensor_get_data (keep))[14], ==, 2.5f);
  vlm_tensor_unref (keep);
  g_unlink (file);
  g_rmdir (dir);
}

static void
test_sharded (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vlm-st-XXXXXX", NULL);
  g_autoptr (VlmTensorSet) set = make_set ();
  g_autoptr (VlmTensorSet) s1 = vlm_tensor_set_new ();
  g_autoptr (VlmTensorSet) s2 = vlm_tensor_set_new ();
  vlm_tensor_set_insert (s1, "alpha", vlm_tensor_set_get (set, "alpha"));
  vlm_tensor_set_insert (s2, "beta \"quoted\"", vlm_tensor_set_get (set, "beta \"quoted\""));
  vlm_tensor_set_insert (s2, "gamma.T", vlm_tensor_set_get (set, "gamma.T"));
  g_autofree char *f1 = g_build_filename (dir, "model-00001-of-00002.safetensors", NULL);
  g_autofree char *f2 = g_build_filename (dir, "model-00002-of-00002.safetensors", NULL);
  g_autofree char *idx = g_build_filename (dir, "model.safetensors.index.json", NULL);
  g_assert_true (vlm_safetensors_write (f1, s1, NULL, &error));
  g_assert_true (vlm_safetensors_write (f2, s2, NULL, &error));
  const char *index =
    "{\"metadata\": {}, \"weight_map\": {\"alpha\": \"model-00001-of-00002.safetensors\","
    " \"beta \\\"quoted\\\"\": \"model-00002-of-00002.safetensors\","
    " \"gamma.T\": \"model-00002-of-00002.safetensors\"}}";
  g_assert_true (g_file_set_contents (idx, index, -1, NULL));
  g_autoptr (VlmSafetensors) st = vlm_safetensors_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vlm_safetensors_get_n_files (st), ==, 2);
  assert_sets_equal (set, st);

  /* An index naming the wrong shard is an error naming the tensor. */
  const char *wrong =
    "{\"weight_map\": {\"alpha\": \"model-00002-of-00002.safetensors\"}}";
  g_assert_true (g_file_set_contents (idx, wrong, -1, NULL));
  g_autoptr (VlmSafetensors) bad = vlm_safetensors_open (dir, &error);
  g_assert_null (bad);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "alpha"));
  g_unlink (f1);
  g_unlink (f2);
  g_unlink (idx);
  g_rmdir (dir);
}

typedef struct {
  const char *label;
  const char *header;   /* NULL: use raw */
  gint64 declared_len;  /* -1: the header's length */
  guint data_bytes;
  const char *raw;      /* whole file for the truncated cases */
  gsize raw_len;
  const char *must_mention;
} BadCase;

static const BadCase bad_cases[] = {
  { "truncated-prefix", NULL, 0, 0, "\x10\x00\x00", 3, "truncated" },
  { "empty", NULL, 0, 0, "", 0, "truncated" },
  { "huge-length", "{}", G_GINT64_CONSTANT (0x7fffffffffffffff), 0, NULL, 0, "limit" },
  { "length-past-end", "{}", 4096, 0, NULL, 0, "past the end" },
  { "truncated-json", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],", -1, 4, NULL, 0, "expected" },
  { "offsets-past-end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", -1, 8, NULL, 0, "'w'" },
  { "offsets-reversed", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", -1, 8, NULL, 0, "'w'" },
  { "wrong-dtype", "{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0, "F33" },
  { "size-mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8, NULL, 0, "'w'" },
  { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1, 12, NULL, 0, "overlaps" },
  { "gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8, NULL, 0, "'a'" },
  { "trailing-data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 8, NULL, 0, "after the last" },
  { "duplicate-name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8, NULL, 0, "duplicate" },
  { "duplicate-field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "duplicate" },
  { "unknown-field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"offsets\":[0,4]}}", -1, 4, NULL, 0, "unknown" },
  { "missing-field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", -1, 4, NULL, 0, "missing" },
  { "float-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "integer" },
  { "negative-shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "integer" },
  { "rank-9", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "entries" },
  { "shape-overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740992,9007199254740992],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "'a'" },
  { "huge-number", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "too large" },
  { "not-object", "[1,2]", -1, 0, NULL, 0, "expected '{'" },
  { "trailing-garbage", "{} x", -1, 0, NULL, 0, "trailing" },
  { "bad-utf8", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "UTF-8" },
  { "lone-surrogate", "{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4, NULL, 0, "surrogate" },
  { "metadata-not-string", "{\"__metadata__\":{\"k\":1}}", -1, 0, NULL, 0, "expected '\"'" },
};

static void
test_corrupt_headers (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vlm-st-XXXXXX", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++) {
    const BadCase *c = &bad_cases[i];
    g_autofree char *file = g_strdup_printf ("%s/%s.safetensors", dir, c->label);
    g_autoptr (GByteArray) bytes = g_byte_array_new ();
    if (c->header) {
      guint64 len = c->declared_len >= 0 ? (guint64) c->declared_len : strlen (c->header);
      guint8 prefix[8];
      for (int b = 0; b < 8; b++)
        prefix[b] = (guint8) (len >> (8 * b));
      g_byte_array_append (bytes, prefix, 8);
      g_byte_array_append (bytes, (const guint8 *) c->header, (guint) strlen (c->header));
      for (guint b = 0; b < c->data_bytes; b++)
        g_byte_array_append (bytes, (const guint8 *) "\x01", 1);
    } else {
      g_byte_array_append (bytes, (const guint8 *) c->raw, (guint) c->raw_len);
    }
    g_assert_true (g_file_set_contents (file, (const char *) bytes->data, bytes->len, NULL));
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmSafetensors) st = vlm_safetensors_open (file, &error);
    if (g_test_verbose ())
      g_printerr ("%s: %s\n", c->label, error ? error->message : "(accepted)");
    g_assert_null (st);
    g_assert_nonnull (error);
    g_assert_true (error->domain == VLM_ERROR);
    g_assert_nonnull (strstr (error->message, file));
    if (!strstr (error->message, c->must_mention))
      g_error ("%s: message '%s' lacks '%s'", c->label, error->message, c->must_mention);
    g_unlink (file);
  }
  g_rmdir (dir);
}

static void
test_missing (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmSafetensors) st = vlm_safetensors_open ("/nonexistent/x.safetensors", &error);
  g_assert_null (st);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_IO);
  g_clear_error (&error);
  g_autofree char *dir = shared_path ("fixtures/arch/idefics3");
  g_autofree char *file = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (VlmSafetensors) ok = vlm_safetensors_open (file, &error);
  g_autoptr (VlmTensor) t = vlm_safetensors_get_tensor (ok, "no.such.tensor", &error);
  g_assert_null (t);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no.such.tensor"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/fixtures", test_fixture_checkpoints);
  g_test_add_func ("/safetensors/write-roundtrip", test_write_roundtrip);
  g_test_add_func ("/safetensors/sharded", test_sharded);
  g_test_add_func ("/safetensors/corrupt-headers", test_corrupt_headers);
  g_test_add_func ("/safetensors/missing", test_missing);
  return g_test_run ();
}
