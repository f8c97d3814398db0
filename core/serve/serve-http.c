/* serve-http.c: the OpenAI-compatible HTTP endpoints on libsoup 3 and the GLib main
 * loop. Engine and worker events are marshalled here; each response (a JSON body, or
 * Server-Sent Events as text arrives) is written from this thread only. */
#include "serve/serve-http.h"

#include <glib-unix.h>
#include <string.h>

typedef struct _Server Server;

typedef struct {
  Server *server;
  SoupServerMessage *msg;
  ServeJob *job;
  gboolean stream, include_usage, started;
  GString *text;             /* non-streaming answer */
  gint64 last_us;            /* last text piece, for inter-token latency */
  gboolean got_first;
  gulong finished_id;
} Pending;

struct _Server {
  ServeConfig *cfg;
  GMainLoop *loop;
  SoupServer *soup;
  ServeModel *model;         /* NULL while loading */
  ServeCache *cache;
  ServeEngine *engine;
  ServeMetrics *metrics;
  GHashTable *pending;       /* ServeJob* -> Pending* */
  GThread *loader;
  GError *load_error;
  gboolean stopping;
  guint grace_source;
  int exit_code;
};

gboolean
serve_model_name_matches (const char *served, const char *asked)
{
  g_autofree char *base = g_path_get_basename (served);
  return !g_strcmp0 (served, asked) || !g_strcmp0 (base, asked);
}

static void
set_json (SoupServerMessage *msg, guint status, char *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, json,
                                    strlen (json));
}

static void
respond_error (Server *s, SoupServerMessage *msg, const char *endpoint, ServeError *e)
{
  if (e->status == 503)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Retry-After", "1");
  if (e->status == 401)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "WWW-Authenticate", "Bearer");
  serve_metrics_request (s->metrics, endpoint, e->status);
  set_json (msg, e->status, serve_error_to_json (e));
}

/* ---- responses of a chat completion ---- */

static void
pending_free (Pending *p)
{
  g_signal_handler_disconnect (p->msg, p->finished_id);
  g_object_unref (p->msg);
  serve_job_unref (p->job);
  if (p->text)
    g_string_free (p->text, TRUE);
  g_free (p);
}

static void
sse_send (Pending *p, char *json)
{
  SoupMessageBody *body = soup_server_message_get_response_body (p->msg);
  char *line = g_strdup_printf ("data: %s\n\n", json);
  soup_message_body_append (body, SOUP_MEMORY_TAKE, line, strlen (line));
  g_free (json);
  soup_server_message_unpause (p->msg);
}

static void
sse_start (Pending *p)
{
  if (p->started)
    return;
  p->started = TRUE;
  SoupServerMessage *msg = p->msg;
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (h, "text/event-stream", NULL);
  soup_message_headers_replace (h, "Cache-Control", "no-cache");
  serve_metrics_request (p->server->metrics, "/v1/chat/completions", 200);
}

/* {"id", "object", "created", "model", "choices": [...]} around one choice. */
static JsonBuilder *
begin_completion (Pending *p, const char *object)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, p->job->id);
  json_builder_set_member_name (b, "object");
  json_builder_add_string_value (b, object);
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, p->job->created);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, p->server->model->name);
  return b;
}

static void
add_usage (JsonBuilder *b, ServeJob *job)
{
  json_builder_set_member_name (b, "usage");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prompt_tokens");
  json_builder_add_int_value (b, job->n_prompt);
  json_builder_set_member_name (b, "completion_tokens");
  json_builder_add_int_value (b, job->completion_tokens);
  json_builder_set_member_name (b, "total_tokens");
  json_builder_add_int_value (b, job->n_prompt + job->completion_tokens);
  json_builder_set_member_name (b, "prompt_tokens_details");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cached_tokens");
  json_builder_add_int_value (b, job->reused_tokens);
  json_builder_end_object (b);
  json_builder_end_object (b);
}

static char *
end_completion (JsonBuilder *b)
{
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_object_unref (b);
  return json_to_string (root, FALSE);
}

