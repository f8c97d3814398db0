/* vlm-result.c: an immutable record of one generation. Tokens and timings are GVariants
 * ("ax" and "a{sd}") so that bindings see a list of ints and a dict without custom code. */
#include "vlm/vlm-result.h"

struct _VlmResult {
  GObject parent;
  char *text;
  GVariant *tokens;  /* "ax" */
  gint64 prompt_tokens;
  char *finish_reason;
  GVariant *timings; /* "a{sd}" */
};

G_DEFINE_FINAL_TYPE (VlmResult, vlm_result, G_TYPE_OBJECT)

enum { PROP_0, PROP_TEXT, PROP_TOKENS, PROP_PROMPT_TOKENS, PROP_FINISH_REASON, PROP_TIMINGS,
       N_PROPS };
static GParamSpec *props[N_PROPS];

static void
vlm_result_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmResult *self = VLM_RESULT (object);
  switch (id) {
  case PROP_TEXT:
    g_value_set_string (value, self->text);
    break;
  case PROP_TOKENS:
    g_value_set_variant (value, self->tokens);
    break;
  case PROP_PROMPT_TOKENS:
    g_value_set_int64 (value, self->prompt_tokens);
    break;
  case PROP_FINISH_REASON:
    g_value_set_string (value, self->finish_reason);
    break;
  case PROP_TIMINGS:
    g_value_set_variant (value, self->timings);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
vlm_result_finalize (GObject *object)
{
  VlmResult *self = VLM_RESULT (object);
  g_free (self->text);
  g_variant_unref (self->tokens);
  g_free (self->finish_reason);
  g_variant_unref (self->timings);
  G_OBJECT_CLASS (vlm_result_parent_class)->finalize (object);
}

static void
vlm_result_class_init (VlmResultClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->get_property = vlm_result_get_property;
  oc->finalize = vlm_result_finalize;
  GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  /**
   * VlmResult:text:
   *
   * The generated text, special tokens skipped.
   */
  props[PROP_TEXT] = g_param_spec_string ("text", "Text", "The generated text", "", f);
  /**
   * VlmResult:tokens:
   *
   * The generated token ids (a "ax" variant), the final end-of-sequence token included.
   */
  props[PROP_TOKENS] = g_param_spec_variant ("tokens", "Tokens", "The generated token ids",
                                             G_VARIANT_TYPE ("ax"), NULL, f);
  /**
   * VlmResult:prompt-tokens:
   *
   * How many tokens the prompt had (image tokens included).
   */
  props[PROP_PROMPT_TOKENS] = g_param_spec_int64 ("prompt-tokens", "Prompt tokens",
                                                  "Tokens in the prompt", 0, G_MAXINT64, 0, f);
  /**
   * VlmResult:finish-reason:
   *
   * "stop" (an end-of-sequence token or a stop string) or "length" (max-tokens reached).
   */
  props[PROP_FINISH_REASON] = g_param_spec_string ("finish-reason", "Finish reason",
                                                   "stop or length", "length", f);
  /**
   * VlmResult:timings:
   *
   * Milliseconds and rates (a "a{sd}" variant): preprocess_ms, vision_ms, prefill_ms,
   * decode_ms, total_ms, prefill_tokens_per_s, decode_tokens_per_s.
   */
  props[PROP_TIMINGS] = g_param_spec_variant ("timings", "Timings", "Milliseconds per stage",
                                              G_VARIANT_TYPE ("a{sd}"), NULL, f);
  g_object_class_install_properties (oc, N_PROPS, props);
}

static void
vlm_result_init (VlmResult *self)
{
}

/**
 * vlm_result_new:
 * @text: the generated text
 * @tokens: (array length=n_tokens) (nullable): the generated ids
 * @n_tokens: how many
 * @prompt_tokens: tokens in the prompt
 * @finish_reason: "stop" or "length"
 * @timings: (nullable): a "a{sd}" variant (floating references are sunk)
 *
 * Returns: (transfer full): a result
 */
VlmResult *
vlm_result_new (const char *text, const gint64 *tokens, gsize n_tokens, gint64 prompt_tokens,
                const char *finish_reason, GVariant *timings)
{
  VlmResult *self = g_object_new (VLM_TYPE_RESULT, NULL);
  self->text = g_strdup (text ? text : "");
  self->tokens = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, tokens,
                                                                tokens ? n_tokens : 0,
                                                                sizeof (gint64)));
  self->prompt_tokens = prompt_tokens;
  self->finish_reason = g_strdup (finish_reason ? finish_reason : "length");
  self->timings = timings ? g_variant_ref_sink (timings)
                          : g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("{sd}"),
                                                                     NULL, 0));
  return self;
}

/**
 * vlm_result_get_text:
 * @self: a result
 *
 * Returns: the generated text
 */
const char *
vlm_result_get_text (VlmResult *self)
{
  return self->text;
}

/**
 * vlm_result_get_tokens:
 * @self: a result
 * @n_tokens: (out): how many
 *
 * Returns: (array length=n_tokens) (transfer none): the generated token ids
 */
const gint64 *
vlm_result_get_tokens (VlmResult *self, gsize *n_tokens)
{
  return g_variant_get_fixed_array (self->tokens, n_tokens, sizeof (gint64));
}

/**
 * vlm_result_get_prompt_tokens:
 * @self: a result
 *
 * Returns: tokens in the prompt
 */
gint64
vlm_result_get_prompt_tokens (VlmResult *self)
{
  return self->prompt_tokens;
}

/**
 * vlm_result_get_finish_reason:
 * @self: a result
 *
 * Returns: "stop" or "length"
 */
const char *
vlm_result_get_finish_reason (VlmResult *self)
{
  return self->finish_reason;
}

/**
 * vlm_result_get_timings:
 * @self: a result
 *
 * Returns: (transfer none): the timings, a "a{sd}" variant
 */
GVariant *
vlm_result_get_timings (VlmResult *self)
{
  return self->timings;
}

/**
 * vlm_result_get_timing:
 * @self: a result
 * @name: a key of #VlmResult:timings, e.g. "total_ms"
 *
 * Returns: the value, 0 when absent
 */
double
vlm_result_get_timing (VlmResult *self, const char *name)
{
  double v = 0;
  return g_variant_lookup (self->timings, name, "d", &v) ? v : 0;
}

/**
 * vlm_result_to_json:
 * @self: a result
 *
 * The JSON form `batch` writes and `generate --json` prints: text, tokens,
 * prompt_tokens, finish_reason, timings.
 *
 * Returns: (transfer full): a JSON object node
 */
JsonNode *
vlm_result_to_json (VlmResult *self)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, self->text);
  json_builder_set_member_name (b, "tokens");
  json_builder_begin_array (b);
  gsize n = 0;
  const gint64 *t = vlm_result_get_tokens (self, &n);
  for (gsize i = 0; i < n; i++)
    json_builder_add_int_value (b, t[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "prompt_tokens");
  json_builder_add_int_value (b, self->prompt_tokens);
  json_builder_set_member_name (b, "finish_reason");
  json_builder_add_string_value (b, self->finish_reason);
  json_builder_set_member_name (b, "timings");
  json_builder_begin_object (b);
  GVariantIter iter;
  const char *key;
  double value;
  g_variant_iter_init (&iter, self->timings);
  while (g_variant_iter_next (&iter, "{&sd}", &key, &value)) {
    json_builder_set_member_name (b, key);
    json_builder_add_double_value (b, value);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
