/* vlm-model.c: load a model's pipeline once, then answer requests. One generation runs at a
 * time per model (elements keep weights and scratch buffers across runs), so generate()
 * takes a lock; per-request settings are applied to the decoder and sampler nodes before
 * each run and the pipeline's own settings restored for requests that do not set them. */
#include "vlm/vlm-model.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-model-dir.h"
#include "vlm/vlm-sampler.h"

#include <json-glib/json-glib.h>

/* Decoder settings a request may change; their pipeline values are kept to restore. */
static const char *const decoder_props[] = { "max-tokens", "ignore-eos", "stop" };
/* Sampler settings a request may change, then the one derived from them. */
static const char *const sampler_props[] = { "temperature", "top-p", "top-k", "min-p",
                                             "repetition-penalty", "seed" };
#define N_SAMPLING_SWITCHES 4 /* the first four turn sampling on when set, as in transformers */

struct _VlmModel {
  GObject parent;
  VlmPipeline *pipeline;
  VlmElement *decoder, *sampler;
  GValue decoder_defaults[G_N_ELEMENTS (decoder_props)];
  GValue sampler_defaults[G_N_ELEMENTS (sampler_props) + 1]; /* + do-sample */
  gboolean sampler_dirty; /* a request set sampling options: restore before the next */
  double load_ms;
  GMutex lock;            /* one generation at a time */
  GMainContext *emit_context; /* where "text" is emitted during an async generation */
};

enum { SIGNAL_TEXT, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VlmModel, vlm_model, G_TYPE_OBJECT)

static void
vlm_model_finalize (GObject *object)
{
  VlmModel *self = VLM_MODEL (object);
  for (guint i = 0; i < G_N_ELEMENTS (self->decoder_defaults); i++)
    if (G_IS_VALUE (&self->decoder_defaults[i]))
      g_value_unset (&self->decoder_defaults[i]);
  for (guint i = 0; i < G_N_ELEMENTS (self->sampler_defaults); i++)
    if (G_IS_VALUE (&self->sampler_defaults[i]))
      g_value_unset (&self->sampler_defaults[i]);
  g_clear_object (&self->pipeline);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (vlm_model_parent_class)->finalize (object);
}

static void
vlm_model_class_init (VlmModelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_model_finalize;
  /**
   * VlmModel::text:
   * @model: the model
   * @piece: the next piece of generated text (complete UTF-8)
   *
   * Streams the answer while it is generated. A synchronous generate() emits it
   * in the calling thread; generate_async() in the thread-default main context
   * of its caller, before the completion callback runs.
   */
  signals[SIGNAL_TEXT] = g_signal_new ("text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vlm_model_init (VlmModel *self)
{
  g_mutex_init (&self->lock);
}

typedef struct {
  VlmModel *model;
  char *piece;
} TextEmission;

static gboolean
emit_in_context (gpointer data)
{
  TextEmission *e = data;
  g_signal_emit (e->model, signals[SIGNAL_TEXT], 0, e->piece);
  return G_SOURCE_REMOVE;
}

static void
text_emission_free (gpointer data)
{
  TextEmission *e = data;
  g_object_unref (e->model);
  g_free (e->piece);
  g_free (e);
}

static void
forward_text (VlmPipeline *pipeline, const char *node, const char *piece, VlmModel *self)
{
  if (!self->emit_context) {
    g_signal_emit (self, signals[SIGNAL_TEXT], 0, piece);
    return;
  }
  TextEmission *e = g_new (TextEmission, 1);
  e->model = g_object_ref (self);
  e->piece = g_strdup (piece);
  g_main_context_invoke_full (self->emit_context, G_PRIORITY_DEFAULT, emit_in_context, e,
                              text_emission_free);
}

static void
snapshot (GObject *object, const char *prop, GValue *out)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), prop);
  if (!pspec)
    return; /* left unset: this element has no such setting */
  g_value_init (out, pspec->value_type);
  g_object_get_property (object, prop, out);
}

/* The sampler values a request that sets nothing gets: what the pipeline set on the
 * element, else the model's generation_config, as the sampler element resolves them. */
