/* test-token-stream: incremental detokenization of the fixture strings (many
 * with multi-byte characters split over byte tokens): every chunk is valid
 * UTF-8 and the chunks add up to the full decode. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "text-fixtures.h"
#include "vlm/vlm-tokenizer.h"

static void
stream_case (VlmTokenizer *tok, JsonArray *ref, gboolean skip, guint *chunks_checked)
{
  guint n = json_array_get_length (ref);
  g_autofree gint32 *ids = g_new (gint32, n + 1);
  for (guint k = 0; k < n; k++) ids[k] = json_array_get_int_element (ref, k);
  g_autoptr (GError) error = NULL;
  g_autofree char *full = vlm_tokenizer_decode (tok, ids, n, skip, &error);
  g_assert_no_error (error);
  g_autoptr (VlmTokenStream) stream = vlm_token_stream_new (tok, skip);
  GString *joined = g_string_new (NULL);
  for (guint k = 0; k <= n; k++) {
    g_autofree char *chunk = k < n ? vlm_token_stream_push (stream, ids[k], &error)
                                   : vlm_token_stream_flush (stream, &error);
    g_assert_no_error (error);
    g_assert_true (g_utf8_validate (chunk, -1, NULL));
    g_string_append (joined, chunk);
    (*chunks_checked)++;
  }
  g_assert_cmpstr (joined->str, ==, full);
  g_string_free (joined, TRUE);
}

static void
test_stream_fixtures (void)
{
  g_autoptr (JsonNode) root = text_fixture_json ("tokenizers.json");
  g_autoptr (GError) error = NULL;
  JsonObject *toks = json_object_get_object_member (json_node_get_object (root), "tokenizers");
  GList *names = json_object_get_members (toks);
  guint chunks = 0;
  for (GList *l = names; l; l = l->next) {
    JsonObject *spec = json_object_get_object_member (toks, l->data);
    g_autofree char *dir = text_fixture_path (json_object_get_string_member (spec, "folder"), NULL);
    g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (dir, &error);
    g_assert_no_error (error);
    JsonArray *cases = json_object_get_array_member (spec, "cases");
    for (guint i = 0; i < json_array_get_length (cases); i++) {
      JsonArray *ref = json_object_get_array_member (json_array_get_object_element (cases, i), "ids_with_special");
      stream_case (tok, ref, FALSE, &chunks);
      stream_case (tok, ref, TRUE, &chunks);
    }
  }
  g_list_free (names);
  g_printerr ("%u stream chunks checked\n", chunks);
}

/* A byte-fallback tokenizer emits a 4-byte emoji as 4 tokens: nothing may be
 * printed until the last one arrives. */
static void
test_stream_holds_partial_characters (void)
{
  g_autofree char *dir = text_fixture_path ("fixtures", "tokenizers", "llama2", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  const char *bytes[] = { "<0xF0>", "<0x9F>", "<0x98>", "<0x80>" };
  g_autoptr (VlmTokenStream) stream = vlm_token_stream_new (tok, FALSE);
  for (int i = 0; i < 4; i++) {
    gint32 id = vlm_tokenizer_token_to_id (tok, bytes[i]);
    g_assert_cmpint (id, >=, 0);
    g_autofree char *chunk = vlm_token_stream_push (stream, id, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (chunk, ==, i < 3 ? "" : "\xF0\x9F\x98\x80");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/token-stream/fixtures", test_stream_fixtures);
  g_test_add_func ("/text/token-stream/partial-characters", test_stream_holds_partial_characters);
  return g_test_run ();
}
