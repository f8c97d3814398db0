/* vlm-pipeline.c: a validated graph of elements; runs nodes in order and applies patches. */
#include "vlm-pipeline-private.h"
#include "vlm-json-value.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-registry.h"
#include "vlm/vlm-model-dir.h"

#include <string.h>

struct _VlmPipeline {
  GObject parent;
  VlmPipelineDesc *desc;
  char *model_type;
  GCancellable *cancellable;
};

enum { SIGNAL_TEXT, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (VlmPipeline, vlm_pipeline, G_TYPE_OBJECT)

static void
vlm_pipeline_finalize (GObject *object)
{
  VlmPipeline *self = VLM_PIPELINE (object);
  vlm_pipeline_desc_free (self->desc);
  g_free (self->model_type);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (vlm_pipeline_parent_class)->finalize (object);
}

static void
vlm_pipeline_class_init (VlmPipelineClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_pipeline_finalize;
  /**
   * VlmPipeline::text:
   * @pipeline: the pipeline
   * @node: the id of the node producing text
   * @text: a piece of generated text (complete UTF-8)
   *
   * Streams generated text as elements produce it.
   */
  signals[SIGNAL_TEXT] = g_signal_new ("text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
                                       G_TYPE_STRING);
}

static void
vlm_pipeline_init (VlmPipeline *self)
{
}

static void
forward_text (VlmElement *element, const char *text, VlmPipeline *self)
{
  g_signal_emit (self, signals[SIGNAL_TEXT], 0, vlm_element_get_id (element), text);
}

static VlmPipeline *
pipeline_from_desc (VlmPipelineDesc *desc, GError **error)
{
  VlmPipeline *self = g_object_new (VLM_TYPE_PIPELINE, NULL);
  self->desc = desc;
  if (desc->model) {
    self->model_type = vlm_pipeline_read_model_type (desc->model, error);
    if (!self->model_type) {
      g_object_unref (self);
      return NULL;
    }
  }
  for (guint i = 0; i < desc->nodes->len; i++) {
    VlmNode *node = g_ptr_array_index (desc->nodes, i);
    vlm_element_set_pipeline (node->element, self);
    g_signal_connect_object (node->element, "text", G_CALLBACK (forward_text), self, 0);
  }
  return self;
}

/**
 * vlm_pipeline_new_from_data:
 * @data: pipeline JSON
 * @length: its length, or -1 when nul-terminated
 * @base_dir: (nullable): folder relative paths (model, images) are resolved against
 * @error: return location for a #GError
 *
 * Parses and validates a pipeline: syntax errors carry line and column;
 * unknown elements or properties, wrong property types, missing or cyclic
 * links and port type mismatches name the node.
 *
 * Returns: (transfer full) (nullable): the pipeline
 */
VlmPipeline *
vlm_pipeline_new_from_data (const char *data, gssize length, const char *base_dir, GError **error)
{
  VlmPipelineDesc *desc = vlm_pipeline_desc_parse (data, length, "<pipeline>", base_dir, error);
  return desc ? pipeline_from_desc (desc, error) : NULL;
}

/**
 * vlm_pipeline_new_from_file:
 * @filename: a pipeline JSON file
 * @error: return location for a #GError
 *
 * Like vlm_pipeline_new_from_data(); relative paths are resolved against the
 * file's folder and errors name the file.
 *
 * Returns: (transfer full) (nullable): the pipeline
 */
VlmPipeline *
vlm_pipeline_new_from_file (const char *filename, GError **error)
{
  g_autofree char *data = NULL;
  gsize length = 0;
  GError *local = NULL;
  if (!g_file_get_contents (filename, &data, &length, &local)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_IO, "%s", local->message);
    g_error_free (local);
    return NULL;
  }
  g_autofree char *dir = g_path_get_dirname (filename);
  VlmPipelineDesc *desc = vlm_pipeline_desc_parse (data, (gssize) length, filename, dir, error);
  return desc ? pipeline_from_desc (desc, error) : NULL;
}

