/* bench-tokenizer: load time and encode throughput of a tokenizer folder.
 * Not a test (timings vary); run: bench-tokenizer DIR [MEGABYTES]. The input
 * repeats the fixture strings of tokenizers.json (mixed scripts, code, numbers). */
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "vlm/vlm-tokenizer.h"

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: %s TOKENIZER_DIR [MEGABYTES]\n", argv[0]);
    return 2;
  }
  double mb = argc > 2 ? g_ascii_strtod (argv[2], NULL) : 1.0;
  const char *shared = g_getenv ("VLM_SHARED_DIR");
  g_autofree char *fixtures = g_build_filename (shared ? shared : "../shared", "fixtures", "tokenizers.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (!json_parser_load_from_file (parser, fixtures, &error)) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  JsonArray *strings = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "strings");
  GString *text = g_string_new (NULL);
  while (text->len < mb * 1e6)
    for (guint i = 0; i < json_array_get_length (strings); i++) {
      g_string_append (text, json_array_get_string_element (strings, i));
      g_string_append_c (text, '\n');
    }

  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (argv[1], &error);
  gint64 t1 = g_get_monotonic_time ();
  if (!tok) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  gsize n;
  g_autofree gint32 *ids = vlm_tokenizer_encode (tok, text->str, FALSE, &n);
  gint64 t2 = g_get_monotonic_time ();
  /* A second pass sees a warm word cache, as a long-running process would. */
  g_autofree gint32 *again = vlm_tokenizer_encode (tok, text->str, FALSE, &n);
  gint64 t3 = g_get_monotonic_time ();
  printf ("%s: load %.3f s; encode %.2f MB -> %zu tokens: %.2f MB/s cold, %.2f MB/s warm\n", argv[1],
          (t1 - t0) / 1e6, text->len / 1e6, n, text->len / ((t2 - t1) / 1e6) / 1e6,
          text->len / ((t3 - t2) / 1e6) / 1e6);
  g_string_free (text, TRUE);
  return 0;
}
