/* imageio.h: element types of the imageio plugin. */
#pragma once

#include <vlm/vlm.h>

G_DECLARE_FINAL_TYPE (VlmImageLoader, vlm_image_loader, VLM, IMAGE_LOADER, VlmElement)
G_DECLARE_FINAL_TYPE (VlmImageInfo, vlm_image_info, VLM, IMAGE_INFO, VlmElement)
