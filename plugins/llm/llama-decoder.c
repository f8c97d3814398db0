/* llama-decoder.c: the "llama-decoder" element: merges image features into the prompt's
 * embeddings (after the `before-merge` patches), prefills, and generates with a KV cache.
 * Weights and tokenizer are loaded once per model folder and kept across runs. */
#include "llm.h"

#include "nn/generate.h"

#include <string.h>

struct _VlmLlamaDecoder {
  VlmModelElement parent;
  gint max_tokens;
  gboolean ignore_eos, stream;
  GStrv stop;
  /* loaded from the "model" input */
  VlmDecoder *dec;
  VlmTokenizer *tokenizer;
  gint64 *eos_ids;
  guint n_eos;
};

G_DEFINE_FINAL_TYPE (VlmLlamaDecoder, vlm_llama_decoder, VLM_TYPE_MODEL_ELEMENT)

enum { PROP_0, PROP_MAX_TOKENS, PROP_IGNORE_EOS, PROP_STOP, PROP_STREAM, N_PROPS };

static void
unload (VlmLlamaDecoder *self)
{
  g_clear_pointer (&self->dec, vlm_decoder_free);
  g_clear_object (&self->tokenizer);
  g_clear_pointer (&self->eos_ids, g_free);
  self->n_eos = 0;
}

static gboolean
llama_decoder_load (VlmModelElement *element, VlmModelDir *dir, GError **error)
{
  VlmLlamaDecoder *self = VLM_LLAMA_DECODER (element);
  unload (self);
  self->dec = vlm_decoder_load (dir, vlm_element_get_pipeline (VLM_ELEMENT (self)), error);
  if (self->dec)
    self->tokenizer = vlm_tokenizer_new_from_dir (vlm_model_dir_get_path (dir), error);
  if (!self->dec || !self->tokenizer) {
    unload (self);
    return FALSE;
  }
  self->eos_ids = vlm_model_dir_get_eos_token_ids (dir, &self->n_eos);
  if (self->n_eos == 0 && vlm_tokenizer_get_eos_id (self->tokenizer) >= 0) {
    self->eos_ids[0] = vlm_tokenizer_get_eos_id (self->tokenizer);
    self->n_eos = 1;
  }
  return TRUE;
}

/* The tensors that reach the merge step, after the pipeline's `before-merge` patches.
 * The mask is I64 ones as the processor gives it unless one is linked; without a
 * pipeline (no patches) it is made BOOL directly. */
static VlmTensorSet *
merge_inputs (VlmElement *element, VlmTensor *ids, gint64 n, GError **error)
{
  VlmPipeline *pipeline = vlm_element_get_pipeline (element);
  g_autoptr (VlmTensorSet) set = vlm_tensor_set_new ();
  vlm_tensor_set_insert (set, "input_ids", ids);
  VlmTensor *mask = vlm_element_get_input_tensor (element, "attention_mask");
  if (mask) {
    vlm_tensor_set_insert (set, "attention_mask", mask);
  } else {
    VlmDType dt = pipeline ? VLM_DTYPE_I64 : VLM_DTYPE_BOOL;
    g_autoptr (VlmTensor) ones = vlm_tensor_new (dt, 2, (gint64[]) { 1, n });
    if (dt == VLM_DTYPE_I64)
      for (gint64 i = 0; i < n; i++)
        ((gint64 *) vlm_tensor_get_data_mut (ones))[i] = 1;
    else
      memset (vlm_tensor_get_data_mut (ones), 1, (gsize) n);
    vlm_tensor_set_insert (set, "attention_mask", ones);
  }
  VlmTensor *features = vlm_element_get_input_tensor (element, "image_features");
  if (features)
    vlm_tensor_set_insert (set, "image_features", features);
  VlmTensor *types = vlm_element_get_input_tensor (element, "token_type_ids");
  if (types)
    vlm_tensor_set_insert (set, "token_type_ids", types);
  if (pipeline && !vlm_pipeline_apply_patches (pipeline, VLM_HOOK_BEFORE_MERGE, set, error))
    return NULL;
  return g_steal_pointer (&set);
}