/* A chunk with one choice: delta {role?, content?} and a finish reason or null. */
static char *
chunk_json (Pending *p, const char *role, const char *content, const char *finish)
{
  JsonBuilder *b = begin_completion (p, "chat.completion.chunk");
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "delta");
  json_builder_begin_object (b);
  if (role) {
    json_builder_set_member_name (b, "role");
    json_builder_add_string_value (b, role);
  }
  if (content) {
    json_builder_set_member_name (b, "content");
    json_builder_add_string_value (b, content);
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "finish_reason");
  if (finish)
    json_builder_add_string_value (b, finish);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  return end_completion (b);
}

static char *
completion_json (Pending *p, const char *finish)
{
  JsonBuilder *b = begin_completion (p, "chat.completion");
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "message");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, "assistant");
  json_builder_set_member_name (b, "content");
  json_builder_add_string_value (b, p->text->str);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "finish_reason");
  json_builder_add_string_value (b, finish);
  json_builder_end_object (b);
  json_builder_end_array (b);
  add_usage (b, p->job);
  return end_completion (b);
}

static void
sse_finish (Pending *p)
{
  SoupMessageBody *body = soup_server_message_get_response_body (p->msg);
  const char *done = "data: [DONE]\n\n";
  soup_message_body_append (body, SOUP_MEMORY_STATIC, done, strlen (done));
  soup_message_body_complete (body);
  soup_server_message_unpause (p->msg);
}

/* Ends a request with an error: a status and body before streaming began, else a final
 * error event. */
static void
pending_fail (Pending *p, ServeError *e)
{
  if (!p->started) {
    respond_error (p->server, p->msg, "/v1/chat/completions", e);
    soup_server_message_unpause (p->msg);
    return;
  }
  sse_send (p, serve_error_to_json (e));
  sse_finish (p);
}

static void
on_text (Pending *p, ServeEvent *ev)
{
  Server *s = p->server;
  if (!p->got_first)
    serve_metrics_ttft (s->metrics, (ev->time_us - p->job->arrival_us) / 1e6);
  else
    serve_metrics_itl (s->metrics, (ev->time_us - p->last_us) / 1e6);
  p->got_first = TRUE;
  p->last_us = ev->time_us;
  if (!p->stream) {
    g_string_append (p->text, ev->text);
    return;
  }
  sse_send (p, chunk_json (p, NULL, ev->text, NULL));
}

static void
on_done (Pending *p, ServeEvent *ev)
{
  Server *s = p->server;
  serve_metrics_tokens (s->metrics, p->job->n_prompt, p->job->reused_tokens,
                        p->job->completion_tokens);
  if (!p->stream) {
    serve_metrics_request (s->metrics, "/v1/chat/completions", 200);
    set_json (p->msg, 200, completion_json (p, ev->finish_reason));
    soup_server_message_unpause (p->msg);
    return;
  }
  sse_send (p, chunk_json (p, NULL, NULL, ev->finish_reason));
  if (p->include_usage) {
    JsonBuilder *b = begin_completion (p, "chat.completion.chunk");
    json_builder_set_member_name (b, "choices");
    json_builder_begin_array (b);
    json_builder_end_array (b);
    add_usage (b, p->job);
    sse_send (p, end_completion (b));
  }
  sse_finish (p);
}

typedef struct {
  Server *server;
  ServeEvent *event;
} Delivery;

static gboolean
deliver (gpointer data)
{
  Delivery *d = data;
  Server *s = d->server;
  ServeEvent *ev = d->event;
  Pending *p = g_hash_table_lookup (s->pending, ev->job);
  if (p) {
    /* Headers go out with the first text, so a failure before it keeps its status. */
    if (p->stream && ev->kind != SERVE_EVENT_ERROR && !p->started) {
      sse_start (p);
      sse_send (p, chunk_json (p, "assistant", "", NULL));
    }
    if (ev->kind == SERVE_EVENT_DELTA) {
      on_text (p, ev);
    } else {
      if (ev->kind == SERVE_EVENT_DONE)
        on_done (p, ev);
      else
        pending_fail (p, ev->error);
      g_hash_table_remove (s->pending, ev->job);
    }
  }
  serve_event_free (ev);
  g_free (d);
  if (s->stopping && g_hash_table_size (s->pending) == 0)
    g_main_loop_quit (s->loop);
  return G_SOURCE_REMOVE;
}

