/* test-tokenizers: every string of fixtures/tokenizers.json through every real
 * tokenizer: ids, ids with special tokens, token strings and both decodes. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "text-fixtures.h"
#include "vlm/vlm-tokenizer.h"

typedef struct {
  guint checked, failed;
  GString *report;
} Tally;

static void
note_failure (Tally *t, const char *name, guint index, const char *what, const char *got,
              const char *want)
{
  t->failed++;
  if (t->failed <= 8)
    g_string_append_printf (t->report, "  %s case %u %s:\n    got  %s\n    want %s\n", name, index,
                            what, got, want);
}

static char *
ids_to_string (const gint32 *ids, gsize n)
{
  GString *s = g_string_new ("[");
  for (gsize i = 0; i < n; i++) g_string_append_printf (s, "%s%d", i ? ", " : "", ids[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static char *
array_ids_to_string (JsonArray *a)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < json_array_get_length (a); i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", json_array_get_int_element (a, i));
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
check_ids (Tally *t, const char *name, guint index, const char *what, const gint32 *ids, gsize n,
           JsonArray *want)
{
  g_autofree char *g = ids_to_string (ids, n);
  g_autofree char *w = array_ids_to_string (want);
  t->checked++;
  if (strcmp (g, w) != 0) note_failure (t, name, index, what, g, w);
}

static void
check_string (Tally *t, const char *name, guint index, const char *what, const char *got,
              const char *want)
{
  t->checked++;
  if (g_strcmp0 (got, want) != 0) {
    g_autofree char *g = g_strescape (got ? got : "(null)", NULL);
    g_autofree char *w = g_strescape (want, NULL);
    note_failure (t, name, index, what, g, w);
  }
}

static void
check_tokenizer (Tally *t, const char *name, JsonObject *spec)
{
  g_autofree char *dir = text_fixture_path (json_object_get_string_member (spec, "folder"), NULL);
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (dir, &error);
  g_assert_no_error (error);
  gint64 t1 = g_get_monotonic_time ();
  JsonArray *cases = json_object_get_array_member (spec, "cases");
  guint before = t->failed;
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *text = json_object_get_string_member (c, "text");
    gsize n, ns;
    g_autofree gint32 *ids = vlm_tokenizer_encode (tok, text, FALSE, &n);
    g_autofree gint32 *ids_sp = vlm_tokenizer_encode (tok, text, TRUE, &ns);
    check_ids (t, name, i, "ids", ids, n, json_object_get_array_member (c, "ids"));
    check_ids (t, name, i, "ids_with_special", ids_sp, ns,
               json_object_get_array_member (c, "ids_with_special"));
    if (json_object_has_member (c, "tokens")) {
      g_auto (GStrv) toks = vlm_tokenizer_encode_to_tokens (tok, text, TRUE);
      JsonArray *want = json_object_get_array_member (c, "tokens");
      g_autofree char *g = g_strjoinv ("\x1f", toks);
      GString *w = g_string_new (NULL);
      for (guint k = 0; k < json_array_get_length (want); k++)
        g_string_append_printf (w, "%s%s", k ? "\x1f" : "", json_array_get_string_element (want, k));
      check_string (t, name, i, "tokens", g, w->str);
      g_string_free (w, TRUE);
    }
    /* Decode the reference ids so a decode check does not depend on encoding. */
    JsonArray *ref = json_object_get_array_member (c, "ids_with_special");
    guint rn = json_array_get_length (ref);
    g_autofree gint32 *rids = g_new (gint32, rn + 1);
    for (guint k = 0; k < rn; k++) rids[k] = json_array_get_int_element (ref, k);
    g_autofree char *dec = vlm_tokenizer_decode (tok, rids, rn, FALSE, &error);
    g_assert_no_error (error);
    check_string (t, name, i, "decoded", dec, json_object_get_string_member (c, "decoded"));
    if (json_object_has_member (c, "decoded_skip_special")) {
      g_autofree char *decs = vlm_tokenizer_decode (tok, rids, rn, TRUE, &error);
      g_assert_no_error (error);
      check_string (t, name, i, "decoded_skip_special", decs,
                    json_object_get_string_member (c, "decoded_skip_special"));
    }
  }
  g_printerr ("%-12s load %.3f s, %u cases, %u failures\n", name, (t1 - t0) / 1e6,
              json_array_get_length (cases), t->failed - before);
}

static void
test_all_tokenizers (void)
{
  g_autoptr (JsonNode) root = text_fixture_json ("tokenizers.json");
  JsonObject *toks = json_object_get_object_member (json_node_get_object (root), "tokenizers");
  Tally t = { 0, 0, g_string_new (NULL) };
  GList *names = json_object_get_members (toks);
  for (GList *l = names; l; l = l->next)
    check_tokenizer (&t, l->data, json_object_get_object_member (toks, l->data));
  g_list_free (names);
  g_printerr ("%u checks, %u failures\n%s", t.checked, t.failed, t.report->str);
  g_string_free (t.report, TRUE);
  g_assert_cmpuint (t.failed, ==, 0);
  g_assert_cmpuint (t.checked, >=, 5 * 34 * 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/tokenizers/fixtures", test_all_tokenizers);
  return g_test_run ();
}