static void
snapshot_sampler (VlmModel *self)
{
  g_autoptr (JsonObject) gen = NULL;
  const char *model = vlm_pipeline_get_model (self->pipeline);
  if (model) {
    g_autoptr (VlmModelDir) dir = vlm_model_dir_new (model, NULL);
    if (dir && vlm_model_dir_get_generation_config (dir))
      gen = json_object_ref (vlm_model_dir_get_generation_config (dir));
  }
  g_autoptr (VlmSampler) resolved = vlm_sampler_new_for_generation (NULL, gen);
  GObjectClass *klass = G_OBJECT_GET_CLASS (self->sampler);
  for (guint i = 0; i <= G_N_ELEMENTS (sampler_props); i++) {
    const char *prop = i < G_N_ELEMENTS (sampler_props) ? sampler_props[i] : "do-sample";
    GValue *out = &self->sampler_defaults[i];
    snapshot (G_OBJECT (self->sampler), prop, out);
    GParamSpec *pspec = g_object_class_find_property (klass, prop);
    if (pspec && g_param_value_defaults (pspec, out))
      g_object_get_property (G_OBJECT (resolved), prop, out);
  }
}

/**
 * vlm_model_new_for_pipeline:
 * @pipeline: a pipeline with a decoder node (a model's, or one read from a file)
 * @cancellable: (nullable): checked before loading
 * @error: return location for a #GError
 *
 * Wraps a pipeline and loads its weights (vlm_pipeline_prepare()).
 *
 * Returns: (transfer full) (nullable): the model
 */
VlmModel *
vlm_model_new_for_pipeline (VlmPipeline *pipeline, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (VLM_IS_PIPELINE (pipeline), NULL);
  gint64 start = g_get_monotonic_time ();
  VlmElement *decoder = vlm_pipeline_find_element (pipeline, VLM_ELEMENT_KIND_DECODER);
  if (!decoder) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "pipeline '%s' has no decoder node: nothing generates text",
                 vlm_pipeline_get_name (pipeline) ? vlm_pipeline_get_name (pipeline) : "<pipeline>");
    return NULL;
  }
  if (g_cancellable_set_error_if_cancelled (cancellable, error)
      || !vlm_pipeline_prepare (pipeline, error))
    return NULL;
  VlmModel *self = g_object_new (VLM_TYPE_MODEL, NULL);
  self->pipeline = g_object_ref (pipeline);
  self->decoder = decoder;
  self->sampler = vlm_pipeline_find_element (pipeline, VLM_ELEMENT_KIND_SAMPLER);
  for (guint i = 0; i < G_N_ELEMENTS (decoder_props); i++)
    snapshot (G_OBJECT (decoder), decoder_props[i], &self->decoder_defaults[i]);
  if (self->sampler)
    snapshot_sampler (self);
  g_signal_connect_object (pipeline, "text", G_CALLBACK (forward_text), self, 0);
  self->load_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  return self;
}

/**
 * vlm_model_load:
 * @model: a model folder, or a Hugging Face id found in the local cache
 * @cancellable: (nullable): checked before loading the weights
 * @error: return location for a #GError
 *
 * Builds the pipeline the model's architecture plugin supplies and loads its
 * weights, so that the first generate() is as fast as the next ones. Errors
 * are the CLI's (`vlm-pipeline generate` prints the same messages).
 *
 * Returns: (transfer full) (nullable): the model
 */
VlmModel *
vlm_model_load (const char *model, GCancellable *cancellable, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  g_autofree char *dir = vlm_model_dir_resolve (model, error);
  if (!dir)
    return NULL;
  g_autoptr (VlmPipeline) pipeline = vlm_pipeline_new_for_model (dir, error);
  if (!pipeline)
    return NULL;
  VlmModel *self = vlm_model_new_for_pipeline (pipeline, cancellable, error);
  if (self)
    self->load_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  return self;
}

static void
load_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  VlmModel *model = vlm_model_load (data, cancellable, &error);
  if (model)
    g_task_return_pointer (task, model, g_object_unref);
  else
    g_task_return_error (task, error);
}

