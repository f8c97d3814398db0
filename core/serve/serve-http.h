/* serve-http.h: the HTTP side of `vlm-pipeline serve` (libsoup 3, main loop). */
#pragma once

#include "serve/serve.h"

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct {
  gsize max_body;            /* bytes */
  guint64 max_pixels;
  guint max_images;
  char *allow_local_dir;     /* resolved, no trailing slash; NULL: no local files */
} ServeLimits;

typedef struct {
  char *host;
  guint port;
  char *api_key;
  guint parallel, max_queue;
  gsize cache_bytes;
  guint grace_seconds;
  ServeLimits limits;
} ServeConfig;

ServeJob *serve_request_parse (const ServeLimits *limits, const char *model_name,
                               const char *body, gsize len, gboolean *include_usage,
                               ServeError **error);
gboolean  serve_model_name_matches (const char *served, const char *asked);

/* Prometheus text metrics (main thread only). */
typedef struct _ServeMetrics ServeMetrics;
ServeMetrics *serve_metrics_new (void);
void          serve_metrics_free (ServeMetrics *m);
void          serve_metrics_request (ServeMetrics *m, const char *endpoint, guint status);
void          serve_metrics_tokens (ServeMetrics *m, gint64 prompt, gint64 reused,
                                    gint64 generated);
void          serve_metrics_ttft (ServeMetrics *m, double seconds);
void          serve_metrics_itl (ServeMetrics *m, double seconds);
char         *serve_metrics_render (ServeMetrics *m, guint queued, guint active,
                                    ServeCache *cache);

/* Runs the server until SIGINT/SIGTERM; returns the exit status. */
int serve_run (const char *model, ServeConfig *config);

G_END_DECLS
