/* idefics3-elements.h: the element types of the idefics3 plugin. */
#pragma once

#include <vlm/vlm.h>
#include "image/processor-element.h"

G_DECLARE_FINAL_TYPE (Idefics3Processor, idefics3_processor, IDEFICS3, PROCESSOR, VlmProcessor)
/* SiglipVision:precision: exact F32 products, or the opt-in BF16 or FP16 ones. */
typedef enum { SIGLIP_PRECISION_F32, SIGLIP_PRECISION_BF16, SIGLIP_PRECISION_F16 } SiglipPrecision;
GType siglip_precision_get_type (void);

G_DECLARE_FINAL_TYPE (SiglipVision, siglip_vision, SIGLIP, VISION, VlmModelElement)
G_DECLARE_FINAL_TYPE (Idefics3Connector, idefics3_connector, IDEFICS3, CONNECTOR, VlmModelElement)
