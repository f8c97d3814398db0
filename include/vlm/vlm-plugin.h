/* vlm-plugin.h: what a plugin module exports and what its init may register. */
#pragma once

#include <glib-object.h>
#include <vlm/vlm-version.h>
#include <vlm/vlm-patch.h>

G_BEGIN_DECLS

#define VLM_TYPE_PLUGIN (vlm_plugin_get_type ())
G_DECLARE_FINAL_TYPE (VlmPlugin, vlm_plugin, VLM, PLUGIN, GObject)

/**
 * VlmPluginInitFunc:
 * @plugin: the plugin being loaded
 * @error: return location for a #GError
 *
 * Registers the plugin's element factories, architectures and patches.
 *
 * Returns: %FALSE with @error set if the plugin cannot work here
 */
typedef gboolean (*VlmPluginInitFunc) (VlmPlugin *plugin, GError **error);

/**
 * VlmPluginDesc:
 * @abi_version: %VLM_PLUGIN_ABI_VERSION as the plugin was built
 * @name: short unique name
 * @version: the plugin's version
 * @license: SPDX license identifier
 * @description: one line
 * @init: registers what the plugin provides
 *
 * The static descriptor every plugin module exports under the symbol
 * `vlm_plugin_desc` (use VLM_PLUGIN_DEFINE()). The registry checks
 * @abi_version before calling anything in the module.
 */
typedef struct {
  guint abi_version;
  const char *name;
  const char *version;
  const char *license;
  const char *description;
  VlmPluginInitFunc init;
} VlmPluginDesc;

/**
 * VLM_PLUGIN_DEFINE:
 * @name: short name (a string literal)
 * @version: version string
 * @license: SPDX identifier
 * @description: one line
 * @init: a #VlmPluginInitFunc
 *
 * Exports the plugin descriptor from a plugin module.
 */
#define VLM_PLUGIN_DEFINE(name, version, license, description, init)                               \
  G_MODULE_EXPORT const VlmPluginDesc vlm_plugin_desc = {                                          \
    VLM_PLUGIN_ABI_VERSION, name, version, license, description, init                              \
  };

const char *vlm_plugin_get_name (VlmPlugin *plugin);
const char *vlm_plugin_get_version (VlmPlugin *plugin);
const char *vlm_plugin_get_license (VlmPlugin *plugin);
const char *vlm_plugin_get_description (VlmPlugin *plugin);
const char *vlm_plugin_get_filename (VlmPlugin *plugin);

gboolean vlm_plugin_register_element (VlmPlugin *plugin, const char *name, GType type,
                                      GError **error);
gboolean vlm_plugin_register_architecture (VlmPlugin *plugin, const char *model_type,
                                           const char *pipeline_json, GError **error);
gboolean vlm_plugin_register_patch (VlmPlugin *plugin, const char *name, VlmHook hook,
                                    const char *const *model_types, int order,
                                    const char *description, VlmPatchFunc func,
                                    GError **error);

G_END_DECLS