static VlmTensor *
read_ids (VlmTensor *t, GError **error)
{
  VlmDType dt = t ? vlm_tensor_get_dtype (t) : VLM_DTYPE_F32;
  guint nd = t ? vlm_tensor_get_ndim (t) : 0;
  if (!t || (dt != VLM_DTYPE_I64 && dt != VLM_DTYPE_I32) || nd < 1 || nd > 2
      || (nd == 2 && vlm_tensor_get_dim (t, 0) != 1) || vlm_tensor_get_numel (t) == 0) {
    g_autofree char *d = t ? vlm_tensor_describe (t) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "llama-decoder: input_ids must be I64/I32 [1, L] or [L] with L > 0, got %s", d);
    return NULL;
  }
  g_autoptr (VlmTensor) i64 = vlm_tensor_to_dtype (t, VLM_DTYPE_I64, error);
  return i64 ? vlm_tensor_contiguous (i64) : NULL;
}

static VlmTensor *
read_mask (VlmTensor *t, gint64 n, GError **error)
{
  if (!t || vlm_tensor_get_dtype (t) != VLM_DTYPE_BOOL || vlm_tensor_get_numel (t) != n) {
    g_autofree char *d = t ? vlm_tensor_describe (t) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "llama-decoder: attention_mask reached the merge step as %s; the decoder reads "
                 "BOOL [1, %" G_GINT64_FORMAT "] masks (the common-patches plugin's mask-dtype "
                 "patch converts others)", d, n);
    return NULL;
  }
  return vlm_tensor_contiguous (t);
}

static VlmTensor *
read_features (VlmTensor *t, gint64 hidden, GError **error)
{
  if (!t)
    return NULL;
  guint nd = vlm_tensor_get_ndim (t);
  if (!vlm_dtype_is_float (vlm_tensor_get_dtype (t)) || nd < 2
      || vlm_tensor_get_dim (t, nd - 1) != hidden) {
    g_autofree char *d = vlm_tensor_describe (t);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "llama-decoder: image_features must be float [n, %" G_GINT64_FORMAT "], got %s",
                 hidden, d);
    return NULL;
  }
  return vlm_tensor_to_dtype (t, VLM_DTYPE_F32, error);
}

/* token_type_ids (integers, 1 at image tokens) as I64, when the merge step has them. */
static gboolean
read_token_types (VlmTensorSet *set, gint64 n, VlmTensor **out, GError **error)
{
  VlmTensor *t = vlm_tensor_set_get (set, "token_type_ids");
  *out = NULL;
  if (!t)
    return TRUE;
  VlmDType dt = vlm_tensor_get_dtype (t);
  if (vlm_dtype_is_float (dt) || vlm_tensor_get_numel (t) != n) {
    g_autofree char *d = vlm_tensor_describe (t);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "token_type_ids must be integers [1, %" G_GINT64_FORMAT "], got %s",
                 n, d);
    return FALSE;
  }
  g_autoptr (VlmTensor) i64 = vlm_tensor_to_dtype (t, VLM_DTYPE_I64, error);
  *out = i64 ? vlm_tensor_contiguous (i64) : NULL;
  return *out != NULL;
}

/* M-RoPE position streams (I64 [3, 1, L] or [3, L]) and the decode offset (one integer),
 * when linked; they are only read by a decoder with mrope_section. */
