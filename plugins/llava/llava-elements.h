/* llava-elements.h: the element types of the llava plugin. */
#pragma once

#include <vlm/vlm.h>
#include "image/processor-element.h"

G_DECLARE_FINAL_TYPE (LlavaProcessor, llava_processor, LLAVA, PROCESSOR, VlmProcessor)
G_DECLARE_FINAL_TYPE (ClipVision, clip_vision, CLIP, VISION, VlmModelElement)
G_DECLARE_FINAL_TYPE (LlavaProjector, llava_projector, LLAVA, PROJECTOR, VlmModelElement)
