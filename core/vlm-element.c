/* vlm-element.c: element base class: class metadata, typed ports, port values. */
#include "vlm/vlm-element.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-pipeline.h"

typedef struct {
  VlmElementKind kind;
  char *long_name;
  char *description;
  GPtrArray *ports; /* VlmPortSpec*, declared by this class only */
} ClassInfo;

typedef struct {
  char *id;
  VlmPipeline *pipeline; /* weak: the pipeline owns its elements */
  GHashTable *inputs;    /* port name -> GValue* */
  GHashTable *outputs;
  double elapsed_ms; /* time spent in the last process() */
} VlmElementPrivate;

enum { SIGNAL_TEXT, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (VlmElement, vlm_element, G_TYPE_OBJECT)

static GQuark
class_info_quark (void)
{
  return g_quark_from_static_string ("vlm-element-class-info");
}

static ClassInfo *
class_info (GType type, gboolean create)
{
  ClassInfo *info = g_type_get_qdata (type, class_info_quark ());
  if (!info && create) {
    /* Lives as long as the type: types from plugins are never unloaded. */
    info = g_new0 (ClassInfo, 1);
    info->ports = g_ptr_array_new ();
    g_type_set_qdata (type, class_info_quark (), info);
  }
  return info;
}

static void
free_value (gpointer p)
{
  GValue *v = p;
  g_value_unset (v);
  g_free (v);
}

static void
vlm_element_finalize (GObject *object)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (VLM_ELEMENT (object));
  g_free (priv->id);
  g_hash_table_destroy (priv->inputs);
  g_hash_table_destroy (priv->outputs);
  G_OBJECT_CLASS (vlm_element_parent_class)->finalize (object);
}

static void
vlm_element_class_init (VlmElementClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_element_finalize;
  /**
   * VlmElement::text:
   * @element: the element
   * @text: a piece of generated text, complete UTF-8
   *
   * Emitted as text is produced (streaming generation).
   */
  signals[SIGNAL_TEXT] = g_signal_new ("text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vlm_element_init (VlmElement *self)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  priv->inputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_value);
  priv->outputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_value);
}

/**
 * vlm_element_kind_to_string:
 * @kind: a kind
 *
 * Returns: the kind's name as `inspect` prints it ("image-loader", ...)
 */
const char *
vlm_element_kind_to_string (VlmElementKind kind)
{
  GEnumClass *klass = g_type_class_ref (VLM_TYPE_ELEMENT_KIND);
  GEnumValue *v = g_enum_get_value (klass, kind);
  g_type_class_unref (klass);
  return v ? v->value_nick : "other";
}

