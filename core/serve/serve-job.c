/* serve-job.c: requests shared between threads, their events, and OpenAI error bodies. */
#include "serve/serve.h"

#include <stdarg.h>

ServeJob *
serve_job_new (void)
{
  ServeJob *job = g_new0 (ServeJob, 1);
  job->ref = 1;
  g_autofree char *uuid = g_uuid_string_random ();
  job->id = g_strdup_printf ("chatcmpl-%s", uuid);
  job->created = g_get_real_time () / G_USEC_PER_SEC;
  job->arrival_us = g_get_monotonic_time ();
  job->images = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  job->image_names = g_ptr_array_new_with_free_func (g_free);
  job->max_tokens = -1;
  return job;
}

ServeJob *
serve_job_ref (ServeJob *job)
{
  g_atomic_int_inc (&job->ref);
  return job;
}

/* Frees what only the prefill needs, as soon as it is done. */
void
serve_job_drop_prompt (ServeJob *job)
{
  g_clear_pointer (&job->embeds, g_free);
  g_clear_pointer (&job->valid, g_free);
  g_clear_pointer (&job->keys, g_free);
  g_ptr_array_set_size (job->images, 0);
}

void
serve_job_unref (ServeJob *job)
{
  if (!job || !g_atomic_int_dec_and_test (&job->ref))
    return;
  serve_job_drop_prompt (job);
  g_free (job->id);
  if (job->messages)
    json_node_unref (job->messages);
  g_ptr_array_unref (job->images);
  g_ptr_array_unref (job->image_names);
  g_strfreev (job->stop);
  g_free (job->ids);
  g_free (job->spans);
  g_free (job->streams);
  g_free (job);
}

void
serve_event_free (ServeEvent *event)
{
  serve_job_unref (event->job);
  g_free (event->text);
  serve_error_free (event->error);
  g_free (event);
}

ServeError *
serve_error_new (guint status, const char *type, const char *param, const char *code,
                 const char *format, ...)
{
  ServeError *e = g_new0 (ServeError, 1);
  va_list ap;
  va_start (ap, format);
  e->message = g_strdup_vprintf (format, ap);
  va_end (ap);
  e->status = status;
  e->type = g_strdup (type);
  e->param = g_strdup (param);
  e->code = g_strdup (code);
  return e;
}

/* Library errors met while preparing a request: its content is at fault unless the
 * error says otherwise. */
ServeError *
serve_error_from_gerror (const GError *error, const char *param)
{
  if (error->domain == VLM_ERROR && error->code == VLM_ERROR_LIMIT)
    return serve_error_new (413, "invalid_request_error", param, "too_large", "%s",
                            error->message);
  if (error->domain == VLM_ERROR && (error->code == VLM_ERROR_FORMAT
                                     || error->code == VLM_ERROR_INVALID
                                     || error->code == VLM_ERROR_UNSUPPORTED
                                     || error->code == VLM_ERROR_IO))
    return serve_error_new (400, "invalid_request_error", param, "invalid_value", "%s",
                            error->message);
  return serve_error_new (500, "server_error", param, NULL, "%s", error->message);
}

void
serve_error_free (ServeError *e)
{
  if (!e)
    return;
  g_free (e->type);
  g_free (e->param);
  g_free (e->code);
  g_free (e->message);
  g_free (e);
}

static void
add_nullable (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

char *
serve_error_to_json (const ServeError *e)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  add_nullable (b, "message", e->message);
  add_nullable (b, "type", e->type);
  add_nullable (b, "param", e->param);
  add_nullable (b, "code", e->code);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}