/* Engine and worker threads: hand the event to the main loop. */
static void
post_event (ServeEvent *event, gpointer data)
{
  Delivery *d = g_new (Delivery, 1);
  d->server = data;
  d->event = event;
  g_main_context_invoke (NULL, deliver, d);
}

/* The client went away: the job stops and its slot is freed before the next step; the
 * message is not touched again. */
static void
on_message_finished (SoupServerMessage *msg, gpointer data)
{
  Pending *p = data;
  Server *s = p->server;
  g_atomic_int_set (&p->job->cancelled, 1);
  g_hash_table_remove (s->pending, p->job);
  if (s->stopping && g_hash_table_size (s->pending) == 0)
    g_main_loop_quit (s->loop);
}

/* ---- endpoints ---- */

static gboolean
authorized (Server *s, SoupServerMessage *msg)
{
  if (!s->cfg->api_key)
    return TRUE;
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  g_autofree char *want = g_strdup_printf ("Bearer %s", s->cfg->api_key);
  gsize n = strlen (want), m = auth ? strlen (auth) : 0;
  /* Constant time in the content: every byte of the expected value is compared. */
  guint8 diff = n != m;
  for (gsize i = 0; i < n; i++)
    diff |= (guint8) want[i] ^ (guint8) (i < m ? auth[i] : 0);
  return diff == 0;
}

static void
handle_chat (Server *s, SoupServerMessage *msg)
{
  const char *ep = "/v1/chat/completions";
  SoupMessageBody *req = soup_server_message_get_request_body (msg);
  if ((gsize) req->length > s->cfg->limits.max_body) {
    g_autoptr (ServeError) e = serve_error_new (413, "invalid_request_error", NULL, "too_large",
                                                "the body is over %" G_GSIZE_FORMAT " bytes",
                                                s->cfg->limits.max_body);
    respond_error (s, msg, ep, e);
    return;
  }
  g_autoptr (GBytes) body = soup_message_body_flatten (req);
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);
  gboolean include_usage = FALSE;
  ServeError *err = NULL;
  g_autoptr (ServeJob) job = serve_request_parse (&s->cfg->limits, s->model->name,
                                                  data ? data : "", len, &include_usage, &err);
  if (!job) {
    respond_error (s, msg, ep, err);
    serve_error_free (err);
    return;
  }
  guint preparing, waiting, active;
  serve_engine_get_load (s->engine, &preparing, &waiting, &active);
  if (preparing + waiting + active >= s->cfg->parallel + s->cfg->max_queue) {
    g_autoptr (ServeError) e = serve_error_new (503, "server_error", NULL, "queue_full",
                                                "the server is busy; retry later");
    respond_error (s, msg, ep, e);
    return;
  }
  Pending *p = g_new0 (Pending, 1);
  p->server = s;
  p->msg = g_object_ref (msg);
  p->job = serve_job_ref (job);
  p->stream = job->stream;
  p->include_usage = include_usage;
  p->text = g_string_new (NULL);
  g_hash_table_insert (s->pending, job, p);
  p->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_message_finished), p);
  soup_server_message_pause (msg);
  serve_engine_submit (s->engine, job);
}

static void
handle_models (Server *s, SoupServerMessage *msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "object");
  json_builder_add_string_value (b, "list");
  json_builder_set_member_name (b, "data");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, s->model->name);
  json_builder_set_member_name (b, "object");
  json_builder_add_string_value (b, "model");
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, 0);
  json_builder_set_member_name (b, "owned_by");
  json_builder_add_string_value (b, "vlm-pipeline");
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  serve_metrics_request (s->metrics, "/v1/models", 200);
  set_json (msg, 200, json_to_string (root, FALSE));
}