GType
vlm_element_kind_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { VLM_ELEMENT_KIND_OTHER, "VLM_ELEMENT_KIND_OTHER", "other" },
    { VLM_ELEMENT_KIND_IMAGE_LOADER, "VLM_ELEMENT_KIND_IMAGE_LOADER", "image-loader" },
    { VLM_ELEMENT_KIND_PROCESSOR, "VLM_ELEMENT_KIND_PROCESSOR", "processor" },
    { VLM_ELEMENT_KIND_TOKENIZER, "VLM_ELEMENT_KIND_TOKENIZER", "tokenizer" },
    { VLM_ELEMENT_KIND_VISION_TOWER, "VLM_ELEMENT_KIND_VISION_TOWER", "vision-tower" },
    { VLM_ELEMENT_KIND_PROJECTOR, "VLM_ELEMENT_KIND_PROJECTOR", "projector" },
    { VLM_ELEMENT_KIND_DECODER, "VLM_ELEMENT_KIND_DECODER", "decoder" },
    { VLM_ELEMENT_KIND_SAMPLER, "VLM_ELEMENT_KIND_SAMPLER", "sampler" },
    { VLM_ELEMENT_KIND_SINK, "VLM_ELEMENT_KIND_SINK", "sink" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("VlmElementKind", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * vlm_element_class_set_metadata:
 * @klass: an element class
 * @kind: what the element is for
 * @long_name: a human-readable name
 * @description: one line
 *
 * Call from class_init.
 */
void
vlm_element_class_set_metadata (VlmElementClass *klass, VlmElementKind kind,
                                const char *long_name, const char *description)
{
  ClassInfo *info = class_info (G_TYPE_FROM_CLASS (klass), TRUE);
  info->kind = kind;
  g_free (info->long_name);
  g_free (info->description);
  info->long_name = g_strdup (long_name);
  info->description = g_strdup (description);
}

/**
 * vlm_element_class_add_port:
 * @klass: an element class
 * @name: port name
 * @direction: input or output
 * @value_type: the #GType carried
 * @flags: #VlmPortFlags
 * @description: one line
 *
 * Declares a port; call from class_init.
 */
void
vlm_element_class_add_port (VlmElementClass *klass, const char *name, VlmPortDirection direction,
                            GType value_type, VlmPortFlags flags, const char *description)
{
  ClassInfo *info = class_info (G_TYPE_FROM_CLASS (klass), TRUE);
  VlmPortSpec *spec = g_new0 (VlmPortSpec, 1);
  spec->name = g_intern_string (name);
  spec->direction = direction;
  spec->value_type = value_type;
  spec->flags = flags;
  spec->description = g_intern_string (description);
  g_ptr_array_add (info->ports, spec);
}

/* Metadata of the nearest class that declared it. */
static ClassInfo *
nearest_info (VlmElementClass *klass)
{
  for (GType t = G_TYPE_FROM_CLASS (klass); t && t != VLM_TYPE_ELEMENT; t = g_type_parent (t)) {
    ClassInfo *info = class_info (t, FALSE);
    if (info && info->long_name)
      return info;
  }
  return NULL;
}

/**
 * vlm_element_class_get_kind:
 * @klass: an element class
 *
 * Returns: the declared kind
 */
VlmElementKind
vlm_element_class_get_kind (VlmElementClass *klass)
{
  ClassInfo *info = nearest_info (klass);
  return info ? info->kind : VLM_ELEMENT_KIND_OTHER;
}

/**
 * vlm_element_class_get_long_name:
 * @klass: an element class
 *
 * Returns: (nullable): the declared long name
 */
const char *
vlm_element_class_get_long_name (VlmElementClass *klass)
{
  ClassInfo *info = nearest_info (klass);
  return info ? info->long_name : NULL;
}

/**
 * vlm_element_class_get_description:
 * @klass: an element class
 *
 * Returns: (nullable): the declared description
 */
const char *
vlm_element_class_get_description (VlmElementClass *klass)
{
  ClassInfo *info = nearest_info (klass);
  return info ? info->description : NULL;
}

/**
 * vlm_element_class_list_ports:
 * @klass: an element class
 * @direction: which ports
 *
 * Ports declared by the class and its ancestors, ancestors first.
 *
 * Returns: (transfer container) (element-type VlmPortSpec): the ports
 */
GPtrArray *
vlm_element_class_list_ports (VlmElementClass *klass, VlmPortDirection direction)
{
  GPtrArray *out = g_ptr_array_new ();
  GSList *chain = NULL;
  for (GType t = G_TYPE_FROM_CLASS (klass); t && t != VLM_TYPE_ELEMENT; t = g_type_parent (t))
    chain = g_slist_prepend (chain, GSIZE_TO_POINTER (t));
  for (GSList *l = chain; l; l = l->next) {
    ClassInfo *info = class_info ((GType) GPOINTER_TO_SIZE (l->data), FALSE);
    if (!info)
      continue;
    for (guint i = 0; i < info->ports->len; i++) {
      VlmPortSpec *spec = g_ptr_array_index (info->ports, i);
      if (spec->direction == direction)
        g_ptr_array_add (out, spec);
    }
  }
  g_slist_free (chain);
  return out;
}

/**
 * vlm_element_class_find_port:
 * @klass: an element class
 * @name: port name
 * @direction: which direction
 *
 * Returns: (transfer none) (nullable): the port
 */
const VlmPortSpec *
vlm_element_class_find_port (VlmElementClass *klass, const char *name, VlmPortDirection direction)
{
  g_autoptr (GPtrArray) ports = vlm_element_class_list_ports (klass, direction);
  for (guint i = 0; i < ports->len; i++) {
    const VlmPortSpec *spec = g_ptr_array_index (ports, i);
    if (g_str_equal (spec->name, name))
      return spec;
  }
  return NULL;
}

/**
 * vlm_element_get_id:
 * @self: an element
 *
 * Returns: (nullable): the node id in its pipeline
 */
const char *
vlm_element_get_id (VlmElement *self)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  return priv->id;
}

/**
 * vlm_element_set_id:
 * @self: an element
 * @id: the node id
 */
void
vlm_element_set_id (VlmElement *self, const char *id)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  g_free (priv->id);
  priv->id = g_strdup (id);
}

/**
 * vlm_element_get_pipeline:
 * @self: an element
 *
 * Returns: (transfer none) (nullable): the pipeline running the element
 */
VlmPipeline *
vlm_element_get_pipeline (VlmElement *self)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  return priv->pipeline;
}

/**
 * vlm_element_set_pipeline:
 * @self: an element
 * @pipeline: (nullable): the owning pipeline (not referenced)
 */
void
vlm_element_set_pipeline (VlmElement *self, VlmPipeline *pipeline)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  priv->pipeline = pipeline;
}

static void
store_value (GHashTable *table, const char *port, const GValue *value)
{
  GValue *copy = g_new0 (GValue, 1);
  g_value_init (copy, G_VALUE_TYPE (value));
  g_value_copy (value, copy);
  g_hash_table_insert (table, g_strdup (port), copy);
}

