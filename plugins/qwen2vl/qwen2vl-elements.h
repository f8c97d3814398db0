/* qwen2vl-elements.h: the element types of the qwen2vl plugin. */
#pragma once

#include <vlm/vlm.h>

G_DECLARE_FINAL_TYPE (Qwen2vlProcessor, qwen2vl_processor, QWEN2VL, PROCESSOR, VlmElement)
