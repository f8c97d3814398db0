/* cmd-serve.c: `vlm-pipeline serve`: an OpenAI-compatible HTTP server for one model. */
#include "vlm-cli.h"

#include "compute/threadpool.h"
#include "serve/serve-http.h"

#include <stdlib.h>

int
vlm_cli_serve (int argc, char **argv)
{
  int code = VLM_EXIT_OK;
  char *model = NULL, *host = NULL, *api_key = NULL, *allow_local = NULL;
  int port = 8080, parallel = 4, max_queue = 64, max_body_mb = 32, cache_mb = 512,
      threads = 0, grace = 10, max_images = 8;
  gint64 max_pixels = 40000000;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model folder or Hugging Face id (local cache)", "DIR|HF_ID" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Address to listen on (default 127.0.0.1)", "ADDR" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "Port (default 8080; 0 picks a free one)", "N" },
    { "api-key", 0, 0, G_OPTION_ARG_STRING, &api_key, "Require Authorization: Bearer KEY on /v1", "KEY" },
    { "parallel", 0, 0, G_OPTION_ARG_INT, &parallel, "Sequences decoded together (default 4)", "N" },
    { "max-queue", 0, 0, G_OPTION_ARG_INT, &max_queue, "Requests that may wait beyond those (default 64)", "N" },
    { "max-body-mb", 0, 0, G_OPTION_ARG_INT, &max_body_mb, "Largest request body (default 32)", "N" },
    { "max-image-pixels", 0, 0, G_OPTION_ARG_INT64, &max_pixels, "Largest width x height of an image (default 40000000)", "N" },
    { "max-images", 0, 0, G_OPTION_ARG_INT, &max_images, "Most images in one request (default 8)", "N" },
    { "image-cache-mb", 0, 0, G_OPTION_ARG_INT, &cache_mb, "Memory for image features and reusable prompt caches (default 512)", "N" },
    { "allow-local-images", 0, 0, G_OPTION_ARG_FILENAME, &allow_local, "Accept image_url paths of files under DIR", "DIR" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Compute threads (default: all cores)", "N" },
    { "shutdown-grace", 0, 0, G_OPTION_ARG_INT, &grace, "Seconds running requests get to finish on SIGINT/SIGTERM (default 10)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Serve a model over HTTP with the OpenAI chat completions "
                                     "API (POST /v1/chat/completions, GET /v1/models, /health, "
                                     "/metrics). See docs/server.md.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!vlm_cli_parse (ctx, &argc, &argv, &code))
    goto out;
  if (!model) {
    code = vlm_cli_usage_error (ctx, "serve needs --model");
    goto out;
  }
  if (argc > 1 || port < 0 || port > 65535 || parallel < 1 || parallel > 256 || max_queue < 0
      || max_body_mb < 1 || max_body_mb > 4096 || max_pixels < 1 || cache_mb < 0 || threads < 0
      || grace < 0 || max_images < 0) {
    code = vlm_cli_usage_error (ctx, argc > 1 ? "unexpected argument" : "an option is out of range");
    goto out;
  }
  ServeConfig cfg = {
    .host = host ? host : (char *) "127.0.0.1", .port = (guint) port, .api_key = api_key,
    .parallel = (guint) parallel, .max_queue = (guint) max_queue,
    .cache_bytes = (gsize) cache_mb << 20, .grace_seconds = (guint) grace,
    .limits = { .max_body = (gsize) max_body_mb << 20, .max_pixels = (guint64) max_pixels,
                .max_images = (guint) max_images },
  };
  if (allow_local) {
    char *real = realpath (allow_local, NULL);
    if (!real || !g_file_test (real, G_FILE_TEST_IS_DIR)) {
      free (real);
      code = vlm_cli_usage_error (ctx, "--allow-local-images %s is not a folder", allow_local);
      goto out;
    }
    cfg.limits.allow_local_dir = g_strdup (real);
    free (real);
  }
  if (threads)
    vlm_set_num_threads (threads);
  code = serve_run (model, &cfg);
  g_free (cfg.limits.allow_local_dir);
out:
  g_free (model);
  g_free (host);
  g_free (api_key);
  g_free (allow_local);
  return code;
}
