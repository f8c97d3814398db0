/* cmd-batch.c: `vlm-pipeline batch`: answers a JSONL file of requests with one model, one
 * result line per request. A request that fails gets an error line and the run goes on.
 * Every line is written whole and fsync'ed before the next request, so a killed run loses
 * at most the request in flight and --resume carries on from the output file. */
#include "vlm-cli.h"
#include "batch-input.h"
#include "batch-progress.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *model, *input, *output, *system;
  GStrv stop;
  int max_tokens, top_k, prefetch;
  gint64 seed;
  double temperature, top_p, min_p, repetition_penalty;
  gboolean ignore_eos, resume;
} BatchOptions;

static const char *const error_names[] = { "failed", "io", "format", "invalid", "not-found",
                                           "unsupported", "plugin", "limit", "cancelled" };

static VlmGenerateParams *
params_from_options (BatchOptions *o)
{
  VlmGenerateParams *p = vlm_generate_params_new ();
  g_object_set (p, "max-tokens", o->max_tokens, "top-k", o->top_k, "seed", o->seed,
                "temperature", o->temperature, "top-p", o->top_p, "min-p", o->min_p,
                "repetition-penalty", o->repetition_penalty, "ignore-eos", o->ignore_eos,
                "stop", o->stop, "system", o->system, NULL);
  return p;
}

/* Keys of the requests a previous run answered. Cuts off a last line that a kill left
 * incomplete, so that appending starts on a fresh line. */
static GHashTable *
read_answered (const char *path, GError **error)
{
  GHashTable *done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *data = NULL;
  gsize length = 0;
  GError *local = NULL;
  if (!g_file_get_contents (path, &data, &length, &local)) {
    if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_error_free (local);
      return done;
    }
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s", local->message);
    g_error_free (local);
    g_hash_table_unref (done);
    return NULL;
  }
  gsize complete = 0;
  for (char *line = data, *nl; (nl = memchr (line, '\n', length - (line - data))); line = nl + 1) {
    *nl = 0;
    char *key = batch_key_for_result (line);
    if (key)
      g_hash_table_add (done, key);
    complete = nl + 1 - data;
  }
  if (complete < length && truncate (path, (off_t) complete) != 0) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "cannot truncate '%s': %s", path,
                 g_strerror (errno));
    g_hash_table_unref (done);
    return NULL;
  }
  return done;
}

static gboolean
write_line (int fd, const char *path, const char *text, GError **error)
{
  g_autofree char *line = g_strconcat (text, "\n", NULL);
  gsize left = strlen (line);
  const char *p = line;
  while (left > 0) {
    ssize_t n = write (fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "cannot write '%s': %s", path, g_strerror (errno));
      return FALSE;
    }
    p += n;
    left -= (gsize) n;
  }
  if (fsync (fd) != 0 && errno != EINVAL) { /* EINVAL: a pipe or terminal */
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "cannot sync '%s': %s", path, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

static char *
result_line (BatchRequest *r, VlmResult *result, const GError *error)
{
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_member (o, "id", json_node_copy (r->id));
  json_object_set_int_member (o, "line", r->line);
  if (result) {
    g_autoptr (JsonNode) fields = vlm_result_to_json (result);
    JsonObject *f = json_node_get_object (fields);
    g_autoptr (GList) names = json_object_get_members (f);
    for (GList *m = names; m; m = m->next)
      json_object_set_member (o, m->data, json_node_copy (json_object_get_member (f, m->data)));
  } else {
    JsonObject *e = json_object_new ();
    json_object_set_string_member (e, "message", error->message);
    json_object_set_string_member (e, "code",
                                   error->domain == VLM_ERROR && error->code >= 0
                                       && error->code < (int) G_N_ELEMENTS (error_names)
                                     ? error_names[error->code] : "failed");
    json_object_set_object_member (o, "error", e);
  }
  g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), o);
  return json_to_string (root, FALSE);
}

static guint
count_requests (GStrv lines)
{
  guint n = 0;
  for (guint i = 0; lines[i]; i++)
    for (const char *c = lines[i]; *c; c++)
      if (!g_ascii_isspace (*c)) {
        n++;
        break;
      }
  return n;
}

