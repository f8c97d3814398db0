/* test-idefics3.c: Idefics3 / SmolVLM end to end against the reference goldens:
 * arch fixtures (HF BF16 and mlx 4-bit), the real SmolVLM-256M processor on photos. */
#include "model-test-util.h"

#include <glib/gstdio.h>
#include <unistd.h>

/* The real SmolVLM-256M processor settings and tokenizer, assembled into one folder. */
static char *
real_processor_dir (void)
{
  char *dir = g_dir_make_tmp ("vlm-smolvlm-processor-XXXXXX", NULL);
  static const char *const from_preprocess[] = { "preprocessor_config.json",
                                                 "processor_config.json", "chat_template.json" };
  static const char *const from_tokenizer[] = { "config.json", "tokenizer.json",
                                                "tokenizer_config.json", "special_tokens_map.json",
                                                "added_tokens.json", "generation_config.json" };
  for (guint i = 0; i < G_N_ELEMENTS (from_preprocess); i++) {
    g_autofree char *src = fixture_path ("fixtures", "preprocess", "pre_smolvlm256m_real",
                                         from_preprocess[i], NULL);
    g_autofree char *dst = g_build_filename (dir, from_preprocess[i], NULL);
    g_assert_cmpint (symlink (src, dst), ==, 0);
  }
  for (guint i = 0; i < G_N_ELEMENTS (from_tokenizer); i++) {
    g_autofree char *src = fixture_path ("fixtures", "tokenizers", "smolvlm256m", from_tokenizer[i], NULL);
    g_autofree char *dst = g_build_filename (dir, from_tokenizer[i], NULL);
    g_assert_cmpint (symlink (src, dst), ==, 0);
  }
  return dir;
}

static void
remove_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_unlink (path);
  }
  g_rmdir (dir);
}

static void
test_real_processor (void)
{
  g_autofree char *dir = real_processor_dir ();
  g_autofree char *fixture = fixture_path ("fixtures", "preprocess", "pre_smolvlm256m_real", NULL);
  g_autofree char *cases_path = g_build_filename (fixture, "cases.json", NULL);
  g_autoptr (JsonNode) root = fixture_json (cases_path);
  JsonObject *all = json_node_get_object (root);
  g_autoptr (GError) error = NULL;
  /* The processor's own part of the pipeline: loading, template, processor. */
  g_autofree char *json = g_strdup_printf (
      "{\"model\": \"%s\", \"nodes\": ["
      "{\"id\": \"load\", \"element\": \"image-loader\", \"inputs\": {\"locations\": \"@images\"}},"
      "{\"id\": \"chat\", \"element\": \"chat-template\", \"inputs\": {\"model\": \"@model\","
      " \"prompt\": \"@prompt\", \"images\": \"load.images\"}},"
      "{\"id\": \"proc\", \"element\": \"idefics3-processor\", \"inputs\": {\"model\": \"@model\","
      " \"text\": \"chat.text\", \"images\": \"load.images\", \"modes\": \"load.modes\"}}]}", dir);
  g_autoptr (VlmPipeline) p = vlm_pipeline_new_from_data (json, -1, NULL, &error);
  g_assert_no_error (error);
  vlm_pipeline_set_prompt (p, json_object_get_string_member (all, "prompt"));
  JsonArray *cases = json_object_get_array_member (all, "cases");
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    g_autofree char *image = g_build_filename (fixture, json_object_get_string_member (c, "image"), NULL);
    const char *images[] = { image, NULL };
    vlm_pipeline_set_images (p, images);
    g_assert_true (vlm_pipeline_run (p, NULL, &error));
    g_assert_no_error (error);
    const GValue *expanded = vlm_pipeline_get_value (p, "proc.prompt");
    g_assert_cmpstr (g_value_get_string (expanded), ==, json_object_get_string_member (c, "expanded_prompt"));
    JsonArray *want = json_object_get_array_member (c, "input_ids");
    gint64 shape[] = { 1, json_array_get_length (want) };
    g_autoptr (VlmTensor) expected = vlm_tensor_new (VLM_DTYPE_I64, 2, shape);
    gint64 *e = vlm_tensor_get_data_mut (expected);
    for (guint k = 0; k < json_array_get_length (want); k++)
      e[k] = json_array_get_int_element (want, k);
    g_assert_cmpint (shape[1], ==, json_object_get_int_member (c, "prompt_tokens"));
    assert_ids_equal (pipeline_output (p, "input_ids"), expected, json_object_get_string_member (c, "image"));
    g_test_message ("%s: %" G_GINT64_FORMAT " input ids identical", json_object_get_string_member (c, "image"), shape[1]);
  }
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/idefics3/arch/idefics3", "idefics3", test_arch_fixture);
  g_test_add_data_func ("/idefics3/arch/smolvlm", "smolvlm", test_arch_fixture);
  g_test_add_func ("/idefics3/real-processor", test_real_processor);
  return g_test_run ();
}
