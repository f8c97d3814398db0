/* vlm-pipeline-parse.c: JSON text to a validated, topologically ordered pipeline description. */
#include "vlm-pipeline-private.h"
#include "vlm-json-value.h"
#include "vlm/vlm-error.h"
#include "vlm/vlm-model-dir.h"
#include "vlm/vlm-registry.h"

#include <string.h>

static void
link_free (gpointer p)
{
  VlmLink *l = p;
  g_free (l->port);
  g_free (l->source);
  g_free (l->source_port);
  g_free (l);
}

static void
node_free (gpointer p)
{
  VlmNode *n = p;
  g_free (n->id);
  g_free (n->factory);
  g_clear_object (&n->element);
  g_ptr_array_unref (n->links);
  g_free (n);
}

void
vlm_pipeline_desc_free (VlmPipelineDesc *desc)
{
  if (!desc)
    return;
  g_free (desc->name);
  g_free (desc->model);
  g_free (desc->prompt);
  g_free (desc->system);
  g_strfreev (desc->images);
  g_ptr_array_unref (desc->nodes);
  g_strfreev (desc->disabled_patches);
  g_strfreev (desc->enabled_patches);
  g_free (desc);
}

GType
vlm_pipeline_source_type (const char *source)
{
  if (g_str_equal (source, VLM_SOURCE_IMAGES))
    return G_TYPE_STRV;
  if (g_str_equal (source, VLM_SOURCE_PROMPT) || g_str_equal (source, VLM_SOURCE_SYSTEM)
      || g_str_equal (source, VLM_SOURCE_MODEL))
    return G_TYPE_STRING;
  return G_TYPE_INVALID;
}

static char *
resolve_path (const char *base_dir, const char *path)
{
  if (!base_dir || g_path_is_absolute (path))
    return g_strdup (path);
  return g_build_filename (base_dir, path, NULL);
}

/* A folder relative to the pipeline file, else a Hugging Face id in the local cache. */
static char *
resolve_model (const char *base_dir, const char *model, GError **error)
{
  g_autofree char *path = resolve_path (base_dir, model);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&path);
  return vlm_model_dir_resolve (model, error);
}

/**
 * vlm_pipeline_read_model_type: (skip)
 *
 * The `model_type` of a model folder's config.json.
 */
char *
vlm_pipeline_read_model_type (const char *model_dir, GError **error)
{
  g_autofree char *config = g_build_filename (model_dir, "config.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, config, error)) {
    g_prefix_error (error, "model %s: ", model_dir);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)
      || !json_object_has_member (json_node_get_object (root), "model_type")) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: no \"model_type\" string", config);
    return NULL;
  }
  const char *type = json_object_get_string_member_with_default (json_node_get_object (root),
                                                                 "model_type", NULL);
  if (!type) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_FORMAT, "%s: \"model_type\" is not a string", config);
    return NULL;
  }
  return g_strdup (type);
}

static gboolean
get_optional_string (JsonObject *obj, const char *member, const char *where, char **out,
                     GError **error)
{
  JsonNode *n = json_object_get_member (obj, member);
  if (!n || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: \"%s\" must be a string", where,
                 member);
    return FALSE;
  }
  *out = g_strdup (json_node_get_string (n));
  return TRUE;
}

static gboolean
get_string_list (JsonObject *obj, const char *member, const char *where, GStrv *out,
                 GError **error)
{
  JsonNode *n = json_object_get_member (obj, member);
  if (!n)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: \"%s\" must be a list of strings",
                 where, member);
    return FALSE;
  }
  JsonArray *a = json_node_get_array (n);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: item %u of \"%s\" is not a string",
                   where, i, member);
      return FALSE;
    }
    g_strv_builder_add (b, json_node_get_string (e));
  }
  *out = g_strv_builder_end (b);
  return TRUE;
}

