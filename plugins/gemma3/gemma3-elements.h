/* gemma3-elements.h: the element types of the gemma3 plugin. */
#pragma once

#include <vlm/vlm.h>
#include "image/processor-element.h"

G_DECLARE_FINAL_TYPE (Gemma3Processor, gemma3_processor, GEMMA3, PROCESSOR, VlmProcessor)
G_DECLARE_FINAL_TYPE (Gemma3Projector, gemma3_projector, GEMMA3, PROJECTOR, VlmModelElement)
