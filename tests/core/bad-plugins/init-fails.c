/* init-fails.c: registers an element, then fails; nothing of it may remain registered. */
#include <vlm/vlm.h>

G_DECLARE_FINAL_TYPE (HalfElement, half_element, HALF, ELEMENT, VlmElement)
struct _HalfElement {
  VlmElement parent;
};
G_DEFINE_FINAL_TYPE (HalfElement, half_element, VLM_TYPE_ELEMENT)

static void
half_element_class_init (HalfElementClass *klass)
{
  vlm_element_class_set_metadata (VLM_ELEMENT_CLASS (klass), VLM_ELEMENT_KIND_OTHER, "Half",
                                  "registered by a failing plugin");
}

static void
half_element_init (HalfElement *self)
{
}

static gboolean
failing_init (VlmPlugin *plugin, GError **error)
{
  if (!vlm_plugin_register_element (plugin, "half-registered", half_element_get_type (), error))
    return FALSE;
  g_set_error (error, VLM_ERROR, VLM_ERROR_PLUGIN, "needs hardware this machine lacks");
  return FALSE;
}

VLM_PLUGIN_DEFINE ("init-fails", "1.0", "MIT", "fails in init", failing_init)
