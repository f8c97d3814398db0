/* bench-tokenizer: load time and encode throughput of a tokenizer folder.
 * Not a test (timings vary); run: bench-tokenizer DIR [MEGABYTES]. The input
 * repeats the fixture strings of tokenizers.json (mixed scripts, code, numbers). */
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <time.h>

#include "vlm/vlm-tokenizer.h"

/* Seconds of CPU used by this process: on a busy machine wall time mostly
 * measures the other processes (the tokenizer is single-threaded). */
static double
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

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
  double c0 = cpu_seconds ();
  g_autoptr (VlmTokenizer) tok = vlm_tokenizer_new_from_dir (argv[1], &error);
  gint64 t1 = g_get_monotonic_time ();
  double c1 = cpu_seconds ();
  if (!tok) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  gsize n;
  g_autofree gint32 *ids = vlm_tokenizer_encode (tok, text->str, FALSE, &n);
  gint64 t2 = g_get_monotonic_time ();
  double c2 = cpu_seconds ();
  /* A second pass sees a warm word cache, as a long-running process would. */
  g_autofree gint32 *again = vlm_tokenizer_encode (tok, text->str, FALSE, &n);
  gint64 t3 = g_get_monotonic_time ();
  double c3 = cpu_seconds (), size = text->len / 1e6;
  printf ("%s\n  load   %.3f s CPU (%.3f s wall)\n"
          "  encode %.2f MB -> %zu tokens: %.2f MB/s cold, %.2f MB/s warm by CPU time "
          "(%.2f / %.2f MB/s wall)\n", argv[1], c1 - c0, (t1 - t0) / 1e6, size, n,
          size / (c2 - c1), size / (c3 - c2), size / ((t2 - t1) / 1e6), size / ((t3 - t2) / 1e6));
  g_string_free (text, TRUE);
  return 0;
}
