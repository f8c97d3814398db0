/* test-pipeline.c: pipeline JSON parsing, validation errors, running, --set, model-only form. */
#include "test-elements.h"

#include <glib/gstdio.h>
#include <string.h>

static VlmPipeline *
load (const char *json, GError **error)
{
  return vlm_pipeline_new_from_data (json, -1, NULL, error);
}

/* Asserts that @json is rejected as invalid with a message containing every fragment. */
static void
expect_invalid (const char *json, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmPipeline) p = load (json, &error);
  g_assert_null (p);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  va_list args;
  va_start (args, json);
  for (const char *frag = va_arg (args, const char *); frag; frag = va_arg (args, const char *))
    if (!strstr (error->message, frag))
      g_error ("message \"%s\" lacks \"%s\"", error->message, frag);
  va_end (args);
}

static void
test_run (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmPipeline) p = load (
      "{\"name\": \"t\", \"prompt\": \"world\", \"nodes\": ["
      " {\"id\": \"join\", \"element\": \"test-join\", \"inputs\": {\"a\": \"src.word\", \"b\": \"@prompt\"}},"
      " {\"id\": \"src\", \"element\": \"test-source\", \"properties\": {\"count\": 6, \"word\": \"hi\"}}]}",
      &error);
  g_assert_no_error (error);
  guint before = test_source_prepare_calls;
  g_assert_true (vlm_pipeline_prepare (p, &error));
  g_assert_cmpuint (test_source_prepare_calls, ==, before + 1);
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (p);
  g_assert_cmpstr (ids[0], ==, "src"); /* topological order, not file order */
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  const GValue *v = vlm_pipeline_get_value (p, "join.text");
  g_assert_cmpstr (g_value_get_string (v), ==, "hi world");
  /* Prepared again before its process (a model element then finds nothing changed). */
  g_assert_cmpuint (test_source_prepare_calls, ==, before + 2);
  g_auto (GStrv) sinks = vlm_pipeline_list_sink_outputs (p);
  g_assert_true (g_strv_contains ((const char *const *) sinks, "src.mask"));
  g_assert_true (g_strv_contains ((const char *const *) sinks, "join.text"));
  VlmTensor *mask = g_value_get_boxed (vlm_pipeline_get_value (p, "src.mask"));
  g_assert_cmpint (vlm_tensor_get_dim (mask, 1), ==, 6);

  g_assert_true (vlm_pipeline_set_node_property (p, "src.word=bye", &error));
  vlm_pipeline_set_prompt (p, NULL); /* unset @prompt leaves optional "b" unconnected */
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_cmpstr (g_value_get_string (vlm_pipeline_get_value (p, "join.text")), ==, "bye");

  g_assert_false (vlm_pipeline_set_node_property (p, "src.count=many", &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (vlm_pipeline_set_node_property (p, "src.count=1000", &error));
  g_assert_nonnull (strstr (error->message, "out of range"));
  g_clear_error (&error);
  g_assert_false (vlm_pipeline_set_node_property (p, "nosuch.count=1", &error));
  g_assert_nonnull (strstr (error->message, "nosuch"));
}

static void
test_cancel (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmPipeline) p = load ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\"}]}", &error);
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_assert_false (vlm_pipeline_run (p, c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_invalid (void)
{
  expect_invalid ("{\"nodes\": [ {\"id\": \"a\", \"element\": \"test-source\"", ":1:", NULL);
  expect_invalid ("{\n\"nodes\": [\n  {\"id\": \"a\",, }]}", ":3:", NULL);
  expect_invalid ("[1, 2]", "must be a JSON object", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"dec\", \"element\": \"no-such-element\"}]}",
                  "node 'dec'", "unknown element 'no-such-element'", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\", \"properties\": {\"size\": 1}}]}",
                  "node 's'", "no settable property 'size'", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\", \"properties\": {\"count\": \"4\"}}]}",
                  "node 's'", "'count'", "gint", "a string", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\", \"properties\": {\"count\": 2.5}}]}",
                  "node 's'", "non-integer", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"j\", \"element\": \"test-join\", \"inputs\": {\"a\": \"ghost.word\"}}]}",
                  "node 'j'", "missing node 'ghost'", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\"},"
                  "{\"id\": \"j\", \"element\": \"test-join\", \"inputs\": {\"a\": \"s.nope\"}}]}",
                  "node 'j'", "missing port 'nope'", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\"},"
                  "{\"id\": \"j\", \"element\": \"test-join\", \"inputs\": {\"a\": \"s\"}}]}",
                  "node 'j'", "has 2 outputs", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"j\", \"element\": \"test-join\"}]}",
                  "node 'j'", "required input 'a'", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\"},"
                  "{\"id\": \"j\", \"element\": \"test-join\", \"inputs\": {\"a\": \"s.mask\"}}]}",
                  "node 'j'", "expects gchararray", "VlmTensor", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"j\", \"element\": \"test-join\", \"inputs\": {\"a\": \"k.text\"}},"
                  "{\"id\": \"k\", \"element\": \"test-join\", \"inputs\": {\"a\": \"j.text\"}}]}",
                  "cycle", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"j\", \"element\": \"test-join\", \"inputs\": {\"zz\": \"@prompt\"}}]}",
                  "node 'j'", "no input port 'zz'", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"j\", \"element\": \"test-join\", \"inputs\": {\"a\": \"@nothing\"}}]}",
                  "unknown pipeline value '@nothing'", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\"}, {\"id\": \"s\", \"element\": \"test-source\"}]}",
                  "node 's' is defined twice", NULL);
  expect_invalid ("{\"nodes\": [{\"id\": \"s\", \"element\": \"test-source\", \"input\": {}}]}",
                  "unknown key \"input\"", NULL);
  expect_invalid ("{\"patches\": {\"disable\": [\"no-such-patch\"]}, \"nodes\": []}",
                  "unknown patch 'no-such-patch'", NULL);
  expect_invalid ("{\"name\": \"nothing\"}", "needs \"nodes\" or a \"model\"", NULL);
}

static VlmTensorSet *
mask_set (gint64 value_at_1)
{
  gint64 shape[] = { 1, 3 };
  gint64 data[] = { 1, value_at_1, 0 };
  VlmTensorSet *set = vlm_tensor_set_new ();
  g_autoptr (VlmTensor) mask = vlm_tensor_new_from_data (VLM_DTYPE_I64, 2, shape, data,
                                                         sizeof data, NULL);
  vlm_tensor_set_insert (set, "attention_mask", mask);
  return set;
}

static void
test_patches (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmPipeline) p = load ("{\"nodes\": []}", &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) active = vlm_pipeline_list_active_patches (p, VLM_HOOK_BEFORE_MERGE);
  g_assert_cmpuint (active->len, >=, 1);

  /* The shipped mask-dtype patch turns an I64 mask into BOOL with the same values. */
  g_autoptr (VlmTensorSet) set = mask_set (1);
  g_assert_true (vlm_pipeline_apply_patches (p, VLM_HOOK_BEFORE_MERGE, set, &error));
  g_assert_no_error (error);
  VlmTensor *mask = vlm_tensor_set_get (set, "attention_mask");
  g_assert_cmpint (vlm_tensor_get_dtype (mask), ==, VLM_DTYPE_BOOL);
  const guint8 *m = vlm_tensor_get_data (mask);
  g_assert_cmpuint (m[0], ==, 1);
  g_assert_cmpuint (m[1], ==, 1);
  g_assert_cmpuint (m[2], ==, 0);

  /* A mask value other than 0/1 is an error naming the tensor. */
  g_autoptr (VlmTensorSet) bad = mask_set (7);
  g_assert_false (vlm_pipeline_apply_patches (p, VLM_HOOK_BEFORE_MERGE, bad, &error));
  g_assert_nonnull (strstr (error->message, "attention_mask"));
  g_assert_nonnull (strstr (error->message, "mask-dtype"));
  g_clear_error (&error);

  /* Disabled per pipeline: the tensor is left alone. */
  g_autoptr (VlmPipeline) off = load ("{\"patches\": {\"disable\": [\"mask-dtype\"]}, \"nodes\": []}",
                                      &error);
  g_assert_no_error (error);
  g_autoptr (VlmTensorSet) untouched = mask_set (1);
  g_assert_true (vlm_pipeline_apply_patches (off, VLM_HOOK_BEFORE_MERGE, untouched, &error));
  g_assert_cmpint (vlm_tensor_get_dtype (vlm_tensor_set_get (untouched, "attention_mask")), ==,
                   VLM_DTYPE_I64);
  /* Nothing is registered at the weights hook for every model. */
  g_autoptr (GPtrArray) weights = vlm_pipeline_list_active_patches (off, VLM_HOOK_WEIGHTS);
  for (guint i = 0; i < weights->len; i++)
    g_assert_nonnull (vlm_patch_get_model_types (g_ptr_array_index (weights, i)));
}

static char *
make_model_dir (const char *model_type)
{
  char *dir = g_dir_make_tmp ("vlm-test-model-XXXXXX", NULL);
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  g_autofree char *text = g_strdup_printf ("{\"model_type\": \"%s\"}", model_type);
  g_assert_true (g_file_set_contents (config, text, -1, NULL));
  return dir;
}

static void
remove_model_dir (const char *dir)
{
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  g_unlink (config);
  g_rmdir (dir);
}

static void
test_model_only (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_model_dir ("test-arch");
  g_autoptr (VlmPipeline) p = vlm_pipeline_new_for_model (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vlm_pipeline_get_model_type (p), ==, "test-arch");
  vlm_pipeline_set_prompt (p, "there");
  g_assert_true (vlm_pipeline_run (p, NULL, &error));
  g_assert_cmpstr (g_value_get_string (vlm_pipeline_get_value (p, "join.text")), ==,
                   "hello there");
  remove_model_dir (dir);

  g_autofree char *other = make_model_dir ("unheard-of");
  g_autoptr (VlmPipeline) none = vlm_pipeline_new_for_model (other, &error);
  g_assert_null (none);
  g_assert_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "unheard-of"));
  remove_model_dir (other);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  if (!test_elements_register (&error))
    g_error ("%s", error->message);
  g_test_add_func ("/pipeline/run", test_run);
  g_test_add_func ("/pipeline/cancel", test_cancel);
  g_test_add_func ("/pipeline/invalid", test_invalid);
  g_test_add_func ("/pipeline/patches", test_patches);
  g_test_add_func ("/pipeline/model-only", test_model_only);
  return g_test_run ();
}