static gboolean
parse_properties (VlmNode *node, JsonObject *props, GError **error)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (node->element);
  g_autoptr (GList) members = json_object_get_members (props);
  for (GList *l = members; l; l = l->next) {
    const char *name = l->data;
    GParamSpec *pspec = g_object_class_find_property (klass, name);
    if (!pspec || !(pspec->flags & G_PARAM_WRITABLE) || (pspec->flags & G_PARAM_CONSTRUCT_ONLY)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "node '%s': element '%s' has no settable property '%s'", node->id,
                   node->factory, name);
      return FALSE;
    }
    GValue value = G_VALUE_INIT;
    GError *local = NULL;
    if (!vlm_json_to_gvalue (json_object_get_member (props, name), pspec, &value, &local)) {
      g_propagate_prefixed_error (error, local, "node '%s': ", node->id);
      return FALSE;
    }
    g_object_set_property (G_OBJECT (node->element), name, &value);
    g_value_unset (&value);
  }
  return TRUE;
}

static gboolean
parse_links (VlmNode *node, JsonObject *inputs, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (inputs);
  for (GList *l = members; l; l = l->next) {
    const char *port = l->data;
    JsonNode *v = json_object_get_member (inputs, port);
    if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "node '%s': input '%s' must be a string \"node\" or \"node.port\"", node->id,
                   port);
      return FALSE;
    }
    const char *ref = json_node_get_string (v);
    VlmLink *link = g_new0 (VlmLink, 1);
    link->port = g_strdup (port);
    const char *dot = ref[0] == '@' ? NULL : strrchr (ref, '.');
    link->source = dot ? g_strndup (ref, dot - ref) : g_strdup (ref);
    link->source_port = dot ? g_strdup (dot + 1) : NULL;
    g_ptr_array_add (node->links, link);
  }
  return TRUE;
}

static VlmNode *
parse_node (JsonNode *jn, guint index, GHashTable *ids, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (jn)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "nodes[%u] is not an object", index);
    return NULL;
  }
  JsonObject *obj = json_node_get_object (jn);
  g_autofree char *where = g_strdup_printf ("nodes[%u]", index);
  g_autofree char *id = NULL, *factory = NULL;
  if (!get_optional_string (obj, "id", where, &id, error)
      || !get_optional_string (obj, "element", where, &factory, error))
    return NULL;
  if (!id || !*id) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s has no \"id\"", where);
    return NULL;
  }
  if (id[0] == '@' || strchr (id, '.')) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "node '%s': ids may not start with '@' or contain '.'", id);
    return NULL;
  }
  if (g_hash_table_contains (ids, id)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "node '%s' is defined twice", id);
    return NULL;
  }
  if (!factory) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "node '%s' has no \"element\"", id);
    return NULL;
  }
  static const char *const known_keys[] = { "id", "element", "properties", "inputs", NULL };
  g_autoptr (GList) keys = json_object_get_members (obj);
  for (GList *l = keys; l; l = l->next)
    if (!g_strv_contains (known_keys, l->data)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "node '%s': unknown key \"%s\"", id,
                   (char *) l->data);
      return NULL;
    }
  VlmElementFactory *f = vlm_registry_find_factory (vlm_registry_get_default (), factory);
  if (!f) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "node '%s': unknown element '%s' (see `vlm-pipeline inspect`)", id, factory);
    return NULL;
  }
  VlmNode *node = g_new0 (VlmNode, 1);
  node->id = g_steal_pointer (&id);
  node->factory = g_steal_pointer (&factory);
  node->links = g_ptr_array_new_with_free_func (link_free);
  node->element = vlm_element_factory_create (f, node->id);
  JsonNode *props = json_object_get_member (obj, "properties");
  JsonNode *inputs = json_object_get_member (obj, "inputs");
  if ((props && !JSON_NODE_HOLDS_OBJECT (props)) || (inputs && !JSON_NODE_HOLDS_OBJECT (inputs))) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "node '%s': \"properties\" and \"inputs\" must be objects", node->id);
    node_free (node);
    return NULL;
  }
  if ((props && !parse_properties (node, json_node_get_object (props), error))
      || (inputs && !parse_links (node, json_node_get_object (inputs), error))) {
    node_free (node);
    return NULL;
  }
  g_hash_table_insert (ids, node->id, node);
  return node;
}

