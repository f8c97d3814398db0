/* batch-input.c: parsing `batch` request lines and the prefetch thread. A request that
 * cannot run (bad JSON, no prompt, an unknown option, a missing or corrupt image) carries
 * its error instead, so the main loop writes an error line and goes on. */
#include "batch-input.h"

#include <string.h>

void
batch_request_free (BatchRequest *r)
{
  if (!r)
    return;
  g_free (r->key);
  g_clear_pointer (&r->id, json_node_unref);
  g_free (r->prompt);
  g_strfreev (r->images);
  g_clear_object (&r->params);
  g_clear_error (&r->error);
  g_free (r);
}

static char *
key_of (JsonNode *id, guint line)
{
  if (!id || JSON_NODE_HOLDS_NULL (id))
    return g_strdup_printf ("line:%u", line);
  return json_to_string (id, FALSE);
}

/* The settings of one request: the command line's, then the request's own fields. */
static gboolean
apply_options (VlmGenerateParams *params, JsonObject *o, guint line, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (o);
  for (GList *m = members; m; m = m->next) {
    const char *name = m->data;
    if (g_str_equal (name, "id") || g_str_equal (name, "prompt") || g_str_equal (name, "images"))
      continue;
    JsonNode *node = json_object_get_member (o, name);
    GValue v = G_VALUE_INIT;
    gboolean ok;
    if (JSON_NODE_HOLDS_ARRAY (node)) { /* "stop": ["a", "b"] */
      JsonArray *a = json_node_get_array (node);
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
      for (guint i = 0; i < json_array_get_length (a); i++) {
        JsonNode *e = json_array_get_element (a, i);
        if (json_node_get_value_type (e) == G_TYPE_STRING)
          g_strv_builder_add (b, json_node_get_string (e));
      }
      g_auto (GStrv) strv = g_strv_builder_end (b);
      g_value_init (&v, G_TYPE_STRV);
      g_value_set_boxed (&v, strv);
    } else if (JSON_NODE_HOLDS_VALUE (node)) {
      json_node_get_value (node, &v);
    } else {
      g_value_init (&v, G_TYPE_POINTER); /* an object or null: no option takes one */
    }
    if (G_VALUE_HOLDS_STRING (&v) && g_str_equal (name, "stop")) {
      const char *one[] = { g_value_get_string (&v), NULL };
      g_value_unset (&v);
      g_value_init (&v, G_TYPE_STRV);
      g_value_set_boxed (&v, one);
    }
    ok = vlm_generate_params_set_option (params, name, &v, error);
    g_value_unset (&v);
    if (!ok) {
      g_prefix_error (error, "line %u: ", line);
      return FALSE;
    }
  }
  return TRUE;
}

static VlmGenerateParams *
copy_params (VlmGenerateParams *defaults)
{
  VlmGenerateParams *p = vlm_generate_params_new ();
  guint n = 0;
  g_autofree GParamSpec **specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (defaults), &n);
  for (guint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, specs[i]->value_type);
    g_object_get_property (G_OBJECT (defaults), specs[i]->name, &v);
    g_object_set_property (G_OBJECT (p), specs[i]->name, &v);
    g_value_unset (&v);
  }
  return p;
}

static gboolean
parse_fields (BatchRequest *r, JsonObject *o, const char *base_dir, GError **error)
{
  JsonNode *prompt = json_object_get_member (o, "prompt");
  if (!prompt || json_node_get_value_type (prompt) != G_TYPE_STRING) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "line %u: \"prompt\" must be a string",
                 r->line);
    return FALSE;
  }
  r->prompt = g_strdup (json_node_get_string (prompt));
  JsonNode *images = json_object_get_member (o, "images");
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  if (images && !JSON_NODE_HOLDS_NULL (images)) {
    if (!JSON_NODE_HOLDS_ARRAY (images)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "line %u: \"images\" must be a list of file names", r->line);
      return FALSE;
    }
    JsonArray *a = json_node_get_array (images);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (json_node_get_value_type (e) != G_TYPE_STRING) {
        g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                     "line %u: \"images\" must be a list of file names", r->line);
        return FALSE;
      }
      const char *path = json_node_get_string (e);
      g_autofree char *full = g_path_is_absolute (path) ? g_strdup (path)
                                                        : g_build_filename (base_dir, path, NULL);
      g_strv_builder_add (b, full);
    }
  }
  r->images = g_strv_builder_end (b);
  return apply_options (r->params, o, r->line, error);
}

/**
 * batch_request_parse:
 * @text: one input line
 * @line: its 1-based number
 * @base_dir: relative image paths are resolved against it (the input file's folder)
 * @defaults: the settings given on the command line
 *
 * Returns: (transfer full): the request, with ->error set when the line is unusable
 */