/**
 * vlm_model_load_async:
 * @model: a model folder or a Hugging Face id
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the caller's thread-default main context when done
 * @user_data: data for @callback
 *
 * vlm_model_load() in a worker thread.
 */
void
vlm_model_load_async (const char *model, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, vlm_model_load_async);
  g_task_set_task_data (task, g_strdup (model), g_free);
  g_task_run_in_thread (task, load_in_thread);
}

/**
 * vlm_model_load_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the model
 */
VlmModel *
vlm_model_load_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * vlm_model_get_pipeline:
 * @self: a model
 *
 * Returns: (transfer none): the pipeline it runs (change node properties
 *   between generations, not during one)
 */
VlmPipeline *
vlm_model_get_pipeline (VlmModel *self)
{
  return self->pipeline;
}

/**
 * vlm_model_get_path:
 * @self: a model
 *
 * Returns: (nullable): the model folder
 */
const char *
vlm_model_get_path (VlmModel *self)
{
  return vlm_pipeline_get_model (self->pipeline);
}

/**
 * vlm_model_get_load_ms:
 * @self: a model
 *
 * Returns: milliseconds spent building the pipeline and loading weights
 */
double
vlm_model_get_load_ms (VlmModel *self)
{
  return self->load_ms;
}

static void
set_converted (GObject *object, const char *prop, const GValue *value)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), prop);
  if (!pspec)
    return;
  GValue v = G_VALUE_INIT;
  g_value_init (&v, pspec->value_type);
  if (g_value_transform (value, &v))
    g_object_set_property (object, prop, &v);
  g_value_unset (&v);
}

static void
apply_decoder (VlmModel *self, VlmGenerateParams *params)
{
  GObject *dec = G_OBJECT (self->decoder);
  for (guint i = 0; i < G_N_ELEMENTS (decoder_props); i++) {
    if (!G_IS_VALUE (&self->decoder_defaults[i]))
      continue;
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_VALUE_TYPE (&self->decoder_defaults[i]));
    g_value_copy (&self->decoder_defaults[i], &v);
    if (params) {
      GValue given = G_VALUE_INIT;
      g_value_init (&given, G_PARAM_SPEC_VALUE_TYPE (
                              g_object_class_find_property (G_OBJECT_GET_CLASS (params),
                                                            decoder_props[i])));
      g_object_get_property (G_OBJECT (params), decoder_props[i], &given);
      gboolean is_set = G_VALUE_HOLDS_INT (&given)       ? g_value_get_int (&given) >= 0
                        : G_VALUE_HOLDS_BOOLEAN (&given) ? g_value_get_boolean (&given)
                                                         : g_value_get_boxed (&given) != NULL;
      if (is_set) {
        g_value_unset (&v);
        g_value_init (&v, G_VALUE_TYPE (&given));
        g_value_copy (&given, &v);
      }
      g_value_unset (&given);
    }
    set_converted (dec, decoder_props[i], &v);
    g_value_unset (&v);
  }
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (dec), "stream"))
    g_object_set (dec, "stream", g_signal_has_handler_pending (self, signals[SIGNAL_TEXT], 0, TRUE),
                  NULL);
}

/* Only touches the sampler when this request or an earlier one set sampling options,
 * so that the sampler element keeps resolving the model's generation_config itself. */