static void
handle_any (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer data)
{
  Server *s = data;
  const char *method = soup_server_message_get_method (msg);
  gboolean get = !strcmp (method, "GET"), post = !strcmp (method, "POST");
  if (!strcmp (path, "/health")) {
    guint status = s->model && !s->stopping ? 200 : 503;
    serve_metrics_request (s->metrics, "/health", status);
    set_json (msg, status, g_strdup (status == 200 ? "{\"status\":\"ok\"}"
                                     : s->stopping ? "{\"status\":\"stopping\"}"
                                                   : "{\"status\":\"loading\"}"));
    return;
  }
  const char *ep = !strcmp (path, "/metrics") ? "/metrics"
                   : !strcmp (path, "/v1/models") ? "/v1/models"
                   : !strcmp (path, "/v1/chat/completions") ? "/v1/chat/completions" : "other";
  if (g_str_has_prefix (path, "/v1/") && !authorized (s, msg)) {
    g_autoptr (ServeError) e = serve_error_new (401, "invalid_request_error", NULL,
                                                "invalid_api_key", "a valid API key is needed "
                                                "(Authorization: Bearer KEY)");
    respond_error (s, msg, ep, e);
    return;
  }
  if (!strcmp (ep, "other")) {
    g_autoptr (ServeError) e = serve_error_new (404, "invalid_request_error", NULL, "not_found",
                                                "no endpoint %s", path);
    respond_error (s, msg, ep, e);
    return;
  }
  gboolean want_post = !strcmp (ep, "/v1/chat/completions");
  if (want_post ? !post : !get) {
    g_autoptr (ServeError) e = serve_error_new (405, "invalid_request_error", NULL,
                                                "method_not_allowed", "%s takes %s", ep,
                                                want_post ? "POST" : "GET");
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                  want_post ? "POST" : "GET");
    respond_error (s, msg, ep, e);
    return;
  }
  if (!s->model || s->stopping) {
    g_autoptr (ServeError) e = serve_error_new (503, "server_error", NULL, s->stopping
                                                ? "shutting_down" : "loading",
                                                s->stopping ? "the server is stopping"
                                                            : "the model is loading");
    respond_error (s, msg, ep, e);
    return;
  }
  if (!strcmp (ep, "/metrics")) {
    guint preparing, waiting, active;
    serve_engine_get_load (s->engine, &preparing, &waiting, &active);
    serve_metrics_request (s->metrics, ep, 200);
    char *text = serve_metrics_render (s->metrics, preparing + waiting, active, s->cache);
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "text/plain; version=0.0.4", SOUP_MEMORY_TAKE, text,
                                      strlen (text));
  } else if (!strcmp (ep, "/v1/models")) {
    handle_models (s, msg);
  } else {
    handle_chat (s, msg);
  }
}

/* Refuses a body over the limit from its declared length, before it is read. */
static void
early_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer data)
{
  Server *s = data;
  goffset len = soup_message_headers_get_content_length (
      soup_server_message_get_request_headers (msg));
  if (len > (goffset) s->cfg->limits.max_body) {
    g_autoptr (ServeError) e = serve_error_new (413, "invalid_request_error", NULL, "too_large",
                                                "the body is over %" G_GSIZE_FORMAT " bytes",
                                                s->cfg->limits.max_body);
    respond_error (s, msg, "/v1/chat/completions", e);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                  "close");
  }
}

/* ---- life cycle ---- */

typedef struct {
  Server *server;
  const char *model;
} LoadJob;

static gboolean
load_done (gpointer data)
{
  Server *s = data;
  ServeModel *m = g_thread_join (s->loader);
  s->loader = NULL;
  if (!m) {
    g_printerr ("vlm-pipeline: error: %s\n", s->load_error->message);
    s->exit_code = 1;
    g_main_loop_quit (s->loop);
    return G_SOURCE_REMOVE;
  }
  ServeEngineConfig ec = { .parallel = s->cfg->parallel, .max_pixels = s->cfg->limits.max_pixels,
                           .on_event = post_event, .on_event_data = s };
  s->cache = serve_cache_new (s->cfg->cache_bytes);
  s->engine = serve_engine_new (m, s->cache, &ec, &s->load_error);
  if (!s->engine) {
    g_printerr ("vlm-pipeline: error: %s\n", s->load_error->message);
    serve_model_free (m);
    s->exit_code = 1;
    g_main_loop_quit (s->loop);
    return G_SOURCE_REMOVE;
  }
  s->model = m;
  g_printerr ("vlm-pipeline: serving %s\n", m->name);
  return G_SOURCE_REMOVE;
}

