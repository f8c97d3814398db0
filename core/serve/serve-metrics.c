/* serve-metrics.c: counters and histograms for GET /metrics (Prometheus text format). */
#include "serve/serve-http.h"

static const double latency_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                          10, 30, 60 };
#define N_BUCKETS G_N_ELEMENTS (latency_buckets)

typedef struct {
  guint64 counts[N_BUCKETS];
  guint64 count;
  double sum;
} Histogram;

struct _ServeMetrics {
  GHashTable *requests;      /* "endpoint\nstatus" -> guint64* */
  guint64 prompt, reused, generated;
  Histogram ttft, itl;
};

ServeMetrics *
serve_metrics_new (void)
{
  ServeMetrics *m = g_new0 (ServeMetrics, 1);
  m->requests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return m;
}

void
serve_metrics_free (ServeMetrics *m)
{
  if (!m)
    return;
  g_hash_table_unref (m->requests);
  g_free (m);
}

void
serve_metrics_request (ServeMetrics *m, const char *endpoint, guint status)
{
  char *key = g_strdup_printf ("%s\n%u", endpoint, status);
  guint64 *count = g_hash_table_lookup (m->requests, key);
  if (count) {
    g_free (key);
    (*count)++;
  } else {
    count = g_new (guint64, 1);
    *count = 1;
    g_hash_table_insert (m->requests, key, count);
  }
}

void
serve_metrics_tokens (ServeMetrics *m, gint64 prompt, gint64 reused, gint64 generated)
{
  m->prompt += prompt;
  m->reused += reused;
  m->generated += generated;
}

static void
observe (Histogram *h, double v)
{
  for (guint i = 0; i < N_BUCKETS; i++)
    if (v <= latency_buckets[i])
      h->counts[i]++;
  h->count++;
  h->sum += v;
}

void
serve_metrics_ttft (ServeMetrics *m, double seconds)
{
  observe (&m->ttft, seconds);
}

void
serve_metrics_itl (ServeMetrics *m, double seconds)
{
  observe (&m->itl, seconds);
}

static void
render_histogram (GString *s, const char *name, const char *help, const Histogram *h)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append_printf (s, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  for (guint i = 0; i < N_BUCKETS; i++)
    g_string_append_printf (s, "%s_bucket{le=\"%s\"} %" G_GUINT64_FORMAT "\n", name,
                            g_ascii_formatd (buf, sizeof buf, "%g", latency_buckets[i]), h->counts[i]);
  g_string_append_printf (s, "%s_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name, h->count);
  g_string_append_printf (s, "%s_sum %s\n%s_count %" G_GUINT64_FORMAT "\n", name,
                          g_ascii_dtostr (buf, sizeof buf, h->sum), name, h->count);
}

static void
counter (GString *s, const char *name, const char *help, const char *type, guint64 v)
{
  g_string_append_printf (s, "# HELP %s %s\n# TYPE %s %s\n%s %" G_GUINT64_FORMAT "\n", name, help,
                          name, type, name, v);
}

char *
serve_metrics_render (ServeMetrics *m, guint queued, guint active, ServeCache *cache)
{
  GString *s = g_string_new (NULL);
  g_string_append (s, "# HELP vlm_requests_total HTTP requests by endpoint and status\n"
                      "# TYPE vlm_requests_total counter\n");
  g_autoptr (GList) keys = g_hash_table_get_keys (m->requests);
  keys = g_list_sort (keys, (GCompareFunc) g_strcmp0);
  for (GList *l = keys; l; l = l->next) {
    g_auto (GStrv) parts = g_strsplit (l->data, "\n", 2);
    g_string_append_printf (s, "vlm_requests_total{endpoint=\"%s\",status=\"%s\"} %"
                            G_GUINT64_FORMAT "\n", parts[0], parts[1],
                            *(guint64 *) g_hash_table_lookup (m->requests, l->data));
  }
  counter (s, "vlm_prompt_tokens_total", "Prompt tokens of finished requests", "counter",
           m->prompt);
  counter (s, "vlm_prompt_tokens_reused_total",
           "Prompt tokens whose KV cache came from an earlier request", "counter", m->reused);
  counter (s, "vlm_generated_tokens_total", "Generated tokens", "counter", m->generated);
  counter (s, "vlm_queue_depth", "Requests accepted and not yet decoding", "gauge", queued);
  counter (s, "vlm_active_sequences", "Sequences holding a KV-cache slot", "gauge", active);
  gsize bytes;
  guint64 hits, misses, prefix_hits;
  serve_cache_stats (cache, &bytes, &hits, &misses, &prefix_hits);
  counter (s, "vlm_cache_bytes", "Bytes held by the image feature and prefix cache", "gauge",
           bytes);
  counter (s, "vlm_image_cache_hits_total", "Images whose features came from the cache",
           "counter", hits);
  counter (s, "vlm_image_cache_misses_total", "Images encoded by the vision tower", "counter",
           misses);
  counter (s, "vlm_prefix_cache_hits_total", "Requests that reused a cached prompt prefix",
           "counter", prefix_hits);
  render_histogram (s, "vlm_time_to_first_token_seconds",
                    "From request arrival to the first generated text", &m->ttft);
  render_histogram (s, "vlm_inter_token_latency_seconds",
                    "Between successive pieces of streamed text", &m->itl);
  return g_string_free (s, FALSE);
}
