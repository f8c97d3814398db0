/* vlm-registry.h: loaded plugins, element factories, architectures and patches. */
#pragma once

#include <glib-object.h>
#include <vlm/vlm-element.h>
#include <vlm/vlm-plugin.h>
#include <vlm/vlm-patch.h>

G_BEGIN_DECLS

#define VLM_TYPE_ELEMENT_FACTORY (vlm_element_factory_get_type ())
G_DECLARE_FINAL_TYPE (VlmElementFactory, vlm_element_factory, VLM, ELEMENT_FACTORY, GObject)

const char    *vlm_element_factory_get_name (VlmElementFactory *factory);
GType          vlm_element_factory_get_element_type (VlmElementFactory *factory);
VlmPlugin     *vlm_element_factory_get_plugin (VlmElementFactory *factory);
VlmElementKind vlm_element_factory_get_kind (VlmElementFactory *factory);
const char    *vlm_element_factory_get_description (VlmElementFactory *factory);
const char    *vlm_element_factory_get_long_name (VlmElementFactory *factory);
VlmElement    *vlm_element_factory_create (VlmElementFactory *factory, const char *id);

#define VLM_TYPE_REGISTRY (vlm_registry_get_type ())
G_DECLARE_FINAL_TYPE (VlmRegistry, vlm_registry, VLM, REGISTRY, GObject)

VlmRegistry       *vlm_registry_get_default (void);
void               vlm_registry_ensure_loaded (VlmRegistry *registry);
gboolean           vlm_registry_load_plugin (VlmRegistry *registry, const char *filename,
                                             GError **error);
gboolean           vlm_registry_register_static_plugin (VlmRegistry *registry,
                                                        const VlmPluginDesc *desc,
                                                        GError **error);
void               vlm_registry_scan_directory (VlmRegistry *registry, const char *directory);
GPtrArray         *vlm_registry_list_plugins (VlmRegistry *registry);
GStrv              vlm_registry_list_failures (VlmRegistry *registry);
GPtrArray         *vlm_registry_list_factories (VlmRegistry *registry);
VlmElementFactory *vlm_registry_find_factory (VlmRegistry *registry, const char *name);
VlmElement        *vlm_registry_make_element (VlmRegistry *registry, const char *factory_name,
                                              const char *id, GError **error);
const char        *vlm_registry_find_architecture (VlmRegistry *registry, const char *model_type);
GStrv              vlm_registry_list_architectures (VlmRegistry *registry);
GPtrArray         *vlm_registry_list_patches (VlmRegistry *registry);
const VlmPatch    *vlm_registry_find_patch (VlmRegistry *registry, const char *name);

G_END_DECLS