static gpointer
load_main (gpointer data)
{
  LoadJob *lj = data;
  Server *s = lj->server;
  ServeModel *m = serve_model_load (lj->model, &s->load_error);
  g_free (lj);
  g_idle_add (load_done, s);
  return m;
}

static gboolean
grace_over (gpointer data)
{
  Server *s = data;
  s->grace_source = 0;
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, s->pending);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    Pending *p = value;
    g_atomic_int_set (&p->job->cancelled, 1);
    g_autoptr (ServeError) e = serve_error_new (503, "server_error", NULL, "shutting_down",
                                                "the server stopped before the answer was complete");
    pending_fail (p, e);
    g_hash_table_iter_remove (&it);
  }
  g_main_loop_quit (s->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer data)
{
  Server *s = data;
  if (s->stopping)
    return G_SOURCE_CONTINUE;
  g_printerr ("vlm-pipeline: stopping\n");
  s->stopping = TRUE;
  /* Close the listening sockets only: connections in progress finish their answers. */
  GSList *listeners = soup_server_get_listeners (s->soup);
  for (GSList *l = listeners; l; l = l->next)
    g_socket_close (l->data, NULL);
  g_slist_free (listeners);
  if (g_hash_table_size (s->pending) == 0)
    g_main_loop_quit (s->loop);
  else
    s->grace_source = g_timeout_add_seconds (s->cfg->grace_seconds, grace_over, s);
  return G_SOURCE_CONTINUE;
}

int
serve_run (const char *model, ServeConfig *cfg)
{
  Server s = { .cfg = cfg };
  g_autoptr (GError) error = NULL;
  s.loop = g_main_loop_new (NULL, FALSE);
  s.metrics = serve_metrics_new ();
  s.pending = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) pending_free);
  s.soup = soup_server_new ("server-header", "vlm-pipeline", NULL);
  soup_server_add_early_handler (s.soup, NULL, early_handler, &s, NULL);
  soup_server_add_handler (s.soup, NULL, handle_any, &s, NULL);
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (cfg->host);
  if (!addr) {
    g_printerr ("vlm-pipeline: error: --host %s is not an IP address\n", cfg->host);
    s.exit_code = 2;
  } else {
    g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (addr, cfg->port);
    if (!soup_server_listen (s.soup, sa, 0, &error)) {
      g_printerr ("vlm-pipeline: error: cannot listen on %s:%u: %s\n", cfg->host, cfg->port,
                  error->message);
      s.exit_code = 1;
    }
  }
  if (s.exit_code == 0) {
    /* The bound port (--port 0 picks one): tests and scripts read this line. */
    GSList *uris = soup_server_get_uris (s.soup);
    for (GSList *l = uris; l; l = l->next) {
      g_autofree char *u = g_uri_to_string (l->data);
      g_printerr ("vlm-pipeline: listening on %s\n", u);
    }
    g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
    LoadJob *lj = g_new (LoadJob, 1);
    lj->server = &s;
    lj->model = model;
    s.loader = g_thread_new ("serve-load", load_main, lj);
    guint sig_int = g_unix_signal_add (SIGINT, on_signal, &s);
    guint sig_term = g_unix_signal_add (SIGTERM, on_signal, &s);
    g_main_loop_run (s.loop);
    g_source_remove (sig_int);
    g_source_remove (sig_term);
    if (s.loader) {
      ServeModel *m = g_thread_join (s.loader);
      serve_model_free (m);
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  }
  if (s.grace_source)
    g_source_remove (s.grace_source);
  g_hash_table_remove_all (s.pending);
  serve_engine_free (s.engine);
  /* Events posted by the stopped threads still hold job references. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  soup_server_disconnect (s.soup);
  g_object_unref (s.soup);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  serve_cache_free (s.cache);
  serve_model_free (s.model);
  serve_metrics_free (s.metrics);
  g_hash_table_unref (s.pending);
  g_main_loop_unref (s.loop);
  g_clear_error (&s.load_error);
  return s.exit_code;
}
