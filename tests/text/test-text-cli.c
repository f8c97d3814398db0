/* test-text-cli: `vlm-pipeline tokenize / detokenize / template` against the
 * fixtures. The CLI path is the first argument. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "text-fixtures.h"

static const char *cli;

static char *
run (int *status, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) cli);
  va_list ap;
  va_start (ap, status);
  for (const char *a; (a = va_arg (ap, const char *));) g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  char *out = NULL;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                status, &error);
  g_assert_no_error (error);
  g_ptr_array_unref (argv);
  return out;
}

static void
test_tokenize_detokenize (void)
{
  g_autoptr (JsonNode) root = text_fixture_json ("tokenizers.json");
  JsonObject *spec = json_object_get_object_member (
      json_object_get_object_member (json_node_get_object (root), "tokenizers"), "qwen2vl");
  JsonObject *c = json_array_get_object_element (json_object_get_array_member (spec, "cases"), 28);
  g_autofree char *dir = text_fixture_path (json_object_get_string_member (spec, "folder"), NULL);
  int status;
  g_autofree char *out = run (&status, "tokenize", "--model", dir, "--text",
                              json_object_get_string_member (c, "text"), "--json", NULL);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autoptr (JsonNode) got = json_from_string (out, NULL);
  g_assert_nonnull (got);
  JsonArray *ids = json_object_get_array_member (json_node_get_object (got), "ids");
  JsonArray *want = json_object_get_array_member (c, "ids_with_special");
  g_assert_cmpuint (json_array_get_length (ids), ==, json_array_get_length (want));
  GString *list = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (want); i++) {
    g_assert_cmpint (json_array_get_int_element (ids, i), ==, json_array_get_int_element (want, i));
    g_string_append_printf (list, "%s%" G_GINT64_FORMAT, i ? "," : "", json_array_get_int_element (want, i));
  }
  g_autofree char *text = run (&status, "detokenize", "--model", dir, "--ids", list->str, NULL);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autofree char *want_text = g_strconcat (json_object_get_string_member (c, "decoded"), "\n", NULL);
  g_assert_cmpstr (text, ==, want_text);
  g_string_free (list, TRUE);
}

static void
test_template (void)
{
  g_autoptr (JsonNode) convs = text_fixture_json ("chat_conversations.json");
  g_autoptr (JsonNode) cases = text_fixture_json ("chat_templates.json");
  JsonArray *list = json_node_get_array (cases);
  JsonObject *c = NULL;
  for (guint i = 0; i < json_array_get_length (list) && !c; i++) {
    JsonObject *x = json_array_get_object_element (list, i);
    if (!strcmp (json_object_get_string_member (x, "template"), "gemma3") && json_object_has_member (x, "text")
        && !json_object_get_boolean_member (x, "add_generation_prompt"))
      c = x;
  }
  g_assert_nonnull (c);
  JsonNode *messages = json_array_get_element (
      json_object_get_array_member (json_node_get_object (convs), "conversations"),
      json_object_get_int_member (c, "conversation") - 1);
  g_autofree char *tmp = NULL;
  int fd = g_file_open_tmp ("vlm-messages-XXXXXX.json", &tmp, NULL);
  g_assert_cmpint (fd, >=, 0);
  g_close (fd, NULL);
  g_autofree char *data = json_to_string (messages, FALSE);
  g_assert_true (g_file_set_contents (tmp, data, -1, NULL));
  g_autofree char *dir = text_fixture_path ("fixtures", "templates", "gemma3", NULL);
  int status;
  g_autofree char *out = run (&status, "template", "--model", dir, "--messages", tmp,
                              "--no-generation-prompt", "--json", NULL);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autoptr (JsonNode) got = json_from_string (out, NULL);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (got), "text"), ==,
                   json_object_get_string_member (c, "text"));
  g_remove (tmp);
}

static void
test_bad_usage (void)
{
  int status;
  g_free (run (&status, "tokenize", "--text", "x", NULL));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
  g_free (run (&status, "detokenize", "--model", ".", "--ids", "1,zz", NULL));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
  g_free (run (&status, "tokenize", "--model", "/nonexistent", "--text", "x", NULL));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (argc, ==, 2);
  cli = argv[1];
  g_test_add_func ("/text/cli/tokenize-detokenize", test_tokenize_detokenize);
  g_test_add_func ("/text/cli/template", test_template);
  g_test_add_func ("/text/cli/bad-usage", test_bad_usage);
  return g_test_run ();
}
