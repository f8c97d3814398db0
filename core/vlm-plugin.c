/* vlm-plugin.c: a loaded plugin and the registration calls its init makes. */
#include "vlm/vlm-error.h"
#include "vlm/vlm-plugin.h"
#include "vlm-registry-private.h"

struct _VlmPlugin {
  GObject parent;
  char *name, *version, *license, *description, *filename;
};

G_DEFINE_FINAL_TYPE (VlmPlugin, vlm_plugin, G_TYPE_OBJECT)

static void
vlm_plugin_finalize (GObject *object)
{
  VlmPlugin *self = VLM_PLUGIN (object);
  g_free (self->name);
  g_free (self->version);
  g_free (self->license);
  g_free (self->description);
  g_free (self->filename);
  G_OBJECT_CLASS (vlm_plugin_parent_class)->finalize (object);
}

static void
vlm_plugin_class_init (VlmPluginClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_plugin_finalize;
}

static void
vlm_plugin_init (VlmPlugin *self)
{
}

VlmPlugin *
vlm_plugin_new_internal (const VlmPluginDesc *desc, const char *filename)
{
  VlmPlugin *self = g_object_new (VLM_TYPE_PLUGIN, NULL);
  self->name = g_strdup (desc->name);
  self->version = g_strdup (desc->version);
  self->license = g_strdup (desc->license);
  self->description = g_strdup (desc->description);
  self->filename = g_strdup (filename);
  return self;
}

/**
 * vlm_plugin_get_name:
 * @plugin: a plugin
 *
 * Returns: its short name
 */
const char *
vlm_plugin_get_name (VlmPlugin *plugin)
{
  return plugin->name;
}

/**
 * vlm_plugin_get_version:
 * @plugin: a plugin
 *
 * Returns: its version
 */
const char *
vlm_plugin_get_version (VlmPlugin *plugin)
{
  return plugin->version;
}

/**
 * vlm_plugin_get_license:
 * @plugin: a plugin
 *
 * Returns: its license
 */
const char *
vlm_plugin_get_license (VlmPlugin *plugin)
{
  return plugin->license;
}

/**
 * vlm_plugin_get_description:
 * @plugin: a plugin
 *
 * Returns: its one-line description
 */
const char *
vlm_plugin_get_description (VlmPlugin *plugin)
{
  return plugin->description;
}

/**
 * vlm_plugin_get_filename:
 * @plugin: a plugin
 *
 * Returns: (nullable): the module file it was loaded from
 */
const char *
vlm_plugin_get_filename (VlmPlugin *plugin)
{
  return plugin->filename;
}

/**
 * vlm_plugin_register_element:
 * @plugin: the plugin being initialised
 * @name: factory name, unique in the registry
 * @type: a #VlmElement subclass
 * @error: return location for a #GError
 *
 * Returns: %FALSE if the name is taken or @type is not an element
 */
gboolean
vlm_plugin_register_element (VlmPlugin *plugin, const char *name, GType type, GError **error)
{
  if (!g_type_is_a (type, VLM_TYPE_ELEMENT)) {
    g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "plugin %s: %s is not a VlmElement",
                 plugin->name, g_type_name (type));
    return FALSE;
  }
  g_autoptr (VlmElementFactory) factory = vlm_element_factory_new_internal (name, type, plugin);
  return vlm_registry_add_factory (vlm_registry_get_default (), factory, error);
}

/**
 * vlm_plugin_register_architecture:
 * @plugin: the plugin being initialised
 * @model_type: a config.json `model_type` such as "idefics3"
 * @pipeline_json: the pipeline template (JSON text) that runs such a model
 * @error: return location for a #GError
 *
 * Returns: %FALSE if @model_type is already registered
 */
gboolean
vlm_plugin_register_architecture (VlmPlugin *plugin, const char *model_type,
                                  const char *pipeline_json, GError **error)
{
  return vlm_registry_add_architecture (vlm_registry_get_default (), model_type, pipeline_json,
                                        plugin, error);
}

/**
 * vlm_plugin_register_patch:
 * @plugin: the plugin being initialised
 * @name: patch name, unique in the registry
 * @hook: where it runs
 * @model_types: (array zero-terminated=1) (nullable): model types it applies to;
 *   %NULL or empty for every model
 * @order: patches at one hook run in increasing order, then by name
 * @description: one line for `inspect`
 * @func: (scope forever): the patch
 * @error: return location for a #GError
 *
 * Returns: %FALSE if the name is taken
 */
gboolean
vlm_plugin_register_patch (VlmPlugin *plugin, const char *name, VlmHook hook,
                           const char *const *model_types, int order, const char *description,
                           VlmPatchFunc func, GError **error)
{
  VlmPatch *patch = vlm_patch_new_internal (name, hook, model_types, order, description, func,
                                            plugin->name);
  if (!vlm_registry_add_patch (vlm_registry_get_default (), patch, error)) {
    vlm_patch_free_internal (patch);
    return FALSE;
  }
  return TRUE;
}