/* Resolves each link to a declared port and checks types and required inputs. */
static gboolean
check_links (VlmNode *node, GHashTable *ids, GError **error)
{
  VlmElementClass *klass = VLM_ELEMENT_GET_CLASS (node->element);
  for (guint i = 0; i < node->links->len; i++) {
    VlmLink *link = g_ptr_array_index (node->links, i);
    const VlmPortSpec *in = vlm_element_class_find_port (klass, link->port, VLM_PORT_INPUT);
    if (!in) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "node '%s': element '%s' has no input port '%s'", node->id, node->factory,
                   link->port);
      return FALSE;
    }
    GType out_type;
    if (link->source[0] == '@') {
      out_type = vlm_pipeline_source_type (link->source);
      if (!out_type) {
        g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                     "node '%s': input '%s' links to unknown pipeline value '%s' (known: "
                     "@prompt, @system, @images, @model)", node->id, link->port, link->source);
        return FALSE;
      }
    } else {
      VlmNode *src = g_hash_table_lookup (ids, link->source);
      if (!src) {
        g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                     "node '%s': input '%s' links to missing node '%s'", node->id, link->port,
                     link->source);
        return FALSE;
      }
      VlmElementClass *sk = VLM_ELEMENT_GET_CLASS (src->element);
      const VlmPortSpec *out = NULL;
      if (link->source_port)
        out = vlm_element_class_find_port (sk, link->source_port, VLM_PORT_OUTPUT);
      else {
        g_autoptr (GPtrArray) outs = vlm_element_class_list_ports (sk, VLM_PORT_OUTPUT);
        if (outs->len == 1)
          out = g_ptr_array_index (outs, 0);
        else {
          g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                       "node '%s': input '%s': node '%s' has %u outputs, name one as \"%s.PORT\"",
                       node->id, link->port, src->id, outs->len, src->id);
          return FALSE;
        }
      }
      if (!out) {
        g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                     "node '%s': input '%s' links to missing port '%s' of node '%s'", node->id,
                     link->port, link->source_port, src->id);
        return FALSE;
      }
      if (!link->source_port)
        link->source_port = g_strdup (out->name);
      out_type = out->value_type;
    }
    if (!g_type_is_a (out_type, in->value_type)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "node '%s': input '%s' expects %s but '%s%s%s' gives %s", node->id, link->port,
                   g_type_name (in->value_type), link->source, link->source_port ? "." : "",
                   link->source_port ? link->source_port : "", g_type_name (out_type));
      return FALSE;
    }
  }
  g_autoptr (GPtrArray) ins = vlm_element_class_list_ports (klass, VLM_PORT_INPUT);
  for (guint i = 0; i < ins->len; i++) {
    const VlmPortSpec *spec = g_ptr_array_index (ins, i);
    gboolean linked = FALSE;
    for (guint j = 0; j < node->links->len && !linked; j++)
      linked = g_str_equal (((VlmLink *) g_ptr_array_index (node->links, j))->port, spec->name);
    if (!linked && !(spec->flags & VLM_PORT_FLAG_OPTIONAL)) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                   "node '%s': required input '%s' is not connected", node->id, spec->name);
      return FALSE;
    }
  }
  return TRUE;
}