static gboolean
read_positions (VlmElement *element, const VlmDecoderConfig *c, gint64 n, VlmTensor **out,
                gint64 *delta, GError **error)
{
  VlmTensor *t = vlm_element_get_input_tensor (element, "position_ids");
  VlmTensor *d = vlm_element_get_input_tensor (element, "rope_deltas");
  *out = NULL;
  *delta = 0;
  if (!c->mrope_section[0] && !c->mrope_section[1] && !c->mrope_section[2])
    return TRUE;
  if (t) {
    guint nd = vlm_tensor_get_ndim (t);
    if (vlm_dtype_is_float (vlm_tensor_get_dtype (t)) || nd < 2 || nd > 3
        || vlm_tensor_get_dim (t, 0) != 3 || vlm_tensor_get_numel (t) != 3 * n) {
      g_autofree char *desc = vlm_tensor_describe (t);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "llama-decoder: position_ids must be integers [3, 1, %" G_GINT64_FORMAT
                   "], got %s", n, desc);
      return FALSE;
    }
    g_autoptr (VlmTensor) i64 = vlm_tensor_to_dtype (t, VLM_DTYPE_I64, error);
    if (!i64 || !(*out = vlm_tensor_contiguous (i64)))
      return FALSE;
  }
  if (d) {
    if (vlm_dtype_is_float (vlm_tensor_get_dtype (d)) || vlm_tensor_get_numel (d) != 1) {
      g_autofree char *desc = vlm_tensor_describe (d);
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "llama-decoder: rope_deltas must be one integer, got %s", desc);
      return FALSE;
    }
    g_autoptr (VlmTensor) i64 = vlm_tensor_to_dtype (d, VLM_DTYPE_I64, error);
    if (!i64)
      return FALSE;
    *delta = *(const gint64 *) vlm_tensor_get_data (i64);
  }
  return TRUE;
}

static void
on_text (const char *text, gpointer element)
{
  vlm_element_emit_text (element, text);
}

static void
set_outputs (VlmElement *element, VlmGenerateResult *r)
{
  g_autoptr (VlmTensor) tokens = vlm_tensor_new (VLM_DTYPE_I64, 1,
                                                 (gint64[]) { r->tokens->len });
  if (r->tokens->len)
    memcpy (vlm_tensor_get_data_mut (tokens), r->tokens->data, r->tokens->len * sizeof (gint64));
  g_autofree char *stats = vlm_generate_result_stats_json (r);
  vlm_element_set_output_tensor (element, "tokens", tokens);
  vlm_element_set_output_string (element, "text", r->text);
  vlm_element_set_output_string (element, "finish_reason", r->finish_reason);
  vlm_element_set_output_string (element, "stats", stats);
}

