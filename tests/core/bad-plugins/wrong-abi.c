/* wrong-abi.c: a plugin claiming another ABI version; the registry must skip it. */
#include <vlm/vlm.h>

static gboolean
never_called (VlmPlugin *plugin, GError **error)
{
  g_error ("the registry called init of a plugin with the wrong ABI");
  return FALSE;
}

G_MODULE_EXPORT const VlmPluginDesc vlm_plugin_desc = {
  VLM_PLUGIN_ABI_VERSION + 41, "wrong-abi", "1.0", "MIT", "built for another ABI", never_called,
};