/* Kahn's algorithm; what remains unsorted lies on a cycle. */
static gboolean
sort_nodes (GPtrArray *nodes, GHashTable *ids, GError **error)
{
  GHashTable *pending = g_hash_table_new (g_direct_hash, g_direct_equal); /* node -> count */
  for (guint i = 0; i < nodes->len; i++) {
    VlmNode *n = g_ptr_array_index (nodes, i);
    guint deps = 0;
    for (guint j = 0; j < n->links->len; j++)
      deps += ((VlmLink *) g_ptr_array_index (n->links, j))->source[0] != '@';
    g_hash_table_insert (pending, n, GUINT_TO_POINTER (deps));
  }
  GPtrArray *sorted = g_ptr_array_new ();
  gboolean progress = TRUE;
  while (progress && sorted->len < nodes->len) {
    progress = FALSE;
    for (guint i = 0; i < nodes->len; i++) {
      VlmNode *n = g_ptr_array_index (nodes, i);
      if (!g_hash_table_contains (pending, n) || GPOINTER_TO_UINT (g_hash_table_lookup (pending, n)))
        continue;
      g_hash_table_remove (pending, n);
      g_ptr_array_add (sorted, n);
      progress = TRUE;
      for (guint k = 0; k < nodes->len; k++) {
        VlmNode *m = g_ptr_array_index (nodes, k);
        if (!g_hash_table_contains (pending, m))
          continue;
        guint c = GPOINTER_TO_UINT (g_hash_table_lookup (pending, m));
        for (guint j = 0; j < m->links->len; j++)
          if (g_str_equal (((VlmLink *) g_ptr_array_index (m->links, j))->source, n->id))
            c--;
        g_hash_table_insert (pending, m, GUINT_TO_POINTER (c));
      }
    }
  }
  gboolean ok = sorted->len == nodes->len;
  if (!ok) {
    VlmNode *stuck = NULL;
    for (guint i = 0; i < nodes->len && !stuck; i++)
      if (g_hash_table_contains (pending, g_ptr_array_index (nodes, i)))
        stuck = g_ptr_array_index (nodes, i);
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID,
                 "node '%s' is part of a cycle: its inputs depend on its own output", stuck->id);
  } else {
    /* Reorder in place: the array owns the nodes. */
    for (guint i = 0; i < sorted->len; i++)
      nodes->pdata[i] = sorted->pdata[i];
  }
  g_ptr_array_unref (sorted);
  g_hash_table_destroy (pending);
  return ok;
}

static gboolean
check_patch_names (GStrv names, const char *what, GError **error)
{
  for (guint i = 0; names && names[i]; i++)
    if (!vlm_registry_find_patch (vlm_registry_get_default (), names[i])) {
      g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "patches.%s: unknown patch '%s'", what,
                   names[i]);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_nodes (VlmPipelineDesc *desc, JsonArray *array, GError **error)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (array); i++) {
    VlmNode *node = parse_node (json_array_get_element (array, i), i, ids, error);
    if (!node)
      return FALSE;
    g_ptr_array_add (desc->nodes, node);
  }
  for (guint i = 0; i < desc->nodes->len; i++)
    if (!check_links (g_ptr_array_index (desc->nodes, i), ids, error))
      return FALSE;
  return sort_nodes (desc->nodes, ids, error);
}

static JsonNode *
parse_json (JsonParser *parser, const char *data, gssize length, const char *source_name,
            GError **error)
{
  GError *local = NULL;
  if (!json_parser_load_from_data (parser, data, length, &local)) {
    /* json-glib reports "<data>:LINE:COLUMN: message"; name the file instead. */
    const char *msg = local->message;
    if (g_str_has_prefix (msg, "<data>:"))
      msg += strlen ("<data>:");
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s:%s", source_name, msg);
    g_error_free (local);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: the pipeline must be a JSON object",
                 source_name);
    return NULL;
  }
  return root;
}

