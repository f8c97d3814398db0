/* qwen2vl-elements.h: the element types of the qwen2vl plugin. */
#pragma once

#include <vlm/vlm.h>
#include "image/processor-element.h"

G_DECLARE_FINAL_TYPE (Qwen2vlProcessor, qwen2vl_processor, QWEN2VL, PROCESSOR, VlmProcessor)
G_DECLARE_FINAL_TYPE (Qwen2vlVisionElement, qwen2vl_vision_element, QWEN2VL, VISION_ELEMENT,
                      VlmModelElement)
G_DECLARE_FINAL_TYPE (Qwen2vlRopeIndex, qwen2vl_rope_index, QWEN2VL, ROPE_INDEX, VlmModelElement)
