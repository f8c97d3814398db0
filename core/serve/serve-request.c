/* serve-request.c: an OpenAI chat-completion request body -> a ServeJob, or the error
 * the client gets. Everything is checked here, on the main loop, before any work is
 * queued: JSON shape and types, limits, and the images' bytes (data URLs whose
 * declared type matches their content; local files only under --allow-local-images). */
#include "serve/serve-http.h"

#include "image/image-sniff.h"

#include <stdlib.h>
#include <string.h>

#define MAX_JSON_DEPTH 64

static ServeError *
bad (const char *param, const char *code, const char *message)
{
  return serve_error_new (400, "invalid_request_error", param, code, "%s", message);
}

/* Nesting depth of a JSON text, counted before parsing so that a deep one cannot
 * exhaust the parser's stack. */
static gboolean
depth_ok (const char *s, gsize len)
{
  int depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > MAX_JSON_DEPTH)
        return FALSE;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return TRUE;
}

static gboolean
get_integer (JsonNode *n, gint64 *out)
{
  if (!JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t == G_TYPE_INT64) {
    *out = json_node_get_int (n);
    return TRUE;
  }
  if (t == G_TYPE_DOUBLE) {
    double d = json_node_get_double (n);
    if (d != (double) (gint64) d || d > 9e18 || d < -9e18)
      return FALSE;
    *out = (gint64) d;
    return TRUE;
  }
  return FALSE;
}

