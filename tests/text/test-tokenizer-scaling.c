/* test-tokenizer-scaling: encoding stays linear on 512 KB pathological inputs
 * (one huge word, long runs of replaced or composable characters), and the
 * piecewise Unicode normalization gives GLib's own result. */
#include <json-glib/json-glib.h>

#include "text-fixtures.h"
#include "text/tok-util.h"
#include "vlm/vlm-tokenizer.h"

/* Generous: a quadratic pass takes minutes on these inputs, a linear one < 1 s
 * (sanitizer builds included). */
#define MAX_SECONDS 20.0

static GString *
repeat (const char *unit, gsize bytes)
{
  GString *s = g_string_new (NULL);
  while (s->len < bytes) g_string_append (s, unit);
  return s;
}

static void
test_linear_encode (void)
{
  const char *names[] = { "gemma3", "llama2", "qwen2vl", "llama3", "smolvlm256m" };
  const char *units[] = { " ", "a", "\xC3\xA9", "e\xCC\x81", "<" };
  for (guint t = 0; t < G_N_ELEMENTS (names); t++) {
    g_autofree char *dir = text_fixture_path ("fixtures", "tokenizers", names[t], NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (dir, &error);
    g_assert_no_error (error);
    for (guint u = 0; u < G_N_ELEMENTS (units); u++) {
      GString *s = repeat (units[u], 1 << 19);
      gint64 t0 = g_get_monotonic_time ();
      gsize n;
      g_autofree gint32 *ids = vlm_tokenizer_encode (tok, s->str, TRUE, &n);
      double secs = (g_get_monotonic_time () - t0) / 1e6;
      g_autofree char *shown = g_strescape (units[u], NULL);
      g_assert_cmpuint (n, >, 0);
      if (secs > MAX_SECONDS)
        g_error ("%s: 512 KB of \"%s\" took %.1f s", names[t], shown, secs);
      g_printerr ("%-12s 512 KB of %-8s %8zu tokens %.2f s\n", names[t], shown, n, secs);
      g_string_free (s, TRUE);
    }
  }
}

static void
test_piecewise_normalize (void)
{
  g_autoptr (JsonNode) root = text_fixture_json ("tokenizers.json");
  JsonArray *strings = json_object_get_array_member (json_node_get_object (root), "strings");
  GString *text = g_string_new (NULL);
  while (text->len < 100000)
    for (guint i = 0; i < json_array_get_length (strings); i++)
      g_string_append (text, json_array_get_string_element (strings, i));
  /* Runs of decomposed and Hangul jamo text stress the cut points. */
  for (int i = 0; i < 2000; i++) g_string_append (text, "e\xCC\x81\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8");
  GNormalizeMode modes[] = { G_NORMALIZE_NFC, G_NORMALIZE_NFKC, G_NORMALIZE_NFD, G_NORMALIZE_NFKD };
  for (guint m = 0; m < G_N_ELEMENTS (modes); m++) {
    g_autofree char *want = g_utf8_normalize (text->str, text->len, modes[m]);
    g_autofree char *got = tok_utf8_normalize (text->str, text->len, modes[m]);
    g_assert_cmpstr (got, ==, want);
  }
  g_string_free (text, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/scaling/encode-512kb", test_linear_encode);
  g_test_add_func ("/text/scaling/piecewise-normalize", test_piecewise_normalize);
  return g_test_run ();
}