/**
 * vlm_element_set_input:
 * @self: an element
 * @port: input port name
 * @value: the value (copied)
 */
void
vlm_element_set_input (VlmElement *self, const char *port, const GValue *value)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  store_value (priv->inputs, port, value);
}

/**
 * vlm_element_get_input:
 * @self: an element
 * @port: input port name
 *
 * Returns: (transfer none) (nullable): the value, %NULL when not connected
 */
const GValue *
vlm_element_get_input (VlmElement *self, const char *port)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  return g_hash_table_lookup (priv->inputs, port);
}

/**
 * vlm_element_has_input:
 * @self: an element
 * @port: input port name
 *
 * Returns: whether a value arrived on @port
 */
gboolean
vlm_element_has_input (VlmElement *self, const char *port)
{
  return vlm_element_get_input (self, port) != NULL;
}

/**
 * vlm_element_get_input_tensor:
 * @self: an element
 * @port: input port name
 *
 * Returns: (transfer none) (nullable): the tensor on @port
 */
VlmTensor *
vlm_element_get_input_tensor (VlmElement *self, const char *port)
{
  const GValue *v = vlm_element_get_input (self, port);
  return v && G_VALUE_HOLDS (v, VLM_TYPE_TENSOR) ? g_value_get_boxed (v) : NULL;
}

/**
 * vlm_element_get_input_tensor_set:
 * @self: an element
 * @port: input port name
 *
 * Returns: (transfer none) (nullable): the tensor set on @port
 */
VlmTensorSet *
vlm_element_get_input_tensor_set (VlmElement *self, const char *port)
{
  const GValue *v = vlm_element_get_input (self, port);
  return v && G_VALUE_HOLDS (v, VLM_TYPE_TENSOR_SET) ? g_value_get_boxed (v) : NULL;
}

/**
 * vlm_element_get_input_string:
 * @self: an element
 * @port: input port name
 *
 * Returns: (transfer none) (nullable): the string on @port
 */
const char *
vlm_element_get_input_string (VlmElement *self, const char *port)
{
  const GValue *v = vlm_element_get_input (self, port);
  return v && G_VALUE_HOLDS_STRING (v) ? g_value_get_string (v) : NULL;
}

/**
 * vlm_element_get_input_object:
 * @self: an element
 * @port: input port name
 *
 * Returns: (transfer none) (nullable) (type GObject): the object on @port
 */
gpointer
vlm_element_get_input_object (VlmElement *self, const char *port)
{
  const GValue *v = vlm_element_get_input (self, port);
  return v && G_VALUE_HOLDS_OBJECT (v) ? g_value_get_object (v) : NULL;
}

/**
 * vlm_element_get_input_f32:
 * @self: an element
 * @port: input port name
 * @ndim: the rank expected
 * @leading: how the leading axes are described in errors, e.g. "n_images, patches"
 * @last_dim: the size expected of the last axis
 * @error: return location for a #GError
 *
 * The float tensor on @port, checked and converted for kernels that read
 * rows: a missing tensor, another rank, an integer dtype or a wrong last axis
 * is an error naming the port, what arrived and what was expected.
 *
 * Returns: (transfer full) (nullable): a contiguous F32 tensor
 */
VlmTensor *
vlm_element_get_input_f32 (VlmElement *self, const char *port, guint ndim, const char *leading,
                           gint64 last_dim, GError **error)
{
  VlmTensor *in = vlm_element_get_input_tensor (self, port);
  if (!in || vlm_tensor_get_ndim (in) != ndim || !vlm_dtype_is_float (vlm_tensor_get_dtype (in))
      || vlm_tensor_get_dim (in, -1) != last_dim) {
    g_autofree char *d = in ? vlm_tensor_describe (in) : g_strdup ("nothing");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s: %s, expected float [%s, %" G_GINT64_FORMAT "]", port, d, leading, last_dim);
    return NULL;
  }
  g_autoptr (VlmTensor) f = vlm_tensor_to_dtype (in, VLM_DTYPE_F32, error);
  return f ? vlm_tensor_contiguous (f) : NULL;
}

/**
 * vlm_element_get_output:
 * @self: an element
 * @port: output port name
 *
 * Returns: (transfer none) (nullable): the value produced on @port
 */
const GValue *
vlm_element_get_output (VlmElement *self, const char *port)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  return g_hash_table_lookup (priv->outputs, port);
}

/**
 * vlm_element_set_output:
 * @self: an element
 * @port: output port name
 * @value: the value (copied)
 */
void
vlm_element_set_output (VlmElement *self, const char *port, const GValue *value)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  store_value (priv->outputs, port, value);
}

/**
 * vlm_element_set_output_tensor:
 * @self: an element
 * @port: output port name
 * @tensor: the tensor (referenced)
 */
