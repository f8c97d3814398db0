/* vlm-element-factory.c: a named way to make one element type, with its metadata. */
#include "vlm/vlm-error.h"
#include "vlm/vlm-registry.h"
#include "vlm-registry-private.h"

struct _VlmElementFactory {
  GObject parent;
  char *name;
  GType type;
  VlmPlugin *plugin;
};

G_DEFINE_FINAL_TYPE (VlmElementFactory, vlm_element_factory, G_TYPE_OBJECT)

static void
vlm_element_factory_finalize (GObject *object)
{
  VlmElementFactory *self = VLM_ELEMENT_FACTORY (object);
  g_free (self->name);
  g_clear_object (&self->plugin);
  G_OBJECT_CLASS (vlm_element_factory_parent_class)->finalize (object);
}

static void
vlm_element_factory_class_init (VlmElementFactoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vlm_element_factory_finalize;
}

static void
vlm_element_factory_init (VlmElementFactory *self)
{
}

VlmElementFactory *
vlm_element_factory_new_internal (const char *name, GType type, VlmPlugin *plugin)
{
  VlmElementFactory *self = g_object_new (VLM_TYPE_ELEMENT_FACTORY, NULL);
  self->name = g_strdup (name);
  self->type = type;
  self->plugin = plugin ? g_object_ref (plugin) : NULL;
  /* Class metadata is read from here on; types from plugins stay registered. */
  g_type_class_ref (type);
  return self;
}

/**
 * vlm_element_factory_get_name:
 * @factory: a factory
 *
 * Returns: the factory name used in pipelines
 */
const char *
vlm_element_factory_get_name (VlmElementFactory *factory)
{
  return factory->name;
}

/**
 * vlm_element_factory_get_element_type:
 * @factory: a factory
 *
 * Returns: the #VlmElement subclass it makes
 */
GType
vlm_element_factory_get_element_type (VlmElementFactory *factory)
{
  return factory->type;
}

/**
 * vlm_element_factory_get_plugin:
 * @factory: a factory
 *
 * Returns: (transfer none) (nullable): the plugin that registered it
 */
VlmPlugin *
vlm_element_factory_get_plugin (VlmElementFactory *factory)
{
  return factory->plugin;
}

static VlmElementClass *
peek_class (VlmElementFactory *factory)
{
  return g_type_class_peek (factory->type);
}

/**
 * vlm_element_factory_get_kind:
 * @factory: a factory
 *
 * Returns: the element kind
 */
VlmElementKind
vlm_element_factory_get_kind (VlmElementFactory *factory)
{
  return vlm_element_class_get_kind (peek_class (factory));
}

/**
 * vlm_element_factory_get_description:
 * @factory: a factory
 *
 * Returns: (nullable): the element's one-line description
 */
const char *
vlm_element_factory_get_description (VlmElementFactory *factory)
{
  return vlm_element_class_get_description (peek_class (factory));
}

/**
 * vlm_element_factory_get_long_name:
 * @factory: a factory
 *
 * Returns: (nullable): the element's long name
 */
const char *
vlm_element_factory_get_long_name (VlmElementFactory *factory)
{
  return vlm_element_class_get_long_name (peek_class (factory));
}

/**
 * vlm_element_factory_create:
 * @factory: a factory
 * @id: (nullable): node id for the new element
 *
 * Returns: (transfer full): a new element
 */
VlmElement *
vlm_element_factory_create (VlmElementFactory *factory, const char *id)
{
  VlmElement *element = g_object_new (factory->type, NULL);
  vlm_element_set_id (element, id ? id : factory->name);
  return element;
}
