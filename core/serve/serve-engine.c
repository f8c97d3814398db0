/* serve-engine.c: continuous batching. The engine thread owns the decoder: each
 * iteration advances every decoding sequence by one token in a single batched forward
 * pass, then spends a bounded slice of time prefilling the next waiting prompt, so
 * running streams keep their pace while new requests join between steps. A worker
 * thread prepares requests (images, template, vision tower) beside it, at a lower
 * priority and without the shared kernel pool while sequences are decoding. */
#include "serve/serve.h"

#include "compute/threadpool.h"

#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PREFILL_MAX_ROWS 2048
#define PREFILL_MIN_ROWS 64

typedef struct {
  ServeJob *job;
  VlmKvCache *kv;
  guint64 *keys;             /* [capacity]: prompt keys, then generated ids */
  gint64 *context;           /* prompt ids then generated ids (repetition penalty) */
  gint64 n_context, prefilled, generated, last;
  gboolean decoding;
  VlmSampler *sampler;
  VlmTokenStream *stream;
  ServeStopText out;
  gint64 last_emit_us;
} Seq;

struct _ServeEngine {
  ServeModel *m;
  ServeCache *cache;
  ServeEngineConfig cfg;
  GMutex lock;
  GCond cond;
  GQueue prep;               /* ServeJob*, for the worker */
  GQueue ready;              /* ServeJob*, prepared, waiting for a slot */
  guint preparing;           /* the worker's current job */
  guint active;              /* slots in use (engine thread writes under lock) */
  gboolean quit;
  gint busy;                 /* atomic: sequences are decoding (the worker yields) */
  GThread *worker, *engine;
  Seq **slots;
  VlmDecoderBatch *batch;
  VlmDecoderState *prefill;  /* scratch; its cache is swapped for each sequence's */
  float *logits, *rows;
  VlmKvCache **caches;
  double step_ms, row_ms;    /* running averages: a decode step; one prefill row */
};

static void
emit (ServeEngine *e, ServeJob *job, ServeEventKind kind, char *text, const char *reason,
      ServeError *error)
{
  ServeEvent *ev = g_new0 (ServeEvent, 1);
  ev->job = serve_job_ref (job);
  ev->kind = kind;
  ev->text = text;
  ev->finish_reason = reason;
  ev->error = error;
  ev->time_us = g_get_monotonic_time ();
  e->cfg.on_event (ev, e->cfg.on_event_data);
}

/* ---- the worker: requests -> prompts ---- */

static gpointer
worker_main (gpointer data)
{
  ServeEngine *e = data;
  /* Latency of running streams first: a lower priority, and no pool while they decode. */
  setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10);
  vlm_parallel_set_background_flag (&e->busy);
  g_mutex_lock (&e->lock);
  while (TRUE) {
    while (!e->quit && g_queue_is_empty (&e->prep))
      g_cond_wait (&e->cond, &e->lock);
    if (e->quit)
      break;
    ServeJob *job = g_queue_pop_head (&e->prep);
    e->preparing = 1;
    g_mutex_unlock (&e->lock);
    ServeError *err = NULL;
    gboolean ok = !g_atomic_int_get (&job->cancelled)
                  && serve_prepare_job (e->m, e->cache, job, e->cfg.max_pixels, &err);
    if (!ok && !err)
      err = serve_error_new (499, "cancelled", NULL, "cancelled", "the request was cancelled");
    g_mutex_lock (&e->lock);
    e->preparing = 0;
    if (ok) {
      g_queue_push_tail (&e->ready, job);
      g_cond_broadcast (&e->cond);
    } else {
      g_mutex_unlock (&e->lock);
      emit (e, job, SERVE_EVENT_ERROR, NULL, NULL, err);
      serve_job_unref (job);
      g_mutex_lock (&e->lock);
    }
  }
  g_mutex_unlock (&e->lock);
  vlm_parallel_set_background_flag (NULL);
  return NULL;
}

/* ---- sequences ---- */

static void
seq_free (Seq *s)
{
  if (!s)
    return;
  serve_job_unref (s->job);
  vlm_kv_cache_free (s->kv);
  g_free (s->keys);
  g_free (s->context);
  g_clear_object (&s->sampler);
  g_clear_object (&s->stream);
  serve_stop_text_clear (&s->out);
  g_free (s);
}

