/* basic.h: element types of the basic plugin. */
#pragma once

#include <vlm/vlm.h>

G_DECLARE_FINAL_TYPE (VlmTextSink, vlm_text_sink, VLM, TEXT_SINK, VlmElement)
G_DECLARE_FINAL_TYPE (VlmTensorInfo, vlm_tensor_info, VLM, TENSOR_INFO, VlmElement)
G_DECLARE_FINAL_TYPE (VlmTensorCast, vlm_tensor_cast, VLM, TENSOR_CAST, VlmElement)
