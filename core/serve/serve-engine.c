/* serve-engine.c: continuous batching. The engine thread owns the decoder: each step is
 * one forward pass over the next token of every decoding sequence plus a slice of the
 * prompts still prefilling, so the weights are read once for all of them. While streams
 * decode, the slice is bounded to about half a decode step, so they keep their pace as
 * new requests join; when none decode, waiting prompts prefill together. A worker thread
 * prepares requests (images, template, vision tower) beside it, at a lower priority and
 * without the shared kernel pool while sequences are decoding. */
#define _GNU_SOURCE /* SCHED_IDLE */
#include "serve/serve.h"

#include "compute/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STEP_MAX_ROWS 2048
#define PREFILL_MIN_ROWS 64
/* An idle engine waits for requests still being prepared, and for a pause of QUIET_US
 * in arrivals, GATHER_US at most, so that prompts arriving together prefill in one step. */
#define GATHER_US 20000
#define QUIET_US 5000

typedef struct {
  ServeJob *job;
  VlmKvCache *kv;
  guint64 *keys;             /* [capacity]: prompt keys, then generated ids */
  gint64 *context;           /* prompt ids then generated ids (repetition penalty) */
  gint64 n_context, prefilled, generated, last;
  guint64 order;             /* admission order: older prompts prefill first */
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
  gint64 last_submit_us;     /* monotonic time of the latest request */
  GThread *worker, *engine;
  Seq **slots;
  guint64 admitted;          /* sequences admitted so far */
  VlmDecoderScratch *scratch;
  VlmDecoderSeq *step;       /* [parallel]: the parts of one step */
  guint *step_slot;          /* [parallel]: their slots */
  float *logits, *rows;      /* [parallel, vocab]; [parallel, hidden] decode inputs */
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
  /* Latency of running streams first: SCHED_IDLE (it runs only on a core nothing else
   * wants, and yields it at once), else the lowest nice value; no pool while they decode. */
  struct sched_param idle = { 0 };
  if (pthread_setschedparam (pthread_self (), SCHED_IDLE, &idle) != 0)
    setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 19);
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
  /* Cached positions inside a bidirectional span attended to the span's later positions
   * of another prompt: such a span is computed again. */
  for (guint k = 0; k < job->n_spans; k++)
    if (job->spans[2 * k] < s->prefilled && s->prefilled < job->spans[2 * k + 1])
      s->prefilled = job->spans[2 * k];
  s->kv->len = s->prefilled;
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

/* The sequences still prefilling, oldest first. */
static guint
prefilling (ServeEngine *e, guint *out)
{
  guint n = 0;
  for (guint i = 0; i < e->cfg.parallel; i++) {
    if (!e->slots[i] || e->slots[i]->decoding)
      continue;
    guint j = n++;
    while (j > 0 && e->slots[out[j - 1]]->order > e->slots[i]->order) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = i;
  }
  return n;
}

/* One forward pass: the next token of every decoding sequence, then prompt rows, oldest
 * first: all that fit when nothing decodes, else about half a decode step's worth (at
 * least PREFILL_MIN_ROWS: below that the read of the weights dominates and a prompt
 * would take a step per few rows). */
