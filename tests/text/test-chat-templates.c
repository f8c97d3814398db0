/* test-chat-templates: every render of fixtures/chat_templates.json (6 real
 * templates x conversations x generation prompt on/off), character for
 * character, and an error wherever the reference raised one. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "text-fixtures.h"
#include "vlm/vlm-chat-template.h"

/* The render kwargs the reference used: bos_token, eos_token and "extra". */
static JsonObject *
kwargs_of (JsonObject *spec)
{
  JsonObject *kw = json_object_new ();
  json_object_set_member (kw, "bos_token", json_node_copy (json_object_get_member (spec, "bos_token")));
  json_object_set_member (kw, "eos_token", json_node_copy (json_object_get_member (spec, "eos_token")));
  JsonObject *extra = json_object_get_object_member (spec, "extra");
  GList *members = json_object_get_members (extra);
  for (GList *l = members; l; l = l->next)
    json_object_set_member (kw, l->data, json_node_copy (json_object_get_member (extra, l->data)));
  g_list_free (members);
  return kw;
}

static void
test_fixture_renders (void)
{
  JsonNode *conv_root = text_fixture_json ("chat_conversations.json");
  JsonNode *cases_root = text_fixture_json ("chat_templates.json");
  JsonObject *convs = json_node_get_object (conv_root);
  JsonObject *templates = json_object_get_object_member (convs, "templates");
  JsonArray *conversations = json_object_get_array_member (convs, "conversations");
  JsonArray *cases = json_node_get_array (cases_root);
  GHashTable *loaded = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  guint checked = 0, failed = 0, errors_expected = 0;

  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *tname = json_object_get_string_member (c, "template");
    JsonObject *spec = json_object_get_object_member (templates, tname);
    VlmChatTemplate *tmpl = g_hash_table_lookup (loaded, tname);
    g_autoptr (GError) error = NULL;
    if (!tmpl) {
      g_autofree char *dir = text_fixture_path (json_object_get_string_member (spec, "folder"), NULL);
      tmpl = vlm_chat_template_new_from_dir (dir, NULL, &error);
      g_assert_no_error (error);
      /* The folder's file must be the one the reference used. */
      g_assert_true (g_str_has_suffix (vlm_chat_template_get_name (tmpl),
                                       json_object_get_string_member (spec, "template_file")));
      g_hash_table_insert (loaded, (gpointer) tname, tmpl);
    }
    /* Conversation numbers in chat_templates.json count from 1. */
    gint64 conv = json_object_get_int_member (c, "conversation");
    JsonNode *messages = json_array_get_element (conversations, conv - 1);
    JsonObject *kw = kwargs_of (spec);
    g_autofree char *text = vlm_chat_template_render (tmpl, messages,
        json_object_get_boolean_member (c, "add_generation_prompt"), kw, &error);
    json_object_unref (kw);
    checked++;
    if (json_object_has_member (c, "error")) {
      errors_expected++;
      if (text) {
        failed++;
        g_printerr ("%s conversation %" G_GINT64_FORMAT ": expected an error (%s), got a render\n",
                    tname, conv, json_object_get_string_member (c, "error"));
      } else {
        g_printerr ("%s conversation %" G_GINT64_FORMAT ": error as expected: %s\n", tname, conv,
                    error->message);
      }
      continue;
    }
    const char *want = json_object_get_string_member (c, "text");
    if (!text || strcmp (text, want) != 0) {
      failed++;
      if (failed <= 6) {
        g_autofree char *g = text ? g_strescape (text, NULL) : g_strdup (error->message);
        g_autofree char *w = g_strescape (want, NULL);
        g_printerr ("%s conversation %" G_GINT64_FORMAT " gen=%d:\n  got  %s\n  want %s\n", tname, conv,
                    json_object_get_boolean_member (c, "add_generation_prompt"), g, w);
      }
    }
  }
  g_printerr ("%u renders checked (%u expected errors), %u failures\n", checked, errors_expected, failed);
  g_assert_cmpuint (checked, ==, json_array_get_length (cases));
  g_hash_table_unref (loaded);
  json_node_unref (conv_root);
  json_node_unref (cases_root);
  g_assert_cmpuint (failed, ==, 0);
}

/* The folder's own special tokens are the defaults when no kwargs are given. */
static void
test_folder_special_tokens (void)
{
  JsonNode *conv_root = text_fixture_json ("chat_conversations.json");
  JsonObject *templates = json_object_get_object_member (json_node_get_object (conv_root), "templates");
  GList *names = json_object_get_members (templates);
  for (GList *l = names; l; l = l->next) {
    JsonObject *spec = json_object_get_object_member (templates, l->data);
    g_autofree char *dir = text_fixture_path (json_object_get_string_member (spec, "folder"), NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmChatTemplate) tmpl = vlm_chat_template_new_from_dir (dir, NULL, &error);
    g_assert_no_error (error);
    JsonObject *special = vlm_chat_template_get_special_tokens (tmpl);
    g_autofree char *config = g_build_filename (dir, "tokenizer_config.json", NULL);
    g_autofree char *map = g_build_filename (dir, "special_tokens_map.json", NULL);
    if (!g_file_test (config, G_FILE_TEST_EXISTS) && !g_file_test (map, G_FILE_TEST_EXISTS)) {
      /* A folder with only a template has no special tokens to offer. */
      g_assert_cmpuint (json_object_get_size (special), ==, 0);
      continue;
    }
    for (int k = 0; k < 2; k++) {
      const char *key = k ? "eos_token" : "bos_token";
      JsonNode *want = json_object_get_member (spec, key);
      JsonNode *got = json_object_get_member (special, key);
      if (JSON_NODE_HOLDS_NULL (want))
        g_assert_true (!got || JSON_NODE_HOLDS_NULL (got));
      else
        g_assert_cmpstr (got ? json_node_get_string (got) : NULL, ==, json_node_get_string (want));
    }
  }
  g_list_free (names);
  json_node_unref (conv_root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/chat-templates/fixtures", test_fixture_renders);
  g_test_add_func ("/text/chat-templates/folder-special-tokens", test_folder_special_tokens);
  return g_test_run ();
}
