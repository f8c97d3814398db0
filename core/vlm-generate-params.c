/* vlm-generate-params.c: per-request generation settings. Every setting has an "unset"
 * value (negative numbers, NULL) meaning "the model's default", so one VlmModel serves
 * requests with different settings without one request leaking into the next. */
#include "vlm/vlm-generate-params.h"
#include "vlm/vlm-error.h"

struct _VlmGenerateParams {
  GObject parent;
  int max_tokens, top_k;
  gint64 seed;
  double temperature, top_p, min_p, repetition_penalty;
  gboolean ignore_eos;
  GStrv stop;
  char *system;
};

G_DEFINE_FINAL_TYPE (VlmGenerateParams, vlm_generate_params, G_TYPE_OBJECT)

enum { PROP_0, PROP_MAX_TOKENS, PROP_TEMPERATURE, PROP_TOP_P, PROP_TOP_K, PROP_MIN_P,
       PROP_REPETITION_PENALTY, PROP_SEED, PROP_STOP, PROP_IGNORE_EOS, PROP_SYSTEM, N_PROPS };
static GParamSpec *props[N_PROPS];

static double *
double_field (VlmGenerateParams *self, guint id)
{
  switch (id) {
  case PROP_TEMPERATURE: return &self->temperature;
  case PROP_TOP_P: return &self->top_p;
  case PROP_MIN_P: return &self->min_p;
  case PROP_REPETITION_PENALTY: return &self->repetition_penalty;
  default: return NULL;
  }
}