/* Model-only form: the plugin registered for the model's type supplies the nodes. */
static gboolean
parse_architecture_nodes (VlmPipelineDesc *desc, GError **error)
{
  g_autofree char *model_type = vlm_pipeline_read_model_type (desc->model, error);
  if (!model_type)
    return FALSE;
  const char *template = vlm_registry_find_architecture (vlm_registry_get_default (), model_type);
  if (!template) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_UNSUPPORTED,
                 "%s: no plugin supports model_type '%s' (see `vlm-pipeline inspect`)",
                 desc->model, model_type);
    return FALSE;
  }
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *name = g_strdup_printf ("architecture '%s'", model_type);
  JsonNode *root = parse_json (parser, template, -1, name, error);
  if (!root)
    return FALSE;
  JsonNode *nodes = json_object_get_member (json_node_get_object (root), "nodes");
  if (!nodes || !JSON_NODE_HOLDS_ARRAY (nodes)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_INVALID, "%s: template has no \"nodes\" list", name);
    return FALSE;
  }
  if (!desc->name)
    desc->name = g_strdup (model_type);
  if (!parse_nodes (desc, json_node_get_array (nodes), error)) {
    g_prefix_error (error, "%s: ", name);
    return FALSE;
  }
  return TRUE;
}

VlmPipelineDesc *
vlm_pipeline_desc_parse (const char *data, gssize length, const char *source_name,
                         const char *base_dir, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root = parse_json (parser, data, length, source_name, error);
  if (!root)
    return NULL;
  JsonObject *obj = json_node_get_object (root);
  VlmPipelineDesc *desc = g_new0 (VlmPipelineDesc, 1);
  desc->nodes = g_ptr_array_new_with_free_func (node_free);
  g_autofree char *model = NULL;
  GError *local = NULL;
  if (!get_optional_string (obj, "name", source_name, &desc->name, &local)
      || !get_optional_string (obj, "model", source_name, &model, &local)
      || !get_optional_string (obj, "prompt", source_name, &desc->prompt, &local)
      || !get_optional_string (obj, "system", source_name, &desc->system, &local)
      || !get_string_list (obj, "images", source_name, &desc->images, &local))
    goto fail;
  if (model && !(desc->model = resolve_model (base_dir, model, &local)))
    goto fail;
  for (guint i = 0; desc->images && desc->images[i]; i++) {
    char *p = resolve_path (base_dir, desc->images[i]);
    g_free (desc->images[i]);
    desc->images[i] = p;
  }
  JsonNode *patches = json_object_get_member (obj, "patches");
  if (patches) {
    if (!JSON_NODE_HOLDS_OBJECT (patches)) {
      g_set_error (&local, VLM_ERROR, VLM_ERROR_INVALID,
                   "%s: \"patches\" must be an object with \"disable\" and/or \"enable\" lists",
                   source_name);
      goto fail;
    }
    JsonObject *po = json_node_get_object (patches);
    if (!get_string_list (po, "disable", "patches", &desc->disabled_patches, &local)
        || !get_string_list (po, "enable", "patches", &desc->enabled_patches, &local)
        || !check_patch_names (desc->disabled_patches, "disable", &local)
        || !check_patch_names (desc->enabled_patches, "enable", &local))
      goto fail;
  }
  JsonNode *nodes = json_object_get_member (obj, "nodes");
  if (nodes) {
    if (!JSON_NODE_HOLDS_ARRAY (nodes)) {
      g_set_error (&local, VLM_ERROR, VLM_ERROR_INVALID, "%s: \"nodes\" must be a list",
                   source_name);
      goto fail;
    }
    if (!parse_nodes (desc, json_node_get_array (nodes), &local))
      goto fail;
    return desc;
  }
  if (!desc->model) {
    g_set_error (&local, VLM_ERROR, VLM_ERROR_INVALID,
                 "%s: a pipeline needs \"nodes\" or a \"model\" whose architecture supplies them",
                 source_name);
    goto fail;
  }
  if (!parse_architecture_nodes (desc, &local))
    goto fail;
  return desc;

fail:
  g_propagate_error (error, local);
  vlm_pipeline_desc_free (desc);
  return NULL;
}