static gboolean
llama_decoder_process (VlmElement *element, GError **error)
{
  VlmLlamaDecoder *self = VLM_LLAMA_DECODER (element);
  const VlmDecoderConfig *c = &self->dec->cfg;
  g_autoptr (VlmTensor) ids0 = read_ids (vlm_element_get_input_tensor (element, "input_ids"),
                                         error);
  if (!ids0)
    return FALSE;
  gint64 n = vlm_tensor_get_numel (ids0);
  g_autoptr (VlmTensorSet) set = merge_inputs (element, ids0, n, error);
  if (!set)
    return FALSE;
  g_autoptr (VlmTensor) ids = read_ids (vlm_tensor_set_get (set, "input_ids"), error);
  g_autoptr (VlmTensor) mask = ids ? read_mask (vlm_tensor_set_get (set, "attention_mask"),
                                                vlm_tensor_get_numel (ids), error) : NULL;
  if (!mask)
    return FALSE;
  n = vlm_tensor_get_numel (ids);
  g_autoptr (VlmTensor) feats = NULL;
  if (vlm_tensor_set_contains (set, "image_features")
      && !(feats = read_features (vlm_tensor_set_get (set, "image_features"), c->hidden, error)))
    return FALSE;
  g_autoptr (VlmTensor) types = NULL;
  g_autofree gint64 *spans = NULL;
  guint n_spans = 0;
  if (!read_token_types (set, n, &types, error)
      || !vlm_decoder_prompt_spans (c, types ? vlm_tensor_get_data (types) : NULL, n, &spans,
                                    &n_spans, error)) {
    g_prefix_error (error, "llama-decoder: ");
    return FALSE;
  }
  g_autoptr (VlmTensor) positions = NULL;
  gint64 delta = 0;
  if (!read_positions (element, c, n, &positions, &delta, error))
    return FALSE;

  const gint64 *id = vlm_tensor_get_data (ids);
  g_autoptr (VlmTensor) embeds = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { n, c->hidden });
  float *e = vlm_tensor_get_data_mut (embeds);
  if (!vlm_decoder_embed (self->dec, id, n, e, error)
      || !vlm_decoder_merge_image_features (self->dec, id, n,
                                            feats ? vlm_tensor_get_data (feats) : NULL,
                                            feats ? vlm_tensor_get_numel (feats) / c->hidden : 0,
                                            e, error))
    return FALSE;

  g_autoptr (VlmTensor) hidden = vlm_tensor_new (VLM_DTYPE_F32, 2, (gint64[]) { n, c->hidden });
  g_autoptr (VlmTensor) logits = vlm_tensor_new (VLM_DTYPE_F32, 1, (gint64[]) { c->vocab });
  VlmModelDir *dir = vlm_model_element_get_dir (VLM_MODEL_ELEMENT (self));
  g_autoptr (VlmSampler) sampler = vlm_sampler_new_for_generation (
      vlm_element_get_input_object (element, "sampler"), vlm_model_dir_get_generation_config (dir));
  VlmGenerateOptions opts = {
    .max_tokens = self->max_tokens, .ignore_eos = self->ignore_eos,
    .eos_ids = self->eos_ids, .n_eos = self->n_eos, .stop = (const char *const *) self->stop,
    .sampler = sampler, .tokenizer = self->tokenizer,
    .on_text = self->stream ? on_text : NULL, .on_text_data = element,
    .cancellable = vlm_element_get_pipeline (element)
                       ? vlm_pipeline_get_cancellable (vlm_element_get_pipeline (element)) : NULL,
    .spans = spans, .n_spans = n_spans,
    .position_ids = positions ? vlm_tensor_get_data (positions) : NULL,
    .position_delta = delta,
  };
  VlmGenerateResult r;
  if (!vlm_generate (self->dec, e, id, vlm_tensor_get_data (mask), n, &opts,
                     vlm_tensor_get_data_mut (hidden), vlm_tensor_get_data_mut (logits), &r,
                     error))
    return FALSE;
  vlm_element_set_output_tensor (element, "inputs_embeds", embeds);
  vlm_element_set_output_tensor (element, "final_hidden", hidden);
  vlm_element_set_output_tensor (element, "logits_last", logits);
  set_outputs (element, &r);
  vlm_generate_result_clear (&r);
  return TRUE;
}