static Seq *
seq_new (ServeEngine *e, ServeJob *job, GError **error)
{
  ServeModel *m = e->m;
  gint64 cap = job->n_prompt + MAX (job->max_tokens, 1);
  g_autoptr (VlmKvCache) kv = vlm_kv_cache_new (m->dec->cfg.n_layers, cap,
                                                m->dec->cfg.n_kv_heads * m->dec->cfg.head_dim,
                                                error);
  if (!kv)
    return NULL;
  Seq *s = g_new0 (Seq, 1);
  s->job = serve_job_ref (job);
  s->kv = g_steal_pointer (&kv);
  s->keys = g_new (guint64, cap);
  memcpy (s->keys, job->keys, (gsize) job->n_prompt * sizeof (guint64));
  s->context = g_new (gint64, cap);
  memcpy (s->context, job->ids, (gsize) job->n_prompt * sizeof (gint64));
  s->n_context = job->n_prompt;
  g_autoptr (VlmSampler) user = vlm_sampler_new ();
  if (job->has_temperature)
    g_object_set (user, "temperature", job->temperature, NULL);
  if (job->has_top_p)
    g_object_set (user, "top-p", job->top_p, NULL);
  if (job->has_seed)
    g_object_set (user, "seed", job->seed, NULL);
  s->sampler = vlm_sampler_new_for_generation (user, m->generation_config);
  vlm_sampler_reset (s->sampler);
  s->stream = vlm_token_stream_new (m->tokenizer, TRUE);
  serve_stop_text_init (&s->out, (const char *const *) job->stop);
  s->prefilled = serve_cache_take_prefix (e->cache, job->keys, job->n_prompt, s->kv);
  /* Positions taken from the cache keep their own padding flags; the rest are the prompt's. */
  memcpy (s->kv->key_valid + s->prefilled, job->valid + s->prefilled,
          (gsize) (job->n_prompt - s->prefilled));
  job->reused_tokens = s->prefilled;
  s->last_emit_us = g_get_monotonic_time ();
  return s;
}

static gboolean
is_eos (ServeModel *m, gint64 tok)
{
  for (guint i = 0; i < m->n_eos; i++)
    if (m->eos_ids[i] == tok)
      return TRUE;
  return FALSE;
}

static void
send_text (ServeEngine *e, Seq *s, char *ready)
{
  if (ready && *ready)
    emit (e, s->job, SERVE_EVENT_DELTA, ready, NULL, NULL);
  else
    g_free (ready);
}

/* Ends a sequence: the rest of its text, DONE, and its cache offered for reuse. */
static void
seq_finish (ServeEngine *e, Seq *s, const char *reason, gboolean stopped)
{
  if (!stopped) {
    g_autoptr (GError) error = NULL;
    g_autofree char *rest = vlm_token_stream_flush (s->stream, &error);
    char *ready = NULL;
    if (rest)
      stopped = serve_stop_text_push (&s->out, rest, &ready);
    send_text (e, s, ready);
  }
  send_text (e, s, serve_stop_text_finish (&s->out));
  s->job->completion_tokens = s->generated;
  emit (e, s->job, SERVE_EVENT_DONE, NULL, reason, NULL);
  serve_cache_insert_prefix (e->cache, s->keys, s->kv);
}

