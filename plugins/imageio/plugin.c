/* plugin.c: the imageio plugin: image files in, U8 tensors out. */
#include "imageio.h"

static gboolean
imageio_init (VlmPlugin *plugin, GError **error)
{
  return vlm_plugin_register_element (plugin, "image-loader", vlm_image_loader_get_type (), error)
         && vlm_plugin_register_element (plugin, "image-info", vlm_image_info_get_type (), error);
}

VLM_PLUGIN_DEFINE ("imageio", VLM_VERSION_STRING, "LGPL-2.1-or-later",
                   "Image decoding (gdk-pixbuf) into U8 tensors that keep the Pillow mode",
                   imageio_init)
