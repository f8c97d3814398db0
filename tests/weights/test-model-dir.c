/* test-model-dir.c: config sections, key fallbacks, processor merge, HF cache ids. */
#include "vlm/vlm-error.h"
#include "vlm/vlm-model-dir.h"

#include <glib/gstdio.h>
#include <string.h>

static char *
shared_path (const char *rel)
{
  const char *dir = g_getenv ("VLM_SHARED_DIR");
  g_assert_nonnull (dir);
  return g_build_filename (dir, rel, NULL);
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *p = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (p, text, -1, NULL));
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name (d))) {
      g_autofree char *c = g_build_filename (path, n, NULL);
      remove_tree (c);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static void
test_fixture_folders (void)
{
  const char *names[] = { "gemma3", "idefics3", "llava", "paligemma", "qwen2_5_vl", "qwen2_vl",
                          "smolvlm" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *rel = g_strdup_printf ("fixtures/arch/%s", names[i]);
    g_autofree char *dir = shared_path (rel);
    g_autofree char *cfg_path = g_build_filename (dir, "config.json", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmModelDir) md = vlm_model_dir_new (dir, &error);
    g_assert_no_error (error);
    g_autoptr (JsonParser) p = json_parser_new ();
    g_assert_true (json_parser_load_from_file (p, cfg_path, NULL));
    JsonObject *cfg = json_node_get_object (json_parser_get_root (p));
    g_assert_cmpstr (vlm_model_dir_get_model_type (md), ==,
                     json_object_get_string_member (cfg, "model_type"));
    /* Text settings come from text_config when present, else from the top level. */
    JsonObject *text = json_object_has_member (cfg, "text_config")
                         ? json_object_get_object_member (cfg, "text_config") : cfg;
    g_assert_cmpint (vlm_model_dir_get_int (md, "text_config", "hidden_size", -1), ==,
                     json_object_get_int_member (text, "hidden_size"));
    g_assert_true (vlm_model_dir_get_text_config (md) == text
                   || json_object_equal (vlm_model_dir_get_text_config (md), text));
    guint n_eos = 0;
    g_autofree gint64 *eos = vlm_model_dir_get_eos_token_ids (md, &n_eos);
    g_assert_cmpuint (n_eos, >, 0);
    int gs = 0, bits = 0;
    gboolean q = vlm_model_dir_get_quantization (md, &gs, &bits);
    g_assert_cmpint (q, ==, json_object_has_member (cfg, "quantization"));
    if (q) {
      JsonObject *qo = json_object_get_object_member (cfg, "quantization");
      g_assert_cmpint (gs, ==, json_object_get_int_member (qo, "group_size"));
      g_assert_cmpint (bits, ==, json_object_get_int_member (qo, "bits"));
    }
    VlmSafetensors *w = vlm_model_dir_get_weights (md, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (vlm_safetensors_get_n_tensors (w), >, 0);
    g_assert_true (w == vlm_model_dir_get_weights (md, NULL));
  }
}

static void
test_keys_and_merge (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vlm-md-XXXXXX", NULL);
  write_file (dir, "config.json",
              "{\"model_type\": \"toy\", \"eos_token_id\": 5, \"tie_word_embeddings\": true,"
              " \"rope_parameters\": {\"rope_theta\": 5000.5, \"rope_type\": \"default\"},"
              " \"rope_scaling\": null, \"quantization_config\": {\"group_size\": 32, \"bits\": 3},"
              " \"vision_config\": {\"hidden_size\": 12, \"layer_norm_eps\": 1e-6}}");
  write_file (dir, "generation_config.json", "{\"eos_token_id\": [7, 9]}");
  write_file (dir, "preprocessor_config.json",
              "{\"do_resize\": true, \"size\": {\"longest_edge\": 100}, \"resample\": 1}");
  write_file (dir, "processor_config.json",
              "{\"image_seq_len\": 64, \"image_processor\": {\"resample\": 3}}");
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) md = vlm_model_dir_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (vlm_model_dir_get_double (md, "text_config", "rope_theta|rope_parameters.rope_theta", 1.0), ==, 5000.5);
  g_assert_cmpfloat (vlm_model_dir_get_double (md, NULL, "rope_theta", 10000.0), ==, 10000.0);
  g_assert_false (vlm_model_dir_has_key (md, NULL, "rope_scaling"));
  g_assert_cmpint (vlm_model_dir_get_int (md, "vision_config", "hidden_size", 0), ==, 12);
  g_assert_cmpfloat (vlm_model_dir_get_double (md, "vision_config", "layer_norm_eps", 0), ==, 1e-6);
  g_assert_cmpint (vlm_model_dir_get_int (md, "vision_config", "num_hidden_layers", 27), ==, 27);
  g_assert_true (vlm_model_dir_get_bool (md, NULL, "tie_word_embeddings", FALSE));
  g_assert_cmpstr (vlm_model_dir_get_string (md, NULL, "rope_parameters.rope_type", NULL), ==, "default");
  guint n;
  g_autofree gint64 *eos = vlm_model_dir_get_eos_token_ids (md, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpint (eos[0], ==, 7);
  g_assert_cmpint (eos[1], ==, 9);
  int gs, bits;
  g_assert_true (vlm_model_dir_get_quantization (md, &gs, &bits));
  g_assert_cmpint (gs, ==, 32);
  g_assert_cmpint (bits, ==, 3);
  /* The nested image_processor overrides the older file; other keys merge. */
  g_assert_cmpint (vlm_model_dir_get_int (md, "processor_config", "resample", 0), ==, 3);
  g_assert_cmpint (vlm_model_dir_get_int (md, "processor_config", "image_seq_len", 0), ==, 64);
  g_assert_cmpint (vlm_model_dir_get_int (md, "processor_config", "size.longest_edge", 0), ==, 100);
  g_autofree char *tok = vlm_model_dir_find_file (md, "tokenizer.json");
  g_assert_null (tok);

  write_file (dir, "generation_config.json", "{\"eos_token_id\": [7, ");
  g_autoptr (VlmModelDir) bad = vlm_model_dir_new (dir, &error);
  g_assert_null (bad);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "generation_config.json"));
  remove_tree (dir);
}

