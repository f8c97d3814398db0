/* serve.h: the pieces of `vlm-pipeline serve` (internal to the CLI).
 *
 * Threads: the GLib main loop runs HTTP (serve-http.c); one worker thread prepares
 * requests (image decoding, chat template, processor, vision tower with its feature
 * cache: serve-prepare.c); one engine thread owns the decoder and advances every active
 * sequence with one batched forward pass per step (serve-engine.c). Jobs travel between
 * them by reference; results come back to the main loop as ServeEvents. */
#pragma once

#include "nn/decoder-step.h"
#include "nn/decoder.h"
#include "vlm/vlm.h"

G_BEGIN_DECLS

typedef struct _ServeModel ServeModel;
typedef struct _ServeCache ServeCache;
typedef struct _ServeEngine ServeEngine;

/* An OpenAI-style failure: HTTP status and the fields of {"error": {...}}. */
typedef struct {
  guint status;
  char *type, *param, *code, *message;
} ServeError;

ServeError *serve_error_new (guint status, const char *type, const char *param, const char *code,
                             const char *format, ...) G_GNUC_PRINTF (5, 6);
ServeError *serve_error_from_gerror (const GError *error, const char *param);
void        serve_error_free (ServeError *e);
char       *serve_error_to_json (const ServeError *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ServeError, serve_error_free)

typedef struct _ServeJob ServeJob;

typedef enum { SERVE_EVENT_DELTA, SERVE_EVENT_DONE, SERVE_EVENT_ERROR } ServeEventKind;

typedef struct {
  ServeJob *job;             /* a reference */
  ServeEventKind kind;
  char *text;                /* DELTA: new text */
  const char *finish_reason; /* DONE */
  ServeError *error;         /* ERROR */
  gint64 time_us;            /* monotonic, when it happened */
} ServeEvent;

/* Delivers an event (any thread); the receiver owns it and frees it with serve_event_free. */
typedef void (*ServeEventFunc) (ServeEvent *event, gpointer data);
void serve_event_free (ServeEvent *event);

/* One chat completion, shared (refcounted) by HTTP, worker and engine. The request part
 * is written before submission and then only read. */
struct _ServeJob {
  gint ref;
  char *id;
  gint64 created;            /* unix seconds */
  gint64 arrival_us;         /* monotonic */
  /* request */
  JsonNode *messages;        /* template form: image parts are {"type": "image"} */
  GPtrArray *images;         /* GBytes*, encoded image files in order */
  GPtrArray *image_names;    /* char*, for messages */
  gint64 max_tokens;         /* -1: the rest of the context */
  gboolean has_temperature, has_top_p, has_seed;
  double temperature, top_p;
  gint64 seed;
  GStrv stop;
  gboolean stream;
  gint cancelled;            /* atomic: the client left or the server stops */
  /* filled by the worker */
  gint64 n_prompt;
  gint64 *ids;               /* [n_prompt] */
  guint8 *valid;             /* [n_prompt] */
  guint64 *keys;             /* [n_prompt] identity of each position (prefix reuse) */
  float *embeds;             /* [n_prompt, hidden] */
  gint64 *spans;             /* n_spans bidirectional (start, end) prompt pairs */
  guint n_spans;
  gint64 *streams;           /* [3, n_prompt] M-RoPE position streams, or NULL */
  gint64 position_delta;     /* M-RoPE: generated positions are index + this */
  /* filled by the engine, read after DONE */
  gint64 completion_tokens;
  gint64 reused_tokens;      /* prompt positions taken from the prefix cache */
};

ServeJob *serve_job_new (void);
ServeJob *serve_job_ref (ServeJob *job);
void      serve_job_unref (ServeJob *job);
void      serve_job_drop_prompt (ServeJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ServeJob, serve_job_unref)

/* The loaded model: what prepare and the engine read. */
struct _ServeModel {
  char *path, *name;
  VlmModelDir *dir;
  VlmPipeline *pipeline;     /* processor, vision tower and projector elements */
  VlmElement *processor, *vision, *projector;
  VlmDecoder *dec;
  VlmTokenizer *tokenizer;
  VlmChatTemplate *tmpl;     /* NULL: the prompt is the messages' text (serve_plain_prompt) */
  JsonObject *generation_config;
  gint64 *eos_ids;
  guint n_eos;
  gint64 context;            /* max_position_embeddings */
  char *image_token;         /* the template's image placeholder, NULL: text only */
  VlmElement *positions;     /* M-RoPE rope index (Qwen2-VL), or NULL */
  char *settings_digest;     /* preprocessing settings, part of image cache keys */
};

ServeModel *serve_model_load (const char *model, GError **error);
void        serve_model_free (ServeModel *model);

/* Memory-bounded LRU of image features and finished sequences' KV caches. */
ServeCache *serve_cache_new (gsize budget_bytes);
void        serve_cache_free (ServeCache *cache);
VlmTensor  *serve_cache_lookup_image (ServeCache *cache, const char *key);
void        serve_cache_insert_image (ServeCache *cache, const char *key, VlmTensor *features);
void        serve_cache_insert_prefix (ServeCache *cache, const guint64 *keys, VlmKvCache *kv);
gint64      serve_cache_take_prefix (ServeCache *cache, const guint64 *keys, gint64 n,
                                     VlmKvCache *into);
void        serve_cache_stats (ServeCache *cache, gsize *bytes, guint64 *image_hits,
                               guint64 *image_misses, guint64 *prefix_hits);

/* Turns a job's request into prompt ids and embeddings (worker thread). */
gboolean    serve_prepare_job (ServeModel *model, ServeCache *cache, ServeJob *job,
                               guint64 max_pixels, ServeError **error);

/* Stop strings over streamed text: pieces are released only once they cannot begin a
 * stop string. */
typedef struct {
  GString *text;
  gsize emitted;
  const char *const *stop;
  gsize max_stop;
} ServeStopText;

void      serve_stop_text_init (ServeStopText *st, const char *const *stop);
void      serve_stop_text_clear (ServeStopText *st);
gboolean  serve_stop_text_push (ServeStopText *st, const char *piece, char **ready);
char     *serve_stop_text_finish (ServeStopText *st);

typedef struct {
  guint parallel;
  guint64 max_pixels;
  ServeEventFunc on_event;
  gpointer on_event_data;
} ServeEngineConfig;

ServeEngine *serve_engine_new (ServeModel *model, ServeCache *cache, const ServeEngineConfig *cfg,
                               GError **error);
void         serve_engine_submit (ServeEngine *engine, ServeJob *job);
void         serve_engine_get_load (ServeEngine *engine, guint *preparing, guint *waiting,
                                    guint *active);
void         serve_engine_free (ServeEngine *engine);

G_END_DECLS
