/* sampler.c: the "sampler" element: its properties are a VlmSampler's, and its output is
 * a sampler for a decoder's "sampler" input. Only the properties set on the element count
 * as the user's choice; the rest come from the model's generation_config.json (here when
 * the "model" input is linked, else in the decoder). */
#include "llm.h"

struct _VlmSamplerElement {
  VlmElement parent;
  VlmSampler *sampler;      /* the user's settings */
  char *model_path;         /* the folder generation_config was read from */
  JsonObject *generation;   /* its generation_config.json, or NULL */
};

G_DEFINE_FINAL_TYPE (VlmSamplerElement, vlm_sampler_element, VLM_TYPE_ELEMENT)

static gboolean
sampler_element_process (VlmElement *element, GError **error)
{
  VlmSamplerElement *self = VLM_SAMPLER_ELEMENT (element);
  const char *model = vlm_element_get_input_string (element, "model");
  if (!model) {
    vlm_element_set_output_object (element, "sampler", self->sampler);
    return TRUE;
  }
  if (g_strcmp0 (model, self->model_path) != 0) {
    g_autoptr (VlmModelDir) dir = vlm_model_dir_new (model, error);
    if (!dir)
      return FALSE;
    JsonObject *gen = vlm_model_dir_get_generation_config (dir);
    g_clear_pointer (&self->generation, json_object_unref);
    self->generation = gen ? json_object_ref (gen) : NULL;
    g_free (self->model_path);
    self->model_path = g_strdup (model);
  }
  g_autoptr (VlmSampler) resolved = vlm_sampler_new_for_generation (self->sampler,
                                                                    self->generation);
  vlm_element_set_output_object (element, "sampler", resolved);
  return TRUE;
}

static void
sampler_element_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  g_object_set_property (G_OBJECT (VLM_SAMPLER_ELEMENT (object)->sampler), pspec->name, value);
}

static void
sampler_element_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  g_object_get_property (G_OBJECT (VLM_SAMPLER_ELEMENT (object)->sampler), pspec->name, value);
}

static void
sampler_element_finalize (GObject *object)
{
  VlmSamplerElement *self = VLM_SAMPLER_ELEMENT (object);
  g_clear_object (&self->sampler);
  g_free (self->model_path);
  g_clear_pointer (&self->generation, json_object_unref);
  G_OBJECT_CLASS (vlm_sampler_element_parent_class)->finalize (object);
}

/* The element offers the same settings as VlmSampler, under the same names. */
static GParamSpec *
copy_pspec (GParamSpec *p)
{
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const char *name = g_param_spec_get_name (p), *nick = g_param_spec_get_nick (p);
  const char *blurb = g_param_spec_get_blurb (p);
  if (G_IS_PARAM_SPEC_BOOLEAN (p))
    return g_param_spec_boolean (name, nick, blurb, G_PARAM_SPEC_BOOLEAN (p)->default_value, f);
  if (G_IS_PARAM_SPEC_INT (p)) {
    GParamSpecInt *i = G_PARAM_SPEC_INT (p);
    return g_param_spec_int (name, nick, blurb, i->minimum, i->maximum, i->default_value, f);
  }
  if (G_IS_PARAM_SPEC_INT64 (p)) {
    GParamSpecInt64 *i = G_PARAM_SPEC_INT64 (p);
    return g_param_spec_int64 (name, nick, blurb, i->minimum, i->maximum, i->default_value, f);
  }
  GParamSpecDouble *d = G_PARAM_SPEC_DOUBLE (p);
  return g_param_spec_double (name, nick, blurb, d->minimum, d->maximum, d->default_value, f);
}

static void
vlm_sampler_element_class_init (VlmSamplerElementClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  VlmElementClass *ec = VLM_ELEMENT_CLASS (klass);
  oc->set_property = sampler_element_set_property;
  oc->get_property = sampler_element_get_property;
  oc->finalize = sampler_element_finalize;
  ec->process = sampler_element_process;
  g_autoptr (GTypeClass) sc = g_type_class_ref (VLM_TYPE_SAMPLER);
  guint n;
  g_autofree GParamSpec **specs = g_object_class_list_properties (G_OBJECT_CLASS (sc), &n);
  for (guint i = 0; i < n; i++)
    g_object_class_install_property (oc, i + 1, copy_pspec (specs[i]));
  vlm_element_class_set_metadata (ec, VLM_ELEMENT_KIND_SAMPLER, "Token sampler",
                                  "Sampling settings for a decoder: greedy, temperature, top-k, "
                                  "top-p, min-p, repetition penalty, seed");
  vlm_element_class_add_port (ec, "model", VLM_PORT_INPUT, G_TYPE_STRING, VLM_PORT_FLAG_OPTIONAL,
                              "model folder whose generation_config.json fills unset settings");
  vlm_element_class_add_port (ec, "sampler", VLM_PORT_OUTPUT, VLM_TYPE_SAMPLER,
                              VLM_PORT_FLAG_NONE, "the sampler (a VlmSampler)");
}

static void
vlm_sampler_element_init (VlmSamplerElement *self)
{
  self->sampler = vlm_sampler_new ();
}
