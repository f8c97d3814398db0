/* text-fixtures.c: see text-fixtures.h. */
#include "text-fixtures.h"

char *
text_fixture_path (const char *first, ...)
{
  const char *shared = g_getenv ("VLM_SHARED_DIR");
  g_assert_nonnull (shared);
  GPtrArray *parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) shared);
  va_list ap;
  va_start (ap, first);
  for (const char *p = first; p; p = va_arg (ap, const char *)) g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  char *path = g_build_filenamev ((char **) parts->pdata);
  g_ptr_array_unref (parts);
  return path;
}

JsonNode *
text_fixture_json (const char *file)
{
  g_autofree char *path = text_fixture_path ("fixtures", file, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}