static gboolean
get_number (JsonNode *n, double *out)
{
  if (!JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return FALSE;
  *out = json_node_get_double (n);
  return TRUE;
}

static gboolean
is_string (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING;
}

/* Strict base64: the alphabet, padding only at the end, a multiple of four. */
static GBytes *
decode_base64 (const char *s, gsize len)
{
  if (len == 0 || len % 4)
    return NULL;
  for (gsize i = 0; i < len; i++) {
    char c = s[i];
    gboolean pad_ok = c == '=' && i >= len - 2 && (i == len - 1 || s[len - 1] == '=');
    if (!(g_ascii_isalnum (c) || c == '+' || c == '/' || pad_ok))
      return NULL;
  }
  g_autofree char *copy = g_strndup (s, len);
  gsize n = 0;
  guchar *data = g_base64_decode (copy, &n);
  return g_bytes_new_take (data, n);
}

static const char *
mime_format (const char *mime, gsize len)
{
  static const struct { const char *mime, *format; } known[] = {
    { "image/png", "png" }, { "image/jpeg", "jpeg" }, { "image/jpg", "jpeg" },
    { "image/webp", "webp" }, { "image/gif", "gif" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (strlen (known[i].mime) == len && g_ascii_strncasecmp (mime, known[i].mime, len) == 0)
      return known[i].format;
  return NULL;
}

/* A file under the allowed folder, after resolving symlinks and "..". */
static GBytes *
read_local (const ServeLimits *lim, const char *url, ServeError **err)
{
  const char *path = g_str_has_prefix (url, "file://") ? url + 7 : url;
  if (!lim->allow_local_dir) {
    *err = bad ("messages", "local_images_refused",
                "image_url must be a data: URL (local paths need --allow-local-images)");
    return NULL;
  }
  char *real = realpath (path, NULL);
  gsize dl = strlen (lim->allow_local_dir);
  if (!real || strncmp (real, lim->allow_local_dir, dl) != 0 || real[dl] != '/') {
    free (real);
    *err = bad ("messages", "local_images_refused",
                "image_url is not a readable file under the allowed image folder");
    return NULL;
  }
  g_autofree char *contents = NULL;
  gsize len = 0;
  gboolean ok = g_file_get_contents (real, &contents, &len, NULL);
  free (real);
  if (!ok) {
    *err = bad ("messages", "invalid_image", "image_url: the file cannot be read");
    return NULL;
  }
  if (len > lim->max_body) {
    *err = serve_error_new (413, "invalid_request_error", "messages", "too_large",
                            "image file over the size limit");
    return NULL;
  }
  return g_bytes_new_take (g_steal_pointer (&contents), len);
}

static GBytes *
image_bytes (const ServeLimits *lim, const char *url, ServeError **err)
{
  if (g_str_has_prefix (url, "http://") || g_str_has_prefix (url, "https://")) {
    *err = bad ("messages", "remote_images_refused",
                "remote image URLs are not fetched; send the image as a data: URL");
    return NULL;
  }
  if (!g_str_has_prefix (url, "data:"))
    return read_local (lim, url, err);
  const char *comma = strchr (url, ',');
  const char *semi = comma ? g_strstr_len (url, comma - url, ";base64") : NULL;
  if (!comma || !semi || semi + 7 != comma) {
    *err = bad ("messages", "invalid_image", "image data URLs must be data:<type>;base64,<data>");
    return NULL;
  }
  const char *format = mime_format (url + 5, semi - (url + 5));
  if (!format) {
    *err = bad ("messages", "invalid_image_format",
                "image data URLs must be image/png, image/jpeg, image/webp or image/gif");
    return NULL;
  }
  GBytes *bytes = decode_base64 (comma + 1, strlen (comma + 1));
  if (!bytes) {
    *err = bad ("messages", "invalid_base64", "the image data is not valid base64");
    return NULL;
  }
  gsize n = 0;
  const guint8 *data = g_bytes_get_data (bytes, &n);
  VlmImageHeader h;
  if (!vlm_image_sniff (data, n, &h) || strcmp (h.format, format) != 0) {
    g_bytes_unref (bytes);
    *err = bad ("messages", "invalid_image_format",
                "the image data is not of the declared type");
    return NULL;
  }
  if ((guint64) h.width * h.height > lim->max_pixels) {
    g_bytes_unref (bytes);
    *err = serve_error_new (413, "invalid_request_error", "messages", "image_too_large",
                            "image of %ux%u pixels is over the limit of %" G_GUINT64_FORMAT,
                            h.width, h.height, lim->max_pixels);
    return NULL;
  }
  return bytes;
}

static void
add_part (JsonBuilder *b, const char *type, const char *text)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
  if (text) {
    json_builder_set_member_name (b, "text");
    json_builder_add_string_value (b, text);
  }
  json_builder_end_object (b);
}

/* One message -> {"role", "content": [parts]} with image parts as {"type": "image"}. */
static gboolean
convert_message (const ServeLimits *lim, JsonNode *node, JsonBuilder *b, ServeJob *job,
                 ServeError **err)
{
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *role = o ? json_object_get_member (o, "role") : NULL;
  JsonNode *content = o ? json_object_get_member (o, "content") : NULL;
  if (!is_string (role)) {
    *err = bad ("messages", "invalid_type", "each message needs a string \"role\"");
    return FALSE;
  }
  const char *r = json_node_get_string (role);
  if (strcmp (r, "system") && strcmp (r, "user") && strcmp (r, "assistant")
      && strcmp (r, "developer")) {
    *err = bad ("messages", "invalid_value", "message roles are system, user and assistant");
    return FALSE;
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, strcmp (r, "developer") ? r : "system");
  json_builder_set_member_name (b, "content");
  json_builder_begin_array (b);
  if (is_string (content)) {
    add_part (b, "text", json_node_get_string (content));
  } else if (content && JSON_NODE_HOLDS_ARRAY (content)
             && json_array_get_length (json_node_get_array (content)) > 0) {
    JsonArray *parts = json_node_get_array (content);
    for (guint i = 0; i < json_array_get_length (parts); i++) {
      JsonNode *pn = json_array_get_element (parts, i);
      JsonObject *p = JSON_NODE_HOLDS_OBJECT (pn) ? json_node_get_object (pn) : NULL;
      JsonNode *type = p ? json_object_get_member (p, "type") : NULL;
      const char *t = is_string (type) ? json_node_get_string (type) : "";
      JsonNode *text = p ? json_object_get_member (p, "text") : NULL;
      JsonNode *iu = p ? json_object_get_member (p, "image_url") : NULL;
      if (!strcmp (t, "text") && is_string (text)) {
        add_part (b, "text", json_node_get_string (text));
        continue;
      }
      JsonNode *url = NULL;
      if (iu && JSON_NODE_HOLDS_OBJECT (iu))
        url = json_object_get_member (json_node_get_object (iu), "url");
      else if (is_string (iu))
        url = iu;
      if (strcmp (t, "image_url") || !is_string (url)) {
        *err = bad ("messages", "invalid_type", "content parts are {\"type\": \"text\", \"text\": "
                    "...} or {\"type\": \"image_url\", \"image_url\": {\"url\": ...}}");
        return FALSE;
      }
      if (job->images->len >= lim->max_images) {
        *err = serve_error_new (422, "invalid_request_error", "messages", "too_many_images",
                                "at most %u images per request", lim->max_images);
        return FALSE;
      }
      GBytes *bytes = image_bytes (lim, json_node_get_string (url), err);
      if (!bytes)
        return FALSE;
      g_ptr_array_add (job->images, bytes);
      g_ptr_array_add (job->image_names, g_strdup_printf ("image %u", job->images->len));
      add_part (b, "image", NULL);
    }
  } else {
    *err = bad ("messages", "invalid_type",
                "message content must be a string or a non-empty list of parts");
    return FALSE;
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return TRUE;
}

static gboolean
read_options (JsonObject *o, ServeJob *job, ServeError **err)
{
  JsonNode *n;
  const char *tok_keys[] = { "max_completion_tokens", "max_tokens" };
  for (guint i = 0; i < 2; i++)
    if ((n = json_object_get_member (o, tok_keys[i])) && !JSON_NODE_HOLDS_NULL (n)) {
      if (!get_integer (n, &job->max_tokens) || job->max_tokens < 1) {
        *err = bad (tok_keys[i], "invalid_value", "must be an integer of at least 1");
        return FALSE;
      }
      break;
    }
  if ((n = json_object_get_member (o, "temperature")) && !JSON_NODE_HOLDS_NULL (n)) {
    if (!get_number (n, &job->temperature) || job->temperature < 0 || job->temperature > 2) {
      *err = bad ("temperature", "invalid_value", "must be a number from 0 to 2");
      return FALSE;
    }
    job->has_temperature = TRUE;
  }
  if ((n = json_object_get_member (o, "top_p")) && !JSON_NODE_HOLDS_NULL (n)) {
    if (!get_number (n, &job->top_p) || job->top_p <= 0 || job->top_p > 1) {
      *err = bad ("top_p", "invalid_value", "must be a number in (0, 1]");
      return FALSE;
    }
    job->has_top_p = TRUE;
  }
  if ((n = json_object_get_member (o, "seed")) && !JSON_NODE_HOLDS_NULL (n)) {
    if (!get_integer (n, &job->seed) || job->seed < 0) {
      *err = bad ("seed", "invalid_value", "must be a non-negative integer");
      return FALSE;
    }
    job->has_seed = TRUE;
  }
  if ((n = json_object_get_member (o, "n")) && !JSON_NODE_HOLDS_NULL (n)) {
    gint64 count = 0;
    if (!get_integer (n, &count) || count != 1) {
      *err = bad ("n", "invalid_value", "only n = 1 is supported");
      return FALSE;
    }
  }
  if ((n = json_object_get_member (o, "stream")) && !JSON_NODE_HOLDS_NULL (n)) {
    if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
      *err = bad ("stream", "invalid_type", "must be a boolean");
      return FALSE;
    }
    job->stream = json_node_get_boolean (n);
  }
  if ((n = json_object_get_member (o, "stop")) && !JSON_NODE_HOLDS_NULL (n)) {
    g_autoptr (GStrvBuilder) sb = g_strv_builder_new ();
    if (is_string (n)) {
      g_strv_builder_add (sb, json_node_get_string (n));
    } else if (JSON_NODE_HOLDS_ARRAY (n) && json_array_get_length (json_node_get_array (n)) <= 4) {
      JsonArray *a = json_node_get_array (n);
      for (guint i = 0; i < json_array_get_length (a); i++) {
        if (!is_string (json_array_get_element (a, i))) {
          *err = bad ("stop", "invalid_type", "must be a string or up to 4 strings");
          return FALSE;
        }
        g_strv_builder_add (sb, json_array_get_string_element (a, i));
      }
    } else {
      *err = bad ("stop", "invalid_type", "must be a string or up to 4 strings");
      return FALSE;
    }
    job->stop = g_strv_builder_end (sb);
  }
  return TRUE;
}

ServeJob *
serve_request_parse (const ServeLimits *lim, const char *model_name, const char *body,
                     gsize len, gboolean *include_usage, ServeError **err)
{
  *include_usage = FALSE;
  if (!depth_ok (body, len)) {
    *err = bad (NULL, "invalid_json", "the JSON body is nested too deeply");
    return NULL;
  }
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (!json_parser_load_from_data (parser, body, (gssize) len, &error)) {
    *err = serve_error_new (400, "invalid_request_error", NULL, "invalid_json",
                            "the body is not valid JSON: %s", error->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    *err = bad (NULL, "invalid_type", "the body must be a JSON object");
    return NULL;
  }
  JsonObject *o = json_node_get_object (root);
  JsonNode *model = json_object_get_member (o, "model");
  if (model && !is_string (model)) {
    *err = bad ("model", "invalid_type", "must be a string");
    return NULL;
  }
  if (model && !serve_model_name_matches (model_name, json_node_get_string (model))) {
    *err = serve_error_new (404, "invalid_request_error", "model", "model_not_found",
                            "the model '%s' does not exist; this server has '%s'",
                            json_node_get_string (model), model_name);
    return NULL;
  }
  JsonNode *messages = json_object_get_member (o, "messages");
  if (!messages || !JSON_NODE_HOLDS_ARRAY (messages)
      || json_array_get_length (json_node_get_array (messages)) == 0) {
    *err = bad ("messages", "invalid_type", "messages must be a non-empty list");
    return NULL;
  }
  g_autoptr (ServeJob) job = serve_job_new ();
  if (!read_options (o, job, err))
    return NULL;
  JsonNode *so = json_object_get_member (o, "stream_options");
  JsonNode *iu = so && JSON_NODE_HOLDS_OBJECT (so)
                 ? json_object_get_member (json_node_get_object (so), "include_usage") : NULL;
  if (iu && JSON_NODE_HOLDS_VALUE (iu) && json_node_get_value_type (iu) == G_TYPE_BOOLEAN)
    *include_usage = json_node_get_boolean (iu);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  JsonArray *ma = json_node_get_array (messages);
  for (guint i = 0; i < json_array_get_length (ma); i++)
    if (!convert_message (lim, json_array_get_element (ma, i), b, job, err))
      return NULL;
  json_builder_end_array (b);
  job->messages = json_builder_get_root (b);
  return g_steal_pointer (&job);
}