void
vlm_element_set_output_tensor (VlmElement *self, const char *port, VlmTensor *tensor)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, VLM_TYPE_TENSOR);
  g_value_set_boxed (&v, tensor);
  vlm_element_set_output (self, port, &v);
  g_value_unset (&v);
}

/**
 * vlm_element_set_output_tensor_set:
 * @self: an element
 * @port: output port name
 * @set: the set (referenced)
 */
void
vlm_element_set_output_tensor_set (VlmElement *self, const char *port, VlmTensorSet *set)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, VLM_TYPE_TENSOR_SET);
  g_value_set_boxed (&v, set);
  vlm_element_set_output (self, port, &v);
  g_value_unset (&v);
}

/**
 * vlm_element_set_output_string:
 * @self: an element
 * @port: output port name
 * @text: the string (copied)
 */
void
vlm_element_set_output_string (VlmElement *self, const char *port, const char *text)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, text);
  vlm_element_set_output (self, port, &v);
  g_value_unset (&v);
}

/**
 * vlm_element_set_output_object:
 * @self: an element
 * @port: output port name
 * @object: (type GObject): the object (referenced)
 */
void
vlm_element_set_output_object (VlmElement *self, const char *port, gpointer object)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_OBJECT_TYPE (object));
  g_value_set_object (&v, object);
  vlm_element_set_output (self, port, &v);
  g_value_unset (&v);
}

/**
 * vlm_element_clear_values:
 * @self: an element
 *
 * Drops all input and output values (between runs).
 */
void
vlm_element_clear_values (VlmElement *self)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  g_hash_table_remove_all (priv->inputs);
  g_hash_table_remove_all (priv->outputs);
}

/* Prefixes @local with the node id into @error; FALSE for chaining. */
static gboolean
fail (VlmElement *self, GError *local, GError **error)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  if (!local)
    local = g_error_new (VLM_ERROR, VLM_ERROR_FAILED, "failed without a reason");
  g_propagate_prefixed_error (error, local, "node '%s': ", priv->id ? priv->id : "?");
  return FALSE;
}

/**
 * vlm_element_process:
 * @self: an element
 * @error: return location for a #GError
 *
 * Runs the element's prepare method (see #VlmElementClass), then the element on
 * its inputs, then checks that every declared output was produced. Errors are
 * prefixed with the node id.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_element_process (VlmElement *self, GError **error)
{
  VlmElementClass *klass = VLM_ELEMENT_GET_CLASS (self);
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  GError *local = NULL;
  if (!klass->process) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED, "node '%s': %s has no process method",
                 priv->id ? priv->id : "?", G_OBJECT_TYPE_NAME (self));
    return FALSE;
  }
  if (klass->prepare && !klass->prepare (self, &local))
    return fail (self, local, error);
  gint64 start = g_get_monotonic_time ();
  gboolean ok = klass->process (self, &local);
  priv->elapsed_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  if (!ok)
    return fail (self, local, error);
  g_autoptr (GPtrArray) outs = vlm_element_class_list_ports (klass, VLM_PORT_OUTPUT);
  for (guint i = 0; i < outs->len; i++) {
    const VlmPortSpec *spec = g_ptr_array_index (outs, i);
    if (!(spec->flags & VLM_PORT_FLAG_OPTIONAL) && !vlm_element_get_output (self, spec->name)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_FAILED,
                   "node '%s': element %s produced no value on output '%s'",
                   priv->id ? priv->id : "?", G_OBJECT_TYPE_NAME (self), spec->name);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vlm_element_emit_text:
 * @self: an element
 * @text: complete UTF-8 text
 *
 * Emits #VlmElement::text (streamed generation).
 */
void
vlm_element_emit_text (VlmElement *self, const char *text)
{
  g_signal_emit (self, signals[SIGNAL_TEXT], 0, text);
}

/**
 * vlm_element_prepare:
 * @self: an element
 * @error: return location for a #GError
 *
 * Runs the element's prepare method, if it has one: it loads what the inputs
 * set so far ask for and returns at once when that is already loaded.
 * vlm_element_process() calls it too; calling it first only separates loading
 * from running. Errors are prefixed with the node id.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_element_prepare (VlmElement *self, GError **error)
{
  VlmElementClass *klass = VLM_ELEMENT_GET_CLASS (self);
  GError *local = NULL;
  if (klass->prepare && !klass->prepare (self, &local))
    return fail (self, local, error);
  return TRUE;
}

/**
 * vlm_element_get_elapsed_ms:
 * @self: an element
 *
 * Returns: wall-clock milliseconds its last process() took
 */
double
vlm_element_get_elapsed_ms (VlmElement *self)
{
  VlmElementPrivate *priv = vlm_element_get_instance_private (self);
  return priv->elapsed_ms;
}