static void
apply_sampler (VlmModel *self, VlmGenerateParams *params)
{
  if (!self->sampler)
    return;
  GValue given[G_N_ELEMENTS (sampler_props)] = { G_VALUE_INIT };
  gboolean any = FALSE, switches = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (sampler_props); i++) {
    g_value_init (&given[i], G_TYPE_DOUBLE);
    if (params) {
      GValue raw = G_VALUE_INIT;
      g_object_get_property (G_OBJECT (params), sampler_props[i],
                             g_value_init (&raw, G_PARAM_SPEC_VALUE_TYPE (
                                                   g_object_class_find_property (
                                                     G_OBJECT_GET_CLASS (params), sampler_props[i]))));
      g_value_transform (&raw, &given[i]);
      g_value_unset (&raw);
    } else {
      g_value_set_double (&given[i], -1);
    }
    gboolean set = g_value_get_double (&given[i]) >= 0;
    any |= set;
    switches |= set && i < N_SAMPLING_SWITCHES;
  }
  if (any || self->sampler_dirty) {
    GObject *s = G_OBJECT (self->sampler);
    for (guint i = 0; i < G_N_ELEMENTS (sampler_props); i++)
      if (g_value_get_double (&given[i]) >= 0)
        set_converted (s, sampler_props[i], &given[i]);
      else if (G_IS_VALUE (&self->sampler_defaults[i]))
        set_converted (s, sampler_props[i], &self->sampler_defaults[i]);
    GValue *do_sample = &self->sampler_defaults[G_N_ELEMENTS (sampler_props)];
    if (switches)
      g_object_set (s, "do-sample", TRUE, NULL);
    else if (G_IS_VALUE (do_sample))
      set_converted (s, "do-sample", do_sample);
    self->sampler_dirty = TRUE;
  }
  for (guint i = 0; i < G_N_ELEMENTS (sampler_props); i++)
    g_value_unset (&given[i]);
}

static double
elapsed_of_kinds (VlmPipeline *pipeline, const VlmElementKind *kinds, guint n)
{
  double ms = 0;
  g_auto (GStrv) ids = vlm_pipeline_list_node_ids (pipeline);
  for (guint i = 0; ids[i]; i++) {
    VlmElement *e = vlm_pipeline_get_element (pipeline, ids[i]);
    VlmElementKind k = vlm_element_class_get_kind (VLM_ELEMENT_GET_CLASS (e));
    for (guint j = 0; j < n; j++)
      if (k == kinds[j])
        ms += vlm_element_get_elapsed_ms (e);
  }
  return ms;
}

static const char *
output_string (VlmElement *e, const char *port)
{
  const GValue *v = vlm_element_get_output (e, port);
  return v && G_VALUE_HOLDS_STRING (v) ? g_value_get_string (v) : NULL;
}

/* Reads the decoder's outputs (its "stats" are a JSON object) into a result. */
static VlmResult *
collect_result (VlmModel *self, double total_ms)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *s = NULL;
  const char *stats = output_string (self->decoder, "stats");
  if (stats && json_parser_load_from_data (parser, stats, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    s = json_node_get_object (json_parser_get_root (parser));

  static const VlmElementKind pre[] = { VLM_ELEMENT_KIND_IMAGE_LOADER, VLM_ELEMENT_KIND_PROCESSOR,
                                        VLM_ELEMENT_KIND_TOKENIZER, VLM_ELEMENT_KIND_OTHER };
  static const VlmElementKind vis[] = { VLM_ELEMENT_KIND_VISION_TOWER, VLM_ELEMENT_KIND_PROJECTOR };
  GVariantBuilder b;
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sd}"));
  g_variant_builder_add (&b, "{sd}", "preprocess_ms",
                         elapsed_of_kinds (self->pipeline, pre, G_N_ELEMENTS (pre)));
  g_variant_builder_add (&b, "{sd}", "vision_ms",
                         elapsed_of_kinds (self->pipeline, vis, G_N_ELEMENTS (vis)));
  static const char *const decode_keys[] = { "prefill_ms", "decode_ms", "prefill_tokens_per_s",
                                             "decode_tokens_per_s" };
  for (guint i = 0; i < G_N_ELEMENTS (decode_keys); i++)
    g_variant_builder_add (&b, "{sd}", decode_keys[i],
                           s ? json_object_get_double_member_with_default (s, decode_keys[i], 0) : 0);
  g_variant_builder_add (&b, "{sd}", "total_ms", total_ms);

  const GValue *tokens = vlm_element_get_output (self->decoder, "tokens");
  VlmTensor *t = tokens && G_VALUE_HOLDS (tokens, VLM_TYPE_TENSOR) ? g_value_get_boxed (tokens) : NULL;
  const char *finish = output_string (self->decoder, "finish_reason");
  return vlm_result_new (output_string (self->decoder, "text"),
                         t ? vlm_tensor_get_data (t) : NULL, t ? vlm_tensor_get_numel (t) : 0,
                         s ? json_object_get_int_member_with_default (s, "prompt_tokens", 0) : 0,
                         finish, g_variant_builder_end (&b));
}

