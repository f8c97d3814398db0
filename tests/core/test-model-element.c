/* test-model-element.c: VlmModelElement loads on the first run and when the linked folder
 * changes, not otherwise; a failed load is retried; a missing folder is one clear error. */
#include <vlm/vlm.h>

#include <glib/gstdio.h>
#include <string.h>

G_DECLARE_FINAL_TYPE (TestLoader, test_loader, TEST, LOADER, VlmModelElement)
struct _TestLoader {
  VlmModelElement parent;
  guint loads;
  gint64 value;
};
G_DEFINE_FINAL_TYPE (TestLoader, test_loader, VLM_TYPE_MODEL_ELEMENT)

static gboolean
loader_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  TestLoader *self = TEST_LOADER (element);
  self->loads++;
  self->value = vlm_model_dir_get_int (dir, NULL, "value", -1);
  if (self->value < 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: no value",
                 vlm_model_dir_get_path (dir));
    return FALSE;
  }
  return TRUE;
}

static gboolean
loader_process (VlmElement *element, GError **error)
{
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, TEST_LOADER (element)->value);
  vlm_element_set_output_string (element, "value", text);
  return TRUE;
}

static void
test_loader_class_init (TestLoaderClass *klass)
{
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  VLM_MODEL_ELEMENT_CLASS (klass)->load = loader_load;
  ec->process = loader_process;
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_OTHER, "Test loader", "Reads \"value\"");
  vlm_element_class_add_port (ec, "value", VLM_PORT_OUTPUT, G_TYPE_STRING, 0, "the value");
}

static void
test_loader_init (TestLoader *self)
{
}

/* A model folder whose config.json is @config. */
static char *
folder_new (const char *config)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("vlm-model-element-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "config.json", NULL);
  g_assert_true (g_file_set_contents (path, config, -1, &error));
  return dir;
}

static void
folder_remove (char *dir)
{
  g_autofree char *path = g_build_filename (dir, "config.json", NULL);
  g_unlink (path);
  g_rmdir (dir);
  g_free (dir);
}

static void
set_model (VlmElement *e, const char *dir)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, dir);
  vlm_element_set_input (e, "model", &v);
  g_value_unset (&v);
}

static const char *
run (VlmElement *e)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (vlm_element_process (e, &error));
  g_assert_no_error (error);
  return g_value_get_string (vlm_element_get_output (e, "value"));
}

static void
test_reload (void)
{
  char *a = folder_new ("{\"value\": 1}"), *b = folder_new ("{\"value\": 2}");
  g_autoptr (VlmElement) e = g_object_new (test_loader_get_type (), NULL);
  TestLoader *t = TEST_LOADER (e);
  g_assert_nonnull (vlm_element_class_find_port (VLM_ELEMENT_GET_CLASS (e), "model",
                                                 VLM_PORT_INPUT));
  g_assert_null (vlm_model_element_get_dir (VLM_MODEL_ELEMENT (e)));
  set_model (e, a);
  g_autoptr (GError) error = NULL;
  g_assert_true (vlm_element_prepare (e, &error));
  g_assert_cmpstr (run (e), ==, "1");
  g_assert_cmpstr (run (e), ==, "1");
  g_assert_cmpuint (t->loads, ==, 1);
  g_assert_cmpstr (vlm_model_element_get_path (VLM_MODEL_ELEMENT (e)), ==, a);
  g_assert_cmpstr (vlm_model_dir_get_path (vlm_model_element_get_dir (VLM_MODEL_ELEMENT (e))),
                   ==, a);
  set_model (e, b);
  g_assert_cmpstr (run (e), ==, "2");
  g_assert_cmpuint (t->loads, ==, 2);
  set_model (e, a);
  g_assert_cmpstr (run (e), ==, "1");
  g_assert_cmpuint (t->loads, ==, 3);
  folder_remove (a);
  folder_remove (b);
}

static void
test_errors (void)
{
  char *bad = folder_new ("{}");
  g_autoptr (VlmElement) e = g_object_new (test_loader_get_type (), NULL);
  vlm_element_set_id (e, "n");
  g_autoptr (GError) error = NULL;
  g_assert_false (vlm_element_process (e, &error));
  g_assert_error (error, VLM_ERROR, VLM_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "node 'n': no model folder"));
  g_clear_error (&error);

  set_model (e, bad);
  for (guint i = 1; i <= 2; i++) {
    /* Not remembered as loaded: the second try loads again. */
    g_assert_false (vlm_element_process (e, &error));
    g_assert_nonnull (strstr (error->message, bad));
    g_clear_error (&error);
    g_assert_cmpuint (TEST_LOADER (e)->loads, ==, i);
    g_assert_null (vlm_model_element_get_path (VLM_MODEL_ELEMENT (e)));
  }
  folder_remove (bad);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-element/reload", test_reload);
  g_test_add_func ("/model-element/errors", test_errors);
  return g_test_run ();
}