static void
llama_decoder_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  VlmLlamaDecoder *self = VLM_LLAMA_DECODER (object);
  switch (id) {
  case PROP_MAX_TOKENS: self->max_tokens = g_value_get_int (value); break;
  case PROP_IGNORE_EOS: self->ignore_eos = g_value_get_boolean (value); break;
  case PROP_STOP:
    g_strfreev (self->stop);
    self->stop = g_value_dup_boxed (value);
    break;
  case PROP_STREAM: self->stream = g_value_get_boolean (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
llama_decoder_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmLlamaDecoder *self = VLM_LLAMA_DECODER (object);
  switch (id) {
  case PROP_MAX_TOKENS: g_value_set_int (value, self->max_tokens); break;
  case PROP_IGNORE_EOS: g_value_set_boolean (value, self->ignore_eos); break;
  case PROP_STOP: g_value_set_boxed (value, self->stop); break;
  case PROP_STREAM: g_value_set_boolean (value, self->stream); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
llama_decoder_finalize (GObject *object)
{
  VlmLlamaDecoder *self = VLM_LLAMA_DECODER (object);
  unload (self);
  g_strfreev (self->stop);
  G_OBJECT_CLASS (vlm_llama_decoder_parent_class)->finalize (object);
}

static void
vlm_llama_decoder_class_init (VlmLlamaDecoderClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = llama_decoder_set_property;
  oc->get_property = llama_decoder_get_property;
  oc->finalize = llama_decoder_finalize;
  ec->process = llama_decoder_process;
  VLM_MODEL_ELEMENT_CLASS (klass)->load = llama_decoder_load;
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_MAX_TOKENS,
      g_param_spec_int ("max-tokens", "Max tokens", "Most tokens to generate", 0, 1 << 20, 256,
                        f));
  g_object_class_install_property (oc, PROP_IGNORE_EOS,
      g_param_spec_boolean ("ignore-eos", "Ignore EOS",
                            "Keep generating after an end-of-sequence id", FALSE, f));
  g_object_class_install_property (oc, PROP_STOP,
      g_param_spec_boxed ("stop", "Stop strings",
                          "Stop when the text contains one of these (it is not output)",
                          G_TYPE_STRV, f));
  g_object_class_install_property (oc, PROP_STREAM,
      g_param_spec_boolean ("stream", "Stream",
                            "Emit the \"text\" signal with each new piece of text", FALSE, f));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_DECODER, "Llama decoder",
                                  "Llama-family text decoder (Llama, Gemma, Gemma 3 by the text "
                                  "model_type): merges image features at the image tokens, "
                                  "prefills the prompt and generates with a KV cache");
  struct { const char *name; VlmPortDirection dir; GType type; VlmPortFlags flags;
           const char *desc; } ports[] = {
    { "input_ids", VLM_PORT_INPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
      "prompt token ids, I64 [1, L]" },
    { "attention_mask", VLM_PORT_INPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_OPTIONAL,
      "[1, L] mask (default: all ones, I64 as the processor gives)" },
    { "image_features", VLM_PORT_INPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_OPTIONAL,
      "F32 [n_image_tokens, hidden], placed at the image-token positions in order" },
    { "token_type_ids", VLM_PORT_INPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_OPTIONAL,
      "integer [1, L], 1 at image tokens: each run attends bidirectionally when the model's "
      "prompt attention asks for image blocks (Gemma 3)" },
    { "position_ids", VLM_PORT_INPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_OPTIONAL,
      "I64 [3, 1, L] M-RoPE (temporal, height, width) positions of the prompt (Qwen2-VL; "
      "default: 0..L-1 on all three)" },
    { "rope_deltas", VLM_PORT_INPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_OPTIONAL,
      "I64 [1, 1]: generated token i sits at position L + i + rope_deltas (M-RoPE)" },
    { "sampler", VLM_PORT_INPUT, VLM_TYPE_SAMPLER, VLM_PORT_FLAG_OPTIONAL,
      "sampling settings (default: generation_config.json, greedy unless do_sample)" },
    { "text", VLM_PORT_OUTPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
      "generated text, without the stop token or stop string" },
    { "tokens", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
      "generated ids, I64 [n], the stop token included when one was produced" },
    { "inputs_embeds", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
      "F32 [L, hidden] prompt embeddings after the image merge" },
    { "final_hidden", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
      "F32 [L, hidden] prompt hidden states after the final norm" },
    { "logits_last", VLM_PORT_OUTPUT, VLM_TYPE_TENSOR, VLM_PORT_FLAG_NONE,
      "F32 [vocab] logits after the last prompt position" },
    { "finish_reason", VLM_PORT_OUTPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
      "\"stop\" (end id or stop string) or \"length\" (max-tokens)" },
    { "stats", VLM_PORT_OUTPUT, G_TYPE_STRING, VLM_PORT_FLAG_NONE,
      "JSON: prompt_tokens, generated_tokens, finish_reason, prefill_ms, decode_ms, "
      "prefill_tokens_per_s, decode_tokens_per_s" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    vlm_element_class_add_port (ec, ports[i].name, ports[i].dir, ports[i].type, ports[i].flags,
                                ports[i].desc);
}

static void
vlm_llama_decoder_init (VlmLlamaDecoder *self)
{
  self->max_tokens = 256;
}