/**
 * vlm_pipeline_new_for_model:
 * @model: a model folder
 * @error: return location for a #GError
 *
 * The pipeline that the plugin registered for the model's `model_type`
 * supplies.
 *
 * Returns: (transfer full) (nullable): the pipeline
 */
VlmPipeline *
vlm_pipeline_new_for_model (const char *model, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, model);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = json_to_string (root, FALSE);
  return vlm_pipeline_new_from_data (text, -1, NULL, error);
}

/**
 * vlm_pipeline_get_name:
 * @pipeline: a pipeline
 *
 * Returns: (nullable): its name
 */
const char *
vlm_pipeline_get_name (VlmPipeline *pipeline)
{
  return pipeline->desc->name;
}

/**
 * vlm_pipeline_get_model:
 * @pipeline: a pipeline
 *
 * Returns: (nullable): the model folder
 */
const char *
vlm_pipeline_get_model (VlmPipeline *pipeline)
{
  return pipeline->desc->model;
}

/**
 * vlm_pipeline_set_model:
 * @pipeline: a pipeline
 * @model: a model folder or a Hugging Face id in the local cache
 * @error: return location for a #GError
 *
 * Sets `@model`, for pipelines whose nodes are spelled out without one.
 *
 * Returns: %FALSE if @model is not a model folder with a config.json
 */
gboolean
vlm_pipeline_set_model (VlmPipeline *pipeline, const char *model, GError **error)
{
  g_autofree char *path = vlm_model_dir_resolve (model, error);
  if (!path)
    return FALSE;
  char *type = vlm_pipeline_read_model_type (path, error);
  if (!type)
    return FALSE;
  g_free (pipeline->model_type);
  pipeline->model_type = type;
  g_free (pipeline->desc->model);
  pipeline->desc->model = g_steal_pointer (&path);
  return TRUE;
}

/**
 * vlm_pipeline_get_model_type:
 * @pipeline: a pipeline
 *
 * Returns: (nullable): the model's `model_type`
 */
const char *
vlm_pipeline_get_model_type (VlmPipeline *pipeline)
{
  return pipeline->model_type;
}

/**
 * vlm_pipeline_get_prompt:
 * @pipeline: a pipeline
 *
 * Returns: (nullable): the prompt (`@prompt`)
 */
const char *
vlm_pipeline_get_prompt (VlmPipeline *pipeline)
{
  return pipeline->desc->prompt;
}

/**
 * vlm_pipeline_set_prompt:
 * @pipeline: a pipeline
 * @prompt: (nullable): the user's question
 */
void
vlm_pipeline_set_prompt (VlmPipeline *pipeline, const char *prompt)
{
  g_free (pipeline->desc->prompt);
  pipeline->desc->prompt = g_strdup (prompt);
}

/**
 * vlm_pipeline_get_system:
 * @pipeline: a pipeline
 *
 * Returns: (nullable): the system message (`@system`)
 */
const char *
vlm_pipeline_get_system (VlmPipeline *pipeline)
{
  return pipeline->desc->system;
}

/**
 * vlm_pipeline_set_system:
 * @pipeline: a pipeline
 * @system: (nullable): a system message
 */
void
vlm_pipeline_set_system (VlmPipeline *pipeline, const char *system)
{
  g_free (pipeline->desc->system);
  pipeline->desc->system = g_strdup (system);
}

/**
 * vlm_pipeline_get_images:
 * @pipeline: a pipeline
 *
 * Returns: (array zero-terminated=1) (transfer none) (nullable): the image paths (`@images`)
 */
const char *const *
vlm_pipeline_get_images (VlmPipeline *pipeline)
{
  return (const char *const *) pipeline->desc->images;
}

/**
 * vlm_pipeline_set_images:
 * @pipeline: a pipeline
 * @images: (array zero-terminated=1) (nullable): image paths
 */
void
vlm_pipeline_set_images (VlmPipeline *pipeline, const char *const *images)
{
  g_strfreev (pipeline->desc->images);
  pipeline->desc->images = g_strdupv ((GStrv) images);
}

