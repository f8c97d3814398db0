/* llm.h: element types of the llm plugin (language-model decoders and sampling). */
#pragma once

#include <vlm/vlm.h>

G_DECLARE_FINAL_TYPE (VlmLlamaDecoder, vlm_llama_decoder, VLM, LLAMA_DECODER, VlmModelElement)
G_DECLARE_FINAL_TYPE (VlmSamplerElement, vlm_sampler_element, VLM, SAMPLER_ELEMENT, VlmElement)