static void
step (ServeEngine *e)
{
  VlmDecoder *dec = e->m->dec;
  gint64 D = dec->cfg.hidden, n = 0, decode_rows = 0, prefill_rows = 0;
  for (guint i = 0; i < e->cfg.parallel; i++) {
    Seq *s = e->slots[i];
    if (!s || !s->decoding)
      continue;
    g_autoptr (GError) error = NULL;
    if (!vlm_decoder_embed (dec, &s->last, 1, e->rows + decode_rows * D, &error)) {
      /* A sampled id the embedding table lacks (an LM head wider than it) ends the sequence. */
      emit (e, s->job, SERVE_EVENT_ERROR, NULL, NULL,
            serve_error_new (500, "server_error", NULL, NULL, "%s", error->message));
      release_slot (e, i);
      continue;
    }
    e->step[n] = (VlmDecoderSeq) { .cache = s->kv, .embeds = e->rows + decode_rows * D,
                                   .rows = 1, .position_delta = s->job->position_delta,
                                   .spans = s->job->spans, .n_spans = s->job->n_spans };
    e->step_slot[n++] = i;
    decode_rows++;
  }
  gint64 budget = e->scratch->max_rows - decode_rows;
  if (decode_rows > 0) {
    double per_row = e->row_ms > 0 ? e->row_ms : e->step_ms / 4;
    budget = MIN (budget, MAX ((gint64) (0.5 * e->step_ms / MAX (per_row, 1e-3)),
                               PREFILL_MIN_ROWS));
  }
  guint order[e->cfg.parallel];
  guint n_prefilling = prefilling (e, order);
  for (guint k = 0; k < n_prefilling && budget > 0; k++) {
    Seq *s = e->slots[order[k]];
    gint64 rows = MIN (s->job->n_prompt - s->prefilled, budget);
    e->step[n] = (VlmDecoderSeq) { .cache = s->kv, .embeds = s->job->embeds + s->prefilled * D,
                                   .rows = rows,
                                   .streams = s->job->streams ? s->job->streams + s->prefilled
                                                              : NULL,
                                   .streams_stride = s->job->n_prompt,
                                   .position_delta = s->job->position_delta,
                                   .spans = s->job->spans, .n_spans = s->job->n_spans };
    e->step_slot[n++] = order[k];
    budget -= rows;
    prefill_rows += rows;
  }
  if (n == 0)
    return;
  gint64 t0 = g_get_monotonic_time ();
  vlm_decoder_step (dec, e->scratch, e->step, n, NULL, e->logits);
  double ms = (g_get_monotonic_time () - t0) / 1000.0;
  if (prefill_rows == 0)
    e->step_ms = e->step_ms > 0 ? 0.8 * e->step_ms + 0.2 * ms : ms;
  else {
    double row = MAX (ms - (decode_rows > 0 ? e->step_ms : 0), 0) / (double) prefill_rows;
    e->row_ms = e->row_ms > 0 ? 0.8 * e->row_ms + 0.2 * row : row;
  }
  for (gint64 r = 0; r < n; r++) {
    Seq *s = e->slots[e->step_slot[r]];
    if (!s->decoding) {
      s->prefilled += e->step[r].rows;
      if (s->prefilled < s->job->n_prompt)
        continue;
      serve_job_drop_prompt (s->job);
    }
    if (!seq_next (e, s, e->logits + r * dec->cfg.vocab))
      release_slot (e, e->step_slot[r]);
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
    /* Idle: the worker may use the pool again. */
    if (e->active == 0)
      g_atomic_int_set (&e->busy, 0);
    while (!e->quit && e->active == 0 && g_queue_is_empty (&e->ready))
      g_cond_wait (&e->cond, &e->lock);
    if (e->quit) {
      g_mutex_unlock (&e->lock);
      g_ptr_array_unref (admitted);
      break;
    }
    for (gint64 until = g_get_monotonic_time () + GATHER_US; !e->quit && e->active == 0
                                                               && e->ready.length < P;) {
      gint64 now = g_get_monotonic_time (), quiet = e->last_submit_us + QUIET_US;
      gboolean arriving = e->preparing || !g_queue_is_empty (&e->prep) || now < quiet;
      if (!arriving || now >= until)
        break;
      g_cond_wait_until (&e->cond, &e->lock, e->preparing || !g_queue_is_empty (&e->prep)
                                                 ? until : MIN (quiet, until));
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
        s->order = e->admitted++;
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
    step (e);
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
  gint64 rows = MIN (STEP_MAX_ROWS, model->context);
  e->slots = g_new0 (Seq *, cfg->parallel);
  e->step = g_new0 (VlmDecoderSeq, cfg->parallel);
  e->step_slot = g_new0 (guint, cfg->parallel);
  e->scratch = vlm_decoder_scratch_new (dec, rows + cfg->parallel, cfg->parallel, error);
  e->logits = g_try_new (float, (gsize) cfg->parallel * dec->cfg.vocab);
  e->rows = g_try_new (float, (gsize) cfg->parallel * dec->cfg.hidden);
  if (!e->scratch || !e->logits || !e->rows) {
    if (e->scratch)
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
  engine->last_submit_us = g_get_monotonic_time ();
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
  vlm_decoder_scratch_free (e->scratch);
  g_free (e->logits);
  g_free (e->rows);
  g_free (e->step);
  g_free (e->step_slot);
  g_free (e->slots);
  g_mutex_clear (&e->lock);
  g_cond_clear (&e->cond);
  g_free (e);
}