static VlmNode *
find_node (VlmPipeline *self, const char *id)
{
  for (guint i = 0; i < self->desc->nodes->len; i++) {
    VlmNode *n = g_ptr_array_index (self->desc->nodes, i);
    if (g_str_equal (n->id, id))
      return n;
  }
  return NULL;
}

/**
 * vlm_pipeline_list_node_ids:
 * @pipeline: a pipeline
 *
 * Returns: (transfer full): node ids in execution order
 */
GStrv
vlm_pipeline_list_node_ids (VlmPipeline *pipeline)
{
  GStrv out = g_new0 (char *, pipeline->desc->nodes->len + 1);
  for (guint i = 0; i < pipeline->desc->nodes->len; i++)
    out[i] = g_strdup (((VlmNode *) g_ptr_array_index (pipeline->desc->nodes, i))->id);
  return out;
}

/**
 * vlm_pipeline_get_element:
 * @pipeline: a pipeline
 * @id: a node id
 *
 * Returns: (transfer none) (nullable): the node's element
 */
VlmElement *
vlm_pipeline_get_element (VlmPipeline *pipeline, const char *id)
{
  VlmNode *n = find_node (pipeline, id);
  return n ? n->element : NULL;
}

/**
 * vlm_pipeline_find_element:
 * @pipeline: a pipeline
 * @kind: an element kind
 *
 * Returns: (transfer none) (nullable): the first node's element of that kind, in the
 *   description's order
 */
VlmElement *
vlm_pipeline_find_element (VlmPipeline *pipeline, VlmElementKind kind)
{
  for (guint i = 0; i < pipeline->desc->nodes->len; i++) {
    VlmElement *e = ((VlmNode *) g_ptr_array_index (pipeline->desc->nodes, i))->element;
    if (vlm_element_class_get_kind (VLM_ELEMENT_GET_CLASS (e)) == kind)
      return e;
  }
  return NULL;
}

/**
 * vlm_pipeline_set_node_property:
 * @pipeline: a pipeline
 * @assignment: "NODE.PROPERTY=VALUE" as given to `--set`
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the property exists and VALUE converts to its type
 */
gboolean
vlm_pipeline_set_node_property (VlmPipeline *pipeline, const char *assignment, GError **error)
{
  const char *eq = strchr (assignment, '=');
  const char *dot = eq ? memchr (assignment, '.', eq - assignment) : NULL;
  if (!eq || !dot) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "--set %s: expected NODE.PROPERTY=VALUE", assignment);
    return FALSE;
  }
  g_autofree char *id = g_strndup (assignment, dot - assignment);
  g_autofree char *prop = g_strndup (dot + 1, eq - dot - 1);
  VlmNode *node = find_node (pipeline, id);
  if (!node) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "--set %s: no node '%s'", assignment, id);
    return FALSE;
  }
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (node->element), prop);
  if (!pspec || !(pspec->flags & G_PARAM_WRITABLE)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "--set %s: element '%s' of node '%s' has no settable property '%s'", assignment,
                 node->factory, id, prop);
    return FALSE;
  }
  GValue value = G_VALUE_INIT;
  GError *local = NULL;
  if (!vlm_string_to_gvalue (eq + 1, pspec, &value, &local)) {
    g_propagate_prefixed_error (error, local, "--set %s: ", assignment);
    return FALSE;
  }
  g_object_set_property (G_OBJECT (node->element), prop, &value);
  g_value_unset (&value);
  return TRUE;
}

/**
 * vlm_pipeline_list_active_patches:
 * @pipeline: a pipeline
 * @hook: a hook point
 *
 * Patches registered for the model's type at @hook, minus those the pipeline
 * disables, plus those it enables, in application order.
 *
 * Returns: (transfer container) (element-type VlmPatch): the patches
 */