BatchRequest *
batch_request_parse (const char *text, guint line, const char *base_dir,
                     VlmGenerateParams *defaults)
{
  BatchRequest *r = g_new0 (BatchRequest, 1);
  r->line = line;
  r->params = copy_params (defaults);
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *local = NULL;
  if (!json_parser_load_from_data (parser, text, -1, &local)) {
    g_set_error (&r->error, VLM_ERROR, VLM_ERROR_FORMAT, "line %u: not JSON: %s", line,
                 local->message);
    g_error_free (local);
  } else if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error (&r->error, VLM_ERROR, VLM_ERROR_FORMAT, "line %u: not a JSON object", line);
  } else {
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    JsonNode *id = json_object_get_member (o, "id");
    if (id)
      r->id = json_node_copy (id);
    parse_fields (r, o, base_dir, &r->error);
  }
  if (!r->id)
    r->id = json_node_new (JSON_NODE_NULL);
  r->key = key_of (r->id, line);
  return r;
}

/**
 * batch_key_for_result:
 * @result_line: a line of a previous run's output
 *
 * Returns: (nullable): the --resume key of the request it answers, or %NULL for a
 *   line that is not a complete result (cut short by a kill)
 */
char *
batch_key_for_result (const char *result_line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, result_line, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (o, "line"))
    return NULL;
  return key_of (json_object_get_member (o, "id"),
                 (guint) json_object_get_int_member_with_default (o, "line", 0));
}

/* Reads and decodes every image once, so a missing or corrupt file becomes this request's
 * error before the model sees it, and the files are in the page cache when it does. */
static void
check_images (BatchRequest *r)
{
  for (guint i = 0; !r->error && r->images && r->images[i]; i++) {
    g_autoptr (VlmImage) image = vlm_image_load_file (r->images[i], VLM_IMAGE_DEFAULT_MAX_PIXELS,
                                                      FALSE, &r->error);
    if (!image)
      g_prefix_error (&r->error, "line %u: ", r->line);
  }
}

struct _BatchPrefetch {
  GThread *thread;
  GAsyncQueue *ready;  /* BatchRequest*, then the end marker */
  GAsyncQueue *slots;  /* a token per request the thread may prepare ahead */
  GStrv lines;
  char *base_dir;
  GHashTable *skip;
  VlmGenerateParams *defaults;
  gint stop;
};

#define END_MARKER ((gpointer) &batch_prefetch_free)
#define SLOT GINT_TO_POINTER (1)

static gpointer
prefetch_thread (gpointer data)
{
  BatchPrefetch *p = data;
  for (guint i = 0; p->lines[i] && !g_atomic_int_get (&p->stop); i++) {
    const char *text = g_strstrip (p->lines[i]);
    if (!*text)
      continue;
    BatchRequest *r = batch_request_parse (text, i + 1, p->base_dir, p->defaults);
    if (p->skip && g_hash_table_contains (p->skip, r->key)) {
      batch_request_free (r);
      continue;
    }
    g_async_queue_pop (p->slots);
    if (!r->error)
      check_images (r);
    g_async_queue_push (p->ready, r);
  }
  g_async_queue_push (p->ready, END_MARKER);
  return NULL;
}

/**
 * batch_prefetch_start:
 * @lines: the input lines (the thread strips them in place)
 * @base_dir: the input file's folder
 * @skip: (nullable): keys of requests already answered (--resume)
 * @defaults: the command line's settings
 * @depth: how many requests may be prepared ahead of the one running
 */
BatchPrefetch *
batch_prefetch_start (GStrv lines, const char *base_dir, GHashTable *skip,
                      VlmGenerateParams *defaults, guint depth)
{
  BatchPrefetch *p = g_new0 (BatchPrefetch, 1);
  p->ready = g_async_queue_new ();
  p->slots = g_async_queue_new ();
  for (guint i = 0; i < MAX (depth, 1); i++)
    g_async_queue_push (p->slots, SLOT);
  p->lines = lines;
  p->base_dir = g_strdup (base_dir);
  p->skip = skip ? g_hash_table_ref (skip) : NULL;
  p->defaults = g_object_ref (defaults);
  p->thread = g_thread_new ("batch-prefetch", prefetch_thread, p);
  return p;
}

/* Returns: (transfer full) (nullable): the next request, %NULL at the end. */
BatchRequest *
batch_prefetch_next (BatchPrefetch *p)
{
  gpointer item = g_async_queue_pop (p->ready);
  if (item == END_MARKER) {
    g_async_queue_push (p->ready, END_MARKER); /* later calls also see the end */
    return NULL;
  }
  return item;
}

/* The request taken last is answered: the thread may prepare one more. */
void
batch_prefetch_done (BatchPrefetch *p)
{
  g_async_queue_push (p->slots, SLOT);
}

void
batch_prefetch_free (BatchPrefetch *p)
{
  g_atomic_int_set (&p->stop, 1);
  g_async_queue_push (p->slots, SLOT); /* wakes a thread waiting for a slot */
  g_thread_join (p->thread);
  gpointer item;
  while ((item = g_async_queue_try_pop (p->ready)))
    if (item != END_MARKER)
      batch_request_free (item);
  g_async_queue_unref (p->ready);
  g_async_queue_unref (p->slots);
  g_free (p->base_dir);
  g_clear_pointer (&p->skip, g_hash_table_unref);
  g_object_unref (p->defaults);
  g_free (p);
}