static void
test_hf_cache (void)
{
  g_autofree char *home = g_dir_make_tmp ("vlm-hf-XXXXXX", NULL);
  g_autofree char *snap = g_build_filename (home, "hub", "models--toy-org--Toy-1B-4bit",
                                            "snapshots", "abc123", NULL);
  g_autofree char *refs = g_build_filename (home, "hub", "models--toy-org--Toy-1B-4bit", "refs",
                                            NULL);
  g_assert_cmpint (g_mkdir_with_parents (snap, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (refs, 0700), ==, 0);
  write_file (snap, "config.json", "{\"model_type\": \"toy\"}");
  write_file (refs, "main", "abc123\n");
  g_autofree char *old_home = g_strdup (g_getenv ("HF_HOME"));
  g_autofree char *old_hub = g_strdup (g_getenv ("HF_HUB_CACHE"));
  g_setenv ("HF_HOME", home, TRUE);
  g_unsetenv ("HF_HUB_CACHE");

  g_autoptr (GError) error = NULL;
  g_autoptr (VlmModelDir) md = vlm_model_dir_new ("toy-org/Toy-1B-4bit", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vlm_model_dir_get_path (md), ==, snap);
  g_assert_cmpstr (vlm_model_dir_get_model_type (md), ==, "toy");

  g_autoptr (VlmModelDir) absent = vlm_model_dir_new ("toy-org/Absent", &error);
  g_assert_null (absent);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "toy-org/Absent"));
  g_clear_error (&error);
  g_autoptr (VlmModelDir) nodir = vlm_model_dir_new ("/no/such/folder", &error);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_NOT_FOUND);

  if (old_home)
    g_setenv ("HF_HOME", old_home, TRUE);
  else
    g_unsetenv ("HF_HOME");
  if (old_hub)
    g_setenv ("HF_HUB_CACHE", old_hub, TRUE);
  remove_tree (home);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-dir/fixtures", test_fixture_folders);
  g_test_add_func ("/model-dir/keys-and-merge", test_keys_and_merge);
  g_test_add_func ("/model-dir/hf-cache", test_hf_cache);
  return g_test_run ();
}