/* Samples the next token from @logits; returns FALSE when the sequence has ended. */
static gboolean
seq_next (ServeEngine *e, Seq *s, float *logits)
{
  ServeModel *m = e->m;
  gint64 tok = vlm_sampler_sample (s->sampler, logits, m->dec->cfg.vocab, s->context,
                                   (gsize) s->n_context);
  s->context[s->n_context++] = tok;
  s->generated++;
  if (is_eos (m, tok)) {
    seq_finish (e, s, "stop", FALSE);
    return FALSE;
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *piece = vlm_token_stream_push (s->stream, (gint32) tok, &error);
  if (!piece) {
    emit (e, s->job, SERVE_EVENT_ERROR, NULL, NULL,
          serve_error_new (500, "server_error", NULL, NULL, "%s", error->message));
    return FALSE;
  }
  char *ready = NULL;
  gboolean stopped = serve_stop_text_push (&s->out, piece, &ready);
  send_text (e, s, ready);
  if (stopped || s->generated >= s->job->max_tokens) {
    seq_finish (e, s, stopped ? "stop" : "length", stopped);
    return FALSE;
  }
  s->last = tok;
  s->keys[s->kv->len] = (guint64) tok;
  s->decoding = TRUE;
  return TRUE;
}

/* ---- the engine loop ---- */

static void
release_slot (ServeEngine *e, guint i)
{
  seq_free (e->slots[i]);
  e->slots[i] = NULL;
  g_mutex_lock (&e->lock);
  e->active--;
  g_mutex_unlock (&e->lock);
}

static void
decode_step (ServeEngine *e)
{
  VlmDecoder *dec = e->m->dec;
  guint idx[e->cfg.parallel];
  gint64 n = 0;
  for (guint i = 0; i < e->cfg.parallel; i++)
    if (e->slots[i] && e->slots[i]->decoding) {
      Seq *s = e->slots[i];
      if (!vlm_decoder_embed (dec, &s->last, 1, e->rows + n * dec->cfg.hidden, NULL))
        continue;
      e->caches[n] = s->kv;
      idx[n++] = i;
    }
  if (n == 0)
    return;
  gint64 t0 = g_get_monotonic_time ();
  vlm_decoder_forward_batch (dec, e->batch, e->caches, e->rows, n, e->logits);
  double ms = (g_get_monotonic_time () - t0) / 1000.0;
  e->step_ms = e->step_ms > 0 ? 0.8 * e->step_ms + 0.2 * ms : ms;
  for (gint64 r = 0; r < n; r++)
    if (!seq_next (e, e->slots[idx[r]], e->logits + r * dec->cfg.vocab))
      release_slot (e, idx[r]);
}

/* Prefills part of the first sequence still prefilling: all of it when nothing is
 * decoding, else as many rows as take about half a decode step (at least
 * PREFILL_MIN_ROWS). */
static void
prefill_step (ServeEngine *e, gboolean decoding)
{
  VlmDecoder *dec = e->m->dec;
  for (guint i = 0; i < e->cfg.parallel; i++) {
    Seq *s = e->slots[i];
    if (!s || s->decoding)
      continue;
    gint64 left = s->job->n_prompt - s->prefilled, rows = MIN (left, e->prefill->max_rows);
    if (decoding) {
      double per_row = e->row_ms > 0 ? e->row_ms : e->step_ms / 4;
      /* A slice reads all weights like a decode step does: below PREFILL_MIN_ROWS rows
       * that read dominates and a prompt would take one step per row. */
      rows = MIN (MAX ((gint64) (0.5 * e->step_ms / MAX (per_row, 1e-3)), PREFILL_MIN_ROWS), rows);
    }
    VlmKvCache *own = e->prefill->cache;
    e->prefill->cache = s->kv;
    gint64 t0 = g_get_monotonic_time ();
    vlm_decoder_forward (dec, e->prefill, s->job->embeds + s->prefilled * dec->cfg.hidden, rows,
                         NULL);
    double ms = (g_get_monotonic_time () - t0) / 1000.0 / (double) rows;
    e->row_ms = e->row_ms > 0 ? 0.8 * e->row_ms + 0.2 * ms : ms;
    e->prefill->cache = own;
    s->prefilled += rows;
    if (s->prefilled < s->job->n_prompt)
      return;
    serve_job_drop_prompt (s->job);
    memcpy (e->logits, e->prefill->logits, (gsize) dec->cfg.vocab * sizeof (float));
    if (!seq_next (e, s, e->logits))
      release_slot (e, i);
    return;
  }
}

static gpointer
engine_main (gpointer data)
{
  ServeEngine *e = data;
  guint P = e->cfg.parallel;
  while (TRUE) {
    GPtrArray *admitted = g_ptr_array_new ();
    g_mutex_lock (&e->lock);
    while (!e->quit && e->active == 0 && g_queue_is_empty (&e->ready))
      g_cond_wait (&e->cond, &e->lock);
    if (e->quit) {
      g_mutex_unlock (&e->lock);
      g_ptr_array_unref (admitted);
      break;
    }
    while (e->active + admitted->len < P && !g_queue_is_empty (&e->ready))
      g_ptr_array_add (admitted, g_queue_pop_head (&e->ready));
    e->active += admitted->len;
    g_mutex_unlock (&e->lock);

    for (guint a = 0; a < admitted->len; a++) {
      ServeJob *job = admitted->pdata[a];
      g_autoptr (GError) error = NULL;
      Seq *s = seq_new (e, job, &error);
      guint i = 0;
      while (e->slots[i])
        i++;
      if (s) {
        e->slots[i] = s;
      } else {
        emit (e, job, SERVE_EVENT_ERROR, NULL, NULL,
              serve_error_new (503, "server_error", NULL, "out_of_memory", "%s", error->message));
        e->slots[i] = g_new0 (Seq, 1);
        e->slots[i]->job = serve_job_ref (job);
        release_slot (e, i);
      }
      serve_job_unref (job);
    }
    g_ptr_array_unref (admitted);

    /* A client that left frees its slot before the next step. */
    for (guint i = 0; i < P; i++)
      if (e->slots[i] && g_atomic_int_get (&e->slots[i]->job->cancelled)) {
        emit (e, e->slots[i]->job, SERVE_EVENT_ERROR, NULL, NULL,
              serve_error_new (499, "cancelled", NULL, "cancelled", "the request was cancelled"));
        release_slot (e, i);
      }
    gboolean decoding = FALSE;
    for (guint i = 0; i < P; i++)
      decoding |= e->slots[i] && e->slots[i]->decoding;
    g_atomic_int_set (&e->busy, decoding);
    decode_step (e);
    decoding = FALSE;
    for (guint i = 0; i < P; i++)
      decoding |= e->slots[i] && e->slots[i]->decoding;
    prefill_step (e, decoding);
  }
  for (guint i = 0; i < P; i++)
    if (e->slots[i]) {
      emit (e, e->slots[i]->job, SERVE_EVENT_ERROR, NULL, NULL,
            serve_error_new (503, "server_error", NULL, "shutting_down", "the server stopped"));
      release_slot (e, i);
    }
  g_atomic_int_set (&e->busy, 0);
  return NULL;
}

ServeEngine *
serve_engine_new (ServeModel *model, ServeCache *cache, const ServeEngineConfig *cfg,
                  GError **error)
{
  ServeEngine *e = g_new0 (ServeEngine, 1);
  e->m = model;
  e->cache = cache;
  e->cfg = *cfg;
  g_mutex_init (&e->lock);
  g_cond_init (&e->cond);
  g_queue_init (&e->prep);
  g_queue_init (&e->ready);
  VlmDecoder *dec = model->dec;
  gint64 rows = MIN (PREFILL_MAX_ROWS, model->context);
  e->slots = g_new0 (Seq *, cfg->parallel);
  e->caches = g_new0 (VlmKvCache *, cfg->parallel);
  e->batch = vlm_decoder_batch_new (dec, cfg->parallel, error);
  e->prefill = e->batch ? vlm_decoder_state_new (dec, rows, rows, error) : NULL;
  e->logits = g_try_new (float, (gsize) cfg->parallel * dec->cfg.vocab);
  e->rows = g_try_new (float, (gsize) cfg->parallel * dec->cfg.hidden);
  if (!e->prefill || !e->logits || !e->rows) {
    if (e->prefill)
      g_set_error (error, VLM_ERROR, VLM_ERROR_LIMIT, "out of memory for %u sequences",
                   cfg->parallel);
    serve_engine_free (e);
    return NULL;
  }
  e->worker = g_thread_new ("serve-prepare", worker_main, e);
  e->engine = g_thread_new ("serve-engine", engine_main, e);
  return e;
}

void
serve_engine_submit (ServeEngine *engine, ServeJob *job)
{
  g_mutex_lock (&engine->lock);
  g_queue_push_tail (&engine->prep, serve_job_ref (job));
  g_cond_broadcast (&engine->cond);
  g_mutex_unlock (&engine->lock);
}

void
serve_engine_get_load (ServeEngine *engine, guint *preparing, guint *waiting, guint *active)
{
  g_mutex_lock (&engine->lock);
  *preparing = engine->prep.length + engine->preparing;
  *waiting = engine->ready.length;
  *active = engine->active;
  g_mutex_unlock (&engine->lock);
}

/* Stops both threads; jobs still queued or running get an error event. */
void
serve_engine_free (ServeEngine *e)
{
  if (!e)
    return;
  g_mutex_lock (&e->lock);
  e->quit = TRUE;
  g_cond_broadcast (&e->cond);
  g_mutex_unlock (&e->lock);
  if (e->worker)
    g_thread_join (e->worker);
  if (e->engine)
    g_thread_join (e->engine);
  GQueue *queues[] = { &e->prep, &e->ready };
  for (guint q = 0; q < 2; q++) {
    ServeJob *job;
    while ((job = g_queue_pop_head (queues[q]))) {
      emit (e, job, SERVE_EVENT_ERROR, NULL, NULL,
            serve_error_new (503, "server_error", NULL, "shutting_down", "the server stopped"));
      serve_job_unref (job);
    }
  }
  vlm_decoder_batch_free (e->batch);
  vlm_decoder_state_free (e->prefill);
  g_free (e->logits);
  g_free (e->rows);
  g_free (e->caches);
  g_free (e->slots);
  g_mutex_clear (&e->lock);
  g_cond_clear (&e->cond);
  g_free (e);
}