static void
params_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  VlmGenerateParams *self = VLM_GENERATE_PARAMS (object);
  if (double_field (self, id)) {
    *double_field (self, id) = g_value_get_double (value);
    return;
  }
  switch (id) {
  case PROP_MAX_TOKENS: self->max_tokens = g_value_get_int (value); break;
  case PROP_TOP_K: self->top_k = g_value_get_int (value); break;
  case PROP_SEED: self->seed = g_value_get_int64 (value); break;
  case PROP_IGNORE_EOS: self->ignore_eos = g_value_get_boolean (value); break;
  case PROP_STOP:
    g_strfreev (self->stop);
    self->stop = g_value_dup_boxed (value);
    break;
  case PROP_SYSTEM:
    g_free (self->system);
    self->system = g_value_dup_string (value);
    break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
params_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VlmGenerateParams *self = VLM_GENERATE_PARAMS (object);
  if (double_field (self, id)) {
    g_value_set_double (value, *double_field (self, id));
    return;
  }
  switch (id) {
  case PROP_MAX_TOKENS: g_value_set_int (value, self->max_tokens); break;
  case PROP_TOP_K: g_value_set_int (value, self->top_k); break;
  case PROP_SEED: g_value_set_int64 (value, self->seed); break;
  case PROP_IGNORE_EOS: g_value_set_boolean (value, self->ignore_eos); break;
  case PROP_STOP: g_value_set_boxed (value, self->stop); break;
  case PROP_SYSTEM: g_value_set_string (value, self->system); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
params_finalize (GObject *object)
{
  VlmGenerateParams *self = VLM_GENERATE_PARAMS (object);
  g_strfreev (self->stop);
  g_free (self->system);
  G_OBJECT_CLASS (vlm_generate_params_parent_class)->finalize (object);
}

static void
vlm_generate_params_class_init (VlmGenerateParamsClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->set_property = params_set_property;
  oc->get_property = params_get_property;
  oc->finalize = params_finalize;
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  props[PROP_MAX_TOKENS] = g_param_spec_int ("max-tokens", "Max tokens",
                                             "Most tokens to generate (-1: the pipeline's)",
                                             -1, 1 << 20, -1, f);
  props[PROP_TEMPERATURE] = g_param_spec_double ("temperature", "Temperature",
                                                 "Sampling temperature, 0 greedy (-1: the model's)",
                                                 -1, G_MAXDOUBLE, -1, f);
  props[PROP_TOP_P] = g_param_spec_double ("top-p", "Top p", "Nucleus sampling mass (-1: the model's)",
                                           -1, 1, -1, f);
  props[PROP_TOP_K] = g_param_spec_int ("top-k", "Top k",
                                        "Sample among the K most likely tokens (-1: the model's)",
                                        -1, G_MAXINT, -1, f);
  props[PROP_MIN_P] = g_param_spec_double ("min-p", "Min p",
                                           "Drop tokens below P x the top probability (-1: the model's)",
                                           -1, 1, -1, f);
  props[PROP_REPETITION_PENALTY] = g_param_spec_double ("repetition-penalty", "Repetition penalty",
                                                        "Penalise tokens already seen (-1: the model's)",
                                                        -1, G_MAXDOUBLE, -1, f);
  props[PROP_SEED] = g_param_spec_int64 ("seed", "Seed", "Random seed for sampling (-1: the default)",
                                         -1, G_MAXINT64, -1, f);
  props[PROP_STOP] = g_param_spec_boxed ("stop", "Stop", "Stop at any of these strings",
                                         G_TYPE_STRV, f);
  props[PROP_IGNORE_EOS] = g_param_spec_boolean ("ignore-eos", "Ignore EOS",
                                                 "Keep generating past end-of-sequence tokens",
                                                 FALSE, f);
  props[PROP_SYSTEM] = g_param_spec_string ("system", "System", "A system message", NULL, f);
  g_object_class_install_properties (oc, N_PROPS, props);
}

static void
vlm_generate_params_init (VlmGenerateParams *self)
{
  self->max_tokens = self->top_k = -1;
  self->seed = -1;
  self->temperature = self->top_p = self->min_p = self->repetition_penalty = -1;
}

/**
 * vlm_generate_params_new:
 *
 * Settings that all mean "the model's default"; set the properties you need
 * (in Python: `Vlm.GenerateParams(max_tokens=16, temperature=0.7)`).
 *
 * Returns: (transfer full): new settings
 */
VlmGenerateParams *
vlm_generate_params_new (void)
{
  return g_object_new (VLM_TYPE_GENERATE_PARAMS, NULL);
}

static const char *
describe_type (GParamSpec *pspec)
{
  if (G_IS_PARAM_SPEC_INT (pspec) || G_IS_PARAM_SPEC_INT64 (pspec))
    return "expected an integer";
  if (G_IS_PARAM_SPEC_DOUBLE (pspec))
    return "expected a number";
  if (G_IS_PARAM_SPEC_BOOLEAN (pspec))
    return "expected true or false";
  if (G_IS_PARAM_SPEC_STRING (pspec))
    return "expected a string";
  return "expected a list of strings";
}

/**
 * vlm_generate_params_set_option:
 * @self: settings
 * @name: a property name; "_" may stand for "-" (as in JSON request fields)
 * @value: the value, converted to the property's type when GLib can
 * @error: return location for a #GError
 *
 * Sets one setting by name, as `batch` does from request fields.
 *
 * Returns: %TRUE on success; %FALSE with %VLM_ERROR_INVALID for an unknown
 *   name or a value of the wrong type or out of range
 */
gboolean
vlm_generate_params_set_option (VlmGenerateParams *self, const char *name, const GValue *value,
                                GError **error)
{
  g_autofree char *canon = g_strdelimit (g_strdup (name), "_", '-');
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (self), canon);
  if (!pspec) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "unknown generation option '%s'", name);
    return FALSE;
  }
  GValue v = G_VALUE_INIT;
  g_value_init (&v, pspec->value_type);
  /* An integral double (JSON 16.0) is an acceptable int; a fraction is not. */
  gboolean ok = g_value_type_transformable (G_VALUE_TYPE (value), pspec->value_type)
                && g_value_transform (value, &v);
  if (ok && G_VALUE_HOLDS_DOUBLE (value) && !G_VALUE_HOLDS_DOUBLE (&v) && !G_VALUE_HOLDS_STRING (&v))
    ok = g_value_get_double (value) == (double) (gint64) g_value_get_double (value);
  if (ok && G_VALUE_HOLDS_STRING (&v) && !G_VALUE_HOLDS_STRING (value))
    ok = FALSE; /* a number where text is expected */
  if (!ok || g_param_value_validate (pspec, &v)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "generation option '%s': %s", name,
                 ok ? "value out of range" : describe_type (pspec));
    g_value_unset (&v);
    return FALSE;
  }
  g_object_set_property (G_OBJECT (self), canon, &v);
  g_value_unset (&v);
  return TRUE;
}
