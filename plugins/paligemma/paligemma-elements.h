/* paligemma-elements.h: the element types of the paligemma plugin. */
#pragma once

#include <vlm/vlm.h>
#include "image/processor-element.h"

G_DECLARE_FINAL_TYPE (PaligemmaProcessor, paligemma_processor, PALIGEMMA, PROCESSOR, VlmProcessor)
G_DECLARE_FINAL_TYPE (PaligemmaProjector, paligemma_projector, PALIGEMMA, PROJECTOR,
                      VlmModelElement)