GPtrArray *
vlm_pipeline_list_active_patches (VlmPipeline *pipeline, VlmHook hook)
{
  g_autoptr (GPtrArray) all = vlm_registry_list_patches (vlm_registry_get_default ());
  GPtrArray *out = g_ptr_array_new ();
  GStrv disabled = pipeline->desc->disabled_patches, enabled = pipeline->desc->enabled_patches;
  for (guint i = 0; i < all->len; i++) {
    const VlmPatch *p = g_ptr_array_index (all, i);
    const char *name = vlm_patch_get_name (p);
    if (vlm_patch_get_hook (p) != hook)
      continue;
    if (disabled && g_strv_contains ((const char *const *) disabled, name))
      continue;
    if (vlm_patch_applies_to (p, pipeline->model_type)
        || (enabled && g_strv_contains ((const char *const *) enabled, name)))
      g_ptr_array_add (out, (gpointer) p);
  }
  return out;
}

/**
 * vlm_pipeline_apply_patches:
 * @pipeline: a pipeline
 * @hook: the hook point reached
 * @tensors: the tensors at that point, rewritten in place
 * @error: return location for a #GError
 *
 * Called by elements (the weight loader, the merge step) at hook points.
 *
 * Returns: %TRUE unless a patch failed
 */
gboolean
vlm_pipeline_apply_patches (VlmPipeline *pipeline, VlmHook hook, VlmTensorSet *tensors,
                            GError **error)
{
  g_autoptr (GPtrArray) patches = vlm_pipeline_list_active_patches (pipeline, hook);
  for (guint i = 0; i < patches->len; i++)
    if (!vlm_patch_apply (g_ptr_array_index (patches, i), tensors, pipeline->model_type, error))
      return FALSE;
  return TRUE;
}

static gboolean
feed_inputs (VlmPipeline *self, VlmNode *node, gboolean pipeline_values_only, GError **error)
{
  for (guint j = 0; j < node->links->len; j++) {
    VlmLink *link = g_ptr_array_index (node->links, j);
    GValue v = G_VALUE_INIT;
    if (pipeline_values_only && link->source[0] != '@')
      continue;
    if (link->source[0] == '@') {
      VlmPipelineDesc *d = self->desc;
      if (g_str_equal (link->source, VLM_SOURCE_IMAGES)) {
        g_value_init (&v, G_TYPE_STRV);
        g_value_set_boxed (&v, d->images);
      } else {
        const char *s = g_str_equal (link->source, VLM_SOURCE_PROMPT)   ? d->prompt
                        : g_str_equal (link->source, VLM_SOURCE_SYSTEM) ? d->system
                                                                        : d->model;
        if (!s)
          continue; /* an unset pipeline value leaves the input unconnected */
        g_value_init (&v, G_TYPE_STRING);
        g_value_set_string (&v, s);
      }
    } else {
      VlmNode *src = find_node (self, link->source);
      const GValue *out = vlm_element_get_output (src->element, link->source_port);
      if (!out)
        continue; /* an optional output that was not produced */
      g_value_init (&v, G_VALUE_TYPE (out));
      g_value_copy (out, &v);
    }
    vlm_element_set_input (node->element, link->port, &v);
    g_value_unset (&v);
  }
  if (pipeline_values_only)
    return TRUE;
  g_autoptr (GPtrArray) ins = vlm_element_class_list_ports (VLM_ELEMENT_GET_CLASS (node->element),
                                                            VLM_PORT_INPUT);
  for (guint i = 0; i < ins->len; i++) {
    const VlmPortSpec *spec = g_ptr_array_index (ins, i);
    if (!(spec->flags & VLM_PORT_FLAG_OPTIONAL) && !vlm_element_has_input (node->element, spec->name)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "node '%s': input '%s' received no value (is the pipeline's prompt, images "
                   "or model set?)", node->id, spec->name);
      return FALSE;
    }
  }
  return TRUE;
}

/**
 * vlm_pipeline_get_cancellable:
 * @pipeline: a pipeline
 *
 * Returns: (transfer none) (nullable): the cancellable of the run in progress
 */