static int
batch (BatchOptions *o)
{
  GError *error = NULL;
  g_autofree char *data = NULL;
  GError *local = NULL;
  if (!g_file_get_contents (o->input, &data, NULL, &local)) {
    g_set_error (&error, VLM_ERROR, VLM_ERROR_IO, "%s", local->message);
    g_error_free (local);
    return vlm_cli_fail (error);
  }
  g_autoptr (GHashTable) answered = NULL;
  if (o->resume && !(answered = read_answered (o->output, &error)))
    return vlm_cli_fail (error);
  g_autoptr (VlmModel) model = vlm_model_load (o->model, NULL, &error);
  if (!model)
    return vlm_cli_fail (error);
  int fd = open (o->output, O_WRONLY | O_CREAT | O_CLOEXEC | (o->resume ? O_APPEND : O_TRUNC), 0644);
  if (fd < 0) {
    g_printerr ("vlm-pipeline: error: cannot open '%s': %s\n", o->output, g_strerror (errno));
    return VLM_EXIT_RUNTIME;
  }

  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  g_autofree char *base_dir = g_path_get_dirname (o->input);
  g_autoptr (VlmGenerateParams) defaults = params_from_options (o);
  BatchProgress progress;
  guint total = count_requests (lines), resumed = answered ? g_hash_table_size (answered) : 0;
  batch_progress_init (&progress, total, MIN (resumed, total));
  BatchPrefetch *prefetch = batch_prefetch_start (lines, base_dir, answered, defaults,
                                                  (guint) o->prefetch);
  guint attempted = 0, succeeded = 0;
  int code = VLM_EXIT_OK;
  BatchRequest *r;
  while ((r = batch_prefetch_next (prefetch))) {
    g_autoptr (GError) run_error = NULL;
    g_autoptr (VlmResult) result = NULL;
    if (!r->error)
      result = vlm_model_generate (model, r->prompt, (const char *const *) r->images, r->params,
                                   NULL, &run_error);
    batch_prefetch_done (prefetch);
    g_autofree char *line = result_line (r, result, r->error ? r->error : run_error);
    attempted++;
    succeeded += result != NULL;
    gsize n_tokens = 0;
    if (result)
      vlm_result_get_tokens (result, &n_tokens);
    batch_request_free (r);
    if (!write_line (fd, o->output, line, &error)) {
      code = vlm_cli_fail (error);
      break;
    }
    batch_progress_update (&progress, result == NULL, (guint) n_tokens);
  }
  batch_prefetch_free (prefetch);
  close (fd);
  if (code != VLM_EXIT_OK)
    return code;
  batch_progress_finish (&progress);
  if (attempted > 0 && succeeded == 0) {
    g_printerr ("vlm-pipeline: error: none of the %u requests could run (see '%s')\n", attempted,
                o->output);
    return VLM_EXIT_RUNTIME;
  }
  return VLM_EXIT_OK;
}

int
vlm_cli_batch (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  BatchOptions o = { .max_tokens = -1, .top_k = -1, .seed = -1, .temperature = -1, .top_p = -1,
                     .min_p = -1, .repetition_penalty = -1, .prefetch = 4 };
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "Model folder or Hugging Face id (local cache)", "DIR|HF_ID" },
    { "input", 0, 0, G_OPTION_ARG_FILENAME, &o.input, "Requests, one JSON object a line: {\"id\", \"prompt\", \"images\", options...}", "FILE.jsonl" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output, "Results, one JSON object a line", "FILE.jsonl" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &o.resume, "Skip requests whose id is already in the output; append the rest", NULL },
    { "max-tokens", 'n', 0, G_OPTION_ARG_INT, &o.max_tokens, "Most tokens to generate (a request's max_tokens wins)", "N" },
    { "temperature", 't', 0, G_OPTION_ARG_DOUBLE, &o.temperature, "Sampling temperature (0: greedy)", "T" },
    { "top-p", 0, 0, G_OPTION_ARG_DOUBLE, &o.top_p, "Nucleus sampling mass", "P" },
    { "top-k", 0, 0, G_OPTION_ARG_INT, &o.top_k, "Sample among the K most likely tokens", "K" },
    { "min-p", 0, 0, G_OPTION_ARG_DOUBLE, &o.min_p, "Drop tokens below P x the top probability", "P" },
    { "repetition-penalty", 0, 0, G_OPTION_ARG_DOUBLE, &o.repetition_penalty, "Penalise tokens already seen", "R" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o.seed, "Random seed for sampling", "S" },
    { "stop", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.stop, "Stop at this text (repeatable)", "TEXT" },
    { "ignore-eos", 0, 0, G_OPTION_ARG_NONE, &o.ignore_eos, "Keep generating past end-of-sequence tokens", NULL },
    { "system", 0, 0, G_OPTION_ARG_STRING, &o.system, "A system message for every request", "TEXT" },
    { "prefetch", 0, 0, G_OPTION_ARG_INT, &o.prefetch, "Requests whose images are read ahead (default 4)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Answer a JSONL file of requests with one model. Each input "
                                     "line {\"id\": ..., \"prompt\": ..., \"images\": [...], "
                                     "\"max_tokens\": ..., ...} gets one output line with id, text, "
                                     "tokens, finish_reason and timings, or an error object. Image "
                                     "paths are relative to the input file. Exit status 1 only when "
                                     "no request could run.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (vlm_cli_parse (ctx, &argc, &argv, &code)) {
    if (!o.model || !o.input || !o.output)
      code = vlm_cli_usage_error (ctx, "batch needs --model, --input and --output");
    else if (argc > 1)
      code = vlm_cli_usage_error (ctx, "unexpected argument '%s'", argv[1]);
    else if (o.prefetch < 1)
      code = vlm_cli_usage_error (ctx, "--prefetch must be at least 1");
    else
      code = batch (&o);
  }
  g_free (o.model);
  g_free (o.input);
  g_free (o.output);
  g_free (o.system);
  g_strfreev (o.stop);
  return code;
}
