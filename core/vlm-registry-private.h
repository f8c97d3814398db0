/* vlm-registry-private.h: what plugins' registration calls hand to the registry. */
#pragma once

#include "vlm/vlm-registry.h"

G_BEGIN_DECLS

VlmPlugin *vlm_plugin_new_internal (const VlmPluginDesc *desc, const char *filename);
VlmElementFactory *vlm_element_factory_new_internal (const char *name, GType type,
                                                     VlmPlugin *plugin);
VlmPatch *vlm_patch_new_internal (const char *name, VlmHook hook, const char *const *model_types,
                                  int order, const char *description, VlmPatchFunc func,
                                  const char *plugin_name);
void vlm_patch_free_internal (VlmPatch *patch);

gboolean vlm_registry_add_factory (VlmRegistry *registry, VlmElementFactory *factory,
                                   GError **error);
gboolean vlm_registry_add_architecture (VlmRegistry *registry, const char *model_type,
                                        const char *pipeline_json, VlmPlugin *plugin,
                                        GError **error);
gboolean vlm_registry_add_patch (VlmRegistry *registry, VlmPatch *patch, GError **error);

G_END_DECLS