GCancellable *
vlm_pipeline_get_cancellable (VlmPipeline *pipeline)
{
  return pipeline->cancellable;
}

/**
 * vlm_pipeline_prepare:
 * @pipeline: a pipeline
 * @error: return location for a #GError
 *
 * Lets every element load what it needs (weights, tokenizers) before the first
 * run. Each element prepares again before every process (doing nothing when its
 * inputs did not change), so calling this is only needed to time or report
 * loading separately.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_pipeline_prepare (VlmPipeline *pipeline, GError **error)
{
  for (guint i = 0; i < pipeline->desc->nodes->len; i++) {
    VlmNode *node = g_ptr_array_index (pipeline->desc->nodes, i);
    vlm_element_clear_values (node->element);
    if (!feed_inputs (pipeline, node, TRUE, error) || !vlm_element_prepare (node->element, error))
      return FALSE;
  }
  return TRUE;
}

/**
 * vlm_pipeline_run:
 * @pipeline: a pipeline
 * @cancellable: (nullable): cancels between nodes (and inside long elements)
 * @error: return location for a #GError
 *
 * Runs every node once, in dependency order. Outputs stay readable with
 * vlm_pipeline_get_value() until the next run.
 *
 * Returns: %TRUE on success
 */
gboolean
vlm_pipeline_run (VlmPipeline *pipeline, GCancellable *cancellable, GError **error)
{
  g_set_object (&pipeline->cancellable, cancellable);
  for (guint i = 0; i < pipeline->desc->nodes->len; i++)
    vlm_element_clear_values (((VlmNode *) g_ptr_array_index (pipeline->desc->nodes, i))->element);
  for (guint i = 0; i < pipeline->desc->nodes->len; i++) {
    VlmNode *node = g_ptr_array_index (pipeline->desc->nodes, i);
    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;
    if (!feed_inputs (pipeline, node, FALSE, error) || !vlm_element_process (node->element, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
is_consumed (VlmPipeline *self, const char *id, const char *port)
{
  for (guint i = 0; i < self->desc->nodes->len; i++) {
    VlmNode *n = g_ptr_array_index (self->desc->nodes, i);
    for (guint j = 0; j < n->links->len; j++) {
      VlmLink *l = g_ptr_array_index (n->links, j);
      if (g_str_equal (l->source, id) && !g_strcmp0 (l->source_port, port))
        return TRUE;
    }
  }
  return FALSE;
}

/**
 * vlm_pipeline_list_sink_outputs:
 * @pipeline: a pipeline
 *
 * Returns: (transfer full): "NODE.PORT" for every output no node consumes:
 *   the pipeline's results
 */
GStrv
vlm_pipeline_list_sink_outputs (VlmPipeline *pipeline)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < pipeline->desc->nodes->len; i++) {
    VlmNode *n = g_ptr_array_index (pipeline->desc->nodes, i);
    g_autoptr (GPtrArray) outs = vlm_element_class_list_ports (VLM_ELEMENT_GET_CLASS (n->element),
                                                               VLM_PORT_OUTPUT);
    for (guint j = 0; j < outs->len; j++) {
      const VlmPortSpec *spec = g_ptr_array_index (outs, j);
      if (!is_consumed (pipeline, n->id, spec->name))
        {
          g_autofree char *name = g_strdup_printf ("%s.%s", n->id, spec->name);
          g_strv_builder_add (b, name);
        }
    }
  }
  return g_strv_builder_end (b);
}

/**
 * vlm_pipeline_get_value:
 * @pipeline: a pipeline
 * @node_port: "NODE.PORT"
 *
 * Returns: (transfer none) (nullable): the value produced by the last run
 */
const GValue *
vlm_pipeline_get_value (VlmPipeline *pipeline, const char *node_port)
{
  const char *dot = strrchr (node_port, '.');
  if (!dot)
    return NULL;
  g_autofree char *id = g_strndup (node_port, dot - node_port);
  VlmNode *n = find_node (pipeline, id);
  return n ? vlm_element_get_output (n->element, dot + 1) : NULL;
}