static VlmResult *
generate_locked (VlmModel *self, const char *prompt, const char *const *images,
                 VlmGenerateParams *params, GCancellable *cancellable, GError **error)
{
  g_autofree char *system = NULL;
  if (params)
    g_object_get (params, "system", &system, NULL);
  vlm_pipeline_set_prompt (self->pipeline, prompt);
  vlm_pipeline_set_system (self->pipeline, system);
  vlm_pipeline_set_images (self->pipeline, images);
  apply_decoder (self, params);
  apply_sampler (self, params);
  gint64 start = g_get_monotonic_time ();
  if (!vlm_pipeline_run (self->pipeline, cancellable, error))
    return NULL;
  return collect_result (self, (double) (g_get_monotonic_time () - start) / 1000.0);
}

/**
 * vlm_model_generate:
 * @self: a model
 * @prompt: the question (one user message: the images, then this text)
 * @images: (array zero-terminated=1) (nullable): image files, in order
 * @params: (nullable): length, sampling and stop settings; %NULL for the model's defaults
 * @cancellable: (nullable): stops the generation between tokens
 * @error: return location for a #GError
 *
 * Answers one question. Waits while another generation of this model runs.
 * The answer streams through #VlmModel::text while it is produced.
 *
 * Returns: (transfer full) (nullable): the result
 */
VlmResult *
vlm_model_generate (VlmModel *self, const char *prompt, const char *const *images,
                    VlmGenerateParams *params, GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (VLM_IS_MODEL (self), NULL);
  g_return_val_if_fail (prompt != NULL, NULL);
  g_mutex_lock (&self->lock);
  VlmResult *result = generate_locked (self, prompt, images, params, cancellable, error);
  g_mutex_unlock (&self->lock);
  return result;
}

typedef struct {
  char *prompt;
  GStrv images;
  VlmGenerateParams *params;
} GenerateRequest;

static void
generate_request_free (gpointer data)
{
  GenerateRequest *r = data;
  g_free (r->prompt);
  g_strfreev (r->images);
  g_clear_object (&r->params);
  g_free (r);
}

static void
generate_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  VlmModel *self = source;
  GenerateRequest *r = data;
  GError *error = NULL;
  g_mutex_lock (&self->lock);
  self->emit_context = g_task_get_context (task);
  VlmResult *result = generate_locked (self, r->prompt, (const char *const *) r->images, r->params,
                                       cancellable, &error);
  self->emit_context = NULL;
  g_mutex_unlock (&self->lock);
  if (result)
    g_task_return_pointer (task, result, g_object_unref);
  else
    g_task_return_error (task, error);
}

/**
 * vlm_model_generate_async:
 * @self: a model
 * @prompt: the question
 * @images: (array zero-terminated=1) (nullable): image files, in order
 * @params: (nullable): settings, or %NULL
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called in the caller's thread-default main context when done
 * @user_data: data for @callback
 *
 * vlm_model_generate() in a worker thread; the caller's main loop keeps running.
 */
void
vlm_model_generate_async (VlmModel *self, const char *prompt, const char *const *images,
                          VlmGenerateParams *params, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (VLM_IS_MODEL (self));
  g_return_if_fail (prompt != NULL);
  GenerateRequest *r = g_new0 (GenerateRequest, 1);
  r->prompt = g_strdup (prompt);
  r->images = g_strdupv ((GStrv) images);
  r->params = params ? g_object_ref (params) : NULL;
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, vlm_model_generate_async);
  g_task_set_task_data (task, r, generate_request_free);
  g_task_run_in_thread (task, generate_in_thread);
}

/**
 * vlm_model_generate_finish:
 * @self: a model
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the result
 */
VlmResult *
vlm_model_generate_finish (VlmModel *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
